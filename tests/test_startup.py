"""Start-up imports only what the command needs (issue 17), seen in fresh interpreters.

* ``check`` without ``--archive`` (text and JSON) imports no part of the archive but the small
  ``searchable`` type module (no store, hash index, frame cache, search or local-feature index, so
  not SQLite either), not the matcher's archive search or local-feature matching, not the
  file-structure readers, and not scipy;
* ``check --archive --json`` imports the feature index it uses, but without ``--structure`` and
  ``--keyframes`` neither the structure readers nor the side-by-side pictures, and not scipy;
* ``check --help`` imports neither numpy, OpenCV, scipy nor Pillow (``provenance --help``:
  ``test_perf_paths``);
* the command runs numpy's OpenBLAS on one thread unless the user set ``OPENBLAS_NUM_THREADS``,
  as the loaded library itself reports;
* what plans and starts ``check``'s early decode (``provenance.sampling``) imports no numpy, so the
  decode runs while numpy is imported;
* the public names of ``provenance.archive`` and ``provenance.match``, imported from their modules on
  first use, are all there, and importing one submodule of either package imports no other.

Each run is the real entry point, ``provenance.cli.app.main``, in a new ``python`` process. Start-up
times are a bench figure, not a test: ``bench/startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from provenance.cli.app import cli

ROOT = Path(__file__).resolve().parent.parent

RUN = """
import ctypes, json, sys
from pathlib import Path
from provenance.cli.app import main
out = Path(sys.argv[1])
sys.argv = ["provenance", *sys.argv[2:]]
try:
    main()
    code = 0
except SystemExit as stop:
    code = stop.code or 0

def blas_threads():
    # numpy's wheels bundle OpenBLAS under a prefixed name; ask the loaded copy how many threads it runs
    if "numpy" not in sys.modules:
        return None
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    for path in paths:
        library = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                     "openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(library, name):
                return getattr(library, name)()
    return None

out.write_text(json.dumps({"code": code, "modules": sorted(sys.modules), "blas_threads": blas_threads()}))
"""

ARCHIVE_PARTS = ("provenance.archive.store", "provenance.archive.index", "provenance.archive.index.base",
                 "provenance.archive.custody", "provenance.archive.frame_cache", "provenance.archive.search",
                 "provenance.archive.descriptor_index", "provenance.archive.migrations", "sqlite3")
STRUCTURE = ("provenance.forensics.selfreport", "provenance.forensics.structure")


def run_fresh(tmp_path: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What ``provenance ARGS`` left in a fresh interpreter (which must exit ``code``): its modules, BLAS threads."""
    out = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", RUN, str(out), *args], capture_output=True, text=True, cwd=ROOT,
                          stdin=subprocess.DEVNULL, check=False, env=env)
    assert out.exists(), proc.stderr
    ran = json.loads(out.read_text())
    assert ran["code"] == code, proc.stderr
    return ran


def modules_after(tmp_path: Path, *args: str, code: int = 0) -> set[str]:
    """The modules loaded once ``provenance ARGS`` has run in a fresh interpreter (which must exit ``code``)."""
    return set(run_fresh(tmp_path, *args, code=code)["modules"])


@pytest.mark.parametrize("output", [["--json"], []], ids=["json", "text"])
def test_check_without_archive_imports_no_archive_search(tmp_path: Path, testsrc_clip: Path,
                                                         output: list[str]) -> None:
    loaded = modules_after(tmp_path, "check", *output, str(testsrc_clip))
    assert "provenance.fingerprinting" in loaded and "numpy" in loaded  # it did examine the clip
    unwanted = {*ARCHIVE_PARTS, *STRUCTURE, "provenance.match.against_archive", "provenance.match.geometry", "scipy"}
    assert sorted(unwanted & loaded) == []


def test_check_with_archive_imports_what_it_uses_only(tmp_path: Path, testsrc_clip: Path) -> None:
    archive = tmp_path / "cases.sqlite"
    added = CliRunner().invoke(cli, ["archive", "add", "--archive", str(archive), str(testsrc_clip)],
                               catch_exceptions=False)
    assert added.exit_code == 0, added.output
    loaded = modules_after(tmp_path, "check", "--archive", str(archive), "--json", "--fail-on-match",
                           str(testsrc_clip), code=1)  # exit 1: the archived clip was found
    assert {"provenance.archive.descriptor_index", "provenance.match.against_archive", "sqlite3"} <= loaded
    assert sorted({*STRUCTURE, "provenance.report.side_by_side", "scipy"} & loaded) == []


@pytest.mark.parametrize(("chosen", "expected"), [(None, 1), ("2", 2)], ids=["default", "user's-choice"])
def test_check_runs_blas_on_one_thread_unless_told(tmp_path: Path, testsrc_clip: Path, chosen: str | None,
                                                   expected: int) -> None:
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    if chosen is not None:
        env["OPENBLAS_NUM_THREADS"] = chosen
    ran = run_fresh(tmp_path, "check", "--json", str(testsrc_clip), env=env)
    if ran["blas_threads"] is None:
        pytest.skip("this numpy is not built on OpenBLAS")
    assert ran["blas_threads"] == expected


def test_check_help_imports_nothing_heavy(tmp_path: Path) -> None:
    loaded = modules_after(tmp_path, "check", "--help")
    assert sorted({"numpy", "cv2", "scipy", "PIL", "imagehash", "sqlite3", "provenance.checking"} & loaded) == []


@pytest.mark.parametrize(("package", "submodule", "not_imported"), [
    ("provenance.match", "provenance.match.verdict", "provenance.match.against_archive"),
    ("provenance.archive", "provenance.archive.custody", "provenance.archive.index"),
    ("provenance.archive", "provenance.archive.searchable", "provenance.archive.store"),
])
def test_packages_import_their_names_on_first_use(package: str, submodule: str, not_imported: str) -> None:
    code = (f"import importlib, sys\n"
            f"importlib.import_module({submodule!r})\n"
            f"assert {not_imported!r} not in sys.modules, 'imported with {submodule}'\n"
            f"package = importlib.import_module({package!r})\n"
            f"missing = [name for name in package.__all__ if getattr(package, name, None) is None]\n"
            f"assert not missing, missing\n"
            f"assert not hasattr(package, 'no_such_name')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr


def test_check_plans_its_early_decode_without_numpy() -> None:
    # check starts the video's decode while it imports numpy: what plans and starts it must not import it first
    code = ("import sys\n"
            "import provenance.checking, provenance.sampling, provenance.frames.launch\n"
            "heavy = sorted({'numpy', 'cv2', 'scipy', 'PIL'} & set(sys.modules))\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
