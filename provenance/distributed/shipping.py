"""Files sent to Dask workers that do not see them (``--ship``): the bytes checked, a private copy, and a
record that tells of the evidence file, not of the copy.

The client reads a file, read-only, and sends its bytes with the SHA-256 and identity it computed. The
worker checks the bytes against that SHA-256 (``shipped_copy`` raises ``ShippedDamaged`` when they
differ), writes them to a temporary file only it reads, analyses that file, and deletes it.
``as_evidence`` then gives the fingerprint the evidence file has: its identity as the client read it,
ffprobe's ``filename`` as a local run records it (``file:`` and the evidence's path), and messages that
name the evidence's path instead of the copy's.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from provenance.errors import ProvenanceError, UsageError
from provenance.model import FileIdentity, Fingerprint

DAMAGED = ("the bytes the worker received do not have the SHA-256 this machine computed: the file changed since "
           "it was hashed, or the transfer damaged it: rerun")


class ShippedDamaged(ProvenanceError):
    """The bytes a worker received differ from the file the client hashed."""


def refuse_ship_without_dask(ship: bool, dask: str | None) -> None:
    """``UsageError`` for ``--ship`` without ``--dask``: there is no worker to send the files to."""
    if ship and dask is None:
        raise UsageError("--ship sends the files to Dask workers: give --dask too")


def bytes_to_send(path: str) -> bytes:
    """Every byte of the file at ``path``, read here, read-only, to send to a worker; ``ProvenanceError``
    in one line when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ProvenanceError(f"cannot read the file to send it: {exc.strerror or exc}") from exc


@contextmanager
def shipped_copy(data: bytes, sha256: str, name: str) -> Iterator[str]:
    """A private temporary file holding ``data`` (checked against ``sha256`` first), deleted on leaving."""
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ShippedDamaged(DAMAGED)
    with tempfile.TemporaryDirectory(prefix="provenance-shipped-") as folder:
        copy = Path(folder) / f"evidence{_safe_suffix(name)}"
        copy.write_bytes(data)
        yield str(copy)


def _safe_suffix(name: str) -> str:
    suffix = Path(name).suffix
    return suffix if len(suffix) <= 8 and suffix[1:].isalnum() else ""


def told(text: str | None, copy: str, identity: FileIdentity) -> str | None:
    """``text`` (a message about the copy) naming the evidence's path instead."""
    return None if text is None else text.replace(copy, identity.path)


def as_evidence(fp: Fingerprint, copy: str, identity: FileIdentity) -> Fingerprint:
    """The fingerprint of the copy at ``copy`` as that of the evidence file read as ``identity``."""
    probe = fp.metadata.raw_probe
    if probe:
        data = json.loads(probe)
        if isinstance(data.get("format"), dict):
            data["format"]["filename"] = "file:" + identity.path
        probe = json.dumps(data, sort_keys=True)
    return replace(fp, identity=identity, metadata=replace(fp.metadata, raw_probe=probe),
                   warnings=tuple(told(w, copy, identity) or "" for w in fp.warnings))
