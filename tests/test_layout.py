"""The code's floor plan: every module says what it is for, and no module takes another's private names.

The layers and the absence of cycles are checked by ``lint-imports`` (``pyproject.toml``,
``[tool.importlinter]``), which ``tests/run.sh`` runs before the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "provenance"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    if not path.is_relative_to(PACKAGE.parent):
        return ""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_module_has_a_docstring(path: Path) -> None:
    """Every module opens with a docstring saying what it is for."""
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path} has no docstring"


def _private_imports(path: Path) -> list[str]:
    """``from provenance.x import _name`` where ``provenance.x`` is another module."""
    own = _module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("provenance"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and node.module != own:
                    found.append(f"{node.module}.{alias.name}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            if isinstance(base, ast.Name) and base.id.endswith("_module"):
                found.append(f"{base.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_private_names_imported_from_another_module(path: Path) -> None:
    """A module uses another's public names only: private ones may change without notice."""
    assert _private_imports(path) == []


def test_the_private_import_check_can_fail(tmp_path: Path) -> None:
    """The check above finds a private import when there is one."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""x."""\nfrom provenance.archive.index import _ragged\n', encoding="utf-8")
    assert _private_imports(sample) == ["provenance.archive.index._ragged"]
