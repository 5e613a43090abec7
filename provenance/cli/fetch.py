"""``provenance fetch``: download footage with yt-dlp into a folder, hash it, and optionally archive it."""

from __future__ import annotations

import json
import sys

import click

from provenance.cli.options import archive_option, exit_codes_help, handles_errors

FETCH_CODES = {
    3: "yt-dlp is not installed (pip install 'provenance[fetch]'), or, with --archive, ffmpeg/ffprobe",
    4: "with --archive: a fetched file is not media the archive can read (it stays in DIR)",
}


@click.command("fetch", epilog=exit_codes_help((3, 4, 5, 12), notes=FETCH_CODES))
@click.argument("urls", metavar="URL...", nargs=-1, required=True)
@click.option("--into", "into", metavar="DIR", required=True, type=click.Path(file_okay=False),
              help="Folder to download into (created if missing); yt-dlp's file names are kept, no file "
                   "there is overwritten.")
@archive_option(required_default=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: each file fetched and each URL that "
                                                      "failed.")
@click.option("--examiner", help="Who adds the files, for the archive's custody log (default: the OS user).")
@handles_errors
def fetch(urls: tuple[str, ...], into: str, archive: str | None, as_json: bool, examiner: str | None) -> None:
    """Download each URL with yt-dlp into DIR, with its .info.json; hash it; with --archive, add it.

    The sighting of each file holds what yt-dlp's info says (platform, page URL, uploader, upload
    time, title, id) and "provenance fetch (yt-dlp V, provenance V) at TIME", the fetch time in
    UTC. A file of the same name already in DIR is kept: the same file is reported as there, a
    different one gets the new download beside it as "NAME (2).ext". A URL that cannot be fetched
    is one FAILED line; the others are still fetched (exit 12). Needs the yt-dlp package: pip
    install 'provenance[fetch]'.

    \b
    Examples:
      provenance fetch --into footage/ https://www.youtube.com/watch?v=dQw4w9WgXcQ
      provenance fetch --into footage/ --archive cases.sqlite https://t.me/channel/123 https://x.com/a/status/1
      provenance fetch --into footage/ --json https://example.org/clip.mp4 > fetched.json
    """
    from provenance.ingest.fetch import fetch_urls
    from provenance.report.formatters import shown_name, shown_text

    show = not as_json and sys.stderr.isatty()
    done = [0]

    def progress(url: str) -> None:
        done[0] += 1
        if show:
            click.echo(f"\r[{done[0]}/{len(urls)}] fetching {url[:60]:<60}", err=True, nl=False)

    report = fetch_urls(list(urls), into, archive=archive, examiner=examiner, progress=progress)
    if show:
        click.echo("\r\033[K", err=True, nl=False)
    if as_json:
        from provenance.codec import to_jsonable

        click.echo(json.dumps(to_jsonable(report), indent=2))
    else:
        for f in report.files:
            state = "there  " if f.already_there else "fetched"
            where = " ".join(v for v in (f.sighting.platform or f.sighting.platform_raw, f.sighting.source_url) if v)
            seen = f", first seen {f.sighting.first_seen}" if f.sighting.first_seen else ""
            click.echo(shown_text(f"{state} {f.sha256}  {shown_name(f.path)}  ({where}{seen})"))
            if f.archived is not None:
                if f.archived.error:
                    click.echo(f"        ! not archived: {shown_text(f.archived.error)}")
                else:
                    click.echo(f"        {'added to' if f.archived.created else 'known in'} {report.archive} "
                               f"(+{f.archived.sightings_added} sighting)")
        for failure in report.failures:
            click.echo(shown_text(f"FAILED  {failure.url}: {failure.error}"))
        fetched = len(urls) - len(report.failures)
        click.echo(f"{fetched} of {len(urls)} URL(s) fetched into {report.into}: {len(report.files)} file(s)")
    if report.failures:
        sys.exit(12)
    if report.failed:
        sys.exit(4)
