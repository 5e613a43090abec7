"""``provenance archive import``: add footage with its sightings from where it was posted or preserved.

Each importer is a command of this group, defined in its own module (``cli/telegram.py``,
``cli/warc.py``) and registered in ``cli/app.py``.
"""

from __future__ import annotations

import click

from provenance.cli.options import exit_codes_help


@click.group("import", epilog=exit_codes_help((3, 4, 5)))
def import_group() -> None:
    """Import footage and its sightings: a Telegram Desktop export, a WARC or WACZ web archive.

    Every media file found is added to the archive (as `archive add` adds it) with a sighting
    saying where and when it was posted. Importing the same source again adds nothing twice.
    """
