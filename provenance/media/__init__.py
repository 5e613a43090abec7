"""What a file is and what it says of itself: identity hashes, container and stream metadata, EXIF, places.

Modules, in the order the work flows: ``source`` (the file opened once, read-only, and named to
ffprobe and ffmpeg by its descriptor), ``identity`` (SHA-256, SHA-1, MD5 in one read-only pass, and
the file system times), ``probe`` (ffprobe's container, stream and tag metadata, normalised),
``exif`` (the EXIF block of a still), ``location`` (ISO 6709 strings and EXIF GPS as places),
``display`` (the picture's size as a player shows it), ``sniff`` (what a file's first bytes say it is).

    from provenance.media import file_identity, probe
    metadata = probe("clip.mp4")
"""

from __future__ import annotations

from provenance.media.display import display_dims
from provenance.media.identity import file_identity, validate_input_path
from provenance.media.probe import probe
from provenance.media.source import MediaSource

__all__ = ["MediaSource", "display_dims", "file_identity", "probe", "validate_input_path"]
