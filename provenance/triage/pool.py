"""Run the triage's work in parallel processes: files (journaling each result as it arrives), then clusters.

File work is of two kinds: hashing a path (cheap) and analysing a content (decoding, hashing
frames, matching against the archive). Analysis tasks go first whenever one is ready, so files
finish one after another and each finished one is in the journal at once; at most ``2 x jobs``
tasks are in flight, so an interruption loses only those. A content (SHA-256) is analysed once,
whatever the number of its copies. Then the same processes match each content against the rest
of the batch for clustering (``cluster_in_pool``), which is not journaled: it is redone, cheaply,
on every run.

If a worker process dies (a crash in a decoder, the out-of-memory killer), every task in flight
is suspect: each is retried alone, and the one that kills its worker again becomes an error row.
On Ctrl-C the workers are killed (they ignore SIGINT and sit in their own process group) and
``KeyboardInterrupt`` propagates; what the journal holds is kept.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import numpy as np

from provenance.distributed.shipping import bytes_to_send
from provenance.errors import ProvenanceError
from provenance.model import Fingerprint, Match
from provenance.triage import worker
from provenance.triage.cluster import (
    FeatureBatch,
    FeatureSearch,
    batch_frames,
    cluster_contents,
    group,
    save_feature_batch,
    save_frames,
    search_here,
)
from provenance.triage.journal import Journal
from provenance.triage.results import (
    AnalyseTask,
    Candidate,
    Clustering,
    ClusterTask,
    ContentResult,
    FeatureQuery,
    FeatureTask,
    Hashed,
    HashTask,
    Progress,
)

CRASHED = ("the worker process died while reading this file (a crash in the decoder, or out of memory): "
           "check the file with `provenance check`")


@dataclass(frozen=True)
class PoolOutcome:
    """What the pool did in this run."""

    hashed: tuple[Hashed, ...]  # one per candidate, in candidate order (from the journal or new)
    results: dict[str, ContentResult]  # the contents analysed in this run, by SHA-256
    analysed: int  # contents analysed in this run
    reused: int  # contents whose result was already in the journal
    video_seconds: float  # duration of the footage analysed in this run


Task = HashTask | AnalyseTask


class Pool(Protocol):
    """What the scheduler needs of the processes that do the file work: this machine's ``WorkerPool``, or
    ``provenance.distributed.DaskPool`` on a cluster."""

    jobs: int
    executor: Executor
    crash_errors: tuple[type[BaseException], ...]  # what a task's result raises when it killed its worker
    isolates_crashes: bool  # True: such a task failed alone; False: every task in flight is suspect
    ships: bool  # True: the workers do not see this machine's files (their bytes are sent)

    def restart(self) -> None:
        """Replace what a worker's death broke."""


class _Scheduler:
    """The state of one run: queues, tasks in flight, and which paths wait for which content."""

    def __init__(self, journal: Journal, run_id: int, archive: str | None, pool: Pool,
                 progress: Callable[[Progress], None] | None, total: int, archive_features: bool) -> None:
        self.journal, self.run_id, self.archive, self.pool, self.jobs = journal, run_id, archive, pool, pool.jobs
        self.archive_features = archive_features
        self.progress, self.total = progress, total
        self.hash_queue: deque[HashTask] = deque()
        self.analyse_queue: deque[AnalyseTask] = deque()
        self.suspects: deque[Task] = deque()
        self.suspected: set[Task] = set()  # every task ever in flight when a worker died
        self.in_flight: dict[Future[object], Task] = {}
        self.waiting: dict[str, list[str]] = {}  # sha256 -> paths whose row waits for that content
        self.candidates: dict[str, Candidate] = {}
        self.hashed: dict[str, Hashed] = {}
        self.analysed = 0
        self.reused: set[str] = set()  # contents whose result the journal already held
        self.results: dict[str, ContentResult] = {}
        self.video_seconds = 0.0
        self.done = 0
        self.done_at_start = 0
        self.start = time.monotonic()
        self.current = ""
        self.planning = True

    # -- bookkeeping -------------------------------------------------------------------------------

    def finish_paths(self, count: int, current: str) -> None:
        """``count`` more paths are finished (``current`` the latest): tell the progress callback."""
        self.done += count
        self.current = current
        self.report()

    def report(self) -> None:
        """Send the progress callback where the run stands, with the ETA from this run's pace."""
        if self.progress is None or self.planning:
            return
        elapsed = time.monotonic() - self.start
        finished = self.done - self.done_at_start
        eta = elapsed / finished * (self.total - self.done) if finished > 0 else None
        self.progress(Progress(self.done, self.total, elapsed, eta, self.current))

    def path_hashed(self, hashed: Hashed) -> None:
        """A path's identity is known: wait for its content, or finish it."""
        self.hashed[hashed.path] = hashed
        if hashed.identity is None:
            self.finish_paths(1, hashed.path)
            return
        sha = hashed.identity.sha256
        if sha in self.waiting:
            self.waiting[sha].append(hashed.path)
        elif self.journal.has_content(sha):
            if sha not in self.results:  # not a copy of something analysed earlier in this run
                self.reused.add(sha)
            self.finish_paths(1, hashed.path)
        else:
            self.waiting[sha] = [hashed.path]
            self.analyse_queue.append(AnalyseTask(hashed.path, sha, self.archive, self.archive_features))

    def content_done(self, result: ContentResult) -> None:
        """Journal a content's result and finish the paths that waited for it."""
        self.journal.record_content(self.run_id, result)
        self.results[result.sha256] = result
        self.analysed += 1
        if result.fingerprint is not None:
            self.video_seconds += result.fingerprint.duration
        paths = self.waiting.pop(result.sha256, [])
        self.finish_paths(len(paths), result.path)

    def task_done(self, task: Task, value: object) -> None:
        """Journal what a task returned and move its paths on."""
        if isinstance(task, HashTask):
            assert isinstance(value, Hashed)
            self.journal.record_path(self.run_id, self.candidates[task.path], value)
            self.path_hashed(value)
        else:
            assert isinstance(value, ContentResult)
            self.content_done(value)

    def task_crashed(self, task: Task) -> None:
        """The task killed its worker even when run alone: it becomes an error row."""
        if isinstance(task, HashTask):
            self.task_done(task, Hashed(task.path, None, (), error=CRASHED))
        else:
            self.task_done(task, ContentResult.failed(task.sha256, task.path, CRASHED))

    # -- the pool ----------------------------------------------------------------------------------

    def next_task(self) -> Task | None:
        """The task to hand to the pool now, or None: suspects alone, analyses before hashes."""
        if any(task in self.suspected for task in self.in_flight.values()):
            return None  # a suspect runs alone, so that a second crash names it
        if self.suspects:
            return self.suspects.popleft() if not self.in_flight else None
        if len(self.in_flight) >= 2 * self.jobs:
            return None
        if self.analyse_queue:
            return self.analyse_queue.popleft()
        if self.hash_queue:
            return self.hash_queue.popleft()
        return None

    def submit(self, task: Task) -> None:
        """Hand a task to the pool (journaling the attempt of an analysis). When the pool ships bytes,
        paths are hashed here, and an analysis is sent the bytes of its path (read here, read-only)."""
        future: Future[object]
        if isinstance(task, AnalyseTask):
            self.journal.record_attempt(self.run_id, task.sha256)
            future = (self._shipped(task) if self.pool.ships
                      else self.pool.executor.submit(worker.analyse_content, task))
        elif self.pool.ships:
            future = Future()
            future.set_result(worker.hash_path(task))
        else:
            future = self.pool.executor.submit(worker.hash_path, task)
        self.in_flight[future] = task

    def _shipped(self, task: AnalyseTask) -> Future[object]:
        """The analysis of ``task`` on a worker, given the bytes of its path and its identity as hashed here."""
        identity = self.hashed[task.path].identity
        assert identity is not None  # only a hashed content is analysed
        try:
            data = bytes_to_send(task.path)
        except ProvenanceError as exc:
            done: Future[object] = Future()
            done.set_result(ContentResult.failed(task.sha256, task.path, str(exc)))
            return done
        return self.pool.executor.submit(worker.analyse_shipped, task, data, identity)

    def run(self) -> None:
        """Run until every queued task is done (exceptions propagate; the ``WorkerPool`` kills its workers)."""
        while True:
            while (task := self.next_task()) is not None:
                self.submit(task)
            if not self.in_flight:
                break
            finished, _ = wait(self.in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
            if not finished:
                self.report()  # keep the elapsed time and ETA moving
                continue
            broken = False
            for future in finished:
                task = self.in_flight.pop(future)
                try:
                    value = future.result()
                except self.pool.crash_errors:
                    if self.pool.isolates_crashes:  # it killed every worker it was given, alone
                        self.task_crashed(task)
                        continue
                    broken = True
                    self.suspect(task)
                    continue
                self.task_done(task, value)
            if broken:
                for task in list(self.in_flight.values()):
                    self.suspect(task)
                self.in_flight.clear()
                self.pool.restart()

    def suspect(self, task: Task) -> None:
        """A task that was in flight when a worker died: retry it alone, or fail it if it ran alone."""
        if task in self.suspected:
            self.task_crashed(task)
        else:
            self.suspected.add(task)
            self.suspects.append(task)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: kill its processes (their ffmpeg children die on the closed pipe), cancel the rest."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        try:
            process.kill()
        except (OSError, AttributeError):
            continue
    pool.shutdown(wait=True, cancel_futures=True)


class WorkerPool:
    """The triage's worker processes (spawned; see ``worker.init_worker``), for every phase of a run.

    Use it as a context manager: on leaving normally the workers finish and exit; on any exception
    (Ctrl-C included) they are killed at once.
    """

    crash_errors: tuple[type[BaseException], ...] = (BrokenProcessPool,)
    isolates_crashes = False  # a dead process breaks the whole pool: every task in flight is suspect
    ships = False  # the processes are this machine's: they read the files where they are

    def __init__(self, jobs: int, pin: bool = True) -> None:
        """Prepare ``jobs`` worker processes (started on first use), each bound to one core when ``pin``."""
        self.jobs = max(1, jobs)
        self._context = multiprocessing.get_context("spawn")
        self._slots = self._context.Value("i", 0)
        self._cores: tuple[int, ...] = ()
        if pin and hasattr(os, "sched_getaffinity"):
            self._cores = tuple(sorted(os.sched_getaffinity(0)))
        self.executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.jobs, mp_context=self._context, initializer=worker.init_worker,
                                   initargs=(self._slots, self._cores))

    def restart(self) -> None:
        """Replace a broken pool (a worker died) with fresh processes."""
        _kill(self.executor)
        self.executor = self._new()

    def __enter__(self) -> WorkerPool:
        """Return the pool itself."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Let the workers exit, or kill them when leaving on an exception."""
        if exc_type is None:
            self.executor.shutdown(wait=True)
        else:
            _kill(self.executor)


MIN_CONTENTS_PER_JOB = 4
"""Below this many contents per process, clustering in the parent is quicker than shipping the work."""


def cluster_in_pool(pool: Pool, scratch: Path, archive_fps: Sequence[Fingerprint],
                    queries: Sequence[Fingerprint], variants: Sequence[np.ndarray | None]) -> Clustering:
    """``cluster.cluster_contents``, with the matching spread over the pool's processes.

    The batch's frames are written once to ``scratch`` (a folder in the report folder, removed after);
    each task matches one content against them. If a worker dies, the parent does it all itself.
    """
    if pool.jobs == 1 or pool.ships or len(archive_fps) < MIN_CONTENTS_PER_JOB * pool.jobs:
        return cluster_contents(archive_fps, queries, variants)  # shipped: the workers cannot see the scratch
    save_frames(batch_frames(archive_fps), scratch)
    try:
        futures = [pool.executor.submit(worker.cluster_links, ClusterTask(str(scratch), query, hashes))
                   for query, hashes in zip(queries, variants, strict=True)]
        links = [link for future in futures for link in future.result()]
    except pool.crash_errors:
        pool.restart()
        return cluster_contents(archive_fps, queries, variants)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return group([fp.identity.sha256 for fp in archive_fps], links)


def search_in_pool(pool: Pool, scratch: Path) -> FeatureSearch:
    """``cluster.search_here``, with the contents searched over the pool's processes: the same matches.

    The batch's feature frames are written once to ``scratch`` (a folder in the report folder, removed
    after); each task searches one content. If a worker dies, the parent does it all itself.
    """
    def search(batch: FeatureBatch, queries: Sequence[FeatureQuery]) -> Sequence[tuple[Match, ...]]:
        if pool.jobs == 1 or pool.ships or len(queries) < MIN_CONTENTS_PER_JOB * pool.jobs:
            return search_here(batch, queries)  # shipped: the workers cannot see the scratch
        try:
            save_feature_batch(batch, scratch)
            futures = [pool.executor.submit(worker.feature_matches, FeatureTask(str(scratch), q)) for q in queries]
            return [future.result() for future in futures]
        except pool.crash_errors:
            pool.restart()
            return search_here(batch, queries)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return search


def run_pool(candidates: Sequence[Candidate], journal: Journal, run_id: int, archive: str | None, pool: Pool,
             progress: Callable[[Progress], None] | None = None, archive_features: bool = False) -> PoolOutcome:
    """Hash every candidate not yet journaled and analyse every content not yet journaled.

    ``archive_features``: also compute the local features an archived item keeps (for ``--add-new``).

    Returns each candidate's identity (from the journal when the file is unchanged) and what was done.
    """
    scheduler = _Scheduler(journal, run_id, archive, pool, progress, len(candidates), archive_features)
    for candidate in candidates:
        scheduler.candidates[candidate.path] = candidate
        stored = journal.stored_path(candidate)
        if stored is None:
            scheduler.hash_queue.append(HashTask(candidate.path))
            continue
        scheduler.path_hashed(stored.hashed)
    scheduler.done_at_start = scheduler.done
    scheduler.start = time.monotonic()
    scheduler.planning = False
    scheduler.report()
    scheduler.run()
    hashed = tuple(scheduler.hashed[c.path] for c in candidates)
    return PoolOutcome(hashed, scheduler.results, scheduler.analysed, len(scheduler.reused),
                       round(scheduler.video_seconds, 3))
