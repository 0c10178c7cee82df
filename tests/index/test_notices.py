"""A notice written as one paragraph, without numbering: searched by its sentences a few at a time, cited by
paragraph and sentence (第1段第4句), titled by the words it starts with."""

from __future__ import annotations

import pytest

from index.build import build_index
from index.embedding import load_embeddings
from qa.assistant import Assistant
from qa.render.plain import plain_text
from qa.service.loader import open_assistant
from qa.settings import Settings

pytestmark = pytest.mark.e5

NOTICE = (
    "关于做好2026年度冬季供暖工作的通知 各区住房和城乡建设局，各供热企业：为切实做好本市2026年度冬季供暖工作，"
    "保障群众温暖过冬，现将有关事项通知如下。本市供暖期为2026年11月15日至2027年3月15日，各供热企业应当于11月10日前"
    "完成设备检修和试运行。供暖期间，居民室内温度不得低于18摄氏度，供热企业应当每日巡查管网，发现问题及时处置。"
    "对于家庭困难的低保户、特困供养人员，由各区按照每户每个供暖季1200元的标准给予供暖补贴，补贴资金由区财政承担。"
    "居民对供暖质量有异议的，可以拨打供暖服务热线12345反映，供热企业应当在24小时内上门检测。"
    "因供热企业原因导致室温不达标的，应当按照不达标天数退还相应热费。"
    "各区住房和城乡建设局要加强监督检查，对工作不力的供热企业依法予以通报批评。"
    "新建住宅小区在交付使用前，建设单位应当完成供热设施的验收，未经验收合格的不得交付。"
    "本通知自发布之日起施行。 市住房和城乡建设局 2026年10月20日"
)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """Return an assistant over one unnumbered notice, with the bundled e5."""
    root = tmp_path_factory.mktemp("notice")
    (root / "corpus").mkdir()
    (root / "corpus" / "heating.txt").write_text(NOTICE, encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings.build_config, load_embeddings(settings.embedder_config), progress=False)
    return open_assistant(settings, build_if_missing=False)


@pytest.mark.parametrize(("question", "sentence", "fact"), [
    ("低保户冬天取暖有补贴吗？一户多少钱", "第4句", "1200元"),
    ("暖气不达标能退钱吗", "第6句", "退还相应热费"),
])
def test_answer_cites_the_paragraph_and_its_sentence(assistant: Assistant, question: str, sentence: str,
                                                     fact: str) -> None:
    """The answer quotes the sentence that answers and cites it as 第1段 and its sentence number."""
    answer = assistant.ask(question)
    assert answer.outcome == "answer"
    citation = answer.citations[0]
    assert citation.clause == "第1段" and citation.sentences == sentence and fact in citation.quote
    assert f"第1段{sentence}" in plain_text(answer)


def test_retrieved_text_is_the_passage_not_the_notice(assistant: Assistant) -> None:
    """What retrieval reports for a long paragraph is the passage that matched, with its neighbours."""
    top = assistant.ask("供暖服务热线是多少？").retrieved[0]
    assert "12345" in top.evidence and len(top.evidence) < len(top.clause.text)


def test_a_one_paragraph_notice_is_titled_by_its_opening_words(assistant: Assistant) -> None:
    """The title is the notice's opening "关于……的通知", not the file name."""
    (doc,) = assistant.kb.docs.values()
    assert doc.title == "关于做好2026年度冬季供暖工作的通知"
