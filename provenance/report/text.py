"""The human-readable report of a check, for the terminal."""

from __future__ import annotations

from provenance.match.verdict import VERDICTS
from provenance.model import CheckReport, Fingerprint, Location, Match, StreamInfo
from provenance.times import timestamp_label
from provenance.version import __version__


def format_bytes(n: int) -> str:
    """A byte count as people read it: ``1,234,567 bytes (1.2 MiB)``."""
    size = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024:
            return f"{n:,} bytes ({size:.1f} {unit})"
    return f"{n:,} bytes"


def _location(loc: Location | None) -> str | None:
    if loc is None:
        return None
    alt = f", altitude {loc.altitude:g} m" if loc.altitude is not None else ""
    return f"{loc.latitude:.5f}, {loc.longitude:.5f}{alt}  (from {loc.source}: {loc.raw})"


def _stream(s: StreamInfo) -> str:
    bits = [s.codec or "unknown codec"]
    if s.profile:
        bits[0] += f" ({s.profile})"
    if s.kind == "video":
        if s.width and s.height:
            bits.append(f"{s.width}x{s.height}")
        if s.sample_aspect_ratio or s.display_aspect_ratio:
            bits.append(f"SAR {s.sample_aspect_ratio or '?'} DAR {s.display_aspect_ratio or '?'}")
        if s.avg_frame_rate:
            real = f" (real {s.real_frame_rate:.3f})" if s.real_frame_rate else ""
            bits.append(f"{s.avg_frame_rate:.3f} fps{real}")
        if s.pix_fmt:
            bits.append(s.pix_fmt)
        colour = "/".join(x for x in (s.color_space, s.color_transfer, s.color_primaries, s.color_range) if x)
        if colour:
            bits.append(colour)
        if s.rotation:
            bits.append(f"rotation {s.rotation:g}°")
    elif s.kind == "audio":
        if s.sample_rate:
            bits.append(f"{s.sample_rate} Hz")
        if s.channels:
            bits.append(f"{s.channels} ch")
    if s.handler_name:
        bits.append(f"handler '{s.handler_name}'")
    return ", ".join(bits)


def _fingerprint_lines(fp: Fingerprint) -> list[str]:
    ident, meta = fp.identity, fp.metadata
    lines = ["FILE", f"  name        {ident.name}", f"  size        {format_bytes(ident.size)}",
             f"  SHA-256     {ident.sha256}", f"  SHA-1       {ident.sha1}", f"  MD5         {ident.md5}",
             f"  modified    {ident.modified}  (file system, as observed; changed {ident.changed})", "", "MEDIA"]
    brands = f" (brand {meta.major_brand}; {' '.join(meta.compatible_brands)})" if meta.major_brand else ""
    lines.append(f"  kind        {meta.kind}; container {meta.format_name or '?'}{brands}")
    if meta.duration is not None or meta.bit_rate:
        rate = f", {meta.bit_rate / 1000:.0f} kb/s" if meta.bit_rate else ""
        lines.append(f"  duration    {meta.duration or 0:.3f} s{rate}")
    for s in meta.streams:
        lines.append(f"  {s.kind:<6} #{s.index:<3} {_stream(s)}")
    facts = [
        ("created", meta.creation_time and f"{meta.creation_time}  ({meta.creation_time_note or 'container'})"),
        ("device date", meta.device_creation_date),
        ("make/model", " ".join(x for x in (meta.make, meta.model) if x) or None),
        ("software", meta.software),
        ("encoder", meta.encoder),
        ("location", _location(meta.location)),
        ("handlers", ", ".join(meta.handler_names) or None),
    ]
    if meta.exif:
        ex = meta.exif
        facts += [("EXIF taken", ex.datetime_original and f"{ex.datetime_original} {ex.offset_time or ''}".strip()),
                  ("orientation", str(ex.orientation) if ex.orientation else None)]
    lines += [f"  {k:<11} {v}" for k, v in facts if v]
    box = "full frame" if fp.content_box.is_full else (
        f"borders removed, picture at x {fp.content_box.left:.2f}-{fp.content_box.right:.2f}, "
        f"y {fp.content_box.top:.2f}-{fp.content_box.bottom:.2f}")
    lines += ["", "FRAMES",
              f"  {len(fp.frames)} samples at {fp.params.fps:g} per second; decoded {fp.duration:.2f} s; {box}",
              f"  {len(fp.shots)} shot(s):"]
    for shot in fp.shots[:30]:
        lines.append(f"    #{shot.index + 1:<3} {shot.start:8.2f} - {shot.end:8.2f} s   keyframe at "
                     f"{timestamp_label(shot.keyframe_time).replace('-', ':')}")
    if len(fp.shots) > 30:
        lines.append(f"    ... and {len(fp.shots) - 30} more (see --json)")
    return lines


def _match_lines(n: int, m: Match) -> list[str]:
    lines = [f"  {n}. {m.score * 100:.0f}%  {VERDICTS[m.verdict]}",
             f"     item {m.item_name}  (sha256 {m.sha256})"]
    for seg in m.segments:
        lines.append(f"     query {seg.query_start:7.2f} - {seg.query_end:7.2f} s  =  archive "
                     f"{seg.archive_start:7.2f} - {seg.archive_end:7.2f} s")
    lines.append(f"     covers {m.query_coverage:.0%} of the query and {m.archive_coverage:.0%} of the item; "
                 f"playback speed x{m.speed:.2f} of the original; {m.matched_frames} frames agree "
                 f"(mean PDQ distance {m.mean_distance:.1f}/256)")
    for edit in m.edits:
        lines.append(f"     edit: {edit.name}" + (f" - {edit.details}" if edit.details else ""))
    return lines


def render_text(report: CheckReport) -> str:
    """The report as plain text, sections in the order an investigator reads them."""
    fp = report.fingerprint
    lines = [f"provenance {__version__}: check of {fp.identity.name}, examined {report.examined_at}", ""]
    lines += _fingerprint_lines(fp)
    if report.keyframes:
        lines += ["", "KEYFRAMES", *[f"  {k.path}" for k in report.keyframes]]
        if report.contact_sheet:
            lines.append(f"  contact sheet: {report.contact_sheet}")
    if report.archive is not None:
        lines += ["", f"MATCHES in {report.archive}"]
        if not report.matches:
            lines.append("  none")
        for n, match in enumerate(report.matches, 1):
            lines += _match_lines(n, match)
        if report.appearance:
            lines += ["", "EARLIEST APPEARANCE", f"  {report.appearance.statement}"]
            for sha, s in report.appearance.sightings[:20]:
                where = " ".join(x for x in (s.platform, s.uploader, s.source_url, s.label, s.file_name) if x)
                lines.append(f"    {s.first_seen or 'undated':<25} {sha[:12]}  {where}")
    warnings = list(fp.warnings) + list(report.extra_warnings)
    if warnings:
        lines += ["", "WARNINGS", *[f"  ! {w}" for w in warnings]]
    return "\n".join(lines) + "\n"
