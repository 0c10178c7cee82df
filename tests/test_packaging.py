"""The wheel ships every data file the code reads: each tracked non-Python file of a package is package data."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

import pytest

from tests.conftest import ROOT


def shipped(path: str, package_data: dict[str, list[str]]) -> bool:
    """Return True when a repository path matches a [tool.setuptools.package-data] glob of its package."""
    for package, globs in package_data.items():
        prefix = package.replace(".", "/") + "/"
        if not path.startswith(prefix):
            continue
        parts = PurePosixPath(path.removeprefix(prefix)).parts
        # setuptools globs relative to the package folder; "*" does not cross a "/".
        for glob in globs:
            pattern = PurePosixPath(glob).parts
            if len(pattern) == len(parts) and all(fnmatchcase(p, g) for p, g in zip(parts, pattern, strict=True)):
                return True
    return False


def test_every_tracked_data_file_of_a_package_is_package_data() -> None:
    """A file like index/embedding/data/static_table.npy that no glob matches would be missing from the wheel."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = config["tool"]["setuptools"]["package-data"]
    listed = subprocess.run(["git", "ls-files", "qa", "index"], cwd=ROOT, capture_output=True, text=True, check=True)
    data = [p for p in listed.stdout.splitlines() if not p.endswith(".py")]
    assert "index/embedding/data/static_table.npy" in data
    assert [p for p in data if not shipped(p, package_data)] == []
