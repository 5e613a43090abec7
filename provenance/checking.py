"""``check``: the full evidence record of one file, matched against an archive when one is given.

With an archive, the reading is logged in the archive's custody log here, in the library, so the
Python API and the command line log the same.

The file is opened once (``provenance.media.source.MediaSource``) and everything the record says, its
hashes, its metadata, its frames and its keyframes, comes from that one open file.
"""

from __future__ import annotations

from collections.abc import Callable

from provenance.archive.custody import Reading, record_custody
from provenance.fingerprinting import analyse
from provenance.frames.keyframes import keyframes_folder, write_keyframes
from provenance.match.against_archive import match_against
from provenance.match.appearance import earliest_appearance
from provenance.media.source import MediaSource, opened
from provenance.model import CheckReport, Match, SamplingParams
from provenance.times import utc_now

COMMAND = "provenance check"


def check(
    path: str | MediaSource,
    archive: str | None = None,
    *,
    params: SamplingParams | None = None,
    claimed_date: str | None = None,
    keyframes_dir: str | None = None,
    beside: bool = False,
    progress: Callable[[float, float | None], None] | None = None,
    examiner: str | None = None,
    case: str | None = None,
    log_custody: bool = True,
) -> CheckReport:
    """Fingerprint ``path`` and, with ``archive``, find where it appeared before.

    The input is opened read-only, once, and nothing is written beside it; keyframes go only into
    ``keyframes_dir`` when one is given, which may be the evidence's own folder only with
    ``beside`` (checked before the examination: UsageError). With ``archive``, the reading (who,
    when, the SHA-256 seen) is appended to the archive's custody log, unless the caller logs it
    itself (``log_custody=False``, as ``report`` does to record its own entry).
    """
    examined_at = utc_now()
    with opened(path) as source:
        if keyframes_dir is not None:
            keyframes_folder(source.path, keyframes_dir, beside=beside)  # refused before the long work
        analysis = analyse(source, params, progress, features="query" if archive is not None else "none")
        fp = analysis.fingerprint
        matches: tuple[Match, ...] = ()
        appearance = None
        if archive is not None:
            matches = match_against(analysis, archive)
            appearance = earliest_appearance(matches, fp.metadata, claimed_date)
            if log_custody:
                record_custody(archive, [Reading(fp.identity.sha256, fp.identity.path)], command=COMMAND,
                               examiner=examiner, case=case)
        keyframes, sheet = ((), None)
        if keyframes_dir is not None:
            keyframes, sheet_path = write_keyframes(source, fp, keyframes_dir, beside=beside)
            sheet = sheet_path or None
    return CheckReport(
        fingerprint=fp,
        archive=archive,
        matches=matches,
        appearance=appearance,
        keyframes=keyframes,
        contact_sheet=sheet,
        examined_at=examined_at,
    )
