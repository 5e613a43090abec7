"""``provenance check``: the evidence record of one file, and its matches with ``--archive``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING

import click

from provenance.cli.options import (
    DATE,
    DATE_FORMS_HELP,
    FAST_HELP,
    archive_option,
    decode_progress,
    exit_codes_help,
    handles_errors,
    sampling,
)

if TYPE_CHECKING:
    from provenance.checking import Examination
    from provenance.model import DateInterval


@click.command("check", epilog=exit_codes_help((0, 1, 3, 4, 5)))
@click.argument("file", type=click.Path(dir_okay=True, allow_dash=False))
@archive_option(required_default=False)
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON record instead of text.")
@click.option("--keyframes", "keyframes_dir", type=click.Path(file_okay=False),
              help="Write each shot's keyframe as a JPEG, plus a contact sheet, into this folder; with "
                   "--archive, also each match's frames beside the archived pictures of the same moments "
                   "(a folder per matched item).")
@click.option("--beside", is_flag=True, help="Allow --keyframes in the folder that holds FILE (on purpose).")
@click.option("--claimed-date", type=DATE, help=f"The date the footage is said to be from ({DATE_FORMS_HELP}), "
                                                 "tested against the file's own creation time and the earliest "
                                                 "archived appearance.")
@click.option("--fps", type=float, default=None, help="Samples per second to hash (default 2).")
@click.option("--fast", is_flag=True, help=FAST_HELP)
@click.option("--fail-on-match", is_flag=True, help="Exit 1 when the archive holds a match (for scripts).")
@click.option("--examiner", help="Who examines the file, for the archive's custody log (default: the OS user).")
@click.option("--structure", is_flag=True, help="Also report the box structure, the most likely last writer, "
                                                 "edit indicators and C2PA Content Credentials.")
@click.option("--timings", is_flag=True, help="With --json: add the stage timers to the record, a \"timings\" key "
                                               "of seconds per stage (startup, imports, probe, decode, hashing, "
                                               "features, archive, candidates, alignment, description, report, "
                                               "other, total).")
@handles_errors
def check(file: str, archive: str | None, as_json: bool, keyframes_dir: str | None, beside: bool,
          claimed_date: DateInterval | None, fps: float | None, fast: bool, fail_on_match: bool, examiner: str | None,
          structure: bool, timings: bool) -> None:
    """Examine FILE: identity hashes, metadata, frame hashes, shots; matches with --archive.

    The file is opened read-only, once; nothing is written beside it (--keyframes into its
    folder needs --beside).

    \b
    Examples:
      provenance check clip.mp4
      provenance check clip.mp4 --archive cases.sqlite
      provenance check clip.mp4 --archive cases.sqlite --claimed-date 2024-03-01 --json
      provenance check photo.jpg --keyframes out/
      provenance check clip.mp4 --archive cases.sqlite --json --timings   # where the time goes
    """
    entered = perf_counter()  # start-up ends at the command's first line (--timings)
    from provenance.checking import examine
    from provenance.errors import UsageError

    imported = perf_counter()

    if file.strip().lower().startswith(("http://", "https://")):
        raise UsageError(f"{file}: URLs are not fetched: use `provenance fetch URL --into DIR`, then check the file")
    if beside and keyframes_dir is None:
        raise UsageError("--beside only allows --keyframes DIR in the evidence's folder: give --keyframes too")
    if timings and not as_json:
        raise UsageError("--timings adds the stage timers to the JSON record: give --json too")
    params = sampling(fps, fast)
    examining = partial(examine, file, archive, structure=structure, params=params, claimed_date=claimed_date,
                        keyframes_dir=keyframes_dir, beside=beside, examiner=examiner, side_by_side=True,
                        progress=decode_progress() if sys.stderr.isatty() else None)
    timed_record = None
    if timings:
        examined, timed_record = _timed_json(examining, entered, imported)
    else:
        examined = examining()
    if sys.stderr.isatty():
        click.echo("\r\033[K", err=True, nl=False)
    report, itself = examined.report, examined.itself
    if as_json:
        from provenance.report.json import render_json

        click.echo(timed_record if timed_record is not None else render_json(report, structure=itself))
    else:
        from provenance.report.side_by_side import side_by_side_lines
        from provenance.report.text import render_text

        click.echo(render_text(report), nl=False)
        if listed := side_by_side_lines(report.side_by_side):
            click.echo("\n".join(listed))
        if itself is not None:
            from provenance.report.structure import render_structure

            click.echo(render_structure(itself), nl=False)
    if fail_on_match and report.matches:
        sys.exit(1)


def _timed_json(examining: Callable[[], Examination], entered: float, imported: float) -> tuple[Examination, str]:
    """Run the examination under a clock: it, and its JSON record with the stage timers (``check --timings``).

    The total runs from the process's start (``provenance.timings.process_started``; from ``entered``, the
    command's first line, where the system keeps no record of it) to the record rendered; the record is
    rendered once more, with the timers, after the clock stops. ``imported``: when the command's imports
    were done.
    """
    from provenance.timings import collecting, process_started, stage

    started = process_started()
    with collecting(entered if started is None else started) as clock:
        clock.add("imports", imported - entered)
        examined = examining()  # the record's own imports after it: they would hold up the file's first reads
        with stage("imports"):
            from provenance.report.json import check_record, json_text, render_json
        with stage("report"):
            json_text(check_record(examined.report, structure=examined.itself))
    figures = clock.finish(startup=None if started is None else entered - started)
    return examined, render_json(examined.report, structure=examined.itself, timings=figures)
