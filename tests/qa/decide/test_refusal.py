"""Refusals on a knowledge base larger than the bundled one: a bounded coverage list, suggestions vetted once."""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from index.build import build_index
from index.knowledge import KnowledgeBase
from index.records import Clause, PolicyDoc
from qa.answer.refusal import MAX_LISTED_DOCS, coverage_list
from qa.answer.suggest import MAX_FALLBACK_DOCS
from qa.render.plain import plain_text
from qa.retrieve.hybrid import HybridRetriever
from qa.service import Service
from qa.service.loader import open_assistant
from qa.settings import Settings
from tests.conftest import CORPUS

TOPICS = ["动漫", "游戏", "影视", "出版", "演艺", "非遗", "工艺美术", "数字音乐", "网络文学", "创意设计", "文旅融合",
          "潮汕木雕"]


def write_corpus(folder: Path) -> Path:
    """Write one short 杭州 policy per topic (doc01 … doc12, 潮汕木雕 last) and return the folder."""
    folder.mkdir()
    for i, topic in enumerate(TOPICS, 1):
        (folder / f"doc{i:02d}.txt").write_text(
            f"杭州市关于促进{topic}产业发展的若干措施\n\n"
            f"一、支持{topic}企业做强\n对年度营业收入首次超过一亿元的{topic}企业，给予一次性奖励五十万元。\n"
            f"二、建设{topic}产业园区\n支持各区建设{topic}产业园区，对认定的园区给予三百万元补助。\n",
            encoding="utf-8")
    return folder


def lexical_settings(corpus: Path, index: Path) -> Settings:
    """Return settings for a keyword-only index (fast to build)."""
    return Settings(corpus_dir=corpus, index_dir=index, embedding_backend="none")


def policy(i: int) -> PolicyDoc:
    """Return a small real document record."""
    return PolicyDoc(doc_id=f"d{i}", title=f"政策{i}", text="", source=f"d{i}.txt", content_hash=str(i),
                     region="杭州市")


class CountingDocs(Collection[PolicyDoc]):
    """A collection of documents that counts how many of them are read."""

    def __init__(self, docs: list[PolicyDoc]) -> None:
        self.docs, self.read = docs, 0

    def __len__(self) -> int:
        return len(self.docs)

    def __contains__(self, item: object) -> bool:
        return item in self.docs

    def __iter__(self) -> Iterator[PolicyDoc]:
        for doc in self.docs:
            self.read += 1
            yield doc


def test_coverage_list_of_a_small_knowledge_base_names_every_document() -> None:
    """Up to the cap, every document is listed in knowledge-base order and there is no total line."""
    docs = [policy(i) for i in range(MAX_LISTED_DOCS)]
    text = coverage_list(docs, nearest=[docs[-1]])
    assert text.splitlines() == [f"- 《政策{i}》（杭州市）" for i in range(MAX_LISTED_DOCS)]


def test_coverage_list_of_a_large_knowledge_base_reads_only_what_it_lists() -> None:
    """With 28,571 documents the list names the nearest ones, then the first few, then the total, and reads no more."""
    docs = CountingDocs([policy(i) for i in range(28_571)])
    near = [docs.docs[20_000], docs.docs[20_000], docs.docs[3]]
    lines = coverage_list(docs, nearest=near).splitlines()
    assert lines[0] == "- 《政策20000》（杭州市）" and lines[1] == "- 《政策3》（杭州市）"
    assert lines[2:-1] == [f"- 《政策{i}》（杭州市）" for i in (0, 1, 2, 4, 5, 6)]
    assert lines[-1] == "等共 28571 个文件"
    assert docs.read <= MAX_LISTED_DOCS


def test_refusal_in_a_large_corpus_lists_the_nearest_documents_and_the_total(tmp_path: Path) -> None:
    """A refused question about the 12th document lists it first, MAX_LISTED_DOCS documents in all, and the total."""
    settings = lexical_settings(write_corpus(tmp_path / "corpus"), tmp_path / "index")
    build_index(settings.build_config, None, progress=False)
    assistant = open_assistant(settings, build_if_missing=False)
    answer = assistant.ask("上海对潮汕木雕企业有什么奖励？")
    assert not answer.answerable and "上海市" in plain_text(answer)
    listed = [line for line in plain_text(answer).splitlines() if line.startswith("- 《")]
    assert listed[0] == "- 《杭州市关于促进潮汕木雕产业发展的若干措施》（杭州市）"
    assert len(listed) == MAX_LISTED_DOCS
    assert "等共 12 个文件" in plain_text(answer)
    # With nothing retrieved the first documents are listed.
    unrelated = assistant.ask("怎么办理护照？")
    assert not unrelated.answerable and "《杭州市关于促进动漫产业发展的若干措施》" in plain_text(unrelated)
    assert "等共 12 个文件" in plain_text(unrelated)


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the list of query texts every HybridRetriever.search call records (the real search still runs)."""
    calls: list[str] = []
    real = HybridRetriever.search

    def counting(self: HybridRetriever, query, doc_ids=None):  # type: ignore[no-untyped-def]
        calls.append(query.text)
        return real(self, query, doc_ids)

    monkeypatch.setattr(HybridRetriever, "search", counting)
    return calls


@pytest.mark.subprocess
def test_suggestions_are_vetted_once_per_index_generation(tmp_path: Path, searches: list[str]) -> None:
    """A second refusal runs only its own retrieval; after a rebuild the new generation vets its suggestions anew."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    service = Service(lexical_settings(corpus, tmp_path / "index")).start()
    assert service.wait(120)

    first = service.ask("test", "u", "怎么办理护照？")
    assert not first.answerable and first.suggestions
    assert len(searches) > 1  # the question, then each suggestion vetted
    searches.clear()
    second = service.ask("test", "u", "怎么办理签证？")
    assert second.suggestions == first.suggestions
    assert searches == ["怎么办理签证？"]

    # A new generation (one more document) is served by a new assistant: no verdict of the old one is reused.
    (corpus / "statute.txt").write_text("某省文化产业促进条例\n\n第一条　为了促进文化产业发展，制定本条例。\n",
                                        encoding="utf-8")
    old = service.loader.assistant
    service.rebuild()
    assert service.loader.assistant is not old
    searches.clear()
    third = service.ask("test", "u", "怎么办理护照？")
    assert not third.answerable and third.suggestions
    assert len(searches) > 1


def test_suggestion_fallback_reads_a_bounded_number_of_documents(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With no headed clause to suggest from, a refusal looks at MAX_FALLBACK_DOCS documents, not all of them."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(MAX_FALLBACK_DOCS + 10):
        # 第X条 articles carry no heading, so no clause yields a suggestion and the fallback runs to its end.
        (corpus / f"statute{i:02d}.txt").write_text(
            f"某省第{i + 1}号文化产业促进条例\n\n第一条　为了促进文化产业发展，制定本条例。\n"
            "第二条　本条例适用于本省行政区域内的文化产业促进活动。\n", encoding="utf-8")
    settings = lexical_settings(corpus, tmp_path / "index")
    build_index(settings.build_config, None, progress=False)
    assistant = open_assistant(settings, build_if_missing=False)
    assert len(assistant.kb.docs) == MAX_FALLBACK_DOCS + 10
    read: list[str] = []
    real = KnowledgeBase.clauses_of

    def counting(self: KnowledgeBase, doc_id: str) -> list[Clause]:
        read.append(doc_id)
        return real(self, doc_id)

    monkeypatch.setattr(KnowledgeBase, "clauses_of", counting)
    answer = assistant.ask("怎么办理护照？")
    assert not answer.answerable and not answer.suggestions
    assert len(read) <= MAX_FALLBACK_DOCS
