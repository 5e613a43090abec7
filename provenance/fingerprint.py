"""Fingerprint one media file: identity, metadata, sampled frames, their hashes, and shots.

This is the work of ``provenance check`` without an archive. Frames come from ffmpeg already
sampled and shrunk (``frames.py``); uniform borders (letterbox, pillarbox) found over the whole
item are cut away before hashing, so a padded copy hashes like its source.
"""

from __future__ import annotations

import numpy as np

from provenance import __version__
from provenance.borders import crop_frames, detect_content_box
from provenance.frames import decode_frames
from provenance.hashing.pdq import pdq_batch, pdq_bytes_to_hex
from provenance.hashing.phash import phash_batch, phash_to_hex
from provenance.identity import file_identity, validate_input_path
from provenance.model import SCHEMA_VERSION, Fingerprint, FrameHash, Metadata, SamplingParams
from provenance.probe import probe
from provenance.shots import detect_shots

TRUNCATION_SLACK = 1.0  # seconds of decoded shortfall tolerated before calling a file truncated


def decode_warnings(metadata: Metadata, decoded_seconds: float, errors: tuple[str, ...], code: int) -> list[str]:
    """Say plainly when decoding stopped early or ffmpeg reported damage."""
    warnings = []
    expected = metadata.duration
    if expected and decoded_seconds + TRUNCATION_SLACK < expected:
        detail = f" (ffmpeg: {errors[0]})" if errors else ""
        warnings.append(
            f"decoding stopped at {decoded_seconds:.2f} s of {expected:.2f} s: "
            f"the file is truncated or damaged; hashes cover only what decoded{detail}"
        )
    elif errors or code != 0:
        first = errors[0] if errors else f"exit code {code}"
        warnings.append(f"ffmpeg reported decode errors ({len(errors)} lines); first: {first}")
    return warnings


def fingerprint(path: str, params: SamplingParams | None = None) -> Fingerprint:
    """Fingerprint the file at ``path``. The file is opened read-only and never written."""
    params = params or SamplingParams()
    abs_path = validate_input_path(path)
    identity = file_identity(abs_path)
    metadata = probe(abs_path)
    size = params.work_size
    if metadata.kind == "still":
        decoded = decode_frames(abs_path, fps=None, width=size, height=size, max_frames=1)
        gray = decoded.pixels  # ffmpeg has already applied the EXIF orientation
        times = np.zeros(1)
        duration = 0.0
    else:
        decoded = decode_frames(abs_path, fps=params.fps, width=size, height=size)
        gray, times = decoded.pixels, decoded.times
        duration = len(times) / params.fps
    warnings = decode_warnings(metadata, duration if metadata.kind != "still" else 0.0, decoded.errors,
                               decoded.exit_code)
    box = detect_content_box(gray, still=metadata.kind == "still")
    content = crop_frames(gray, box)
    phashes = phash_batch(content)
    pdq, quality = pdq_batch(content)
    frames = tuple(
        FrameHash(index=i, time=float(times[i]), phash=phash_to_hex(int(phashes[i])),
                  pdq=pdq_bytes_to_hex(pdq[i]), pdq_quality=int(quality[i]))
        for i in range(len(times))
    )
    shots = detect_shots(times, pdq, quality, content, duration)
    return Fingerprint(
        schema_version=SCHEMA_VERSION,
        tool_version=__version__,
        identity=identity,
        metadata=metadata,
        params=params,
        duration=duration,
        content_box=box,
        frames=frames,
        shots=shots,
        warnings=tuple(warnings),
    )
