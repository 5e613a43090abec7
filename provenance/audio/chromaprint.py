"""The soundtrack's Chromaprint fingerprint, as the record keeps it (``model.Soundtrack``).

The values come from ffmpeg's ``chromaprint`` muxer, a second output of the process that decodes the
frames (``frames.decode``, given ``audio.methods.ALGORITHM``), or, where this ffmpeg lacks that muxer, from
``fpcalc -raw -length 0`` (Debian's ``libchromaprint-tools``) reading the same open file alongside the
decode, with the same algorithm: the same number of values at the same times, equal but for a stray bit
(one bit in 181 values of a corpus clip: fpcalc converts the sound to 16-bit mono itself). Each path
alone gives the same values for the same file bit for bit, and the record names it. Where neither is
there the fingerprint goes on without one, and the record says so (status "unavailable", and a warning).

Algorithm 1 is Chromaprint's default ("TEST2"), the one AcoustID and ``fpcalc`` use. Value ``i``
describes the sound from ``start + i * ITEM_DURATION`` seconds of the video's time line: ``start`` is
where the audio stream begins against the first video frame, from the container's stream start times.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess

import numpy as np

from provenance.audio.methods import ALGORITHM, has_soundtrack
from provenance.media.source import MediaSource, ffmpeg_input
from provenance.model import (
    SOUNDTRACK_FINGERPRINTED,
    SOUNDTRACK_NONE,
    SOUNDTRACK_UNAVAILABLE,
    Metadata,
    Soundtrack,
    encode_soundtrack_values,
)

SAMPLE_RATE = 11025  # Hz: Chromaprint resamples to this before its 4096-sample frames
HOP = 1365  # samples from one frame (one fingerprint value) to the next: 4096 / 3, in Chromaprint
ITEM_DURATION = HOP / SAMPLE_RATE  # seconds per fingerprint value, about 0.1238
MUXER_METHOD = "ffmpeg chromaprint muxer"
UNAVAILABLE_WARNING = ("the soundtrack was not fingerprinted: neither ffmpeg's chromaprint muxer nor fpcalc "
                       "(Debian: apt-get install libchromaprint-tools) is available")


def sound_start(metadata: Metadata) -> float:
    """Seconds from the first video frame to the first audio sample (negative when the sound starts
    first), from the container's stream start times; 0 when either is not given."""
    try:
        streams = json.loads(metadata.raw_probe or "{}").get("streams") or []
        starts = {}
        for stream in streams:
            kind = stream.get("codec_type")
            if kind in ("video", "audio") and kind not in starts and stream.get("disposition", {}).get(
                    "attached_pic", 0) != 1:
                starts[kind] = float(stream["start_time"])
        return round(starts["audio"] - starts["video"], 6)
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0.0


class Fpcalc:
    """``fpcalc -raw -length 0 -json`` on the open file of a source, run alongside the decode."""

    def __init__(self, source: MediaSource) -> None:
        given = ffmpeg_input(source)  # the same link to the same open file that ffmpeg reads
        binary = shutil.which("fpcalc") or "fpcalc"
        self.version = fpcalc_version(binary)
        # fpcalc numbers the algorithms from 1: its 2 is Chromaprint's algorithm 1, as the muxer is given
        self._proc = subprocess.Popen(
            [binary, "-raw", "-length", "0", "-json", "-algorithm", str(ALGORITHM + 1), given.url],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=given.pass_fds)

    def stop(self) -> None:
        """End fpcalc early (the decode failed)."""
        self._proc.kill()
        self._proc.communicate()

    def values(self) -> tuple[tuple[int, ...] | None, str]:
        """The raw values (None on failure) and what to say of it: the method, or why it failed."""
        out, err = self._proc.communicate()
        # fpcalc 1.5.1 on FFmpeg 5 exits 3 after every file ("Error decoding audio frame (End of file)")
        # with the whole fingerprint printed: the output, not the exit code, says whether it worked
        try:
            found = json.loads(out).get("fingerprint") if out.strip() else None
        except (ValueError, AttributeError):
            found = None
        if found is None and b"Empty fingerprint" in err:
            return (), self.version  # under about 3 s of sound: no value, as the muxer gives none
        if not isinstance(found, list) or not all(isinstance(v, int) for v in found):
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {self._proc.returncode}"]
            return None, f"{self.version} failed: {last[0]}"
        return tuple(v & 0xFFFFFFFF for v in found), self.version  # unsigned, as the muxer gives them


@functools.cache
def fpcalc_version(binary: str) -> str:
    """``"fpcalc 1.5.1"``: the name and version ``fpcalc -version`` gives."""
    try:
        proc = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=30, check=False)
        words = proc.stdout.split()
        return f"fpcalc {words[2]}" if len(words) >= 3 and words[1] == "version" else "fpcalc"
    except (OSError, subprocess.TimeoutExpired):
        return "fpcalc"


def muxer_values(raw: bytes) -> tuple[int, ...]:
    """The values in the muxer's raw output (native-endian uint32; a torn last value is dropped)."""
    return tuple(int(v) for v in np.frombuffer(raw[: len(raw) // 4 * 4], dtype="=u4"))


def soundtrack_of(metadata: Metadata, values: tuple[int, ...] | None, made_by: str | None) -> Soundtrack:
    """The record's soundtrack: ``values`` made by ``made_by`` (None values: it failed, and ``made_by``
    says why; None ``made_by`` too: no way was available), or none for a file without audio."""
    if not has_soundtrack(metadata):
        return Soundtrack(status=SOUNDTRACK_NONE)
    if values is None:
        return Soundtrack(status=SOUNDTRACK_UNAVAILABLE, method=made_by)
    return Soundtrack(status=SOUNDTRACK_FINGERPRINTED, method=made_by, algorithm=ALGORITHM,
                      sample_rate=SAMPLE_RATE, item_duration=ITEM_DURATION, count=len(values),
                      values=encode_soundtrack_values(values), covered=len(values) * ITEM_DURATION,
                      start=sound_start(metadata))
