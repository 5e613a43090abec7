"""Encoder strings from the H.264 / HEVC bitstream: user_data_unregistered SEI messages.

Encoders such as x264 and x265 write their name, version and full settings into an SEI message
(H.264 NAL type 6, HEVC types 39/40, payload type 5) in the first access unit. The first few
video samples are found through the sample tables (``stco``/``co64``, ``stsc``, ``stsz``) or, in a
fragmented file, the first ``trun``; each is read only up to ``MAX_SAMPLE_READ`` bytes, since the
SEI messages come before the first slice of the picture.
"""

from __future__ import annotations

import re
import struct

from provenance.forensics.structure.boxes import Box, BoxReader
from provenance.forensics.structure.model import SeiString

MAX_SAMPLES = 3
MAX_SAMPLE_READ = 256 * 1024
MAX_TEXT = 4_000
KNOWN_UUIDS = {
    "dc45e9bd-e6d9-48b7-962c-d820d923eeef": "x264",
    "2ca2de09-b517-47db-bb55-a4fe7fc2fc4e": "x265",
}
H264_FORMATS = frozenset({"avc1", "avc2", "avc3", "avc4"})
HEVC_FORMATS = frozenset({"hvc1", "hev1", "dvh1", "dvhe"})
_EMULATION = re.compile(b"\x00\x00\x03")


def _u32(data: bytes, offset: int) -> int | None:
    return struct.unpack_from(">I", data, offset)[0] if offset + 4 <= len(data) else None


def _sample_table_ranges(reader: BoxReader, stbl: Box) -> list[tuple[int, int]]:
    """(offset, size) of the first samples from the sample tables; [] when they are empty or absent."""
    chunk = stbl.find("stco") or stbl.find("co64")
    stsc, stsz = stbl.find("stsc"), stbl.find("stsz")
    if chunk is None or stsc is None or stsz is None:
        return []
    head = reader.read(chunk.payload_offset, 16)
    count = _u32(head, 4)
    if not count:
        return []
    first = struct.unpack_from(">Q", head, 8)[0] if chunk.type == "co64" and len(head) >= 16 else _u32(head, 8)
    per_chunk = _u32(reader.read(stsc.payload_offset, 16), 12) or 1
    sizes_head = reader.read(stsz.payload_offset, 12 + 4 * MAX_SAMPLES)
    constant, total = _u32(sizes_head, 4), _u32(sizes_head, 8)
    if first is None or total is None or constant is None:
        return []
    wanted = min(MAX_SAMPLES, per_chunk, total)
    sizes = [constant] * wanted if constant else [_u32(sizes_head, 12 + 4 * i) or 0 for i in range(wanted)]
    ranges, pos = [], first
    for size in sizes:
        ranges.append((pos, size))
        pos += size
    return ranges


def _fragment_ranges(reader: BoxReader, tree: tuple[Box, ...], track_id: int) -> list[tuple[int, int]]:
    """(offset, size) of the first samples of ``track_id`` in the first movie fragment that has it."""
    for moof in (b for b in tree if b.type == "moof"):
        for traf in moof.find_all("traf"):
            tfhd, trun = traf.find("tfhd"), traf.find("trun")
            if tfhd is None or trun is None:
                continue
            th = reader.read(tfhd.payload_offset, min(tfhd.payload_size, 40))
            if _u32(th, 4) != track_id:
                continue
            flags = (_u32(th, 0) or 0) & 0xFFFFFF
            pos, base, default_size = 8, moof.offset, None
            if flags & 0x1:
                base = struct.unpack_from(">Q", th, pos)[0] if pos + 8 <= len(th) else base
                pos += 8
            pos += 4 if flags & 0x2 else 0
            pos += 4 if flags & 0x8 else 0
            if flags & 0x10:
                default_size = _u32(th, pos)
            tr = reader.read(trun.payload_offset, min(trun.payload_size, 8 + 8 + 16 * MAX_SAMPLES))
            tflags, count = (_u32(tr, 0) or 0) & 0xFFFFFF, _u32(tr, 4) or 0
            pos = 8
            offset = 0
            if tflags & 0x1:
                offset = struct.unpack_from(">i", tr, pos)[0] if pos + 4 <= len(tr) else 0
                pos += 4
            pos += 4 if tflags & 0x4 else 0
            per_entry = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if tflags & bit)
            sizes = []
            for i in range(min(count, MAX_SAMPLES)):
                entry = pos + i * per_entry + (4 if tflags & 0x100 else 0)
                size = _u32(tr, entry) if tflags & 0x200 else default_size
                sizes.append(size or MAX_SAMPLE_READ)
            ranges, at = [], base + offset
            for size in sizes:
                ranges.append((at, size))
                at += size
            return ranges
    return []


def _rbsp(nal_payload: bytes) -> bytes:
    """The payload without emulation-prevention bytes (00 00 03 -> 00 00)."""
    return _EMULATION.sub(b"\x00\x00", nal_payload)


def _sei_messages(rbsp: bytes) -> list[tuple[int, bytes]]:
    """(payload type, payload) of each SEI message in an SEI RBSP."""
    messages = []
    pos = 0
    while pos < len(rbsp) and not (rbsp[pos] == 0x80 and pos == len(rbsp) - 1):
        values = []
        for _ in range(2):  # payloadType, then payloadSize: runs of 0xFF plus a last byte
            value = 0
            while pos < len(rbsp) and rbsp[pos] == 0xFF:
                value += 255
                pos += 1
            if pos >= len(rbsp):
                return messages
            value += rbsp[pos]
            pos += 1
            values.append(value)
        ptype, psize = values
        if pos + psize > len(rbsp):
            messages.append((ptype, rbsp[pos:]))
            break
        messages.append((ptype, rbsp[pos : pos + psize]))
        pos += psize
    return messages


def _text(payload: bytes) -> str:
    """The user data as text: printable characters kept, the rest escaped; cut at ``MAX_TEXT``."""
    body = payload.rstrip(b"\0")
    out = []
    for b in body[: MAX_TEXT * 2]:
        out.append(chr(b) if 0x20 <= b < 0x7F or b in (0x09, 0x0A) else f"\\x{b:02x}")
    return "".join(out)[:MAX_TEXT].strip()


def _uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def sei_from_sample(data: bytes, nal_length: int, hevc: bool, track_id: int, sample: int) -> list[SeiString]:
    """The user_data_unregistered messages of the length-prefixed NAL units of one sample."""
    found = []
    pos = 0
    while pos + nal_length <= len(data):
        size = int.from_bytes(data[pos : pos + nal_length], "big")
        pos += nal_length
        if size == 0:
            break
        nal = data[pos : pos + size]
        pos += size
        if not nal:
            break
        if hevc:
            nal_type, header = (nal[0] >> 1) & 0x3F, 2
            is_sei, is_slice = nal_type in (39, 40), nal_type < 32
        else:
            nal_type, header = nal[0] & 0x1F, 1
            is_sei, is_slice = nal_type == 6, 1 <= nal_type <= 5
        if is_slice:
            break  # prefix SEI messages precede the first slice of the access unit
        if not is_sei:
            continue
        for ptype, payload in _sei_messages(_rbsp(nal[header:])):
            if ptype == 5 and len(payload) >= 16:
                uuid = _uuid_text(payload[:16])
                found.append(SeiString(track_id, sample, uuid, KNOWN_UUIDS.get(uuid), _text(payload[16:])))
    return found


def sei_from_hvcc(config: bytes, track_id: int) -> list[SeiString]:
    """SEI messages stored with the parameter sets in an 'hvcC' box (x265 puts its settings there)."""
    found: list[SeiString] = []
    if len(config) < 23:
        return found
    pos = 23
    for _ in range(config[22]):
        if pos + 3 > len(config):
            break
        nal_type, count = config[pos] & 0x3F, struct.unpack_from(">H", config, pos + 1)[0]
        pos += 3
        for _ in range(count):
            if pos + 2 > len(config):
                return found
            size = struct.unpack_from(">H", config, pos)[0]
            nal = config[pos + 2 : pos + 2 + size]
            pos += 2 + size
            if nal_type in (39, 40):
                for ptype, payload in _sei_messages(_rbsp(nal[2:])):
                    if ptype == 5 and len(payload) >= 16:
                        uuid = _uuid_text(payload[:16])
                        found.append(SeiString(track_id, -1, uuid, KNOWN_UUIDS.get(uuid), _text(payload[16:])))
    return found


def track_sei(reader: BoxReader, tree: tuple[Box, ...], trak: Box, track_id: int, sample_format: str,
              nal_length: int | None) -> list[SeiString]:
    """The user_data_unregistered SEI strings of the first samples of one H.264 / HEVC track.

    For HEVC, the SEI messages stored with the parameter sets in 'hvcC' come first (sample -1).
    """
    if sample_format not in H264_FORMATS and sample_format not in HEVC_FORMATS:
        return []
    found: list[SeiString] = []
    hvcc = trak.find("mdia", "minf", "stbl", "stsd", sample_format, "hvcC")
    if hvcc is not None:
        found += sei_from_hvcc(reader.read(hvcc.payload_offset, min(hvcc.payload_size, 1024 * 1024)), track_id)
    stbl = trak.find("mdia", "minf", "stbl")
    ranges = _sample_table_ranges(reader, stbl) if stbl is not None else []
    if not ranges:
        ranges = _fragment_ranges(reader, tree, track_id)
    for n, (offset, size) in enumerate(ranges):
        data = reader.read(offset, min(size, MAX_SAMPLE_READ))
        found += sei_from_sample(data, nal_length or 4, sample_format in HEVC_FORMATS, track_id, n)
    unique: dict[tuple[str, str], SeiString] = {}
    for s in found:
        unique.setdefault((s.uuid, s.text), s)
    return list(unique.values())
