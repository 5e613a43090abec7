"""Ed25519 keys and signatures for evidence reports (with the ``cryptography`` package).

Keys are PEM files: the private key as unencrypted PKCS#8, written with mode 0600 and never
overwritten; the public key as SubjectPublicKeyInfo. A report's signature block signs the
canonical form of the report without that block (see ``provenance.canonical``) and
carries the public key, so anyone can check it. That only shows the report is as *some* key signed
it: whether that key is trusted is ``provenance.evidence.trust``'s question (``--key`` pins one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance.canonical import CANONICALIZATION, SIGNATURE_KEY, canonical_bytes, canonical_digest
from provenance.errors import ReportIntegrityError, UsageError

ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class KeyFiles:
    """A key pair written by ``generate_key_pair``."""

    private_key: str
    public_key: str
    key_id: str


@dataclass(frozen=True)
class SignatureInfo:
    """A signature that verified: which key made it, and the digest it covers."""

    key_id: str
    signed_digest: str
    pinned: bool  # True when checked against a key the verifier gave, not only the embedded one


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 (hex) of its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def key_file_names(prefix: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The private and public key paths for ``prefix``: ``PREFIX.key`` and ``PREFIX.pub``."""
    base = Path(prefix).expanduser()
    return base.with_name(base.name + ".key"), base.with_name(base.name + ".pub")


def generate_key_pair(prefix: str | os.PathLike[str]) -> KeyFiles:
    """Make an Ed25519 key pair: ``PREFIX.key`` (private, mode 0600) and ``PREFIX.pub``.

    Raises ``UsageError`` when either file exists (a signing key is never overwritten) or the
    folder cannot be written.
    """
    private_path, public_path = key_file_names(prefix)
    for path in (private_path, public_path):
        if path.exists():
            raise UsageError(f"{path} exists: a key is never overwritten; choose another name or move it away")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never follow or replace a file that appeared meanwhile; 0600 from the first byte
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, private_pem)
        finally:
            os.close(fd)
        with open(public_path, "xb") as handle:
            handle.write(public_pem)
    except FileExistsError as exc:
        raise UsageError(f"{exc.filename} exists: a key is never overwritten") from None
    except OSError as exc:
        raise UsageError(f"cannot write the key pair {private_path}: {exc.strerror or exc}") from None
    return KeyFiles(str(private_path), str(public_path), key_id(key.public_key()))


def _read_pem(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no such key file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read the key file {path}: {exc.strerror or exc}") from None


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path`` (as written by ``provenance keygen``)."""
    data = _read_pem(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise UsageError(f"{path} is an encrypted key; give an unencrypted Ed25519 key (provenance keygen)") from None
    except ValueError:
        raise UsageError(f"{path} is not a PEM private key: give the .key file made by `provenance keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key: make one with `provenance keygen`")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file ``path``; a private key file gives its public half."""
    data = _read_pem(path)
    key: object
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise UsageError(f"{path} is not a PEM public key: give the .pub file made by `provenance keygen`") \
                from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path} is not an Ed25519 key")
    return key


def sign_record(record: Mapping[str, object], private_key: Ed25519PrivateKey) -> dict[str, object]:
    """A copy of ``record`` with a ``signature`` block over its canonical form (any old block replaced)."""
    payload = canonical_bytes(record)
    public = private_key.public_key()
    block = {
        "algorithm": ALGORITHM,
        "canonicalization": CANONICALIZATION,
        "covers": "the canonical form of the whole report without this signature block",
        "public_key": base64.b64encode(
            public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode("ascii"),
        "key_id": key_id(public),
        "signed_digest": canonical_digest(record),
        "value": base64.b64encode(private_key.sign(payload)).decode("ascii"),
    }
    signed = {k: v for k, v in record.items() if k != SIGNATURE_KEY}
    signed[SIGNATURE_KEY] = block
    return signed


def check_signature(record: Mapping[str, object], expected: Ed25519PublicKey | None = None) -> SignatureInfo | None:
    """Verify the signature block of ``record``; None when the record carries none.

    With ``expected``, the signature must also have been made by that key. Raises
    ``ReportIntegrityError`` with a message that says what failed.
    """
    block = record.get(SIGNATURE_KEY)
    if block is None:
        return None
    if not isinstance(block, dict) or block.get("algorithm") != ALGORITHM:
        raise ReportIntegrityError("report altered: its signature block is malformed or not Ed25519")
    try:
        raw_key = base64.b64decode(str(block["public_key"]), validate=True)
        value = base64.b64decode(str(block["value"]), validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(raw_key)
    except (KeyError, ValueError, binascii.Error):
        raise ReportIntegrityError("report altered: its signature block is malformed (key or value)") from None
    if block.get("key_id") != key_id(embedded):
        raise ReportIntegrityError("report altered: the signature block's key id does not match its public key")
    if expected is not None and key_id(expected) != key_id(embedded):
        raise ReportIntegrityError(
            f"wrong key: the report is signed by key {key_id(embedded)[:16]}, not by the given key "
            f"{key_id(expected)[:16]}"
        )
    digest = canonical_digest(record)
    try:
        embedded.verify(value, canonical_bytes(record))
    except InvalidSignature:
        changed = " (its content no longer has the signed digest)" if block.get("signed_digest") != digest else ""
        raise ReportIntegrityError(f"report altered or signature invalid: the signature does not match the "
                                   f"report's content{changed}") from None
    return SignatureInfo(key_id=key_id(embedded), signed_digest=digest, pinned=expected is not None)
