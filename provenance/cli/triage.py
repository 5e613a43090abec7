"""``provenance triage``: batch triage of folders of downloads against the archive.

Only click and the standard library are imported here; the library is imported when the command
runs, so ``provenance --help`` stays fast.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from provenance.cli.options import INTERRUPTED, exit_codes_help, handles_errors, resolve_archive

EXIT_TEXT = exit_codes_help((3, 4, 5), notes={
    0: "every media file was triaged (known, partly known or new)",
    2: "usage error: bad option, an input that does not exist, --out is a file",
    4: "one or more files are error rows (corrupt, truncated, empty, unreadable), each named on stderr "
       "with its reason; the rest were triaged",
    5: "archive error: the archive is missing (without --add-new), unreadable, or a write failed",
    INTERRUPTED: "interrupted (Ctrl-C): rerun the same command to finish the rest",
})


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Bar:
    """A one-line progress bar with ETA on stderr, drawn only when stderr is a terminal."""

    WIDTH = 30

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0
        self.drawn = False

    def __call__(self, progress: Any) -> None:
        """Redraw for a ``provenance.triage.Progress`` (at most 10 times a second, and at the end)."""
        now = time.monotonic()
        final = progress.done >= progress.total
        if not self.enabled or (now - self.last < 0.1 and not final):
            return
        self.last = now
        share = progress.done / progress.total if progress.total else 1.0
        filled = round(share * self.WIDTH)
        eta = "ETA --:--:--" if progress.eta is None else f"ETA {_clock(progress.eta)}"
        from provenance.report.formatters import shown_name

        name = shown_name(progress.current.rsplit("/", 1)[-1])[:40]
        line = (f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {progress.done}/{progress.total} files "
                f"{share:4.0%}  {_clock(progress.elapsed)} elapsed  {eta}  {name}")
        click.echo(f"{line:<130}", err=True, nl=False)
        self.drawn = True

    def close(self) -> None:
        """End the bar's line."""
        if self.drawn:
            click.echo("", err=True)


@click.command("triage", epilog=EXIT_TEXT, context_settings={"max_content_width": 100})
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=False))
@click.option("--archive", "archive", envvar="PROVENANCE_ARCHIVE", type=click.Path(dir_okay=False), default=None,
              help="Archive to match against: a SQLite file, or a PostgreSQL team archive as "
                   "postgresql://USER@HOST:PORT/DB. Also read from $PROVENANCE_ARCHIVE. "
                   "Default: ~/.local/share/provenance/archive.sqlite.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Report folder (created if missing). Rerun with the same folder to resume.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Processes to run at once (default: all cores).")
@click.option("--add-new", is_flag=True,
              help="Add the files that match nothing in the archive to it, with their sightings "
                   "(yt-dlp .info.json sidecars included).")
@click.option("--dask", "dask", metavar="local[:N]|tcp://HOST:PORT", default=None,
              help="Run the file work on a Dask cluster: local (a LocalCluster, one worker per core), local:N, "
                   "or a scheduler's address; the files must be at the same paths on every worker. Needs "
                   "pip install 'provenance[dask]'.")
@click.option("--ship", is_flag=True,
              help="With --dask: send each file's bytes to the worker that analyses it (workers need not see the "
                   "files; each checks the SHA-256 first). The archive must be a PostgreSQL one they reach.")
@click.option("--beside", is_flag=True,
              help="Allow --out inside a folder to triage, or in the folder of a file to triage (on purpose); "
                   "the walk leaves the report folder out.")
@handles_errors
def command(dirs: tuple[str, ...], archive: str | None, out_dir: str, jobs: int | None, add_new: bool,
            dask: str | None, ship: bool, beside: bool) -> None:
    """Triage folders of downloaded videos and pictures: same footage, known, new.

    Walks DIRS recursively (files may be given too) and tells media by content, not by name;
    what is not media is listed in skipped.csv. Each file is fingerprinted once (in parallel) and
    matched against the archive: known (the archive holds its footage: earliest appearance
    given), partly known (it contains archived footage) or new. Near-duplicates within the batch
    (copies, re-encodes, trims, mirrored or padded versions) are grouped into clusters whose
    members are listed earliest sighting first.

    Writes into --out only: reports/*.json (one per file), pages/*.html (the evidence report's
    page of each readable file), summary.csv (one row per file), index.html (a self-contained
    page: sortable table, thumbnails, clusters, edits, matched seconds, verdict colours and what
    they mean) and journal.sqlite. The inputs are opened read-only. An interrupted run (Ctrl-C, kill) is
    finished by running the same command again: nothing already done is redone. A bad file is
    one error row; the batch goes on, and the files that failed are listed on stderr at the end
    (one line each: the name and why). With an archive, every file read is logged in its custody
    log ("provenance triage", the SHA-256 seen).

    \b
    Examples:
      provenance triage downloads/ --archive cases.sqlite --out triage-2024-03-01
      provenance triage tg/ x/ "tiktok dump/" --archive cases.sqlite --out report --jobs 4
      provenance triage downloads/ --archive cases.sqlite --out report --add-new
      provenance triage /shared/downloads/ --archive cases.sqlite --out report --dask tcp://scheduler:8786
      xdg-open report/index.html
    """
    from provenance.report.formatters import shown_name, shown_text
    from provenance.triage import triage

    bar = _Bar()
    try:
        result = triage(list(dirs), out_dir, resolve_archive(archive), jobs=jobs, add_new=add_new, progress=bar,
                        beside=beside, dask=dask, ship=ship)
    finally:
        bar.close()
    counts = {v: sum(1 for r in result.rows if r.verdict == v) for v in ("known", "partly_known", "new", "error")}
    multi = sum(1 for c in result.clusters if len(c.members) > 1)
    click.echo(f"{len(result.rows)} media files in {len(result.clusters)} clusters ({multi} with copies): "
               f"{counts['known']} known, {counts['partly_known']} partly known, {counts['new']} new, "
               f"{counts['error']} errors; {len(result.skipped)} paths skipped (not media)")
    rate = result.analysed / result.elapsed * 60 if result.elapsed > 0 else 0.0
    click.echo(f"fingerprinted {result.analysed} distinct files in this run ({result.reused} done before), "
               f"{result.video_seconds:.0f} s of footage, {result.elapsed:.1f} s ({rate:.0f} files/min)")
    if add_new:
        click.echo(f"added {result.added} new item(s) to {shown_name(result.shown_archive or '')}")
    click.echo(f"report: {shown_name(result.out_dir)}/index.html")
    if result.errors:
        click.echo(f"{result.errors} file(s) could not be triaged:", err=True)
        for row in result.rows:
            if row.verdict == "error":
                reason = (row.error or "unreadable").splitlines()[0] if row.error else "unreadable"
                click.echo(f"  {shown_name(row.path)}: {shown_text(reason)}", err=True)
        sys.exit(4)
