"""Write the triage's outputs: one JSON report per file, ``summary.csv`` and ``index.html``.

Every file is written to a temporary name and renamed, so a report folder never holds half a file.
The per-file record is the ``check --json`` record (``provenance.report.json.check_record``) of the
file's query view, under schema ``provenance.triage.file``, with a ``triage`` object added: verdict,
cluster (members earliest first, with their sightings) and this file's own sightings.

The JSON reports and the CSV files keep every name exactly, but for the bytes of a name that are not
UTF-8, written ``\\xNN`` (``provenance.report.formatters.unicode_safe``: the files are always valid
UTF-8); every CSV cell that a spreadsheet would take for a formula gets a leading ``'``
(``spreadsheet_cell``). The page shows names as the terminal does (``shown_name``: a newline as
``\\n``, a byte that is not UTF-8 as ``\\xNN``...), and errors, warnings and reasons with ``shown_text``.
"""

from __future__ import annotations

import base64
import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from provenance.codec import to_jsonable
from provenance.files import write_atomic
from provenance.model import CheckReport, Sighting
from provenance.report.formatters import (
    shown_name,
    shown_text,
    sighting_short,
    sighting_when,
    spreadsheet_cell,
    unicode_safe,
)
from provenance.report.json import check_record, json_text
from provenance.times import utc_now
from provenance.triage.results import VERDICT_TEXT, Cluster, FileRow, Skipped, TriageResult
from provenance.version import __version__

FILE_SCHEMA = "provenance.triage.file"
FILE_SCHEMA_VERSION = 1
CSV_COLUMNS = (
    "path", "name", "verdict", "cluster", "cluster_size", "cluster_verdict", "kind", "duration", "size", "sha256",
    "archive_coverage", "earliest_archived", "earliest_archived_where", "earliest_archived_sha256",
    "earliest_in_batch", "source_url", "matches", "best_score", "added_to_archive", "detected", "error",
    "warnings", "report",
)


def _cluster_record(cluster: Cluster, reports: dict[str, str]) -> dict[str, object]:
    return {
        "id": cluster.id,
        "verdict": cluster.verdict,
        "size": len(cluster.members),
        "contents": list(cluster.contents),
        "earliest_archived": to_jsonable(cluster.earliest_archived),
        "earliest_archived_sha256": cluster.earliest_archived_sha256,
        "earliest_in_batch": to_jsonable(cluster.earliest_in_batch),
        "related": list(cluster.related),
        "members": [{**(to_jsonable(m) or {}), "report": reports.get(m.path)}  # type: ignore[dict-item]
                    for m in cluster.members],
    }


def file_record(row: FileRow, cluster: Cluster | None, archive: str | None, reports: dict[str, str]
                ) -> dict[str, object]:
    """The JSON record of one file of the triage."""
    triage: dict[str, object] = {
        "verdict": row.verdict,
        "verdict_text": VERDICT_TEXT[row.verdict],
        "archive_coverage": row.coverage,
        "detected": row.detected,
        "sightings": to_jsonable(row.sightings),
        "added_to_archive": row.added_to_archive,
        "cluster": _cluster_record(cluster, reports) if cluster else None,
    }
    if row.fingerprint is None:
        return {
            "schema": FILE_SCHEMA, "schema_version": FILE_SCHEMA_VERSION,
            "tool": {"name": "provenance", "version": __version__},
            "sha256": row.sha256,
            "file": to_jsonable(row.identity) if row.identity else {"path": row.path,
                                                                      "name": os.path.basename(row.path)},
            "error": row.error,
            "warnings": list(row.warnings),
            "triage": triage,
        }
    report = CheckReport(fingerprint=row.fingerprint, archive=archive, matches=row.matches,
                         appearance=row.appearance, examined_at=row.examined_at)
    record = check_record(report)
    record["schema"], record["schema_version"] = FILE_SCHEMA, FILE_SCHEMA_VERSION
    record["error"] = None
    record["warnings"] = list(row.warnings)
    record["triage"] = triage
    return record


def _cells(values: Sequence[object]) -> list[str]:
    """One CSV row: each value as valid Unicode (``unicode_safe``), safe from formula injection."""
    return [spreadsheet_cell(unicode_safe(str(v))) for v in values]


def _csv_row(row: FileRow, cluster: Cluster | None) -> list[str]:
    first = row.appearance.earliest if row.appearance else None
    batch = min((s.first_seen for s in row.sightings if s.first_seen), default="")
    url = next((s.source_url for s in row.sightings if s.source_url), "")
    return _cells([
        row.path, os.path.basename(row.path), row.verdict, row.cluster or "", len(cluster.members) if cluster else "",
        cluster.verdict if cluster else "", row.kind or "", "" if row.duration is None else f"{row.duration:.3f}",
        row.identity.size if row.identity else "", row.sha256 or "", f"{row.coverage:.4f}",
        first.first_seen if first and first.first_seen else "", sighting_short(first),
        row.appearance.earliest_sha256 or "" if row.appearance else "", batch, url,
        ";".join(f"{m.sha256}:{m.verdict}" for m in row.matches),
        f"{max(m.score for m in row.matches):.4f}" if row.matches else "",
        "yes" if row.added_to_archive else "", row.detected, row.error or "", " | ".join(row.warnings), row.report,
    ])


def summary_csv(rows: Sequence[FileRow], clusters: dict[str, Cluster]) -> str:
    """``summary.csv``: one row per file (names with commas, quotes or newlines are quoted; no cell is a formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(_csv_row(row, clusters.get(row.cluster or "")))
    return out.getvalue()


def _sighting_short(s: Sighting | None) -> str:
    return shown_text(sighting_short(s))


def _thumb(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii") if data else ""


def index_html(result: TriageResult, inputs: Sequence[str]) -> str:
    """``index.html``: one self-contained page (inline CSS and JS, thumbnails as data URIs)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    roots = sorted((os.path.abspath(i) for i in inputs), key=len, reverse=True)

    def folder(path: str) -> str:
        """The folder of ``path``, relative to the input it was found under ("" at the top)."""
        parent = os.path.dirname(path)
        for root in roots:
            if parent == root or parent.startswith(root.rstrip(os.sep) + os.sep):
                relative = os.path.relpath(parent, root)
                return "" if relative == "." else relative + os.sep
        return parent + os.sep

    env.filters["readable"] = shown_name
    env.filters["text"] = shown_text
    env.filters["basename"] = os.path.basename
    env.filters["folder"] = folder
    env.filters["thumb"] = _thumb
    env.filters["sighting_short"] = _sighting_short
    env.filters["sighting_when"] = sighting_when
    by_cluster: dict[str, list[FileRow]] = {}
    for row in result.rows:
        if row.cluster:
            by_cluster.setdefault(row.cluster, []).append(row)
    order = {m.path: i for c in result.clusters for i, m in enumerate(c.members)}
    groups = [(c, sorted(by_cluster[c.id], key=lambda r: order[r.path])) for c in result.clusters]
    counts = {v: sum(1 for r in result.rows if r.verdict == v) for v in VERDICT_TEXT}
    return env.get_template("index.html.j2").render(
        result=result, groups=groups, errors=[r for r in result.rows if r.verdict == "error"],
        skipped=result.skipped, counts=counts, verdict_text=VERDICT_TEXT, inputs=list(inputs),
        generated=utc_now(), version=__version__, multi=sum(1 for c in result.clusters if len(c.members) > 1))


def write_reports(result: TriageResult, inputs: Sequence[str]) -> None:
    """Write every per-file report, ``summary.csv``, ``skipped.csv`` and ``index.html`` into the report folder."""
    out = Path(result.out_dir)
    clusters = {c.id: c for c in result.clusters}
    reports = {row.path: row.report for row in result.rows}
    for row in result.rows:
        record = file_record(row, clusters.get(row.cluster or ""), result.archive, reports)
        write_atomic(out / row.report, json_text(record) + "\n")
    write_atomic(out / "summary.csv", summary_csv(result.rows, clusters))
    write_atomic(out / "skipped.csv", _skipped_csv(result.skipped))
    write_atomic(out / "index.html", index_html(result, inputs))


def _skipped_csv(skipped: Sequence[Skipped]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("path", "reason"))
    for s in skipped:
        writer.writerow(_cells((s.path, s.reason)))
    return out.getvalue()
