"""The rate and size of the feature images: the frames local features are found in.

Apart from the numpy and OpenCV work of ``features``, so that a decode can be planned (and started,
``provenance.sampling``) before either is imported.
"""

from __future__ import annotations

FEATURE_FPS = 2.0  # feature frames per second (a subset of the hash samples)
FEATURE_SIDE = 640  # long side of the feature image, in pixels


def feature_size(width: int, height: int) -> tuple[int, int]:
    """The feature image size for a picture of ``width`` x ``height``: long side at most FEATURE_SIDE, even."""
    scale = min(1.0, FEATURE_SIDE / max(width, height, 1))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
