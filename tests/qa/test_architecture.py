"""The shape of the code: dependencies point one way, docs/architecture.md names every module, and the retrieval
stage works as a langchain retriever."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.runnables import RunnableLambda

from qa.assistant import Assistant
from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
# A path of the checkout written in the doc, e.g. `qa/understand/query.py` or `index/readers/`.
DOC_PATH = re.compile(r"`((?:index|qa|tests|prompts|bench|docs)/[\w./-]*)`")


def modules() -> set[str]:
    """Return the path of every module of index/ and qa/ (packages' __init__.py aside)."""
    return {p.relative_to(ROOT).as_posix() for layer in ("index", "qa") for p in (ROOT / layer).rglob("*.py")
            if p.name != "__init__.py"}


def table_paths(doc: str) -> set[str]:
    """Return the paths the "What lives where" table names in its first column.

    A bare file name there means a file in the folder of the path before it in the same cell (`qa/understand/query.py`,
    `spelling.py`), so one row can name a stage's modules without repeating the folder."""
    section = doc.split("## What lives where", 1)[1].split("\n## ", 1)[0]
    named: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        folder = ""
        for token in re.findall(r"`([^`]+)`", row.split("|")[1]):
            if "/" in token:
                folder = token if token.endswith("/") else token.rsplit("/", 1)[0] + "/"
                named.add(token)
            else:
                named.add(folder + token)
    return named


@pytest.mark.subprocess
def test_import_contracts_hold() -> None:
    """index never imports qa; the answering stages never import the channels, the CLI, evaluation or a web
    framework (the contracts are in pyproject.toml, checked by import-linter)."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.subprocess
def test_index_layer_imports_without_qa() -> None:
    """A pure parsing function loads without the answering layer or its heavy dependencies."""
    code = ("import sys; from index.cleaning import clean_text; clean_text('一、总则'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('qa', 'langchain_core', 'pydantic_settings')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_module_is_in_the_architecture_doc() -> None:
    """Each module of index/ and qa/ has its place in the "What lives where" table of docs/architecture.md."""
    missing = sorted(modules() - table_paths(DOC.read_text(encoding="utf-8")))
    assert not missing, f"docs/architecture.md（What lives where）缺少这些模块，请补一行或加入同文件夹的一行：{missing}"


def test_the_architecture_doc_names_only_paths_that_exist() -> None:
    """Every path docs/architecture.md names (in the table or anywhere in backticks) exists in the checkout."""
    doc = DOC.read_text(encoding="utf-8")
    named = table_paths(doc) | set(DOC_PATH.findall(doc))
    assert named, "precondition: the doc is read"
    stale = sorted(p for p in named if not (ROOT / p).exists())
    assert not stale, f"docs/architecture.md 提到不存在的路径，请改为现在的位置：{stale}"


def test_retriever_works_in_an_lcel_chain(stub_assistant: Assistant) -> None:
    """The langchain retriever composes like any other: question in, cited clauses out."""
    chain = stub_assistant.as_retriever() | RunnableLambda(lambda docs: [d.metadata["source"] for d in docs[:1]])
    (source,) = chain.invoke("江苏有哪些文化产业基金可以用？")
    assert "关于促进文化和科技深度融合的实施意见" in source and "四、（二）" in source
    docs = stub_assistant.as_retriever().batch(["深圳文化科技企业用房有什么政策？"])[0]
    assert docs and docs[0].page_content and docs[0].metadata["clause_id"] == docs[0].id


def test_app_reaches_the_answering_layer_through_the_service() -> None:
    """app.py (outside the packages import-linter checks) imports from index only errors, records and the language
    floor, and never the assistant: like every surface, it goes through qa.service."""
    import ast

    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    reaching = sorted(m for m in imported if m == "qa.assistant" or (m.startswith("index.")
                      and m not in ("index.errors", "index.records") and not m.startswith("index.lang")))
    assert reaching == []
    assert "qa.service" in imported
