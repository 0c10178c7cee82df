"""Traditional Chinese questions: convert for retrieval, answer in the user's script (OpenCC)."""

from __future__ import annotations

from functools import cache

from index.lang.text import CJK


@cache
def _converter(config: str) -> object:
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Return the text in simplified characters."""
    return _converter("t2s").convert(text)  # type: ignore[attr-defined]


def to_traditional(text: str) -> str:
    """Return the text in standard traditional characters (OpenCC s2tw), for Hong Kong, Macau and Taiwan users."""
    # Not s2hk: its Hong Kong variants 税, 説, 户, 着 are (or look like) the simplified forms, so "税收優惠" read as
    # half-converted; every traditional-script reader reads 稅, 說, 戶, 著.
    return _converter("s2tw").convert(text)  # type: ignore[attr-defined]


def is_traditional(text: str) -> bool:
    """Return True when converting to simplified changes a meaningful share of the text's characters."""
    simplified = to_simplified(text)
    changed = sum(1 for a, b in zip(text, simplified, strict=False) if a != b)
    cjk = len(CJK.findall(text))
    # One changed character can be a variant used in simplified text too; a question in traditional
    # script changes several.
    return changed >= 2 or (cjk > 0 and changed / cjk >= 0.2)
