"""Scope choices and region filters: the same answers as a scan of every document, without the per-request scan."""

from __future__ import annotations

import itertools

import pytest

from index.records import PolicyDoc
from qa.assistant import Assistant
from qa.understand.scopes import MAX_DOC_SCOPES, filtered_doc_ids, group_documents, groups_of

CITIES = {"广东省": ["深圳市", "广州市"], "江苏省": ["南京市"], "浙江省": []}


def _docs(n: int) -> list[PolicyDoc]:
    """Return n documents spread over provinces, their cities, and a few with no region."""
    places = [(p, p) for p in CITIES] + [(c, p) for p, cs in CITIES.items() for c in cs] + [(None, None)]
    return [PolicyDoc(doc_id=f"doc-{i}", title=f"文件{i}", text="", source=f"s{i}", content_hash=f"h{i}",
                      region=places[i % len(places)][0], province=places[i % len(places)][1]) for i in range(n)]


def _scan(docs: list[PolicyDoc]) -> dict[str, set[str]]:
    """Return the scopes as the chat page built them before: a scan of every document per region."""
    regions = sorted({d.region for d in docs if d.region})
    scopes = {f"地区：{r}": {d.doc_id for d in docs if d.region == r} for r in regions}
    return scopes | {f"文件：{d.title}": {d.doc_id} for d in docs}


@pytest.mark.parametrize("n", [0, 3, MAX_DOC_SCOPES])
def test_scopes_of_a_small_corpus_are_unchanged(n: int) -> None:
    """Up to MAX_DOC_SCOPES documents: each region, then each document, in the same order as before."""
    docs = _docs(n)
    assert list(group_documents(docs).scopes.items()) == list(_scan(docs).items())


def test_scopes_of_a_national_corpus_list_regions_only() -> None:
    """1,000 documents: one entry per region with its documents, no entry per document."""
    docs = _docs(1000)
    scopes = group_documents(docs).scopes
    assert list(scopes) == [f"地区：{r}" for r in sorted(["广东省", "深圳市", "广州市", "江苏省", "南京市", "浙江省"])]
    expected = {k: v for k, v in _scan(docs).items() if k.startswith("地区：")}
    assert scopes == expected
    assert sum(map(len, scopes.values())) == sum(1 for d in docs if d.region)


def test_places_match_region_or_province_in_corpus_order() -> None:
    """A place lists the documents whose region or province it is, each once, in corpus order."""
    docs = _docs(1000)
    places = group_documents(docs).places
    for place in ("广东省", "深圳市", "浙江省", "北京市"):
        assert places.get(place, []) == [d.doc_id for d in docs if place in (d.region, d.province)]


def test_api_filters_match_a_scan_of_every_document(stub_assistant: Assistant) -> None:
    """Every combination of listed ids and region selects what the former per-request scan selected."""
    kb = stub_assistant.kb
    docs = list(kb.docs.values())
    ids = [*kb.docs, "no-such-doc"]
    regions = [None, "", "广东省", "深圳市", "江苏省", "上海市"]
    id_lists = [None, [], *(list(c) for k in (1, 2) for c in itertools.combinations(ids, k))]
    for doc_ids, region in itertools.product(id_lists, regions):
        wanted = set(doc_ids or [d.doc_id for d in docs])
        scanned = {d.doc_id for d in docs if d.doc_id in wanted and (not region or region in (d.region, d.province))}
        got = filtered_doc_ids(kb, doc_ids, region)
        # None searches every document, as the full set did.
        assert (set(kb.docs) if got is None else got) == scanned, (doc_ids, region)


def test_groups_are_computed_once_per_knowledge_base(stub_assistant: Assistant) -> None:
    """The chat page and the API reuse one grouping per index generation."""
    assert groups_of(stub_assistant.kb) is groups_of(stub_assistant.kb)
    assert groups_of(stub_assistant.kb).regions == ["广东省", "江苏省", "深圳市"]
