"""Click commands that live in their own modules; ``provenance.cli`` registers them.

Each module imports only click (and the standard library) at top level, so ``provenance --help``
stays fast; the library is imported inside the command functions.
"""
