"""What a triage worker process does: identify a path, fingerprint and match one content, or
match one content against the rest of the batch (for clustering).

Each task returns a frozen result and never raises for a bad file: its error becomes the result's
``error`` (one error row). Only problems that stop the whole batch propagate: ffmpeg missing
(``MissingToolError``) or an archive that cannot be read (``ArchiveError``).

A content is decoded once, at the archive rate (``ingest.ARCHIVE_FPS``, 8 samples per second);
``check.as_query`` takes every 4th sample as the query view (2 per second), which is matched by
``check.match_against``, exactly as ``provenance check`` does: frame hashes, then local
features where the hashes explain less than half of the file. The archive itself is not changed.

What a library running inside the worker prints on the process's stderr (a decoder logs every
damaged macroblock there) is caught while a content is analysed and becomes a warning of that
file's record, never lines on the terminal. ffmpeg and ffprobe, which decode the frames (and the
thumbnail when no kept frame can be it), run as child processes whose stderr is read by their callers.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import numpy as np

from provenance.archive.searchable import ArchiveFrames, SearchFn
from provenance.distributed.cluster import worker_versions
from provenance.distributed.shipping import ShippedDamaged, as_evidence, shipped_copy, told
from provenance.errors import ArchiveError, MissingToolError, ProvenanceError
from provenance.fingerprinting import Analysis, analyse, as_query
from provenance.ingest.add import ARCHIVE_FPS
from provenance.ingest.sidecar import read_ytdlp_sidecar
from provenance.match.against_archive import MatchingArchive, match_against
from provenance.match.appearance import earliest_appearance
from provenance.match.verdict import archive_verdict
from provenance.media.identity import file_identity
from provenance.media.source import opened
from provenance.model import Appearance, FileIdentity, Fingerprint, Match, SamplingParams
from provenance.times import utc_now
from provenance.triage.cluster import (
    FeatureBatch,
    cluster_features,
    load_feature_batch,
    load_frames,
    query_links,
    search_here,
    searched_in_batch,
)
from provenance.triage.results import (
    AnalyseTask,
    ClusterTask,
    ContentResult,
    FeatureTask,
    Hashed,
    HashTask,
    Link,
    WorkerInfo,
)
from provenance.triage.thumbs import thumbnail_jpeg
from provenance.vision.features import FrameFeatures
from provenance.vision.on_demand import FeaturesOnDemand

_PR_SET_PDEATHSIG = 1
_MAX_STDERR_BYTES = 64 * 1024  # of what a decoder printed, kept to name the first line and count them
_batch: tuple[str, ArchiveFrames, SearchFn] | None = None
_features: tuple[str, FeatureBatch] | None = None  # the batch's feature frames, opened once per process
_archive: MatchingArchive | None = None  # kept open across the files a worker matches
_versions: tuple[tuple[str, str], ...] | None = None  # this process's package versions, read once


def init_worker(slots: Synchronized | None = None, cores: tuple[int, ...] = ()) -> None:
    """Set up a pool process: leave Ctrl-C to the parent, die with it, and keep to one core.

    The process gets its own process group, so a Ctrl-C at the terminal reaches only the parent
    (which then stops the pool) and not ffmpeg mid-file, whose death would read as a corrupt file.
    On Linux the process also asks to be killed when its parent dies (``kill -9`` of the CLI).

    With ``cores``, the n-th worker started (``slots`` counts them) is bound to the n-th core, and
    the ffmpeg processes it starts inherit that: their decoders then run one thread, not one per
    core. The pool's processes are the parallelism; threads inside each would only fight them for
    the same cores, and ``--jobs N`` would use more than N cores.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if slots is not None and cores:
        with slots.get_lock():
            index = slots.value
            slots.value += 1
        with contextlib.suppress(OSError, AttributeError):  # no affinity calls outside Linux
            os.sched_setaffinity(0, {cores[index % len(cores)]})


def this_worker() -> WorkerInfo:
    """This process as a content's record names it: its Dask worker's address when it is one, else
    ``HOST:PID``; with the versions of the packages that make the hashes (read once per process)."""
    global _versions
    name = f"{socket.gethostname()}:{os.getpid()}"
    if "distributed" in sys.modules:  # never imported for it: only a Dask worker has it loaded
        from distributed import get_worker

        with contextlib.suppress(ValueError):  # not inside a Dask worker
            name = get_worker().address
    if _versions is None:
        _versions = tuple(sorted(worker_versions().items()))
    return WorkerInfo(name, _versions)


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, ProvenanceError):
        return text or type(exc).__name__
    return f"internal error: {type(exc).__name__}: {text}"


@contextlib.contextmanager
def _stderr_caught() -> Iterator[list[str]]:
    """Send this process's stderr (the file descriptor, so C libraries too) to a scratch file meanwhile.

    The list it gives is filled, on leaving, with the lines written (the first 64 KiB of them).
    Without a usable stderr nothing is redirected and the list stays empty.
    """
    lines: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield lines
        return
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                sink.seek(0)
                text = sink.read(_MAX_STDERR_BYTES).decode("utf-8", "replace")
                lines.extend(line.strip() for line in text.splitlines() if line.strip())
    finally:
        os.close(saved)


def _stderr_warning(lines: list[str]) -> str:
    return f"a decoder printed {len(lines)} line(s) on stderr while this file was read; first: {lines[0]}"


def hash_path(task: HashTask) -> Hashed:
    """The identity (SHA-256, SHA-1, MD5, times) of one path and the sightings of its yt-dlp sidecar."""
    try:
        identity = file_identity(task.path)
    except (MissingToolError, ArchiveError):
        raise
    except Exception as exc:  # one bad file is one error row; the batch goes on
        return Hashed(task.path, None, (), error=_describe(exc))
    sidecar = read_ytdlp_sidecar(task.path)
    sightings = ()
    if sidecar.sighting is not None:
        sightings = (replace(sidecar.sighting, file_name=Path(task.path).name),)
    warnings = (sidecar.warning,) if sidecar.warning else ()
    return Hashed(task.path, identity, sightings, warnings=warnings)


def analyse_content(task: AnalyseTask) -> ContentResult:
    """Fingerprint one content at the archive rate, match its query view as ``check`` does, make its thumbnail.

    Local features are computed while decoding: the query's (for matching crops and insets), and
    with ``task.archive_features`` also those an archived item keeps (for ``--add-new``).
    """
    started_at, start = utc_now(), time.perf_counter()

    def result(error: str | None = None, fingerprint: Fingerprint | None = None,
               variants: np.ndarray | None = None, features: tuple[FrameFeatures, ...] = (),
               matches: tuple[Match, ...] = (), appearance: Appearance | None = None,
               thumbnail: bytes = b"",
               kept: tuple[tuple[FrameFeatures, ...], tuple[FrameFeatures, ...]] = ((), ())) -> ContentResult:
        """The task's result, timed from the start of the task."""
        return ContentResult(sha256=task.sha256, path=task.path, error=error, fingerprint=fingerprint,
                             variants=variants, features=features, matches=matches, appearance=appearance,
                             thumbnail=thumbnail, started_at=started_at, finished_at=utc_now(),
                             seconds=round(time.perf_counter() - start, 4), pid=os.getpid(),
                             cluster_features=kept[0], cluster_mirrored=kept[1], worker=this_worker())

    analysis: Analysis | None = None
    error, thumbnail = "", b""
    with _stderr_caught() as printed:
        try:
            # one open file for the record and the thumbnail: the picture shown is of the bytes hashed
            with opened(task.path) as source:
                analysis = analyse(source, SamplingParams(fps=ARCHIVE_FPS),
                                   features="all" if task.archive_features else "query")
                if analysis.fingerprint.identity.sha256 == task.sha256:
                    kept = analysis.mirrored_features  # the query's feature frames, as decoded
                    thumbnail = thumbnail_jpeg(source, analysis.fingerprint,
                                               kept=kept if isinstance(kept, FeaturesOnDemand) else None)
        except (MissingToolError, ArchiveError):
            raise
        except Exception as exc:
            error = _describe(exc)
    if analysis is None:
        return result(error=f"{error}; {_stderr_warning(printed)}" if printed else error)
    fp = analysis.fingerprint
    if fp.identity.sha256 != task.sha256:
        return result(error="the file changed between hashing and decoding: copy it somewhere stable and rerun")
    if printed:
        fp = replace(fp, warnings=(*fp.warnings, _stderr_warning(printed)))
        analysis = replace(analysis, fingerprint=fp)
    query = as_query(analysis)
    matches = match_against(query, _opened(task.archive)) if task.archive is not None else ()
    appearance = earliest_appearance(matches, fp.metadata, None)
    return result(fingerprint=fp, variants=query.dihedral_pdq,
                  features=analysis.features if task.archive_features else (), matches=matches,
                  appearance=appearance, thumbnail=thumbnail,
                  kept=cluster_features(analysis.features, analysis.mirrored_features,
                                        searched=searched_in_batch(archive_verdict(query.fingerprint, matches)[0])))


def analyse_shipped(task: AnalyseTask, data: bytes, identity: FileIdentity) -> ContentResult:
    """``analyse_content`` of a content whose bytes were sent to this worker (``triage --ship``;
    ``provenance.distributed.shipping``): checked against the SHA-256 the client computed, analysed from a
    private copy, and told of the evidence file (its path, its identity as the client read it)."""
    try:
        with shipped_copy(data, task.sha256, identity.name) as copy:
            result = analyse_content(replace(task, path=copy))
    except ShippedDamaged as exc:
        return ContentResult.failed(task.sha256, task.path, str(exc), pid=os.getpid(), worker=this_worker())
    fp = None if result.fingerprint is None else as_evidence(result.fingerprint, copy, identity)
    return replace(result, path=task.path, error=told(result.error, copy, identity), fingerprint=fp)


def _opened(path: str) -> MatchingArchive:
    """The archive at ``path``, opened once per process and kept while it holds what it held.

    Reopened when another archive is asked for or this one has changed (an item added or removed):
    the matches are those of a fresh open, without reading the kept frames, indexes and the items'
    features again for every file.
    """
    global _archive
    if _archive is not None and (_archive.path != path or not _archive.current()):
        _archive.close()
        _archive = None
    if _archive is None:
        _archive = MatchingArchive(path)
    return _archive


def cluster_links(task: ClusterTask) -> tuple[Link, ...]:
    """What one content shares with the rest of the batch (the batch's frames are loaded once per process)."""
    global _batch
    if _batch is None or _batch[0] != task.frames_path:
        frames, search = load_frames(task.frames_path)
        _batch = (task.frames_path, frames, search)
    return query_links(task.query, task.variants, _batch[1], _batch[2])


def feature_matches(task: FeatureTask) -> tuple[Match, ...]:
    """What one content's feature frames find among the rest of the batch's (opened once per process)."""
    global _features
    if _features is None or _features[0] != task.folder:
        _features = (task.folder, load_feature_batch(task.folder))
    return search_here(_features[1], (task.query,))[0]
