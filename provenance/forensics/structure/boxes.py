"""The box tree of an ISO BMFF / QuickTime file (MP4, MOV, 3GP, M4A, HEIC), read with bounded reads.

The file is opened read-only and read with ``seek`` + ``read`` of at most ``MAX_READ`` bytes at a
time: box headers are a few bytes each, and only the boxes whose fields we decode (``moov`` and
its small children) are read in full. ``mdat`` payloads are never loaded.

Malformed files are expected (they are evidence too). The walk guards against them:

* a size smaller than its header, or a type that is not a four-character code, stops the walk of
  that level and is recorded as a problem;
* a box that claims more bytes than its parent (or the file) holds is marked ``truncated`` and its
  children are read only as far as the data goes;
* nesting deeper than ``MAX_DEPTH`` and more than ``MAX_BOXES`` boxes stop the walk;
* every box advances the position by at least its header, so the walk always ends.

A file whose first bytes are not a box at all raises ``StructureError``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from provenance.errors import UnreadableMediaError

MAX_READ = 64 * 1024 * 1024
"""Largest single read (bytes): a ``moov`` of several hours of video stays well under it."""
MAX_DEPTH = 24
MAX_BOXES = 100_000

# Boxes that hold only other boxes (after a fixed preamble of ``CONTAINERS[type]`` bytes).
CONTAINERS: dict[str, int] = {
    "moov": 0, "trak": 0, "mdia": 0, "minf": 0, "stbl": 0, "dinf": 0, "edts": 0, "udta": 0, "mvex": 0,
    "moof": 0, "traf": 0, "mfra": 0, "tref": 0, "sinf": 0, "schi": 0, "ipro": 4, "iprp": 0, "ipco": 0,
    "gmhd": 0, "tapt": 0, "wave": 0, "ilst": 0, "stsd": 8, "dref": 8, "iref": 4, "grpl": 0, "meco": 0,
    "strk": 0, "clip": 0, "matt": 0, "rinf": 0, "srpp": 4,
}
# Sample entries: a fixed header, then child boxes (avcC, hvcC, esds, colr, pasp, btrt ...).
VISUAL_ENTRIES = frozenset({"avc1", "avc2", "avc3", "avc4", "hvc1", "hev1", "dvh1", "dvhe", "mp4v", "av01", "vp08",
                            "vp09", "encv", "jpeg", "mjpa", "mjpb", "apch", "apcn", "apcs", "apco", "ap4h", "ap4x",
                            "s263", "h263", "dvc ", "dvcp", "dvpp", "dv5n", "dv5p", "hvt1", "vvc1", "vvi1"})
AUDIO_ENTRIES = frozenset({"mp4a", "enca", "ac-3", "ec-3", "ac-4", "Opus", "fLaC", "alac", "lpcm", "sowt", "twos",
                           "samr", "sawb", "ulaw", "alaw", "ima4", ".mp3", "mha1", "mhm1", "in24", "in32", "fl32",
                           "fl64", "raw ", "dtsc", "dtsh", "dtsl", "dtse"})
VISUAL_PREAMBLE = 78
AUDIO_PREAMBLE = {0: 28, 1: 44, 2: 64}  # by the QuickTime sound description version
TOP_LEVEL_TYPES = frozenset({"ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "uuid", "styp", "sidx", "moof",
                             "meta", "jP  ", "PICT", "pdin", "mfra", "emsg", "prft", "beam", "loop", "junk"})


class StructureError(UnreadableMediaError):
    """The file is not an ISO BMFF / QuickTime file, or cannot be read at all."""


@dataclass(frozen=True)
class Box:
    """One box: its four-character type, where it is, how big it says it is, and its children."""

    type: str  # the four bytes as Latin-1 text ('©too' for 0xA9 'too'); an index for keyed 'ilst' items
    offset: int  # of the box header in the file
    size: int  # the whole box as declared (header included); 0-sized boxes are given their real extent
    header_size: int  # 8, or 16 with a 64-bit size; +16 for the user type of a 'uuid' box
    children: tuple[Box, ...] = ()
    user_type: str | None = None  # a 'uuid' box's 16-byte extended type, as 8-4-4-4-12 hex
    truncated: bool = False  # the declared size runs past the parent or the end of the file

    @property
    def payload_offset(self) -> int:
        """Where the box's content starts."""
        return self.offset + self.header_size

    @property
    def payload_size(self) -> int:
        """Bytes of content as declared (may exceed what the file holds when ``truncated``)."""
        return self.size - self.header_size

    @property
    def end(self) -> int:
        """The offset just after the box, as declared."""
        return self.offset + self.size

    def find(self, *path: str) -> Box | None:
        """The first descendant along ``path`` of box types, or None."""
        box: Box | None = self
        for step in path:
            box = next((c for c in box.children if c.type == step), None) if box else None
        return box

    def find_all(self, box_type: str) -> tuple[Box, ...]:
        """The direct children of type ``box_type``."""
        return tuple(c for c in self.children if c.type == box_type)


def fourcc(raw: bytes) -> str:
    """Four bytes as text: Latin-1, so 0xA9 reads as '©' like QuickTime's own atom names."""
    return raw.decode("latin-1")


def _is_fourcc(raw: bytes) -> bool:
    """True when the type is printable (ASCII or ©), as every registered and vendor box type is."""
    return all(0x20 <= b < 0x7F or b == 0xA9 for b in raw)


def _uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class BoxReader:
    """Bounded, read-only access to a file for the box walk. Use as a context manager."""

    def __init__(self, path: str) -> None:
        """Open ``path`` read-only."""
        self.path = path
        try:
            self._handle: BinaryIO = open(path, "rb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise StructureError(f"cannot open {path}: {exc.strerror or exc}") from None
        self.size = os.fstat(self._handle.fileno()).st_size

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the file); never more than MAX_READ."""
        if offset < 0 or length < 0:
            raise StructureError(f"{self.path}: internal: bad read of {length} bytes at {offset}")
        length = min(length, MAX_READ, max(0, self.size - offset))
        if length == 0:
            return b""
        self._handle.seek(offset)
        return self._handle.read(length)

    def payload(self, box: Box, limit: int = MAX_READ) -> bytes:
        """The content of ``box``, at most ``limit`` bytes (and never past the end of the file)."""
        return self.read(box.payload_offset, min(box.payload_size, limit))

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> BoxReader:
        """Return the reader."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the file."""
        self.close()


@dataclass
class _Walk:
    """Mutable state of one walk: how many boxes so far, and what went wrong where."""

    reader: BoxReader
    count: int = 0
    problems: list[str] | None = None

    def problem(self, text: str) -> None:
        assert self.problems is not None
        if text not in self.problems:
            self.problems.append(text)


def _preamble(walk: _Walk, box_type: str, parent: str, payload_offset: int, end: int) -> int | None:
    """Bytes before the first child box of ``box_type``, or None when it holds no boxes."""
    if parent == "stsd" and box_type in VISUAL_ENTRIES:
        return VISUAL_PREAMBLE
    if parent == "stsd" and box_type in AUDIO_ENTRIES:
        version = struct.unpack(">H", walk.reader.read(payload_offset + 8, 2).ljust(2, b"\0"))[0]
        return AUDIO_PREAMBLE.get(version)
    if parent == "ilst":
        return 0  # every tag item holds 'data' (and, for '----', 'mean' and 'name') boxes
    if box_type == "meta":
        # ISO 'meta' is a full box (4 bytes of version and flags); QuickTime's starts with 'hdlr' at once
        head = walk.reader.read(payload_offset, 8)
        return 0 if head[4:8] in (b"hdlr", b"keys", b"ilst") else 4
    if box_type == "iinf":
        version = walk.reader.read(payload_offset, 1)
        return 6 if version == b"\0" else 8
    if box_type == "udta" and parent == "meta":
        return None
    return CONTAINERS.get(box_type)


def _walk(walk: _Walk, start: int, end: int, depth: int, parent: str) -> tuple[Box, ...]:
    """The boxes between ``start`` and ``end`` (and, recursively, their children)."""
    reader = walk.reader
    boxes: list[Box] = []
    pos = start
    while pos < end:
        if walk.count >= MAX_BOXES:
            walk.problem(f"more than {MAX_BOXES} boxes: the walk stopped at offset {pos}")
            break
        remaining = end - pos
        if remaining < 8:
            tail = reader.read(pos, remaining)
            if tail.strip(b"\0"):
                walk.problem(f"{remaining} stray bytes at offset {pos} (inside '{parent or 'file'}')")
            break
        head = reader.read(pos, 16)
        if len(head) < 8:
            walk.problem(f"the file ends at offset {reader.size}, inside a box header at {pos}")
            break
        size, raw_type = struct.unpack(">I4s", head[:8])
        if size == 0 and raw_type == b"\0\0\0\0":
            if head[8:].strip(b"\0") or reader.read(pos, min(remaining, 64)).strip(b"\0"):
                walk.problem(f"zero bytes where a box should start at offset {pos} (inside '{parent or 'file'}')")
            break  # QuickTime ends some atom lists with a 32-bit zero terminator
        if raw_type == b"\0\0\0\0" and size == 8:
            break  # QuickTime's terminator atom (ends 'wave' and some user data lists)
        if parent != "ilst" and not _is_fourcc(raw_type):
            walk.problem(f"not a box at offset {pos} (type bytes {raw_type.hex()}, inside '{parent or 'file'}'): "
                         "the rest of this level was not read")
            break
        box_type = fourcc(raw_type)
        header = 8
        if size == 1:
            if len(head) < 16:
                walk.problem(f"the file ends inside the 64-bit size of '{box_type}' at offset {pos}")
                break
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = end - pos  # "extends to the end of the enclosing box (or file)"
        user_type = None
        if box_type == "uuid":
            ext = reader.read(pos + header, 16)
            if len(ext) == 16:
                user_type = _uuid_text(ext)
                header += 16
        if size < header:
            walk.problem(f"'{box_type}' at offset {pos} declares {size} bytes, less than its own {header}-byte "
                         "header: the rest of this level was not read")
            break
        truncated = pos + size > end
        if truncated:
            where = "the end of the file" if not parent else f"the end of its parent '{parent}'"
            walk.problem(f"'{box_type}' at offset {pos} declares {size:,} bytes but only {end - pos:,} remain before "
                         f"{where}: the file is truncated or the box is damaged")
        walk.count += 1
        children: tuple[Box, ...] = ()
        inner_end = min(pos + size, end)
        preamble = _preamble(walk, box_type, parent, pos + header, inner_end)
        if preamble is not None and box_type != "mdat":
            if depth + 1 > MAX_DEPTH:
                walk.problem(f"boxes nested deeper than {MAX_DEPTH} at offset {pos}: not read further")
            else:
                children = _walk(walk, pos + header + preamble, inner_end, depth + 1, box_type)
        boxes.append(Box(box_type, pos, size, header, children, user_type, truncated))
        if truncated:
            break
        pos += size
    return tuple(boxes)


def read_tree(reader: BoxReader) -> tuple[tuple[Box, ...], tuple[str, ...]]:
    """The top-level boxes of the file (with their descendants) and the problems met on the way.

    Raises ``StructureError`` when the file does not start with a box of an ISO BMFF / QuickTime file.
    """
    head = reader.read(0, 16)
    if len(head) < 8:
        raise StructureError(f"{reader.path}: {reader.size} bytes is too short for an ISO BMFF / QuickTime file")
    size, raw_type = struct.unpack(">I4s", head[:8])
    if not _is_fourcc(raw_type) or fourcc(raw_type) not in TOP_LEVEL_TYPES or (1 < size < 8):
        raise StructureError(
            f"{reader.path}: not an ISO BMFF / QuickTime file (MP4, MOV, 3GP, M4A, HEIC): it starts with "
            f"{head[:8].hex()} rather than a box such as 'ftyp' or 'moov'"
        )
    walk = _Walk(reader, problems=[])
    boxes = _walk(walk, 0, reader.size, 0, "")
    return boxes, tuple(walk.problems or ())


def iter_boxes(boxes: tuple[Box, ...]) -> Iterator[Box]:
    """Every box of the tree, depth first, in file order."""
    for box in boxes:
        yield box
        yield from iter_boxes(box.children)
