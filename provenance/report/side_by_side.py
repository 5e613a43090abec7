"""Matched frames side by side: the query's frame beside the archived picture of the same moment.

For each segment of a match, at its start, middle and end, the archived picture (an
``ArchivedPicture`` the archive keeps) whose time lies in the segment's archive span nearest that
moment is chosen; its time is mapped back to the query's time along the segment's line (its
speed), and the query's frame of that moment is decoded from the open query (one ffmpeg call for
every frame of every match, from the check's ``MediaSource``, never from the file's name again).

Each moment gives four pictures, JPEG bytes, the same for the same input:
- the query frame, with the place of the inset drawn (where the archived picture sits in it, when
  it sits in part of it) and a mark when the query is mirrored or turned;
- the archived picture, with the crop window drawn (the part of it the query shows);
- the archived picture warped by the fitted map (``Match.geometry``) into the query frame's
  coordinates, and the absolute difference of that with the query frame, in which what the
  re-share added (captions, logos) stands out. What lies outside the archived picture is filled
  with ``OUTSIDE``.

An item the archive keeps no picture of gets no views and the note "no archived picture". A match by
the soundtrack alone (``Match.matched_by`` "soundtrack") gets none either, and the note
:data:`SOUND_ONLY`: its segments are the sound's, and the pictures of those moments are not the item's.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from provenance.errors import UsageError
from provenance.files import write_all_atomic
from provenance.frames.decode import decode_frames
from provenance.media.display import display_dims
from provenance.media.source import MediaSource
from provenance.model import ArchivedPicture, Fingerprint, Match, MatchGeometry, Segment, SideBySideImage
from provenance.report.formatters import shown_name
from provenance.times import timestamp_label

Box = tuple[float, float, float, float]

POSITIONS = ("start", "middle", "end")
VIEW_SIDE = 480  # long side of every picture made, in pixels: both sides at one size on a page
QUERY_FPS = 25.0  # the query's frames are fetched on this time grid: within 0.02 s of the moment
SPAN_SLACK = 0.5  # seconds: a picture this far outside a segment's archive span still shows its edge
JPEG_QUALITY = 90
LINE = (0, 255, 0)  # RGB of the crop window and the inset's place
LINE_WIDTH = 2
MARK = (255, 220, 0)  # RGB of the mirrored / turned label's background
OUTSIDE = (40, 40, 90)  # RGB of the difference view where the archived picture does not reach
NO_PICTURE = "no archived picture"
NO_PICTURE_HERE = "no archived picture of the matched moments"
SOUND_ONLY = "matched by the soundtrack only: no matched pictures to show"

# where a point (x, y) of the query picture lands in the picture turned by each dihedral transform
# (provenance.hashing.pdq.DIHEDRAL_NAMES: numpy's rot90 turns anticlockwise)
_TURNS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "original": ((1, 0, 0), (0, 1, 0)),
    "rotate90": ((0, 1, 0), (-1, 0, 1)),
    "rotate180": ((-1, 0, 1), (0, -1, 1)),
    "rotate270": ((0, -1, 1), (1, 0, 0)),
    "flipx": ((1, 0, 0), (0, -1, 1)),
    "flipy": ((-1, 0, 1), (0, 1, 0)),
    "flipplus1": ((0, 1, 0), (1, 0, 0)),
    "flipminus1": ((0, -1, 1), (-1, 0, 1)),
}


@dataclass(frozen=True)
class SideBySide:
    """One matched moment: the query's frame and the archived picture, with the geometry drawn.

    ``segment`` counts the match's segments from 0; ``position`` is "start", "middle" or "end".
    ``crop_box`` is the crop window as drawn on the archived picture and ``inset_box`` the inset's
    place as drawn on the query frame, (left, top, right, bottom) in 0..1 of that picture, or None
    when there is none. ``marks`` names what the query frame is marked with ("mirrored", "turned ...").
    """

    segment: int
    position: str
    query_time: float
    archive_time: float
    picture_kind: str  # the archived picture's kind: "shot" or "every"
    query_jpeg: bytes
    archive_jpeg: bytes
    warped_jpeg: bytes
    difference_jpeg: bytes
    crop_box: Box | None
    inset_box: Box | None
    marks: tuple[str, ...]


@dataclass(frozen=True)
class MatchViews:
    """The side-by-side views of one match, and why there are none when there are none."""

    sha256: str
    item_name: str
    views: tuple[SideBySide, ...]
    note: str | None  # NO_PICTURE, NO_PICTURE_HERE or SOUND_ONLY when ``views`` is empty


@dataclass(frozen=True)
class _Moment:
    """A view to make: which match, segment and picture, at which query time."""

    match: int
    segment: int
    position: str
    picture: ArchivedPicture
    query_time: float


def _slope(segment: Segment, speed: float) -> float:
    """Archive seconds per query second along a segment: its own, or the match's when it has no length."""
    q, a = segment.query_end - segment.query_start, segment.archive_end - segment.archive_start
    if q > 1e-6 and a > 1e-6:
        return a / q
    return speed if speed > 0 else 1.0


def _pick_moments(match: Match, pictures: Sequence[ArchivedPicture], query_duration: float,
                 query_still: bool) -> list[tuple[int, str, ArchivedPicture, float]]:
    """(segment, position, picture, query time) for each segment's start, middle and end.

    The picture nearest each moment among those whose time lies in the segment's archive span
    (``SPAN_SLACK`` either side); one picture serves once per segment, at the first position it is
    nearest to. Its time is mapped to the query's along the segment's line, within the segment.
    """
    out = []
    for n, seg in enumerate(match.segments):
        low, high = min(seg.archive_start, seg.archive_end), max(seg.archive_start, seg.archive_end)
        inside = [p for p in pictures if low - SPAN_SLACK <= p.time <= high + SPAN_SLACK]
        if not inside:
            continue
        used: set[int] = set()
        for position, moment in zip(POSITIONS, (low, (low + high) / 2, high), strict=True):
            best = min(range(len(inside)), key=lambda i: (abs(inside[i].time - moment), inside[i].time))
            if best in used:
                continue
            used.add(best)
            picture = inside[best]
            if query_still:
                at = 0.0
            else:
                at = seg.query_start + (picture.time - seg.archive_start) / _slope(seg, match.speed)
                at = min(max(at, seg.query_start, 0.0), seg.query_end, max(query_duration, 0.0))
            out.append((n, position, picture, round(at, 3)))
    return out


def query_to_archive(geometry: MatchGeometry | None) -> np.ndarray:
    """The 3x3 map from the query frame's own 0..1 coordinates to the archived picture's.

    The geometry's map starts from the query brought to the archive's orientation (turned, or
    mirrored): that step is put in front of it. No geometry (an identical file) is the identity.
    """
    if geometry is None:
        return np.eye(3)
    fitted = np.vstack([np.array(geometry.affine, dtype=np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])
    name = geometry.turned or ("flipy" if geometry.mirrored else "original")
    turn = np.vstack([np.array(_TURNS.get(name, _TURNS["original"]), dtype=np.float64), [0.0, 0.0, 1.0]])
    return fitted @ turn


def _marks(geometry: MatchGeometry | None) -> tuple[str, ...]:
    if geometry is None:
        return ()
    if geometry.turned is not None:
        return (f"turned ({geometry.turned})",)
    return ("mirrored",) if geometry.mirrored else ()


def _view_size(width: int, height: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled to a long side of ``VIEW_SIDE``, even."""
    scale = VIEW_SIDE / max(width, height, 1)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _jpeg(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise UsageError("could not encode a side-by-side picture as JPEG")
    return bytes(buf.tobytes())


def _decode_picture(picture: ArchivedPicture) -> np.ndarray | None:
    """The archived picture as RGB at the view size, or None when its JPEG does not decode."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(picture.jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    h, w = bgr.shape[:2]
    return np.ascontiguousarray(cv2.resize(bgr, _view_size(w, h), interpolation=cv2.INTER_LINEAR)[:, :, ::-1])


def _clipped(box: Box | None) -> Box | None:
    if box is None:
        return None
    left, top, right, bottom = (min(max(float(v), 0.0), 1.0) for v in box)
    return (left, top, right, bottom) if right > left and bottom > top else None


def _rectangle(rgb: np.ndarray, box: Box) -> np.ndarray:
    """``rgb`` with ``box`` (0..1) drawn in ``LINE``, inside the picture's edges."""
    import cv2

    h, w = rgb.shape[:2]
    x0, y0 = round(box[0] * w), round(box[1] * h)
    x1, y1 = min(round(box[2] * w), w - 1), min(round(box[3] * h), h - 1)
    out = rgb.copy()
    cv2.rectangle(out, (x0, y0), (x1, y1), LINE, LINE_WIDTH)
    return out


def _label(rgb: np.ndarray, words: Sequence[str]) -> np.ndarray:
    """``rgb`` with ``words`` written in its top left corner, black on ``MARK``."""
    import cv2

    out = rgb.copy()
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.6
    y = 4
    for text in words:
        (tw, th), base = cv2.getTextSize(text.upper(), font, scale, 2)
        cv2.rectangle(out, (4, y), (4 + tw + 10, y + th + base + 8), MARK, -1)
        cv2.putText(out, text.upper(), (9, y + th + 4), font, scale, (0, 0, 0), 2, cv2.LINE_AA)
        y += th + base + 12
    return out


def _warp(archived: np.ndarray, size: tuple[int, int], to_archive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The archived picture in the query frame's pixels (``size`` = width, height), and where it reaches."""
    import cv2

    qw, qh = size
    ah, aw = archived.shape[:2]
    # pixel centres: query pixel u is at (u + 0.5) / qw, archive x at x * aw - 0.5
    from_query = np.array([[1 / qw, 0, 0.5 / qw], [0, 1 / qh, 0.5 / qh], [0, 0, 1]])
    to_pixels = np.array([[aw, 0, -0.5], [0, ah, -0.5], [0, 0, 1]])
    pixels = (to_pixels @ to_archive @ from_query)[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(archived, pixels, (qw, qh), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    reach = cv2.warpAffine(np.full((ah, aw), 255, np.uint8), pixels, (qw, qh),
                           flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
    return warped, reach > 0


def _view(moment: _Moment, match: Match, query_rgb: np.ndarray, archived: np.ndarray) -> SideBySide:
    """The four pictures of one moment."""
    import cv2

    geometry = match.geometry
    to_archive = query_to_archive(geometry)
    crop = _clipped(geometry.crop) if geometry is not None else None
    inset = _clipped(geometry.inset) if geometry is not None else None
    marks = _marks(geometry)
    shown_query = _rectangle(query_rgb, inset) if inset is not None else query_rgb
    if marks:
        shown_query = _label(shown_query, marks)
    shown_archive = _rectangle(archived, crop) if crop is not None else archived
    warped, reach = _warp(archived, (query_rgb.shape[1], query_rgb.shape[0]), to_archive)
    difference = cv2.absdiff(query_rgb, warped)
    difference[~reach] = OUTSIDE
    warped[~reach] = OUTSIDE
    return SideBySide(
        segment=moment.segment, position=moment.position, query_time=moment.query_time,
        archive_time=moment.picture.time, picture_kind=moment.picture.kind,
        query_jpeg=_jpeg(shown_query), archive_jpeg=_jpeg(shown_archive), warped_jpeg=_jpeg(warped),
        difference_jpeg=_jpeg(difference), crop_box=crop, inset_box=inset, marks=marks,
    )


def _sample(fp: Fingerprint, time: float) -> int:
    """The sample number, on the ``QUERY_FPS`` grid, of the query's frame at ``time`` (0 for a still)."""
    if fp.is_still:
        return 0
    return min(round(time * QUERY_FPS), max(0, int(np.floor(fp.duration * QUERY_FPS)) - 1))


def _query_frames(source: MediaSource, fp: Fingerprint, times: Sequence[float]) -> dict[int, np.ndarray]:
    """The query's frames at ``times`` (at the view size, RGB), keyed by ``_sample``: all decoded in
    one ffmpeg call that stops after the last one."""
    width, height = _view_size(*display_dims(fp.metadata))
    if fp.is_still:
        decoded = decode_frames(source, fps=None, width=width, height=height, color=True, max_frames=1)
        return {0: decoded.pixels[0]}
    wanted = tuple(sorted({_sample(fp, t) for t in times}))
    decoded = decode_frames(source, fps=QUERY_FPS, width=width, height=height, color=True, select=wanted,
                            max_frames=len(wanted))
    return dict(zip(wanted, decoded.pixels, strict=False))


def side_by_side(source: MediaSource, fingerprint: Fingerprint, matches: Sequence[Match],
                 pictures: Callable[[str], Sequence[ArchivedPicture]]) -> tuple[MatchViews, ...]:
    """The side-by-side views of every match of the query ``fingerprint``, made from ``source``.

    ``source`` is the open file the fingerprint was made from; ``pictures(sha256)`` gives an archived
    item's pictures (``ArchiveStore.pictures``). Every query frame needed is decoded in one ffmpeg
    call; none when no match has a picture of its matched moments.
    """
    kept: list[Sequence[ArchivedPicture]] = [() if m.matched_by == "soundtrack" else pictures(m.sha256)
                                             for m in matches]
    moments = [_Moment(n, seg, position, picture, at)
               for n, (match, pics) in enumerate(zip(matches, kept, strict=True))
               for seg, position, picture, at in _pick_moments(match, pics, fingerprint.duration,
                                                              fingerprint.is_still)]
    frames = _query_frames(source, fingerprint, [m.query_time for m in moments]) if moments else {}
    if moments:
        source.ensure_unchanged()  # the frames shown are of the bytes hashed, or none is shown
    out = []
    for n, match in enumerate(matches):
        views = []
        for moment in (m for m in moments if m.match == n):
            query_rgb = frames.get(_sample(fingerprint, moment.query_time))
            archived = _decode_picture(moment.picture)
            if query_rgb is not None and archived is not None:
                views.append(_view(moment, match, query_rgb, archived))
        note = None if views else (SOUND_ONLY if match.matched_by == "soundtrack" else
                                   NO_PICTURE if not kept[n] else NO_PICTURE_HERE)
        out.append(MatchViews(match.sha256, match.item_name, tuple(views), note))
    return tuple(out)


def _safe(name: str, most: int = 40) -> str:
    """``name`` with only letters, digits, dot, dash and underscore, for a folder name."""
    kept = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return kept[:most] or "item"


def write_side_by_side(matches: Sequence[MatchViews], folder: str | Path) -> tuple[SideBySideImage, ...]:
    """Write each match's views into a folder of its own in ``folder`` (made when missing), all or none.

    The item's folder is ``match<n>_<item name>_<sha256 prefix>``; each moment's files are
    ``segment<k>_<position>_query_<time>.jpg``, ``..._archive_<time>.jpg``, ``..._warped.jpg`` and
    ``..._difference.jpg`` (times as ``HH-MM-SS.mmm`` of the query and of the archived item). Raises
    UsageError when they cannot be written, having removed what it wrote.
    """
    root = Path(folder)
    files: list[tuple[Path, bytes]] = []
    written: list[SideBySideImage] = []
    folders: list[Path] = []
    for n, views in enumerate(matches, 1):
        if not views.views:
            continue
        home = root / f"match{n}_{_safe(views.item_name)}_{views.sha256[:12]}"
        folders.append(home)
        for v in views.views:
            stem = f"segment{v.segment + 1}_{v.position}"
            names = (f"{stem}_query_{timestamp_label(v.query_time)}.jpg",
                     f"{stem}_archive_{timestamp_label(v.archive_time)}.jpg",
                     f"{stem}_warped.jpg", f"{stem}_difference.jpg")
            data = (v.query_jpeg, v.archive_jpeg, v.warped_jpeg, v.difference_jpeg)
            files += [(home / name, jpeg) for name, jpeg in zip(names, data, strict=True)]
            query, archive, warped, difference = (str(home / name) for name in names)
            written.append(SideBySideImage(views.sha256, v.segment, v.position, v.query_time, v.archive_time,
                                           query, archive, warped, difference))
    if not files:
        return ()
    made = [f for f in [*root.parents[::-1], root, *folders] if not f.exists()]
    try:
        for f in made:
            f.mkdir()
        write_all_atomic(files)
    except OSError as exc:
        for f in reversed(made):
            with contextlib.suppress(OSError):
                f.rmdir()
        raise UsageError(f"cannot write the side-by-side pictures into {root}: {exc.strerror or exc}") from None
    return tuple(written)


def side_by_side_lines(images: Sequence[SideBySideImage], notes: Sequence[str] = ()) -> list[str]:
    """The text report's lines listing the side-by-side pictures written (empty when there are none)."""
    if not images and not notes:
        return []
    lines = ["", "SIDE BY SIDE"]
    for image in images:
        lines.append(f"  {image.sha256[:12]} segment {image.segment + 1} {image.position}: query "
                     f"{image.query_time:.2f} s, archive {image.archive_time:.2f} s")
        lines += [f"    {shown_name(path)}" for path in (image.query, image.archive, image.warped, image.difference)]
    lines += [f"  {note}" for note in notes]
    return lines
