"""Hash-bank interop: PDQ and vPDQ hash lines, as ThreatExchange and its matcher use them.

Two line formats, each a validated record whose ``parse`` is the exact inverse of its string form
(``VpdqLine.parse(str(line)) == line``, and ``str(VpdqLine.parse(text)) == text`` for text in the
canonical form: lower-case hex, a timestamp with three decimals):

* PDQ: ``pdq_hex`` or ``pdq_hex,quality`` (ThreatExchange PDQ hash lists are bare 64-digit hex lines);
* vPDQ: ``frame,quality,pdq_hex,timestamp`` (the vPDQ reference hash files; timestamp in seconds, 3
  decimals).

``export_lines`` writes the lines of a fingerprint. ``hash_list_item`` turns a hash list into an
archive item of kind ``"hashes"``: no media, no pHash (PDQ is its only hash algorithm), the frames
of the list with their times (vPDQ timestamps, or line k at k / fps for PDQ lines, which carry no
time). Its SHA-256 key is the SHA-256 of the list file's bytes followed by the UTF-8 label, so the
same list imported under two labels is two items and importing it again is idempotent.

``export_destination`` checks where ``export --out`` may put the lines (a new file, not in the
folder that holds the evidence unless asked on purpose) and ``write_export`` writes them there,
leaving no file behind when it fails.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from provenance.errors import UsageError
from provenance.hashing import get_hasher
from provenance.model import (
    FULL_BOX,
    SCHEMA_VERSION,
    FileIdentity,
    Fingerprint,
    FrameHash,
    Metadata,
    SamplingParams,
    Sighting,
)
from provenance.platforms import normalised_sighting
from provenance.version import __version__

FORMATS = ("pdq", "vpdq")
DEFAULT_FPS = 1.0  # vPDQ's own default (ThreatExchange hashes one frame per second)
UNKNOWN_QUALITY = 100  # PDQ lines without a quality are taken as usable
MAX_LIST_BYTES = 512 * 1024 * 1024
_PDQ_LINE = re.compile(r"([0-9a-fA-F]{64})(?:,(0|[1-9][0-9]?|100))?")
_VPDQ_LINE = re.compile(r"(0|[1-9][0-9]*),(0|[1-9][0-9]?|100),([0-9a-fA-F]{64}),([0-9]+(?:\.[0-9]{1,3})?)")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class HashListError(UsageError):
    """A hash line or list is malformed; the message names the line and what is wrong."""


def _check_pdq(pdq: str) -> None:
    if not isinstance(pdq, str) or not _HEX64.fullmatch(pdq):
        raise HashListError(f"a PDQ hash is 64 lower-case hex digits, not {pdq!r}")


def _check_quality(quality: int) -> None:
    if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 100:
        raise HashListError(f"a PDQ quality is an integer from 0 to 100, not {quality!r}")


@dataclass(frozen=True)
class PdqLine:
    """One PDQ hash, with its quality when known."""

    pdq: str
    quality: int | None = None

    def __post_init__(self) -> None:
        """Validate the fields."""
        _check_pdq(self.pdq)
        if self.quality is not None:
            _check_quality(self.quality)

    def __str__(self) -> str:
        """``pdq_hex`` or ``pdq_hex,quality``."""
        return self.pdq if self.quality is None else f"{self.pdq},{self.quality}"

    @classmethod
    def parse(cls, text: str) -> PdqLine:
        """The inverse of ``str``; raises ``HashListError`` for anything else."""
        match = _PDQ_LINE.fullmatch(text)
        if match is None:
            raise HashListError(f"not a PDQ line (pdq_hex or pdq_hex,quality): {text[:100]!r}")
        return cls(match[1].lower(), None if match[2] is None else int(match[2]))


@dataclass(frozen=True)
class VpdqLine:
    """One vPDQ frame hash: frame number, quality, PDQ hash, timestamp (seconds, 3 decimals)."""

    frame: int
    quality: int
    pdq: str
    timestamp: float

    def __post_init__(self) -> None:
        """Validate the fields."""
        if not isinstance(self.frame, int) or isinstance(self.frame, bool) or self.frame < 0:
            raise HashListError(f"a vPDQ frame number is an integer >= 0, not {self.frame!r}")
        _check_quality(self.quality)
        _check_pdq(self.pdq)
        t = self.timestamp
        if not isinstance(t, float) or not math.isfinite(t) or t < 0 or round(t, 3) != t:
            raise HashListError(f"a vPDQ timestamp is a float >= 0 with at most 3 decimals, not {t!r}")

    def __str__(self) -> str:
        """``frame,quality,pdq_hex,timestamp``."""
        return f"{self.frame},{self.quality},{self.pdq},{self.timestamp:.3f}"

    @classmethod
    def parse(cls, text: str) -> VpdqLine:
        """The inverse of ``str``; raises ``HashListError`` for anything else."""
        match = _VPDQ_LINE.fullmatch(text)
        if match is None:
            raise HashListError(f"not a vPDQ line (frame,quality,pdq_hex,timestamp): {text[:100]!r}")
        return cls(int(match[1]), int(match[2]), match[3].lower(), round(float(match[4]), 3))


def parse_list(text: str, fmt: str) -> list[PdqLine] | list[VpdqLine]:
    """Every line of a hash list (blank lines and ``#`` comments skipped); errors name the line number."""
    if fmt not in FORMATS:
        raise HashListError(f"unknown hash list format {fmt!r}: use one of {', '.join(FORMATS)}")
    parser = PdqLine.parse if fmt == "pdq" else VpdqLine.parse
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            lines.append(parser(line))
        except HashListError as exc:
            raise HashListError(f"line {number}: {exc}") from None
    if not lines:
        raise HashListError(f"the list holds no {fmt} hashes")
    return lines


def export_lines(fp: Fingerprint, fmt: str) -> list[str]:
    """The PDQ or vPDQ lines of a fingerprint's frames.

    vPDQ frame numbers are the frame of the source on screen at each sample's time (at the video's
    average frame rate), as vPDQ numbers decoded frames; without a frame rate, the sample number.
    """
    if fmt not in FORMATS:
        raise HashListError(f"unknown hash format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "pdq":
        return [str(PdqLine(f.pdq, f.pdq_quality)) for f in fp.frames]
    video = fp.metadata.video_stream
    rate = (video.avg_frame_rate or video.real_frame_rate) if video is not None else None
    lines = []
    for f in fp.frames:
        frame = math.floor(f.time * rate + 1e-6) if rate else f.index
        lines.append(str(VpdqLine(frame, f.pdq_quality, f.pdq, round(max(f.time, 0.0), 3))))
    return lines


def export_destination(out: str | os.PathLike[str], evidence: str | os.PathLike[str], *,
                       beside: bool = False) -> Path:
    """The file ``export --out`` writes the lines of ``evidence`` to, once it is known to be a fit place.

    Raises ``UsageError`` when ``out`` exists (export never overwrites; the evidence itself is one),
    when its folder does not exist, and when it is in the folder that holds the evidence, unless
    ``beside`` (nothing is written beside evidence unless asked on purpose).
    """
    target = Path(out).expanduser()
    if os.path.lexists(target):
        if os.path.realpath(target) == os.path.realpath(evidence):
            raise UsageError(f"--out {out} names the input file itself: choose another file")
        raise UsageError(f"--out {out} already exists: give a new file name (export never overwrites)")
    folder = os.path.realpath(target.parent)
    if not os.path.isdir(folder):
        raise UsageError(f"--out {out}: the folder {target.parent} does not exist")
    if not beside and folder == os.path.dirname(os.path.realpath(evidence)):
        raise UsageError(f"--out {out} is in the folder that holds the evidence; nothing is written beside "
                         "evidence unless --beside is given")
    return target


def write_export(out: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to the new file ``out``, created exclusively; a failed write leaves no file."""
    try:
        handle = open(out, "x", encoding="utf-8")  # noqa: SIM115 - closed below; its errors are told apart
    except FileExistsError:
        raise UsageError(f"--out {out} already exists: give a new file name (export never overwrites)") from None
    except OSError as exc:
        raise UsageError(f"cannot create --out {out}: {exc.strerror or exc}") from None
    try:
        with handle:
            handle.write(text)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def hash_list_item(path: str | os.PathLike[str], fmt: str, label: str | None = None,
                   fps: float = DEFAULT_FPS) -> Fingerprint:
    """A hash-only archive item (kind ``"hashes"``) made from the hash list at ``path``.

    vPDQ lines keep their timestamps; PDQ line k is placed at k / ``fps`` seconds. The item's
    duration runs to the last time plus one frame step; its SHA-256 key is that of the list's bytes
    followed by the UTF-8 label.
    """
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise HashListError(f"--fps must be a positive number of hashes per second, not {fps!r}")
    source = Path(path)
    try:
        info = source.stat()
        if info.st_size > MAX_LIST_BYTES:
            raise HashListError(f"{source}: {info.st_size:,} bytes is too large for a hash list")
        content = source.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the hash list {source}: {exc.strerror or exc}") from None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HashListError(f"{source}: a hash list is UTF-8 text") from None
    parsed = parse_list(text, fmt)
    if fmt == "vpdq":
        times = [line.timestamp for line in parsed]  # type: ignore[union-attr]
        steps = [b - a for a, b in itertools.pairwise(times) if b > a]
        step = statistics.median(steps) if steps else 1.0 / fps
        frames = tuple(FrameHash(index=i, time=line.timestamp, phash="", pdq=line.pdq,  # type: ignore[union-attr]
                                 pdq_quality=line.quality) for i, line in enumerate(parsed))
    else:
        step = 1.0 / fps
        frames = tuple(FrameHash(index=i, time=round(i * step, 6), phash="", pdq=line.pdq,
                                 pdq_quality=UNKNOWN_QUALITY if line.quality is None else line.quality)
                       for i, line in enumerate(parsed))
    duration = max(f.time for f in frames) + step
    name = label or source.name
    key = hashlib.sha256(content + (label or "").encode("utf-8")).hexdigest()
    tags = [("hash_format", fmt), ("source_file", source.name), ("hashes", str(len(frames)))]
    if label:
        tags.append(("label", label))
    if fmt == "pdq" and any(line.quality is None for line in parsed):  # type: ignore[union-attr]
        tags.append(("quality_note", f"lines without a quality were taken as {UNKNOWN_QUALITY}"))
    identity = FileIdentity(
        path=str(source.resolve()), name=name, size=len(content), sha256=key,
        sha1=hashlib.sha1(content).hexdigest(), md5=hashlib.md5(content).hexdigest(),
        modified=_utc(info.st_mtime), changed=_utc(info.st_ctime), accessed=_utc(info.st_atime),
    )
    metadata = Metadata(
        kind="hashes", format_name=f"{fmt} hash list", format_long_name=(
            "vPDQ hash list (frame,quality,pdq_hex,timestamp)" if fmt == "vpdq" else "PDQ hash list"),
        major_brand=None, compatible_brands=(), duration=duration, bit_rate=None, creation_time=None,
        creation_time_note=None, encoder=None, make=None, model=None, software=None, device_creation_date=None,
        location=None, handler_names=(), streams=(), tags=tuple(tags), exif=None, raw_probe="",
    )
    return Fingerprint(
        schema_version=SCHEMA_VERSION, tool_version=__version__, identity=identity, metadata=metadata,
        params=SamplingParams(fps=round(1.0 / step, 6) if step > 0 else fps), duration=duration,
        content_box=FULL_BOX, frames=frames, shots=(), warnings=(),
        hash_algorithms=(get_hasher("pdq").algorithm(),),  # PDQ lines only: no pHash
    )


@dataclass(frozen=True)
class ImportResult:
    """What ``import_hash_list`` did."""

    archive: str
    sha256: str
    name: str
    hashes: int
    duration: float
    created: bool  # False when the same list and label were imported before
    sightings_added: int


def import_hash_list(archive: str, path: str | os.PathLike[str], fmt: str, *, label: str | None = None,
                     fps: float = DEFAULT_FPS, sighting: Sighting | None = None) -> ImportResult:
    """Add the hash list at ``path`` to the archive (created if missing) as one item of kind ``"hashes"``."""
    from provenance.archive.store import ArchiveStore, make_archive_folder, masked_location
    from provenance.times import utc_now

    fp = hash_list_item(path, fmt, label, fps)
    given = normalised_sighting(sighting or Sighting())
    seen = Sighting(**{**given.__dict__, "label": given.label or label, "file_name": Path(path).name,
                       "added_at": utc_now()})
    make_archive_folder(archive)
    with ArchiveStore.open(archive, create=True) as store:
        outcome = store.add(fp, [seen])
    return ImportResult(masked_location(str(archive)), outcome.sha256, fp.identity.name, len(fp.frames), fp.duration,
                        outcome.created, outcome.sightings_added)
