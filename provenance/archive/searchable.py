"""The archive's searchable frames: the one type the matcher reads, whether from the archive or from memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArchiveFrames:
    """The searchable part of the archive: one row per indexed frame, and per-item facts."""

    item_rows: np.ndarray  # (N,) item number of each row (0..items-1)
    times: np.ndarray  # (N,) float64
    pdq: np.ndarray  # (N, 32) uint8
    sha256: tuple[str, ...]  # per item
    names: tuple[str, ...]
    durations: tuple[float, ...]
    stills: tuple[bool, ...]
    boxes_full: tuple[bool, ...]
    ids: tuple[int, ...] = ()  # the archive's id of each item, when the frames come from an archive


# (query hashes, radius) -> (query index, reference row, distance) of every pair within the radius
SearchFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]]
