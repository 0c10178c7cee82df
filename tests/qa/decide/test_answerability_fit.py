"""The answerability fitting utilities (bench/fit_answerability.py) and the question generator (bench/synth.py)."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.fit_answerability import auc, calibration, fit_signed_logistic
from bench.indexes import base_law
from bench.synth import CJK, Generator, Source, elsewhere, kb_sources, law_sources, off_topic


def _sample(weights: list[float], bias: float, n: int = 40_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return features on different scales and labels drawn from a known logistic model over them."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(0.8, 0.05, n), rng.uniform(0, 1, n), rng.integers(0, 2, n).astype(float)])
    p = 1 / (1 + np.exp(-(x @ np.array(weights) + bias)))
    return x, (rng.uniform(size=n) < p).astype(float)


def test_signed_fit_recovers_a_known_model() -> None:
    x, y = _sample([30.0, 3.0, -2.0], -25.0)
    fit = fit_signed_logistic(x, y, [1, 1, -1], l2=0.0)
    raw = fit.weights / fit.scale
    bias = fit.bias - float((fit.weights * fit.mean / fit.scale).sum())
    assert raw == pytest.approx([30.0, 3.0, -2.0], rel=0.15)
    assert bias == pytest.approx(-25.0, rel=0.15)
    # The probabilities it gives are the model's.
    truth = 1 / (1 + np.exp(-(x @ np.array([30.0, 3.0, -2.0]) - 25.0)))
    assert np.abs(fit.probability(x) - truth).max() < 0.05


def test_a_weight_of_the_wrong_sign_is_held_at_zero() -> None:
    # The data say coverage lowers the probability; the model may not, so coverage gets no weight and the
    # independent features keep theirs.
    x, y = _sample([30.0, -3.0, -2.0], -22.0)
    fit = fit_signed_logistic(x, y, [1, 1, -1], l2=0.0)
    assert fit.weights[1] == 0.0
    assert fit.weights[0] > 0 and fit.weights[2] < 0
    assert fit.weights[0] / fit.scale[0] == pytest.approx(30.0, rel=0.15)
    free = fit_signed_logistic(x, y, [0, 0, 0], l2=0.0)
    assert free.weights[1] / free.scale[1] == pytest.approx(-3.0, rel=0.2)


def test_a_constant_feature_and_separable_data_stay_finite() -> None:
    x = np.column_stack([np.linspace(0, 1, 200), np.ones(200)])
    y = (x[:, 0] > 0.5).astype(float)
    fit = fit_signed_logistic(x, y, [1, 1])
    assert np.isfinite(fit.weights).all() and fit.weights[1] == 0.0
    assert (fit.probability(x)[y == 1] > 0.5).all() and (fit.probability(x)[y == 0] < 0.5).all()


def test_auc_and_calibration() -> None:
    y = np.array([0, 0, 1, 1])
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), y) == 0.0
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), y) == 0.5
    assert auc(np.array([0.5, 0.5]), np.array([1, 1])) is None
    rows = calibration(np.array([0.0, 0.05, 0.55, 1.0]), np.array([0, 1, 1, 1]))
    assert sum(n for _, n, _, _ in rows) == 4
    assert rows[0][1:3] == (2, 0.5) and rows[5][1:3] == (1, 1.0) and rows[-1][1:3] == (1, 1.0)


SOURCES = [
    Source("a1", "d", "广东省促进文化和科技深度融合规划", "（一）加强关键技术研发", "支持企业开展文化装备关键技术研发，"
           "对符合条件的项目给予资金补贴，鼓励建设示范基地。", "广东"),
    Source("a2", "d", "广东省促进文化和科技深度融合规划", "二、保障措施", "加强知识产权保护，推动知识产权质押融资，"
           "落实税收优惠政策。", "广东"),
    Source("a3", "e", "中华人民共和国某某法", "第一章 总则", "第一条 用人单位应当依法支付劳动者报酬，不得拖欠。"),
    Source("x1", "e", "某法", "", "ABC 123 def 456 ghi 789."),
    Source("x2", "e", "某法", "", "短。"),
]


def test_the_generator_never_emits_an_empty_question() -> None:
    for seed in range(30):
        questions = Generator("t", SOURCES, seed).sample(40, hard=1.0)
        assert questions
        for q in questions:
            assert q.question.strip() and CJK.search(q.question), q
            assert q.uid in {"a1", "a2", "a3", "x1"} and q.source == "in"
    # Repeatable from its seed.
    assert [q.question for q in Generator("t", SOURCES, 3).sample(10)] == \
        [q.question for q in Generator("t", SOURCES, 3).sample(10)]


def test_generated_negatives_over_the_bundled_index(stub_index: Path) -> None:
    from index.store import open_index

    kb = open_index(stub_index, None)
    text = "\n".join(d.text for d in kb.docs.values())
    topics = off_topic(kb, "bundled", 60)
    assert len(topics) == 60 and all(q.question.strip() and CJK.search(q.question) for q in topics)
    # A topic the corpus mentions is never asked as out of scope; covered regions are named.
    assert not any(q.uid in text for q in topics)
    assert any(r in q.question for q in topics for r in ("深圳", "广东", "江苏"))
    inside = Generator("bundled", kb_sources(kb), 1).sample(200)
    moved = elsewhere(inside, kb, "bundled", 20)
    assert moved and all(not any(r in q.question for r in ("深圳", "广东", "江苏")) for q in moved)


def test_law_sources_leave_out_excluded_laws(tmp_path: Path) -> None:
    db = tmp_path / "laws.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE articles (law_name TEXT, chapter TEXT, section TEXT, article_no TEXT, "
                "article_text TEXT, status TEXT, id INTEGER)")
    rows = [("中华人民共和国公司法", "第一章 总则", None, "第一条", "为了规范公司的组织和行为，制定本法。", "现行有效"),
            ("中华人民共和国商标法", "第一章 总则", None, "第一条", "为了加强商标管理，制定本法。", "现行有效"),
            ("中华人民共和国刑法修正案（十）", None, None, "一", "在刑法第二百九十九条中增加一款。", "现行有效"),
            ("中华人民共和国森林法", "第一章 总则", None, "第一条", "为了保护森林，制定本法。", "已废止")]
    con.executemany("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)", [(*r, i) for i, r in enumerate(rows)])
    con.commit()
    con.close()
    wheel = tmp_path / "law.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(db, "pkg/data/laws.db")
    db.unlink()
    sources = law_sources(wheel, ["中华人民共和国商标法实施条例"])
    assert [s.doc for s in sources] == ["中华人民共和国公司法"]


def test_stard_halves_keep_a_law_with_its_regulation() -> None:
    assert base_law("中华人民共和国商标法实施条例.txt") == base_law("中华人民共和国商标法.txt") == "商标法"
    assert base_law("最高人民法院关于适用《中华人民共和国民事诉讼法》的解释.txt") == "民事诉讼法"
    assert base_law("物业管理条例.txt") == "物业管理条例"

