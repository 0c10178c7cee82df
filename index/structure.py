"""Parse cleaned paragraphs into a clause tree with stable ids, labels, heading paths and agencies."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field

from index.cleaning import normalise_line
from index.lang.numbering import FIXED_ORDER, PARAGRAPH, STYLES, Marker, canonical_token, match_marker
from index.lang.text import AGENCY_NOTE
from index.records import Clause, TextTable

RANK = {s.name: s.rank for s in STYLES}
MAX_HEADING = 40
# The closing block of a government document (主题词/抄送/印发 line) is not part of the last clause.
BACK_MATTER = re.compile(
    r"^(主题词|抄送|抄报|分送|报送)[：:]|^\S{2,30}(办公厅|办公室|秘书处)\s*\d{4}年\d{1,2}月\d{1,2}日\s*印发"
)
CLOSING_AGENCY_NOTE = re.compile(AGENCY_NOTE + r"\s*$")
# The labelled form of notices' measures: "（责任单位：省人力社保厅、省财政厅）", "（牵头单位：A；配合单位：B、C）".
LABELLED_NOTE = re.compile(r"^(?:责任单位|责任部门|牵头单位|牵头部门)[:：]\s*(?P<lead>[^；;]*)"
                           r"(?:[；;]\s*(?:配合单位|配合部门|参与单位)[:：]\s*(?P<partners>.*))?$")
PREAMBLE, BACK = "前言", "版记"


@dataclass
class _Node:
    style: str
    number: int
    token: str
    heading: str
    paras: list[tuple[int, int]] = field(default_factory=list)
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)


def paragraphs_with_offsets(text: str) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the non-empty lines of cleaned text."""
    spans, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _split_heading(marker: Marker) -> str:
    """Return the heading title after a marker: its first short sentence, or "" when the body starts at once."""
    rest = marker.rest
    if marker.style == "annex":
        return ""
    head = rest.split("。", 1)[0]
    if len(head) <= MAX_HEADING and not re.search(r"[，；;,]", head):
        return head
    return ""


def _accept(marker: Marker, parent: _Node, last: dict[str, int]) -> bool:
    """Return True when a marker continues the numbering, so it is a heading and not body text."""
    if marker.style == "annex":
        return True
    siblings = [c.number for c in parent.children if c.style == marker.style]
    expected = {1, last.get(marker.style, 0) + 1, (siblings[-1] + 1) if siblings else 1}
    return marker.number in expected


def _parent_for(marker: Marker, stack: list[_Node]) -> list[_Node]:
    """Return the open stack after closing the nodes a new marker of this style ends."""
    styles = [n.style for n in stack]
    if marker.style == "annex":
        return stack[:1]
    if marker.style in styles:
        return stack[: styles.index(marker.style)]
    if marker.style in FIXED_ORDER:
        keep = stack[:]
        while len(keep) > 1 and (keep[-1].style not in FIXED_ORDER or RANK[keep[-1].style] >= RANK[marker.style]):
            if keep[-1].style == "annex":
                break
            keep.pop()
        return keep
    return stack


def _build_tree(text: str) -> tuple[_Node, list[_Node], _Node | None]:
    """Return the root, the nodes in document order, and the back-matter node if any."""
    root = _Node("root", 0, "", "")
    stack: list[_Node] = [root]
    nodes: list[_Node] = []
    last: dict[str, int] = {}
    back: _Node | None = None
    for start, end in paragraphs_with_offsets(text):
        para = text[start:end]
        if back is not None or BACK_MATTER.match(para):
            back = back or _Node("back", 0, "", BACK)
            back.paras.append((start, end))
            continue
        marker = match_marker(para)
        if marker is not None:
            candidate = _parent_for(marker, stack)
            if _accept(marker, candidate[-1], last):
                title = _split_heading(marker)
                node = _Node(marker.style, marker.number, canonical_token(marker.style, marker.number, marker.token),
                             title, [(start, end)], candidate[-1])
                candidate[-1].children.append(node)
                stack = [*candidate, node]
                nodes.append(node)
                last[marker.style] = marker.number
                continue
        stack[-1].paras.append((start, end))
    return root, nodes, back


def _label(node: _Node) -> str:
    """Return the human label of a node, e.g. 三、（一）2. or 附件 一、 or 第五条（二）."""
    chain = []
    n: _Node | None = node
    while n is not None and n.style != "root":
        chain.append(n)
        n = n.parent
    chain.reverse()
    if any(c.style == "article" for c in chain):
        # Statutes are cited by article alone: 第五条, not 第一章第五条.
        chain = chain[next(i for i, c in enumerate(chain) if c.style == "article"):]
        return "".join(c.token for c in chain)
    annex = [c.token for c in chain if c.style == "annex"]
    body = "".join(c.token for c in chain if c.style not in ("annex", "chapter", "section"))
    chapters = "".join(c.token for c in chain if c.style in ("chapter", "section"))
    parts = [p for p in (" ".join(annex), chapters + body) if p]
    return " ".join(parts)


def _heading(node: _Node, text: str) -> str:
    """Return the heading line of a node: its label token and title."""
    if node.style == "annex":
        first_own = [text[s:e] for s, e in node.paras[1:2]]
        title = first_own[0] if first_own and len(first_own[0]) <= 60 else ""
        return f"{node.token}：{title}" if title else node.token
    return f"{node.token}{node.heading}" if node.heading else node.token


def parse_agencies(clause_text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (lead, partner) agencies from a closing note like（A、B牵头，C、D等按职责分工负责）."""
    m = CLOSING_AGENCY_NOTE.search(clause_text.strip())
    if not m:
        return (), ()
    note = m.group(1)
    if labelled := LABELLED_NOTE.match(note):
        return split(labelled["lead"]), split(labelled["partners"] or "")
    if "牵头" in note:
        lead_part, _, partner_part = note.partition("牵头")
    else:
        lead_part, partner_part = re.sub(r"(等)?(按职责分工)?负责$", "", note), ""
    partner_part = re.sub(r"^[，,、；;]", "", partner_part)
    partner_part = re.sub(r"(等)?(部门|单位)?(按职责分工|按职责)?(分工)?(负责|配合|参与)$", "", partner_part)

    return split(lead_part), split(partner_part)


def split(part: str) -> tuple[str, ...]:
    """Return the agencies of a list ("省科技厅、省财政厅和市政府")."""
    return tuple(x.strip() for x in re.split(r"[、，,]|和(?=省|市|区|县)", part) if x.strip())


def clause_id(doc_id: str, label: str) -> str:
    """Return a stable id for a clause from its document id and label."""
    return hashlib.sha1(f"{doc_id}|{label}".encode()).hexdigest()[:16]


def parse_clauses(doc_id: str, text: str) -> list[Clause]:
    """Return the document's clauses in reading order: preamble, numbered tree, back matter."""
    root, nodes, back = _build_tree(text)
    spans = paragraphs_with_offsets(text)
    if not nodes:
        # No recognisable numbering: every paragraph is a clause, cited by its paragraph number.
        return [
            Clause(clause_id(doc_id, PARAGRAPH.format(i)), doc_id, PARAGRAPH.format(i), (PARAGRAPH.format(i),),
                   "", text[s:e], "", s, e, 1)
            for i, (s, e) in enumerate(spans, 1)
        ]
    ordered: list[tuple[_Node, str]] = []
    if root.paras:
        root.heading = PREAMBLE
        ordered.append((root, PREAMBLE))
    labels: dict[str, int] = {}
    for node in nodes:
        label = _label(node)
        labels[label] = labels.get(label, 0) + 1
        # Numbering that restarts without a distinguishing parent still needs unique labels.
        ordered.append((node, label if labels[label] == 1 else f"{label}#{labels[label]}"))
    if back is not None:
        ordered.append((back, BACK))
    ids = {id(node): clause_id(doc_id, label) for node, label in ordered}
    clauses = []
    for node, label in ordered:
        own = "\n".join(text[s:e] for s, e in node.paras)
        path: list[str] = []
        n: _Node | None = node
        while n is not None and n.style != "root":
            path.append(_heading(n, text))
            n = n.parent
        if node.style in ("root", "back"):
            path = [node.heading]
        lead, partners = parse_agencies(own)
        start = node.paras[0][0] if node.paras else 0
        end = node.paras[-1][1] if node.paras else 0
        depth = len(path) if node.style not in ("root", "back") else 0
        clauses.append(Clause(
            clause_id=ids[id(node)], doc_id=doc_id, label=label, path=tuple(reversed(path)) if depth else tuple(path),
            heading=_heading(node, text) if depth else node.heading, text=own, start=start, end=end, level=depth,
            title=node.heading if node.style not in ("root", "back", "annex") else "",
            parent_id=ids.get(id(node.parent)) if node.parent is not None and node.parent.style != "root" else None,
            lead_agencies=lead, partner_agencies=partners,
            children=tuple(ids[id(c)] for c in node.children),
        ))
    return clauses


def with_tables(clauses: list[Clause], tables: tuple[TextTable, ...]) -> list[Clause]:
    """Return the clauses, each with the rows of the tables that are lines of its text (a table the clause tree
    splits goes to each clause with its own rows), so the viewer can show them as a table again."""
    if not tables:
        return clauses
    # The rows were written before cleaning; compare them as cleaning left them.
    cleaned = [TextTable(tuple(map(normalise_line, t.columns)), tuple(tuple(map(normalise_line, r)) for r in t.rows),
                         tuple(map(normalise_line, t.lines))) for t in tables]
    out = []
    for clause in clauses:
        lines = set(clause.text.split("\n"))
        own = []
        for table in cleaned:
            keep = [i for i, line in enumerate(table.lines) if line in lines]
            if keep:
                own.append(TextTable(table.columns, tuple(table.rows[i] for i in keep),
                                     tuple(table.lines[i] for i in keep)))
        out.append(dataclasses.replace(clause, tables=tuple(own)) if own else clause)
    return out
