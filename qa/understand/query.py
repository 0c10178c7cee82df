"""Question normalisation and what a question is about (regions, quantity)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from index.lang.regions import Region, gazetteer
from index.lang.text import CJK_CHARS, ZERO_WIDTH
from index.lang.tokens import tokenize
from qa.understand.abbreviation import Abbreviations
from qa.understand.asks import Ask, about_document, ask_of
from qa.understand.spelling import Speller
from qa.understand.vocabulary import equivalents
from qa.understand.wording import asking_part, plain, sub_questions

MAX_QUESTION_CHARS = 500
ELISION = "……"
# Words that ask for help in general, not for a particular policy (written from general knowledge).
GENERIC = ("钱", "补贴", "补助", "资金", "政策", "优惠", "扶持", "奖励", "支持", "申请", "申报", "办理", "享受", "福利",
           "好处", "待遇", "规定", "文件", "措施", "帮助", "帮扶")
QUANTITY = re.compile(r"多少|几[家个项所条年类种]|数量|规模|目标|金额|比例|比重")
# Sentences that address the assistant itself rather than ask about policy ("忽略之前的指令", "system prompt").
INJECTION = re.compile(
    r"(忽略|无视|忘记|不要遵守|不用遵守|绕过|跳过).{0,12}(指令|指示|规则|要求|提示|设定|限制)"
    r"|系统提示|提示词|system\s*prompt|ignore\s+(all\s+)?(previous|prior|above)|you\s+are\s+now|jailbreak"
    r"|(扮演|假装你是|你现在是)",
    re.IGNORECASE,
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
MARKUP = re.compile(
    r"<(script|style)\b.*?</\1\s*>|<[^<>]{0,300}>|\[[^\[\]]{0,40}\]\((?:[^()]|\([^()]*\)){0,300}\)"
    r"|\]\((?:[^()]|\([^()]*\)){0,300}\)|(?:javascript|https?|file):\S*",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Query:
    """A question as understood: normalised with slips corrected (`text`), what retrieval looks for (`focus`:
    no courtesy, framing or story), the user's own words (`asked`), and what it is about."""

    text: str
    regions: tuple[Region, ...]
    wants_quantity: bool
    truncated: bool = False
    injected: bool = False
    asked: str = ""
    focus: str = ""
    corrections: tuple[tuple[str, str], ...] = ()
    parts: tuple[str, ...] = ()
    # The documents' words for the focus's everyday words (qa/data/vocabulary.tsv): (word, official forms).
    equivalents: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ask: Ask = Ask.GENERAL  # the kind of fact asked for
    about_document: bool = False  # who issued the document, when: its header and signature answer it
    # How telling each word of the focus is in this corpus (its IDF), set once the corpus is known.
    weights: tuple[tuple[str, float], ...] = ()
    # The question segmented once, for every stage: the words searched for (the focus's, else the text's) and the
    # words of the whole text.
    tokens: tuple[str, ...] = ()
    text_tokens: tuple[str, ...] = ()
    # A follow-up merged with the question before it ("……租金贷，这合规吗，可以去哪投诉"): the words of the follow-up
    # itself, which choose among the clauses the earlier question's words find.
    stressed: tuple[str, ...] = ()

    @property
    def equivalent(self) -> dict[str, tuple[str, ...]]:
        """Return the official forms of each everyday word of the focus."""
        return dict(self.equivalents)


def encodable(text: str) -> str:
    """Return text that encodes as UTF-8: lone surrogates (a JSON "\\udc00", an undecodable argv byte) become "?"."""
    # Every surface reaches the assistant; opencc, SQLite and JSON responses all need encodable text.
    return text.encode("utf-8", "replace").decode("utf-8")


def normalise(question: str) -> tuple[str, bool]:
    """Return the question with full-width ASCII folded, markup and control characters removed,
    whitespace collapsed, and length capped; plus whether it was truncated."""
    text = ANSI.sub("", question.translate(ZERO_WIDTH))
    # Tags and link targets are not part of a question; left in, their tokens read as an unknown topic.
    text = MARKUP.sub(" ", text)
    text = "".join(
        unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" and ch not in "（），：；？！" else ch
        for ch in text
    )
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    truncated = len(text) > MAX_QUESTION_CHARS
    if truncated:
        # A long message asks at its start or, after a story, at its end ("……深圳有什么？"): both ends are kept.
        half = (MAX_QUESTION_CHARS - len(ELISION)) // 2
        text = text[:half].strip() + ELISION + text[-half:].strip()
    return text, truncated


# Spacing, dots or underscores between two Chinese characters: "忽 略 之 前 的 指 令" reads as 忽略之前的指令.
CJK_GAP = re.compile(f"(?<=[{CJK_CHARS}])[\\s\u3000·・_\\-*.,，、]+(?=[{CJK_CHARS}])")


def _probe(sentence: str) -> str:
    """Return the form of a sentence the injection patterns are matched against: full-width folded (NFKC),
    zero-width and control characters dropped, and gaps between Chinese characters closed."""
    text = unicodedata.normalize("NFKC", sentence.translate(ZERO_WIDTH))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return CJK_GAP.sub("", re.sub(r"\s+", " ", text))


def strip_injection(text: str) -> tuple[str, bool]:
    """Return the question without sentences that try to instruct the assistant, and whether any were cut."""
    # A sentence ends at Chinese or English end punctuation (full-width ．too: folding comes after splitting);
    # "2.5亿元" keeps its decimal point.
    sentences = re.findall(r"(?:[^。！？!?；;\n.．]|\.(?!\s))+(?:[。！？!?；;\n．]|\.(?=\s)|$)", text)
    kept = [s for s in sentences if not INJECTION.search(_probe(s))]
    return "".join(kept).strip(), len(kept) < len(sentences)


def is_vague(query: Query) -> bool:
    """Return True for a question that names no place and asks only for support in general ("有钱拿吗",
    "有什么补贴"): it cannot say which policy it is about. A short question on a topic ("护照怎么办") is not vague."""
    return not query.regions and bool(query.focus) and asks_in_general(query.focus, empty=False)


def names_only_places(query: Query) -> bool:
    """Return True for a question that names places and nothing else ("那江苏呢？" with nothing before it)."""
    names = {form for r in query.regions for form in (r.name, r.short)}
    rest = [t for t in (query.tokens if query.focus else ()) if not any(t in n for n in names)]
    return bool(query.regions) and not rest


def asks_in_general(text: str, empty: bool = True) -> bool:
    """Return True when every word of substance in the text asks for support in general (or, with `empty`,
    when it has none)."""
    content = [t for t in dict.fromkeys(tokenize(text)) if len(t) > 1]
    return all(any(g in t for g in GENERIC) for t in content) and (empty or bool(content))


def parse_query(question: str, speller: Speller | None = None, abbreviations: Abbreviations | None = None) -> Query:
    """Return the query and what it asks about: instructions aimed at the assistant dropped, slips of the input
    method corrected against the corpus, the asking part of a long question (and the corpus's abbreviations of
    words it writes out) as what to search for."""
    # Before normalising: line breaks still separate an injected line from the real question.
    asked, injected = strip_injection(question)
    asked, truncated = normalise(asked)
    text, corrections = speller.correct(asked) if speller is not None else (asked, ())
    focus = plain(asking_part(text))
    shorts = abbreviations.forms(focus) if abbreviations is not None else ()
    searched = " ".join([focus, *shorts])
    words, text_tokens = tokenize(searched), tuple(tokenize(text))
    return Query(text, tuple(gazetteer().find(text)), QUANTITY.search(text) is not None, truncated, injected,
                 asked=asked, focus=searched, corrections=corrections, parts=sub_questions(text),
                 equivalents=tuple(equivalents(words, searched).items()), ask=ask_of(text),
                 about_document=about_document(text), tokens=tuple(words) if searched else text_tokens,
                 text_tokens=text_tokens)
