"""Records that ingestion produces and answering reads: SourceText -> PolicyDoc -> Clause -> Chunk, Measure,
and the manifest of an index generation. Frozen; each knows how to read itself back from its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from index.lang.text import HALF_WIDTH_BRACKETS


@dataclass(frozen=True)
class TextTable:
    """A table of a document: column names (empty when it has no header row), the cells of each data row, and the
    line each row became in the text ("播出平台：省级卫视；奖励标准：每分钟1500元。"), by which it is found again."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextTable:
        """Return the record from its stored JSON form."""
        return cls(tuple(data["columns"]), tuple(tuple(r) for r in data["rows"]), tuple(data["lines"]))


@dataclass(frozen=True)
class SourceText:
    """A document file read from disk: its text layer and any metadata the file or its sidecar gives."""

    path: str
    text: str
    fmt: str
    content_hash: str
    meta: dict[str, object] = field(default_factory=dict)
    tables: tuple[TextTable, ...] = ()
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text was recognised from a scan
    low_confidence: tuple[tuple[int, float], ...] = ()  # (page, mean OCR score) of pages to check by eye
    notes: tuple[str, ...] = ()  # what a limit cut short while reading (pages not recognised, scaled down)
    file_hash: str = ""  # sha256 of the file's bytes: the download serves only the file that was indexed
    member: str = ""  # the file's name inside a .zip bundle at `path`
    part_of: str = ""  # the source path of the notice this file is an attachment of (in a bundle)
    part_label: str = ""  # "附件1"


@dataclass(frozen=True)
class PolicyDoc:
    """One policy document with its metadata and cleaned text."""

    doc_id: str
    title: str
    text: str
    source: str
    content_hash: str
    issuer: str | None = None
    doc_number: str | None = None
    issue_date: date | None = None
    region: str | None = None
    province: str | None = None
    period: tuple[int, int] | None = None
    target_year: int | None = None
    url: str | None = None  # where the government published it (sidecar `url`, or the saved page's address)
    fmt: str = ""
    file_hash: str = ""
    member: str = ""  # the name inside the .zip at `source`
    ocr_pages: tuple[int, ...] = ()  # pages recognised from a scan: the viewer says so
    part_of: str | None = None  # the doc_id of the notice this is an attachment of
    part_label: str = ""  # "附件1"
    part_of_title: str = ""  # the notice's title, for citations

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyDoc:
        """Return the record from its stored JSON form."""
        data = dict(data)
        data["issue_date"] = date.fromisoformat(data["issue_date"]) if data.get("issue_date") else None
        data["period"] = tuple(data["period"]) if data.get("period") else None
        data["ocr_pages"] = tuple(data.get("ocr_pages") or ())
        return cls(**data)

    @property
    def part_name(self) -> str:
        """Return where an attachment belongs ("《关于印发……的通知》附件1"), or its label alone."""
        return f"《{self.part_of_title}》{self.part_label}" if self.part_of_title else self.part_label

    @property
    def date_or_period(self) -> str:
        """Return a short Chinese phrase naming the issue date and/or plan period."""
        parts = []
        if self.issue_date:
            d = self.issue_date
            parts.append(f"{d.year}年{d.month}月{d.day}日印发")
        if self.period:
            parts.append(f"规划期{self.period[0]}—{self.period[1]}年")
        return "，".join(parts)


@dataclass(frozen=True)
class Clause:
    """One numbered unit of a document (a node of its clause tree)."""

    clause_id: str
    doc_id: str
    label: str
    path: tuple[str, ...]
    heading: str
    text: str
    title: str
    start: int
    end: int
    level: int
    parent_id: str | None = None
    lead_agencies: tuple[str, ...] = ()
    partner_agencies: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    tables: tuple[TextTable, ...] = ()  # tables whose rows are lines of this clause's text

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Clause:
        """Return the record from its stored JSON form."""
        for key in ("path", "lead_agencies", "partner_agencies", "children"):
            data[key] = tuple(data[key])
        data["tables"] = tuple(TextTable.from_json(t) for t in data.get("tables") or ())
        return cls(**data)

    @property
    def is_retrievable(self) -> bool:
        """Return True when the clause has text of its own beyond a bare heading."""
        def bare(s: str) -> str:
            return "".join(s.split()).translate(HALF_WIDTH_BRACKETS).rstrip("。.：:")

        own = bare(self.text)
        return bool(own) and (own != bare(self.heading) or not self.children)


@dataclass(frozen=True)
class Target:
    """A quantitative target stated in a clause: "建成12家左右……示范基地" by 2025."""

    text: str
    value: float
    unit: str
    qualifier: str
    subject: str
    year: int | None


@dataclass(frozen=True)
class Measure:
    """A support measure extracted from one clause: what kind, for whom, in which industries, who leads."""

    clause_id: str
    doc_id: str
    label: str
    title: str
    summary: str
    types: tuple[str, ...]
    beneficiaries: tuple[str, ...]
    industries: tuple[str, ...]
    region: str | None
    province: str | None
    issuer: str | None
    lead_agencies: tuple[str, ...]
    partner_agencies: tuple[str, ...]
    targets: tuple[Target, ...]
    period: tuple[int, int] | None
    # False for a clause that states aims or arrangements and grants nothing (指导思想, 主要目标, 工作机制):
    # kept for the targets it states, never listed as a measure.
    grants: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measure:
        """Return the record from its stored JSON form."""
        data["targets"] = tuple(Target(**t) for t in data["targets"])
        for key in ("types", "beneficiaries", "industries", "lead_agencies", "partner_agencies"):
            data[key] = tuple(data[key])
        data["period"] = tuple(data["period"]) if data["period"] else None
        return cls(**data)


@dataclass(frozen=True)
class MeasureQuery:
    """Which measures answering asks for, every condition met: their region one of `regions` (any when None), they
    grant something (`granting`), and by their tags (kind "type", "industry" or "beneficiary": TAG_KINDS) one of
    the values of each `having`, one of the values or no tag of that kind for each `open_to` (a measure naming no
    industry applies to every industry), not the tag of each `without`."""

    regions: tuple[str, ...] | None = None
    granting: bool = False
    having: tuple[tuple[str, tuple[str, ...]], ...] = ()
    open_to: tuple[tuple[str, tuple[str, ...]], ...] = ()
    without: tuple[tuple[str, str], ...] = ()

    def admits(self, m: Measure) -> bool:
        """Return True when the measure meets every condition (the records file asks the same of SQLite)."""
        tags: dict[str, tuple[str, ...]] = {kind: getattr(m, field) for kind, field in TAG_KINDS.items()}
        return ((self.regions is None or m.region in self.regions) and (not self.granting or m.grants)
                and all(set(values) & set(tags[kind]) for kind, values in self.having)
                and all(not tags[kind] or set(values) & set(tags[kind]) for kind, values in self.open_to)
                and all(value not in tags[kind] for kind, value in self.without))


# The Measure fields each tag kind lists.
TAG_KINDS = {"type": "types", "industry": "industries", "beneficiary": "beneficiaries"}


@dataclass(frozen=True)
class Chunk:
    """One retrieval unit: a clause or a sentence-aligned piece of a long clause."""

    chunk_id: str
    clause_id: str
    doc_id: str
    label: str
    text: str
    indexed_text: str
    content_hash: str
    # Its place among its clause's chunks in reading order (0 for a clause that is one chunk): what a passage's
    # neighbours are found by, so nothing reads it back out of the id.
    position: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        """Return the record from its stored JSON form; a generation written before chunks stored their position
        gives it in the id alone ("<clause_id>-<position>"), so it is read from there."""
        if "position" not in data and data["chunk_id"] != data["clause_id"]:
            data["position"] = int(data["chunk_id"].rsplit("-", 1)[1])
        return cls(**data)


@dataclass(frozen=True)
class FileDigest:
    """Size and SHA-256 of one file of a generation as it was published (files that never change after)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a complete index generation holds and how it was built; written last, when the build succeeds."""

    signature: str
    pipeline_version: str
    embedding_model: str | None
    documents: int
    clauses: int
    chunks: int
    skipped: tuple[tuple[str, str], ...] = ()
    built_at: str = ""
    # Indexed, but to be checked by a person: e.g. scanned pages read with low confidence.
    notes: tuple[tuple[str, str], ...] = ()
    # On a Chroma server the vectors live in a collection named after the generation, not in its folder.
    chroma_collection: str | None = None
    # Written by publish; generations from before it have none, and are checked by counts and links only.
    files: tuple[FileDigest, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Return the manifest from its JSON form (files as {path: {"bytes", "sha256"}})."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["skipped"] = tuple((str(a), str(b)) for a, b in known.get("skipped", ()))
        known["notes"] = tuple((str(a), str(b)) for a, b in known.get("notes", ()))
        known["files"] = tuple(FileDigest(path, int(f["bytes"]), str(f["sha256"]))
                               for path, f in (known.get("files") or {}).items())
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        """Return the manifest as JSON data."""
        data = asdict(self)
        data["files"] = {f.path: {"bytes": f.size, "sha256": f.sha256} for f in self.files}
        return data
