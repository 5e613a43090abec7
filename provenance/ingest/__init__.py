"""Footage into the archive: ``archive add`` with its sightings, yt-dlp sidecars, hash-bank lists.

Modules, in the order the work flows: ``sidecar`` (the ``.info.json`` yt-dlp writes beside a
download, as a sighting), ``add`` (fingerprint files and record them with their sightings, logging
custody), ``interop`` (PDQ and vPDQ hash lines in and out, as ThreatExchange uses them), ``pictures``
(``archive pictures``: pictures for items archived before the archive kept them, logging custody).
``telegram`` reads a Telegram Desktop export (result.json) and imports its media with their posts'
sightings; ``filename_dates`` reads the date a Telegram export's or a marked yt-dlp file name carries.
``warc`` imports the video and picture records of a WARC or WACZ web archive, each with its record's
sighting (URI, date, record id, page).
``provenance.platforms`` (below the stages: the archive's migrations use it too) normalises platform
names (yt-dlp extractors, URLs, options) to one vocabulary. ``fetch`` downloads with yt-dlp
(``provenance fetch``), hashes each file and gives it its sighting.

    from provenance.ingest import add_files
    result = add_files("cases.sqlite", ["old.mp4"])
"""

from __future__ import annotations

from provenance.ingest.add import ARCHIVE_FPS, AddReport, add_files

__all__ = ["ARCHIVE_FPS", "AddReport", "add_files"]
