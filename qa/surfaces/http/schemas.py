"""The HTTP records of every route: requests, responses and the OpenAI chat-completions subset."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

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


class CitationOut(BaseModel):
    """A cited clause (Citation.to_json)."""

    doc_id: str
    doc_title: str
    clause_id: str
    clause: str
    title: str
    text: str
    quote: str
    sentences: str = Field("", description="长条款中被引用的句子位置，如 第3—4句")
    source: str = Field(description="可直接展示的出处，如 依据《文件》（文号）三、（一）“标题”（日期）")
    url: str = Field("", description="文件在政府网站上的原文地址（查看原文）；未知时为空")


class RetrievedOut(BaseModel):
    """A retrieved clause with its score (ScoredClause.to_json)."""

    doc_title: str
    clause: str
    clause_id: str
    text: str
    score: float


class AskResponse(BaseModel):
    """The assistant's answer: the batch output record (Answer.to_json)."""

    answer: str
    answerable: bool
    outcome: Literal["answer", "related", "refuse", "clarify", "courtesy"] = Field(
        description="answer：有明确依据；related：没有明确规定，列出可能相关的条款；refuse：没有找到；clarify：问题过于宽泛，"
                    "请补充；courtesy：问候或致谢，礼貌回复，未检索")
    query: str
    citations: list[CitationOut]
    retrieved: list[RetrievedOut]
    suggestions: list[str] = []


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
