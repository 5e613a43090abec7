"""``provenance archive``: build and inspect the archive of known media."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

from provenance.cli.options import (
    DATE,
    DATE_FORMS_HELP,
    FAST_HELP,
    archive_option,
    echo_added,
    exit_codes_help,
    handles_errors,
    resolve_archive,
    sampling,
)

if TYPE_CHECKING:
    from provenance.model import DateInterval

NO_SUCH_ITEM = {2: "usage error: bad option, or no archived item has that SHA-256 or prefix"}
"""Exit code 2 as ``show`` and ``remove`` mean it."""


@click.group(epilog=exit_codes_help((3, 4, 5)))
def archive() -> None:
    """Build and inspect the archive of known media: a SQLite file, or a PostgreSQL team archive.

    \b
    Examples:
      provenance archive add --archive cases.sqlite --source-url https://t.me/x/1 --first-seen 2020-10-05 a.mp4
      provenance archive list --archive cases.sqlite
      provenance archive show --archive cases.sqlite 3fa4c1
      provenance archive stats --archive cases.sqlite --json
      provenance archive pictures --archive cases.sqlite
      provenance archive add --archive postgresql://ana@db.desk:5432/incident a.mp4
      provenance archive copy --from cases.sqlite --to postgresql://ana@db.desk:5432/incident
    """


@archive.command("add", epilog=exit_codes_help((3, 4, 5), notes={
    4: "one or more files are unreadable media (reported and skipped; the others were added)"}))
@click.argument("files", nargs=-1, required=True, type=click.Path())
@archive_option(required_default=True)
@click.option("--source-url", help="Where the file was found.")
@click.option("--platform", help="Platform it was seen on: youtube, x, telegram, tiktok, facebook, instagram, vk or "
                                 "web; YouTube, twitter, tg, a URL... are normalised, another name is kept as given.")
@click.option("--uploader", help="Account that posted it.")
@click.option("--first-seen", type=DATE, help=f"When it was first seen ({DATE_FORMS_HELP}).")
@click.option("--label", help="Free-text label (case number, incident).")
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 8 for archived items).")
@click.option("--fast", is_flag=True, help=FAST_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was added.")
@click.option("--examiner", help="Who adds the files, for the archive's custody log (default: the OS user).")
@click.option("--dask", "dask", metavar="local[:N]|tcp://HOST:PORT", default=None,
              help="Fingerprint the files on a Dask cluster (local, local:N or a scheduler's address; the files at "
                   "the same paths on every worker); they are added here, in order. Needs provenance[dask].")
@click.option("--ship", is_flag=True,
              help="With --dask: send each file's bytes to its worker (workers need not see the files; each "
                   "checks the SHA-256 first).")
@handles_errors
def archive_add(files: tuple[str, ...], archive: str | None, source_url: str | None, platform: str | None,
                uploader: str | None, first_seen: DateInterval | None, label: str | None, fps: float | None,
                fast: bool, as_json: bool, examiner: str | None, dask: str | None, ship: bool) -> None:
    """Add FILES to the archive (created if missing). Idempotent by SHA-256.

    A yt-dlp NAME.info.json beside a file is read as a sighting too. A bad file is reported and
    skipped; the rest are added (exit 4 if any failed).
    """
    from provenance.ingest.add import add_files
    from provenance.model import Sighting

    path = resolve_archive(archive)
    sighting = Sighting(source_url=source_url, platform=platform, uploader=uploader,
                        first_seen=first_seen.text.strip() if first_seen else None, label=label)
    show = not as_json and sys.stderr.isatty()
    done = [0]

    def progress(name: str) -> None:
        done[0] += 1
        if show:
            click.echo(f"\r[{done[0]}/{len(files)}] {os.path.basename(name)[:60]:<60}", err=True, nl=False)

    result = add_files(path, list(files), sighting=sighting, params=sampling(fps, fast) if fps or fast else None,
                       progress=progress, examiner=examiner, dask=dask, ship=ship)
    if show:
        click.echo("", err=True)
    if as_json:
        from provenance.codec import to_jsonable

        click.echo(json.dumps({"archive": result.archive, "files": to_jsonable(result.files)}, indent=2))
    else:
        for f in result.files:
            echo_added(f.error, f.created, f.sha256, f.path, f.sightings_added, f.warnings)
        ok = len(result.files) - result.failed
        click.echo(f"{ok} of {len(result.files)} file(s) in {result.archive}")
    if result.failed:
        sys.exit(4)


@archive.command("pictures", epilog=exit_codes_help((3, 4, 5), notes={
    4: "one or more files were there but could not be decoded (reported; the others got their pictures)"}))
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object saying what was done for each item.")
@click.option("--examiner", help="Who reads the files, for the archive's custody log (default: the OS user).")
@handles_errors
def archive_pictures(archive: str | None, as_json: bool, examiner: str | None) -> None:
    """Give the small pictures shown beside a match to items archived before they were kept.

    An item without pictures gets them when its file is still at the path it was archived from and
    still has the item's SHA-256; the file is only read (and the read logged in the custody log).
    Says for each item what was done: pictures added, the file moved or changed, hash-only.

    \b
    Examples:
      provenance archive pictures --archive cases.sqlite
      provenance archive pictures --archive cases.sqlite --json
    """
    from provenance.ingest.pictures import backfill_pictures

    path = resolve_archive(archive)
    show = not as_json and sys.stderr.isatty()

    def progress(item: object) -> None:
        if show:
            click.echo(".", err=True, nl=False)

    result = backfill_pictures(path, examiner=examiner, progress=progress)
    if show:
        click.echo("", err=True)
    if as_json:
        from provenance.codec import to_jsonable

        click.echo(json.dumps({"archive": result.archive, "items": to_jsonable(result.items)}, indent=2))
    else:
        for item in result.items:
            click.echo(f"{item.sha256[:16]}  {item.name}: {item.message}")
        click.echo(f"{result.added} of {len(result.items)} item(s) given pictures in {result.archive}")
    if result.failed:
        sys.exit(4)


@archive.command("list", epilog=exit_codes_help((5,)))
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handles_errors
def archive_list(archive: str | None, as_json: bool) -> None:
    """List archived items, oldest sighting first; items with no dated sighting last, in the order added.

    The columns: the SHA-256's first 16 digits, kind, duration, the earliest first-seen date, the
    platforms of the item's sightings (earliest first) and the file name. --json lists the same
    items in the same order.
    """
    from provenance.archive.store import ArchiveStore
    from provenance.codec import to_jsonable

    with ArchiveStore.open(resolve_archive(archive), create=False) as store:
        items = store.items()
        if as_json:
            click.echo(json.dumps(to_jsonable(items), indent=2))
            return
        platforms = [",".join(dict.fromkeys(p for s in store.sightings(it.sha256)
                                            if (p := s.platform or s.platform_raw))) or "-"
                     for it in items]
    seen_width = max([len("FIRST SEEN"), *(len(it.earliest_first_seen or "-") for it in items)])
    platform_width = max([len("PLATFORM"), *(len(p) for p in platforms)])
    click.echo(f"{'SHA-256':<16}  {'KIND':<6} {'DURATION':>10}  {'FIRST SEEN':<{seen_width}}  "
               f"{'PLATFORM':<{platform_width}}  NAME")
    for it, platform in zip(items, platforms, strict=True):
        click.echo(f"{it.sha256[:16]}  {it.kind:<6} {float(it.duration or 0):8.1f} s  "
                   f"{it.earliest_first_seen or '-':<{seen_width}}  {platform:<{platform_width}}  {it.name}")
    click.echo(f"{len(items)} item(s)")


@archive.command("show", epilog=exit_codes_help((5,), notes=NO_SUCH_ITEM))
@click.argument("sha256")
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handles_errors
def archive_show(sha256: str, archive: str | None, as_json: bool) -> None:
    """Show one item (by SHA-256 or a unique prefix of it) with its sightings."""
    from provenance.archive.store import ArchiveStore
    from provenance.codec import to_jsonable
    from provenance.errors import UsageError
    from provenance.report.formatters import sighting_detail, sighting_when

    with ArchiveStore.open(resolve_archive(archive), create=False) as store:
        item = store.get(sha256)
    if item is None:
        raise UsageError(f"no archived item with SHA-256 {sha256}")
    if as_json:
        click.echo(json.dumps(to_jsonable(item), indent=2))
        return
    fp = item.fingerprint
    click.echo(f"{item.sha256}\n  name      {item.name}\n  kind      {item.kind}\n  size      {item.size:,} bytes"
               f"\n  duration  {float(item.duration or 0):.2f} s\n  frames    {len(fp.frames)}\n"
               f"  shots     {len(fp.shots)}\n  added     {item.added_at}\n  sightings:")
    for s in item.sightings:
        click.echo(f"    {sighting_when(s):<25} {sighting_detail(s)}")


@archive.command("remove", epilog=exit_codes_help((5,), notes=NO_SUCH_ITEM))
@click.argument("sha256")
@archive_option(required_default=True)
@handles_errors
def archive_remove(sha256: str, archive: str | None) -> None:
    """Remove one item (by SHA-256 or unique prefix) and its sightings. Media files are not touched."""
    from provenance.archive.store import ArchiveStore
    from provenance.errors import UsageError

    with ArchiveStore.open(resolve_archive(archive), create=False) as store:
        if not store.remove(sha256):
            raise UsageError(f"no archived item with SHA-256 {sha256}")
    click.echo(f"removed {sha256}")


@archive.command("copy", epilog=exit_codes_help((5,), notes={
    2: "usage error: bad option, the same archive twice, or a SHA-256 the source does not hold"}))
@click.argument("sha256s", metavar="[SHA256...]", nargs=-1)
@click.option("--from", "source", required=True, help="The archive to copy from (a SQLite file or a PostgreSQL URL).")
@click.option("--to", "target", required=True, help="The archive to copy to (created if missing).")
@click.option("--since", type=DATE, help=f"Only items archived since this date, compared in UTC ({DATE_FORMS_HELP}).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was copied.")
@click.option("--examiner", help="Who copies, for the target's custody log (default: the OS user).")
@handles_errors
def archive_copy(sha256s: tuple[str, ...], source: str, target: str, since: DateInterval | None, as_json: bool,
                 examiner: str | None) -> None:
    """Copy items from one archive to another, with their sightings, features, pictures and custody.

    Either way between SQLite and PostgreSQL; all items, or those archived --since a date, or the SHA256s
    given. Idempotent: what the target has is not duplicated, so a stopped copy is finished by running it
    again. Each copied custody entry keeps its fields and says which archive and entry it copies.

    \b
    Examples:
      provenance archive copy --from mine.sqlite --to postgresql://ana@db.desk:5432/incident
      provenance archive copy --from postgresql://ana@db.desk/incident --to partner.sqlite --since 2024-03
      provenance archive copy --from cases.sqlite --to subset.sqlite 3fa4c1 9b02e7
    """
    from provenance.archive.copy import copy_between

    report = copy_between(source, target, since=since, only=sha256s, examiner=examiner)
    if as_json:
        from provenance.codec import to_jsonable

        click.echo(json.dumps({"from": report.source, "to": report.target, "items": to_jsonable(report.items)},
                              indent=2))
        return
    from provenance.report.formatters import shown_name

    for item in report.items:
        state = "copied " if item.created else "known  "
        click.echo(f"{state} {item.sha256}  {shown_name(item.name)}  (+{item.sightings_added} sighting, "
                   f"+{item.pictures_added} picture, +{item.custody_copied} custody)")
    click.echo(f"{report.created} of {len(report.items)} item(s) new in {report.target} (from {report.source})")


@archive.command("stats", epilog=exit_codes_help((5,)))
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handles_errors
def archive_stats(archive: str | None, as_json: bool) -> None:
    """Counts and dates of the archive."""
    from provenance.archive.store import ArchiveStore, masked_location
    from provenance.codec import to_jsonable

    path = resolve_archive(archive)
    with ArchiveStore.open(path, create=False) as store:
        stats = store.stats()
    data = to_jsonable(stats)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"archive {masked_location(path)}")
    assert isinstance(data, dict)
    for key, value in data.items():
        click.echo(f"  {key.replace('_', ' '):<22} {value}")
