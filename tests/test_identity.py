"""File identity: one read-only pass gives hashlib's SHA-256, SHA-1 and MD5, and leaves the file untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from provenance.errors import UnreadableMediaError, UsageError
from provenance.media.identity import CHUNK_SIZE, file_identity, iso_from_ns, validate_input_path

ROOT = Path(__file__).resolve().parent.parent


def test_known_bytes_abc(tmp_path: Path) -> None:
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    ident = file_identity(str(path))
    assert ident.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert ident.sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert ident.md5 == "900150983cd24fb0d6963f7d28e17f72"
    assert ident.size == 3
    assert ident.name == "abc.bin"
    assert ident.path == str(path.resolve())


def test_hashes_equal_hashlib_across_chunks(tmp_path: Path) -> None:
    # 2.5 chunks, so the running digests cross chunk boundaries and a short last read.
    data = os.urandom(CHUNK_SIZE * 2 + CHUNK_SIZE // 2 + 7)
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    ident = file_identity(path)
    assert ident.sha256 == hashlib.sha256(data).hexdigest()
    assert ident.sha1 == hashlib.sha1(data).hexdigest()
    assert ident.md5 == hashlib.md5(data).hexdigest()
    assert ident.size == len(data)


def test_times_are_iso_from_ns_from_stat(tmp_path: Path) -> None:
    path = tmp_path / "timed.bin"
    path.write_bytes(b"x" * 10)
    os.utime(path, ns=(1_600_000_000_123_456_000, 1_601_899_200_000_000_000))  # our own test file
    ident = file_identity(path)
    assert ident.modified == "2020-10-05T12:00:00.000000Z"
    assert datetime.fromisoformat(ident.changed).tzinfo is not None
    assert datetime.fromisoformat(ident.accessed).tzinfo is not None
    assert iso_from_ns(0) == "1970-01-01T00:00:00.000000Z"


def test_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "keep.bin"
    data = os.urandom(CHUNK_SIZE + 1)
    path.write_bytes(data)
    # atime older than mtime: a plain read would move it even on a relatime mount.
    os.utime(path, ns=(1_500_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = os.stat(path)
    ident = file_identity(path)
    after = os.stat(path)
    assert path.read_bytes() == data
    assert after.st_mtime_ns == before.st_mtime_ns
    assert after.st_size == before.st_size
    assert after.st_mode == before.st_mode
    assert ident.accessed == iso_from_ns(before.st_atime_ns)
    if hasattr(os, "O_NOATIME") and before.st_uid == os.geteuid():
        # The file is ours, so it was opened O_NOATIME: not even the access time moved.
        assert after.st_atime_ns == before.st_atime_ns


def test_missing_path_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        file_identity(tmp_path / "nope.mp4")
    with pytest.raises(UsageError, match="no such file"):
        validate_input_path(str(tmp_path / "nope.mp4"))


def test_directory_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        file_identity(tmp_path)
    with pytest.raises(UsageError, match="is a directory"):
        validate_input_path(tmp_path)


def test_fifo_is_usage_error(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        file_identity(fifo)


def test_zero_bytes_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(UnreadableMediaError, match=r"is empty \(0 bytes\)"):
        file_identity(path)


def test_messages_are_one_line(tmp_path: Path) -> None:
    for bad in (tmp_path / "missing", tmp_path):
        with pytest.raises(UsageError) as info:
            file_identity(bad)
        assert "\n" not in str(info.value)


def test_validate_returns_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"data")
    monkeypatch.chdir(tmp_path)
    assert validate_input_path("clip.mp4") == str(tmp_path / "clip.mp4")
    # A name that looks like an option or a protocol is still just a file.
    (tmp_path / "-i").write_bytes(b"data")
    assert validate_input_path("-i") == str(tmp_path / "-i")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read a chmod 000 file; see the os.access and non-root tests below")
def test_no_read_permission_real(tmp_path: Path) -> None:
    path = tmp_path / "locked.mp4"
    path.write_bytes(b"data")
    path.chmod(0)
    try:
        with pytest.raises(UnreadableMediaError, match="permission denied"):
            file_identity(path)
    finally:
        path.chmod(0o600)


def test_no_read_permission_decided_by_os_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Honest note: as root, chmod 000 does not stop reading, so here os.access is made to answer
    # "no" to show that it is what validate_input_path consults. The test below checks the real thing.
    path = tmp_path / "locked.mp4"
    path.write_bytes(b"data")
    path.chmod(0)
    real_access = os.access

    def access(p: object, mode: int, **kwargs: object) -> bool:
        return False if str(p) == str(path) else real_access(p, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    try:
        with pytest.raises(UnreadableMediaError, match="permission denied"):
            validate_input_path(path)
        with pytest.raises(UnreadableMediaError, match="permission denied"):
            file_identity(path)
    finally:
        path.chmod(0o600)


_AS_NOBODY = """
import os, sys
sys.path.insert(0, sys.argv[1])
from provenance.errors import UnreadableMediaError
from provenance.media.identity import file_identity
path = sys.argv[2]
for label, access in (("os.access", os.access), ("open", lambda *a, **k: True)):
    os.access = access  # second round: skip the os.access check so the kernel's refusal of open() is hit
    try:
        file_identity(path)
    except UnreadableMediaError as exc:
        print(label, exc)
    else:
        print(label, "READ")
"""


_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _nobody_python(folder: str) -> str | None:
    """A Python the 'nobody' user can run and import the project with (pyenv under /root is closed)."""
    check = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import provenance.media.identity"
    for python in (sys.executable, "/usr/bin/python3"):
        proc = subprocess.run([*_NOBODY, python, "-c", check], capture_output=True, cwd=folder,
                              env={"PYTHONDONTWRITEBYTECODE": "1"})
        if proc.returncode == 0:
            return python
    return None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to drop to the 'nobody' user")
def test_no_read_permission_as_nobody() -> None:
    # Runs file_identity as uid 65534 in a child process, so the kernel really refuses the read.
    folder = tempfile.mkdtemp(prefix="provenance-perm-")
    try:
        os.chmod(folder, 0o755)  # the folder is open to everyone, the file inside is not
        python = _nobody_python(folder)
        if python is None:
            pytest.skip("no Python interpreter with which the 'nobody' user can import the project")
        path = os.path.join(folder, "locked.mp4")
        with open(path, "wb") as handle:
            handle.write(b"data")
        os.chmod(path, 0)
        proc = subprocess.run([*_NOBODY, python, "-c", _AS_NOBODY, str(ROOT), path], capture_output=True,
                              text=True, cwd=folder, env={"PYTHONDONTWRITEBYTECODE": "1"})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines() == [
            f"os.access permission denied: {path} (no read permission)",
            f"open permission denied: {path} (no read permission)",
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
