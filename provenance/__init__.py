"""provenance: offline video provenance and verification.

Public API (imports are lazy so that ``provenance --help`` stays fast)::

    from provenance import check, fingerprint, open_archive
    report = check("clip.mp4", archive="cases.sqlite")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provenance.version import __version__

__all__ = ["__version__", "check", "fingerprint", "open_archive"]

if TYPE_CHECKING:  # pragma: no cover
    from provenance.archive import open_archive
    from provenance.checking import check
    from provenance.fingerprinting import fingerprint


def __getattr__(name: str) -> Any:
    if name == "check":
        from provenance.checking import check

        return check
    if name == "fingerprint":
        from provenance.fingerprinting import fingerprint

        return fingerprint
    if name == "open_archive":
        from provenance.archive import open_archive

        return open_archive
    raise AttributeError(name)
