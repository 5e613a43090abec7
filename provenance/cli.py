"""The ``provenance`` command line: a thin shell over the library.

Each command parses its options, calls one library function, renders the result and maps our
errors to the documented exit codes. Heavy imports (numpy, OpenCV) happen inside the commands so
that ``provenance --help`` starts fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from provenance import __version__
from provenance.errors import EXIT_CODES, ProvenanceError

INTERNAL_ERROR = 70
EXIT_TEXT = "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items()) + (
    f"\n  {INTERNAL_ERROR} internal error (a bug: rerun with --debug and report the traceback)"
    "\n  130 interrupted (Ctrl-C)"
)
ARCHIVE_ENV = "PROVENANCE_ARCHIVE"


def _fail(message: str, code: int) -> None:
    click.echo(f"provenance: error: {message}", err=True)
    sys.exit(code)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and the documented exit code (traceback with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return func(*args, **kwargs)
        except ProvenanceError as exc:
            if debug:
                raise
            _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if debug:
                raise
            text = str(exc).splitlines()[0] if str(exc) else ""
            _fail(f"internal error: {type(exc).__name__}: {text} (rerun with --debug for the traceback)",
                  INTERNAL_ERROR)

    return wrapper


def archive_option(required_default: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The shared ``--archive`` option; reads $PROVENANCE_ARCHIVE; archive commands fall back to the default."""
    help_text = f"Archive file (SQLite). Also read from ${ARCHIVE_ENV}."
    if required_default:
        help_text += " Default: ~/.local/share/provenance/archive.sqlite (XDG_DATA_HOME is honoured)."
    return click.option("--archive", "archive", envvar=ARCHIVE_ENV, type=click.Path(dir_okay=False),
                        default=None, help=help_text)


def resolve_archive(path: str | None) -> str:
    """The archive path to use for archive commands: the option, the env var, or the default."""
    if path:
        return path
    from provenance.archive.store import default_archive_path

    return str(default_archive_path())


def decode_progress() -> Callable[[float, float | None], None]:
    """A progress line on stderr for long decodes: seconds done, share and time left."""
    import time

    start = time.monotonic()

    def show(done: float, total: float | None) -> None:
        spent = time.monotonic() - start
        if total and total > 0 and done > 0:
            share = min(done / total, 1.0)
            left = spent * (1 - share) / share
            click.echo(f"\rdecoding {done:7.1f} / {total:.1f} s  {share:4.0%}  about {left:4.0f} s left",
                       err=True, nl=False)
        else:
            click.echo(f"\rdecoding {done:7.1f} s", err=True, nl=False)

    return show


def sampling(fps: float | None, fast: bool = False) -> Any:
    """SamplingParams for the --fps option (None = the documented default) and the --fast flag."""
    from provenance.model import SamplingParams

    if fps is None:
        return SamplingParams(keyframes_only=fast)
    if not 0.1 <= fps <= 30:
        raise click.BadParameter("must be between 0.1 and 30 samples per second", param_hint="--fps")
    return SamplingParams(fps=fps, keyframes_only=fast)


FAST_HELP = "Fast mode: decode and hash only the keyframes (I-frames), at their own times; --fps is ignored."


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=f"Exit codes:\n\n{EXIT_TEXT}")
@click.version_option(__version__, prog_name="provenance")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Offline video provenance: what a file says, whether it appeared before, and how it was edited.

    \b
    Examples:
      provenance check clip.mp4
      provenance check clip.mp4 --archive cases.sqlite --json > report.json
      provenance check clip.mp4 --keyframes ./keyframes
      provenance archive add --archive cases.sqlite --platform telegram --first-seen 2020-10-05 old.mp4
    """


@cli.command()
@click.argument("file", type=click.Path(dir_okay=True, allow_dash=False))
@archive_option(required_default=False)
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON record instead of text.")
@click.option("--keyframes", "keyframes_dir", type=click.Path(file_okay=False),
              help="Write each shot's keyframe as a JPEG, plus a contact sheet, into this folder.")
@click.option("--claimed-date", help="The date the footage is said to be from (YYYY-MM-DD), to test against "
                                      "the earliest archived appearance.")
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 2).")
@click.option("--fast", is_flag=True, help=FAST_HELP)
@click.option("--fail-on-match", is_flag=True, help="Exit 1 when the archive holds a match (for scripts).")
@click.option("--examiner", help="Who examines the file, for the archive's custody log (default: the OS user).")
@click.option("--structure", is_flag=True, help="Also report the box structure, the most likely last writer, "
                                                 "edit indicators and C2PA Content Credentials.")
@handles_errors
def check(file: str, archive: str | None, as_json: bool, keyframes_dir: str | None, claimed_date: str | None,
          fps: float | None, fast: bool, fail_on_match: bool, examiner: str | None, structure: bool) -> None:
    """Examine FILE: identity hashes, metadata, frame hashes, shots; matches with --archive.

    The file is opened read-only; nothing is written beside it.

    \b
    Examples:
      provenance check clip.mp4
      provenance check clip.mp4 --archive cases.sqlite
      provenance check clip.mp4 --archive cases.sqlite --claimed-date 2024-03-01 --json
      provenance check photo.jpg --keyframes out/
    """
    from provenance.check import check as run_check

    params = sampling(fps, fast)
    report = run_check(file, archive, params=params, claimed_date=claimed_date, keyframes_dir=keyframes_dir,
                       progress=decode_progress() if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        click.echo("\r\033[K", err=True, nl=False)
    if archive is not None:  # custody log: who read this evidence file, when, and the SHA-256 seen
        from provenance.evidence.custody import Reading, record_custody

        identity = report.fingerprint.identity
        record_custody(archive, [Reading(identity.sha256, identity.path)], command="provenance check",
                       examiner=examiner)
    itself = None
    if structure:  # what the file says about itself: boxes, last writer, edit indicators, C2PA
        from provenance.selfreport import self_report

        itself = self_report(report.fingerprint.identity.path, report.fingerprint.metadata)
    if as_json:
        from provenance.report.json import render_json

        click.echo(render_json(report, structure=itself))
    else:
        from provenance.report.text import render_text

        click.echo(render_text(report), nl=False)
        if itself is not None:
            from provenance.report.structure import render_structure

            click.echo(render_structure(itself), nl=False)
    if fail_on_match and report.matches:
        sys.exit(1)


@cli.group()
def archive() -> None:
    """Build and inspect the archive of known media (a SQLite file).

    \b
    Examples:
      provenance archive add --archive cases.sqlite --source-url https://t.me/x/1 --first-seen 2020-10-05 a.mp4
      provenance archive list --archive cases.sqlite
      provenance archive show --archive cases.sqlite 3fa4c1
      provenance archive stats --archive cases.sqlite --json
    """


@archive.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@archive_option(required_default=True)
@click.option("--source-url", help="Where the file was found.")
@click.option("--platform", help="Platform it was seen on (telegram, youtube, x, tiktok, ...).")
@click.option("--uploader", help="Account that posted it.")
@click.option("--first-seen", help="When it was first seen (YYYY-MM-DD or ISO 8601 date-time).")
@click.option("--label", help="Free-text label (case number, incident).")
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 8 for archived items).")
@click.option("--fast", is_flag=True, help=FAST_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing what was added.")
@click.option("--examiner", help="Who adds the files, for the archive's custody log (default: the OS user).")
@handles_errors
def archive_add(files: tuple[str, ...], archive: str | None, source_url: str | None, platform: str | None,
                uploader: str | None, first_seen: str | None, label: str | None, fps: float | None,
                fast: bool, as_json: bool, examiner: str | None) -> None:
    """Add FILES to the archive (created if missing). Idempotent by SHA-256.

    A yt-dlp NAME.info.json beside a file is read as a sighting too. A bad file is reported and
    skipped; the rest are added (exit 4 if any failed).
    """
    from provenance.ingest import add_files
    from provenance.model import Sighting

    path = resolve_archive(archive)
    sighting = Sighting(source_url=source_url, platform=platform, uploader=uploader, first_seen=first_seen,
                        label=label)
    show = not as_json and sys.stderr.isatty()
    done = [0]

    def progress(name: str) -> None:
        done[0] += 1
        if show:
            click.echo(f"\r[{done[0]}/{len(files)}] {os.path.basename(name)[:60]:<60}", err=True, nl=False)

    result = add_files(path, list(files), sighting=sighting, params=sampling(fps, fast) if fps or fast else None,
                       progress=progress)
    if show:
        click.echo("", err=True)
    # custody log: each file read (and hashed) by this command, with the SHA-256 seen
    from provenance.evidence.custody import Reading, record_custody

    record_custody(path, [Reading(f.sha256, f.path) for f in result.files if f.sha256 and not f.error],
                   command="provenance archive add", examiner=examiner)
    if as_json:
        from provenance.record import to_jsonable

        click.echo(json.dumps({"archive": result.archive, "files": to_jsonable(result.files)}, indent=2))
    else:
        for f in result.files:
            if f.error:
                click.echo(f"FAILED  {f.path}: {f.error}")
            else:
                state = "added  " if f.created else "known  "
                click.echo(f"{state} {f.sha256}  {f.path}  (+{f.sightings_added} sighting)")
                for w in f.warnings:
                    click.echo(f"        ! {w}")
        ok = len(result.files) - result.failed
        click.echo(f"{ok} of {len(result.files)} file(s) in {result.archive}")
    if result.failed:
        sys.exit(4)


@archive.command("list")
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handles_errors
def archive_list(archive: str | None, as_json: bool) -> None:
    """List archived items, oldest sighting first."""
    from provenance.archive.store import ArchiveStore
    from provenance.record import to_jsonable

    with ArchiveStore.open(resolve_archive(archive), create=False) as store:
        items = store.items()
    if as_json:
        click.echo(json.dumps(to_jsonable(items), indent=2))
        return
    for it in items:
        click.echo(f"{it.sha256[:16]}  {it.kind:<5} {float(it.duration or 0):8.1f} s  "
                   f"{it.earliest_first_seen or '-':<20} {it.name}")
    click.echo(f"{len(items)} item(s)")


@archive.command("show")
@click.argument("sha256")
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handles_errors
def archive_show(sha256: str, archive: str | None, as_json: bool) -> None:
    """Show one item (by SHA-256 or a unique prefix of it) with its sightings."""
    from provenance.archive.store import ArchiveStore
    from provenance.errors import UsageError
    from provenance.record import to_jsonable

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
        where = " ".join(x for x in (s.platform, s.uploader, s.source_url, s.title, s.label) if x)
        click.echo(f"    {s.first_seen or 'undated':<25} {where or s.file_name or ''}")


@archive.command("remove")
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


@archive.command("stats")
@archive_option(required_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handles_errors
def archive_stats(archive: str | None, as_json: bool) -> None:
    """Counts and dates of the archive."""
    from provenance.archive.store import ArchiveStore
    from provenance.record import to_jsonable

    path = resolve_archive(archive)
    with ArchiveStore.open(path, create=False) as store:
        stats = store.stats()
    data = to_jsonable(stats)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"archive {path}")
    assert isinstance(data, dict)
    for key, value in data.items():
        click.echo(f"  {key.replace('_', ' '):<22} {value}")


from provenance.commands import evidence as _evidence  # noqa: E402, I001
for _command in _evidence.COMMANDS:
    cli.add_command(_command)


from provenance.commands import triage as _triage  # noqa: E402, I001
cli.add_command(_triage.command)


from provenance.commands import interop as _interop  # noqa: E402, I001
cli.add_command(_interop.export)
archive.add_command(_interop.import_hashes)


def main() -> None:
    """Entry point of the ``provenance`` command."""
    cli(prog_name="provenance")


if __name__ == "__main__":  # pragma: no cover
    main()
