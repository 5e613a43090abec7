"""Which signing keys a verifier trusts: the keys given with ``--key``, else those in the trusted-keys file.

A valid signature proves only that someone signed: anyone can make a key pair and sign an edited
report with it. It means something when the key is one the verifier already trusts, which is said
here. The trusted-keys file is ``$XDG_CONFIG_HOME/provenance/trusted_keys`` (by default
``~/.config/provenance/trusted_keys``); like ssh's ``known_hosts``, one key per line::

    ed25519 <base64 of the 32 raw public-key bytes> <comment: whose key it is, any text>

Blank lines and lines starting with ``#`` are ignored. ``provenance keygen`` prints the line of the
key it makes. The line holds the key itself (the same text as a signature block's ``public_key``),
so it can be compared by eye with a report; its key id is the SHA-256 of those 32 bytes.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from provenance.errors import UnsignedReportError, UntrustedKeyError, UsageError
from provenance.evidence.signing import SignatureInfo, key_id, load_public_key

KEY_TYPE = "ed25519"
"""The first field of a trusted-keys line."""

FILE_NAME = "trusted_keys"


@dataclass(frozen=True)
class TrustedKey:
    """One key the verifier trusts, and where that trust was said."""

    key_id: str
    comment: str
    source: str  # e.g. "the given key desk.pub" or "trusted_keys line 3"


@dataclass(frozen=True)
class TrustedKeys:
    """The keys a signature may be by for the verifier to accept it."""

    keys: tuple[TrustedKey, ...]
    source: str  # the trusted-keys file's path, or "--key"
    given: bool  # True when the keys were given with --key (the file is then not consulted)

    def find(self, signer_key_id: str) -> TrustedKey | None:
        """The trusted key with id ``signer_key_id``, or None when it is not trusted."""
        return next((k for k in self.keys if k.key_id == signer_key_id), None)


def trusted_keys_path() -> Path:
    """``$XDG_CONFIG_HOME/provenance/trusted_keys``, by default ``~/.config/provenance/trusted_keys``."""
    config_home = os.environ.get("XDG_CONFIG_HOME")
    # the XDG spec: a relative value is invalid and ignored
    base = Path(config_home) if config_home and os.path.isabs(config_home) else Path.home() / ".config"
    return base / "provenance" / FILE_NAME


def trusted_key_line(public_key: Ed25519PublicKey, comment: str) -> str:
    """The trusted-keys line of ``public_key``: ``ed25519 BASE64 comment`` (the comment on one line)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    text = " ".join(comment.split())
    return f"{KEY_TYPE} {base64.b64encode(raw).decode('ascii')}" + (f" {text}" if text else "")


def parse_trusted_keys(text: str, source: str) -> tuple[TrustedKey, ...]:
    """The keys listed in ``text`` (a trusted-keys file read from ``source``); ``UsageError`` for a bad line."""
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = re.split(r"\s+", stripped, maxsplit=2)
        try:
            if fields[0].lower() != KEY_TYPE or len(fields) < 2:
                raise ValueError
            raw = base64.b64decode(fields[1], validate=True)
            public = Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, binascii.Error):
            raise UsageError(f"{source} line {number} is not a trusted key: write 'ed25519 BASE64KEY comment' "
                             "(provenance keygen prints the line)") from None
        keys.append(TrustedKey(key_id(public), fields[2] if len(fields) > 2 else "",
                               f"{Path(source).name} line {number}"))
    return tuple(keys)


def load_trusted_keys(path: str | os.PathLike[str] | None = None) -> TrustedKeys:
    """The keys in the trusted-keys file (``trusted_keys_path()`` unless ``path``); none when it does not exist."""
    target = Path(path) if path is not None else trusted_keys_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return TrustedKeys((), str(target), given=False)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read the trusted keys file {target}: {reason}") from None
    return TrustedKeys(parse_trusted_keys(text, str(target)), str(target), given=False)


def given_keys(paths: Sequence[str | os.PathLike[str]]) -> TrustedKeys:
    """The public keys in the PEM files ``paths`` (``--key``), trusted in place of the file's."""
    keys = tuple(TrustedKey(key_id(load_public_key(p)), Path(p).name, f"the given key {Path(p).name}") for p in paths)
    return TrustedKeys(keys, "--key", given=True)


def trusted(paths: Sequence[str | os.PathLike[str]] = (), file: str | os.PathLike[str] | None = None) -> TrustedKeys:
    """The keys given (``--key`` files) when there are any, else the trusted-keys file's."""
    return given_keys(paths) if paths else load_trusted_keys(file)


def untrusted_hint(keys: TrustedKeys) -> str:
    """What to do about a key that is not trusted, given where trust came from."""
    if keys.given:
        return "it is not a key given with --key"
    return f"give --key PUB, or add the key's line to {keys.source} (`provenance keygen` prints it)"


def require_trusted(signature: SignatureInfo | None, keys: TrustedKeys, what: str) -> TrustedKey:
    """The trusted key that made ``signature`` (of ``what``, e.g. "checkpoint c.json").

    Raises ``UnsignedReportError`` without a signature and ``UntrustedKeyError`` when the key is not trusted.
    """
    if signature is None:
        raise UnsignedReportError(f"{what} is not signed: its content cannot be checked")
    found = keys.find(signature.key_id)
    if found is None:
        raise UntrustedKeyError(f"{what}: signature valid but by an untrusted key {signature.key_id[:16]}: "
                                f"{untrusted_hint(keys)}")
    return found
