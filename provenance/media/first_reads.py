"""The reads every examination of a file starts with, started at once on threads of their own.

ffprobe of the file and its identity hashes (SHA-256, SHA-1, MD5: a read of every byte) depend on
nothing but the open file. Started as soon as the file is open, they run while the caller is still
importing what the rest of the examination needs (numpy, OpenCV, the matcher), and the caller waits only
for what is not done when it needs it. They read the one open :class:`~provenance.media.source.MediaSource`,
only read it, and fail as they would have when called in turn: ``result()`` raises what the read raised.

Whether this ffmpeg has the chromaprint muxer is not asked here (a process of its own, as long to start as
ffprobe): the decode asks for the muxer, and learns from ffmpeg's refusal that it lacks it
(``provenance.tools.muxer_refused``).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from provenance.media.identity import file_identity
from provenance.media.probe import probe
from provenance.media.source import MediaSource
from provenance.model import FileIdentity, Metadata


@dataclass(frozen=True)
class FirstReads:
    """The two first reads of one open file, running or done: ``result()`` of each waits for it.

    As a context manager, it waits on leaving for both to end, before the file they read is closed.
    """

    metadata: Future[Metadata]
    identity: Future[FileIdentity]

    def __enter__(self) -> FirstReads:
        return self

    def __exit__(self, *exc: object) -> None:
        """Leaving (even on an error), wait until every read has ended, whatever it gave: then the file may
        be closed."""
        wait((self.metadata, self.identity))


def start_first_reads(source: MediaSource) -> FirstReads:
    """Start ffprobe and the identity hashes on ``source``, each on a thread.

    The threads end when their read is done; the caller keeps ``source`` open until it has every result.
    """
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="first-read")
    try:
        return FirstReads(metadata=pool.submit(probe, source), identity=pool.submit(file_identity, source))
    finally:
        pool.shutdown(wait=False)  # the reads go on; no thread is left once they are done
