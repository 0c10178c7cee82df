"""Which documents a question may search: the chat page's 查询范围 choices and the API's region filter."""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from index.knowledge import KnowledgeBase
from index.records import PolicyDoc

# One dropdown entry per document is usable for a provincial corpus, not for 28,000 national documents.
MAX_DOC_SCOPES = 200
REGION_SCOPE = "地区："
DOC_SCOPE = "文件："


@dataclass(frozen=True)
class DocGroups:
    """The documents grouped in one pass; id lists keep the knowledge base's order. Read-only."""

    regions: list[str]
    places: dict[str, list[str]]
    scopes: dict[str, set[str]]


def group_documents(docs: Collection[PolicyDoc], max_docs: int = MAX_DOC_SCOPES) -> DocGroups:
    """Return the sorted region names, the ids per place (region or province) and the scope choices."""
    by_region: dict[str, set[str]] = {}
    places: dict[str, list[str]] = {}
    for d in docs:
        if d.region:
            by_region.setdefault(d.region, set()).add(d.doc_id)
        # A filter on a place matches a document of that region or of that province (a city's under its province).
        for place in dict.fromkeys(p for p in (d.region, d.province) if p):
            places.setdefault(place, []).append(d.doc_id)
    regions = sorted(by_region)
    scopes = {f"{REGION_SCOPE}{r}": by_region[r] for r in regions}
    if len(docs) <= max_docs:
        for d in docs:
            scopes[f"{DOC_SCOPE}{d.title}"] = {d.doc_id}
    return DocGroups(regions, places, scopes)


_last: tuple[weakref.ref[KnowledgeBase], DocGroups] | None = None


def groups_of(kb: KnowledgeBase) -> DocGroups:
    """Return the knowledge base's document groups, computed once per generation (a generation never changes)."""
    global _last
    cached = _last
    if cached is None or cached[0]() is not kb:
        # A weak reference, so a replaced generation is freed; concurrent first calls just group twice.
        cached = (weakref.ref(kb), group_documents(kb.docs.values()))
        _last = cached
    return cached[1]


def docs_in_place(kb: KnowledgeBase, place: str) -> list[str]:
    """Return the ids of the documents whose region or province is this place, in the knowledge base's order."""
    return groups_of(kb).places.get(place, [])


def filtered_doc_ids(kb: KnowledgeBase, doc_ids: Sequence[str] | None, region: str | None) -> set[str] | None:
    """Return the documents an API filter allows: the listed ids (all when none), of the region; None for all."""
    if doc_ids:
        listed = (kb.docs[i] for i in doc_ids if i in kb.docs)
        return {d.doc_id for d in listed if not region or region in (d.region, d.province)}
    if region:
        return set(docs_in_place(kb, region))
    return None
