"""Telegram Desktop exports (JSON): each media message's file, with a sighting saying where and when it was posted.

Telegram Desktop's "Export chat history" (one chat) and "Export Telegram data" (the account) write a
folder holding ``result.json`` and the media files, laid out and described by Telegram's
"Telegram Data Export Schema" (https://core.telegram.org/import-export). ``result.json`` is read in
either shape:

- a single chat: ``{"name", "type", "id", "messages": [...]}``;
- a full account: ``{"about", "personal_information", ..., "chats": {"list": [chat, ...]},
  "left_chats": {"list": [chat, ...]}}``, each chat as above.

Each message of type ``message`` with a file becomes a sighting of that file when the file is a
video, a round video (``media_type`` ``video_message``, older tools say ``round_message``), an
animation, a photo (``photo``), or a document whose ``mime_type`` is ``video/*`` or ``image/*``.
Fields used::

    date_unixtime (epoch seconds, a string)  -> first_seen, UTC (2020-10-05T12:03:22Z); without it,
                                                 date (the exporting machine's local time, no zone)
    chat name, type, id                      -> chat, chat_type, chat_id
    id                                       -> message_id
    from                                     -> uploader
    forwarded_from                           -> forwarded_from (who first posted it: often the earlier source)
    text (a string, or a list of strings and
          {"type", "text"[, "href"]} entities) -> text, flattened (a text link keeps its href in brackets)
    the chat's username, when the export
          gives one ("username")              -> source_url https://t.me/<username>/<id>

Every sighting has ``platform`` "telegram" and ``recorded_from`` "telegram export result.json";
``platform_raw`` is left empty, since the export names no platform of its own.

Telegram Desktop's own exports do not hold a chat's username, so a post's public link is derived
only when the chat object names one (``"username"``, a valid Telegram username); otherwise there is
no link, and the sighting's chat id and message id say where the post was. No link is guessed from
a chat's name, nor made from its id (``t.me/c/<id>/<message>`` opens only for the chat's members).

Files the export left out (``"(File not included. Change data exporting settings to download.)"``,
``"(File exceeds maximum size...)"``, ``"(File unavailable, please try again later)"``), files that
are not footage (stickers, voice and audio messages, other documents), a file that is missing from
the folder, and a path that is absolute or climbs out of the export folder (``../``, or a symbolic
link leading outside it) are listed as skipped with the reason, never read. A malformed chat or
message entry is listed too; only a ``result.json`` that cannot be read at all (missing, truncated,
not JSON, of no export's shape) is an error: ``TelegramExportError``, one line, exit 2.

``import_export`` adds each file to the archive as ``archive add`` does, one transaction per file
(with its custody entry), so a kill loses nothing already imported and a rerun finishes the rest;
sightings already recorded are not recorded twice. The export is only read.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from provenance.errors import ArchiveError, MissingToolError, ProvenanceError, UsageError
from provenance.model import SamplingParams, Sighting
from provenance.platforms import normalise
from provenance.times import utc_now

__all__ = ["INDEX_NAME", "MAX_INDEX_BYTES", "RECORDED_FROM", "ExportMedia", "ExportSkip", "ImportedFile",
           "TelegramExport", "TelegramExportError", "TelegramImport", "export_sightings", "flatten_text",
           "import_export", "parse_export", "read_export"]

INDEX_NAME = "result.json"
MAX_INDEX_BYTES = 4 << 30
"""A larger result.json is refused rather than read into memory (an account's export is rarely over 1 GiB)."""
RECORDED_FROM = "telegram export result.json"
THUMBNAIL_RECORDED_FROM = "telegram export result.json (the thumbnail Telegram made of the post's file)"
PLATFORM = normalise("telegram")[0]
COMMAND = "provenance archive import telegram"

FOOTAGE_TYPES = frozenset({"video_file", "video_message", "round_message", "animation"})
"""``media_type`` values whose file is footage whatever its MIME type says."""
NOT_FOOTAGE_TYPES = {"sticker": "a sticker", "voice_message": "a voice message", "audio_file": "an audio file"}

_USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})")
_LOCAL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_PLACEHOLDER = re.compile(r"\((?:File|Photo|Video|Story)\b[^/\\]*\)")  # Telegram Desktop writes them in English
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = 80  # characters of an odd value quoted in a skip reason


class TelegramExportError(UsageError):
    """A Telegram export's ``result.json`` that cannot be read: missing, truncated, not JSON, of an unknown shape."""


@dataclass(frozen=True)
class ExportMedia:
    """One media message's file in an export: where it is, and the sighting the message makes."""

    path: str  # the file, inside the export folder (the folder joined with ``relative``)
    relative: str  # as result.json names it
    sighting: Sighting


@dataclass(frozen=True)
class ExportSkip:
    """A message whose file is not imported, or an entry that is not a chat or message, and why."""

    chat: str | None  # the chat's name (else its id)
    message_id: str | None
    file: str | None  # what result.json says of the file (a path, or the export's placeholder)
    reason: str


@dataclass(frozen=True)
class TelegramExport:
    """What an export's ``result.json`` says: its shape, how much it holds, its media files and what was skipped."""

    root: str  # the export folder
    index: str  # its result.json
    shape: str  # "single chat" or "account"
    chats: int
    messages: int  # message entries read (service messages included)
    media: tuple[ExportMedia, ...]
    skipped: tuple[ExportSkip, ...]
    link_note: str | None = None  # why some or all posts have no t.me link
    # the pictures Telegram made of posted videos (a message's "thumbnail"), with the post's sighting
    # (``THUMBNAIL_RECORDED_FROM``): triage dates them by it; an import does not archive them, as
    # nobody posted them
    thumbnails: tuple[ExportMedia, ...] = ()


@dataclass(frozen=True)
class ImportedFile:
    """What happened to one media file of an import."""

    path: str
    relative: str
    sha256: str | None
    created: bool  # False when the item was already archived (only new sightings were recorded)
    sightings_added: int
    messages: tuple[str, ...]  # "chat_id/message_id" of every message that posted it
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TelegramImport:
    """The outcome of ``archive import telegram``."""

    archive: str
    export: TelegramExport
    files: tuple[ImportedFile, ...]

    @property
    def added(self) -> int:
        """Media files newly archived."""
        return sum(1 for f in self.files if f.created and not f.error)

    @property
    def known(self) -> int:
        """Media files that were archived already (only their new sightings were recorded)."""
        return sum(1 for f in self.files if not f.created and not f.error)

    @property
    def failed(self) -> int:
        """Media files that could not be read as media."""
        return sum(1 for f in self.files if f.error)

    @property
    def sightings_added(self) -> int:
        """Sightings recorded by this import (0 when everything was imported before)."""
        return sum(f.sightings_added for f in self.files)


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _clean(value: object) -> str | None:
    """A text field as it can be stored: None unless a non-blank string; lone surrogates as U+FFFD."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _LONE_SURROGATE.sub("\ufffd", value.strip())


def _ident(value: object) -> str | None:
    """An id (a chat's, a message's) as text: an integer, or a string of one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value.strip()):
        return value.strip()
    return None


def flatten_text(text: object) -> str | None:
    """A message's ``text`` as one string: a string as it is; a list of strings and entities joined.

    An entity is ``{"type": ..., "text": ...}``; a ``text_link``'s hidden target follows its text in
    brackets (``here (https://example.org)``), since where a post pointed can matter. Anything else
    gives None.
    """
    if isinstance(text, str):
        return _clean(text)
    if not isinstance(text, list):
        return None
    parts: list[str] = []
    for part in text:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
            href = part.get("href")
            if part.get("type") == "text_link" and isinstance(href, str) and href and href != part["text"]:
                parts.append(f" ({href})")
    return _clean("".join(parts))


def _first_seen(message: dict[str, object]) -> str | None:
    raw = message.get("date_unixtime")
    seconds: float | None = None
    if isinstance(raw, str) and re.fullmatch(r"[0-9]{1,12}", raw.strip()):
        seconds = int(raw.strip())
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        seconds = raw
    if seconds is not None:
        try:
            return datetime.fromtimestamp(int(seconds), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            pass
    local = message.get("date")
    if isinstance(local, str) and _LOCAL_DATE.fullmatch(local):
        try:
            return datetime.fromisoformat(local).isoformat(timespec="seconds")  # the exporting machine's clock
        except ValueError:
            return None
    return None


def _placeholder(value: str) -> bool:
    """True for the text an export writes where it left a file out: ``(File not included. ...)``."""
    return _PLACEHOLDER.fullmatch(value.strip()) is not None


def _inside(root: str, relative: str) -> tuple[str | None, str | None]:
    """(the file's path, None), or (None, why it is refused or missing)."""
    if "\x00" in relative or not relative.strip():
        return None, "refused: not a file path"
    posix = relative.replace("\\", "/")
    pure = PurePosixPath(posix)
    if pure.is_absolute() or re.match(r"[A-Za-z]:", posix) or posix.startswith("//"):
        return None, "refused: an absolute path (an export names its files inside its folder)"
    if ".." in pure.parts:
        return None, "refused: the path climbs out of the export folder (..)"
    path = os.path.normpath(os.path.join(root, *pure.parts))
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        return None, "refused: a symbolic link leading out of the export folder"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, "missing: result.json names it, but the file is not in the export folder"
    except OSError as exc:
        return None, f"cannot reach it: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return None, "not a regular file"
    return path, None


@dataclass(frozen=True)
class _Chat:
    name: str | None
    kind: str | None
    ident: str | None
    username: str | None

    @property
    def shown(self) -> str | None:
        return self.name or self.ident


def _chat_of(entry: dict[str, object]) -> _Chat:
    username = entry.get("username")
    found = _USERNAME.fullmatch(username.strip()) if isinstance(username, str) else None
    return _Chat(_clean(entry.get("name")), _clean(entry.get("type")), _ident(entry.get("id")),
                 found.group(1) if found else None)


def _media_file(message: dict[str, object]) -> tuple[object, str | None] | None:
    """(what the message says of its file, why it is not footage or None); None when it has no file."""
    if "photo" in message:
        return message["photo"], None
    if "file" not in message:
        return None
    media_type = message.get("media_type")
    if isinstance(media_type, str) and media_type in FOOTAGE_TYPES:
        return message["file"], None
    if isinstance(media_type, str) and media_type in NOT_FOOTAGE_TYPES:
        return message["file"], f"not footage: {NOT_FOOTAGE_TYPES[media_type]}"
    mime = message.get("mime_type")
    if isinstance(mime, str) and mime.lower().startswith(("video/", "image/")):
        return message["file"], None
    what = f"mime_type {_shown(mime)}" if isinstance(mime, str) else "no mime_type"
    return message["file"], f"not a video or picture (a document, {what})"


def _messages(chat: _Chat, messages: list[object], root: str, media: list[ExportMedia],
              skipped: list[ExportSkip], thumbnails: list[ExportMedia]) -> None:
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            skipped.append(ExportSkip(chat.shown, None, None, f"entry {position} of messages is not a message"))
            continue
        if message.get("type", "message") != "message":
            continue  # service messages (a new group photo, a pinned message) and unsupported ones
        found = _media_file(message)
        if found is None:
            continue
        given, not_footage = found
        message_id = _ident(message.get("id"))
        shown_file = _shown(given) if given is not None else None

        def skip(reason: str, message_id: str | None = message_id, shown_file: str | None = shown_file) -> None:
            """List this message's file as skipped."""
            skipped.append(ExportSkip(chat.shown, message_id, shown_file, reason))

        if not isinstance(given, str):
            skip("the file entry is not a path")
        elif _placeholder(given):
            skip(f"left out by the export: {given.strip()[1:-1]}", shown_file=None)
        elif not_footage:
            skip(not_footage)
        elif message_id is None:
            skip("the message has no id")
        else:
            path, refused = _inside(root, given)
            if refused or path is None:
                skip(refused or "refused")
                continue
            link = f"https://t.me/{chat.username}/{message_id}" if chat.username else None
            sighting = Sighting(
                source_url=link, platform=PLATFORM, uploader=_clean(message.get("from")),
                first_seen=_first_seen(message), file_name=os.path.basename(path),
                chat=chat.name, chat_type=chat.kind, chat_id=chat.ident, message_id=message_id,
                text=flatten_text(message.get("text")), forwarded_from=_clean(message.get("forwarded_from")),
                recorded_from=RECORDED_FROM)
            media.append(ExportMedia(path, given, sighting))
            thumbnail = message.get("thumbnail")
            if isinstance(thumbnail, str) and not _placeholder(thumbnail):
                thumb_path, _ = _inside(root, thumbnail)  # a thumbnail left out or refused is simply not dated
                if thumb_path is not None:
                    thumbnails.append(ExportMedia(thumb_path, thumbnail, replace(
                        sighting, file_name=os.path.basename(thumb_path), recorded_from=THUMBNAIL_RECORDED_FROM)))


def _chat_entries(document: dict[str, object]) -> tuple[str, Iterator[tuple[str, object]]]:
    """The export's shape and its chat entries, each with where it is in the document."""
    if isinstance(document.get("messages"), list):
        return "single chat", iter([("the chat", document)])
    lists = []
    for key in ("chats", "left_chats"):
        section = document.get(key)
        if section is None:
            continue
        entries = section.get("list") if isinstance(section, dict) else None
        if not isinstance(entries, list):
            raise TelegramExportError(f"{key!r} holds no list of chats ('{key}': {{'list': [...]}})")
        lists.extend((f"{key}.list[{i}]", entry) for i, entry in enumerate(entries))
    if not lists and not any(key in document for key in ("chats", "left_chats", "personal_information")):
        raise TelegramExportError(
            "is not a Telegram Desktop export: neither a chat ('messages') nor an account export ('chats')")
    return "account", iter(lists)


def parse_export(document: object, root: str | Path, index: str | None = None) -> TelegramExport:
    """What a parsed ``result.json`` (``document``) of the export folder ``root`` says (see the module notes).

    Raises ``TelegramExportError`` when ``document`` has no export's shape; a malformed chat or message
    is listed in ``skipped``. Files are looked at (are they there, inside ``root``?), never opened.
    """
    root = os.path.abspath(root)
    index = index or os.path.join(root, INDEX_NAME)
    if not isinstance(document, dict):
        raise TelegramExportError(f"{index}: is not a Telegram Desktop export (not a JSON object)")
    try:
        shape, entries = _chat_entries(document)
    except TelegramExportError as exc:
        raise TelegramExportError(f"{index}: {exc}") from None
    media: list[ExportMedia] = []
    skipped: list[ExportSkip] = []
    thumbnails: list[ExportMedia] = []
    chats = messages = 0
    public_without_name = 0
    for where, entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("messages"), list):
            skipped.append(ExportSkip(None, None, None, f"{where} is not a chat (no list of messages)"))
            continue
        chat = _chat_of(entry)
        chats += 1
        messages += len(entry["messages"])
        if chat.username is None and chat.kind in ("public_channel", "public_supergroup"):
            public_without_name += 1
        _messages(chat, entry["messages"], root, media, skipped, thumbnails)
    note = None
    if public_without_name:
        note = (f"{public_without_name} public chat(s) without a username in the export: their posts have no "
                "t.me link (Telegram Desktop does not export it); the chat id and message id say where each was")
    return TelegramExport(root, index, shape, chats, messages, tuple(media), tuple(skipped), note, tuple(thumbnails))


def _read_index(index: str) -> bytes:
    try:
        info = os.stat(index)
    except FileNotFoundError:
        raise TelegramExportError(f"{index}: no such file: give the folder Telegram Desktop exported (it holds "
                                  "result.json; export as 'Machine-readable JSON')") from None
    except OSError as exc:
        raise TelegramExportError(f"{index}: cannot reach it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise TelegramExportError(f"{index}: not a regular file")
    if info.st_size > MAX_INDEX_BYTES:
        raise TelegramExportError(f"{index}: {info.st_size} bytes, more than the {MAX_INDEX_BYTES} read")
    try:
        with open(index, "rb") as handle:
            return handle.read(MAX_INDEX_BYTES + 1)
    except OSError as exc:
        raise TelegramExportError(f"{index}: cannot read it ({exc.strerror or exc})") from None


def read_export(export_dir: str | Path) -> TelegramExport:
    """Read the Telegram Desktop export in ``export_dir`` (its ``result.json``, which may be given instead).

    Raises ``TelegramExportError`` (exit 2) when ``export_dir`` is no folder, or its result.json is
    missing, truncated, not JSON or of no export's shape.
    """
    root = os.path.abspath(export_dir)
    if os.path.basename(root) == INDEX_NAME and os.path.isfile(root):
        root = os.path.dirname(root)  # the export's result.json given for its folder
    if not os.path.isdir(root):
        raise TelegramExportError(f"{export_dir}: not a folder: give the folder Telegram Desktop exported")
    index = os.path.join(root, INDEX_NAME)
    raw = _read_index(index)
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise TelegramExportError(f"{index}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        ending = " (the file ends early: truncated?)" if exc.pos >= len(exc.doc.rstrip()) else ""
        raise TelegramExportError(f"{index}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                                  f"{ending}") from None
    except (ValueError, RecursionError) as exc:
        raise TelegramExportError(f"{index}: not JSON this tool reads ({type(exc).__name__})") from None
    return parse_export(document, root, index)


def _grouped(media: tuple[ExportMedia, ...]) -> dict[str, list[ExportMedia]]:
    """The media by file: one file posted in several messages is read once, with every message's sighting."""
    files: dict[str, list[ExportMedia]] = {}
    for item in media:
        files.setdefault(item.path, []).append(item)
    return files


def import_export(archive: str, export_dir: str | Path, *, params: SamplingParams | None = None,
                  progress: Callable[[str], None] | None = None, examiner: str | None = None) -> TelegramImport:
    """Add every media file of the export in ``export_dir`` to the archive at ``archive`` (created if missing).

    Each file is one transaction, with its sightings (one per message that posted it) and its custody
    entry. A file that is not readable media is recorded as failed, not fatal. Raises
    ``TelegramExportError`` for an unreadable result.json (before the archive is touched),
    ``ArchiveError`` and ``MissingToolError`` as ``archive add`` does.
    """
    from provenance.archive.custody import Reading, append_entries
    from provenance.archive.store import ArchiveStore, make_archive_folder, masked_location
    from provenance.fingerprinting import analyse
    from provenance.ingest.add import ARCHIVE_FPS

    export = read_export(export_dir)
    params = params or SamplingParams(fps=ARCHIVE_FPS)
    results: list[ImportedFile] = []
    make_archive_folder(archive)
    with ArchiveStore.open(archive, create=True) as store:
        for path, items in _grouped(export.media).items():
            posted = tuple(f"{m.sighting.chat_id}/{m.sighting.message_id}" for m in items)
            try:
                analysis = analyse(path, params, features="archive")
                fp = analysis.fingerprint
                now = utc_now()
                sightings = [replace(m.sighting, added_at=now) for m in items]
                outcome = store.add(fp, sightings, analysis.features, analysis.pictures)
                append_entries(store, [Reading(fp.identity.sha256, path)], command=COMMAND, examiner=examiner)
                results.append(ImportedFile(path, items[0].relative, fp.identity.sha256, outcome.created,
                                            outcome.sightings_added, posted, warnings=fp.warnings))
            except (MissingToolError, ArchiveError):
                raise
            except ProvenanceError as exc:
                results.append(ImportedFile(path, items[0].relative, None, False, 0, posted, error=str(exc)))
            if progress is not None:
                progress(path)
    return TelegramImport(masked_location(str(archive)), export, tuple(results))


def export_sightings(index: str | Path) -> tuple[TelegramExport | None, str | None]:
    """The export whose ``result.json`` is ``index`` (for triage), or (None, why it could not be read)."""
    try:
        return read_export(os.path.dirname(os.path.abspath(index))), None
    except TelegramExportError as exc:
        return None, str(exc)
