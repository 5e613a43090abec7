"""``provenance archive import warc``: the videos and pictures of a WARC or WACZ web archive, with their sightings."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from provenance.cli.options import archive_option, exit_codes_help, handles_errors, resolve_archive, sampling

if TYPE_CHECKING:
    from provenance.ingest.warc import ImportedRecord

WARC_CODES = {
    4: "the file is not a WARC or WACZ, a WACZ was refused (member names that climb out with '..' or an "
       "absolute path; a ZIP bomb: too many members or bytes, or a member expanding more than 100:1), or "
       "some records failed (a payload digest mismatch, media that cannot be decoded, a payload expanding "
       "more than 100:1; a truncated gzip member, a bad record or a gzip bomb stops the reading); what was "
       "imported before is kept",
}


def _line(r: ImportedRecord) -> str:
    where = r.uri or r.record_id or "?"
    if r.outcome in ("added", "known"):
        state = "added  " if r.outcome == "added" else "known  "
        page = f"  page {r.page_url}" if r.page_url else ""
        return f"{state} {r.sha256}  {where}  {r.date or 'undated'}  (+{r.sightings_added} sighting){page}"
    return f"{'SKIPPED' if r.outcome == 'skipped' else 'FAILED '} {where}: {r.reason}"


@click.command("warc", epilog=exit_codes_help((3, 4, 5), notes=WARC_CODES))
@click.argument("file", type=click.Path())
@archive_option(required_default=True)
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 8 for archived items).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was imported.")
@click.option("--examiner", help="Who imports the file, for the archive's custody log (default: the OS user).")
@handles_errors
def warc(file: str, archive: str | None, fps: float | None, as_json: bool, examiner: str | None) -> None:
    """Import the videos and pictures of FILE, a WARC (.warc, .warc.gz) or WACZ web archive.

    Each response or resource record holding a video or picture (by its Content-Type or its first
    bytes) is added as `archive add` adds a file, with a sighting: the record's WARC-Target-URI,
    WARC-Date (UTC) and WARC-Record-ID, and the page it was found on (a WACZ's pages.jsonl, or the
    request's Referer). A record's WARC-Payload-Digest is checked: a mismatch is listed, not
    imported. FILE is only read; payloads are written to a private temporary folder. Importing
    the same file again adds nothing twice; an interrupted import is finished by running it again.

    \b
    Examples:
      provenance archive import warc --archive cases.sqlite crawl.warc.gz
      provenance archive import warc --archive cases.sqlite crawl.wacz --json
    """
    from provenance.ingest.warc import import_web_archive
    from provenance.report.formatters import shown_name, shown_text

    path = resolve_archive(archive)
    show = not as_json and sys.stderr.isatty()

    def progress(record: ImportedRecord) -> None:
        if show:
            click.echo(f"\r{(record.uri or record.record_id or '')[-70:]:<70}", err=True, nl=False)

    result = import_web_archive(path, file, params=sampling(fps, False) if fps else None, examiner=examiner,
                                progress=progress)
    if show:
        click.echo("", err=True)
    if as_json:
        from provenance.codec import to_jsonable

        click.echo(json.dumps({"archive": result.archive, "source": result.source,
                               "source_sha256": result.source_sha256, "kind": result.kind,
                               "records": to_jsonable(result.records), "not_media": result.not_media,
                               "pages": result.pages, "imported": result.imported, "failed": result.failed,
                               "stopped": result.stopped, "warnings": list(result.warnings)}, indent=2))
    else:
        for r in result.records:
            click.echo(shown_text(_line(r)))
            for w in r.warnings:
                click.echo(f"        ! {shown_text(w)}")
        for w in result.warnings:
            click.echo(f"! {shown_text(w)}")
        if result.stopped:
            click.echo(f"STOPPED {shown_text(result.stopped)}")
        click.echo(f"{result.imported} of {len(result.records)} media record(s) of {shown_name(result.source)} in "
                   f"{result.archive} ({result.not_media} record(s) not media)")
    if result.failed or result.stopped:
        if result.stopped:

            click.echo(f"provenance: error: {shown_text(result.stopped)}", err=True)
        sys.exit(4)
