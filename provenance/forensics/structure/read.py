"""Read the structure of an ISO BMFF / QuickTime file into a ``BoxStructure``.

One walk of the box tree (``boxes.read_tree``), then the boxes that carry provenance are decoded:
``ftyp``; ``mvhd``; per track ``tkhd``, ``mdhd``, ``hdlr``, ``elst``, ``stsd`` and the sample-table
totals; user data (QuickTime text atoms, 3GPP asset boxes, iTunes ``ilst``, QuickTime ``keys``);
XMP; ``uuid`` boxes; the encoder SEI strings of the first video samples; and, through ffprobe, the
GOP statistics. A box that cannot be decoded is recorded in ``problems`` and the rest goes on. The
walk and ffprobe read one open file (a ``MediaSource``), never the name twice.
"""

from __future__ import annotations

import struct

from provenance.forensics.structure import fields
from provenance.forensics.structure.boxes import Box, BoxReader, iter_boxes, read_tree
from provenance.forensics.structure.fields import FieldError
from provenance.forensics.structure.gop import GopError, gop_stats, packet_flags
from provenance.forensics.structure.model import BoxStructure, MetaItem, SampleEntry, SeiString, TopBox, Track, XmpInfo
from provenance.forensics.structure.sei import track_sei
from provenance.media.source import MediaSource, reads_source

MAX_TABLE_READ = 8 * 1024 * 1024  # bytes of one sample table read to total it (stts)
MAX_XMP_READ = 2 * 1024 * 1024


def _read_payload(reader: BoxReader, box: Box, limit: int = fields.MAX_EDITS * 20 + 64) -> bytes:
    return reader.payload(box, limit)


def _stts_seconds(reader: BoxReader, stts: Box, timescale: int,
                  problems: list[str]) -> tuple[float | None, int | None]:
    """(total duration in seconds, duration of the first sample) from 'stts'."""
    data = reader.payload(stts, MAX_TABLE_READ)
    if len(data) < 8:
        return None, None
    (count,) = struct.unpack_from(">I", data, 4)
    if 8 + 8 * count > len(data):
        problems.append(f"'stts' at offset {stts.offset} lists {count:,} entries; only the first "
                        f"{(len(data) - 8) // 8:,} were read")
        count = (len(data) - 8) // 8
    total = sum(n * delta for n, delta in struct.iter_unpack(">II", data[8 : 8 + 8 * count]))
    first = struct.unpack_from(">I", data, 12)[0] if count and len(data) >= 16 else None
    return fields.seconds(total, timescale), first


def _count(reader: BoxReader, box: Box | None, offset: int) -> int | None:
    """A 32-bit count at ``offset`` in the payload of ``box`` (stsz: 8, stss: 4)."""
    if box is None:
        return None
    data = reader.read(box.payload_offset, offset + 4)
    return struct.unpack_from(">I", data, offset)[0] if len(data) >= offset + 4 else None


def _track(reader: BoxReader, trak: Box, movie_timescale: int, problems: list[str]) -> Track | None:
    """One 'trak' decoded; None when it has no readable 'tkhd'."""
    tkhd, mdhd, hdlr = trak.find("tkhd"), trak.find("mdia", "mdhd"), trak.find("mdia", "hdlr")
    if tkhd is None:
        problems.append(f"'trak' at offset {trak.offset} has no 'tkhd'")
        return None
    try:
        version, track_id, created, modified, duration, _flags, width, height, enabled = fields.parse_tkhd(
            _read_payload(reader, tkhd))
        m_version, m_created, m_modified, timescale, m_duration, language = (
            fields.parse_mdhd(_read_payload(reader, mdhd)) if mdhd else (0, None, None, 0, 0, None))
    except FieldError as exc:
        problems.append(f"track at offset {trak.offset}: {exc}")
        return None
    handler_type = handler_name = maker = None
    if hdlr is not None:
        try:
            handler_type, handler_name, maker = fields.parse_hdlr(_read_payload(reader, hdlr, 4096))
        except FieldError as exc:
            problems.append(f"track {track_id}: {exc}")
    data_handlers = []
    minf_hdlr = trak.find("mdia", "minf", "hdlr")
    if minf_hdlr is not None:
        try:
            _, name, _ = fields.parse_hdlr(_read_payload(reader, minf_hdlr, 4096))
            if name:
                data_handlers.append(name)
        except FieldError:
            pass
    edits: tuple = ()
    elst = trak.find("edts", "elst")
    if elst is not None:
        try:
            edits = fields.parse_elst(_read_payload(reader, elst), movie_timescale, timescale)
        except FieldError as exc:
            problems.append(f"track {track_id}: {exc}")
    stbl = trak.find("mdia", "minf", "stbl")
    entries: list[SampleEntry] = []
    sample_count = sync = None
    ctts = False
    table_seconds = first_delta = first_offset = None
    if stbl is not None:
        stsd = stbl.find("stsd")
        for entry in stsd.children if stsd is not None else ():
            entries.append(fields.parse_sample_entry(entry, reader.payload(entry, 256), reader.read))
        sample_count = _count(reader, stbl.find("stsz"), 8)
        sync = _count(reader, stbl.find("stss"), 4)
        ctts_box = stbl.find("ctts")
        ctts = ctts_box is not None
        if ctts_box is not None:
            head = reader.read(ctts_box.payload_offset, 16)
            if len(head) >= 16 and struct.unpack_from(">I", head, 4)[0]:
                version = head[0]
                first_offset = struct.unpack_from(">i" if version == 1 else ">I", head, 12)[0]
        stts = stbl.find("stts")
        if stts is not None:
            table_seconds, first_delta = _stts_seconds(reader, stts, timescale, problems)
    return Track(
        track_id=track_id, handler_type=handler_type, handler_name=handler_name, handler_manufacturer=maker,
        enabled=enabled, tkhd_version=version, creation_time=created, modification_time=modified,
        duration_seconds=fields.seconds(duration, movie_timescale), width=width or None, height=height or None,
        mdhd_version=m_version, media_creation_time=m_created, media_modification_time=m_modified,
        timescale=timescale, media_duration=m_duration, media_seconds=fields.seconds(m_duration, timescale),
        language=language, edits=edits, sample_entries=tuple(entries), sample_count=sample_count,
        sync_samples=sync, composition_offsets=ctts, sample_table_seconds=table_seconds,
        first_sample_delta=first_delta, first_composition_offset=first_offset,
        data_handler_names=tuple(data_handlers),
    )


def _ilst_items(reader: BoxReader, meta: Box, source: str) -> list[MetaItem]:
    """The tag items of a 'meta' box: iTunes-style fourcc items, or QuickTime items keyed through 'keys'."""
    keys_box, ilst = meta.find("keys"), meta.find("ilst")
    names = fields.parse_keys(reader.payload(keys_box, 1024 * 1024)) if keys_box is not None else []
    items: list[MetaItem] = []
    for item in ilst.children if ilst is not None else ():
        index = fields.mdta_index(item.type)
        if index is not None and 1 <= index <= len(names):
            key, where = names[index - 1], "keys"
        else:
            key, where = item.type, source
        if item.type == "----":
            name_box = item.find("name")
            if name_box is not None:
                key = fields.clean_text(reader.payload(name_box, 1024)[4:]) or key
        values = [fields.data_value(reader.payload(d, 64 * 1024)) for d in item.find_all("data")]
        found = fields.meta_item(where, key, " | ".join(v for v in values if v))
        if found is not None:
            items.append(found)
    return items


def _user_data(reader: BoxReader, udta: Box, source: str, xmp: list[XmpInfo]) -> list[MetaItem]:
    """The items of a 'udta' box (QuickTime text atoms, 3GPP boxes, ilst, XMP, vendor atoms)."""
    items: list[MetaItem | None] = []
    for child in udta.children:
        if child.type == "meta":
            items += _ilst_items(reader, child, "ilst")
        elif child.type == "XMP_":
            xmp.append(fields.parse_xmp(f"{source}/XMP_", reader.payload(child, MAX_XMP_READ)))
        elif child.type.startswith("©"):
            items.append(fields.meta_item(source, child.type, fields.quicktime_text(child.type,
                                                                                    reader.payload(child, 64 * 1024))))
        elif child.type == "loci":
            items.append(fields.meta_item("3gpp", "loci", fields.loci_text(reader.payload(child, 4096))))
        elif child.type in fields.THREEGPP_TEXT:
            items.append(fields.meta_item("3gpp", child.type, fields.threegpp_text(reader.payload(child, 64 * 1024))))
        else:
            text = fields.printable_text(reader.payload(child, 512)) if child.payload_size <= 512 else None
            items.append(fields.meta_item(source, child.type, text or f"<{child.payload_size:,} bytes>"))
    return [i for i in items if i is not None]


def _metadata(reader: BoxReader, tree: tuple[Box, ...], xmp: list[XmpInfo]) -> list[MetaItem]:
    moov = next((b for b in tree if b.type == "moov"), None)
    items: list[MetaItem] = []
    if moov is not None:
        for child in moov.children:
            if child.type == "udta":
                items += _user_data(reader, child, "udta", xmp)
            elif child.type == "meta":
                items += _ilst_items(reader, child, "ilst")
        for n, trak in enumerate(moov.find_all("trak"), 1):
            for udta in trak.find_all("udta"):
                items += _user_data(reader, udta, f"trak{n}/udta", xmp)
            meta = trak.find("meta")
            if meta is not None:
                items += _ilst_items(reader, meta, f"trak{n}/ilst")
    for box in tree:
        if box.type == "uuid" and box.user_type in ("be7acfcb-97a9-42e8-9c71-999491e3afac",
                                                     "ffcc8263-f855-4a93-8814-587a02521fdd"):
            xmp.append(fields.parse_xmp("uuid", reader.payload(box, MAX_XMP_READ)))
        elif box.type == "meta":
            xml = box.find("xml ")
            if xml is not None:
                xmp.append(fields.parse_xmp("meta/xml ", reader.payload(xml, MAX_XMP_READ)[4:]))
    return items


def _sei(reader: BoxReader, tree: tuple[Box, ...], tracks: list[tuple[Track, Box]]) -> list[SeiString]:
    """The encoder SEI strings of every H.264 / HEVC video track."""
    found: list[SeiString] = []
    for track, trak in tracks:
        if track.handler_type != "vide" or not track.sample_entries:
            continue
        entry = track.sample_entries[0]
        found += track_sei(reader, tree, trak, track.track_id, entry.format, entry.nal_length_size)
    return found


@reads_source
def read_structure(source: MediaSource, *, gop: bool = True) -> BoxStructure:
    """The box structure of ``source`` (an open MediaSource, or a path) and what its boxes say; it is only read.

    The box walk and the packet scan read the same open file. ``gop=False`` skips the ffprobe packet
    scan. Raises ``UsageError`` / ``UnreadableMediaError`` for bad paths and ``StructureError`` when
    the file is not an ISO BMFF / QuickTime file.
    """
    absolute = source.path
    problems: list[str] = []
    xmp: list[XmpInfo] = []
    with BoxReader(source.fd_path) as reader:
        reader.path = absolute  # messages name the file, not /dev/fd/N
        tree, walk_problems = read_tree(reader)
        problems += walk_problems
        top = tuple(TopBox(b.type, b.offset, b.size, fields.UUID_LABELS.get(b.user_type or "")) for b in tree)
        file_type = None
        ftyp = next((b for b in tree if b.type == "ftyp"), None)
        if ftyp is not None:
            try:
                file_type = fields.parse_ftyp(reader.payload(ftyp, 4096))
            except FieldError as exc:
                problems.append(str(exc))
        types = [b.type for b in tree]
        faststart = types.index("moov") < types.index("mdat") if "moov" in types and "mdat" in types else None
        moov = next((b for b in tree if b.type == "moov"), None)
        movie = None
        tracks: list[tuple[Track, Box]] = []
        if moov is not None:
            mvhd = moov.find("mvhd")
            if mvhd is not None:
                try:
                    movie = fields.parse_mvhd(_read_payload(reader, mvhd))
                except FieldError as exc:
                    problems.append(str(exc))
            for trak in moov.find_all("trak"):
                track = _track(reader, trak, movie.timescale if movie else 0, problems)
                if track is not None:
                    tracks.append((track, trak))
        elif "meta" not in types and any(t in types for t in ("mdat", "moof")):
            problems.append("no 'moov' box: the file cannot be played as it is (an interrupted recording?)")
        metadata = _metadata(reader, tree, xmp)
        sei = _sei(reader, tree, tracks)
    stats = None
    if gop and any(t.handler_type == "vide" for t, _ in tracks):
        try:
            stats = gop_stats(packet_flags(source))
        except GopError as exc:
            problems.append(str(exc))
    return BoxStructure(
        path=absolute, size=reader.size, file_type=file_type, top_level=top, faststart=faststart,
        fragmented=any(b.type in ("moof", "mvex") for b in iter_boxes(tree)), movie=movie,
        tracks=tuple(t for t, _ in tracks),
        metadata=tuple(metadata), xmp=xmp[0] if xmp else None, sei=tuple(sei), gop=stats, tree=tree,
        problems=tuple(problems),
    )
