"""The REST API: ask, documents, clauses, measures, and the health check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from index.errors import DocumentError
from index.records import PolicyDoc
from qa.errors import FilterError
from qa.finder import MeasureRow
from qa.render.record import AnswerJSON, answer_json
from qa.service import Service
from qa.service.redact import public
from qa.surfaces.http.schemas import AskRequest, AskResponse, ClauseOut, DocumentOut, Health

# A page of /api/documents: the whole of a provincial corpus, a bounded response for a national one.
MAX_PAGE = 1000
PAGE_HELP = f"本页最多返回的文件数（不超过 {MAX_PAGE}）；总数见响应头 X-Total-Count"
REGION_HELP = "只列出该地区（如 江苏省、深圳市）的文件；填省份时也列出省内城市的文件"
MEDIA_TYPES = {".pdf": "application/pdf", ".doc": "application/msword", ".wps": "application/vnd.ms-works",
               ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               ".ofd": "application/ofd", ".txt": "text/plain", ".md": "text/markdown", ".html": "text/html",
               ".htm": "text/html"}


def ready(service: Service) -> Service:
    """Return the service once it can answer, or raise 503 while the index is loading or failed to load."""
    if not service.ready:
        raise HTTPException(503, service.status, {"Retry-After": "5"})
    return service


def _document(service: Service, d: PolicyDoc) -> DocumentOut:
    return DocumentOut(doc_id=d.doc_id, title=d.title, region=d.region, issuer=d.issuer, doc_number=d.doc_number,
                       issue_date=d.issue_date.isoformat() if d.issue_date else None,
                       period=list(d.period) if d.period else None, clauses=service.clause_count(d.doc_id),
                       url=d.url)


def _file_response(service: Service, doc_id: str) -> Response:
    """Return the original file of an indexed document as a download; the path comes from the index only."""
    try:
        found = ready(service).original_file(doc_id)
    except DocumentError as exc:
        raise HTTPException(410, f"{exc}") from exc
    if found is None:
        raise HTTPException(404, f"没有编号为 {doc_id} 的文件")
    name, data = found
    # Always a download, never rendered by the browser on our origin: a saved web page could hold scripts.
    return Response(data, media_type=MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream"),
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


def rest_router(service: Service, authorised: Callable[[Request], None]) -> APIRouter:
    """Return /healthz (open) and the /api routes (behind the API token when one is set)."""
    router = APIRouter()
    guarded = [Depends(authorised)]

    @router.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        """Return whether the service is ready, and what it serves."""
        if not service.ready:
            return Health(status="error" if service.error else "loading", detail=service.status)
        s = service.serving()
        detail = "就绪" if not s.damaged else (
            f"就绪；当前索引已损坏，暂用较早的索引 {s.folder.name}（{s.damaged}）；"
            "运行 `python -m qa build` 或 POST /admin/rebuild 修复")
        return Health(status="ok", detail=public(detail), documents=s.documents, clauses=s.clauses, dense=s.dense,
                      llm=s.llm)

    @router.post("/api/ask", response_model=AskResponse, dependencies=guarded, tags=["api"])
    def ask(body: AskRequest) -> AnswerJSON:
        """Answer a question with cited clauses (the `batch` output record)."""
        ready(service)
        f = body.filters
        doc_ids = service.scope(f.doc_ids, f.region) if f is not None else None
        return answer_json(service.ask("api", "", body.question, body.history, doc_ids))

    @router.get("/api/documents", response_model=list[DocumentOut], dependencies=guarded, tags=["api"],
                responses={200: {"headers": {"X-Total-Count": {"description": "符合条件的文件总数（不受分页影响）",
                                                               "schema": {"type": "integer"}}}}})
    def documents(response: Response, offset: Annotated[int, Query(ge=0, description="跳过的文件数")] = 0,
                  limit: Annotated[int, Query(ge=1, description=PAGE_HELP)] = MAX_PAGE,
                  region: Annotated[str | None, Query(description=REGION_HELP)] = None) -> list[DocumentOut]:
        """List the documents the knowledge base covers, a page at a time; X-Total-Count gives the total."""
        if limit > MAX_PAGE:
            raise HTTPException(422, f"limit={limit} 超过上限 {MAX_PAGE}；请分页读取：offset=0&limit={MAX_PAGE}，"
                                     f"再 offset={MAX_PAGE}&limit={MAX_PAGE}，依此类推")
        docs = ready(service).documents(region)
        response.headers["X-Total-Count"] = str(len(docs))
        return [_document(service, d) for d in docs[offset : offset + limit]]

    @router.get("/api/documents/{doc_id:path}/file", dependencies=guarded, tags=["api"], response_class=Response,
                responses={200: {"description": "原文件（下载）", "content": {"application/octet-stream": {}}},
                           404: {"description": "没有这个文件"}, 410: {"description": "原文件已移走或已修改"}})
    def document_file(doc_id: str) -> Response:
        """Download the original file of a document (an attachment gives the file it came in)."""
        return _file_response(service, doc_id)

    @router.get("/api/clauses/{clause_id}", response_model=ClauseOut, dependencies=guarded, tags=["api"],
                responses={404: {"description": "没有这个条款"}})
    def clause(clause_id: str) -> ClauseOut:
        """Return one clause with its document."""
        c = ready(service).clause(clause_id)
        if c is None:
            raise HTTPException(404, f"没有编号为 {clause_id} 的条款")
        doc = service.document(c.doc_id)
        assert doc is not None  # a clause's document is in its generation
        return ClauseOut(clause_id=c.clause_id, label=c.label, title=c.title, path=list(c.path), text=c.text,
                         lead_agencies=list(c.lead_agencies), partner_agencies=list(c.partner_agencies),
                         document=_document(service, doc))

    @router.get("/api/measures", response_model=list[MeasureRow], dependencies=guarded, tags=["api"],
                responses={422: {"description": "未知的类型、行业或对象；错误信息列出可选值"}})
    def measures(region: str | None = None, type: str | None = None, industry: str | None = None,
                 beneficiary: str | None = None) -> list[MeasureRow]:
        """List support measures filtered by region (e.g. 深圳: its own first, then its province's), type (e.g.
        资金/补贴), industry, beneficiary; each row's summary is its sentence about the filter."""
        try:
            return ready(service).measures(region, type, industry, beneficiary)
        except FilterError as exc:
            raise HTTPException(422, str(exc)) from None

    return router
