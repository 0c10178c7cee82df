"""The page's event handlers, guarded: an exception is logged (redacted) and the reader sees a fixed message."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

FAILED = "查询时出现问题，请稍后再试。"
log = logging.getLogger(__name__)


def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Return the handler with any exception logged (redacted) and shown to the user as a fixed message."""
    # show_error=False alone shows Gradio's bare "Error"; an exception's own text (paths, library internals,
    # a URL with its key) must not reach the page either way.
    def fail(exc: Exception) -> gr.Error:
        log.error("页面请求失败", exc_info=exc)
        return gr.Error(FAILED, print_exception=False)

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise fail(exc) from None
        return stream

    @functools.wraps(handler)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise fail(exc) from None
    return call
