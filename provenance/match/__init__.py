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

from provenance.match.against_archive import match_against
from provenance.match.align import match_fingerprint
from provenance.match.appearance import earliest_appearance
from provenance.match.verdict import VERDICTS, verdict

__all__ = ["VERDICTS", "earliest_appearance", "match_against", "match_fingerprint", "verdict"]
