"""``check``: the full evidence record of one file, matched against an archive when one is given.

With an archive, the reading is logged in the archive's custody log here, in the library, so the
Python API and the command line log the same.

The file is opened once (``provenance.media.source.MediaSource``) and everything the record says, its
hashes, its metadata, its frames and its keyframes, comes from that one open file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provenance.audio.methods import METHODS
from provenance.dates import parse_date
from provenance.media.first_reads import start_first_reads
from provenance.media.source import MediaSource, opened
from provenance.model import CheckReport, DateInterval, Fingerprint, Match, SamplingParams, SideBySideImage
from provenance.sampling import start_early_decode
from provenance.times import utc_now
from provenance.timings import Timings, collecting, stage

if TYPE_CHECKING:
    from provenance.forensics.selfreport import SelfReport

# The fingerprinting (numpy, OpenCV) is imported once the file is open and its first reads (ffprobe, the
# identity hashes) have started, so that they run meanwhile, and so does the video's decode, started as soon
# as ffprobe has answered (the archive search and its feature index too, with an archive); keyframes,
# side-by-side pictures and the file's structure in the branches that use them, so that a check without
# them starts quicker.

COMMAND = "provenance check"


def check(
    path: str | MediaSource,
    archive: str | None = None,
    *,
    params: SamplingParams | None = None,
    claimed_date: str | DateInterval | None = None,
    keyframes_dir: str | None = None,
    beside: bool = False,
    progress: Callable[[float, float | None], None] | None = None,
    examiner: str | None = None,
    case: str | None = None,
    log_custody: bool = True,
    side_by_side: bool = False,
) -> CheckReport:
    """Fingerprint ``path`` and, with ``archive``, find where it appeared before.

    The input is opened read-only, once, and nothing is written beside it; keyframes go only into
    ``keyframes_dir`` when one is given, which may be the evidence's own folder only with
    ``beside`` (checked before the examination: UsageError). With ``archive``, the reading (who,
    when, the SHA-256 seen) is appended to the archive's custody log, unless the caller logs it
    itself (``log_custody=False``, as ``report`` does to record its own entry).

    ``claimed_date`` (text in a ``provenance.dates.ACCEPTED_FORMS`` form, else ``DateError``, a usage
    error, before the examination) is compared with the file's own creation time, and with the
    earliest archived sighting when there is an archive (``CheckReport.appearance``).

    With ``side_by_side``, ``keyframes_dir`` and an archive, each match's frames are also written
    side by side with the archived pictures of the same moments, a folder per matched item
    (``provenance.report.side_by_side``; ``CheckReport.side_by_side`` lists them, and a warning says
    which items the archive keeps no picture of).

    Its stage timers (``provenance.timings.Timings``) are collected when it runs inside
    ``provenance.timings.collecting()``; :func:`examine` with ``timings`` returns them.
    """
    claimed = parse_date(claimed_date) if isinstance(claimed_date, str) else claimed_date
    examined_at = utc_now()
    with opened(path) as source:
        if keyframes_dir is not None:
            from provenance.frames.keyframes import keyframes_folder

            keyframes_folder(source.path, keyframes_dir, beside=beside)  # refused before the long work
        first_reads = start_first_reads(source)
        features = "query" if archive is not None else "none"
        with start_early_decode(source, first_reads, params or SamplingParams(), features, METHODS) as early:
            with stage("imports"):
                from provenance.fingerprinting import analyse
                from provenance.match.appearance import earliest_appearance
                if archive is not None:  # while the decode started above runs
                    from provenance.match.against_archive import match_against
            analysis = analyse(source, params, progress, features=features, first_reads=first_reads, early=early)
        fp = analysis.fingerprint
        matches: tuple[Match, ...] = ()
        appearance = None
        unlogged: tuple[str, ...] = ()
        if archive is not None:
            from provenance.match.against_archive import match_against  # loaded above: binds the name only

            matches = match_against(analysis, archive)
            appearance = earliest_appearance(matches, fp.metadata, claimed)
            if log_custody:
                with stage("archive"):
                    unlogged = _logged_custody(archive, fp, examiner, case)
        elif claimed is not None:  # no archive: the claim is still compared with the file's own creation time
            appearance = earliest_appearance((), fp.metadata, claimed, searched=False)
        keyframes, sheet = ((), None)
        side: tuple[SideBySideImage, ...] = ()
        notes: tuple[str, ...] = unlogged
        if keyframes_dir is not None:
            from provenance.frames.keyframes import write_keyframes

            with stage("report"):
                keyframes, sheet_path = write_keyframes(source, fp, keyframes_dir, beside=beside)
            sheet = sheet_path or None
            if side_by_side and archive is not None and matches:
                with stage("report"):
                    side, shown = _side_by_side(source, fp, matches, archive, keyframes_dir)
                    notes += shown
    return CheckReport(
        fingerprint=fp,
        archive=None if archive is None else _shown(archive),
        matches=matches,
        appearance=appearance,
        keyframes=keyframes,
        contact_sheet=sheet,
        examined_at=examined_at,
        extra_warnings=notes,
        side_by_side=side,
    )


def _shown(archive: str) -> str:
    """The archive as the record names it: a PostgreSQL URL with its password masked."""
    from provenance.archive.postgres import masked_location  # only with an archive: sqlite3 is not needed before

    return masked_location(archive)


def _logged_custody(archive: str, fp: Fingerprint, examiner: str | None, case: str | None) -> tuple[str, ...]:
    """Log the reading in the archive's custody log; a warning (nothing logged) when whoever checks may only
    read the archive (a PostgreSQL role granted SELECT only): the check itself needs no write."""
    from provenance.archive.custody import Reading, record_custody
    from provenance.archive.store import ReadOnlyArchiveError

    try:
        record_custody(archive, [Reading(fp.identity.sha256, fp.identity.path)], command=COMMAND, examiner=examiner,
                       case=case)
    except ReadOnlyArchiveError as exc:
        return (f"custody not logged: {exc}",)
    return ()


def _side_by_side(source: MediaSource, fp: Fingerprint, matches: tuple[Match, ...], archive: str,
                  folder: str) -> tuple[tuple[SideBySideImage, ...], tuple[str, ...]]:
    """Write the matches' frames beside the archived pictures into ``folder``: the images, and a note
    for each item shown without them."""
    from provenance.archive.store import ArchiveStore
    from provenance.report.side_by_side import side_by_side as matched_views
    from provenance.report.side_by_side import write_side_by_side

    with ArchiveStore.open(archive, create=False) as store:
        views = matched_views(source, fp, matches, store.pictures)
    notes = tuple(f"side by side of {v.item_name} ({v.sha256[:12]}): {v.note}" for v in views if v.note)
    return write_side_by_side(views, folder), notes


@dataclass(frozen=True)
class Examination:
    """``check --structure``: the check of a file and what the file says about itself, read through one open file."""

    report: CheckReport
    itself: SelfReport | None  # None unless the structure was asked for
    timings: Timings | None = None  # the stage timers, when asked for


def examine(
    path: str | MediaSource,
    archive: str | None = None,
    *,
    structure: bool = False,
    params: SamplingParams | None = None,
    claimed_date: str | DateInterval | None = None,
    keyframes_dir: str | None = None,
    beside: bool = False,
    progress: Callable[[float, float | None], None] | None = None,
    examiner: str | None = None,
    log_custody: bool = True,
    side_by_side: bool = False,
    timings: bool = False,
) -> Examination:
    """:func:`check` the file and, with ``structure``, read its boxes, last writer, edit indicators and C2PA.

    The file is opened once: the structure is read from the very file that was hashed and decoded,
    never from its name again (another file may have been renamed over it meanwhile). ``log_custody``
    as for :func:`check`. With ``timings``, ``Examination.timings`` says where the time went, stage by
    stage (``provenance.timings.Timings``; no ``startup``, and ``total`` is this call's).
    """
    if timings:
        with collecting() as clock:
            examined = examine(path, archive, structure=structure, params=params, claimed_date=claimed_date,
                               keyframes_dir=keyframes_dir, beside=beside, progress=progress, examiner=examiner,
                               log_custody=log_custody, side_by_side=side_by_side)
        return Examination(examined.report, examined.itself, clock.finish())
    with opened(path) as source:
        report = check(source, archive, params=params, claimed_date=claimed_date, keyframes_dir=keyframes_dir,
                       beside=beside, progress=progress, examiner=examiner, log_custody=log_custody,
                       side_by_side=side_by_side)
        itself: SelfReport | None = None
        if structure:
            from provenance.forensics.selfreport import self_report

            itself = self_report(source, report.fingerprint.metadata)
    return Examination(report, itself)
