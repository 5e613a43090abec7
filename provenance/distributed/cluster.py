"""``DaskPool``: the triage's worker pool on a Dask cluster, a ``LocalCluster`` or a remote scheduler.

It offers what ``provenance.triage.pool.WorkerPool`` offers (``jobs``, ``executor``, ``restart``, a
context manager, the errors that mean a task killed its worker), so the triage's scheduler, journal
and clustering run unchanged on the client: only the file work (hashing a path, fingerprinting and
matching a content, clustering links) runs on the workers. ``concurrent.futures``' interface comes from
``Client.get_executor``.

A worker that dies mid-file has its task run again on another worker by the Dask scheduler; a task
that kills every worker it is given (``distributed.scheduler.allowed-failures``, 3 by default) ends in
``KilledWorker``, which the triage turns into that file's error row. Workers whose provenance version
differs from the client's are refused before any work: their hashes would not be comparable.

Each worker should run one thread (``dask worker --nthreads 1``, as ``local:N`` starts them): a task
catches what decoders print on the process's stderr, and the worker's processes are the parallelism.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any

from provenance.errors import MissingToolError, UsageError
from provenance.version import __version__

_LOCAL = re.compile(r"local(?::(\d+))?")
_ADDRESS = re.compile(r"(tcp|tls|ucx|inproc)://\S+")

PACKAGES = ("numpy", "opencv-python-headless", "imagehash", "Pillow", "dask", "distributed")
"""The packages whose versions each worker reports (with provenance's)."""


def worker_versions() -> dict[str, str]:
    """Run on a worker: provenance's version and those of ``PACKAGES`` there ("" when one is missing)."""
    from importlib import metadata

    from provenance.version import __version__ as version

    found = {"provenance": version}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = ""
    return found


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingToolError("--dask needs dask.distributed: pip install 'provenance[dask]' "
                               "(or pip install 'dask[distributed]')") from exc
    return distributed


class DaskPool:
    """Triage workers on a Dask cluster: ``DaskPool.open("local:2")`` or ``DaskPool.open("tcp://host:8786")``."""

    isolates_crashes = True
    """A task that kills its worker fails alone (the others go on): no need to retry the rest one by one."""

    def __init__(self, client: Any, cluster: Any | None, versions: dict[str, dict[str, str]],
                 ships: bool = False) -> None:
        """Wrap a connected client (use ``DaskPool.open``); ``cluster`` is closed with it when this made it.
        With ``ships``, the workers are sent the bytes of the files (they need not see them)."""
        distributed = _distributed()
        self._client, self._cluster = client, cluster
        self.ships = ships
        self.versions = versions  # worker address -> package versions there
        self.jobs = max(1, sum(client.nthreads().values()))
        self.executor = client.get_executor()
        self.crash_errors: tuple[type[BaseException], ...] = (distributed.KilledWorker,)

    @classmethod
    def open(cls, spec: str, *, ship: bool = False) -> DaskPool:
        """Connect to the cluster ``spec``: ``local`` (a ``LocalCluster`` of one worker process per core),
        ``local:N`` (N worker processes) or a scheduler address (``tcp://HOST:8786``). ``UsageError`` for
        another form or a worker of another provenance version; ``MissingToolError`` without dask."""
        local = _LOCAL.fullmatch(spec.strip())
        if not local and not _ADDRESS.fullmatch(spec.strip()):
            raise UsageError(f"--dask {spec}: give local, local:N or a scheduler address such as "
                             "tcp://scheduler:8786")
        distributed = _distributed()
        cluster = None
        try:
            if local:
                import os

                workers = int(local.group(1)) if local.group(1) else (os.cpu_count() or 1)
                if workers < 1:
                    raise UsageError(f"--dask {spec}: give at least one worker")
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=":0", silence_logs=50)
                client = distributed.Client(cluster)
            else:
                client = distributed.Client(spec.strip(), timeout=30)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise UsageError(f"--dask {spec}: cannot reach the scheduler ({exc}): check the address and that "
                             "`dask scheduler` runs there") from exc
        try:
            versions = client.run(worker_versions)
            _refuse_other_versions(spec, versions)
            if not versions:
                raise UsageError(f"--dask {spec}: the scheduler has no workers: start some with `dask worker {spec}`")
            return cls(client, cluster, versions, ships=ship)
        except BaseException:
            client.close()
            if cluster is not None:
                cluster.close()
            raise

    def restart(self) -> None:
        """Nothing to do: the Dask scheduler replaces a worker that died and runs its tasks elsewhere."""

    def close(self) -> None:
        """Release the workers: close the client, and the cluster when this pool started it."""
        self.executor.shutdown(wait=False)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskPool:
        """Return the pool itself."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the pool (on an exception too: the tasks left are cancelled with the client)."""
        self.close()


def _refuse_other_versions(spec: str, versions: dict[str, dict[str, str]]) -> None:
    others = {address: found.get("provenance", "") for address, found in versions.items()
              if found.get("provenance") != __version__}
    if others:
        shown = ", ".join(f"{address} runs {version or 'no provenance'}" for address, version in sorted(others.items()))
        raise UsageError(f"--dask {spec}: workers of another provenance version are refused, as their hashes would "
                         f"not be comparable ({shown}; this is {__version__}): install provenance {__version__} "
                         "on every worker")
