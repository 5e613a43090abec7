"""Write each shot's keyframe as a JPEG, at display size, plus a labelled contact sheet.

The keyframes are decoded again at full size with the same ``fps`` filter as the fingerprint,
selecting exactly the chosen sample numbers, so a keyframe is the very frame that was hashed.
They are meant for reverse image search, so they are written upright (rotation applied), at the
display aspect ratio, and cut to the shot's content box: the picture without the letterbox or
pillarbox bars, or the blurred padding, that the fingerprint also cut away (a search engine
matches the picture, not the padding). Where a box was cut, the whole frame is written beside it
(``..._full.jpg``). The contact sheet shows the cut keyframes under a header naming the file, its
SHA-256 and its duration, so a printed sheet says what it was made from. The keyframes are
decoded from the check's open file (a ``MediaSource``), the very bytes the fingerprint describes,
never from the name again.

Files go only into the folder the user names, and never into the evidence's own folder unless the
user says so (``beside``). Their names are predictable (the SHA-256 and the shot times), so each
JPEG is encoded in memory and written under a new temporary name, then renamed into place: a link
planted at a keyframe's name is replaced, never written through. All the files are written or none
(a failure removes what was written), and the folder is created only when there is something to
put in it.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
from pathlib import Path

import numpy as np

from provenance.errors import UsageError
from provenance.files import write_all_atomic
from provenance.frames.borders import box_pixels
from provenance.frames.decode import decode_frames
from provenance.media.display import display_dims
from provenance.media.source import MediaSource
from provenance.model import ContentBox, Fingerprint, KeyframeImage
from provenance.times import timestamp_label

MAX_SIDE = 1920  # keyframes larger than this are shrunk; search engines gain nothing above it
SHEET_COLUMNS = 5
SHEET_CELL_WIDTH = 320
SHEET_CELL_HEIGHT = 320  # a tall (portrait) keyframe is shrunk to fit this, so one cell does not stretch a row
SHEET_MIN_WIDTH = 640  # room for the header's SHA-256 even when there are one or two shots
JPEG_QUALITY = 92
BAR_FLAT_STD = 6.0  # grey levels: a line left over from a bar is as flat as borders.FLAT_STD_VIDEO asks ...
BAR_TONE = 8.0  # ... and within this of the bar's outermost line


def display_size(fp: Fingerprint) -> tuple[int, int]:
    """The keyframe size: the display size, shrunk to at most ``MAX_SIDE``."""
    width, height = display_dims(fp.metadata)
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _jpeg(name: str, rgb: np.ndarray) -> bytes:
    """The JPEG bytes of an RGB picture (encoded in memory: nothing is written by OpenCV)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise UsageError(f"could not encode {name} as JPEG")
    return bytes(buf.tobytes())


def _same_folder(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def keyframes_folder(evidence: str, out_dir: str, *, beside: bool = False) -> Path:
    """The folder to write ``evidence``'s keyframes into: ``out_dir``, checked (nothing is created here).

    Raises UsageError when ``out_dir`` is something other than a folder, or is the folder that holds
    the evidence (by the name given or, when that is a link, by the file's real place), unless
    ``beside``. Folders are compared by device and inode, so another spelling or a link to the
    evidence's folder is recognised.
    """
    folder = Path(out_dir)
    try:
        found = os.stat(folder)
    except FileNotFoundError:
        return folder  # a folder still to be made holds no evidence
    except OSError as exc:
        raise UsageError(f"--keyframes {out_dir}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(found.st_mode):
        raise UsageError(f"--keyframes {out_dir}: not a folder")
    if beside:
        return folder
    absolute = os.path.abspath(evidence)
    for home in {os.path.dirname(absolute), os.path.dirname(os.path.realpath(absolute))}:
        with contextlib.suppress(OSError):
            if _same_folder(found, os.stat(home)):
                raise UsageError(f"--keyframes {out_dir} is the folder that holds the evidence; nothing is "
                                 "written beside evidence unless --beside is given")
    return folder


def content_crop(picture: np.ndarray, box: ContentBox) -> np.ndarray:
    """``picture`` cut to ``box`` (fractions of the frame), then rid of what is left of flat bars.

    The box comes from the working frames, so its edges are known to one working pixel: a few
    display pixels of a black bar can remain inside it. On each side where a box edge was found, the
    lines just inside it that are flat and of the bar's tone (its outermost line's) are peeled too;
    blurred padding is not flat, and its box edge is kept as it is.
    """
    if box.is_full:
        return picture
    height, width = picture.shape[:2]
    x0, y0, x1, y1 = box_pixels(box, width, height)
    grey = picture.astype(np.float32).mean(axis=2)
    reach_x, reach_y = math.ceil(width / 64) + 1, math.ceil(height / 64) + 1  # two pixels of a 128 working frame

    def bar_like(line: np.ndarray, outer: np.ndarray) -> bool:
        return bool(line.std() <= BAR_FLAT_STD and outer.std() <= BAR_FLAT_STD
                    and abs(line.mean() - outer.mean()) <= BAR_TONE)

    left, top, right, bottom = x0, y0, x1, y1
    while 0 < x0 < min(x1 - 1, left + reach_x) and bar_like(grey[y0:y1, x0], grey[:, 0]):
        x0 += 1
    while width > x1 > max(x0 + 1, right - reach_x) and bar_like(grey[y0:y1, x1 - 1], grey[:, -1]):
        x1 -= 1
    while 0 < y0 < min(y1 - 1, top + reach_y) and bar_like(grey[y0, x0:x1], grey[0]):
        y0 += 1
    while height > y1 > max(y0 + 1, bottom - reach_y) and bar_like(grey[y1 - 1, x0:x1], grey[-1]):
        y1 -= 1
    return np.ascontiguousarray(picture[y0:y1, x0:x1])


def sheet_header(name: str, sha256: str, duration: float, is_still: bool) -> list[str]:
    """The contact sheet's header lines: the file's name (non-ASCII letters shown as ?), SHA-256, duration."""
    shown = "".join(c if " " <= c <= "~" else "?" for c in name)
    length = "still image" if is_still else f"duration {duration:.3f} s ({timestamp_label(duration).replace('-', ':')})"
    return [f"file {shown}", f"SHA-256 {sha256}", length]


def contact_sheet(images: list[np.ndarray], labels: list[str], header: list[str] | None = None) -> np.ndarray:
    """A grid of thumbnails, each with its label under it, as one RGB image, under ``header``'s lines."""
    import cv2

    cell_w = SHEET_CELL_WIDTH
    thumbs = []
    for img in images:
        h, w = img.shape[:2]
        scale = min(cell_w / w, SHEET_CELL_HEIGHT / h)
        thumbs.append(cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                                 interpolation=cv2.INTER_AREA))
    cell_h = max(t.shape[0] for t in thumbs) + 24
    cols = min(SHEET_COLUMNS, len(thumbs))
    rows = math.ceil(len(thumbs) / cols)
    lines = header or []
    font, line_h = cv2.FONT_HERSHEY_SIMPLEX, 22
    text_w = max((cv2.getTextSize(line, font, 0.5, 1)[0][0] for line in lines), default=0) + 12
    width = max(cols * cell_w, SHEET_MIN_WIDTH if lines else 0, min(text_w, 4 * SHEET_MIN_WIDTH))
    top = len(lines) * line_h + (10 if lines else 0)
    sheet = np.full((top + rows * cell_h, width, 3), 32, dtype=np.uint8)
    for n, line in enumerate(lines):
        cv2.putText(sheet, line, (6, (n + 1) * line_h), font, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    for i, (thumb, label) in enumerate(zip(thumbs, labels, strict=True)):
        y, x = top + (i // cols) * cell_h, (i % cols) * cell_w
        dx = (cell_w - thumb.shape[1]) // 2
        sheet[y : y + thumb.shape[0], x + dx : x + dx + thumb.shape[1]] = thumb
        cv2.putText(sheet, label, (x + 6, y + cell_h - 7), font, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return sheet


def write_keyframes(source: MediaSource, fp: Fingerprint, out_dir: str, *,
                    beside: bool = False) -> tuple[tuple[KeyframeImage, ...], str]:
    """Decode the keyframes of ``fp`` from ``source`` and write them and a contact sheet into ``out_dir``.

    ``source`` is the open file ``fp`` was made from. Returns the images written and the contact
    sheet's path. ``out_dir`` is created if missing; it may be the evidence's own folder only with
    ``beside`` (see :func:`keyframes_folder`). Raises UsageError when the files cannot be written,
    having removed any it wrote.
    """
    folder = keyframes_folder(source.path, out_dir, beside=beside)
    width, height = display_size(fp)
    samples = tuple(sorted({shot.keyframe_sample for shot in fp.shots}))
    if not samples:
        return (), ""
    if fp.is_still:
        decoded = decode_frames(source, fps=None, width=width, height=height, color=True, max_frames=1)
        pictures = {0: decoded.pixels[0]}
    else:
        decoded = decode_frames(source, fps=fp.params.fps, width=width, height=height, color=True,
                                select=samples, keyframes_only=fp.params.keyframes_only)
        pictures = dict(zip(samples, decoded.pixels, strict=False))
    source.ensure_unchanged()  # the pictures are of the bytes hashed, or nothing is written
    stem = f"{fp.identity.sha256[:12]}"
    written: list[KeyframeImage] = []
    files: list[tuple[Path, bytes]] = []
    images, labels = [], []
    for shot in fp.shots:
        picture = pictures.get(shot.keyframe_sample)
        if picture is None:
            continue
        base = f"{stem}_shot{shot.index + 1:03d}_t{timestamp_label(shot.keyframe_time)}"
        content = content_crop(picture, shot.content_box)
        files.append((folder / f"{base}.jpg", _jpeg(f"{base}.jpg", content)))
        if content.shape != picture.shape:  # the whole frame, bars and all, beside the picture cut out of it
            files.append((folder / f"{base}_full.jpg", _jpeg(f"{base}_full.jpg", picture)))
        written.append(KeyframeImage(shot=shot.index, time=shot.keyframe_time, path=str(folder / f"{base}.jpg")))
        images.append(content)
        labels.append(f"#{shot.index + 1}  {timestamp_label(shot.keyframe_time).replace('-', ':')}")
    sheet_path = folder / f"{stem}_contact_sheet.jpg"
    header = sheet_header(os.path.basename(source.given), fp.identity.sha256, fp.duration, fp.is_still)
    files.append((sheet_path, _jpeg(sheet_path.name, contact_sheet(images, labels, header))))
    _write_into(folder, files)
    return tuple(written), str(sheet_path)


def _write_into(folder: Path, files: list[tuple[Path, bytes]]) -> None:
    """Write ``files`` into ``folder`` (made if missing), all or none: a failure leaves no file (nor a new folder)."""
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_all_atomic(files)
    except OSError as exc:
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise UsageError(f"cannot write the keyframes into {folder}: {exc.strerror or exc}") from None
