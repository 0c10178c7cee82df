"""The wheel works outside the checkout: built, installed elsewhere, it answers from its own code and data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a folder holding the project's wheel installed (without dependencies: those come from this venv)."""
    base = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-tree build would leave build/ in the checkout.
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "app.py"):
        shutil.copy(ROOT / name, source / name)
    for name in ("qa", "index", "prompts"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    # No build isolation: the venv's setuptools builds it, so no download is needed.
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(base / "dist"), str(source)], check=True, capture_output=True, text=True, timeout=300)
    # What setuptools says at every install reads like a failure to a new user: the build says nothing.
    assert "BuildBackendWarning" not in built.stdout + built.stderr, built.stdout + built.stderr
    (wheel,) = (base / "dist").glob("policy_qa-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("qa/prompts/refusal.md", "qa/prompts/answer.md", "qa/surfaces/web/static/app.css",
                     "qa/surfaces/web/static/app.js", "app.py",
                     "index/embedding/data/static_table.npy", "index/embedding/data/e5_calibration.tsv",
                     "index/data/regions.tsv"):
        assert expected in names
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(base / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    return base / "site"


def test_every_folder_that_ships_is_a_listed_package() -> None:
    """Each folder of qa/ and index/ (the data folders too) is in [tool.setuptools] packages: one left out is not
    installed, or makes setuptools warn that it is "absent from the packages configuration"."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = [path for top in ("qa", "index") for path in [ROOT / top, *(ROOT / top).rglob("*")]]
    folders = {".".join(p.relative_to(ROOT).parts) for p in found
               if p.is_dir() and p.name != "__pycache__" and any(f.is_file() for f in p.iterdir())}
    assert folders | {"qa.prompts"} == set(config["packages"])


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m qa ARGS` from the installed copy, in a folder outside the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(PYTHONPATH=str(site), QA_EMBEDDING_BACKEND="none", PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=300, check=False)


@pytest.mark.subprocess
@pytest.mark.wheel
def test_installed_wheel_answers_and_refuses_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    """The installed copy (not the checkout) builds an index and answers one question, refuses another."""
    where = run_installed(installed, tmp_path, "--version")
    assert where.returncode == 0 and str(installed) in where.stdout, where.stdout + where.stderr
    index = tmp_path / "index"
    built = run_installed(installed, tmp_path, "build", "--corpus", str(CORPUS), "--index", str(index), "--quiet")
    assert built.returncode == 0, built.stderr[-2000:]
    answered = run_installed(installed, tmp_path, "ask", "江苏有哪些文化产业基金可以用？", "--index", str(index),
                             "--json")
    assert answered.returncode == 0, answered.stderr[-2000:]
    record = json.loads(answered.stdout)
    assert record["answerable"] and "紫金文化产业基金" in record["answer"]
    refused = run_installed(installed, tmp_path, "ask", "上海对动漫企业有什么奖励？", "--index", str(index), "--json")
    assert refused.returncode == 0, refused.stderr[-2000:]
    record = json.loads(refused.stdout)
    # The refusal is written from the packaged prompt: it lists what the knowledge base covers.
    assert not record["answerable"] and "目前知识库收录的政策文件" in record["answer"]
