"""The ``provenance`` command line: a thin shell over the library.

Each command parses its options, calls one library function, renders the result and maps our
errors to the documented exit codes. Heavy imports (numpy, OpenCV) happen inside the commands so
that ``provenance --help`` starts fast.

Modules: ``options`` (what the commands share: errors and exit codes, ``--archive``, sampling,
progress), one module per command group (``check``, ``archive``, ``evidence``, ``triage``,
``interop``, ``fetch``), and ``app`` (the click group that registers them, and ``main``).
"""

from __future__ import annotations

from provenance.cli.app import cli, main

__all__ = ["cli", "main"]
