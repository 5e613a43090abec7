"""``archive add``: fingerprint files and record them, with their sightings, in the archive.

Each file is its own transaction, so a failure (a corrupt file, a kill) loses nothing already
added, and a batch goes on past a bad file, recording the error.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from provenance.archive.custody import Reading, append_entries
from provenance.archive.store import ArchiveStore, make_archive_folder, masked_location
from provenance.errors import ArchiveError, MissingToolError, ProvenanceError
from provenance.fingerprinting import Analysis, analyse
from provenance.ingest.sidecar import read_ytdlp_sidecar
from provenance.media.identity import file_identity
from provenance.model import FileIdentity, SamplingParams, Sighting
from provenance.platforms import normalised_sighting
from provenance.times import utc_now

ARCHIVE_FPS = 8.0
"""Archived items are sampled 4x denser than queries (2 per second): every query frame, and every
still, then lies within 1/16 s of an archived sample, close enough for its hash to agree even
when the camera moves. It costs storage (about 100 bytes a sample), not matching time."""

COMMAND = "provenance archive add"


@dataclass(frozen=True)
class AddedFile:
    """What happened to one file of an ``archive add`` batch."""

    path: str
    sha256: str | None
    created: bool  # False when the item was already archived (only new sightings were recorded)
    sightings_added: int
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddReport:
    """The outcome of an ``archive add`` batch."""

    archive: str
    files: tuple[AddedFile, ...]

    @property
    def failed(self) -> int:
        """How many files could not be added."""
        return sum(1 for f in self.files if f.error)


def sightings_for(path: str, given: Sighting) -> tuple[Sighting, ...]:
    """The sightings to record for ``path``: the one given on the command line, and the yt-dlp sidecar's.

    The given platform is normalised (``platforms.normalise``), what was given kept as ``platform_raw``.
    """
    now = utc_now()
    given = normalised_sighting(given)
    found: list[Sighting] = []
    if any(v is not None for v in (given.source_url, given.platform, given.uploader, given.first_seen,
                                   given.label, given.title, given.video_id)):
        found.append(replace(given, file_name=Path(path).name, added_at=now))
    sidecar = read_ytdlp_sidecar(path)
    sidecar_sighting = getattr(sidecar, "sighting", sidecar)
    if sidecar_sighting is not None:
        found.append(replace(sidecar_sighting, file_name=Path(path).name, added_at=now,
                             label=sidecar_sighting.label or given.label))
    if not found:
        found.append(Sighting(file_name=Path(path).name, added_at=now, label=given.label))
    return tuple(found)


def analysed_for_archive(path: str, params: SamplingParams) -> Analysis | str:
    """What ``archive add`` keeps of one file (its fingerprint, features and pictures), or why it cannot be
    read (a bad file is a message, not an exception: on a Dask worker too). ``MissingToolError`` propagates."""
    try:
        return analyse(path, params, features="archive")
    except MissingToolError:
        raise
    except ProvenanceError as exc:
        return str(exc)


def analysed_shipped(data: bytes, identity: FileIdentity, params: SamplingParams) -> Analysis | str:
    """``analysed_for_archive`` of a file whose bytes were sent to this Dask worker (``--ship``), checked
    against the SHA-256 the client computed and told of the evidence file (``distributed.shipping``)."""
    from provenance.distributed.shipping import ShippedDamaged, as_evidence, shipped_copy, told

    try:
        with shipped_copy(data, identity.sha256, identity.name) as copy:
            analysis = analysed_for_archive(copy, params)
    except ShippedDamaged as exc:
        return str(exc)
    if isinstance(analysis, str):
        return told(analysis, copy, identity) or ""
    return replace(analysis, fingerprint=as_evidence(analysis.fingerprint, copy, identity))


def _submitted(executor: Executor, path: str, params: SamplingParams, ship: bool) -> Future[Analysis | str]:
    """The analysis of ``path`` on the cluster; shipped: hashed and read here (read-only), its bytes sent."""
    if not ship:
        return executor.submit(analysed_for_archive, path, params)
    from provenance.distributed.shipping import bytes_to_send

    try:
        identity = file_identity(path)
        data = bytes_to_send(path)
    except ProvenanceError as exc:
        done: Future[Analysis | str] = Future()
        done.set_result(str(exc))
        return done
    return executor.submit(analysed_shipped, data, identity, params)


def _analyses(paths: Sequence[str], params: SamplingParams, dask: str | None,
              ship: bool = False) -> Iterator[Analysis | str]:
    """Each path's ``analysed_for_archive``, in order: here, or on the Dask cluster ``dask`` (at most twice
    as many files in flight as it has workers, so memory follows the work, not the batch); with ``ship``,
    the workers are sent the files' bytes."""
    if dask is None:
        yield from (analysed_for_archive(path, params) for path in paths)
        return
    from provenance.distributed import DaskPool

    with DaskPool.open(dask, ship=ship) as pool:
        pending: deque[tuple[str, Future[Analysis | str]]] = deque()
        queued = iter(paths)
        while True:
            while len(pending) < 2 * pool.jobs and (path := next(queued, None)) is not None:
                pending.append((path, _submitted(pool.executor, path, params, ship)))
            if not pending:
                return
            path, future = pending.popleft()
            try:
                yield future.result()
            except pool.crash_errors:
                yield f"{path}: every worker given this file died while reading it (a crash in the decoder, or " \
                      "out of memory): check the file with `provenance check`"


def add_files(
    archive: str,
    paths: Sequence[str],
    *,
    sighting: Sighting | None = None,
    params: SamplingParams | None = None,
    progress: Callable[[str], None] | None = None,
    examiner: str | None = None,
    dask: str | None = None,
    ship: bool = False,
) -> AddReport:
    """Add ``paths`` to the archive at ``archive`` (created if missing). Bad files are recorded, not fatal.

    Each file read and hashed is logged in the archive's custody log, with the SHA-256 seen. With
    ``dask`` (``local``, ``local:N`` or a scheduler's ``tcp://HOST:PORT``), the files are fingerprinted
    on that Dask cluster's workers (``provenance.distributed``; the paths must be the same there), and
    added here, in order, each in its transaction: the archive is that of a local run. With ``ship``,
    each file is hashed and read here and its bytes sent to a worker, which checks them first.
    """
    from provenance.distributed.shipping import refuse_ship_without_dask

    refuse_ship_without_dask(ship, dask)
    given = sighting or Sighting()
    params = params or SamplingParams(fps=ARCHIVE_FPS)
    results: list[AddedFile] = []
    make_archive_folder(archive)
    with ArchiveStore.open(archive, create=True) as store, closing(_analyses(paths, params, dask, ship)) as analyses:
        for path, analysis in zip(paths, analyses, strict=True):
            try:
                if isinstance(analysis, str):
                    raise ProvenanceError(analysis)
                fp = analysis.fingerprint
                outcome = store.add(fp, sightings_for(fp.identity.path, given), analysis.features,
                                    analysis.pictures)
                results.append(AddedFile(path, fp.identity.sha256, outcome.created, outcome.sightings_added,
                                         warnings=fp.warnings))
            except (MissingToolError, ArchiveError):
                raise
            except ProvenanceError as exc:
                results.append(AddedFile(path, None, False, 0, error=str(exc)))
            if progress is not None:
                progress(path)
        readings = [Reading(f.sha256, f.path) for f in results if f.sha256 and not f.error]
        if readings:
            append_entries(store, readings, command=COMMAND, examiner=examiner)
    return AddReport(archive=masked_location(str(archive)), files=tuple(results))
