"""What a file says about itself: its box structure, its most likely last writer, edit indicators, C2PA.

``self_report(path)`` is what ``provenance check --structure`` adds to a check. It reads the file
only (bounded reads, ffprobe for the GOP statistics, c2pa-python offline) and never writes.
Files that are not ISO BMFF / QuickTime (JPEG, Matroska, WebM ...) get no box structure, but
their last writer is still judged from ffprobe's tags and EXIF, and their C2PA manifest is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from provenance.forensics.c2pa import C2paReport, read_c2pa
from provenance.forensics.indicators import Indicator, edit_indicators
from provenance.forensics.lastwriter import LastWriter, collect_facts, last_writer
from provenance.forensics.structure import BoxStructure, StructureError, read_structure
from provenance.media.exif import read_exif
from provenance.media.source import MediaSource, reads_source
from provenance.model import ExifInfo, Metadata

_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"II*\x00", b"MM\x00*")
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif")


@dataclass(frozen=True)
class SelfReport:
    """The structure report of one file."""

    path: str
    structure: BoxStructure | None  # None when the file is not ISO BMFF / QuickTime
    structure_note: str | None  # why there is no structure
    last_writer: LastWriter
    indicators: tuple[Indicator, ...]
    c2pa: C2paReport


def _is_image(source: MediaSource) -> bool:
    head = source.pread(16)
    return head.startswith(_IMAGE_MAGIC) or (head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP")


@reads_source
def self_report(source: MediaSource, metadata: Metadata | None = None, *, gop: bool = True,
                c2pa: bool = True) -> SelfReport:
    """Read the structure of ``source`` (an open MediaSource, or a path opened here once) and judge it;
    ``metadata`` (from ``probe``) adds ffprobe's tags and EXIF.

    Every reader reads that one open file, never the name again, so what is judged is the file that
    was hashed. ``gop=False`` skips the ffprobe packet scan; ``c2pa=False`` skips the C2PA reader.
    """
    absolute = source.path
    structure: BoxStructure | None = None
    note = None
    try:
        structure = read_structure(source, gop=gop)
    except StructureError as exc:
        note = str(exc).replace(f"{source.fd_path}: ", "").replace(f"{absolute}: ", "")
    exif: ExifInfo | None = metadata.exif if metadata is not None else None
    if exif is None and _is_image(source):
        exif = read_exif(source.fd_path)
    credentials = read_c2pa(source) if c2pa else C2paReport("not checked", "C2PA not checked")
    facts = collect_facts(structure, metadata, exif, credentials, source.fd_path)
    writer = last_writer(facts)
    indicators = edit_indicators(structure, facts, writer, credentials, exif)
    return SelfReport(absolute, structure, note, writer, indicators, credentials)
