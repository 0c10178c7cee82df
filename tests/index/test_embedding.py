"""Tests for index.embedding: one contract for every embedder, the lexical-only fallbacks, incremental dense builds."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from index.build import build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.embedding.e5_bundled import BundledE5Embeddings
from index.embedding.e5_onnx import OnnxE5Embeddings
from index.embedding.sentence_transformers import SentenceTransformerEmbeddings
from index.recordfile import RECORDS_FILE, RecordFile
from index.store import CURRENT, current_generation, open_index
from qa.assistant import Assistant
from qa.render.plain import plain_text
from qa.settings import Settings
from tests.conftest import ROOT
from tests.stubs import HashingEmbeddings
from tests.tiny_models import build_tiny_model, tiny_vocab

CORPUS = ROOT / "data" / "policies"
QUERY = "文化产业基金"
MATCHING = "设立紫金文化产业基金支持文化企业"
UNRELATED = "加强水下文物保护修复"
FUND_QUESTION = "江苏有哪些文化产业基金可以用？"
FUND_ANCHOR = "紫金文化产业基金"
SHENZHEN = "shenzhen-culture-tech-2012.txt"
# An edit inside one leaf clause of the Shenzhen document (三、（九） lists traditional crafts).
EDIT_FROM, EDIT_TO = "陶瓷、漆器", "陶瓷、玉雕、漆器"
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the folder of a tiny sentence-transformers model built offline with a fixed seed."""
    return build_tiny_model(tmp_path_factory.mktemp("st") / "tiny-bert")


@pytest.fixture(scope="module")
def tiny(tiny_model: Path) -> SentenceTransformerEmbeddings:
    """Return our embedder over the tiny model."""
    return SentenceTransformerEmbeddings(str(tiny_model))


def cosine(a: list[float], b: list[float]) -> float:
    """Return the cosine similarity of two vectors."""
    x, y = np.asarray(a), np.asarray(b)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


class EmbedderContract:
    """What every embedder promises the index; subclasses provide the `factory` fixture."""

    @pytest.fixture(scope="class")
    def factory(self) -> Callable[[], PolicyEmbeddings]:
        """Return a zero-argument constructor of the embedder under test."""
        raise NotImplementedError

    @pytest.fixture(scope="class")
    def embedder(self, factory: Callable[[], PolicyEmbeddings]) -> PolicyEmbeddings:
        """Return one embedder shared by the class's tests."""
        return factory()

    def test_one_normalised_vector_per_text(self, embedder: PolicyEmbeddings) -> None:
        """embed_documents returns one unit-length vector per text, all of one dimension."""
        texts = [MATCHING, UNRELATED, QUERY, "a", "文" * 300]
        vectors = np.asarray(embedder.embed_documents(texts))
        assert vectors.ndim == 2 and vectors.shape[0] == len(texts) and vectors.shape[1] > 1
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)

    def test_query_vector_matches_document_dimension(self, embedder: PolicyEmbeddings) -> None:
        """embed_query returns a unit-length vector of the documents' dimension."""
        query = embedder.embed_query(QUERY)
        (doc,) = embedder.embed_documents([MATCHING])
        assert len(query) == len(doc)
        assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-3)

    def test_query_is_closer_to_matching_passage(self, embedder: PolicyEmbeddings) -> None:
        """A query is more similar to the passage that contains it than to an unrelated one."""
        query = embedder.embed_query(QUERY)
        matching, unrelated = embedder.embed_documents([MATCHING, UNRELATED])
        assert cosine(query, matching) > cosine(query, unrelated)

    def test_vector_does_not_depend_on_batch(self, embedder: PolicyEmbeddings) -> None:
        """A passage's vector is the same alone or padded in a batch, so cached vectors from any batch mix."""
        texts = [UNRELATED, MATCHING + MATCHING, QUERY]
        together = np.asarray(embedder.embed_documents(texts))
        alone = np.asarray([embedder.embed_documents([t])[0] for t in texts])
        np.testing.assert_allclose(together, alone, atol=1e-4)

    def test_model_id_is_stable(self, embedder: PolicyEmbeddings, factory: Callable[[], PolicyEmbeddings]) -> None:
        """model_id is a non-empty string, the same for a second load of the same model."""
        assert isinstance(embedder.model_id, str) and embedder.model_id.strip()
        assert factory().model_id == embedder.model_id

    def test_empty_input_gives_empty_output(self, embedder: PolicyEmbeddings) -> None:
        """Embedding no texts returns an empty list."""
        assert embedder.embed_documents([]) == []


@pytest.mark.e5
class TestBundledE5(EmbedderContract):
    """The bundled, offline multilingual-e5-small."""

    @pytest.fixture(scope="class")
    def factory(self) -> Callable[[], PolicyEmbeddings]:
        """Return the bundled e5 constructor."""
        return BundledE5Embeddings


class TestHashingStub(EmbedderContract):
    """The hashing stub the fast tier builds its indexes with (tests/stubs.py): it must keep the same promises."""

    @pytest.fixture(scope="class")
    def factory(self) -> Callable[[], PolicyEmbeddings]:
        """Return the stub's constructor."""
        return HashingEmbeddings


class TestSentenceTransformers(EmbedderContract):
    """A local sentence-transformers model: the tiny random BERT built by this module."""

    @pytest.fixture(scope="class")
    def factory(self, tiny_model: Path) -> Callable[[], PolicyEmbeddings]:
        """Return a constructor loading the tiny model from disk."""
        return lambda: SentenceTransformerEmbeddings(str(tiny_model))

    @pytest.mark.parametrize("text", [QUERY, MATCHING, UNRELATED])
    def test_tiny_tokenizer_knows_chinese_characters(self, tiny_model: Path, text: str) -> None:
        """The saved tokenizer maps each Chinese character to its own vocabulary id, never [UNK]."""
        vocab = {token: i for i, token in enumerate(tiny_vocab())}
        ids = AutoTokenizer.from_pretrained(str(tiny_model))(text)["input_ids"]
        assert ids == [vocab["[CLS]"], *(vocab[c] for c in text), vocab["[SEP]"]]

    def test_model_id_names_the_folder(self, embedder: PolicyEmbeddings, tiny_model: Path) -> None:
        """The model id names the model folder and carries a fingerprint of its files."""
        assert embedder.model_id.startswith(f"st-{tiny_model.name}-")
        assert len(embedder.model_id) > len(f"st-{tiny_model.name}-")

    def test_model_id_changes_when_weights_change(self, tmp_path: Path) -> None:
        """A model overwritten in place with different weights gets a different model id."""
        folder = build_tiny_model(tmp_path / "model", seed=0)
        before = SentenceTransformerEmbeddings(str(folder))
        old_vector = before.embed_query(QUERY)
        shutil.rmtree(folder)
        after = SentenceTransformerEmbeddings(str(build_tiny_model(folder, seed=1)))
        if np.allclose(old_vector, after.embed_query(QUERY)):
            pytest.fail("precondition: the retrained model must embed differently")
        assert after.model_id != before.model_id


@pytest.mark.parametrize(("backend", "model", "expected"), [
    ("sentence-transformers", "tiny", SentenceTransformerEmbeddings),
    ("auto", "tiny", SentenceTransformerEmbeddings),
    pytest.param("auto", "", OnnxE5Embeddings, marks=pytest.mark.e5),
    pytest.param("e5", "tiny", BundledE5Embeddings, marks=pytest.mark.e5),
    ("none", "tiny", type(None)),
    ("none", "", type(None)),
])
def test_backend_choice(backend: str, model: str, expected: type, tiny_model: Path,
                        caplog: pytest.LogCaptureFixture) -> None:
    """load_embeddings picks the backend from settings: auto means a named local model, else the bundled e5 on
    onnxruntime."""
    caplog.set_level(logging.WARNING)
    settings = Settings(embedding_backend=backend, embedding_model=str(tiny_model) if model else "")
    assert type(load_embeddings(settings.embedder_config)) is expected
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_missing_model_falls_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A model that cannot load gives None (lexical-only) and exactly one warning of ours naming it."""
    caplog.set_level(logging.WARNING)
    settings = Settings(embedding_backend="sentence-transformers", embedding_model="/nonexistent")
    assert load_embeddings(settings.embedder_config) is None
    ours = [r for r in caplog.records if r.name.startswith("index.") and r.levelno >= logging.WARNING]
    assert len(ours) == 1, [r.getMessage() for r in ours]
    assert "/nonexistent" in ours[0].getMessage() and "关键词检索" in ours[0].getMessage()


def test_missing_model_logs_one_warning_in_total(caplog: pytest.LogCaptureFixture) -> None:
    """A model that cannot load produces one warning in the log, not one per library involved."""
    caplog.set_level(logging.WARNING)
    missing = Settings(embedding_backend="sentence-transformers", embedding_model="/nonexistent")
    assert load_embeddings(missing.embedder_config) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings


def test_lexical_only_index_answers(tmp_path: Path) -> None:
    """An index built without an embedder has no dense part and still answers with the right citation."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index")
    report = build_index(settings.build_config, None, progress=False)
    assert report.embedding_model is None and report.embedded == 0 and report.reused == 0
    assert "仅关键词检索" in report.summary()
    assert not (tmp_path / "index" / report.generation / "chroma").exists()
    kb = open_index(settings.index_dir, None)
    assert kb.dense is None
    answer = Assistant(settings, kb, None).ask(FUND_QUESTION)
    assert answer.answerable, plain_text(answer)
    assert any(FUND_ANCHOR in c.text for c in answer.citations), [c.clause for c in answer.citations]


def chunk_hashes(index_dir: Path, generation: str) -> dict[str, str]:
    """Return content hash -> clause id of the chunks of one generation."""
    records = RecordFile(index_dir / generation / RECORDS_FILE)
    try:
        return {c.content_hash: c.clause_id for c in records.chunks.values()}
    finally:
        records.close()


def test_incremental_rebuild_embeds_only_changed_clauses(tmp_path: Path, tiny: SentenceTransformerEmbeddings) -> None:
    """After one clause changes, only its chunks are embedded; generations switch atomically and the old stays."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index_dir)
    first = build_index(settings.build_config, tiny, progress=False)
    assert first.embedding_model == tiny.model_id
    assert first.embedded == first.chunks == first.vectors_written > 0 and first.reused == 0

    doc = corpus / SHENZHEN
    text = doc.read_text(encoding="utf-8")
    assert text.count(EDIT_FROM) == 1
    doc.write_text(text.replace(EDIT_FROM, EDIT_TO), encoding="utf-8")
    second = build_index(settings.build_config, tiny, progress=False)
    old, new = chunk_hashes(index_dir, first.generation), chunk_hashes(index_dir, second.generation)
    changed = {h: clause for h, clause in new.items() if h not in old}
    assert 0 < second.embedded < second.chunks
    assert second.embedded == len(changed)
    assert second.reused == second.chunks - second.embedded
    kb = open_index(index_dir, tiny)
    edited = {c.clause_id for c in kb.clauses.values() if EDIT_TO in c.text}
    assert len(edited) == 1 and set(changed.values()) == edited
    # The vector store started as a copy of the previous one: only the changed chunk was written into it.
    assert second.vectors_written == len(changed)
    assert kb.dense is not None
    stored = kb.dense.collection.get(include=["metadatas"])
    assert sorted(stored["ids"]) == sorted(kb.chunks)
    assert all(m["hash"] == kb.chunks[i].content_hash for i, m in zip(stored["ids"], stored["metadatas"], strict=True))
    target = next(c for c in kb.chunks.values() if EDIT_TO in c.text)
    assert kb.dense.search(target.indexed_text, 1)[0][0] == target.chunk_id

    assert (index_dir / first.generation / "manifest.json").exists(), "previous generation must be kept"
    assert (index_dir / CURRENT).read_text(encoding="utf-8").strip() == second.generation
    assert current_generation(index_dir) == index_dir / second.generation

    again = build_index(settings.build_config, tiny, progress=False)
    assert again.unchanged and again.embedded == 0
    assert (index_dir / CURRENT).read_text(encoding="utf-8").strip() == second.generation

    doc.write_text(text, encoding="utf-8")
    third = build_index(settings.build_config, tiny, progress=False)
    assert third.embedded == 0 and third.reused == third.chunks, "the original clause's vector is cached"
    assert third.vectors_written == len(changed)
    assert {p.name for p in index_dir.glob("gen-*")} == {second.generation, third.generation}


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory, tiny: SentenceTransformerEmbeddings) -> Path:
    """Return an index of the bundled corpus built with the tiny model."""
    folder = tmp_path_factory.mktemp("tiny-index")
    build_index(Settings(corpus_dir=CORPUS, index_dir=folder).build_config, tiny, progress=False)
    return folder


def test_dense_search_with_matching_embedder(tiny_index: Path, tiny: SentenceTransformerEmbeddings) -> None:
    """The index's own embedder turns dense search on; a chunk's text finds that chunk first, scores descending."""
    kb = open_index(tiny_index, tiny)
    assert kb.dense is not None
    target = next(c for c in kb.chunks.values() if FUND_ANCHOR in c.text)
    hits = kb.dense.search(target.indexed_text, 5)
    assert len(hits) == 5 and all(chunk_id in kb.chunks for chunk_id, _ in hits)
    assert hits[0][0] == target.chunk_id and hits[0][1] == pytest.approx(1.0, abs=1e-3)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    answer = Assistant(Settings(corpus_dir=CORPUS, index_dir=tiny_index), kb, tiny).ask(FUND_QUESTION)
    assert any(s.dense != 0.0 for s in answer.retrieved), "dense hits must reach the fused ranking"
    assert answer.answerable and any(FUND_ANCHOR in c.text for c in answer.citations)


def test_other_embedder_falls_back_to_lexical(tiny_index: Path, tiny: SentenceTransformerEmbeddings,
                                              tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An embedder whose model id differs from the index's gets lexical-only search and one warning."""
    other = SentenceTransformerEmbeddings(str(build_tiny_model(tmp_path / "other-bert", seed=1)))
    assert other.model_id != tiny.model_id
    caplog.set_level(logging.WARNING)
    kb = open_index(tiny_index, other)
    assert kb.dense is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and tiny.model_id in warnings[0] and other.model_id in warnings[0], warnings
    answer = Assistant(Settings(corpus_dir=CORPUS, index_dir=tiny_index), kb, other).ask(FUND_QUESTION)
    assert all(s.dense == 0.0 for s in answer.retrieved)
    assert answer.answerable and any(FUND_ANCHOR in c.text for c in answer.citations)
