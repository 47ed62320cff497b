"""The model families the suite supports: how each is loaded, tokenized and pooled into words.

Plain data, shown by `probes models` and usable by the extractor (e.g. to say how a model_type is
read). Subword models go through transformers' Auto classes and subword pooling (mean, first or
last subword of each word); ELMo and Transformer-XL read whole words with the suite's own code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

SUBWORD_POOLING = "subword pooling: mean (default) | first | last"
NO_POOLING = "none: word-level model, one vector per word"
AUTO = "transformers AutoModel"


@dataclass(frozen=True)
class ModelFamily:
    """One family: its transformers model_types, an example spec, loader, tokenizer and pooling."""

    name: str
    model_types: tuple[str, ...]  # transformers config.model_type values; empty for the suite's own
    example: str                  # what to pass to --model
    loader: str
    tokenizer: str
    pooling: str
    layers: str                   # what layer 0 and the others are


FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily("BERT", ("bert",), "bert-base-cased", AUTO,
                "WordPiece (## marks a continuation piece)", SUBWORD_POOLING,
                "0 = embeddings, then each encoder layer"),
    ModelFamily("ERNIE", ("ernie",), "nghuyong/ernie-3.0-base-zh", AUTO,
                "WordPiece; Chinese text split into single characters (char-level)",
                SUBWORD_POOLING + " (over the characters of a Chinese word)",
                "0 = embeddings, then each encoder layer"),
    ModelFamily("GPT (openai-gpt)", ("openai-gpt",), "openai-community/openai-gpt", AUTO,
                "lowercasing BPE with </w> closing each word", SUBWORD_POOLING,
                "0 = embeddings, then each decoder layer"),
    ModelFamily("GPT-2", ("gpt2",), "gpt2", AUTO,
                "byte-level BPE, a word after a space starts with it (leading space, Ġ)", SUBWORD_POOLING,
                "0 = embeddings, then each decoder layer"),
    ModelFamily("XLNet", ("xlnet",), "xlnet/xlnet-base-cased", AUTO,
                "SentencePiece (▁ starts a word); padding on the left, <sep> <cls> at the end",
                SUBWORD_POOLING, "0 = embeddings, then each layer"),
    ModelFamily("RoBERTa", ("roberta", "xlm-roberta"), "roberta-base", AUTO,
                "byte-level BPE with leading space (RoBERTa); SentencePiece (XLM-R)", SUBWORD_POOLING,
                "0 = embeddings, then each encoder layer"),
    ModelFamily("DeBERTa-v2/v3", ("deberta-v2",), "microsoft/deberta-v3-base", AUTO,
                "SentencePiece (▁ starts a word)", SUBWORD_POOLING,
                "0 = embeddings, then each encoder layer"),
    ModelFamily("ELECTRA", ("electra",), "google/electra-base-discriminator", AUTO,
                "WordPiece (## marks a continuation piece)", SUBWORD_POOLING,
                "0 = embeddings, then each encoder layer"),
    ModelFamily("ALBERT", ("albert",), "albert/albert-base-v2", AUTO,
                "SentencePiece (▁ starts a word)", SUBWORD_POOLING,
                "0 = embeddings, then each (shared-weight) layer"),
    ModelFamily("T5 encoder", ("t5", "mt5", "umt5"), "google-t5/t5-base",
                "transformers T5EncoderModel / MT5EncoderModel / UMT5EncoderModel (encoder stack only)",
                "SentencePiece (▁ starts a word)", SUBWORD_POOLING,
                "0 = embeddings, then each encoder layer"),
    ModelFamily("Llama-style decoders", ("llama", "mistral", "qwen2", "gemma"), "meta-llama/Llama-3.2-1B", AUTO,
                "SentencePiece or byte-level BPE, depending on the model", SUBWORD_POOLING,
                "0 = embeddings, then each decoder layer"),
    ModelFamily("ELMo", (), "elmo:DIR (options.json + weights.hdf5), or a release: elmo:original|original-5.5b|medium|small",
                "the suite's own biLM in torch (probes.encoders.elmo), from the released options.json + weights.hdf5",
                "characters: UTF-8 bytes with begin/end-of-word markers, 50 per word, <S> </S> around the sentence",
                NO_POOLING,
                "0 = character-CNN token vector [x; x], then each biLSTM layer [forward; backward]"),
    ModelFamily("Transformer-XL", ("transfo-xl",), "DIR with config.json (model_type transfo-xl), "
                "pytorch_model.bin or model.safetensors, vocab.pkl; or transfo-xl/transfo-xl-wt103",
                "the suite's own Transformer-XL in torch (probes.encoders.transfo_xl); weights via "
                "torch.load(weights_only=True) or safetensors; vocab.pkl read by a restricted unpickler "
                "that runs no code from the file",
                "word vocabulary: each word is one id (unknown -> <unk>; lowercased if the checkpoint's "
                "tokenizer lowercased); per sentence by default, segment memory optional",
                NO_POOLING, "0 = adaptive input embeddings, then each layer"),
)


def family_of(model_type: str) -> Optional[ModelFamily]:
    """The family of a transformers model_type, or None when the suite does not list it."""
    return next((f for f in FAMILIES if model_type in f.model_types), None)
