"""Renderers of a check: ``json`` (the versioned record) and ``text`` (for the terminal)."""
