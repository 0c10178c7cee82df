"""A scope (the page's 查询范围, the API's filter) is searched inside each retrieval leg: the top k come from the
scope's chunks even when every chunk among the unscoped top k is another document's (tests/scoped.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import index.dense
from index.build import build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.knowledge import KnowledgeBase
from index.lang.tokens import tokenize
from index.retrieval import Scope
from index.store import open_index
from qa.assistant import Assistant
from qa.retrieve.hybrid import CANDIDATES, HybridRetriever
from qa.settings import Settings
from qa.understand.query import parse_query
from tests.scoped import OWN, QUESTION, write_crowded_corpus


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, KnowledgeBase, str, str]]:
    """The crowded corpus built with the static embedder (both legs on), its document in scope and its region."""
    folder = tmp_path_factory.mktemp("crowded")
    doc, region = write_crowded_corpus(folder / "corpus")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index", embedding_backend="static")
    embeddings = load_embeddings(settings.embedder_config)
    build_index(settings.build_config, embeddings, progress=False)
    kb = open_index(settings.index_dir, embeddings)
    yield settings, kb, doc, region
    kb.close()


def _embeddings(kb: KnowledgeBase) -> PolicyEmbeddings:
    assert kb.dense is not None
    return kb.dense.embeddings  # type: ignore[attr-defined, no-any-return]


def test_the_scope_is_outscored_everywhere_without_it(crowded: tuple[Settings, KnowledgeBase, str, str]) -> None:
    """The premise: neither leg's unscoped candidates hold a chunk of the scope."""
    _, kb, doc, _ = crowded
    assert kb.dense is not None
    lexical = kb.lexical.search(tokenize(QUESTION), CANDIDATES)
    dense = kb.dense.nearest(kb.dense.vector(QUESTION), CANDIDATES)
    assert len(lexical) == len(dense) == CANDIDATES
    assert not [c for c, _ in lexical + dense if kb.chunks[c].doc_id == doc]


@pytest.mark.parametrize("by", ["document", "region"])
def test_the_lexical_leg_ranks_inside_the_scope(crowded: tuple[Settings, KnowledgeBase, str, str], by: str) -> None:
    _, kb, doc, region = crowded
    scope = Scope(doc_ids=frozenset({doc})) if by == "document" else Scope(regions=frozenset({region}))
    tokens = tokenize(QUESTION)
    everything = kb.lexical.search(tokens, kb.lexical.size)
    want = [(c, s) for c, s in everything if kb.chunks[c].doc_id == doc][:10]
    got = kb.lexical.search(tokens, 10, scope=scope)
    assert len(got) == OWN and sorted(got) == sorted(want)
    assert kb.lexical.search(tokens, 10, scope=Scope(regions=frozenset({"没有这个地区"}))) == []


@pytest.mark.parametrize(("exact_all", "exact_scope"), [(index.dense.EXACT_ALL, 0), (0, index.dense.EXACT_SCOPE),
                                                        (0, 0)])
def test_the_dense_leg_finds_the_scopes_nearest(crowded: tuple[Settings, KnowledgeBase, str, str], exact_all: int,
                                                exact_scope: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small collection is compared exactly; in a large one (the limit at 0) a small scope is compared exactly
    and a large one (every scope, with its limit at 0) filtered by Chroma."""
    monkeypatch.setattr(index.dense, "EXACT_ALL", exact_all)
    monkeypatch.setattr(index.dense, "EXACT_SCOPE", exact_scope)
    _, kb, doc, region = crowded
    assert kb.dense is not None
    vector = kb.dense.vector(QUESTION)
    exact = kb.dense.similarities(vector, [c.chunk_id for clause in kb.clauses_of(doc)
                                           for c in kb.chunks_of(clause.clause_id)])
    want = sorted(exact, key=lambda c: -exact[c])[:5]
    for scope in (Scope(doc_ids=frozenset({doc})), Scope(regions=frozenset({region}))):
        got = kb.dense.nearest(vector, 5, scope)
        assert [c for c, _ in got] == want
        assert [s for _, s in got] == pytest.approx([exact[c] for c in want], abs=1e-5)


def test_retrieval_and_the_answer_come_from_the_scope(crowded: tuple[Settings, KnowledgeBase, str, str]) -> None:
    settings, kb, doc, _ = crowded
    found = HybridRetriever(kb).search(parse_query(QUESTION), {doc})
    assert len(found) >= OWN and {s.doc.doc_id for s in found} == {doc}
    answer = Assistant(settings, kb, _embeddings(kb)).ask(QUESTION, doc_ids={doc})
    assert answer.citations and {c.doc_id for c in answer.citations} == {doc}
