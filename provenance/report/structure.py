"""The text form of a structure report (``provenance check --structure``), for the terminal."""

from __future__ import annotations

from provenance.forensics.selfreport import SelfReport
from provenance.forensics.structure.boxes import Box
from provenance.forensics.structure.model import BoxStructure, Track

MAX_TREE_LINES = 400
TAG_NAMES = {
    "©too": "encoder", "©swr": "software", "©enc": "encoded by", "©cmt": "comment", "©nam": "title",
    "©day": "date", "©xyz": "location", "©mak": "make", "©mod": "model", "©ART": "artist", "©alb": "album",
    "©des": "description", "desc": "description", "cprt": "copyright", "loci": "location (3GPP)",
    "smta": "Samsung metadata", "smrd": "Samsung", "©TIM": "start timecode", "©TSC": "timecode scale",
    "©TSZ": "timecode size",
}


def _bytes(n: int) -> str:
    return f"{n:,} B"


def _s(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f} s"


def _track_lines(t: Track) -> list[str]:
    lines = []
    entries = []
    for e in t.sample_entries:
        bits = [e.format]
        if e.width and e.height:
            bits.append(f"{e.width}x{e.height}")
        if e.channels:
            bits.append(f"{e.channels} ch {e.sample_rate or 0:g} Hz")
        if e.compressor_name:
            bits.append(f"compressor {e.compressor_name!r}")
        if e.vendor:
            bits.append(f"vendor {e.vendor!r}")
        entries.append(" ".join(bits))
    maker = f", manufacturer {t.handler_manufacturer!r}" if t.handler_manufacturer else ""
    lines.append(f"  track {t.track_id:<5} {t.handler_type or '?'} handler {t.handler_name!r}{maker}; "
                 + ("; ".join(entries) or "no sample description"))
    lines.append(f"              tkhd v{t.tkhd_version} created {t.creation_time or '-'} modified "
                 f"{t.modification_time or '-'}, {_s(t.duration_seconds)}"
                 + ("" if t.enabled else ", DISABLED"))
    lines.append(f"              mdhd v{t.mdhd_version} created {t.media_creation_time or '-'} modified "
                 f"{t.media_modification_time or '-'}, timescale {t.timescale}, {_s(t.media_seconds)}, "
                 f"language {t.language or '-'}")
    sync = "all sync" if t.sync_samples is None else f"{t.sync_samples} sync"
    reorder = ", composition offsets (B-frames)" if t.composition_offsets else ""
    lines.append(f"              samples {t.sample_count if t.sample_count is not None else '?'} ({sync}){reorder}, "
                 f"sample table {_s(t.sample_table_seconds)}")
    if t.edits:
        parts = []
        for e in t.edits:
            if e.media_time < 0:
                parts.append(f"empty {_s(e.segment_seconds)}")
            else:
                rate = "" if e.rate == 1 else f" at rate {e.rate:g}"
                parts.append(f"{_s(e.segment_seconds)} from media {_s(e.media_seconds)}{rate}")
        lines.append("              edit list: " + "; ".join(parts))
    if t.data_handler_names:
        lines.append(f"              data handler {', '.join(repr(n) for n in t.data_handler_names)}")
    return lines


def _tree_lines(boxes: tuple[Box, ...], depth: int, out: list[str]) -> None:
    for box in boxes:
        if len(out) >= MAX_TREE_LINES:
            return
        label = box.type if box.type.isprintable() else f"#{int.from_bytes(box.type.encode('latin-1'), 'big')}"
        extra = f" {box.user_type}" if box.user_type else ""
        cut = " TRUNCATED" if box.truncated else ""
        out.append(f"    {'  ' * depth}{label:<6} @{box.offset:<10} {_bytes(box.size)}{extra}{cut}")
        if box.type != "ilst" or depth < 6:
            _tree_lines(box.children, depth + 1, out)


def structure_lines(s: BoxStructure) -> list[str]:
    """The STRUCTURE section: brand, box order, headers, tracks, metadata, XMP, SEI, GOP and the box tree."""
    lines = ["STRUCTURE (ISO BMFF / QuickTime)"]
    if s.file_type is not None:
        ft = s.file_type
        lines.append(f"  brand       {ft.major_brand!r} minor {ft.minor_version}; compatible "
                     f"{' '.join(repr(b) for b in ft.compatible_brands) or '-'}")
    order = " | ".join(f"{b.type}{' (' + b.label + ')' if b.label else ''} {_bytes(b.size)}" for b in s.top_level)
    lines.append(f"  box order   {order}")
    layout = {True: "moov before mdat (faststart)", False: "moov after mdat", None: "-"}[s.faststart]
    lines.append(f"  layout      {layout}{'; fragmented (moof)' if s.fragmented else ''}")
    if s.movie is not None:
        m = s.movie
        lines.append(f"  movie       mvhd v{m.version} created {m.creation_time or '-'} modified "
                     f"{m.modification_time or '-'}, timescale {m.timescale}, {_s(m.seconds)}, "
                     f"next track {m.next_track_id}")
    for track in s.tracks:
        lines += _track_lines(track)
    if s.metadata:
        lines.append("  metadata")
        for item in s.metadata:
            name = f" ({TAG_NAMES[item.key]})" if item.key in TAG_NAMES else ""
            lines.append(f"    {item.source:<12} {item.key}{name} = {item.value}")
    if s.xmp is not None:
        x = s.xmp
        lines.append(f"  XMP         in {x.where}, {_bytes(x.size)}: CreatorTool {x.creator_tool or '-'}; "
                     f"created {x.create_date or '-'}; modified {x.modify_date or '-'}")
        if x.history_agents:
            lines.append(f"              history: {', '.join(x.history_agents)} ({', '.join(x.history_actions)})")
        if x.provenance:
            lines.append(f"              dcterms:provenance {x.provenance}")
    for sei in s.sei:
        who = sei.encoder or f"uuid {sei.uuid}"
        lines.append(f"  SEI         track {sei.track_id} sample {sei.sample}, {who}: {sei.text or '(empty)'}")
    if s.gop is not None:
        g = s.gop
        gop = (f"GOP {g.gop_min}-{g.gop_max} packets (mean {g.gop_mean}), a keyframe every "
               f"{g.keyframe_interval_seconds} s" if g.gop_min is not None else "one GOP")
        lines.append(f"  GOP         {g.packets} packets, {g.keyframes} keyframes; {gop}; "
                     f"{'regular' if g.regular else 'irregular'}; {'B-frames' if g.reordered else 'no reordering'}"
                     f"{'' if g.first_packet_keyframe else '; FIRST PACKET IS NOT A KEYFRAME'}")
    for problem in s.problems:
        lines.append(f"  ! {problem}")
    lines.append("  box tree")
    tree: list[str] = []
    _tree_lines(s.tree, 0, tree)
    lines += tree
    if len(tree) >= MAX_TREE_LINES:
        lines.append(f"    ... (tree cut at {MAX_TREE_LINES} lines; --json has all of it)")
    return lines


def render_structure(report: SelfReport) -> str:
    """The whole structure report as text: structure, last writer, edit indicators, C2PA."""
    lines = [""]
    if report.structure is not None:
        lines += structure_lines(report.structure)
    else:
        lines += ["STRUCTURE", f"  not read: {report.structure_note}"]
    w = report.last_writer
    lines += ["", "LAST WRITER", f"  {w.statement}" + (f"  [rule {w.rule}]" if w.rule else "")]
    lines += [f"    - {e}" for e in w.evidence]
    for enc in w.encoders:
        lines.append(f"  video encoder: {enc.writer}  [rule {enc.rule}]")
        lines += [f"    - {e}" for e in enc.evidence if not e.startswith("SEI user data")]
    if report.structure is not None:
        for sei in report.structure.sei:
            if sei.encoder and " options: " in sei.text:
                lines.append(f"    {sei.encoder} settings: {sei.text.split(' options: ', 1)[1]}")
    for other in w.also:
        lines.append(f"  also matches: {other.writer}  [rule {other.rule}]")
        lines += [f"    - {e}" for e in other.evidence]
    lines += ["", "EDIT INDICATORS"]
    if report.indicators:
        lines += [f"  - {i.title}: {i.detail}" for i in report.indicators]
    else:
        lines.append("  none found in the file's structure (this does not show that it is unedited)")
    c = report.c2pa
    lines += ["", "C2PA (Content Credentials)", f"  {c.statement}"]
    if c.active is not None:
        a = c.active
        lines.append(f"  claim generator {a.claim_generator or '-'}; signer {a.signer or '-'}; signed "
                     f"{a.signed_at or '-'} ({a.algorithm or '-'}); {c.manifests} manifest(s)")
        if a.actions:
            lines.append(f"  actions     {', '.join(a.actions)}")
        for assertion in a.assertions:
            lines.append(f"  assertion   {assertion.label}: {assertion.summary}")
        if a.ingredients:
            lines.append(f"  ingredients {', '.join(a.ingredients)}")
        for failure in c.failures:
            lines.append(f"  ! {failure}")
    return "\n".join(lines) + "\n"
