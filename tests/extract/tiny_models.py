"""Builders of tiny random models of every Hugging Face family, with tokenizers trained on a small text."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

TEXT = """The quick brown fox jumps over the lazy dog .
A probing classifier reads hidden states layer by layer .
Researchers ask where in the model the knowledge of syntax lives .
del gato and the cats were sleeping in the garden all afternoon .
Tokenizers split rare words into several pieces , common words stay whole .
我们喜欢学习语言模型 。 他们在北京工作 。
"""
CORPUS = [line for line in TEXT.splitlines() if line.strip()] * 4
TYPES = ["input_ids", "token_type_ids", "attention_mask"]


def _wordpiece(chinese: bool = False) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=chinese, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


def _byte_bpe(roberta: bool) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>"] if roberta else ["<|endoftext|>"]
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if roberta:
        tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                          trim_offsets=True, add_prefix_space=False)
    else:  # GPT-2 keeps the leading space inside each word's offsets
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def _openai_gpt() -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>"], end_of_word_suffix="</w>"))
    return tok


def _sentencepiece(specials: list[str], template: str, pairs: list[str], prepend: str = "always", bpe: bool = False) -> Tokenizer:
    if bpe:
        tok = Tokenizer(models.BPE(unk_token=specials[1]))
        trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=specials)
    else:
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=150, special_tokens=specials, unk_token=specials[1])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=prepend)
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, tok.token_to_id(t)) for t in pairs])
    return tok


def build(family: str, root) -> str:
    """Write a tiny random model of `family` with its tokenizer into a directory; return the path."""
    import transformers as tf
    from transformers import PreTrainedTokenizerFast

    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=64)
    tk_kw: dict = {"model_max_length": 64}
    if family in ("bert", "ernie", "electra"):
        tok = _wordpiece(chinese=family == "ernie")
        tk_kw.update(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", model_input_names=TYPES)
        cfg_cls = {"bert": tf.BertConfig, "ernie": tf.ErnieConfig, "electra": tf.ElectraConfig}[family]
        extra = {"embedding_size": 24} if family == "electra" else {}
        config = cfg_cls(vocab_size=tok.get_vocab_size(), pad_token_id=0, **small, **extra)
    elif family == "roberta":
        tok = _byte_bpe(roberta=True)
        tk_kw.update(bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", model_max_length=62)
        config = tf.RobertaConfig(vocab_size=tok.get_vocab_size(), pad_token_id=1, **small)
    elif family == "gpt2":
        tok = _byte_bpe(roberta=False)
        tk_kw.update(eos_token="<|endoftext|>", bos_token="<|endoftext|>")
        config = tf.GPT2Config(vocab_size=tok.get_vocab_size(), n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                bos_token_id=0, eos_token_id=0)
    elif family == "openai-gpt":
        tok = _openai_gpt()
        tk_kw.update(unk_token="<unk>")
        config = tf.OpenAIGPTConfig(vocab_size=tok.get_vocab_size(), n_embd=32, n_layer=2, n_head=4, n_positions=64)
    elif family == "xlnet":
        tok = _sentencepiece(["<pad>", "<unk>", "<s>", "</s>", "<cls>", "<sep>"], "$A:0 <sep>:0 <cls>:2", ["<sep>", "<cls>"])
        tk_kw.update(pad_token="<pad>", unk_token="<unk>", cls_token="<cls>", sep_token="<sep>", padding_side="left",
                     model_input_names=TYPES, model_max_length=int(1e30))
        config = tf.XLNetConfig(vocab_size=tok.get_vocab_size(), d_model=32, n_layer=2, n_head=4, d_inner=37,
                                pad_token_id=0)
    elif family == "albert":
        tok = _sentencepiece(["<pad>", "<unk>", "[CLS]", "[SEP]"], "[CLS]:0 $A:0 [SEP]:0", ["[CLS]", "[SEP]"])
        tk_kw.update(pad_token="<pad>", unk_token="<unk>", cls_token="[CLS]", sep_token="[SEP]", model_input_names=TYPES)
        config = tf.AlbertConfig(vocab_size=tok.get_vocab_size(), embedding_size=16, pad_token_id=0, **small)
    elif family == "deberta-v2":
        tok = _sentencepiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], "[CLS] $A [SEP]", ["[CLS]", "[SEP]"])
        tk_kw.update(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", model_input_names=TYPES)
        config = tf.DebertaV2Config(vocab_size=tok.get_vocab_size(), pad_token_id=0, relative_attention=True,
                                    position_buckets=16, pos_att_type=["p2c", "c2p"], position_biased_input=False, **small)
    elif family == "t5":
        tok = _sentencepiece(["<pad>", "<unk>", "</s>"], "$A </s>", ["</s>"])
        tk_kw.update(pad_token="<pad>", unk_token="<unk>", eos_token="</s>")
        config = tf.T5Config(vocab_size=tok.get_vocab_size(), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                             pad_token_id=0, eos_token_id=2, decoder_start_token_id=0, n_positions=64)
    elif family == "llama":
        tok = _sentencepiece(["<pad>", "<unk>", "<s>", "</s>"], "<s> $A", ["<s>"], prepend="first", bpe=True)
        tk_kw.update(pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>")
        config = tf.LlamaConfig(vocab_size=tok.get_vocab_size(), pad_token_id=0, bos_token_id=2, eos_token_id=3,
                                num_key_value_heads=2, **small)
    else:
        raise ValueError(family)
    path = root / family
    PreTrainedTokenizerFast(tokenizer_object=tok, **tk_kw).save_pretrained(path)
    torch.manual_seed(0)
    model = tf.T5Model(config) if family == "t5" else tf.AutoModel.from_config(config)
    model.save_pretrained(path)
    return str(path)


FAMILIES = ["bert", "ernie", "electra", "roberta", "gpt2", "openai-gpt", "xlnet", "albert", "deberta-v2", "t5", "llama"]
