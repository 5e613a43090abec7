"""One media file opened once, read-only: the open file every stage of a check reads, never the name again.

A name is not a file. Between two opens another file can be renamed over it, and ffmpeg reads names
its own way: ``x%d.jpg`` is a numbered sequence of *other* files (``x1.jpg``, ...), ``pipe:x`` or
``concat:a|b`` a protocol, ``-x`` an option. So a check opens the file once (:meth:`MediaSource.open`),
hashes it through that descriptor (``os.pread``) and hands ffprobe and every ffmpeg run the same
open file, so everything it records describes one inode, the one it hashed.

ffmpeg is given :func:`ffmpeg_input`: a name of ours, ``<private folder>/input.<ext>``, that is a
symbolic link to ``/dev/fd/N``, with ``N`` passed to the child (``pass_fds``). The child resolves the
link to the descriptor it inherited, so it reads the opened file whatever the path holds by then.
The folder (``mkdtemp``: 0700, in ``TMPDIR``) is made when ffmpeg first needs it and removed on
close; it holds nothing but that link.
The name carries nothing of the given one but its extension, and that on purpose: ffmpeg chooses some
demuxers by extension (the image2 demuxer reads ``a.jpg`` on the strength of its name, where bare
``/dev/fd/N`` would get ``jpeg_pipe`` and another record), so it decides exactly as it did on the
name, without a pattern, a protocol or a leading dash to misread. In-process readers (EXIF, the box
walk, C2PA) use :attr:`MediaSource.fd_path`, which opens the same file, or :meth:`MediaSource.pread`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

from provenance.errors import UnreadableMediaError, UsageError

_P = ParamSpec("_P")
_R = TypeVar("_R")
_EXTENSION = re.compile(r"[A-Za-z0-9_]{1,32}")
_PATTERN_CHARACTERS = frozenset("%*?[]{}\\")
"""What ffmpeg's image2 demuxer may read as a sequence or glob pattern in a name: kept out of the link's."""


def validate_input_path(path: str | os.PathLike[str]) -> str:
    """Check that ``path`` is a readable, non-empty regular file and return its absolute path.

    Raises UsageError when it is missing, a directory or not a regular file (a FIFO or device could
    block or never end), and UnreadableMediaError when it cannot be read or holds no bytes. Nothing
    is opened here; this runs before any other stage.
    """
    text = os.fspath(path)
    if not text:
        raise UsageError("no input path given")
    absolute = os.path.abspath(text)
    try:
        info = os.stat(absolute)
    except FileNotFoundError:
        raise UsageError(f"no such file: {absolute}") from None
    except PermissionError:
        raise UnreadableMediaError(f"permission denied: {absolute} (cannot reach the file)") from None
    except NotADirectoryError:
        raise UsageError(f"no such file: {absolute} (a parent of it is not a folder)") from None
    except OSError as exc:
        raise UnreadableMediaError(f"cannot stat {absolute}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{absolute} is a directory; give a media file")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{absolute} is not a regular file (a device, FIFO or socket)")
    if not os.access(absolute, os.R_OK):
        raise UnreadableMediaError(f"permission denied: {absolute} (no read permission)")
    if info.st_size == 0:
        raise UnreadableMediaError(f"{absolute} is empty (0 bytes)")
    return absolute


def _open_read_only(path: str) -> int:
    """A read-only descriptor for ``path``, without access-time updates where the kernel allows it."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        if noatime:
            try:
                return os.open(path, flags | noatime)
            except PermissionError as exc:
                # O_NOATIME needs ownership of the file: EPERM. No read permission is EACCES.
                if exc.errno != errno.EPERM:
                    raise
        return os.open(path, flags)
    except PermissionError:
        raise UnreadableMediaError(f"permission denied: {path} (no read permission)") from None
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give a media file") from None
    except OSError as exc:
        raise UnreadableMediaError(f"cannot open {path}: {exc.strerror or exc}") from None


_LINK_PREFIX = "provenance-input-"  # then the pid of the process whose link it holds, and a random part
_swept: set[str] = set()  # the temporary folders already swept by this process


def _sweep_stale_links() -> None:
    """Remove the link folders of processes of this user that died without closing (``kill -9``).

    Only a folder named for a process that no longer exists, owned by this user, holding nothing but
    the one link, is removed; a link is removed, never what it pointed to.
    """
    parent = tempfile.gettempdir()
    if parent in _swept:
        return
    _swept.add(parent)  # once a process and folder: what dies later is found by the next process
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            pid_text = entry.name[len(_LINK_PREFIX):].partition("-")[0]
            if not entry.name.startswith(_LINK_PREFIX) or not pid_text.isdigit():
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or _alive(int(pid_text)):
                    continue
                inside = os.listdir(entry.path)
                if len(inside) > 1 or any(not os.path.islink(os.path.join(entry.path, n)) for n in inside):
                    continue
                for name in inside:
                    os.unlink(os.path.join(entry.path, name))
                os.rmdir(entry.path)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _link_name(absolute: str) -> str:
    """``input`` plus the given name's extension (what follows its last dot, as ffmpeg reads it) when a plain one."""
    _stem, dot, extension = os.path.basename(absolute).rpartition(".")
    return f"input.{extension}" if dot and _EXTENSION.fullmatch(extension) else "input"


@dataclass(frozen=True)
class MediaSource:
    """A media file opened read-only, once. Use ``MediaSource.open(path)`` as a context manager.

    ``given`` is the path as given, ``path`` its absolute form (not resolved: a link keeps the name it
    was given by), both only for display; every read goes through ``fd``. ``stat_at_open`` is ``fstat``
    of the descriptor at open, before any byte was read: the size and times of the file as found.
    """

    fd: int
    given: str
    path: str
    stat_at_open: os.stat_result
    # the private folder of ffmpeg's link to the descriptor, made on first use (hashing alone needs none)
    _link_dirs: list[str] = field(default_factory=list, init=False, repr=False, compare=False)
    _closed: list[bool] = field(default_factory=list, init=False, repr=False, compare=False)  # [True] once closed

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> MediaSource:
        """Open ``path`` read-only; see :func:`validate_input_path` for the errors."""
        given = os.fspath(path)
        absolute = validate_input_path(given)
        fd = _open_read_only(absolute)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(f"{absolute} is not a regular file")
            if info.st_size == 0:
                raise UnreadableMediaError(f"{absolute} is empty (0 bytes)")
        except BaseException:
            os.close(fd)
            raise
        return cls(fd=fd, given=given, path=absolute, stat_at_open=info)

    @property
    def name(self) -> str:
        """The file name, for display."""
        return os.path.basename(self.path)

    @property
    def size(self) -> int:
        """Bytes in the file when it was opened."""
        return self.stat_at_open.st_size

    @property
    def fd_path(self) -> str:
        """``/dev/fd/N``: a path that opens this very file, in this process (for libraries that want a path)."""
        return f"/dev/fd/{self.fd}"

    @property
    def link(self) -> str:
        """The name ffmpeg is given: a link to ``/dev/fd/N`` with the given name's extension (made here once)."""
        if not self._link_dirs:
            try:
                _sweep_stale_links()
                folder = tempfile.mkdtemp(prefix=f"{_LINK_PREFIX}{os.getpid()}-")
            except OSError as exc:
                raise UnreadableMediaError(
                    f"cannot hand {self.path} to ffmpeg: no private folder can be made in {tempfile.gettempdir()} "
                    f"({exc.strerror or exc}); set TMPDIR to a writable folder"
                ) from None
            if _PATTERN_CHARACTERS & set(folder):
                shutil.rmtree(folder, ignore_errors=True)
                raise UnreadableMediaError(
                    f"cannot hand {self.path} to ffmpeg: the temporary folder {folder} has a character ffmpeg "
                    "reads as a file name pattern (% * ? [ ] { } \\); set TMPDIR to a plain folder"
                )
            try:
                os.symlink(self.fd_path, os.path.join(folder, _link_name(self.path)))
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self._link_dirs.append(folder)
        return os.path.join(self._link_dirs[0], _link_name(self.path))

    def pread(self, length: int, offset: int = 0) -> bytes:
        """Up to ``length`` bytes at ``offset``, without moving any file position (safe from any thread)."""
        return os.pread(self.fd, length, offset)

    def ensure_unchanged(self) -> None:
        """Raise UnreadableMediaError when the file's size or modification time moved since it was opened.

        A file renamed over the path does not matter (the descriptor still holds the original); one
        written in place while it was read would leave a record that describes no single version of it.
        """
        now = os.fstat(self.fd)
        if (now.st_size, now.st_mtime_ns) != (self.stat_at_open.st_size, self.stat_at_open.st_mtime_ns):
            raise UnreadableMediaError(
                f"{self.path} changed while being examined (written to while it was read): copy it somewhere "
                "stable and try again"
            )

    def close(self) -> None:
        """Close the descriptor and remove ffmpeg's link (the file itself is never touched); once only."""
        if self._closed:
            return  # the number may belong to another file by now
        self._closed.append(True)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        for folder in self._link_dirs:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> MediaSource:
        """Return the source."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the source."""
        self.close()


@contextlib.contextmanager
def opened(target: str | os.PathLike[str] | MediaSource) -> Iterator[MediaSource]:
    """``target`` itself when it is a MediaSource (left open), else the file at that path opened for the block."""
    if isinstance(target, MediaSource):
        yield target
        return
    with MediaSource.open(target) as source:
        yield source


def reads_source(
    func: Callable[Concatenate[MediaSource, _P], _R],
) -> Callable[Concatenate[str | os.PathLike[str] | MediaSource, _P], _R]:
    """Let ``func(source, ...)`` also be called with a path: the file is then opened for the call alone."""

    @functools.wraps(func)
    def wrapper(target: str | os.PathLike[str] | MediaSource, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with opened(target) as source:
            return func(source, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class FfmpegInput:
    """How to name a MediaSource to ffprobe or ffmpeg: the input ``url`` and the descriptors to pass the child."""

    url: str
    pass_fds: tuple[int, ...]


def ffmpeg_input(source: MediaSource) -> FfmpegInput:
    """The input of an ffprobe or ffmpeg run on ``source``: give ``url`` as the input, ``pass_fds`` to subprocess."""
    return FfmpegInput(url=source.link, pass_fds=(source.fd,))
