"""The picture's size as a player shows it: the stream's size with its pixel aspect and rotation applied."""

from __future__ import annotations

from provenance.model import Metadata


def display_dims(metadata: Metadata) -> tuple[int, int]:
    """Width and height of the picture as a player shows it (rotation and pixel aspect applied)."""
    stream = metadata.video_stream
    if stream is None or not stream.width or not stream.height:
        return 640, 360
    width, height = stream.width, stream.height
    sar = stream.sample_aspect_ratio
    if sar and ":" in sar:
        num, den = (int(x) for x in sar.split(":", 1))
        if num > 0 and den > 0 and num != den:
            width = round(width * num / den)
    quarter_turn = stream.rotation is not None and round(abs(stream.rotation)) % 180 == 90
    # EXIF orientations 5..8 turn a still by a quarter; ffmpeg applies them when decoding
    exif_turn = metadata.exif is not None and (metadata.exif.orientation or 1) >= 5
    if quarter_turn or exif_turn:
        width, height = height, width
    return width, height
