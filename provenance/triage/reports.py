"""Write the triage's outputs: one JSON report and one page per file, ``summary.csv`` and ``index.html``.

Every file is written to a temporary name and renamed, so a report folder never holds half a file.
The per-file record is the ``check --json`` record (``provenance.report.json.check_record``) of the
file's query view, under schema ``provenance.triage.file``, with a ``triage`` object added: verdict,
cluster (members earliest first, with their sightings, and the archived items it was joined
through) and this file's own sightings. The per-file page (``pages/*.html``, named as its JSON
record in ``reports/``, which holds JSON only) is the evidence report's page
(``provenance.report.html.render_html``) of the same examination, with the custody entry this
triage logged and the file's history in the log; an error row has the JSON record only.

A file that matches archived items gets their matched frames side by side on its page, as the
evidence report shows them (``provenance.report.side_by_side``), and its JSON record lists them under
"side_by_side" as the report's record does (every view's pictures by SHA-256; an empty list for a
file that matches nothing; no view of a match by the soundtrack alone, ``side_by_side.SOUND_ONLY``).
The views are made here, file by file, as each page is written (so a batch of any size holds one
file's pictures at a time): the file is opened read-only once more, its SHA-256 checked against the
row's, and the frames decoded from that open file; nothing more is
logged than the custody entry triage already made for it. A file that is gone or no longer those
bytes gets a warning instead of the views.

What matched the best match, the pictures, the soundtrack or both (``Match.matched_by``), is the
record's ``triage.matched_by``, the ``matched_by`` column of ``summary.csv`` and a line of the row in
``index.html`` (in ``formatters.matched_by_text``'s words), whose edits column marks the soundtrack's
edits (``audio_only``, ``audio_replaced``, ``audio_removed``: ``SOUND_EDITS``).

The JSON reports and the CSV files keep every name exactly, but for the bytes of a name that are not
UTF-8, written ``\\xNN`` (``provenance.report.formatters.unicode_safe``: the files are always valid
UTF-8); every CSV cell that a spreadsheet would take for a formula gets a leading ``'``
(``spreadsheet_cell``). The page shows names as the terminal does (``shown_name``: a newline as
``\\n``, a byte that is not UTF-8 as ``\\xNN``...), and errors, warnings and reasons with ``shown_text``.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import os
import platform
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from provenance.codec import to_jsonable
from provenance.errors import ProvenanceError
from provenance.files import write_atomic
from provenance.media.identity import file_identity
from provenance.media.source import MediaSource
from provenance.model import ArchivedPicture, CheckReport, Match, Sighting
from provenance.report.formatters import (
    matched_by_text,
    shown_name,
    shown_text,
    sighting_short,
    sighting_when,
    spreadsheet_cell,
    unicode_safe,
)
from provenance.report.html import ShownMatch, render_html, shown_matches
from provenance.report.json import check_record, json_text
from provenance.report.side_by_side import side_by_side
from provenance.times import utc_now
from provenance.triage.results import VERDICT_TEXT, Cluster, FileCustody, FileRow, Skipped, TriageResult
from provenance.version import __version__

FILE_SCHEMA = "provenance.triage.file"
FILE_SCHEMA_VERSION = 1
CSV_COLUMNS = (
    "path", "name", "verdict", "cluster", "cluster_size", "cluster_verdict", "kind", "duration", "size", "sha256",
    "archive_coverage", "earliest_archived", "earliest_archived_where", "earliest_archived_sha256",
    "earliest_in_batch", "source_url", "matches", "best_score", "matched_by", "added_to_archive", "detected",
    "error", "warnings", "report",
)
SOUND_EDITS = ("audio_only", "audio_replaced", "audio_removed")
"""The edits the soundtrack names (``provenance.match.soundtrack``), marked apart in the index's edits column."""


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
        "through": [to_jsonable(t) for t in cluster.through],
        "members": [{**(to_jsonable(m) or {}), "report": reports.get(m.path)}  # type: ignore[dict-item]
                    for m in cluster.members],
    }


PAGES_DIR = "pages"
PICTURE_ITEMS = 4  # archived items whose pictures are kept in memory while the pages are written


def page_name(row: FileRow) -> str | None:
    """The per-file page's path inside the report folder (named as its JSON report), None for an error row."""
    if row.fingerprint is None:
        return None
    return f"{PAGES_DIR}/{os.path.splitext(os.path.basename(row.report))[0]}.html"


def _best(row: FileRow) -> Match | None:
    """The row's best match (by score), None when it matches nothing."""
    return max(row.matches, key=lambda m: m.score) if row.matches else None


def file_record(row: FileRow, cluster: Cluster | None, archive: str | None, reports: dict[str, str],
                views: FileViews | None = None) -> dict[str, object]:
    """The JSON record of one file of the triage (with ``views``, its matches' side-by-side listing); its
    ``triage.matched_by`` is what matched the best match ("pictures", "soundtrack", "both"; null for none)."""
    views = views or FileViews()
    best = _best(row)
    triage: dict[str, object] = {
        "page": page_name(row),
        "verdict": row.verdict,
        "verdict_text": VERDICT_TEXT[row.verdict],
        "archive_coverage": row.coverage,
        "matched_by": best.matched_by if best is not None else None,
        "detected": row.detected,
        "sightings": to_jsonable(row.sightings),
        "added_to_archive": row.added_to_archive,
        "cluster": _cluster_record(cluster, reports) if cluster else None,
        "worker": None if row.worker is None else {"name": row.worker.name, "versions": dict(row.worker.versions)},
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
    record["warnings"] = [*row.warnings, *([views.warning] if views.warning else [])]
    record["side_by_side"] = [to_jsonable(m) for m in views.listing]
    record["triage"] = triage
    return record


@dataclass(frozen=True)
class FileViews:
    """The side-by-side views of one file's matches: the listing its record and page hold, the JPEGs the
    page embeds (``provenance.report.html.shown_matches``), and why there are none when they could not be made."""

    listing: tuple[ShownMatch, ...] = ()
    jpegs: tuple[bytes, ...] = ()
    warning: str | None = None


def file_views(row: FileRow, pictures: Callable[[str], Sequence[ArchivedPicture]]) -> FileViews:
    """The side-by-side views of ``row``'s matches, from its file opened read-only once more and checked to
    hold the row's bytes (SHA-256); ``pictures(sha256)`` gives an archived item's pictures
    (``ArchiveStore.pictures``). No views for a row without matches; a warning, and no views, when the
    file is gone, unreadable or changed since it was triaged."""
    if row.fingerprint is None or not row.matches:
        return FileViews()
    try:
        with MediaSource.open(row.path) as source:
            if file_identity(source).sha256 != row.sha256:
                return FileViews(warning="the matched frames are not shown side by side: the file changed since "
                                         "it was triaged (its SHA-256 is no longer the one reported)")
            views = side_by_side(source, row.fingerprint, row.matches, pictures)
    except (OSError, ProvenanceError) as exc:
        said = (str(exc).splitlines() or [type(exc).__name__])[0]
        return FileViews(warning=f"the matched frames are not shown side by side: {said}")
    listing, jpegs = shown_matches(views)
    return FileViews(listing, jpegs)


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
        best.matched_by if (best := _best(row)) is not None else "",
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


def _ffmpeg_version() -> str | None:
    """The version word of ``ffmpeg -version`` (e.g. ``5.1.6-0+deb12u1``), or None."""
    try:
        proc = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    words = proc.stdout.split(maxsplit=3)
    return words[2] if len(words) > 2 and words[:2] == ["ffmpeg", "version"] else None


def _custody_record(custody: FileCustody, head: FileCustody) -> dict[str, object]:
    """The page's custody section: this triage's entry, the file's history, the log's head after the run."""
    return {"archive": custody.archive, "archive_id": custody.archive_id, "entry": to_jsonable(custody.entry),
            "history": [to_jsonable(e) for e in custody.history],
            "head": {"seq": head.entry.seq, "entry_hash": head.entry.entry_hash}}


def page_html(row: FileRow, result: TriageResult, custody: FileCustody | None, environment: dict[str, str | None],
              generated: str, views: FileViews | None = None) -> str:
    """The per-file page: the evidence report's page (``render_html``) of this file's examination in the triage,
    with ``views`` (its matches' side-by-side views) embedded."""
    assert row.fingerprint is not None, "an error row has no page"
    views = views or FileViews()
    report = CheckReport(fingerprint=row.fingerprint, archive=result.shown_archive, matches=row.matches,
                         appearance=row.appearance, examined_at=row.examined_at,
                         extra_warnings=(views.warning,) if views.warning else ())
    timelines = [{"sha256": m.sha256, "query_duration": row.fingerprint.duration,
                  "archive_duration": result.item_durations.get(m.sha256)} for m in row.matches]
    head = result.custody[-1] if result.custody else None
    record = {
        "schema": FILE_SCHEMA, "schema_version": FILE_SCHEMA_VERSION, "generated_at": generated,
        "examiner": custody.entry.examiner if custody else "", "case": None,
        "tool": {"name": "provenance", "version": __version__}, "environment": environment,
        "sha256": row.sha256, "check": check_record(report), "contact_sheet": None, "timelines": timelines,
        "side_by_side": [to_jsonable(m) for m in views.listing],
        "custody": _custody_record(custody, head) if custody and head else None, "page": None,
    }
    return render_html(record, None, json_name=row.report, signer_key_id=None, pictures=views.jpegs)


@dataclass(frozen=True)
class Findings:
    """What the index shows of one row's best match: the item, the matched seconds, the edits, the flags."""

    item_name: str
    item_sha256: str
    spans: tuple[str, ...]  # "1.0–5.0 s = archive 0.0–4.0 s" ("sound 1.0–5.0 s = ..."), at most SPANS of them
    more_spans: int  # segments not listed
    matched_by: str  # "pictures", "soundtrack" or "both" (``Match.matched_by``)
    matched_by_words: str  # in words (``formatters.matched_by_text``)
    edits: tuple[str, ...]
    edit_details: str  # every edit with its details, for a tooltip
    identical: bool  # the file is byte for byte an archived item (same SHA-256)
    older_days: int | None  # the footage is at least this many days older than claimed
    date_statement: str


SPANS = 2


def _span(query_start: float, query_end: float, archive_start: float, archive_end: float, still: bool,
          item_still: bool = False, sound: bool = False) -> str:
    """One matched stretch in words: "0.0–6.0 s = archive 2.0–8.0 s" ("sound 0.0–6.0 s = ..." for a match by
    the soundtrack alone); a still matched to a video is the frame at a moment of it, to a still the
    archived picture itself."""
    if still and not item_still:
        return f"the picture = the frame at {archive_start:.2f} s of the archived video"
    query = "the picture" if still else f"{'sound ' if sound else ''}{query_start:.1f}–{query_end:.1f} s"
    archived = "the archived picture" if item_still or archive_end <= archive_start else \
        f"archive {archive_start:.1f}–{archive_end:.1f} s"
    return f"{query} = {archived}"


def findings(row: FileRow) -> Findings | None:
    """The index's summary of ``row``'s matches (its best match, by score), None when it matches nothing."""
    best = _best(row)
    if best is None:
        return None
    still = row.kind == "still"
    # a still query covers a still item whole (coverage 1) and a video item not at all (coverage 0)
    item_still = still and best.archive_coverage >= 1.0
    spans = tuple(_span(s.query_start, s.query_end, s.archive_start, s.archive_end, still, item_still,
                        sound=best.matched_by == "soundtrack")
                  for s in best.segments[:SPANS])
    appearance = row.appearance
    older = appearance.older_than_claimed_days if appearance else None
    statement = ""
    if appearance is not None and older is not None:
        statement = next((c.statement for c in appearance.comparisons if c.relation == "before"), appearance.statement)
    return Findings(
        item_name=best.item_name, item_sha256=best.sha256, spans=spans,
        more_spans=max(0, len(best.segments) - SPANS), matched_by=best.matched_by,
        matched_by_words=matched_by_text(best), edits=tuple(dict.fromkeys(e.name for e in best.edits)),
        edit_details="; ".join(f"{e.name}: {e.details}" if e.details else e.name for e in best.edits),
        identical=any(m.verdict == "identical" or m.sha256 == row.sha256 for m in row.matches),
        older_days=older, date_statement=statement)


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
    env.filters["findings"] = findings
    env.filters["page"] = page_name
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
        generated=utc_now(), version=__version__, multi=sum(1 for c in result.clusters if len(c.members) > 1),
        sound_edits=SOUND_EDITS)


def write_reports(result: TriageResult, inputs: Sequence[str], jobs: int = 1) -> None:
    """Write every per-file report and page, ``summary.csv``, ``skipped.csv`` and ``index.html`` into ``out_dir``.

    The side-by-side views of a file's matches are made (``file_views``) just before its report and page
    are written, ``jobs`` files at a time (most of it is ffmpeg decoding, in its own process), with the
    archive's pictures of the matched items read from ``result.archive``.
    """
    from provenance.archive.store import ArchiveStore

    out = Path(result.out_dir)
    clusters = {c.id: c for c in result.clusters}
    reports = {row.path: row.report for row in result.rows}
    custody = {c.path: c for c in result.custody}
    environment = {"python": platform.python_version(), "platform": platform.platform(), "ffmpeg": _ffmpeg_version()}
    generated = utc_now()

    def write_file(row: FileRow, pictures: Callable[[str], Sequence[ArchivedPicture]] | None) -> None:
        views = file_views(row, pictures) if pictures is not None else FileViews()
        record = file_record(row, clusters.get(row.cluster or ""), result.shown_archive, reports, views)
        write_atomic(out / row.report, json_text(record) + "\n")
        page = page_name(row)
        if page is not None:
            write_atomic(out / page, page_html(row, result, custody.get(row.path), environment, generated, views))

    jobs = max(1, jobs)
    matched = any(row.fingerprint is not None and row.matches for row in result.rows)
    with (ArchiveStore.open(result.archive, create=False) if matched else contextlib.nullcontext()) as store, \
            ThreadPoolExecutor(jobs) as threads:
        # re-shares of one item come together: a few items' pictures kept, never the whole archive's; read
        # here, as the archive's connection belongs to this thread
        cached = lru_cache(maxsize=PICTURE_ITEMS)(store.pictures) if store is not None else None
        pending: deque[Future[None]] = deque()
        for row in result.rows:
            pictures = None
            if cached is not None and row.fingerprint is not None and row.matches:
                pictures = {m.sha256: cached(m.sha256) for m in row.matches}.__getitem__
            pending.append(threads.submit(write_file, row, pictures))
            while len(pending) > 2 * jobs:  # a few files' pictures in memory at a time, whatever the batch
                pending.popleft().result()
        while pending:
            pending.popleft().result()
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
