"""Colour grids of framed pictures: padding (bars, a blurred enlarged copy) told from picture-in-picture,
and tone changes measured, on pictures composed with OpenCV where the truth is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from provenance.vision.features import colour_grid
from provenance.vision.tone import GridPair, border_around_inset, compare

CANVAS = (360, 640)  # a 9:16 frame (height, width)


def scene(seed: int, size: tuple[int, int] = (360, 640)) -> np.ndarray:
    """A smooth random RGB picture of (height, width): blobs of colour, like footage at grid scale."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, size=(6, 10, 3), dtype=np.uint8)
    picture = cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(picture)


def framed(picture: np.ndarray, background: str, seed: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """``picture`` (16:9) across the width of a 9:16 canvas, centred; returns the canvas and the
    2x3 map from canvas to picture coordinates (both 0..1)."""
    height, width = CANVAS[1], CANVAS[0]  # portrait canvas
    inset_h = round(width * picture.shape[0] / picture.shape[1])
    top = (height - inset_h) // 2
    if background.startswith("bars"):
        canvas = np.zeros((height, width, 3), np.uint8)
        if background == "bars with a caption":  # white text on the lower bar, as subtitles often are
            canvas[height - 90:height - 60, 80:width - 80] = 255
    elif background == "copy":
        scale = height / picture.shape[0]
        big = cv2.resize(picture, (round(picture.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
        left = (big.shape[1] - width) // 2
        canvas = cv2.GaussianBlur(np.ascontiguousarray(big[:, left:left + width]), (0, 0), 12)
    elif background.endswith("blurred other"):  # smooth footage of something else, not a copy
        canvas = cv2.GaussianBlur(scene(seed, (height, width)), (0, 0), 12)
    else:  # other footage, with detail of its own (a blurred-looking background is left undecided)
        texture = np.random.default_rng(seed).integers(-40, 40, size=(height, width, 1))
        canvas = np.clip(scene(seed, (height, width)).astype(np.int16) + texture, 0, 255).astype(np.uint8)
    canvas[top:top + inset_h] = cv2.resize(picture, (width, inset_h), interpolation=cv2.INTER_AREA)
    affine = np.array([[1.0, 0.0, 0.0], [0.0, height / inset_h, -top / inset_h]])
    return canvas, affine


@pytest.mark.parametrize(("background", "border"), [("bars", True), ("bars with a caption", True), ("copy", True),
                                                     ("other", False), ("blurred other", False),
                                                     ("still blurred other", None)])
def test_what_surrounds_an_inset_decides_pad_or_pip(background: str, border: bool | None) -> None:
    """Bars, captioned bars and a blurred copy are padding; other footage is not, textured or blurred
    when it changes over time (as the picture does not); a still surround with less detail than the
    picture, and not a copy of it, the grids cannot call."""
    pairs = []
    for seed in range(4):
        picture = scene(100 + seed)
        if background.startswith("still"):  # a picture with detail, beside which the surround is blurred
            blocks = np.random.default_rng(seed).integers(-40, 40, size=(45, 80, 1)).astype(np.int16)
            texture = cv2.resize(blocks, picture.shape[1::-1], interpolation=cv2.INTER_NEAREST)[..., None]
            picture = np.clip(picture.astype(np.int16) + texture, 0, 255).astype(np.uint8)
        canvas, affine = framed(picture, background, seed=200 + (0 if background.startswith("still") else seed))
        pairs.append(GridPair(colour_grid(canvas), colour_grid(picture), affine))
    assert border_around_inset(pairs) is border


def test_contrast_and_brightness_are_measured_through_the_map() -> None:
    pairs = []
    for seed in range(4):
        picture = scene(300 + seed)
        graded = np.clip(picture.astype(np.float32) * 1.3 + 10, 0, 255).astype(np.uint8)
        canvas, affine = framed(graded, "bars")
        pairs.append(GridPair(colour_grid(canvas), colour_grid(picture), affine))
    (edit,) = compare(pairs)
    assert edit.name == "color"
    contrast = float(edit.details.split("contrast x")[1].split(",")[0])
    assert contrast == pytest.approx(1.3, abs=0.1)
    assert "hue" not in edit.details


def test_untouched_inset_has_no_tone_edit() -> None:
    pairs = []
    for seed in range(4):
        picture = scene(400 + seed)
        canvas, affine = framed(picture, "other", seed=500 + seed)
        pairs.append(GridPair(colour_grid(canvas), colour_grid(picture), affine))
    assert compare(pairs) == []


def fine_scene(seed: int, size: tuple[int, int] = (360, 640)) -> np.ndarray:
    """A random RGB picture with detail finer than the colour grid's cells (blobs a 24th of its height)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 220, size=(24, 40, 3), dtype=np.uint8)
    return np.ascontiguousarray(cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC))


@pytest.mark.parametrize(("background", "border"), [("copy", True), ("blurred other", False)])
def test_an_enlarged_copy_finer_than_the_grid_is_told_by_its_brightness(background: str, border: bool) -> None:
    """A still shot whose brightness flickers (old film, a flash), framed in a 9:16 canvas over its
    own copy enlarged three times and blurred: each surround cell shows part of one archived cell, so
    the cells do not follow the copy one by one, but their mean brightness follows the picture's from
    moment to moment. Smooth other footage around the same flickering picture does not."""
    picture = fine_scene(700)
    pairs = []
    for n, swing in enumerate((-9, -4, 0, 4, 9, -6)):
        shown = np.clip(picture.astype(np.int16) + swing, 0, 255).astype(np.uint8)
        canvas, affine = framed(shown, background, seed=800 + n)
        pairs.append(GridPair(colour_grid(canvas), colour_grid(shown), affine))
    assert border_around_inset(pairs) is border
