"""A fingerprint matched against archived frames: candidates, time lines, verdicts, edits, first appearance.

Modules, in the order the work flows: ``lines`` (the speed and offset that map query time to
archive time, and their segments), ``verdict`` (coverage both ways, and the one function that
names the verdict), ``align`` (candidates from the index and the hash matches per item, with the
edits they reveal), ``extend`` (a hash match's segments carried on along their time lines while
local features confirm them), ``geometry`` (matches by local features: crops, insets, and the
geometry of hash matches), ``against_archive`` (the whole search against an archive on disk), ``appearance``
(the earliest known appearance against what is claimed).

    from provenance.match import match_against
    matches = match_against(analysis, "cases.sqlite")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from provenance.match.against_archive import match_against
    from provenance.match.align import match_fingerprint
    from provenance.match.appearance import earliest_appearance
    from provenance.match.verdict import VERDICTS, verdict

__all__ = ["VERDICTS", "earliest_appearance", "match_against", "match_fingerprint", "verdict"]

# Imported on first use, so that importing one submodule (``check`` without an archive needs
# ``verdict`` and ``appearance``) does not import the archive search and its feature index.
_HOMES = {
    "VERDICTS": "provenance.match.verdict",
    "earliest_appearance": "provenance.match.appearance",
    "match_against": "provenance.match.against_archive",
    "match_fingerprint": "provenance.match.align",
    "verdict": "provenance.match.verdict",
}


def __getattr__(name: str) -> Any:
    """One of the public names above, imported from its module when first asked for."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
