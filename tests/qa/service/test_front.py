"""The front door: what the surfaces ask of the service, over a lexical index of the bundled corpus (no embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.recordfile import MeasureRows
from qa.records import Answer
from qa.render.plain import plain_text
from qa.service import Service
from qa.service.errors import NotReady
from qa.settings import Settings
from qa.stores.base import Questions
from qa.surfaces.web.page import steps
from tests.conftest import CORPUS


class Kept(Questions):
    """A question log in memory: what the service logged, for the test to read."""

    def __init__(self) -> None:
        self.kept: list[tuple[str, str, Answer]] = []

    def record(self, channel: str, user: str, answer: Answer, seconds: float) -> None:
        self.kept.append((channel, user, answer))

    def rows(self) -> list[dict]:
        return [{"channel": c, "user": u, "question": a.question} for c, u, a in reversed(self.kept)]


@pytest.fixture(scope="module")
def settings(lexical_index: Path) -> Settings:
    return Settings(corpus_dir=CORPUS, index_dir=lexical_index, embedding_backend="none")


@pytest.fixture(scope="module")
def service(settings: Settings) -> Service:
    """Return the command line's service: opened at once, nothing logged."""
    return Service.open(settings, progress=False)


def test_before_the_index_opens_a_look_up_says_what_is_happening(settings: Settings) -> None:
    """A service not yet started is not ready: look-ups raise NotReady with its status, scopes are empty."""
    waiting = Service(settings, Kept())
    assert not waiting.ready and waiting.scopes() == {} and waiting.regions() == []
    with pytest.raises(NotReady, match=waiting.status):
        waiting.clause("any")


def test_look_ups_alone_open_no_assistant(settings: Settings) -> None:
    """The command line's measure finder: the knowledge base is looked up, nothing is answered or logged."""
    catalogue = Service.open(settings, answers=False)
    assert catalogue.ready and catalogue.questions is None and catalogue.loader.assistant is None
    assert catalogue.measures(kind="税收") and catalogue.regions()
    with pytest.raises(NotReady):
        catalogue.ask("cli", "", "江苏有哪些文化产业基金可以用？")


def test_every_answer_is_logged_once_with_its_channel(settings: Settings) -> None:
    """ask and stream (the page's) log through the same hook: one row per answer, after it is complete."""
    log = Kept()
    service = Service(settings, log).start()
    assert service.wait(120), service.status
    service.ask("api", "", "江苏有哪些文化产业基金可以用？")
    parts = list(service.stream("web", "u1", "深圳文化科技型企业用房有什么政策？"))
    assert isinstance(parts[-1], Answer)
    assert [(c, u) for c, u, _ in log.kept] == [("api", ""), ("web", "u1")]
    assert log.kept[1][2] is parts[-1]
    service.stop()


def test_a_profile_without_its_introduction_reads_as_one(service: Service) -> None:
    """The finder's checklist: "深圳的一家动漫中小企业" is answered as "我是深圳的一家动漫中小企业"."""
    typed = service.checklist("深圳的一家动漫中小企业")
    assert typed.question == "我是深圳的一家动漫中小企业"
    assert plain_text(typed) == plain_text(service.ask("cli", "", "我是深圳的一家动漫中小企业"))
    assert service.checklist("  ").question == "我是一家文化科技企业"


def test_look_ups_agree_with_each_other(service: Service) -> None:
    """Documents of a region are among all documents; a clause's document is found; unknown ids are None."""
    everything = service.documents()
    jiangsu = service.documents("江苏省")
    assert jiangsu and {d.doc_id for d in jiangsu} < {d.doc_id for d in everything}
    doc = jiangsu[0]
    assert service.document(doc.doc_id) == doc and service.clause_count(doc.doc_id) > 0
    assert service.scope(None, "江苏省") == {d.doc_id for d in jiangsu}
    assert service.document("no-such-doc") is None and service.clause("no-such-clause") is None
    assert service.original_file("no-such-doc") is None
    name, data = service.original_file(doc.doc_id) or ("", b"")
    assert name == Path(doc.source).name and data == Path(doc.source).read_bytes()
    assert service.serving().documents == len(everything) and not service.serving().dense


def test_the_finder_lists_no_untyped_measures_unless_asked(service: Service) -> None:
    """Measures with no type (其他) are not something to apply for: listed only when 其他 is the filter."""
    listed = service.finder()
    assert listed and all(f.row.types != ("其他",) for f in listed)
    assert all(f.contact for f in listed)
    untyped = service.finder(kind="其他")
    assert untyped and all(f.row.types == ("其他",) for f in untyped)


@pytest.mark.parametrize("text", [
    "深圳市对文化科技企业的用房支持包括租金补贴和优先安排用地，详见【1】。",
    "<span class='quote'>专项资金向文化与科技领域倾斜</span>，并且<b>优先</b>支持中小企业。" * 3,
    "路径 C:\\\\文件\\\\通知 与 \\* 星号 \\_ 下划线 " * 4,
])
def test_an_arriving_answer_never_shows_half_a_tag_or_escape(text: str) -> None:
    """Each step of an extractive answer shown as it arrives is a beginning of it that cuts no tag or escape."""
    shown = list(steps(text))
    assert shown and all(text.startswith(s) for s in shown)
    for s in shown:
        assert not s.endswith("\\") and s.rfind("<") <= s.rfind(">")


def test_no_answer_or_look_up_walks_the_measures(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile checklist, a comparison (a city without measures of its own shown by its province's), a vague
    question's examples, the finder and the measures list ask the records file for their measures: walked (and
    before, held whole) they were ~465 MB of an app process at a million clauses."""
    expected = service.finder(region="深圳", kind="平台/载体/基地")
    monkeypatch.setattr(MeasureRows, "__iter__", lambda _: pytest.fail("the measures were walked"))
    profile = service.ask("cli", "", "我是深圳一家做动漫的小企业，有哪些政策可以申请？")
    assert profile.citations and {c.region for c in profile.citations} >= {"深圳市", "广东省"}
    compared = service.ask("cli", "", "苏州和深圳在平台建设上有什么不同？")
    rows = [line for line in plain_text(compared).splitlines() if line.startswith("| 苏州市")]
    assert rows and "未找到" not in rows[0] and "江苏省" in {c.region for c in compared.citations}
    vague = service.ask("cli", "", "有钱拿吗")
    assert vague.suggestions and "支持类型：" in plain_text(vague)
    assert service.finder(region="深圳", kind="平台/载体/基地") == expected and expected
    listed = {f.row.clause_id for kind in (None, "其他") for f in service.finder(region="深圳", kind=kind)}
    assert {r.clause_id for r in service.measures(region="深圳")} == listed and listed
