"""Local features (ORB) of two frames a second, and their geometric matching.

Frame hashes see a whole picture, so they miss a crop, a picture-in-picture or a heavy overlay.
Local features survive those: keypoints of the query are matched to keypoints of archived frames,
and a robust fit (RANSAC) of an affine map between the two frames both confirms the match and
measures it: the map says which part of the archived picture the query shows (a crop) or where in
the query the archived picture sits (picture-in-picture, padding). A mirrored copy is found by
also matching the mirrored query.

Points are in the coordinates of the feature image (display aspect, long side ``FEATURE_SIDE``),
divided by its width and height, so 0..1 on both axes; the affine map is fitted in pixels of a
common square scale, which keeps aspect changes visible as unequal x and y scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORB_FEATURES = 700
RATIO = 0.8  # Lowe's ratio test on the two nearest descriptors
MIN_VOTES = 10  # descriptor matches an archived frame needs before a geometric fit is tried
MIN_INLIERS = 15  # RANSAC inliers for a frame pair to count as the same picture
MIN_INLIER_SHARE = 0.25
RANSAC_PIXELS = 0.015  # reprojection tolerance, as a share of the picture side
CANDIDATES_PER_FRAME = 3
SEARCH_DESCRIPTORS = 700  # the strongest keypoints of a query frame searched in the whole archive


GRID = 8  # the colour grid: GRID x GRID cells
GRID_CHANNELS = 5  # per cell: luma, detail (mean gradient), saturation, hue cos and sin (saturation-weighted)


@dataclass(frozen=True)
class FrameFeatures:
    """ORB keypoints of one frame: (K, 2) float32 points in 0..1, (K, 32) uint8 descriptors.

    ``grid`` (GRID, GRID, GRID_CHANNELS) float32 summarises tone and colour per cell, to tell colour
    grading from overlays when two frames are compared.
    """

    time: float
    points: np.ndarray
    descriptors: np.ndarray
    aspect: float  # width / height of the feature image
    grid: np.ndarray | None = None


@dataclass(frozen=True)
class FramePair:
    """A query frame and an archived frame that show the same picture, with the map between them."""

    query_time: float
    archive_row: int  # index into the archive's feature frames
    inliers: int
    mirrored: bool
    affine: np.ndarray  # 2x3, query 0..1 coordinates -> archive 0..1 coordinates
    query_inliers: np.ndarray  # (inliers, 2) float32: the query keypoints the map explains, 0..1


def colour_grid(rgb: np.ndarray) -> np.ndarray:
    """Per cell of a GRID x GRID split: luma, detail, saturation and the saturation-weighted hue vector."""
    import cv2

    small = cv2.resize(rgb, (GRID * 8, GRID * 8), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = np.abs(np.diff(luma, axis=0, append=luma[-1:])) + np.abs(np.diff(luma, axis=1, append=luma[:, -1:]))
    sat = hsv[..., 1] / 255.0
    angle = hsv[..., 0] / 256.0 * 2 * np.pi
    channels = np.stack([luma, detail, sat, sat * np.cos(angle), sat * np.sin(angle)], axis=-1)
    return channels.reshape(GRID, 8, GRID, 8, GRID_CHANNELS).mean(axis=(1, 3)).astype(np.float32)


def extract(frames: np.ndarray, times: np.ndarray, *, mirror: bool = False) -> tuple[FrameFeatures, ...]:
    """ORB features and colour grids of (M, h, w, 3) RGB frames; with ``mirror``, of the mirrored frames."""
    import cv2

    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=10)
    out = []
    for frame, t in zip(frames, times, strict=True):
        rgb = np.ascontiguousarray(frame[:, ::-1]) if mirror else frame
        image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
        h, w = image.shape
        keypoints, desc = orb.detectAndCompute(image, None)
        if desc is None or not keypoints:
            pts, desc = np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
        else:
            order = np.argsort([-k.response for k in keypoints], kind="stable")  # strongest first
            desc = desc[order]
            pts = (np.array([keypoints[i].pt for i in order], np.float32) / np.array([w, h], np.float32))
        grid = colour_grid(rgb) if rgb.ndim == 3 else None
        out.append(FrameFeatures(float(t), pts.astype(np.float32), desc, w / h, grid))
    return tuple(out)


def fit(query: FrameFeatures, archived: FrameFeatures, src: np.ndarray, dst: np.ndarray, row: int,
        mirrored: bool) -> FramePair | None:
    """RANSAC fit of matched points (0..1 coordinates) between two frames, or None if it fails."""
    import cv2

    src_px = src * np.array([query.aspect, 1.0], np.float32)  # same unit on both axes: the height
    dst_px = dst * np.array([archived.aspect, 1.0], np.float32)
    affine, mask = cv2.estimateAffine2D(src_px, dst_px, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS,
                                        maxIters=2000, confidence=0.995)
    if affine is None or mask is None:
        return None
    inliers = int(mask.sum())
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_SHARE * len(src):
        return None
    # judged in pixels, where a picture keeps its proportions: in 0..1 coordinates a 16:9 clip framed
    # in a 9:16 canvas is scaled three times more across than down
    if not plausible(affine):
        return None
    to_unit = np.diag([1 / archived.aspect, 1.0])
    unit = np.hstack([to_unit @ affine[:, :2] @ np.diag([query.aspect, 1.0]), (to_unit @ affine[:, 2])[:, None]])
    return FramePair(query.time, row, inliers, mirrored, unit, src[mask.ravel().astype(bool)])


def pair_frames(query: FrameFeatures, archived: FrameFeatures, row: int, mirrored: bool) -> FramePair | None:
    """Match two frames directly (brute force; for frames already known to correspond in time)."""
    import cv2

    if len(query.descriptors) < MIN_INLIERS or len(archived.descriptors) < MIN_INLIERS:
        return None
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, archived.descriptors, k=2)
    good = [(m[0].queryIdx, m[0].trainIdx) for m in knn if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < MIN_VOTES:
        return None
    qi = np.array([g[0] for g in good])
    ti = np.array([g[1] for g in good])
    return fit(query, archived, query.points[qi], archived.points[ti], row, mirrored)


def plausible(affine: np.ndarray) -> bool:
    """A map (in pixels) that edits produce: no shear or turn to speak of, a sane scale, proportions kept
    within a stretch of 2."""
    a, b, c, d = affine[0, 0], affine[0, 1], affine[1, 0], affine[1, 1]
    return 0.12 <= a <= 8 and 0.12 <= d <= 8 and abs(b) < 0.1 * a + 0.05 and abs(c) < 0.1 * d + 0.05 \
        and 0.5 <= a / d <= 2.0


def mapped_box(affine: np.ndarray) -> tuple[float, float, float, float]:
    """Where the query frame's corners land in the archived frame: (left, top, right, bottom) in 0..1."""
    corners = np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]], np.float64).T
    pts = affine @ corners
    return float(pts[0].min()), float(pts[1].min()), float(pts[0].max()), float(pts[1].max())


def inverse_box(affine: np.ndarray) -> tuple[float, float, float, float]:
    """Where the archived frame's corners land in the query frame: (left, top, right, bottom) in 0..1."""
    full = np.vstack([affine, [0, 0, 1]])
    return mapped_box(np.linalg.inv(full)[:2])
