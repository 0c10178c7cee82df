"""The shape of the code: dependencies point one way, and the retrieval stage works as a langchain retriever."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from langchain_core.runnables import RunnableLambda

from qa.assistant import Assistant
from tests.conftest import ROOT


def test_import_contracts_hold() -> None:
    """index never imports qa; the answering stages never import the channels, the CLI, evaluation or a web
    framework (the contracts are in pyproject.toml, checked by import-linter)."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_index_layer_imports_without_qa() -> None:
    """A pure parsing function loads without the answering layer or its heavy dependencies."""
    code = ("import sys; from index.cleaning import clean_text; clean_text('一、总则'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('qa', 'langchain_core', 'pydantic_settings')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_retriever_works_in_an_lcel_chain(assistant: Assistant) -> None:
    """The langchain retriever composes like any other: question in, cited clauses out."""
    chain = assistant.as_retriever() | RunnableLambda(lambda docs: [d.metadata["source"] for d in docs[:1]])
    (source,) = chain.invoke("江苏有哪些文化产业基金可以用？")
    assert "关于促进文化和科技深度融合的实施意见" in source and "四、（二）" in source
    docs = assistant.as_retriever().batch(["深圳文化科技企业用房有什么政策？"])[0]
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
