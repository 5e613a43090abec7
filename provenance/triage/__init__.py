"""Batch triage of a folder of downloads: which files are the same footage, which are archived, which are new.

    from provenance.triage import triage
    result = triage(["downloads/"], "triage-out", "cases.sqlite", jobs=4, add_new=False)
    for cluster in result.clusters:
        print(cluster.id, cluster.verdict, [m.path for m in cluster.members])

Modules, in the order the work flows: ``walk`` (find media by content), ``origins`` (the sightings a
Telegram export's result.json or a file's dated name gives), ``pool`` and ``worker``
(hash and fingerprint in parallel processes), ``journal`` (what is done, for resuming),
``cluster`` and ``assemble`` (near-duplicate clusters, joined through the archive, and verdicts),
``thumbs`` (each file's picture, decoded by ffmpeg as the hashes were), ``reports`` (per-file JSON
and page, summary.csv, index.html), ``run`` (the whole triage, custody logged). Shared types are in
``results``.
"""

from __future__ import annotations

from provenance.triage.results import (
    VERDICT_TEXT,
    Cluster,
    ClusterMember,
    FileRow,
    Progress,
    Skipped,
    TriageResult,
)
from provenance.triage.run import default_jobs, triage

__all__ = [
    "VERDICT_TEXT",
    "Cluster",
    "ClusterMember",
    "FileRow",
    "Progress",
    "Skipped",
    "TriageResult",
    "default_jobs",
    "triage",
]
