"""Image work on the frames beyond hashes: local features, colour and tone, overlays.

Modules, in the order the work flows: ``features`` (ORB keypoints of two frames a second and their
geometric matching), ``tone`` (colour grading and insets from the colour grids of frames that show
the same moment), ``overlays`` (captions, logos and tickers fixed on the query).
"""

from __future__ import annotations

from provenance.vision.features import FEATURE_FPS, FrameFeatures, FramePair

__all__ = ["FEATURE_FPS", "FrameFeatures", "FramePair"]
