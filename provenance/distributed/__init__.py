"""Work beyond one machine: the triage's file work on a Dask cluster (``dask.distributed``).

Modules: ``cluster`` (``DaskPool``: an executor on a cluster's workers, with the worker pool's
interface, after the workers' provenance version is checked against this one's).

    from provenance.distributed import DaskPool
    with DaskPool.open("local:2") as pool:   # or "tcp://scheduler:8786"
        ...

``dask[distributed]`` is an optional extra (``pip install 'provenance[dask]'``), imported only here and
only when a cluster is asked for.
"""

from __future__ import annotations

from provenance.distributed.cluster import DaskPool, worker_versions

__all__ = ["DaskPool", "worker_versions"]
