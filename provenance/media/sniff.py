"""What the first bytes of a file say it is: a video container, a picture format, or something else.

``sniff`` is how triage tells media by content and how the web archive importer tells a video or
picture payload from a page, whatever its Content-Type says.
"""

from __future__ import annotations

_FTYP_AUDIO = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
_FTYP_IMAGE = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")
_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)


def sniff(head: bytes) -> tuple[str, bool]:
    """What the first bytes of a file are: (a type name, whether it is video or picture media).

    An unrecognised header gives ("", False).
    """
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_AUDIO:
            return "audio/mp4", False
        if brand in _FTYP_IMAGE:
            return "image/heif", True
        return ("video/quicktime" if brand == b"qt  " else "video/mp4"), True
    if head[4:8] in _QT_ATOMS:
        return "video/quicktime", True
    signatures: tuple[tuple[bytes, str, bool], ...] = (
        (b"\xff\xd8\xff", "image/jpeg", True),
        (b"\x89PNG\r\n\x1a\n", "image/png", True),
        (b"GIF87a", "image/gif", True),
        (b"GIF89a", "image/gif", True),
        (b"II*\x00", "image/tiff", True),
        (b"MM\x00*", "image/tiff", True),
        (b"\x1a\x45\xdf\xa3", "video/x-matroska", True),
        (b"FLV\x01", "video/x-flv", True),
        (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "video/x-ms-asf", True),
        (b"\x00\x00\x01\xba", "video/mpeg", True),
        (b"\x00\x00\x01\xb3", "video/mpeg", True),
        (b"\x00\x00\x00\x01\x67", "video/h264", True),
        (b"OggS", "application/ogg", True),  # Theora or audio: decoding tells
        (b"ID3", "audio/mpeg", False),
        (b"fLaC", "audio/flac", False),
        (b"%PDF", "application/pdf", False),
        (b"PK\x03\x04", "application/zip", False),
        (b"\x1f\x8b", "application/gzip", False),
        (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed", False),
        (b"SQLite format 3\x00", "application/x-sqlite3", False),
        (b"\x7fELF", "application/x-executable", False),
    )
    for magic, name, media in signatures:
        if head.startswith(magic):
            return name, media
    if head[:4] == b"RIFF":
        kind = head[8:12]
        if kind == b"AVI ":
            return "video/x-msvideo", True
        if kind == b"WEBP":
            return "image/webp", True
        if kind == b"WAVE":
            return "audio/wav", False
        return "application/riff", False
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "video/mp2t", True
    if head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "image/bmp", True
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg", False
    return "", False
