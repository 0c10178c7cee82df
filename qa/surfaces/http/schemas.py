"""The HTTP records of every route: requests, responses and the OpenAI chat-completions subset."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from qa.render.record import AnswerJSON

MODEL_NAME = "policy-qa"
MAX_QUESTION = 20_000


def _no_lone_surrogates(value: Any) -> Any:
    """Return the request data unchanged, or raise ValueError when a string holds a lone UTF-16 surrogate.

    JSON may spell one ("\\udc00"); Python accepts it as str, and it fails later wherever text is encoded
    (SQLite, opencc, the JSON response) as a 500."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"文本第 {exc.start + 1} 个字符是无效的 Unicode 代理字符（如 \\udc00）；"
                                 "请发送有效的 UTF-8 文本") from None
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            pending += item
    return value


class Filters(BaseModel):
    """Restrict the answer to some documents or regions."""

    doc_ids: list[str] | None = Field(None, description="只在这些文件中查找")
    region: str | None = Field(None, description="只在该地区（如 江苏省、深圳市）的文件中查找")


class AskRequest(BaseModel):
    """A question, with earlier questions of the conversation."""

    question: str = Field(..., max_length=MAX_QUESTION, examples=["江苏有哪些文化产业基金可以用？"])
    history: list[str] = Field(default_factory=list, max_length=20, description="本轮对话中之前的问题，按时间顺序")
    filters: Filters | None = None

    @model_validator(mode="before")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        return _no_lone_surrogates(value)


class AskResponse(AnswerJSON):
    """The assistant's answer: the batch output record (answer_json; its fields are declared once, in AnswerJSON)."""


class DocumentOut(BaseModel):
    """A document of the knowledge base."""

    doc_id: str
    title: str
    region: str | None
    issuer: str | None
    doc_number: str | None
    issue_date: str | None
    period: list[int] | None
    clauses: int
    url: str | None = Field(None, description="政府网站上的原文地址；原文件见 /api/documents/{doc_id}/file")


class ClauseOut(BaseModel):
    """A clause with its document."""

    clause_id: str
    label: str
    title: str
    path: list[str]
    text: str
    lead_agencies: list[str]
    partner_agencies: list[str]
    document: DocumentOut


class Health(BaseModel):
    """Whether the service can answer."""

    status: Literal["ok", "loading", "error"]
    detail: str
    documents: int = 0
    clauses: int = 0
    dense: bool = False
    llm: bool = False


class ChatMessage(BaseModel):
    """An OpenAI chat message."""

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat-completions request the assistant uses."""

    model: str = MODEL_NAME
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False

    @model_validator(mode="before")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        return _no_lone_surrogates(value)
