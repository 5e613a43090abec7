"""``provenance archive import telegram``: a Telegram Desktop export's media, with the sightings of their posts.

A thin shell over ``provenance.ingest.telegram.import_export``; ``provenance.cli.app`` registers the
command on the ``archive import`` group. Only click and the standard library are imported at module level.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

import click

from provenance.cli.options import archive_option, echo_added, exit_codes_help, handles_errors, resolve_archive

SHOWN_SKIPS = 20
"""Skipped messages listed one per line (all of them are in --json); the rest are counted by reason."""

EXIT_NOTES = {
    2: "usage error: EXPORT_DIR is not a folder, or its result.json is missing, truncated, not JSON or not a "
       "Telegram export",
    4: "one or more media files are unreadable media (reported; the others were imported)",
}


@click.command("telegram", epilog=exit_codes_help((3, 4, 5), notes=EXIT_NOTES))
@click.argument("export_dir", type=click.Path(file_okay=True, dir_okay=True))
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the export, each file, each skip.")
@click.option("--examiner", help="Who imports the files, for the archive's custody log (default: the OS user).")
@handles_errors
def telegram(export_dir: str, archive: str | None, as_json: bool, examiner: str | None) -> None:
    """Import a Telegram Desktop export (JSON): every video, round video, animation and photo of its
    messages, each with a sighting of its post.

    EXPORT_DIR is the folder Telegram Desktop wrote ("Export chat history" of one chat, or "Export
    Telegram data" of the account, as "Machine-readable JSON"): it holds result.json (which may be
    given instead). Each sighting
    holds the message's exact UTC time (date_unixtime), the chat's name, type and id, the message id,
    its text, who sent it and, for a forwarded message, whom it was forwarded from. A public link
    (https://t.me/NAME/ID) is given only when the export names the chat's username (Telegram
    Desktop's own exports do not). Files the export left out ("File not included"), missing files,
    stickers and voice messages, and paths leading out of EXPORT_DIR are listed as skipped, not
    errors. Importing the same export again adds nothing twice. The export is only read.

    \b
    Examples:
      provenance archive import telegram ~/Downloads/Telegram\\ Desktop/ChatExport_2020-10-06
      provenance archive import telegram --archive cases.sqlite ./DataExport_2020-10-06 --json
    """
    from provenance.ingest.telegram import import_export
    from provenance.report.formatters import shown_name, shown_text

    path = resolve_archive(archive)
    show = not as_json and sys.stderr.isatty()

    def progress(name: str) -> None:
        if show:
            click.echo(f"\r{os.path.basename(name)[:60]:<60}", err=True, nl=False)

    result = import_export(path, export_dir, progress=progress, examiner=examiner)
    if show:
        click.echo("", err=True)
    export = result.export
    if as_json:
        from provenance.codec import to_jsonable

        click.echo(json.dumps({
            "archive": result.archive, "export": export.root, "index": export.index, "shape": export.shape,
            "chats": export.chats, "messages": export.messages, "media": len(export.media),
            "added": result.added, "known": result.known, "failed": result.failed,
            "sightings_added": result.sightings_added, "link_note": export.link_note,
            "files": to_jsonable(result.files), "skipped": to_jsonable(export.skipped),
        }, indent=2))
    else:
        for f in result.files:
            echo_added(f.error, f.created, f.sha256, f.relative, f.sightings_added, f.warnings)
        for s in export.skipped[:SHOWN_SKIPS]:
            where = " ".join(part for part in (s.chat and shown_text(s.chat), s.message_id and f"#{s.message_id}",
                                               s.file and shown_name(s.file)) if part)
            click.echo(f"skipped {where}: {shown_text(s.reason)}")
        rest = Counter(s.reason.split(":")[0] for s in export.skipped[SHOWN_SKIPS:])
        for reason, count in sorted(rest.items()):
            click.echo(f"skipped {count} more: {shown_text(reason)} (--json lists them all)")
        if export.link_note:
            click.echo(f"note: {export.link_note}")
        click.echo(f"{shown_name(export.root)}: {export.shape} export, {export.chats} chat(s), {export.messages} "
                   f"message(s) read; {len(result.files)} media file(s): {result.added} added, {result.known} "
                   f"already archived, {result.failed} failed; {result.sightings_added} sighting(s) added; "
                   f"{len(export.skipped)} skipped; archive {result.archive}")
    if result.failed:
        sys.exit(4)
