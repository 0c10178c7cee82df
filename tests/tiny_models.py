"""Tiny BERT models the tests build offline with a character vocabulary: an embedder and a cross-encoder."""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer, models
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

CORPUS = Path(__file__).resolve().parents[1] / "data" / "policies"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HIDDEN = 32
# Characters the tests write beyond the corpus.
EXTRA = "文化产业基金设立紫金文化产业基金支持文化企业加强水下文物保护修复江苏有哪些文化产业基金可以用？陶瓷、玉雕、漆器"


def tiny_vocab() -> list[str]:
    """Return the tiny models' vocabulary: specials, every character of the corpus and tests, and ASCII."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))) + EXTRA
    chinese = sorted({c for c in text if not c.isascii() and not c.isspace()})
    return [*SPECIALS, *chinese, *string.ascii_lowercase, *string.digits, *string.punctuation]


def tiny_tokenizer() -> BertTokenizerFast:
    """Return a BERT tokenizer over the tiny vocabulary, one token per Chinese character."""
    vocab = {token: i for i, token in enumerate(tiny_vocab())}
    backend = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return BertTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                             cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def _config(**extra: int) -> BertConfig:
    return BertConfig(vocab_size=len(tiny_vocab()), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=512, **extra)


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Build and save a random 2-layer BERT sentence-transformers model with a character vocabulary."""
    torch.manual_seed(seed)
    raw = folder.parent / f"{folder.name}-hf"
    BertModel(_config()).save_pretrained(raw)
    tiny_tokenizer().save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=256)
    model = SentenceTransformer(modules=[transformer, models.Pooling(HIDDEN, pooling_mode="mean"), models.Normalize()],
                                device="cpu")
    model.save(str(folder))
    shutil.rmtree(raw)
    return folder


def build_tiny_cross_encoder(folder: Path, seed: int = 0) -> Path:
    """Build and save a random 2-layer BERT cross-encoder (one relevance logit) with a character vocabulary."""
    torch.manual_seed(seed)
    BertForSequenceClassification(_config(num_labels=1)).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder
