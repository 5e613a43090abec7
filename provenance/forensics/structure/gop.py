"""GOP (keyframe) statistics of the first video stream, from ffprobe's packet flags.

``ffprobe -select_streams v:0 -show_entries packet=pts_time,flags -of csv=p=0`` lists every video
packet in decode order without decoding anything. A camera writes keyframes at a fixed interval
(often one a second); x264 by default at most every 250 frames, with scene cuts in between; a
stream cut with ``-c copy`` may start with packets that are not keyframes. ffprobe reads the open
file of a ``MediaSource`` (``provenance.media.source.ffmpeg_input``), never the file's name.
"""

from __future__ import annotations

import itertools
import subprocess

from provenance.errors import MissingToolError
from provenance.forensics.structure.model import GopStats
from provenance.media.source import MediaSource, ffmpeg_input, reads_source
from provenance.tools import INSTALL_HINT

TIMEOUT_SECONDS = 300


class GopError(RuntimeError):
    """ffprobe could not list the packets (the message says why)."""


@reads_source
def packet_flags(source: MediaSource) -> list[tuple[float | None, bool]]:
    """(presentation time or None, is keyframe) of each packet of the first video stream, in decode order."""
    given = ffmpeg_input(source)
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
               "-of", "csv=p=0", given.url]
    try:
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_SECONDS,
                              check=False, pass_fds=given.pass_fds)
    except FileNotFoundError:
        raise MissingToolError(f"ffprobe not found on PATH: {INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        raise GopError(f"ffprobe took longer than {TIMEOUT_SECONDS} s to list the packets") from None
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").replace(given.url, source.path).strip().splitlines()
        raise GopError(f"ffprobe could not list the packets: {reason[-1] if reason else proc.returncode}")
    packets = []
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        pts, _, flags = line.strip().partition(",")
        try:
            time: float | None = float(pts)
        except ValueError:
            time = None
        packets.append((time, "K" in flags))
    return packets


def gop_stats(packets: list[tuple[float | None, bool]]) -> GopStats | None:
    """GOP lengths, keyframe interval and reordering from the packet list; None without packets."""
    if not packets:
        return None
    keys = [i for i, (_, key) in enumerate(packets) if key]
    lengths = [b - a for a, b in itertools.pairwise(keys)]
    key_times = sorted(t for t, key in packets if key and t is not None)
    intervals = [b - a for a, b in itertools.pairwise(key_times)]
    times = [t for t, _ in packets if t is not None]
    return GopStats(
        packets=len(packets),
        keyframes=len(keys),
        first_packet_keyframe=packets[0][1],
        gop_min=min(lengths) if lengths else None,
        gop_max=max(lengths) if lengths else None,
        gop_mean=round(sum(lengths) / len(lengths), 3) if lengths else None,
        keyframe_interval_seconds=round(sum(intervals) / len(intervals), 4) if intervals else None,
        regular=len(set(lengths)) <= 1,
        reordered=any(b < a for a, b in itertools.pairwise(times)),
    )
