"""JSON codec for the model's frozen dataclasses.

``to_jsonable`` turns a dataclass tree into plain JSON values (dicts, lists, str, int, float, bool,
None); ``from_jsonable`` rebuilds it from the dataclass type hints, so that::

    from_jsonable(Fingerprint, json.loads(json.dumps(to_jsonable(fp)))) == fp

holds exactly. Only fields are written: properties such as ``Metadata.video_stream`` or
``Fingerprint.is_still`` are derived and never stored. Keys a newer version of the record may add
are ignored when reading, and a missing key takes the field's default when it has one.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from typing import Any, TypeVar

from provenance.model import Fingerprint

T = TypeVar("T")


class RecordFormatError(ValueError):
    """JSON data does not have the shape of the dataclass it is read as. The message names the field."""


def to_jsonable(obj: object) -> object:
    """Convert a dataclass (recursively), tuple or list into JSON-ready values.

    Dataclasses become dicts of their fields (in field order), tuples and lists become lists, and
    str, int, float, bool and None are returned as they are (floats are not rounded).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_jsonable(item) for item in obj]
    if obj is None or isinstance(obj, str | int | float):
        return obj
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON: only model dataclasses and plain values")


@functools.cache
def _field_types(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type, has default) for each init field of a dataclass, resolved once per class."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        out.append((f.name, hints[f.name], has_default))
    return tuple(out)


def from_jsonable(cls: type[T], data: object) -> T:
    """Rebuild a value of type ``cls`` (a model dataclass or any supported type hint) from JSON data.

    Supported hints: dataclasses, ``X | None``, ``tuple[X, ...]``, fixed tuples such as
    ``tuple[str, str]``, ``str``, ``int``, ``float`` (an integer JSON number is accepted for a
    float), ``bool`` and ``None``. Raises ``RecordFormatError`` naming the offending field.
    """
    return typing.cast(T, _decode(cls, data, cls.__name__ if isinstance(cls, type) else str(cls)))


def _decode(hint: Any, data: object, where: str) -> object:
    origin = typing.get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        options = typing.get_args(hint)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, data, where)
            except RecordFormatError as exc:
                errors.append(str(exc))
        raise RecordFormatError("; ".join(errors) or f"{where}: expected {hint}, got {data!r}")
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(data, list | tuple):
            raise RecordFormatError(f"{where}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item, f"{where}[{i}]") for i, item in enumerate(data))
        if len(args) != len(data):
            raise RecordFormatError(f"{where}: expected {len(args)} items, got {len(data)}")
        pairs = enumerate(zip(args, data, strict=True))
        return tuple(_decode(a, item, f"{where}[{i}]") for i, (a, item) in pairs)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(data, dict):
            raise RecordFormatError(
                f"{where}: expected an object for {hint.__name__}, got {type(data).__name__}"
            )
        kwargs = {}
        for name, field_hint, has_default in _field_types(hint):
            if name in data:
                kwargs[name] = _decode(field_hint, data[name], f"{where}.{name}")
            elif not has_default:
                raise RecordFormatError(f"{where}: missing field {name!r}")
        return hint(**kwargs)
    if hint is type(None) or hint is None:
        if data is not None:
            raise RecordFormatError(f"{where}: expected null, got {data!r}")
        return None
    if hint is bool:
        if not isinstance(data, bool):
            raise RecordFormatError(f"{where}: expected true/false, got {data!r}")
        return data
    if hint is int:
        # bool is a subclass of int in Python but a different JSON type
        if not isinstance(data, int) or isinstance(data, bool):
            raise RecordFormatError(f"{where}: expected an integer, got {data!r}")
        return data
    if hint is float:
        if not isinstance(data, int | float) or isinstance(data, bool):
            raise RecordFormatError(f"{where}: expected a number, got {data!r}")
        try:
            return float(data)
        except OverflowError:  # an integer of hundreds of digits is valid JSON but no float
            raise RecordFormatError(f"{where}: expected a number, got an integer too large for one") from None
    if hint is str:
        if not isinstance(data, str):
            raise RecordFormatError(f"{where}: expected a string, got {data!r}")
        return data
    raise TypeError(f"{where}: unsupported type hint {hint!r}")


def fingerprint_to_json(fp: Fingerprint) -> str:
    """The canonical JSON text of a fingerprint: sorted keys, no spaces, UTF-8 characters kept.

    A file name that is not valid UTF-8 reaches Python with lone surrogates (``\\udcff`` for byte
    ``0xff``), which no UTF-8 text can hold: such a record is written with every non-ASCII character
    escaped instead, which JSON reads back to the very same name.
    """
    text = _canonical_record(fp, ensure_ascii=False)
    return text if is_storable_text(text) else _canonical_record(fp, ensure_ascii=True)


_FRAMES_MARK = "\x00provenance frames\x00"  # no file name or tag holds NUL: not found elsewhere in a record


def _canonical_record(fp: Fingerprint, *, ensure_ascii: bool) -> str:
    """``json.dumps(to_jsonable(fp), sort_keys=True, separators=(",", ":"))``, the same text, with the
    frames (eight a second of an archived item) turned into text one at a time rather than all held
    as dicts at once."""
    def dumped(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)

    data = to_jsonable(dataclasses.replace(fp, frames=()))
    assert isinstance(data, dict)
    data["frames"] = _FRAMES_MARK
    text = dumped(data)
    mark = dumped(_FRAMES_MARK)
    if text.count(mark) != 1:  # never expected: then the plain way
        return dumped(to_jsonable(fp))
    before, after = text.split(mark)
    return "".join([before, "[", ",".join(dumped(to_jsonable(frame)) for frame in fp.frames), "]", after])


def is_storable_text(text: str) -> bool:
    """Whether ``text`` is valid Unicode that UTF-8 (and so SQLite) can hold: no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str) -> str:
    """``text`` as SQLite can hold it: bytes that are not UTF-8 (lone surrogates) written as ``\\xNN``.

    For columns kept for people and searches (names, paths); the exact name stays in the record JSON.
    """
    if is_storable_text(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def fingerprint_from_json(text: str | bytes) -> Fingerprint:
    """Parse a fingerprint from its JSON text. Raises ``RecordFormatError`` for malformed input."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordFormatError(f"not valid JSON: {exc}") from exc
    except RecursionError:
        raise RecordFormatError("not a fingerprint: its JSON is nested too deeply to read") from None
    return from_jsonable(Fingerprint, data)
