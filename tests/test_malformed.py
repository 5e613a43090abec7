"""Malformed input: hundreds of bad files made from generated samples, through every command that reads media.

The samples are seven tiny files made with ffmpeg's lavfi sources (1 s of testsrc2 at 64x48 as MP4 with
AAC and moov last, as MP4 with moov first, as fragmented MP4; a JPEG, a PNG and a GIF frame; 1 s of
mandelbrot as MP4); every bad input is made from them here, reproducibly (seeded), into a
per-process temporary folder:

==============  =====  ==========================================================================
kind            count  what
==============  =====  ==========================================================================
``truncated``     90   each sample cut: inside the first headers, on box boundaries, spread over it
``bitflip``       50   one bit flipped (half of them inside the MP4s' moov)
``zeroed``        29   the file start, box headers, whole index boxes, SOF/DQT/IHDR overwritten by zeros
``swapped``       11   good content under another extension (an MP4 named .jpg, a JPEG named .mp4...)
``tiny``          20   0 bytes, 1 byte, the first 2-11 bytes, SOI+EOI, a lone PNG signature or ftyp
``dimensions``    16   tkhd/avc1 claiming 65535x65535 or 0x0, PNG IHDR 100000x100000, JPEG SOF 65535x65535
``boxes``         50   sizes past the file, 0 and 1 (64-bit) tricks, boxes larger than their parent,
                       2000-deep nesting, 120000 boxes, table counts of 2^32-1, offsets out of the file
``special``       12   a FIFO, links to /dev/zero, /dev/null, /dev/urandom, /dev/stdin (fed by a real
                       pipe), a link loop, a dangling link, a folder named .mp4, FIFO and /dev/zero sidecars
``names``         24   good files named %d, img%03d, pipe:, concat:, file:, -dash, --help, -i, non-UTF-8
                       bytes, newline, CR, tab, 254 characters (its .info.json name is too long), $(...)
``sidecars``       9   good new media whose yt-dlp .info.json is nested 100000 deep, holds a lone
                       surrogate, a 401-digit timestamp, NaN, non-UTF-8 bytes, nothing, a playlist...
``total``        311
==============  =====  ==========================================================================

How they are run, to stay within a few minutes on 2 cores (``pytest -n 2``):

* ``triage --add-new``: once, of the whole tree, against an archive of the good samples (a real process);
* ``archive add``: once per kind, of all its files (each failure is recorded per file);
* ``check --structure`` on every input (text and ``--json`` in turn), and a plain ``check --keyframes``
  on every sixth, in-process through click's CliRunner; ``read_structure`` directly on each too (``check``
  stops at ffprobe's refusal, before the box reader);
* hostile names: ``check --json``, ``check --structure`` and ``archive add`` each, given relative to
  their folder exactly as named (non-UTF-8 ones as raw bytes, in a real process), and compared with the
  same content under a plain name; special files: each through ``check`` in a real process with a
  timeout (a blocked read fails the test instead of hanging it), and one ``archive add`` of them all.

Every call must end with a documented exit code that the command's help promises for bad input, no
traceback, at most a one-line ``provenance: error:`` message; the evidence (bytes, mode, mtime of
every entry) and the input folders' listings are the same before and after, and nothing is written
into the working folder. ``KNOWN_DEFECTS`` lists the inputs that fail in code other engineers own:
they are left out of the batches and run as strict xfails (``test_known_defect``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import re
import stat
import struct
import subprocess
import sys
import traceback
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT, run_ffmpeg

from provenance.cli.app import cli
from provenance.errors import EXIT_CODES, ProvenanceError
from provenance.forensics.structure.read import read_structure

KINDS = ("truncated", "bitflip", "zeroed", "swapped", "tiny", "dimensions", "boxes", "special", "names", "sidecars")


@dataclass(frozen=True)
class BadInput:
    """One bad input: where it goes (``kind/name``), what was done to it, and its bytes or special form."""

    kind: str
    name: str  # the file name; non-UTF-8 names are given with surrogate escapes (os.fsdecode)
    what: str
    data: bytes | None = None
    special: str | None = None  # fifo, link:<target>, dir, or None for a regular file
    content_of: str | None = None  # for hostile names: which sample's bytes the file holds
    sidecar: bytes | None = None  # a yt-dlp NAME.info.json written beside it


# ---------------------------------------------------------------------------------------------- samples


def make_samples(folder: Path) -> dict[str, bytes]:
    """The good samples every bad input is made from: tiny lavfi clips and stills, made with ffmpeg."""
    src = "testsrc2=size=64x48:rate=10"
    video = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "5", "-threads", "1"]
    jobs = {
        "clip.mp4": ["-f", "lavfi", "-i", src, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000",
                     "-t", "1", *video, "-c:a", "aac", "-shortest"],
        "fast.mp4": ["-f", "lavfi", "-i", src, "-t", "1", *video, "-movflags", "+faststart"],
        "frag.mp4": ["-f", "lavfi", "-i", src, "-t", "1", *video, "-movflags", "frag_keyframe+empty_moov"],
        "still.jpg": ["-f", "lavfi", "-i", src, "-frames:v", "1"],
        "still.png": ["-f", "lavfi", "-i", src, "-frames:v", "1"],
        "still.gif": ["-f", "lavfi", "-i", src, "-frames:v", "1"],
        "new.mp4": ["-f", "lavfi", "-i", "mandelbrot=size=64x48:rate=10", "-t", "1", *video],  # not archived
    }
    out = {}
    for name, args in jobs.items():
        path = folder / name
        if not path.exists():
            run_ffmpeg(*args, str(path))
        out[name] = path.read_bytes()
    return out


# ---------------------------------------------------------------------------------------------- box surgery

CONTAINER_PREAMBLE = {b"moov": 0, b"trak": 0, b"mdia": 0, b"minf": 0, b"stbl": 0, b"edts": 0, b"udta": 0,
                      b"dinf": 0, b"mvex": 0, b"moof": 0, b"traf": 0, b"stsd": 8, b"avc1": 78}


def box(kind: bytes, payload: bytes = b"") -> bytes:
    """One box: 32-bit size, type, payload."""
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def find_box(data: bytes, *path: bytes) -> tuple[int, int]:
    """(offset, size) of the first box along ``path`` of types, walking the well-formed sample."""
    start, end = 0, len(data)
    found = (0, 0)
    for step in path:
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack_from(">I4s", data, pos)
            if kind == step:
                break
            pos += size
        else:
            raise KeyError(f"no {step!r} along {path!r}")
        found = (pos, size)
        start, end = pos + 8 + CONTAINER_PREAMBLE.get(step, 0), pos + size
    return found


def patch(data: bytes, offset: int, raw: bytes) -> bytes:
    """``data`` with ``raw`` written over it at ``offset``."""
    return data[:offset] + raw + data[offset + len(raw):]


def payload_at(data: bytes, *path: bytes) -> int:
    """Offset of the payload of the box along ``path``."""
    return find_box(data, *path)[0] + 8


TRAK_STBL = (b"moov", b"trak", b"mdia", b"minf", b"stbl")


# ---------------------------------------------------------------------------------------------- kinds


def truncations(samples: dict[str, bytes]) -> list[BadInput]:
    """Each sample cut at many offsets: inside headers, on box boundaries, and spread over the file."""
    found = []
    for sample, count in (("clip.mp4", 14), ("fast.mp4", 8), ("frag.mp4", 6), ("still.jpg", 6),
                          ("still.png", 4), ("still.gif", 3)):
        data = samples[sample]
        offsets = {1, 4, 9, 33}
        if sample.endswith(".mp4"):
            pos = 0
            for _ in range(4):  # just inside each of the first top-level boxes, and just before its end
                if pos + 8 > len(data):
                    break
                size = struct.unpack_from(">I", data, pos)[0]
                offsets |= {pos + 4, pos + 12, pos + size - 1}
                pos += max(size, 8)
        offsets |= {len(data) * k // count for k in range(1, count)}
        stem, ext = sample.rsplit(".", 1)
        for offset in sorted(o for o in offsets if 0 < o < len(data)):
            found.append(BadInput("truncated", f"{stem}-cut{offset:06d}.{ext}",
                                  f"{sample} cut to its first {offset} bytes", data[:offset]))
    return found


def bitflips(samples: dict[str, bytes]) -> list[BadInput]:
    """Single bits flipped (seeded, reproducible), half of them in the box index of the MP4s."""
    rng = random.Random(20240301)
    found = []
    for sample, count in (("clip.mp4", 20), ("fast.mp4", 8), ("frag.mp4", 6), ("still.jpg", 8),
                          ("still.png", 5), ("still.gif", 3)):
        data = samples[sample]
        lo, hi = 0, len(data)
        if sample.endswith(".mp4"):
            lo, size = find_box(data, b"moov")
            hi = lo + size
        stem, ext = sample.rsplit(".", 1)
        for n in range(count):
            offset = rng.randrange(lo, hi) if n % 2 == 0 else rng.randrange(0, len(data))
            bit = rng.randrange(8)
            flipped = patch(data, offset, bytes([data[offset] ^ (1 << bit)]))
            found.append(BadInput("bitflip", f"{stem}-flip{offset:06d}b{bit}.{ext}",
                                  f"{sample} with bit {bit} of byte {offset} flipped", flipped))
    return found


def zeroed(samples: dict[str, bytes]) -> list[BadInput]:
    """Headers overwritten with zero bytes: the file start, box headers, whole index boxes, image headers."""
    clip, fast, jpg, png, gif = (samples[k] for k in ("clip.mp4", "fast.mp4", "still.jpg", "still.png",
                                                      "still.gif"))
    found = []

    def add(name: str, what: str, data: bytes, offset: int, length: int) -> None:
        found.append(BadInput("zeroed", name, what, patch(data, offset, bytes(length))))

    for n in (4, 8, 16, 32, 64, 512):
        add(f"clip-zero-first{n}.mp4", f"clip.mp4 with its first {n} bytes zeroed", clip, 0, n)
    for path in ((b"moov",), (b"mdat",), (b"moov", b"mvhd"), (b"moov", b"trak"), (b"moov", b"trak", b"tkhd"),
                 (b"moov", b"trak", b"mdia"), (*TRAK_STBL, b"stsd"), (*TRAK_STBL, b"stsz"), (*TRAK_STBL, b"stco")):
        offset, size = find_box(clip, *path)
        label = "-".join(p.decode() for p in path)
        add(f"clip-zero-head-{label}.mp4", f"clip.mp4 with the 8-byte header of {label} zeroed", clip, offset, 8)
    for path in ((b"moov", b"mvhd"), (*TRAK_STBL, b"stsd"), (*TRAK_STBL, b"stsz"), (*TRAK_STBL, b"stsc")):
        offset, size = find_box(clip, *path)
        label = "-".join(p.decode() for p in path)
        add(f"clip-zero-body-{label}.mp4", f"clip.mp4 with the payload of {label} zeroed", clip, offset + 8,
            size - 8)
    offset, size = find_box(fast, b"moov")
    add("fast-zero-moov.mp4", "fast.mp4 with its whole moov (header and all) zeroed", fast, offset, size)
    for n in (2, 4, 20, 200):
        add(f"still-zero-first{n}.jpg", f"still.jpg with its first {n} bytes zeroed", jpg, 0, n)
    sof = jpg.find(b"\xff\xc0")
    add("still-zero-sof.jpg", "still.jpg with its SOF0 segment zeroed", jpg, sof, 19)
    dqt = jpg.find(b"\xff\xdb")
    add("still-zero-dqt.jpg", "still.jpg with its first DQT segment zeroed", jpg, dqt, 69)
    add("still-zero-signature.png", "still.png with its 8-byte signature zeroed", png, 0, 8)
    add("still-zero-ihdr.png", "still.png with its IHDR chunk zeroed", png, 8, 25)
    add("still-zero-first10.gif", "still.gif with its header zeroed", gif, 0, 10)
    return found


def swapped(samples: dict[str, bytes]) -> list[BadInput]:
    """Good content under the wrong extension (and none at all)."""
    found = []
    for sample, names in (("clip.mp4", ("clip-is-mp4.jpg", "clip-is-mp4.png", "clip-is-mp4.gif", "clip-is-mp4")),
                          ("still.jpg", ("still-is-jpeg.mp4", "still-is-jpeg.mov", "still-is-jpeg.png")),
                          ("still.png", ("still-is-png.jpg", "still-is-png.mp4")),
                          ("still.gif", ("still-is-gif.mkv",)),
                          ("frag.mp4", ("frag-is-mp4.avi",))):
        for name in names:
            found.append(BadInput("swapped", name, f"the bytes of {sample} named {name}", samples[sample]))
    return found


def tiny(samples: dict[str, bytes]) -> list[BadInput]:
    """Empty, one-byte and a-few-byte files."""
    found = [BadInput("tiny", f"empty{ext}", f"0 bytes named empty{ext}", b"") for ext in (".mp4", ".jpg", ".png", "")]
    for byte, label in ((b"\0", "nul"), (b"\xff", "ff"), (b"A", "A"), (b"\n", "lf")):
        for ext in (".mp4", ".jpg"):
            found.append(BadInput("tiny", f"one-{label}{ext}", f"the single byte {byte!r} named one-{label}{ext}",
                                  byte))
    for n in (2, 3, 7, 8, 11):
        found.append(BadInput("tiny", f"first{n}.mp4", f"the first {n} bytes of clip.mp4", samples["clip.mp4"][:n]))
    found.append(BadInput("tiny", "soi-eoi.jpg", "a JPEG that is only SOI and EOI", b"\xff\xd8\xff\xd9"))
    found.append(BadInput("tiny", "signature-only.png", "only the PNG signature", b"\x89PNG\r\n\x1a\n"))
    found.append(BadInput("tiny", "ftyp-only.mp4", "one ftyp box and nothing else", box(b"ftyp", b"isom\0\0\2\0isom")))
    return found


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk with its CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def dimensions(samples: dict[str, bytes]) -> list[BadInput]:
    """Headers claiming absurd sizes: MP4 tkhd and stsd, PNG IHDR (CRC fixed), JPEG SOF, GIF screen."""
    clip, jpg, png, gif = (samples[k] for k in ("clip.mp4", "still.jpg", "still.png", "still.gif"))
    found = []
    tkhd = payload_at(clip, b"moov", b"trak", b"tkhd")
    wh = tkhd + (76 if clip[tkhd] == 0 else 88)
    for w, h, label in ((0xFFFF0000, 0xFFFF0000, "65535x65535"), (0xFFFFFFFF, 0x00010000, "max-x1"),
                        (0, 0, "0x0")):
        found.append(BadInput("dimensions", f"clip-tkhd-{label}.mp4", f"clip.mp4 whose tkhd claims {label}",
                              patch(clip, wh, struct.pack(">II", w, h))))
    avc1 = payload_at(clip, *TRAK_STBL, b"stsd", b"avc1")
    for w, h, label in ((65535, 65535, "65535x65535"), (0, 0, "0x0"), (1, 65535, "1x65535")):
        found.append(BadInput("dimensions", f"clip-stsd-{label}.mp4", f"clip.mp4 whose avc1 entry claims {label}",
                              patch(clip, avc1 + 24, struct.pack(">HH", w, h))))
    both = patch(patch(clip, wh, struct.pack(">II", 0xFFFF0000, 0xFFFF0000)), avc1 + 24,
                 struct.pack(">HH", 65535, 65535))
    found.append(BadInput("dimensions", "clip-tkhd-stsd-65535.mp4", "clip.mp4 whose tkhd and avc1 claim 65535x65535",
                          both))
    ihdr = png[16:29]
    for w, h, label in ((100000, 100000, "100000x100000"), (0x7FFFFFFF, 1, "2147483647x1"), (0, 0, "0x0"),
                        (1, 0x7FFFFFFF, "1x2147483647")):
        body = struct.pack(">II", w, h) + ihdr[8:]
        found.append(BadInput("dimensions", f"still-ihdr-{label}.png", f"still.png whose IHDR claims {label} "
                              "(CRC fixed)", png[:8] + png_chunk(b"IHDR", body) + png[33:]))
    found.append(BadInput("dimensions", "still-ihdr-100000-badcrc.png",
                          "still.png whose IHDR claims 100000x100000 (CRC not fixed)",
                          patch(png, 16, struct.pack(">II", 100000, 100000))))
    sof = jpg.find(b"\xff\xc0")
    for w, h, label in ((65535, 65535, "65535x65535"), (0, 0, "0x0"), (65535, 1, "65535x1")):
        found.append(BadInput("dimensions", f"still-sof-{label}.jpg", f"still.jpg whose SOF0 claims {label}",
                              patch(jpg, sof + 5, struct.pack(">HH", h, w))))
    found.append(BadInput("dimensions", "still-screen-65535.gif", "still.gif whose screen and image claim 65535x65535",
                          patch(patch(gif, 6, struct.pack("<HH", 65535, 65535)), gif.find(b",", 13) + 5,
                                struct.pack("<HH", 65535, 65535))))
    return found


def overlong(samples: dict[str, bytes]) -> list[BadInput]:
    """Boxes whose sizes lie: past the file, 0 and 1 tricks, nesting, huge counts, offsets pointing anywhere."""
    clip, fast, frag, jpg, png = (samples[k] for k in ("clip.mp4", "fast.mp4", "frag.mp4", "still.jpg", "still.png"))
    ftyp = box(b"ftyp", b"isom\0\0\2\0isomiso2avc1mp41")
    found = []

    def add(name: str, what: str, data: bytes) -> None:
        found.append(BadInput("boxes", name, what, data))

    def set_u32(data: bytes, offset: int, value: int) -> bytes:
        return patch(data, offset, struct.pack(">I", value))

    moov, moov_size = find_box(clip, b"moov")
    add("moov-past-eof.mp4", "clip.mp4 whose moov claims 2^31 bytes", set_u32(clip, moov, 0x7FFFFFFF))
    add("moov-max.mp4", "clip.mp4 whose moov claims 2^32-1 bytes", set_u32(clip, moov, 0xFFFFFFFF))
    add("moov-size0.mp4", "clip.mp4 whose moov has size 0 (to the end)", set_u32(clip, moov, 0))
    add("moov-size7.mp4", "clip.mp4 whose moov has size 7 (less than its header)", set_u32(clip, moov, 7))
    add("moov-size8.mp4", "clip.mp4 whose moov has size 8 (empty)", set_u32(clip, moov, 8))
    add("moov-size1-eof.mp4", "clip.mp4 whose moov has size 1 and nothing after the type",
        set_u32(clip, moov, 1)[: moov + 8])
    fmoov, _ = find_box(fast, b"moov")
    add("fast-moov-size0.mp4", "fast.mp4 whose moov (before mdat) has size 0: it swallows mdat",
        set_u32(fast, fmoov, 0))
    mdat, _ = find_box(clip, b"mdat")
    add("mdat-huge.mp4", "clip.mp4 whose mdat claims 2^32-1 bytes, hiding moov", set_u32(clip, mdat, 0xFFFFFFFF))
    fmdat, _ = find_box(fast, b"mdat")
    add("fast-mdat-past-eof.mp4", "fast.mp4 whose last mdat claims twice its size",
        set_u32(fast, fmdat, 2 * (len(fast) - fmdat)))
    trak, trak_size = find_box(clip, b"moov", b"trak")
    add("trak-beyond-moov.mp4", "a trak claiming 10000 bytes more than its moov holds",
        set_u32(clip, trak, trak_size + 10000))
    add("trak-as-moov.mp4", "a trak claiming exactly the size of its parent moov", set_u32(clip, trak, moov_size))
    stbl, _ = find_box(clip, *TRAK_STBL)
    add("stbl-huge.mp4", "an stbl claiming 2^32-1 bytes", set_u32(clip, stbl, 0xFFFFFFFF))
    add("trak-type-binary.mp4", "a trak whose type is four non-printable bytes",
        patch(clip, trak + 4, b"\x00\x01\x02\x03"))
    for label, path, field, value in (
        ("stsd-count", (*TRAK_STBL, b"stsd"), 4, 0xFFFFFFFF),
        ("stsz-count", (*TRAK_STBL, b"stsz"), 8, 0xFFFFFFFF),
        ("stsz-size", (*TRAK_STBL, b"stsz"), 4, 0xFFFFFFFF),
        ("stts-count", (*TRAK_STBL, b"stts"), 4, 0xFFFFFFFF),
        ("stsc-count", (*TRAK_STBL, b"stsc"), 4, 0xFFFFFFFF),
        ("stsc-per-chunk", (*TRAK_STBL, b"stsc"), 12, 0xFFFFFFFF),
        ("stss-count", (*TRAK_STBL, b"stss"), 4, 0xFFFFFFFF),
        ("ctts-count", (*TRAK_STBL, b"ctts"), 4, 0xFFFFFFFF),
        ("stco-count", (*TRAK_STBL, b"stco"), 4, 0xFFFFFFFF),
        ("stco-past-eof", (*TRAK_STBL, b"stco"), 8, 0xFFFFFFF0),
        ("stco-at-moov", (*TRAK_STBL, b"stco"), 8, moov),
        ("mvhd-timescale0", (b"moov", b"mvhd"), 12, 0),
        ("mvhd-duration-max", (b"moov", b"mvhd"), 16, 0xFFFFFFFE),
        ("mdhd-timescale0", (b"moov", b"trak", b"mdia", b"mdhd"), 12, 0),
        ("elst-count", (b"moov", b"trak", b"edts", b"elst"), 4, 0xFFFFFFFF),
    ):
        try:
            at = payload_at(clip, *path)
        except KeyError:
            continue  # this encoder did not write that box
        add(f"clip-{label}.mp4", f"clip.mp4 with {label.replace('-', ' ')} set to {value:#x}",
            set_u32(clip, at + field, value))
    avcc = payload_at(clip, *TRAK_STBL, b"stsd", b"avc1", b"avcC")
    add("avcc-sps-huge.mp4", "an avcC whose SPS length claims 65535 bytes", patch(clip, avcc + 6, b"\xff\xff"))
    mfra = frag.rfind(b"mfra") - 4
    moof = frag.find(b"moof") - 4
    add("frag-moof-huge.mp4", "frag.mp4 whose first moof claims 2^32-1 bytes", set_u32(frag, moof, 0xFFFFFFFF))
    trun = frag.find(b"trun")
    add("frag-trun-count.mp4", "frag.mp4 whose first trun claims 2^32-1 samples", set_u32(frag, trun + 8, 0xFFFFFFFF))
    add("frag-trun-offset.mp4", "frag.mp4 whose first trun data offset points before the file",
        patch(frag, trun + 12, struct.pack(">i", -0x7FFFFFFF)))
    if mfra > 0:
        add("frag-mfra-size0.mp4", "frag.mp4 whose mfra has size 0", set_u32(frag, mfra, 0))
    add("size1-huge.mp4", "ftyp then a box of 64-bit size 2^64-1",
        ftyp + struct.pack(">I4sQ", 1, b"moov", 0xFFFFFFFFFFFFFFFF) + bytes(64))
    add("size1-zero.mp4", "ftyp then a box of 64-bit size 0", ftyp + struct.pack(">I4sQ", 1, b"moov", 0) + bytes(64))
    add("size1-twelve.mp4", "ftyp then a box of 64-bit size 12 (less than its 16-byte header)",
        ftyp + struct.pack(">I4sQ", 1, b"free", 12) + bytes(64))
    add("size1-top.mp4", "a first box of 64-bit size 2^63", struct.pack(">I4sQ", 1, b"ftyp", 1 << 63) + bytes(32))
    add("size0-ftyp.mp4", "an ftyp of size 0 swallowing the whole file", struct.pack(">I", 0) + clip[4:])
    nested = box(b"free")
    for _ in range(2000):
        nested = box(b"moov", nested)
    add("nested-2000.mp4", "ftyp and 2000 moov boxes nested in one another", ftyp + nested)
    huge_nest = ftyp + b"".join(struct.pack(">I4s", 0xFFFFFFFF - 8 * i, b"trak" if i else b"moov")
                                for i in range(200))
    add("nested-huge.mp4", "200 nested boxes each claiming about 4 GiB", huge_nest)
    add("many-boxes.mp4", "ftyp and 120000 empty free boxes", ftyp + box(b"free") * 120_000)
    add("uuid-short.mp4", "ftyp then a uuid box cut inside its 16-byte user type", ftyp + b"\0\0\0\x20uuid" + bytes(6))
    add("meta-keys.mp4", "a moov/meta whose keys count is 2^32-1 and ilst items are garbage",
        ftyp + box(b"moov", box(b"meta", bytes(4) + box(b"hdlr", bytes(8) + b"mdta" + bytes(13))
                                + box(b"keys", bytes(4) + struct.pack(">I", 0xFFFFFFFF) + box(b"mdta", b"k"))
                                + box(b"ilst", struct.pack(">I", 0xFFFFFFF0) + b"\0\0\0\1" + bytes(40)))))
    add("udta-garbage.mp4", "a moov/udta of text atoms whose inner sizes lie",
        ftyp + box(b"moov", box(b"udta", box(b"\xa9too", b"\xff\xff\0\0abc") + box(b"loci", bytes(3))
                                + box(b"titl", b"\0\0\0\0\xfe\xff\xd8") + box(b"XMP_", b"<x:xmpmeta"))))
    add("ftyp-short.mp4", "an ftyp of 3 payload bytes, then moov", box(b"ftyp", b"iso") + clip[moov: moov + moov_size])
    seg = jpg.find(b"\xff\xdb")
    add("jpeg-seg-len0.jpg", "still.jpg whose DQT segment length is 0", patch(jpg, seg + 2, b"\0\0"))
    add("jpeg-seg-len-max.jpg", "still.jpg whose DQT segment length is 65535", patch(jpg, seg + 2, b"\xff\xff"))
    tiff = b"MM\0*" + struct.pack(">I", 8) + struct.pack(">H", 0xFFFF) + struct.pack(">HHII", 0x8769, 4, 1, 0xFFFFFFF0)
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\0\0" + tiff
    add("jpeg-exif-ifd.jpg", "still.jpg with an EXIF IFD of 65535 entries pointing past the end",
        jpg[:2] + app1 + jpg[2:])
    add("png-chunk-huge.png", "still.png whose IHDR length claims 2^31-1 bytes", patch(png, 8, b"\x7f\xff\xff\xff"))
    idat = png.find(b"IDAT") - 4
    add("png-idat-huge.png", "still.png whose IDAT length claims 2^31-1 bytes", patch(png, idat, b"\x7f\xff\xff\xff"))
    return found


def special() -> list[BadInput]:
    """Things that are not regular files: FIFOs, device links, loops, folders with media names."""
    return [
        BadInput("special", "fifo.mp4", "a FIFO named fifo.mp4 (nothing writes to it)", special="fifo"),
        BadInput("special", "clip.mp4", "a symbolic link named clip.mp4 to /dev/zero", special="link:/dev/zero"),
        BadInput("special", "null.jpg", "a symbolic link named null.jpg to /dev/null", special="link:/dev/null"),
        BadInput("special", "random.mp4", "a symbolic link to /dev/urandom", special="link:/dev/urandom"),
        BadInput("special", "stdin.mp4", "a symbolic link to /dev/stdin", special="link:/dev/stdin"),
        BadInput("special", "loop.mp4", "a symbolic link to itself", special="link:loop.mp4"),
        BadInput("special", "dangling.mp4", "a symbolic link to nothing", special="link:missing.mp4"),
        BadInput("special", "folder.mp4", "a folder named folder.mp4", special="dir"),
        BadInput("special", "fifo-sidecar.mp4", "a good MP4 whose .info.json sidecar is a FIFO",
                 content_of="clip.mp4"),
        BadInput("special", "fifo-sidecar.info.json", "a FIFO where a yt-dlp sidecar is looked for", special="fifo"),
        BadInput("special", "zero-sidecar.mp4", "a good MP4 whose .info.json sidecar is a link to /dev/zero",
                 content_of="fast.mp4"),
        BadInput("special", "zero-sidecar.info.json", "a link to /dev/zero where a sidecar is looked for",
                 special="link:/dev/zero"),
    ]


NON_UTF8 = (os.fsdecode(b"bad-\xff\xfe.mp4"), os.fsdecode(b"caf\xe9.jpg"))
LONG_NAME = "L" * 250 + ".mp4"


def names() -> list[BadInput]:
    """Good media under names that a shell, ffmpeg's protocols or its image2 patterns would reinterpret."""
    spec = [
        ("%d.mp4", "clip.mp4"), ("%d.jpg", "still.jpg"), ("img%03d.jpg", "still.jpg"), ("%s%n%x.mp4", "clip.mp4"),
        ("pipe:1.mp4", "clip.mp4"), ("pipe:", "still.jpg"), ("concat:clip.mp4|clip.mp4", "clip.mp4"),
        ("concat:still.jpg", "still.jpg"), ("file:x.mp4", "fast.mp4"), ("-dash.mp4", "clip.mp4"),
        ("--help.jpg", "still.jpg"), ("-i", "still.png"), (NON_UTF8[0], "clip.mp4"), (NON_UTF8[1], "still.jpg"),
        ("new\nline.mp4", "clip.mp4"), ("car\rriage.jpg", "still.jpg"), ("tab\tname.png", "still.png"),
        (LONG_NAME, "fast.mp4"), ("ünï cödé 🎥.mp4", "clip.mp4"), (" lead space.jpg", "still.jpg"),
        ("$(touch PWNED).mp4", "clip.mp4"), ("glob*?[x].jpg", "still.jpg"), ("quote'\"`.mp4", "fast.mp4"),
        ("back\\slash.jpg", "still.jpg"),
    ]
    return [BadInput("names", name, f"{content} named {name!r}", content_of=content) for name, content in spec]


def sidecars() -> list[BadInput]:
    """Good media (not in the triage archive, so ``--add-new`` reads them) with broken yt-dlp sidecars."""
    spec = [
        ("deep", b'{"id": ' + b"[" * 100_000, "JSON nested 100000 deep"),
        ("surrogate", b'{"id": "s", "webpage_url": "https://e.org/s", "title": "\\ud800 cut"}',
         "a title holding a lone surrogate (\\ud800)"),
        ("huge-time", b'{"id": "t", "timestamp": 1' + b"0" * 400 + b"}", "a timestamp of 401 digits"),
        ("nan", b'{"id": "n", "timestamp": NaN, "upload_date": "99999999"}', "a NaN timestamp, a date 9999-99-99"),
        ("not-utf8", b'{"id": "\xff\xfe"}', "bytes that are not UTF-8"),
        ("empty", b"", "0 bytes"),
        ("playlist", b'{"_type": "playlist", "id": "p", "entries": []}', "a playlist, not one video"),
        ("odd-kind", b'{"_type": ' + b"[" * 50 + b"]" * 50 + b', "id": "k"}', "a _type that is a nested list"),
        ("types", b'{"id": {"a": 1}, "webpage_url": 5, "title": ["x"], "uploader": null}', "every field mistyped"),
    ]
    return [BadInput("sidecars", f"with-{label}.mp4", f"new.mp4 whose sidecar is {what}", content_of="new.mp4",
                     sidecar=raw) for label, raw, what in spec]


def all_inputs(samples: dict[str, bytes]) -> list[BadInput]:
    """Every bad input, kind by kind."""
    return [*truncations(samples), *bitflips(samples), *zeroed(samples), *swapped(samples), *tiny(samples),
            *dimensions(samples), *overlong(samples), *special(), *names(), *sidecars()]


def materialise(root: Path, samples: dict[str, bytes], inputs: list[BadInput]) -> dict[BadInput, Path]:
    """Write each input into ``root/kind/`` and return where each is."""
    paths = {}
    for item in inputs:
        folder = root / item.kind
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / item.name
        if item.special == "fifo":
            os.mkfifo(path)
        elif item.special == "dir":
            path.mkdir()
        elif item.special and item.special.startswith("link:"):
            os.symlink(item.special[5:], path)
        elif item.content_of is not None:
            path.write_bytes(samples[item.content_of])
        else:
            assert item.data is not None
            path.write_bytes(item.data)
        if item.sidecar is not None:
            path.with_suffix(".info.json").write_bytes(item.sidecar)
        paths[item] = path
    return paths


def state(folder: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every entry under ``folder`` (links not followed): mode, size, mtime and SHA-256 of regular files."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            found[os.fsencode(path.relative_to(folder)).hex()] = (info.st_mode, info.st_size, info.st_mtime_ns,
                                                                   digest)
    return found


def counts(inputs: list[BadInput]) -> Counter[str]:
    """How many inputs of each kind."""
    return Counter(item.kind for item in inputs)


# ---------------------------------------------------------------------------------------------- running


DOCUMENTED = set(EXIT_CODES) - {1}  # 1 is documented for --fail-on-match only, which no call here gives
CHECK_CODES = {0, 2, 4}  # the file is read, or it is not a regular file (2), or it is not readable media (4)
ADD_CODES = {0, 4}  # every file added, or some recorded as failures (4)
TRIAGE_CODES = {0, 4}  # every file triaged, or some are error rows (4)
SUBPROCESS_TIMEOUT = 120  # a hang guard: one check of a tiny file takes well under a second
TRIAGE_TIMEOUT = 900


@dataclass(frozen=True)
class Corpus:
    """The generated inputs on disk: ``root/in/<kind>/<name>``, outputs under ``root/out``."""

    root: Path
    samples: dict[str, bytes]
    inputs: tuple[BadInput, ...]
    paths: dict[BadInput, Path]

    @property
    def inputs_dir(self) -> Path:
        """The folder holding every kind's folder."""
        return self.root / "in"

    def of_kind(self, kind: str) -> list[BadInput]:
        """The inputs of one kind, in generation order."""
        return [item for item in self.inputs if item.kind == kind]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Every bad input, written once per test process (a second or two: the samples are tiny)."""
    root = tmp_path_factory.mktemp("malformed")
    (root / "samples").mkdir()
    samples = make_samples(root / "samples")
    inputs = all_inputs(samples)
    paths = materialise(root / "in", samples, inputs)
    for sub in ("out", "cwd", "home"):
        (root / sub).mkdir()
    return Corpus(root, samples, tuple(inputs), paths)


@pytest.fixture()
def isolated(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> Corpus:
    """Run with an empty working folder and HOME of our own, so a stray write shows and touches nothing real."""
    monkeypatch.chdir(corpus.root / "cwd")
    monkeypatch.setenv("HOME", str(corpus.root / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(corpus.root / "home" / "data"))
    monkeypatch.delenv("PROVENANCE_ARCHIVE", raising=False)
    return corpus


def invoke(*args: str) -> Result:
    """The CLI in-process; an uncaught exception is kept in the result (and reported by ``problems``)."""
    return CliRunner().invoke(cli, list(args))


def problems(result: Result, allowed: set[int], what: str, batch: bool = False) -> list[str]:
    """What is wrong with one CLI result: a traceback, an undocumented exit code, a multi-line error."""
    found = []
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else repr(result.exception)
        found.append(f"{what}: uncaught {type(result.exception).__name__} (exit {result.exit_code}):\n{trace}")
    return found + output_problems(result.exit_code, result.stdout, result.stderr, allowed, what, batch)


def output_problems(code: int, stdout: str, stderr: str, allowed: set[int], what: str,
                    batch: bool = False) -> list[str]:
    """The checks on an exit code and its output, for in-process and subprocess runs alike.

    A ``batch`` (``archive add``, ``triage``) reports its failed files on stdout and exits 4 without an
    error line; any other non-zero exit must come with one ``provenance: error:`` line.
    """
    found = []
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if "Traceback" in stdout + stderr:
        found.append(f"{what}: a traceback in the output: {stderr[-800:]!r}")
    if code not in DOCUMENTED or code not in allowed:
        found.append(f"{what}: exit {code} (documented and expected here: {sorted(allowed)}): {last!r}")
    if "internal error" in stderr:
        found.append(f"{what}: internal error: {last!r}")
    if code not in (0, 1) and not (batch and code == 4) and not last.startswith("provenance: error: "):
        found.append(f"{what}: exit {code} without a one-line 'provenance: error:' message: {stderr[-300:]!r}")
    return found


def assert_none(found: list[str]) -> None:
    """Fail with every problem at once (a batch shows all its bad inputs, not only the first)."""
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


def run(corpus: Corpus, args: list[str | bytes], cwd: Path, stdin: bytes | None = None,
        timeout: float = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
    """``python -m provenance ARGS`` in a real process (real descriptors and pipes, bytes arguments)."""
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)
    env = {**os.environ, "HOME": str(corpus.root / "home"), "LC_ALL": "C.UTF-8", "PYTHONPATH": path}
    env.pop("PROVENANCE_ARCHIVE", None)
    return subprocess.run([sys.executable, "-m", "provenance", *args], cwd=cwd, env=env, capture_output=True,
                          input=stdin if stdin is not None else b"", timeout=timeout, check=False)


def text(raw: bytes) -> str:
    """Process output as text (non-UTF-8 names stay visible as escapes)."""
    return raw.decode("utf-8", "backslashreplace")


BATCH_KINDS = ("truncated", "bitflip", "zeroed", "swapped", "tiny", "dimensions", "boxes", "sidecars")
"""The kinds run in batches (one ``check`` per input in one test, one ``archive add`` for them all)."""

KNOWN_DEFECTS: dict[tuple[str, str], str] = {}
"""(command, input name) -> the defect, for failures in code other engineers own; run as strict xfails."""


def check_calls(n: int, path: Path, out: Path) -> list[list[str]]:
    """The ``check`` calls for the ``n``-th input of a kind: ``--structure`` for every input (text and JSON
    in turn: it does all a plain check does, and more), a plain ``check --keyframes`` for every sixth."""
    calls = [["check", "--structure", *(["--json"] if n % 2 else []), "--", str(path)]]
    if n % 6 == 0:
        calls.append(["check", "--keyframes", str(out / f"keys-{n}"), "--", str(path)])
    return calls


def label(args: list[str]) -> str:
    """The command of a call, as KNOWN_DEFECTS names it: check, check --structure or archive add."""
    if args[0] == "archive":
        return "archive add"
    return "check --structure" if "--structure" in args else "check"


# ---------------------------------------------------------------------------------------------- tests


def test_triage_of_every_input_at_once(corpus: Corpus) -> None:
    """One ``triage --add-new`` of the whole tree against an archive of the good samples (2 jobs)."""
    from provenance.ingest.add import add_files

    archive = corpus.root / "out" / "triage-archive.sqlite"
    add_files(str(archive), [str(corpus.root / "samples" / name) for name in sorted(corpus.samples)
                             if name != "new.mp4"])
    out = corpus.root / "out" / "triage"
    before, around = state(corpus.inputs_dir), sorted(os.listdir(corpus.root))
    proc = run(corpus, ["triage", str(corpus.inputs_dir), "--archive", str(archive), "--out", str(out), "--jobs", "2",
                "--add-new"], corpus.root / "cwd", timeout=TRIAGE_TIMEOUT)
    stdout, stderr = text(proc.stdout), text(proc.stderr)
    assert_none(output_problems(proc.returncode, stdout, stderr, TRIAGE_CODES, "triage", batch=True))
    assert state(corpus.inputs_dir) == before, "triage changed the evidence"
    assert sorted(os.listdir(corpus.root)) == around and os.listdir(corpus.root / "cwd") == []
    rows = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8"), newline="")))
    skipped = list(csv.DictReader(io.StringIO((out / "skipped.csv").read_text(encoding="utf-8"), newline="")))
    regular = [i for i in corpus.inputs if i.special is None]
    empty_sidecars = [i for i in corpus.inputs if i.sidecar == b""]  # an empty file is an error row, by design
    assert len(rows) == len(regular) + len(empty_sidecars), f"{len(rows)} rows for {len(regular)} regular files"
    not_regular = [i for i in corpus.inputs if i.special not in (None, "dir")]
    sidecar_files = [i for i in corpus.inputs if i.sidecar]  # listed as "yt-dlp sidecar (read as ...)"
    assert len(skipped) == len(not_regular) + len(sidecar_files), skipped
    for row in rows:
        assert row["verdict"] in ("known", "partly_known", "new", "error"), row
        assert "\n" not in row["error"] and "Traceback" not in row["error"] and "internal" not in row["error"], row
    by_kind = Counter((Path(r["path"]).parent.name, r["verdict"]) for r in rows)
    assert by_kind[("tiny", "error")] == len(corpus.of_kind("tiny"))
    assert by_kind[("swapped", "known")] == len(corpus.of_kind("swapped"))
    assert by_kind[("names", "known")] == len(corpus.of_kind("names"))  # a name changes nothing that is read
    assert by_kind[("special", "known")] == 2  # the good MP4s whose sidecars are a FIFO and /dev/zero
    assert by_kind[("sidecars", "new")] == len(corpus.of_kind("sidecars"))  # so their sidecars were read
    for report in (out / "reports").iterdir():
        json.loads(report.read_text(encoding="utf-8"))
    print(f"triage: {len(rows)} rows, {len(skipped)} skipped; verdicts by kind: {dict(sorted(by_kind.items()))}")


@pytest.mark.parametrize("kind", BATCH_KINDS)
def test_check_and_structure_of_each_input(isolated: Corpus, kind: str) -> None:
    """``check --structure`` (text or JSON) on every input of a kind, plain ``check --keyframes`` on a sixth,
    and the box reader (``read_structure``) directly on each."""
    corpus = isolated
    folder = corpus.inputs_dir / kind
    out = corpus.root / "out" / f"check-{kind}"
    before = state(folder)
    found: list[str] = []
    codes: Counter[int] = Counter()
    for n, item in enumerate(corpus.of_kind(kind)):
        for args in check_calls(n, corpus.paths[item], out):
            if (label(args), item.name) in KNOWN_DEFECTS:
                continue
            result = invoke(*args)
            codes[result.exit_code] += 1
            found += problems(result, CHECK_CODES, f"{' '.join(args[:-2])} {item.name!r} ({item.what})")
        try:  # the box reader also on what ffprobe refuses (check stops before --structure on those)
            read_structure(corpus.paths[item], gop=False)
        except ProvenanceError:
            pass
        except Exception as exc:
            found.append(f"read_structure {item.name!r} ({item.what}): {type(exc).__name__}: {exc}")
    assert_none(found)
    assert state(folder) == before, "check changed the evidence or wrote beside it"
    assert os.listdir(corpus.root / "cwd") == []
    print(f"check {kind}: exit codes {dict(sorted(codes.items()))}")
    if kind == "tiny":
        assert set(codes) == {4}, codes


@pytest.mark.parametrize("kind", BATCH_KINDS)
def test_archive_add_of_a_whole_kind(isolated: Corpus, kind: str) -> None:
    """One ``archive add`` of every input of a kind: each file added or recorded as failed, the batch goes on."""
    corpus = isolated
    folder = corpus.inputs_dir / kind
    items = [i for i in corpus.of_kind(kind) if ("archive add", i.name) not in KNOWN_DEFECTS]
    archive = corpus.root / "out" / f"add-{kind}.sqlite"
    before = state(folder)
    result = invoke("archive", "add", "--json", "--archive", str(archive), "--", *(str(corpus.paths[i]) for i in items))
    assert_none(problems(result, ADD_CODES, f"archive add of {len(items)} {kind} inputs", batch=True))
    files = json.loads(result.stdout)["files"]
    assert [f["path"] for f in files] == [str(corpus.paths[i]) for i in items]
    for f in files:
        assert (f["error"] is None) == (f["sha256"] is not None), f
        assert f["error"] is None or ("\n" not in f["error"] and "Traceback" not in f["error"]), f
    failed = sum(1 for f in files if f["error"])
    assert result.exit_code == (4 if failed else 0)
    if kind == "tiny":
        assert failed == len(items)
    if kind in ("swapped", "sidecars"):
        assert failed == 0  # good content under a wrong name, or with an unusable sidecar (a warning)
    assert state(folder) == before, "archive add changed the evidence or wrote beside it"
    assert os.listdir(corpus.root / "cwd") == []
    print(f"archive add {kind}: {len(files) - failed} added, {failed} failed")


@pytest.fixture(scope="module")
def references(corpus: Corpus) -> dict[str, dict[str, object]]:
    """``check --json`` of each sample under its own plain name: what a hostile name must not change."""
    found = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(corpus.root / "cwd")
        for name in sorted({i.content_of for i in corpus.inputs if i.content_of}):
            result = invoke("check", "--json", "--", str(corpus.root / "samples" / name))
            assert result.exit_code == 0, result.stderr
            found[name] = json.loads(result.stdout)
    return found


def same_reading(record: dict[str, object], reference: dict[str, object]) -> bool:
    """True when two check records read the same bytes the same way (hashes, frames, streams)."""
    def frames(r: dict[str, object]) -> list[tuple[object, ...]]:
        return [(f["time"], f["phash"], f["pdq"]) for f in r["frames"]]  # type: ignore[index, union-attr]
    return (record["sha256"] == reference["sha256"] and frames(record) == frames(reference)
            and record["metadata"]["streams"] == reference["metadata"]["streams"])  # type: ignore[index]


def name_calls(name: str, archive: Path) -> list[list[str]]:
    """What each hostile name goes through: ``check --json``, ``check --structure``, ``archive add --json``."""
    return [["check", "--json", "--", name], ["check", "--structure", "--", name],
            ["archive", "add", "--json", "--archive", str(archive), "--", name]]


def run_name_call(corpus: Corpus, args: list[str]) -> tuple[int, str, str, list[str]]:
    """One call on a hostile name given as it is, relative to the names folder: in-process, or in a real
    process when the name is not UTF-8 (so the argument is the raw bytes a shell would pass)."""
    folder = corpus.inputs_dir / "names"
    if not any(name in args for name in NON_UTF8):
        result = invoke(*args)
        return result.exit_code, result.stdout, result.stderr, problems(result, {0}, f"{label(args)} {args[-1]!r}")
    proc = run(corpus, [os.fsencode(a) for a in args], folder)
    out, err = text(proc.stdout), text(proc.stderr)
    return proc.returncode, out, err, output_problems(proc.returncode, out, err, {0}, f"{label(args)} {args[-1]!r}")


NAME_CASES = [pytest.param(i, id=repr(i.name)[1:-1][:40]) for i in names()]


@pytest.mark.parametrize("item", NAME_CASES)
def test_hostile_name_reads_like_a_plain_one(isolated: Corpus, references: dict[str, dict[str, object]],
                                             item: BadInput, monkeypatch: pytest.MonkeyPatch) -> None:
    """A good file under a hostile name gives what it gives under a plain name: exit 0, the same reading."""
    corpus = isolated
    folder = corpus.inputs_dir / "names"
    monkeypatch.chdir(folder)
    before = state(folder)
    archive = corpus.root / "out" / f"names-{hashlib.sha256(os.fsencode(item.name)).hexdigest()[:12]}.sqlite"
    reference = references[item.content_of or ""]
    found: list[str] = []
    for args in name_calls(item.name, archive):
        if (label(args), item.name) in KNOWN_DEFECTS:
            continue
        code, stdout, _, trouble = run_name_call(corpus, args)
        found += trouble
        if code != 0:
            continue
        if args[0] == "archive":
            files = json.loads(stdout)["files"]
            if [f["sha256"] for f in files] != [reference["sha256"]]:
                found.append(f"archive add {item.name!r}: recorded {files}, not the file's SHA-256")
        elif "--json" in args and not same_reading(json.loads(stdout), reference):
            found.append(f"check {item.name!r}: read differently from {item.content_of} under a plain name")
    assert_none(found)
    assert state(folder) == before, "the evidence changed, or something was written beside it"


def test_leading_dash_without_separator_is_a_usage_error(isolated: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    """``check -dash.mp4`` (no ``--``) is an unknown option: exit 2 and a usage message, not a traceback."""
    monkeypatch.chdir(isolated.inputs_dir / "names")
    result = invoke("check", "-dash.mp4")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "No such option" in result.stderr


SPECIAL_CASES = [pytest.param(i, id=i.name) for i in special() if not i.name.endswith(".info.json")]


@pytest.mark.parametrize("item", SPECIAL_CASES)
def test_special_file_through_check(corpus: Corpus, item: BadInput) -> None:
    """A FIFO, a device link, a loop, a folder: refused at once (2 or 4), never read; in real processes
    with a timeout, so a FIFO opened for reading fails the test instead of hanging it."""
    folder = corpus.inputs_dir / "special"
    before = state(folder)
    expected = {0} if item.content_of else {2, 4}
    found: list[str] = []
    for args in (["check", "--", item.name], ["check", "--structure", "--json", "--", item.name]):
        if (label(args), item.name) in KNOWN_DEFECTS:
            continue
        feed = corpus.samples["clip.mp4"] if item.name == "stdin.mp4" else None  # /dev/stdin is a real pipe
        try:
            proc = run(corpus, args, folder, stdin=feed)
        except subprocess.TimeoutExpired:
            found.append(f"{label(args)} {item.name!r}: still running after {SUBPROCESS_TIMEOUT} s (blocked?)")
            continue
        found += output_problems(proc.returncode, text(proc.stdout), text(proc.stderr), expected,
                                 f"{label(args)} {item.name!r} ({item.what})")
    assert_none(found)
    assert state(folder) == before


def test_special_files_through_one_archive_add(corpus: Corpus) -> None:
    """One ``archive add`` of every special path: the two good MP4s (sidecars a FIFO and /dev/zero) are added,
    every other path is one failure; nothing blocks."""
    folder = corpus.inputs_dir / "special"
    items = [i for i in special() if not i.name.endswith(".info.json")]
    before = state(folder)
    archive = corpus.root / "out" / "special.sqlite"
    proc = run(corpus, ["archive", "add", "--json", "--archive", str(archive), "--", *(i.name for i in items)], folder)
    stdout, stderr = text(proc.stdout), text(proc.stderr)
    assert_none(output_problems(proc.returncode, stdout, stderr, {4}, "archive add of the special paths", batch=True))
    files = json.loads(stdout)["files"]
    assert [f["path"] for f in files] == [i.name for i in items]
    added = {f["path"] for f in files if f["error"] is None}
    assert added == {"fifo-sidecar.mp4", "zero-sidecar.mp4"}, files
    assert state(folder) == before


def test_output_into_a_closed_pipe(corpus: Corpus) -> None:
    """``check --structure`` whose reader has gone (``| head -0``): no traceback, no internal error."""
    env = {**os.environ, "HOME": str(corpus.root / "home"),
           "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "provenance", "check", "--structure", "--",
                             str(corpus.root / "samples" / "clip.mp4")], cwd=corpus.root / "cwd", env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = text(proc.stderr.read())
    code = proc.wait(timeout=SUBPROCESS_TIMEOUT)
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert code not in (1, 70), (code, stderr)


DEFECT_CASES = [pytest.param(command, name, marks=pytest.mark.xfail(strict=True, reason=reason),
                             id=f"{command}:{name!r}"[:60]) for (command, name), reason in KNOWN_DEFECTS.items()]


@pytest.mark.parametrize(("command", "name"), DEFECT_CASES)
def test_known_defect(isolated: Corpus, command: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each call the tests above leave out because code owned by other engineers fails on it, run the same
    way (strict xfail: it fails loudly once fixed, and the entry is then to be removed from KNOWN_DEFECTS)."""
    corpus = isolated
    item = next(i for i in corpus.inputs if i.name == name)
    folder = corpus.paths[item].parent
    before = state(folder)
    if item.kind == "names":
        monkeypatch.chdir(folder)
        archive = corpus.root / "out" / "defect.sqlite"
        args = next(a for a in name_calls(name, archive) if label(a) == command)
        found = run_name_call(corpus, args)[3]
    elif item.kind == "special":
        args = ["check", *(["--structure"] if "structure" in command else []), "--", name]
        proc = run(corpus, args, folder)
        found = output_problems(proc.returncode, text(proc.stdout), text(proc.stderr), CHECK_CODES, command)
    else:
        path = str(corpus.paths[item])
        args = {"check": ["check", "--", path], "check --structure": ["check", "--structure", "--", path],
                "archive add": ["archive", "add", "--json", "--archive", str(corpus.root / "out" / "defect.sqlite"),
                                "--", path]}[command]
        found = problems(invoke(*args), ADD_CODES | CHECK_CODES, f"{command} {name!r} ({item.what})",
                         batch=command == "archive add")
    assert_none(found)
    assert state(folder) == before


def test_inputs_are_counted_and_the_table_is_true(corpus: Corpus) -> None:
    """At least 250 inputs, every kind present, and the module docstring's table giving the real counts."""
    found = counts(list(corpus.inputs))
    table = dict(re.findall(r"^``(\w+)``\s+(\d+)\s", __doc__ or "", flags=re.M))
    print("bad inputs per kind:", ", ".join(f"{k} {found[k]}" for k in KINDS), f"(total {sum(found.values())})")
    assert set(found) == set(KINDS) and sum(found.values()) >= 250
    assert len({i.name for i in corpus.inputs}) == len(corpus.inputs), "KNOWN_DEFECTS names inputs by name alone"
    assert {k: int(v) for k, v in table.items()} == {**found, "total": sum(found.values())}
