"""What a file's own structure says about how it was made: boxes, last writer, edit indicators, C2PA.

Modules, in the order the work flows: ``structure`` (the ISO BMFF / QuickTime box tree, read with
bounded reads), ``c2pa`` (Content Credentials, read offline), ``lastwriter`` (the software that
most likely wrote the file last, with its evidence), ``indicators`` (plain statements of what
suggests an edit), ``selfreport`` (all of them for one file: ``check --structure``).

    from provenance.forensics import self_report
    itself = self_report("clip.mp4", metadata)
"""

from __future__ import annotations

from provenance.forensics.selfreport import SelfReport, self_report

__all__ = ["SelfReport", "self_report"]
