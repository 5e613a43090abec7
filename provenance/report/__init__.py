"""Renderers of a check: ``json`` (the versioned record), ``text`` (for the terminal), ``html`` (for people).

Modules: ``json`` (the versioned JSON record of a check), ``text`` (the terminal report),
``structure`` (the terminal form of ``check --structure``), ``timeline`` (the picture of one match),
``html`` (the self-contained evidence page, with its Jinja2 templates in ``templates/``),
``side_by_side`` (a match's query frames beside the archived pictures of the same moments, with the
measured geometry drawn and a difference view).
Import the module you need; this package imports nothing itself, so the command line stays quick.
"""
