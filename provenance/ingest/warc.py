"""``archive import warc``: the video and image records of a web archive (WARC, WACZ) into the archive.

Every ``response`` or ``resource`` record whose payload is a video or a picture (by its HTTP or
record Content-Type, or by its first bytes) becomes a media item, with a sighting::

    WARC-Target-URI  -> source_url; its host -> platform_raw, and the platform it is of (else the
                        page's, else "web": a t.me page's video from a Telegram CDN is "telegram")
    WARC-Date        -> first_seen (UTC)
    WARC-Record-ID   -> record_id
    the page         -> page_url: the WACZ's pages.jsonl page the record belongs to (WARC-Page-ID, the
                        request's Referer, the URI itself, or the only page); in a plain WARC, the
                        request record's Referer
    recorded_from    "warc"

The payload is read through warcio's content stream (chunked transfer and content encodings
decoded as warcio decodes them) into a file in a private temporary folder, never beside the input,
and fingerprinted and stored as ``archive add`` stores a file, one transaction per record: a kill
loses nothing already imported and a rerun adds only what is missing (a sighting already there is
not added twice). The record's ``WARC-Payload-Digest`` (SHA-1 in base 32, or SHA-256 and others in
base 32, hex or base 64) is checked against the payload as stored (and, failing that, as decoded);
a mismatch is a listed failure, never an import.

A WACZ is read as the ZIP it is, member by member through ``zipfile`` without unpacking it; member
names that climb out (``../``, absolute), too many members, too many bytes in all, or a member that
expands more than ``MAX_RATIO`` times are refused before anything is read (``ReadLimits``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from provenance.archive.custody import Reading, append_entries
from provenance.archive.store import ArchiveStore, make_archive_folder, masked_location
from provenance.errors import ArchiveError, MissingToolError, ProvenanceError, UnreadableMediaError, UsageError
from provenance.fingerprinting import analyse
from provenance.ingest.add import ARCHIVE_FPS
from provenance.media.sniff import sniff
from provenance.model import SamplingParams, Sighting
from provenance.platforms import normalise
from provenance.times import iso_utc, utc_now

COMMAND = "provenance archive import warc"
RECORDED_FROM = "warc"
PLATFORM = "web"

MAX_MEMBERS = 100_000
"""A WACZ of a large crawl holds a few WARCs, indexes and pages files: far fewer members than this."""
MAX_TOTAL_BYTES = 64 << 30
"""What all of a WACZ's members may expand to (64 GiB): several large crawls, not a ZIP bomb."""
MAX_RATIO = 100
"""WARC members are stored already gzipped (ratio about 1) and text compresses about 10:1; more than
100:1 is a ZIP bomb."""
RATIO_FLOOR = 1 << 20
"""Members that expand to less than this (1 MiB) are not ratio-checked: a small file of blanks is harmless."""
MAX_PAGES_BYTES = 256 << 20
"""pages.jsonl is read into memory, line by line: a page is a line of well under 1 KiB."""

CHUNK = 1 << 20
_HEAD = 512  # as triage reads: enough for every signature sniff knows, MPEG-TS included
_DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha512": 64, "md5": 16, "sha384": 48, "sha224": 28}
_EXTENSIONS = {
    "video/mp4": ".mp4", "video/quicktime": ".mov", "image/heif": ".heic", "image/jpeg": ".jpg",
    "image/png": ".png", "image/gif": ".gif", "image/tiff": ".tif", "video/x-matroska": ".mkv",
    "video/webm": ".webm", "video/x-flv": ".flv", "video/x-ms-asf": ".wmv", "video/mpeg": ".mpg",
    "video/h264": ".h264", "application/ogg": ".ogv", "image/webp": ".webp", "image/bmp": ".bmp",
    "video/x-msvideo": ".avi", "video/mp2t": ".ts", "image/avif": ".avif",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReadLimits:
    """What reading may cost before it is refused as a ZIP or gzip bomb (tests lower them).

    A WACZ's members are checked against all four before anything is read; a gzipped WARC (or a
    payload's content encoding) may expand ``max_ratio`` times its compressed bytes, once past
    ``ratio_floor``.
    """

    max_members: int = MAX_MEMBERS
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_ratio: float = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR


@dataclass(frozen=True)
class PayloadDigest:
    """A ``WARC-Payload-Digest``: the hashlib name of its algorithm and the digest's bytes."""

    algorithm: str
    value: bytes


@dataclass(frozen=True)
class WebPage:
    """One page of a WACZ's ``pages/pages.jsonl``: its URL, and the id, time and title when given."""

    url: str
    page_id: str | None = None
    ts: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class ImportedRecord:
    """What happened to one media record: ``outcome`` is added, known (only sightings recorded), skipped
    (not importable, e.g. a partial HTTP 206 body) or failed (the reason says why: a digest mismatch, media
    that cannot be decoded, a truncated record)."""

    record_id: str | None
    uri: str | None
    date: str | None
    outcome: str
    sha256: str | None = None
    sightings_added: int = 0
    page_url: str | None = None
    member: str | None = None  # the WACZ member the record is in
    reason: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebArchiveImport:
    """The outcome of importing one WARC or WACZ: each media record, how many records were not media, and
    why reading stopped early (a truncated gzip member, a bad record), when it did."""

    archive: str
    source: str
    source_sha256: str
    kind: str  # "warc" or "wacz"
    records: tuple[ImportedRecord, ...]
    not_media: int
    pages: int = 0
    stopped: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> int:
        """How many media records could not be imported (skips that are not failures excluded)."""
        return sum(1 for r in self.records if r.outcome == "failed")

    @property
    def imported(self) -> int:
        """How many media records are in the archive (added now or already there)."""
        return sum(1 for r in self.records if r.outcome in ("added", "known"))


def parse_payload_digest(text: str | None) -> PayloadDigest | None:
    """``sha1:BASE32``, ``sha256:HEX``, ``sha-256:BASE64`` and the like as a PayloadDigest; None when unreadable.

    The algorithm may be written with or without its dash and in any case; the value in base 32 (either
    case, padded or not), hex, or base 64 (standard or URL-safe, padded or not): its length tells which.
    """
    if not text or ":" not in text:
        return None
    name, _, value = text.strip().partition(":")
    algorithm = name.strip().lower().replace("-", "")
    size = _DIGEST_SIZES.get(algorithm)
    value = value.strip().rstrip("=")
    if size is None or not value:
        return None
    try:
        if len(value) == -(-size * 8 // 5):
            decoded = base64.b32decode(value.upper() + "=" * (-len(value) % 8))
        elif len(value) == size * 2:
            decoded = bytes.fromhex(value)
        elif len(value) == -(-size * 4 // 3):
            alphabet = b"-_" if ("-" in value or "_" in value) else None
            decoded = base64.b64decode(value + "=" * (-len(value) % 4), altchars=alphabet, validate=True)
        else:
            return None
    except (binascii.Error, ValueError):
        return None
    return PayloadDigest(algorithm, decoded) if len(decoded) == size else None


def parse_pages_line(line: str | bytes) -> WebPage | None:
    """One line of ``pages.jsonl`` as a WebPage; None for the header line, a blank or bad line, or no URL."""
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(entry, dict):
        return None
    url = entry.get("url")
    if not isinstance(url, str) or not url.strip():
        return None

    def text(key: str) -> str | None:
        value = entry.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    return WebPage(url.strip(), text("id"), text("ts"), text("title"))


def warc_date(text: str | None) -> str | None:
    """A ``WARC-Date`` as ISO 8601 UTC with a ``Z`` (fractions of a second kept); None when unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # WARC dates are UTC by the standard
    return iso_utc(moment, micro=bool(moment.microsecond))


def _host(uri: str | None) -> str | None:
    if not uri:
        return None
    try:
        return urlsplit(uri).hostname or None
    except ValueError:
        return None


def _media_name(uri: str | None, kind: str) -> str:
    """A file name for the payload: the URI's last path segment, made safe, with the media's extension."""
    segment = ""
    if uri:
        with contextlib.suppress(ValueError):
            segment = PurePosixPath(unquote(urlsplit(uri).path)).name
    name = _SAFE_NAME.sub("_", segment).strip("._")[:100] or "record"
    extension = _EXTENSIONS.get(kind, "")
    if extension and not name.lower().endswith(extension) and Path(name).suffix.lower() not in _EXTENSIONS.values():
        name += extension
    return name


def _declared_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _is_media(declared: str, head: bytes) -> tuple[bool, str]:
    """Whether a payload is a video or picture, and its type: the first bytes decide when they are known."""
    sniffed, media = sniff(head)
    if sniffed:
        return media, sniffed
    if declared.startswith(("video/", "image/")) and declared != "image/svg+xml":
        return True, declared
    return False, declared


class _Tee:
    """A read-through of warcio's record stream that hashes the bytes as stored (before any decoding)."""

    def __init__(self, stream: Any, hashers: list[Any]) -> None:
        self.stream = stream
        self.hashers = hashers

    def _seen(self, data: bytes) -> bytes:
        for h in self.hashers:
            h.update(data)
        return data

    def read(self, size: int = -1) -> bytes:
        return self._seen(self.stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._seen(self.stream.readline(size))

    def close(self) -> None:
        self.stream.close()


class _Bounded(io.RawIOBase):
    """A ZIP member's stream that refuses to give more than the member said it holds (a lying header)."""

    def __init__(self, stream: IO[bytes], limit: int, name: str) -> None:
        self.stream = stream
        self.left = limit
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise UnreadableMediaError(f"{self.name}: holds more bytes than its ZIP entry says: a ZIP bomb; refused")
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _member_name_ok(name: str) -> bool:
    if not name or "\\" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name) or "\x00" in name:
        return False
    return ".." not in PurePosixPath(name).parts


def check_wacz_members(zf: zipfile.ZipFile, where: str, limits: ReadLimits) -> None:
    """Refuse a WACZ whose member names climb out, or that would expand past ``limits`` (UnreadableMediaError)."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnreadableMediaError(f"{where}: {len(infos):,} ZIP members, more than the {limits.max_members:,} "
                                   "a WACZ may hold: refused as a ZIP bomb")
    total = 0
    for info in infos:
        if not _member_name_ok(info.filename):
            raise UnreadableMediaError(f"{where}: member {info.filename[:200]!r} climbs out of the WACZ "
                                       "(an absolute path or '..'): refused, nothing read")
        total += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise UnreadableMediaError(f"{where}: member {info.filename[:200]!r} expands {ratio:,.0f} times "
                                       f"(more than {limits.max_ratio:g}:1): refused as a ZIP bomb")
    if total > limits.max_total_bytes:
        raise UnreadableMediaError(f"{where}: its members expand to {total:,} bytes, more than the "
                                   f"{limits.max_total_bytes:,} allowed: refused as a ZIP bomb")


def read_wacz_pages(zf: zipfile.ZipFile, where: str) -> tuple[WebPage, ...]:
    """The pages of a WACZ's ``pages/*.jsonl`` (unreadable lines left out)."""
    pages: list[WebPage] = []
    for info in zf.infolist():
        if not (info.filename.startswith("pages/") and info.filename.endswith(".jsonl")):
            continue
        if info.file_size > MAX_PAGES_BYTES:
            raise UnreadableMediaError(f"{where}: {info.filename} holds {info.file_size:,} bytes, more than a "
                                       "pages list does: refused")
        try:
            with zf.open(info) as member:
                for line in io.BufferedReader(_Bounded(member, info.file_size, f"{where}!{info.filename}")):
                    page = parse_pages_line(line)
                    if page is not None:
                        pages.append(page)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks
            raise UnreadableMediaError(f"{where}: cannot read {info.filename} ({exc}): a damaged WACZ") from exc
    return tuple(pages)


@dataclass
class _Pages:
    """Which page a record was found on: pages.jsonl by URL and id, and the Referers of the requests seen."""

    by_url: dict[str, WebPage]
    by_id: dict[str, WebPage]
    only: WebPage | None
    referers: dict[str, str] = field(default_factory=dict)

    def page_of(self, uri: str | None, page_id: str | None, record_id: str | None) -> WebPage | None:
        if page_id and page_id in self.by_id:
            return self.by_id[page_id]
        if uri and uri in self.by_url:
            return self.by_url[uri]
        referer = self.referers.get(record_id or "") or self.referers.get(uri or "")
        if referer:
            return self.by_url.get(referer) or WebPage(referer)
        return self.only


def _pages_index(pages: tuple[WebPage, ...]) -> _Pages:
    by_url: dict[str, WebPage] = {}
    by_id: dict[str, WebPage] = {}
    for page in pages:
        by_url.setdefault(page.url, page)
        if page.page_id:
            by_id.setdefault(page.page_id, page)
    return _Pages(by_url, by_id, pages[0] if len(by_url) == 1 else None)


@dataclass
class _Run:
    """The state of one import: the store, the temporary folder, what was done so far."""

    store: ArchiveStore
    folder: Path
    params: SamplingParams
    examiner: str | None
    progress: Callable[[ImportedRecord], None] | None
    limits: ReadLimits
    records: list[ImportedRecord] = field(default_factory=list)
    not_media: int = 0
    warnings: list[str] = field(default_factory=list)
    count: int = 0

    def note(self, record: ImportedRecord) -> None:
        self.records.append(record)
        if self.progress is not None:
            self.progress(record)


def _header(record: Any, name: str) -> str | None:
    value = record.rec_headers.get_header(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _import_record(run: _Run, record: Any, pages: _Pages, locator: str, member: str | None) -> None:
    """Import one ``response`` or ``resource`` record if it is media (one transaction)."""
    uri = _header(record, "WARC-Target-URI")
    record_id = _header(record, "WARC-Record-ID")
    date = warc_date(_header(record, "WARC-Date"))
    http = record.http_headers if record.rec_type == "response" else None
    declared = _declared_type(http.get_header("Content-Type") if http is not None else
                              _header(record, "Content-Type"))
    if http is not None and record.http_headers.get_statuscode() not in ("200", "203"):
        status = record.http_headers.get_statuscode() or "?"
        head_only = status == "206"
        if head_only and declared.startswith(("video/", "image/")):
            run.note(ImportedRecord(record_id, uri, date, "skipped", member=member,
                                    reason="HTTP 206: only a byte range of the file was archived"))
        else:
            run.not_media += 1
        return
    digest_text = _header(record, "WARC-Payload-Digest")
    digest = parse_payload_digest(digest_text)
    raw_hash = hashlib.new(digest.algorithm) if digest else None
    raw = record.raw_stream
    record.raw_stream = _Tee(raw, [raw_hash] if raw_hash else [])
    content = record.content_stream()
    decoded_hash = hashlib.new(digest.algorithm) if digest and content is not record.raw_stream else None
    head = b""
    while len(head) < _HEAD:
        more = content.read(_HEAD - len(head))
        if not more:
            break
        head += more
    media, kind = _is_media(declared, head)
    if not media:
        run.not_media += 1
        return
    warnings: list[str] = []
    if digest_text and digest is None:
        warnings.append(f"WARC-Payload-Digest {digest_text[:80]!r} is not a digest this tool reads: not checked")
    run.count += 1
    folder = run.folder / str(run.count)
    folder.mkdir()
    target = folder / _media_name(uri, kind)
    page = pages.page_of(uri, _header(record, "WARC-Page-ID"), record_id)
    page_url = page.url if page else None

    def failed(reason: str) -> None:
        run.note(ImportedRecord(record_id, uri, date, "failed", page_url=page_url, member=member, reason=reason,
                                warnings=tuple(warnings)))

    try:
        bound = max(run.limits.ratio_floor, run.limits.max_ratio * max(int(record.length or 0), 1))
        written = 0
        with target.open("xb") as out:
            block = head
            while block:
                if decoded_hash is not None:
                    decoded_hash.update(block)
                written += len(block)
                if written > bound:
                    failed(f"its content encoding expands more than {run.limits.max_ratio:g}:1: a compression bomb; "
                           "not imported")
                    return
                out.write(block)
                block = content.read(CHUNK)
        while record.raw_stream.read(CHUNK):
            pass  # what the decoder left (a chunked body's trailer) is part of the stored payload
        missing = getattr(raw, "limit", 0)
        if isinstance(missing, int) and missing > 0:
            failed(f"truncated: the record's last {missing:,} bytes are missing")
            raise _Truncated(f"{uri or record_id}: the record is cut short ({missing:,} bytes missing)")
        if digest is not None and raw_hash is not None:
            matches = raw_hash.digest() == digest.value or (
                decoded_hash is not None and decoded_hash.digest() == digest.value)
            if not matches:
                failed(f"payload digest mismatch: the bytes are not what the archive says ({digest_text}); "
                       "not imported")
                return
        try:
            analysis = analyse(str(target), run.params, features="archive")
        except (MissingToolError, ArchiveError):
            raise
        except ProvenanceError as exc:
            failed(f"not readable media ({exc})")
            return
        fp = analysis.fingerprint
        fp = replace(fp, identity=replace(fp.identity, path=locator + (f"#{record_id}" if record_id else "")))
        host = _host(uri)
        platform = normalise(host)[0] or normalise(_host(page_url))[0] or PLATFORM
        sighting = Sighting(source_url=uri, platform=platform, first_seen=date, title=page.title if page else None,
                            file_name=target.name, added_at=utc_now(), platform_raw=host,
                            record_id=record_id, page_url=page_url, recorded_from=RECORDED_FROM)
        outcome = run.store.add(fp, (sighting,), analysis.features, analysis.pictures)
        append_entries(run.store, (Reading(fp.identity.sha256, fp.identity.path),), command=COMMAND,
                       examiner=run.examiner)
        run.note(ImportedRecord(record_id, uri, date, "added" if outcome.created else "known", fp.identity.sha256,
                                outcome.sightings_added, page_url, member, warnings=(*warnings, *fp.warnings)))
    finally:
        with contextlib.suppress(OSError):
            target.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


class _Truncated(Exception):
    """Reading stopped: the rest of the file cannot be trusted to be records."""


def _read_warc(run: _Run, stream: IO[bytes], stored: int, pages: _Pages, locator: str, where: str,
               member: str | None) -> str | None:
    """Import the media records of one WARC stream of ``stored`` bytes; why reading stopped early, or None.

    The records' declared lengths may add up to ``max_ratio`` times ``stored`` (a gzipped WARC
    expands; a plain one cannot): past that the file is a gzip bomb and reading stops.
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    chatter = io.StringIO()
    records: Iterator[Any] = iter(ArchiveIterator(stream, arc2warc=False))
    first = True
    declared = 0
    while True:
        try:
            with contextlib.redirect_stderr(chatter):  # warcio prints its warnings on stderr
                record = next(records)
        except StopIteration:
            break
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # warcio's parser meets some malformed headers with any exception
            reason = _reason(exc) if isinstance(exc, ArchiveLoadFailed | ValueError | EOFError | zlib.error) else \
                f"malformed record headers that warcio cannot parse ({type(exc).__name__})"
            if first:
                raise UnreadableMediaError(f"{where}: not a WARC file, or damaged at its start ({reason})") from exc
            return f"{where}: a bad record after {run.count} media record(s) ({reason}); the rest is not read"
        if first and record.format != "warc":
            raise UnreadableMediaError(f"{where}: not a WARC file (it does not begin with a WARC/1.x record)")
        first = False
        declared += max(int(record.length or 0), 0)
        if declared > max(run.limits.ratio_floor, run.limits.max_ratio * stored):
            return (f"{where}: its records expand to more than {run.limits.max_ratio:g} times its {stored:,} bytes: "
                    "a gzip bomb; the rest is not read")
        try:
            if record.rec_type == "request":
                referer = record.http_headers.get_header("Referer") if record.http_headers else None
                if referer:
                    for key in (_header(record, "WARC-Concurrent-To"), _header(record, "WARC-Target-URI")):
                        if key:
                            pages.referers[key] = referer.strip()
                run.not_media += 1
            elif record.rec_type in ("response", "resource"):
                _import_record(run, record, pages, locator, member)
            else:
                run.not_media += 1
        except _Truncated as exc:
            return str(exc)
        except (zlib.error, EOFError, ValueError, UnicodeDecodeError) as exc:
            # the payload's gzip or content encoding is damaged: where the next record starts is unknown
            return f"{where}: a bad record after {run.count} media record(s) ({_reason(exc)}); the rest is not read"
    if chatter.getvalue().strip():
        run.warnings.append(f"{where}: warcio: {' '.join(chatter.getvalue().split())[:300]}")
    if first:
        raise UnreadableMediaError(f"{where}: not a WARC file (no record in it)")
    return None


def import_web_archive(
    archive: str,
    path: str,
    *,
    params: SamplingParams | None = None,
    limits: ReadLimits | None = None,
    examiner: str | None = None,
    progress: Callable[[ImportedRecord], None] | None = None,
) -> WebArchiveImport:
    """Import the video and image records of the WARC (``.warc``, ``.warc.gz``) or WACZ at ``path``.

    Raises UsageError when ``path`` is not a file, and UnreadableMediaError when it is not a WARC or
    WACZ, or a WACZ is refused (names that climb out, a ZIP bomb by ``limits``); a bad record or a
    truncated gzip member later on stops the reading with what came before kept (``stopped``). The
    input is only read: its SHA-256 and every payload imported are logged in the custody log.
    """
    source = Path(path)
    if not source.is_file():
        raise UsageError(f"{path}: no such file (give a .warc, .warc.gz or .wacz file)")
    where = str(path)
    limits = limits or ReadLimits()
    params = params or SamplingParams(fps=ARCHIVE_FPS)
    try:
        source_sha256 = _sha256_of(source)
        with source.open("rb") as f:
            # by the first bytes, not zipfile.is_zipfile: a WARC whose last payload is a ZIP ends like one
            is_zip = f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    locator = os.path.abspath(path)
    make_archive_folder(archive)
    with ArchiveStore.open(archive, create=True) as store, \
            tempfile.TemporaryDirectory(prefix="provenance-warc-") as tmp:
        run = _Run(store, Path(tmp), params, examiner, progress, limits)
        stopped: str | None = None
        pages: tuple[WebPage, ...] = ()
        if is_zip:
            kind = "wacz"
            try:
                zf = zipfile.ZipFile(source)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise UnreadableMediaError(f"{where}: not a readable ZIP (WACZ) file ({exc})") from exc
            with zf:
                check_wacz_members(zf, where, limits)
                pages = read_wacz_pages(zf, where)
                index = _pages_index(pages)
                warcs = [i for i in zf.infolist() if i.filename.startswith("archive/")
                         and i.filename.endswith((".warc", ".warc.gz")) and not i.is_dir()]
                if not warcs:
                    raise UnreadableMediaError(f"{where}: a ZIP with no archive/*.warc[.gz] member: not a WACZ")
                for info in warcs:
                    member_where = f"{where}!{info.filename}"
                    try:
                        with zf.open(info) as member:
                            stopped = _read_warc(run, io.BufferedReader(_Bounded(member, info.file_size, member_where),
                                                                        CHUNK), info.file_size,
                                                 index, f"{locator}!{info.filename}", member_where, info.filename)
                    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                        stopped = f"{member_where}: cannot read it ({exc}); the rest is not read"
                    if stopped:
                        break
        else:
            kind = "warc"
            with source.open("rb") as f:
                stopped = _read_warc(run, f, source.stat().st_size, _pages_index(()), locator, where, None)
        if stopped is None:
            append_entries(store, (Reading(source_sha256, locator),), command=COMMAND, examiner=examiner)
    return WebArchiveImport(masked_location(str(archive)), where, source_sha256, kind, tuple(run.records),
                            run.not_media, len(pages), stopped, tuple(run.warnings))
