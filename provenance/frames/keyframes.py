"""Write each shot's keyframe as a JPEG, at display size, plus a labelled contact sheet.

The keyframes are decoded again at full size with the same ``fps`` filter as the fingerprint,
selecting exactly the chosen sample numbers, so a keyframe is the very frame that was hashed.
They are meant for reverse image search, so they are written upright (rotation applied) and at
the display aspect ratio. Files go only into the folder the user names.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from provenance.errors import UsageError
from provenance.frames.decode import decode_frames
from provenance.media.display import display_dims
from provenance.model import Fingerprint, KeyframeImage
from provenance.times import timestamp_label

MAX_SIDE = 1920  # keyframes larger than this are shrunk; search engines gain nothing above it
SHEET_COLUMNS = 5
SHEET_CELL_WIDTH = 320
JPEG_QUALITY = 92


def display_size(fp: Fingerprint) -> tuple[int, int]:
    """The keyframe size: the display size, shrunk to at most ``MAX_SIDE``."""
    width, height = display_dims(fp.metadata)
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise UsageError(f"could not encode {path.name} as JPEG")
    path.write_bytes(buf.tobytes())


def contact_sheet(images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """A grid of thumbnails, each with its label under it, as one RGB image."""
    import cv2

    cell_w = SHEET_CELL_WIDTH
    thumbs = []
    for img in images:
        h, w = img.shape[:2]
        thumbs.append(cv2.resize(img, (cell_w, max(1, round(h * cell_w / w))), interpolation=cv2.INTER_AREA))
    cell_h = max(t.shape[0] for t in thumbs) + 24
    cols = min(SHEET_COLUMNS, len(thumbs))
    rows = math.ceil(len(thumbs) / cols)
    sheet = np.full((rows * cell_h, cols * cell_w, 3), 32, dtype=np.uint8)
    for i, (thumb, label) in enumerate(zip(thumbs, labels, strict=True)):
        y, x = (i // cols) * cell_h, (i % cols) * cell_w
        sheet[y : y + thumb.shape[0], x : x + cell_w] = thumb
        cv2.putText(sheet, label, (x + 6, y + cell_h - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return sheet


def write_keyframes(path: str, fp: Fingerprint, out_dir: str) -> tuple[tuple[KeyframeImage, ...], str]:
    """Decode the keyframes of ``fp`` from ``path`` and write them and a contact sheet into ``out_dir``.

    Returns the images written and the contact sheet's path. ``out_dir`` is created if missing.
    """
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--keyframes {out_dir}: not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    width, height = display_size(fp)
    samples = tuple(sorted({shot.keyframe_sample for shot in fp.shots}))
    if not samples:
        return (), ""
    if fp.is_still:
        decoded = decode_frames(path, fps=None, width=width, height=height, color=True, max_frames=1)
        pictures = {0: decoded.pixels[0]}
    else:
        decoded = decode_frames(path, fps=fp.params.fps, width=width, height=height, color=True, select=samples,
                                keyframes_only=fp.params.keyframes_only)
        pictures = dict(zip(samples, decoded.pixels, strict=False))
    stem = f"{fp.identity.sha256[:12]}"
    written: list[KeyframeImage] = []
    images, labels = [], []
    for shot in fp.shots:
        picture = pictures.get(shot.keyframe_sample)
        if picture is None:
            continue
        name = f"{stem}_shot{shot.index + 1:03d}_t{timestamp_label(shot.keyframe_time)}.jpg"
        _write_jpeg(folder / name, picture)
        written.append(KeyframeImage(shot=shot.index, time=shot.keyframe_time, path=str(folder / name)))
        images.append(picture)
        labels.append(f"#{shot.index + 1}  {timestamp_label(shot.keyframe_time).replace('-', ':')}")
    sheet_path = folder / f"{stem}_contact_sheet.jpg"
    _write_jpeg(sheet_path, contact_sheet(images, labels))
    return tuple(written), str(sheet_path)
