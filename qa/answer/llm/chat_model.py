"""The chat model behind LLM mode: langchain's ChatOpenAI against any OpenAI-compatible endpoint."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from qa.settings import Settings


def chat_model(settings: Settings) -> BaseChatModel:
    """Return the configured chat model; requests fail fast (no retries) so the fallback answers in time."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        # Local servers (vLLM, Ollama) accept any key; the client library insists on one.
        api_key=settings.llm_api_key if settings.llm_api_key.get_secret_value() else "not-needed",  # type: ignore[arg-type]
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=settings.llm_temperature,
    )
