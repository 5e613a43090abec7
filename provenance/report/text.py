"""The human-readable report of a check, for the terminal.

Names are shown with ``formatters.shown_name`` and every line with ``formatters.shown_text``, so
no name or tag of the file can put control characters (or bytes that are not UTF-8) on the terminal.
"""

from __future__ import annotations

from dataclasses import replace

from provenance.match.verdict import ARCHIVE_VERDICTS, VERDICTS, archive_verdict
from provenance.model import CheckReport, Fingerprint, Match, Sighting
from provenance.report import formatters as fmt
from provenance.times import timestamp_label
from provenance.version import __version__


def _fingerprint_lines(fp: Fingerprint) -> list[str]:
    ident, meta = fp.identity, fp.metadata
    lines = ["FILE", f"  name        {fmt.shown_name(ident.name)}",
             f"  size        {fmt.format_bytes(ident.size)}",
             f"  SHA-256     {ident.sha256}", f"  SHA-1       {ident.sha1}", f"  MD5         {ident.md5}",
             f"  modified    {ident.modified}  (file system, as observed; changed {ident.changed})", "", "MEDIA"]
    brands = f" (brand {meta.major_brand}; {' '.join(meta.compatible_brands)})" if meta.major_brand else ""
    lines.append(f"  kind        {meta.kind}; container {meta.format_name or '?'}{brands}")
    if meta.duration is not None or meta.bit_rate:
        rate = f", {fmt.bit_rate_text(meta.bit_rate)}" if meta.bit_rate else ""
        lines.append(f"  duration    {meta.duration or 0:.3f} s{rate}")
    for s in meta.streams:
        lines.append(f"  {s.kind:<6} #{s.index:<3} {fmt.stream_text(s)}")
    facts = [
        ("created", meta.creation_time and f"{meta.creation_time}  ({meta.creation_time_note or 'container'})"),
        ("device date", meta.device_creation_date),
        ("make/model", fmt.device_text(meta)),
        ("software", meta.software),
        ("encoder", meta.encoder),
        ("location", fmt.location_text(meta.location)),
        ("handlers", ", ".join(meta.handler_names) or None),
    ]
    if meta.exif:
        ex = meta.exif
        facts += [("EXIF taken", fmt.exif_taken_text(ex)),
                  ("orientation", str(ex.orientation) if ex.orientation else None)]
    lines += [f"  {k:<11} {v}" for k, v in facts if v]
    box = "full frame" if fp.content_box.is_full else (
        f"borders removed, picture at x {fp.content_box.left:.2f}-{fp.content_box.right:.2f}, "
        f"y {fp.content_box.top:.2f}-{fp.content_box.bottom:.2f}")
    if fp.is_still:  # one picture: no samples per second, no shots
        return [*lines, "", "FRAMES", f"  a single picture, hashed once; {box}"]
    lines += ["", "FRAMES",
              f"  {len(fp.frames)} samples at {fp.params.fps:g} per second; decoded {fp.duration:.2f} s; {box}",
              f"  {len(fp.shots)} shot(s):"]
    for shot in fp.shots[:30]:
        lines.append(f"    #{shot.index + 1:<3} {shot.start:8.2f} - {shot.end:8.2f} s   keyframe at "
                     f"{timestamp_label(shot.keyframe_time).replace('-', ':')}")
    if len(fp.shots) > 30:
        lines.append(f"    ... and {len(fp.shots) - 30} more (see --json)")
    sound = fp.soundtrack
    if sound is not None:
        made = (f"{sound.count} values over {sound.covered:.1f} s, {sound.method}"
                if sound.status == "fingerprinted" else sound.status)
        lines += ["", "SOUNDTRACK", f"  fingerprint  {made}"]
        if sound.band_step:
            lines.append(f"  band print   {sound.band_count} values over {sound.band_count * sound.band_step:.1f} s "
                         "(for sound too short for Chromaprint)")
    return lines


def _still_match_lines(n: int, m: Match, text: str) -> list[str]:
    """A still's match: what it is of the item, without the time line figures a picture has none of."""
    return [f"  {n}. {m.score * 100:.0f}%  {text}", f"     item {fmt.shown_name(m.item_name)}  (sha256 {m.sha256})",
            f"     PDQ distance {m.mean_distance:.1f}/256"]


def _match_lines(n: int, m: Match, query_still: bool = False) -> list[str]:
    still = fmt.still_match_text(m, query_still)
    if still is not None:
        return _still_match_lines(n, m, still)
    by_sound = m.matched_by == "soundtrack"  # its segments are the sound's, and no frame was compared
    lines = [f"  {n}. {m.score * 100:.0f}%  {VERDICTS[m.verdict]}",
             f"     item {fmt.shown_name(m.item_name)}  (sha256 {m.sha256})",
             f"     matched by  {fmt.matched_by_text(m)}"]
    lines += [f"     {fmt.segment_text(seg, 'sound' if by_sound else 'query')}" for seg in m.segments]
    if m.matched_by == "both" and m.soundtrack is not None:
        lines += [f"     {fmt.segment_text(seg, 'sound')}" for seg in m.soundtrack.segments]
    agree = ("no frames compared: the pictures are not the item's" if by_sound else
             f"{m.matched_frames} frames agree (mean PDQ distance {m.mean_distance:.1f}/256)")
    lines.append(f"     covers {m.query_coverage:.0%} of the query and {m.archive_coverage:.0%} of the item; "
                 f"playback speed x{m.speed:.2f} of the original; {agree}")
    for edit in m.edits:
        lines.append(f"     edit: {edit.name}" + (f" - {edit.details}" if edit.details else ""))
    return lines


def _names_shown(s: Sighting) -> Sighting:
    return replace(s, file_name=fmt.shown_name(s.file_name)) if s.file_name else s


def render_text(report: CheckReport) -> str:
    """The report as plain text: the one-line finding (``formatters.finding_line``) first, then the sections
    in the order an investigator reads them."""
    fp = report.fingerprint
    name = fmt.shown_name(fp.identity.name)
    verdict, coverage = archive_verdict(fp, report.matches) if report.archive is not None else (None, 0.0)
    lines = [fmt.finding_line(fp.metadata, verdict, report.matches, report.appearance, coverage=coverage), "",
             f"provenance {__version__}: check of {name}, examined {report.examined_at}", ""]
    lines += _fingerprint_lines(fp)
    if report.keyframes:
        lines += ["", "KEYFRAMES", *[f"  {fmt.shown_name(k.path)}" for k in report.keyframes]]
        if report.contact_sheet:
            lines.append(f"  contact sheet: {fmt.shown_name(report.contact_sheet)}")
    if report.archive is not None:
        lines += ["", f"MATCHES in {fmt.shown_name(report.archive)}"]
        by_sound = ", by its soundtrack only" if report.matches and all(
            m.matched_by == "soundtrack" for m in report.matches) else ""
        lines.append(f"  verdict: {ARCHIVE_VERDICTS[verdict]} ({coverage:.0%} of the query is archived footage"
                     f"{by_sound})")
        if not report.matches:
            lines.append("  none")
        for n, match in enumerate(report.matches, 1):
            lines += _match_lines(n, match, fp.is_still)
    if report.appearance:  # with an archive, or a --claimed-date compared with the file's own creation time
        appearance = report.appearance
        lines += ["", "EARLIEST APPEARANCE", f"  {appearance.statement}"]
        if appearance.comparisons:
            lines += ["  dates compared (UTC):", *[f"    {fmt.comparison_text(c)}" for c in appearance.comparisons]]
        if appearance.sightings:
            lines.append("  sightings (oldest first; undated and unreadable dates last):")
        for a in appearance.sightings[:20]:
            lines.append(f"    {fmt.sighting_when(a.sighting):<25} {a.sha256[:12]}  "
                         f"{fmt.sighting_where(_names_shown(a.sighting))}")
    warnings = list(fp.warnings) + list(report.extra_warnings)
    if warnings:
        lines += ["", "WARNINGS", *[f"  ! {w}" for w in warnings]]
    return "\n".join(fmt.shown_text(line) for line in lines) + "\n"
