"""Errors the library raises. Each message says what went wrong and what to do about it.

The CLI maps each class to a documented exit code (see ``EXIT_CODES``).
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base class: a problem the user can act on. ``exit_code`` is the CLI's exit status."""

    exit_code = 1


class UsageError(ProvenanceError):
    """The command was given something it cannot work with (bad option value, missing path)."""

    exit_code = 2


class MissingToolError(ProvenanceError):
    """An external program (ffmpeg/ffprobe) is not installed."""

    exit_code = 3


class MuxerRefusedError(MissingToolError):
    """This ffmpeg refused an output format the decode asked for: it was built without that muxer."""

    def __init__(self, message: str, muxer: str) -> None:
        super().__init__(message)
        self.muxer = muxer  # the format's name, as ffmpeg knows muxers


class UnreadableMediaError(ProvenanceError):
    """The input exists but is not media we can read: empty, not a video/image, unreadable, absurd."""

    exit_code = 4


class ArchiveError(ProvenanceError):
    """The archive cannot be opened, is of an unknown schema, or a write failed."""

    exit_code = 5


class EvidenceAlteredError(ProvenanceError):
    """The evidence file's bytes no longer match the hashes its report records."""

    exit_code = 6


class ReportIntegrityError(ProvenanceError):
    """A report or its page was changed after signing, or its signature is bad or by another key."""

    exit_code = 7


class TimestampError(ProvenanceError):
    """An RFC 3161 time-stamp token is missing, does not verify against the CA, or is for other data."""

    exit_code = 8


class CustodyChainError(ProvenanceError):
    """The custody log's chain is broken (an entry deleted, edited or inserted) or disagrees with an anchor."""

    exit_code = 9


class UntrustedKeyError(ProvenanceError):
    """A signature is valid but by a key the verifier does not trust (not given with --key, not in trusted_keys)."""

    exit_code = 10


class UnsignedReportError(ProvenanceError):
    """A report (or custody checkpoint) carries no signature, so its content cannot be checked."""

    exit_code = 11


class FetchError(ProvenanceError):
    """yt-dlp could not fetch a URL (not found, no video on the page, the network refused)."""

    exit_code = 12


EXIT_CODES = {
    0: "success (a check that finds no match is a success)",
    1: "a match was found and --fail-on-match was given",
    2: "usage error: bad option, or the input path is missing or not a file",
    3: "ffmpeg/ffprobe not installed (Debian: apt-get install ffmpeg)",
    4: "unreadable media: empty, not a video or image, no read permission, absurd dimensions",
    5: "archive error: cannot open, unknown schema version, or a write failed",
    6: "verify: the evidence file was altered (its hashes differ from the report's)",
    7: "verify: the report or its page was altered, or its signature is invalid or by another key",
    8: "verify: the RFC 3161 time-stamp token is missing or does not verify",
    9: "custody --verify: the custody log's hash chain is broken (an entry was deleted or edited), or it "
       "disagrees with a checkpoint or report given (wiped, truncated or rebuilt)",
    10: "verify, custody --verify: the signature is valid but by an untrusted key (give --key or list it in "
        "trusted_keys)",
    11: "verify, custody --verify: the report or checkpoint is not signed (verify --allow-unsigned checks the file "
        "only)",
    12: "fetch: one or more URLs could not be fetched (each reason printed; the others were fetched)",
}
