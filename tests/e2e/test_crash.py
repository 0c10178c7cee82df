"""Crash safety: SIGKILLed builds keep the serving index, reads during a rebuild, concurrent writers, and secrets."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from index.embedding import load_embeddings
from index.store import CURRENT, current_generation, open_index
from qa.assistant import Assistant
from qa.records import Answer
from qa.render.plain import plain_text
from qa.service import Service
from qa.settings import Settings, load_settings
from qa.stores.conversations import ConversationStore
from qa.stores.feedback import FeedbackStore
from qa.surfaces.http.app import create_app
from tests.conftest import CORPUS, ROOT, ready_service, serve_http

QUESTION = "江苏有哪些文化产业基金可以用？"
OLD_FUND, NEW_FUND = "紫金文化产业基金", "钟山文化产业基金"
JIANGSU = "jiangsu-culture-tech-2020.txt"
# Copies of two documents with changed text and a title naming the run: every run has ~45 fresh chunks to embed,
# so the bundled e5 takes seconds and the embedding cache cannot make a later run finish before its kill.
VARIANTS = {"guangdong-culture-tech-2021-2025.txt": ("广东", "海南", "海南省"),
            "shenzhen-culture-tech-2012.txt": ("深圳", "厦门", "厦门市")}
KILL_SEED = 20240611
# Where each run's delay is measured from: the start of the process, the new generation's folder appearing
# (records written, vectors being computed), or its Chroma folder appearing (vectors being written, then publish).
KILL_POINTS = ("start", "start", "generation", "generation", "chroma")


def build_env() -> dict[str, str]:
    """Return the environment of a build subprocess: offline, the default e5, none of the developer's QA_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", QA_EMBEDDING_BACKEND="auto")
    return env


def build_args(corpus: Path, index: Path) -> list[str]:
    """Return the command line of `python -m qa build --quiet`."""
    return [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index), "--quiet"]


def start_build(corpus: Path, index: Path) -> subprocess.Popen[str]:
    """Start a build in its own process."""
    return subprocess.Popen(build_args(corpus, index), cwd=ROOT, env=build_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")


# A build whose vectors wait while the gate file exists: the test decides when it may finish, so a kill or a read
# "during the build" never depends on how fast this machine is.
GATED_BUILD = """
import sys, time
from pathlib import Path
from index.build import build_index
from index.config import BuildConfig, EmbedderConfig
from index.embedding import PolicyEmbeddings, load_embeddings

corpus, index, gate = map(Path, sys.argv[1:4])
inner = load_embeddings(EmbedderConfig("auto"))

class Gated(PolicyEmbeddings):
    model_id = property(lambda self: inner.model_id)

    def embed_documents(self, texts):
        while gate.exists():
            time.sleep(0.01)
        return inner.embed_documents(texts)

    def embed_query(self, text):
        return inner.embed_query(text)

print(build_index(BuildConfig(corpus, index), Gated(), progress=False).summary())
"""


def start_gated_build(corpus: Path, index: Path, gate: Path) -> subprocess.Popen[str]:
    """Start a build in its own process that cannot compute vectors while `gate` exists."""
    return subprocess.Popen([sys.executable, "-c", GATED_BUILD, str(corpus), str(index), str(gate)], cwd=ROOT,
                            env=build_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8")


def run_build(corpus: Path, index: Path) -> subprocess.CompletedProcess[str]:
    """Run a build to the end."""
    return subprocess.run(build_args(corpus, index), cwd=ROOT, env=build_env(), capture_output=True, text=True,
                          encoding="utf-8", timeout=300, check=False)


def write_new_corpus(corpus: Path, run: str, variants: tuple[str, ...] = tuple(VARIANTS)) -> None:
    """Write the NEW corpus: Jiangsu's fund renamed, plus variants titled for this run."""
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(CORPUS, corpus)
    text = (CORPUS / JIANGSU).read_text(encoding="utf-8")
    assert text.count(OLD_FUND) == 1
    (corpus / JIANGSU).write_text(text.replace(OLD_FUND, NEW_FUND), encoding="utf-8")
    for name in variants:
        old, new, region = VARIANTS[name]
        variant = corpus / f"variant-{Path(name).stem}.txt"
        variant.write_text((CORPUS / name).read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        meta = {"title": f"{new}促进文化与科技融合的实施方案（修订稿{run}）", "region": region}
        variant.with_suffix(".meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def fund_cited(answer: Answer) -> set[str]:
    """Return which of the two fund names the answer's text and citations contain."""
    seen = plain_text(answer) + "".join(c.text + c.quote for c in answer.citations)
    return {fund for fund in (OLD_FUND, NEW_FUND) if fund in seen}


def generations(index: Path) -> set[str]:
    """Return the names of the generation folders in an index folder."""
    return {p.name for p in index.glob("gen-*")}


def new_folder(index: Path, before: set[str], inside: str = "") -> Callable[[], bool]:
    """Return a check that a generation not in `before` exists (and holds `inside`, when given)."""
    return lambda: any((index / name / inside).exists() for name in generations(index) - before)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Wait until the condition holds; fail if the build exits or the time runs out first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            stderr = proc.communicate(timeout=30)[1]
            pytest.fail(f"the build exited ({proc.returncode}) before the kill point; stderr: {stderr[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail("the kill point was not reached in time")
        time.sleep(0.02)


@dataclass
class Site:
    """A corpus folder and an index whose serving generation holds the OLD content."""

    corpus: Path
    index: Path
    old_generation: str
    settings: Settings


def make_site(bundled_index: Path, root: Path) -> Site:
    """Return a copy of the bundled index (OLD content) beside an empty corpus folder for the NEW content."""
    shutil.copytree(bundled_index, root / "index")
    old = current_generation(root / "index")
    assert old is not None
    return Site(root / "corpus", root / "index", old.name,
                Settings(corpus_dir=root / "corpus", index_dir=root / "index", embedding_backend="auto"))


def open_assistant(site: Site) -> Assistant:
    """Return an assistant over the generation serving now, with dense search."""
    embeddings = load_embeddings(site.settings.embedder_config)
    kb = open_index(site.index, embeddings)
    assert kb.dense is not None
    return Assistant(site.settings, kb, embeddings)


@pytest.fixture(scope="module")
def site(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Return the index the kill runs interrupt builds of."""
    return make_site(bundled_index, tmp_path_factory.mktemp("crash"))


@pytest.mark.subprocess
def test_sigkill_during_build_keeps_a_complete_generation(site: Site) -> None:
    """After SIGKILL at seeded points of a build, CURRENT names a complete generation: the OLD one until the switch."""
    rng = random.Random(KILL_SEED)
    old_assistant = open_assistant(site)
    assert fund_cited(old_assistant.ask(QUESTION)) == {OLD_FUND}
    kills: list[str] = []
    gate = site.corpus.parent / "gate"
    for run, point in enumerate(KILL_POINTS):
        # The last run computes every vector before it is killed; it builds the final corpus, so the complete build
        # after the kills reuses those vectors.
        write_new_corpus(site.corpus, "final" if point == "chroma" else f"kill-{run}")
        before = generations(site.index)
        # Held at its first vectors, a build killed at "start" or "generation" is certainly still running; the
        # last run is let through, and its kill races the vector writes and the switch itself.
        gate.touch()
        if point == "chroma":
            gate.unlink()
        proc = start_gated_build(site.corpus, site.index, gate)
        started = time.monotonic()
        if point != "start":
            wait_for(new_folder(site.index, before, "chroma" if point == "chroma" else ""), proc)
        delay = {"start": rng.uniform(0.3, 2.5), "generation": rng.uniform(0.0, 2.0), "chroma": rng.uniform(0.0, 0.3)}
        time.sleep(delay[point])
        running = proc.poll() is None
        assert running or point == "chroma", f"run {run}: the build exited before its kill: {proc.communicate()}"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        kills.append(f"run {run}: {point} + {delay[point]:.2f}s, killed at {time.monotonic() - started:.1f}s, "
                     f"exit {proc.returncode}, new folders {sorted(generations(site.index) - before)}")

        serving = current_generation(site.index)
        assert serving is not None and (serving / "manifest.json").is_file(), kills
        assert (site.index / CURRENT).read_text(encoding="utf-8").strip() == serving.name
        switched = serving.name != site.old_generation
        assert not switched or point == "chroma", kills
        reader = open_assistant(site)
        answer = reader.ask(QUESTION)
        # Closed, as a server releases a generation it swapped out: a generation still held is kept on disk (a
        # compaction by the complete build below would otherwise leave this one beside its own).
        reader.kb.close()
        assert fund_cited(answer) == ({NEW_FUND} if switched else {OLD_FUND}), kills
        # The previous generation stays on disk, complete, and keeps answering for a reader that opened it.
        assert (site.index / site.old_generation / "manifest.json").is_file()
        assert fund_cited(old_assistant.ask(QUESTION)) == {OLD_FUND}


@pytest.mark.subprocess
def test_complete_build_after_kills_serves_new_content(site: Site) -> None:
    """A complete build after the kills succeeds, serves the NEW content and removes the half-written generations."""
    write_new_corpus(site.corpus, "final")
    result = run_build(site.corpus, site.index)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "5 个文件" in result.stdout
    serving = current_generation(site.index)
    assert serving is not None and serving.name != site.old_generation
    assistant = open_assistant(site)
    assert len(assistant.kb.docs) == 5
    assert fund_cited(assistant.ask(QUESTION)) == {NEW_FUND}
    # Only the serving generation and the one before it (kept for readers that still hold it) remain.
    assert generations(site.index) == {serving.name, site.old_generation}


@dataclass
class Rebuild:
    """What readers saw while a complete rebuild ran in another process."""

    site: Site
    result: subprocess.CompletedProcess[str]
    old_reads: list[set[str]]
    fresh_reads: list[tuple[str, set[str]]]
    errors: list[str]
    old_assistant: Assistant


@pytest.fixture(scope="module")
def rebuild(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Rebuild:
    """Return what readers saw while a fresh copy of the OLD index was rebuilt with the NEW corpus."""
    # Readers: the assistant opened before the build, and indexes opened afresh (lexical only, so each open is quick).
    fresh = make_site(bundled_index, tmp_path_factory.mktemp("rebuild"))
    old_assistant = open_assistant(fresh)
    write_new_corpus(fresh.corpus, "readers", ("shenzhen-culture-tech-2012.txt",))
    gate = fresh.corpus.parent / "gate"
    gate.touch()
    proc = start_gated_build(fresh.corpus, fresh.index, gate)
    old_reads: list[set[str]] = []
    fresh_reads: list[tuple[str, set[str]]] = []
    errors: list[str] = []
    while proc.poll() is None:
        if len(old_reads) >= 3:
            gate.unlink(missing_ok=True)  # enough reads while the build was held: let it finish
        try:
            old_reads.append(fund_cited(old_assistant.ask(QUESTION)))
            kb = open_index(fresh.index, None)
            fresh_reads.append((kb.folder.name, fund_cited(Assistant(fresh.settings, kb, None).ask(QUESTION))))
        except Exception as exc:  # any failure to answer during the rebuild is what this test looks for
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=30)
    return Rebuild(fresh, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), old_reads,
                   fresh_reads, errors, old_assistant)


@pytest.mark.subprocess
def test_queries_during_a_rebuild_are_answered_from_the_old_generation(rebuild: Rebuild) -> None:
    """While another process rebuilds, answers keep coming without errors: OLD content until the switch, then NEW."""
    assert rebuild.result.returncode == 0, rebuild.result.stderr[-2000:]
    assert rebuild.errors == []
    assert len(rebuild.old_reads) >= 3 and all(read == {OLD_FUND} for read in rebuild.old_reads)
    old = rebuild.site.old_generation
    assert rebuild.fresh_reads[0][0] == old
    for generation, read in rebuild.fresh_reads:
        assert read == ({OLD_FUND} if generation == old else {NEW_FUND}), (generation, read)
    # After the switch, a fresh open serves the NEW content and the assistant opened before still has the OLD.
    assert fund_cited(open_assistant(rebuild.site).ask(QUESTION)) == {NEW_FUND}
    assert fund_cited(rebuild.old_assistant.ask(QUESTION)) == {OLD_FUND}


@pytest.mark.subprocess
def test_two_builds_at_once_leave_an_index_that_opens(bundled_index: Path, tmp_path: Path) -> None:
    """A second build of the same index waits for the one in progress; the result opens and answers."""
    site = make_site(bundled_index, tmp_path)
    write_new_corpus(site.corpus, "slow")
    quick = tmp_path / "quick-corpus"
    quick.mkdir()
    for name in ("guangdong-culture-tech-2021-2025.txt", JIANGSU):  # every vector is already in the cache
        shutil.copy(CORPUS / name, quick / name)
    before = generations(site.index)
    slow = start_build(site.corpus, site.index)
    wait_for(new_folder(site.index, before), slow)
    finished = run_build(quick, site.index)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert slow.poll() is not None, "the quick build published while the slow one was still writing"
    slow.communicate(timeout=300)
    assert slow.returncode == 0

    serving = current_generation(site.index)
    assert serving is not None
    kb = open_index(site.index, None)
    assert len(kb.docs) == 2 and len(kb.clauses) > 0  # the build that started second published last
    assert fund_cited(Assistant(site.settings, kb, None).ask(QUESTION)) in ({OLD_FUND}, {NEW_FUND})


# --- concurrent writers -----------------------------------------------------------------------------------

WORKERS, ROWS_EACH, USERS_EACH = 4, 100, 5
# Each writer is a separate `python -c` process that imports only the two stores and starts when the go file appears.
WRITER = """
import sys, time
from pathlib import Path
from qa.stores.conversations import ConversationStore
from qa.stores.feedback import FeedbackStore
from qa.records import Answer, Citation, Paragraph

folder, worker, rows, users = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
text = "专项资金向文化与科技领域倾斜。"
answer = Answer(question="深圳对文化科技有哪些专项资金支持？", query="深圳 专项资金", parts=(Paragraph(text),),
                citations=(Citation("SZ", "深圳", "SZ-1", "（一）", text, "专项资金"),))
conversations = ConversationStore(folder / "conversations.sqlite", ttl=3600)
feedback = FeedbackStore(folder / "feedback.sqlite")
while not (folder / "go").exists():
    time.sleep(0.005)
for i in range(rows):
    user = f"w{worker}-u{i % users}"
    conversations.add_question(user, f"问题 {worker}-{i}")
    conversations.save_reply("wechat", user, f"w{worker}-m{i}", f"回复 {worker}-{i}")
    conversations.set_pages(user, [f"第 {worker}-{i} 页"])
    feedback.record(answer, "up" if i % 2 else "down", f"worker {worker} row {i}", session=f"w{worker}")
conversations.close()
feedback.close()
"""


@pytest.mark.subprocess
def test_concurrent_processes_lose_no_conversation_or_feedback_rows(tmp_path: Path) -> None:
    """Several processes writing both SQLite stores at once lose no row and corrupt nothing."""
    env = {**build_env(), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(w), str(ROWS_EACH), str(USERS_EACH)],
                              cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) for w in range(WORKERS)]
    deadline = time.monotonic() + 60
    while not ((tmp_path / "conversations.sqlite").exists() and (tmp_path / "feedback.sqlite").exists()):
        dead = [p.communicate()[1] for p in procs if p.poll() is not None]
        assert time.monotonic() < deadline and not dead, dead
        time.sleep(0.01)
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * WORKERS, errors
    total = WORKERS * ROWS_EACH
    with sqlite3.connect(tmp_path / "conversations.sqlite") as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("SELECT COUNT(*) FROM questions").fetchone()[0] == total
        assert raw.execute("SELECT COUNT(*) FROM message_replies").fetchone()[0] == total
        assert raw.execute("SELECT COUNT(*) FROM pages").fetchone()[0] == WORKERS * USERS_EACH
    store = ConversationStore(tmp_path / "conversations.sqlite", ttl=3600)
    assert all(store.reply_for("wechat", f"w{w}-u{i % USERS_EACH}", f"w{w}-m{i}") == f"回复 {w}-{i}"
               for w in range(WORKERS) for i in range(ROWS_EACH))
    assert store.history("w0-u0") == tuple(f"问题 0-{i}" for i in range(0, ROWS_EACH, USERS_EACH))[-6:]
    store.close()
    with FeedbackStore(tmp_path / "feedback.sqlite") as feedback:
        rows = feedback.all()
        assert feedback.count() == total
    assert len({r.id for r in rows}) == total
    assert {(r.session, r.comment) for r in rows} == {
        (f"w{w}", f"worker {w} row {i}") for w in range(WORKERS) for i in range(ROWS_EACH)}


# --- secrets ----------------------------------------------------------------------------------------------

LLM_KEY = "sk-LEAKCHECK-llm-7f3a9c21"
WECHAT_TOKEN = "LEAKCHECKwxToken5d1e"
WECHAT_AES_KEY = "LEAKCHECKaesKey" + "0" * 28
SECRETS = (LLM_KEY, WECHAT_TOKEN, WECHAT_AES_KEY)
LLM_QUESTION = "广东要建成多少家国家文化和科技融合示范基地？"


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, bundled_index: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Set recognisable secrets and an LLM endpoint that refuses connections in the environment."""
    env = {"QA_CONVERSATIONS_DB": str(tmp_path / "conversations.sqlite"), "QA_FEEDBACK_DB": str(tmp_path / "f.sqlite"),
           "QA_LOG_DB": str(tmp_path / "questions.sqlite"),
           "QA_LLM_API_KEY": LLM_KEY, "QA_WECHAT_TOKEN": WECHAT_TOKEN, "QA_WECHAT_AES_KEY": WECHAT_AES_KEY,
           "QA_LLM_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1", "QA_LLM_MODEL": "refused-model",
           "QA_LLM_TIMEOUT": "2", "QA_EMBEDDING_BACKEND": "none", "QA_CORPUS_DIR": str(CORPUS),
           "QA_INDEX_DIR": str(bundled_index)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env


def leaks(text: str) -> list[str]:
    """Return the secrets that appear in a text."""
    return [s for s in SECRETS if s in text]


def test_settings_repr_hides_secrets(secret_env: dict[str, str], tmp_path: Path) -> None:
    """repr, str and the JSON dump of Settings never show the secrets they hold."""
    settings = load_settings()
    assert settings.llm_api_key.get_secret_value() == LLM_KEY
    assert settings.wechat_token.get_secret_value() == WECHAT_TOKEN
    direct = Settings(llm_api_key=SecretStr(LLM_KEY), wechat_token=SecretStr(WECHAT_TOKEN),
                      wechat_aes_key=SecretStr(WECHAT_AES_KEY),
                      feedback_db=tmp_path / "f.sqlite")
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(direct), str(direct),
                  repr(direct.model_dump())):
        assert leaks(shown) == [], shown


@pytest.mark.server
def test_failing_llm_and_wechat_calls_leak_no_secret(secret_env: dict[str, str],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A refused LLM endpoint and forged WeChat callbacks put no secret in logs, exceptions or HTTP bodies."""
    from qa.answer.llm.chat_model import chat_model

    caplog.set_level(logging.DEBUG)
    settings = load_settings()
    with pytest.raises(Exception) as refused:
        chat_model(settings).invoke("你好")
    exceptions = [refused.value, *(e for e in (refused.value.__cause__, refused.value.__context__) if e)]

    assistant = Assistant(settings, open_index(settings.index_dir, None), None)
    answers = [assistant.ask(LLM_QUESTION), assistant.ask("那江苏呢？", [LLM_QUESTION])]
    assert all(a.answerable and plain_text(a).startswith("（智能回答暂不可用") for a in answers)

    bodies: list[str] = []
    now = str(int(time.time()))
    service: Service = ready_service(settings)
    with serve_http(create_app(settings, service)) as url:
        forged = [
            httpx.get(f"{url}/wechat", params={"signature": "0" * 40, "timestamp": now, "nonce": "1", "echostr": "e"}),
            httpx.post(f"{url}/wechat", params={"signature": "0" * 40, "timestamp": now, "nonce": "1"},
                       content="<xml><MsgType>text</MsgType><Content>你好</Content></xml>"),
            httpx.post(f"{url}/wechat", params={"encrypt_type": "aes", "msg_signature": "0" * 40, "timestamp": now,
                                                "nonce": "1"},
                       content="<xml><ToUserName>gh</ToUserName><Encrypt>bm90IGNpcGhlcnRleHQ=</Encrypt></xml>"),
            httpx.get(f"{url}/wechat", params={"signature": "0" * 40, "timestamp": "1", "nonce": "1", "echostr": "e"}),
        ]
        assert [r.status_code for r in forged] == [403] * len(forged)
        asked = httpx.post(f"{url}/api/ask", json={"question": LLM_QUESTION}, timeout=60)
        assert asked.status_code == 200 and "智能回答暂不可用" in asked.json()["answer"]
        bodies += [r.text for r in [*forged, asked]] + [str(dict(r.headers)) for r in [*forged, asked]]

    assert any("OpenAIConnectionError" in r.getMessage() or "ConnectError" in r.getMessage() for r in caplog.records)
    records = [r.getMessage() + str(r.args) + (caplog.handler.format(r) if r.exc_info else "") for r in caplog.records]
    for text in [caplog.text, *records, *map(str, exceptions), *map(repr, exceptions), *bodies,
                 *(plain_text(a) for a in answers)]:
        assert leaks(text) == [], text[:500]


@pytest.mark.subprocess
def test_cli_with_debug_logging_leaks_no_secret(secret_env: dict[str, str], bundled_index: Path) -> None:
    """`python -m qa -v ask` with a refused LLM endpoint prints the fallback answer and no secret, even at DEBUG."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(secret_env, HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    result = subprocess.run([sys.executable, "-m", "qa", "-v", "ask", LLM_QUESTION, "--index", str(bundled_index)],
                            cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "智能回答暂不可用" in result.stdout
    assert "Sending HTTP Request" in result.stderr  # debug logging really was on
    assert leaks(result.stdout + result.stderr) == []
