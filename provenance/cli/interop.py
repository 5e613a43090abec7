"""Hash-bank interop commands: ``export`` (PDQ / vPDQ lines of a file) and ``archive import-hashes``.

Thin shells over ``provenance.ingest.interop``; ``provenance.cli.app`` registers ``export`` on the main group
and ``import-hashes`` on the ``archive`` group. Only click and the standard library are imported at
module level; the library is imported inside each command.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from provenance.cli.options import (
    DATE,
    DATE_FORMS_HELP,
    archive_option,
    exit_codes_help,
    handles_errors,
    resolve_archive,
    sampling,
)

if TYPE_CHECKING:
    from provenance.model import DateInterval

FORMAT_CHOICE = click.Choice(["pdq", "vpdq"])


@click.command("export", epilog=exit_codes_help((3, 4)))
@click.argument("file", type=click.Path(dir_okay=True, allow_dash=False))
@click.option("--format", "fmt", type=FORMAT_CHOICE, required=True,
              help="pdq: one 'pdq_hex,quality' line per sampled frame; vpdq: 'frame,quality,pdq_hex,timestamp'.")
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 1, as vPDQ's own default).")
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="Write the lines to this new file instead of standard output (never over an existing file).")
@click.option("--beside", is_flag=True, help="Allow --out in the folder that holds FILE (on purpose).")
@handles_errors
def export(file: str, fmt: str, fps: float | None, out: str | None, beside: bool) -> None:
    """Write the PDQ or vPDQ hashes of FILE in the line formats ThreatExchange and its matcher use.

    Frames are sampled and hashed exactly as `provenance check` does (borders removed). FILE is
    opened read-only.

    \b
    Examples:
      provenance export clip.mp4 --format vpdq > clip.vpdq.txt
      provenance export photo.jpg --format pdq
      provenance export clip.mp4 --format vpdq --fps 2 --out clip.vpdq.txt
    """

    from provenance.fingerprinting import fingerprint
    from provenance.ingest.interop import DEFAULT_FPS, export_destination, export_lines, write_export
    from provenance.report.formatters import shown_name

    target = export_destination(out, file, beside=beside) if out is not None else None
    fp = fingerprint(file, sampling(fps if fps is not None else DEFAULT_FPS))
    text = "".join(f"{line}\n" for line in export_lines(fp, fmt))
    if target is None:
        sys.stdout.write(text)
        return
    write_export(target, text)
    click.echo(f"{len(fp.frames)} {fmt} line(s) of {shown_name(fp.identity.name)} written to "
               f"{shown_name(str(target))}", err=True)


@click.command("import-hashes", epilog=exit_codes_help((5,), notes={
    2: "usage error: bad option, LIST is missing, or a line of it is malformed (the message names it)"}))
@click.argument("hash_list", metavar="LIST", type=click.Path(dir_okay=False, allow_dash=False))
@click.option("--format", "fmt", type=FORMAT_CHOICE, required=True,
              help="pdq: 'pdq_hex' or 'pdq_hex,quality' lines; vpdq: 'frame,quality,pdq_hex,timestamp' lines.")
@click.option("--label", help="Name of the list in the archive (case, source); part of the item's key.")
@archive_option(required_default=True)
@click.option("--fps", type=float, default=None,
              help="PDQ lists carry no times: line k is placed at k / FPS seconds (default 1). Ignored for vpdq.")
@click.option("--source-url", help="Where the list came from.")
@click.option("--platform", help="Platform the hashed media was seen on (normalised as `archive add --platform`).")
@click.option("--first-seen", type=DATE, help=f"When the hashed media was first seen ({DATE_FORMS_HELP}).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was imported.")
@handles_errors
def import_hashes(hash_list: str, fmt: str, label: str | None, archive: str | None, fps: float | None,
                  source_url: str | None, platform: str | None, first_seen: DateInterval | None, as_json: bool) -> None:
    """Add a PDQ or vPDQ hash LIST to the archive as a hash-only item (no media), found by matching.

    The item has kind "hashes": the list's hashes are its frames, at the vPDQ timestamps (or at
    k / --fps for PDQ lines). Its SHA-256 key is that of the list file's bytes followed by the
    label, so importing the same list with the same label again only adds a sighting.

    \b
    Examples:
      provenance archive import-hashes --archive cases.sqlite --format vpdq --label "TE bank 12" bank12.txt
      provenance archive import-hashes --archive cases.sqlite --format pdq --label photos needles.txt
    """
    import json

    from provenance.codec import to_jsonable
    from provenance.ingest.interop import DEFAULT_FPS, import_hash_list
    from provenance.model import Sighting

    sighting = Sighting(source_url=source_url, platform=platform,
                        first_seen=first_seen.text.strip() if first_seen else None, label=label)
    result = import_hash_list(resolve_archive(archive), hash_list, fmt, label=label,
                              fps=fps if fps is not None else DEFAULT_FPS, sighting=sighting)
    if as_json:
        click.echo(json.dumps(to_jsonable(result), indent=2))
        return
    state = "added  " if result.created else "known  "
    click.echo(f"{state} {result.sha256}  {result.name}: {result.hashes} {fmt} hash(es), {result.duration:.3f} s "
               f"(+{result.sightings_added} sighting) in {result.archive}")
