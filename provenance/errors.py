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
    """A report was changed after signing, its signature is bad or by another key, or it is not signed."""

    exit_code = 7


class TimestampError(ProvenanceError):
    """An RFC 3161 time-stamp token is missing, does not verify against the CA, or is for other data."""

    exit_code = 8


class CustodyChainError(ProvenanceError):
    """The archive's custody log chain is broken: an entry was deleted, edited or inserted."""

    exit_code = 9


EXIT_CODES = {
    0: "success (a check that finds no match is a success)",
    1: "a match was found and --fail-on-match was given",
    2: "usage error: bad option, or the input path is missing or not a file",
    3: "ffmpeg/ffprobe not installed (Debian: apt-get install ffmpeg)",
    4: "unreadable media: empty, not a video or image, no read permission, absurd dimensions",
    5: "archive error: cannot open, unknown schema version, or a write failed",
    6: "verify: the evidence file was altered (its hashes differ from the report's)",
    7: "verify: the report was altered, its signature is invalid or by another key, or it is unsigned",
    8: "verify: the RFC 3161 time-stamp token is missing or does not verify",
    9: "custody --verify: the custody log's hash chain is broken (an entry was deleted or edited)",
}
