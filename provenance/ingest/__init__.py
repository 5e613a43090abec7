"""Footage into the archive: ``archive add`` with its sightings, yt-dlp sidecars, hash-bank lists.

Modules, in the order the work flows: ``sidecar`` (the ``.info.json`` yt-dlp writes beside a
download, as a sighting), ``add`` (fingerprint files and record them with their sightings, logging
custody), ``interop`` (PDQ and vPDQ hash lines in and out, as ThreatExchange uses them), ``pictures``
(``archive pictures``: pictures for items archived before the archive kept them, logging custody).

    from provenance.ingest import add_files
    result = add_files("cases.sqlite", ["old.mp4"])
"""

from __future__ import annotations

from provenance.ingest.add import ARCHIVE_FPS, AddReport, add_files

__all__ = ["ARCHIVE_FPS", "AddReport", "add_files"]
