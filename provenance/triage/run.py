"""``triage``: walk folders, fingerprint and match every media file in parallel, cluster, report.

The order of work, and why:

1. Walk the inputs (``walk``): candidates by content; non-media listed as skipped. A Telegram export's
   ``result.json`` among them is read (``origins``): its media files get the sightings of their posts,
   and a file no export names, with no dated sighting, the date its name carries.
2. Hash and analyse in a process pool (``pool``), journaling each result (``journal``); what the
   journal already holds (an earlier, interrupted run into the same report folder) is not redone.
3. Cluster the batch and give verdicts (``assemble``, ``cluster``) from the journal, every run,
   with the matching spread over the same worker processes: it costs a fraction of decoding and
   keeps the clusters right as files are added to the folder.
4. With ``add_new``, archive each content whose verdict is new, with the sightings of every copy
   (yt-dlp sidecars, Telegram exports and dated file names included), and with the fingerprint and
   local features its analysis already made (a content analysed in an earlier run without ``add_new``
   is decoded once more for them).
   This comes after all matching, so the batch is judged against the archive as it was, never
   against its own additions.
5. Log custody: one entry in the archive's custody log for every path read and hashed (error
   rows included: their bytes were read too), with the SHA-256 seen, as ``check`` and ``archive add``
   log theirs; every finished run logs the files it reports on, the resumed ones too. With
   ``add_new`` the archive is created for it when the batch added nothing.
6. Write the reports (``reports``).

Inputs are opened read-only; everything is written into ``out_dir`` (and the archive with ``add_new``).
``out_dir`` may not lie inside a folder given as input, nor be (or be made in) the folder that holds
a file given as input (the report would be written among the evidence), unless ``beside`` says so
on purpose; the walk then leaves it out. A run that fails (or is interrupted) before anything is
journaled removes the report folder it created (never one that existed before); once the journal
holds results they are kept, and a rerun resumes from them.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from provenance.archive.side_files import SUFFIXES
from provenance.errors import ArchiveError, ProvenanceError, UsageError
from provenance.fingerprinting import analyse, archive_pictures
from provenance.ingest.add import ARCHIVE_FPS, sightings_for
from provenance.media.identity import file_identity
from provenance.media.source import MediaSource
from provenance.model import ArchivedPicture, Fingerprint, SamplingParams, Sighting
from provenance.platforms import normalised_sighting
from provenance.times import utc_now
from provenance.triage.assemble import assemble
from provenance.triage.journal import JOURNAL_NAME, Journal
from provenance.triage.origins import read_exports, with_origins
from provenance.triage.pool import Pool, WorkerPool, cluster_in_pool, run_pool, search_in_pool
from provenance.triage.reports import write_reports
from provenance.triage.results import ContentResult, FileCustody, FileRow, Hashed, Progress, TriageResult
from provenance.triage.walk import walk
from provenance.vision.features import FrameFeatures

COMMAND = "provenance triage"
"""The command its custody entries name."""


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _archive_id(archive: str, add_new: bool) -> tuple[str | None, str | None]:
    """(the archive to match against, its id); (None, None) when it does not exist yet and ``add_new``."""
    from provenance.archive.store import ArchiveStore, archive_exists, archive_location

    path = archive_location(archive)
    if not archive_exists(path):
        if add_new:
            return None, None
        raise ArchiveError(f"no archive at {path}: check the path, or give --add-new to create it from this batch")
    with ArchiveStore.open(path, create=add_new) as store:
        return path, store.archive_id()


def _archive_analysis(paths: Sequence[str], sha256: str
                      ) -> tuple[Fingerprint, tuple[FrameFeatures, ...], Sequence[ArchivedPicture]] | None:
    """Fingerprint, archive features and pictures of a content analysed in a run without ``--add-new``
    (a second decode)."""
    for path in paths:
        try:
            analysis = analyse(path, SamplingParams(fps=ARCHIVE_FPS), features="archive")
        except ProvenanceError:
            continue
        if analysis.fingerprint.identity.sha256 == sha256:
            return analysis.fingerprint, analysis.features, analysis.pictures
    return None


def _pictures(paths: Sequence[str], fp: Fingerprint) -> Sequence[ArchivedPicture]:
    """The small pictures the archive keeps of a content whose features the workers made (the pictures
    are not journalled: one more decode of the first of its files that still hashes to it, read-only)."""
    for path in paths:
        try:
            with MediaSource.open(path) as source:
                if file_identity(source).sha256 == fp.identity.sha256:
                    return archive_pictures(source, fp)
        except ProvenanceError:
            continue
    return ()


def _add_new(archive: str, rows: Sequence[FileRow], contents: dict[str, ContentResult], journal: Journal,
             run_id: int) -> int:
    """Archive every new content not yet added, with the sightings of all its paths. Returns how many."""
    from provenance.archive.store import ArchiveStore, make_archive_folder

    done = journal.added()
    paths: dict[str, list[str]] = {}
    seen: dict[str, tuple[Sighting, ...]] = {}
    for row in rows:
        if row.verdict == "new" and row.sha256 and row.sha256 not in done:
            paths.setdefault(row.sha256, []).append(row.path)
            seen[row.path] = row.sightings
    if not paths:
        return 0
    make_archive_folder(archive)
    added = 0
    with ArchiveStore.open(archive, create=True) as store:
        for sha, names in paths.items():
            fp, features = contents[sha].fingerprint, contents[sha].features
            assert fp is not None
            analysed = None if features else _archive_analysis(names, sha)
            if analysed is not None:
                fp, features, pictures = analysed
            else:
                pictures = _pictures(names, fp) if store.get(sha) is None else ()
            sightings = [s for path in names for s in _sightings_of(path, seen[path])]
            outcome = store.add(fp, sightings, features, pictures)
            journal.record_added(run_id, sha, outcome.created, outcome.sightings_added)
            added += 1
    return added


def _sightings_of(path: str, sightings: tuple[Sighting, ...]) -> tuple[Sighting, ...]:
    """What to archive of a path's sightings as triage found them (its sidecar's, its export's, its name's);
    an undated one naming the file when it has none. A journal of an earlier version may hold a platform
    as a sidecar named it (``Youtube``): it is normalised as a sidecar read now would be."""
    if not sightings:
        return sightings_for(path, Sighting())
    now = utc_now()
    return tuple(replace(normalised_sighting(s), file_name=s.file_name or Path(path).name, added_at=now)
                 for s in sightings)


def _log_custody(archive: str, rows: Sequence[FileRow]) -> tuple[tuple[FileCustody, ...], dict[str, float]]:
    """Log a custody entry for every row whose file was hashed; (what was logged, matched items' durations).

    The archive is created when it does not exist (only ``add_new`` gets here without one).
    """
    from provenance.archive.custody import Reading, append_entries, custody_entries
    from provenance.archive.store import ArchiveStore, archive_location, make_archive_folder, shown_location

    read = [row for row in rows if row.sha256]
    make_archive_folder(archive)
    shown = shown_location(archive)
    with ArchiveStore.open(archive_location(archive), create=True) as store:
        entries = append_entries(store, [Reading(row.sha256 or "", row.path) for row in read], command=COMMAND)
        archive_id = store.archive_id()
        histories = {sha: custody_entries(store, sha) for sha in dict.fromkeys(row.sha256 or "" for row in read)}
        durations: dict[str, float] = {}
        for sha in dict.fromkeys(m.sha256 for row in rows for m in row.matches):
            item = store.get(sha)
            if item is not None:
                durations[sha] = float(item.duration)
    logged = tuple(FileCustody(row.path, shown, archive_id, entry, histories[row.sha256 or ""])
                   for row, entry in zip(read, entries, strict=True))
    return logged, durations


def _contents(journal: Journal, hashed: Sequence[Hashed], fresh: dict[str, ContentResult]
              ) -> dict[str, ContentResult]:
    """Every content of the batch: this run's results as they came, the rest from the journal."""
    contents = dict(fresh)
    for h in hashed:
        if h.identity is not None and h.identity.sha256 not in contents:
            stored = journal.load_content(h.identity.sha256)
            assert stored is not None, "every hashed content has a journaled result after the pool"
            contents[h.identity.sha256] = stored.result
    return contents


def _refuse_evidence_folder(out: Path, out_dir: str, inputs: Sequence[str]) -> None:
    """Raise ``UsageError`` when ``out`` is inside an input folder, or is (or is in) the folder of an input file."""
    target = os.path.realpath(out)
    for given in inputs:
        real = os.path.realpath(given)
        if os.path.isdir(real):
            if target == real or target.startswith(real.rstrip(os.sep) + os.sep):
                raise UsageError(f"--out {out_dir} is inside {given}, a folder to triage: the report would be "
                                 "written among the evidence; give a folder elsewhere, or --beside to do it on purpose")
        elif os.path.dirname(real) in (target, os.path.dirname(target)):
            raise UsageError(f"--out {out_dir} is in the folder that holds {given}: the report would be written "
                             "beside the evidence; give a folder elsewhere, or --beside to do it on purpose")


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder`` that does not exist yet (what ``mkdir(parents=True)`` creates), or None."""
    missing = None
    for path in (folder.absolute(), *folder.absolute().parents):
        if os.path.lexists(path):
            break
        missing = path
    return missing


def _nothing_to_resume(out: Path) -> bool:
    """True when the report folder's journal holds no result (or there is no journal)."""
    if not (out / JOURNAL_NAME).exists():
        return True
    try:
        with Journal.open(out) as journal:
            return journal.is_empty()
    except ArchiveError:
        return False


def triage(
    inputs: Sequence[str],
    out_dir: str,
    archive: str,
    *,
    jobs: int | None = None,
    add_new: bool = False,
    progress: Callable[[Progress], None] | None = None,
    beside: bool = False,
    dask: str | None = None,
    ship: bool = False,
) -> TriageResult:
    """Triage every media file under ``inputs`` against ``archive``; write the reports into ``out_dir``.

    Rerunning with the same ``out_dir`` resumes: paths and contents already journaled there are not
    hashed or decoded again. Raises ``UsageError`` for a missing input or an ``out_dir`` among the
    evidence (unless ``beside``: see the module notes), ``ArchiveError`` when the archive cannot be
    read (or is missing without ``add_new``), ``MissingToolError`` without ffmpeg. A bad file never
    raises: it becomes an error row.

    With ``dask`` (``local``, ``local:N`` or a scheduler's ``tcp://HOST:PORT``), the file work runs on
    that Dask cluster's workers instead of ``jobs`` processes here (``provenance.distributed``); the
    journal, clustering, archive writes and reports stay here, and the rows are those of a local run.
    With ``ship`` the workers need not see the files: they are hashed here and each content's bytes are
    sent to the worker that analyses it, which checks their SHA-256 first; the archive must then be a
    PostgreSQL one the workers reach (``UsageError`` otherwise).
    """
    start = time.monotonic()
    if not inputs:
        raise UsageError("give at least one folder or file to triage")
    if ship:
        from provenance.archive.postgres import is_server
        from provenance.distributed.shipping import refuse_ship_without_dask

        refuse_ship_without_dask(ship, dask)
        if not is_server(archive):
            raise UsageError("with --ship the workers may not see this machine's files, so they cannot read the "
                             f"archive {archive} either: give a PostgreSQL team archive (postgresql://...) they reach")
    for given in inputs:
        if not os.path.lexists(given):
            raise UsageError(f"no such file or folder: {given}")
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out_dir}: not a folder")
    if not beside:
        _refuse_evidence_folder(out, out_dir, inputs)
    created = _first_missing(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        result = _triage_into(out, inputs, archive, jobs, add_new, progress, dask, ship)
    except BaseException:
        if created is not None and _nothing_to_resume(out):
            shutil.rmtree(created, ignore_errors=True)
        raise
    return replace(result, elapsed=round(time.monotonic() - start, 3))


def _triage_into(out: Path, inputs: Sequence[str], archive: str, jobs: int | None, add_new: bool,
                 progress: Callable[[Progress], None] | None, dask: str | None = None,
                 ship: bool = False) -> TriageResult:
    """The steps of :func:`triage` once the report folder ``out`` exists (``elapsed`` left at 0)."""
    for stale in (*out.glob(".cluster-frames-*"), *out.glob(".cluster-features-*")):  # of a run killed clustering
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)  # the single file of earlier versions
    from provenance.archive.postgres import is_server
    from provenance.archive.store import archive_location

    match_archive, archive_id = _archive_id(archive, add_new)
    exclude = [str(out), *(f"{archive_location(archive)}{suffix}"
                           for suffix in ("", "-wal", "-shm", "-journal", *SUFFIXES) if not is_server(archive))]
    found, origins = read_exports(walk(inputs, exclude))
    jobs = jobs or default_jobs()
    if dask is not None:
        from provenance.distributed import DaskPool

        pool: Pool = DaskPool.open(dask, ship=ship)
    else:
        pool = WorkerPool(jobs)
    with Journal.open(out) as journal:
        journal.check_archive(archive_id)
        run_id = journal.begin_run(inputs, pool.jobs)
        try:
            with pool:  # type: ignore[attr-defined]
                outcome = run_pool(found.candidates, journal, run_id, match_archive, pool, progress, add_new)
                outcome = replace(outcome, hashed=with_origins(outcome.hashed, origins))
                contents = _contents(journal, outcome.hashed, outcome.results)
                # named for this run: a worker that outlives a run (Dask's) keeps what it opened by folder name
                scratch = f"{os.getpid()}-{run_id}"
                assembled = assemble(found.candidates, outcome.hashed, contents,
                                     functools.partial(cluster_in_pool, pool, out / f".cluster-frames-{scratch}"),
                                     search_in_pool(pool, out / f".cluster-features-{scratch}"))
        except KeyboardInterrupt:
            journal.end_run(run_id, "interrupted")
            raise
        except BaseException:
            journal.end_run(run_id, "failed")
            raise
        rows = assembled.rows
        added = 0
        if add_new:
            added = _add_new(archive, rows, contents, journal, run_id)
            in_archive = journal.added()
            rows = tuple(replace(r, added_to_archive=r.verdict == "new" and r.sha256 in in_archive) for r in rows)
        custody, durations = _log_custody(archive, rows)
        result = TriageResult(
            out_dir=str(out), archive=archive_location(archive), rows=rows,
            clusters=assembled.clusters, skipped=found.skipped, run_id=run_id, analysed=outcome.analysed,
            reused=outcome.reused, video_seconds=outcome.video_seconds, elapsed=0.0, added=added,
            custody=custody, item_durations=durations)
        write_reports(result, inputs, jobs)
        journal.end_run(run_id, "finished")
    return result
