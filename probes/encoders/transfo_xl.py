"""Transformer-XL (Dai et al. 2019) in torch, reading checkpoints as transformers 4.x published them.

`transformers` dropped Transformer-XL after 4.35; this module runs the published checkpoints
(`transfo-xl-wt103` layout: config.json with model_type "transfo-xl", pytorch_model.bin or
model.safetensors, the word vocabulary vocab.pkl / vocab.bin) with its own implementation of the
architecture: adaptive input embeddings (cutoffs, div_val), relative positional attention with the
learned biases u, v (r_w_bias, r_r_bias), and segment memory.

Safety: the weights are read with ``torch.load(weights_only=True)`` (or safetensors), which
refuses arbitrary code; the pickled vocabulary is read with `probes.encoders.safe_pickle`, which
admits only plain containers, strings and numbers and never runs code named in the file.

Memory: transformers starts every call without `mems` from a zero memory of `mem_len` positions
(zero keys and values that still take attention weight through the positional term) and the
hidden states it returned were computed that way; `encode` does exactly the same for every
sentence by default (probing per sentence, no memory carried across sentences), without
materializing the zero rows (they all project to one key and value). With ``carry_memory=True``
the sentences are read in order as consecutive segments, each one's memory being the previous
hidden states, as in language-model evaluation. ``mem_len`` overrides the checkpoint's; with
``mem_len=0`` only the causal mask applies (transformers' same_length mask would hide every key).

Words: each word is one vocabulary id, lowercased when the checkpoint's tokenizer lowercased;
a word not in the vocabulary becomes <unk> (e.g. hyphenated compounds, which WikiText-103 splits
as "well @-@ known"); `unknown_words` counts them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from probes.errors import ProbesError
from probes.fingerprint import remembered_sha256_files
from probes.encoders.safe_pickle import safe_load_file

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
VOCAB_FILES = ("vocab.pkl", "vocab.bin")


@dataclass
class TransfoXLConfig:
    """The fields of a transformers 4.x `TransfoXLConfig` that the encoder uses (same defaults)."""

    vocab_size: int = 267735
    cutoffs: list = field(default_factory=lambda: [20000, 40000, 200000])
    d_model: int = 1024
    d_embed: int = 1024
    n_head: int = 16
    d_head: int = 64
    d_inner: int = 4096
    div_val: int = 4
    pre_lnorm: bool = False
    n_layer: int = 18
    mem_len: int = 1600
    clamp_len: int = 1000
    same_length: bool = True
    attn_type: int = 0
    untie_r: bool = True
    layer_norm_epsilon: float = 1e-5
    tie_word_embeddings: bool = True
    tie_projs: list = field(default_factory=lambda: [False, True, True, True])

    @classmethod
    def from_file(cls, path: str) -> "TransfoXLConfig":
        """Read config.json; raise ProbesError if it is not a Transformer-XL config."""
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise ProbesError(f"{path}: cannot read the Transformer-XL config ({exc})") from exc
        if raw.get("model_type") != "transfo-xl":
            raise ProbesError(f"{path}: model_type is {raw.get('model_type')!r}, not 'transfo-xl'")
        names = cls.__dataclass_fields__
        # transformers accepted n_token as the old name of vocab_size.
        if "vocab_size" not in raw and "n_token" in raw:
            raw["vocab_size"] = raw["n_token"]
        cfg = cls(**{k: v for k, v in raw.items() if k in names})
        if cfg.attn_type != 0:
            raise ProbesError(f"{path}: attn_type {cfg.attn_type} is not supported "
                              "(only 0, relative positional attention, as every published checkpoint)")
        return cfg


@dataclass
class TransfoXLVocab:
    """The word vocabulary of a checkpoint: symbol -> id, the unknown id and the lowercasing flag."""

    sym2idx: dict
    unk_idx: int
    lower_case: bool = False

    def ids(self, words: list[str]) -> tuple[list[int], int]:
        """Vocabulary ids of words (lowercased if the tokenizer did) and how many were unknown."""
        out, unknown = [], 0
        for w in words:
            key = w.lower() if self.lower_case else w
            idx = self.sym2idx.get(key)
            if idx is None:
                unknown += 1
                idx = self.unk_idx
            out.append(idx)
        return out, unknown

    @classmethod
    def from_file(cls, path: str) -> "TransfoXLVocab":
        """Read vocab.pkl / vocab.bin (the pickled tokenizer state) without executing its code."""
        data = safe_load_file(path)
        if not isinstance(data, dict):
            raise ProbesError(f"{path}: expected the pickled tokenizer state (a dict), got {type(data).__name__}")
        sym2idx = data.get("sym2idx")
        if not isinstance(sym2idx, dict) or not sym2idx:
            idx2sym = data.get("idx2sym")
            if isinstance(idx2sym, list) and idx2sym:
                sym2idx = {s: i for i, s in enumerate(idx2sym)}
            else:
                raise ProbesError(f"{path}: no sym2idx / idx2sym word table in the vocabulary")
        sym2idx = {str(k): int(v) for k, v in sym2idx.items()}
        # Same order as transformers' TransfoXLTokenizer._convert_token_to_id.
        unk = data.get("unk_idx")
        if isinstance(unk, int):
            unk_idx = unk
        elif "<unk>" in sym2idx:
            unk_idx = sym2idx["<unk>"]
        elif "<UNK>" in sym2idx:
            unk_idx = sym2idx["<UNK>"]
        else:
            raise ProbesError(f"{path}: the vocabulary has no <unk> symbol for unknown words")
        return cls(sym2idx=sym2idx, unk_idx=unk_idx, lower_case=bool(data.get("lower_case", False)))


class AdaptiveEmbedding(nn.Module):
    """Adaptive input embeddings (Baevski & Auli 2019): smaller vectors for rarer cutoff bands."""

    def __init__(self, n_token: int, d_embed: int, d_proj: int, cutoffs: list, div_val: int = 1):
        super().__init__()
        self.d_embed, self.d_proj, self.div_val = d_embed, d_proj, div_val
        self.cutoffs = list(cutoffs) + [n_token]
        self.cutoff_ends = [0] + self.cutoffs
        self.emb_scale = d_proj ** 0.5
        self.emb_layers = nn.ModuleList()
        self.emb_projs = nn.ParameterList()
        if div_val == 1:
            self.emb_layers.append(nn.Embedding(n_token, d_embed))
            if d_proj != d_embed:
                self.emb_projs.append(nn.Parameter(torch.zeros(d_proj, d_embed)))
        else:
            for i in range(len(self.cutoffs)):
                d_emb_i = d_embed // (div_val ** i)
                self.emb_layers.append(nn.Embedding(self.cutoff_ends[i + 1] - self.cutoff_ends[i], d_emb_i))
                self.emb_projs.append(nn.Parameter(torch.zeros(d_proj, d_emb_i)))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        if self.div_val == 1:
            embed = self.emb_layers[0](inp)
            if self.d_proj != self.d_embed:
                embed = nn.functional.linear(embed, self.emb_projs[0])
        else:
            flat = inp.reshape(-1)
            weight = self.emb_projs[0]
            embed = torch.zeros(flat.numel(), self.d_proj, dtype=weight.dtype, device=weight.device)
            for i in range(len(self.cutoffs)):
                lo, hi = self.cutoff_ends[i], self.cutoff_ends[i + 1]
                idx = ((flat >= lo) & (flat < hi)).nonzero().squeeze(-1)
                if idx.numel():
                    band = nn.functional.linear(self.emb_layers[i](flat[idx] - lo), self.emb_projs[i])
                    embed.index_copy_(0, idx, band)
            embed = embed.view(*inp.shape, self.d_proj)
        return embed * self.emb_scale


class PositionalEmbedding(nn.Module):
    """Sinusoid embeddings of relative distances (sin half, then cos half)."""

    def __init__(self, demb: int):
        super().__init__()
        self.register_buffer("inv_freq", 1 / (10000 ** (torch.arange(0.0, demb, 2.0) / demb)))

    def forward(self, pos_seq: torch.Tensor) -> torch.Tensor:
        sinusoid = torch.outer(pos_seq, self.inv_freq)
        return torch.cat([sinusoid.sin(), sinusoid.cos()], dim=-1)[:, None, :]


class RelPartialLearnableMultiHeadAttn(nn.Module):
    """Relative multi-head attention: content term (q+u)k and position term (q+v)R, shifted."""

    def __init__(self, cfg: TransfoXLConfig, tied_biases: bool):
        super().__init__()
        self.n_head, self.d_head, self.pre_lnorm = cfg.n_head, cfg.d_head, cfg.pre_lnorm
        self.qkv_net = nn.Linear(cfg.d_model, 3 * cfg.n_head * cfg.d_head, bias=False)
        self.o_net = nn.Linear(cfg.n_head * cfg.d_head, cfg.d_model, bias=False)
        self.layer_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)
        self.r_net = nn.Linear(cfg.d_model, cfg.n_head * cfg.d_head, bias=False)
        self.scale = 1 / (cfg.d_head ** 0.5)
        if not tied_biases:
            self.r_r_bias = nn.Parameter(torch.zeros(cfg.n_head, cfg.d_head))
            self.r_w_bias = nn.Parameter(torch.zeros(cfg.n_head, cfg.d_head))

    @staticmethod
    def _rel_shift(x: torch.Tensor) -> torch.Tensor:
        # Turns scores against absolute key offsets into scores against distances i - j.
        zero_pad = torch.zeros((x.size(0), 1) + x.size()[2:], device=x.device, dtype=x.dtype)
        padded = torch.cat([zero_pad, x], dim=1).view((x.size(1) + 1, x.size(0)) + x.size()[2:])
        return padded[1:].view_as(x)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return self.qkv_net(self.layer_norm(x) if self.pre_lnorm else x)

    def forward(self, w, r, attn_mask, mems, r_w_bias, r_r_bias):
        """`mems`: None, a memory tensor (mlen, bsz, d_model), or an int: that many all-zero memory rows."""
        qlen, rlen, bsz = w.size(0), r.size(0), w.size(1)
        if isinstance(mems, int):
            # Zero rows all give the same key and value: project one, not mem_len of them.
            w_heads = self._heads(w)
            zero_heads = self._heads(w.new_zeros(1, bsz, w.size(-1))).expand(mems, -1, -1)
            q = w_heads[..., : w_heads.size(-1) // 3]
            k, v = torch.chunk(torch.cat([zero_heads, w_heads], 0)[..., w_heads.size(-1) // 3:], 2, dim=-1)
        else:
            cat = w if mems is None else torch.cat([mems, w], 0)
            q, k, v = torch.chunk(self._heads(cat), 3, dim=-1)
            q = q[-qlen:]
        r_head_k = self.r_net(r)
        klen = k.size(0)
        q = q.view(qlen, bsz, self.n_head, self.d_head)
        k = k.view(klen, bsz, self.n_head, self.d_head)
        v = v.view(klen, bsz, self.n_head, self.d_head)
        r_head_k = r_head_k.view(rlen, self.n_head, self.d_head)
        ac = torch.einsum("ibnd,jbnd->ijbn", q + r_w_bias, k)
        bd = self._rel_shift(torch.einsum("ibnd,jnd->ijbn", q + r_r_bias, r_head_k))
        score = (ac + bd) * self.scale
        if attn_mask is not None and bool(attn_mask.any()):
            score = score.float().masked_fill(attn_mask[:, :, :, None], torch.finfo(score.dtype).min).type_as(score)
        prob = torch.softmax(score, dim=1)
        vec = torch.einsum("ijbn,jbnd->ibnd", prob, v).contiguous().view(qlen, bsz, self.n_head * self.d_head)
        out = self.o_net(vec)
        return w + out if self.pre_lnorm else self.layer_norm(w + out)


class PositionwiseFF(nn.Module):
    """The feed-forward block, ReLU, residual and layer norm (pre- or post-)."""

    def __init__(self, cfg: TransfoXLConfig):
        super().__init__()
        self.pre_lnorm = cfg.pre_lnorm
        # Index names 0 and 3 keep the checkpoint's CoreNet.{0,3} parameter names.
        self.CoreNet = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_inner), nn.ReLU(), nn.Identity(),
                                     nn.Linear(cfg.d_inner, cfg.d_model))
        self.layer_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_epsilon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_lnorm:
            return self.CoreNet(self.layer_norm(x)) + x
        return self.layer_norm(x + self.CoreNet(x))


class DecoderLayer(nn.Module):
    """One Transformer-XL layer: relative attention then feed-forward."""

    def __init__(self, cfg: TransfoXLConfig):
        super().__init__()
        self.dec_attn = RelPartialLearnableMultiHeadAttn(cfg, tied_biases=not cfg.untie_r)
        self.pos_ff = PositionwiseFF(cfg)

    def forward(self, x, r, attn_mask, mems, r_w_bias, r_r_bias):
        return self.pos_ff(self.dec_attn(x, r, attn_mask, mems, r_w_bias, r_r_bias))


class TransfoXLModel(nn.Module):
    """The Transformer-XL stack; parameter names match transformers' `TransfoXLModel`."""

    def __init__(self, cfg: TransfoXLConfig):
        super().__init__()
        self.cfg = cfg
        self.word_emb = AdaptiveEmbedding(cfg.vocab_size, cfg.d_embed, cfg.d_model, cfg.cutoffs, cfg.div_val)
        if not cfg.untie_r:
            self.r_w_bias = nn.Parameter(torch.zeros(cfg.n_head, cfg.d_head))
            self.r_r_bias = nn.Parameter(torch.zeros(cfg.n_head, cfg.d_head))
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.n_layer)])
        self.pos_emb = PositionalEmbedding(cfg.d_model)

    def _attn_mask(self, qlen: int, mlen: int, mem_len: int, device) -> torch.Tensor:
        klen = mlen + qlen
        ones = torch.ones((qlen, klen), dtype=torch.bool, device=device)
        causal = torch.triu(ones, 1 + mlen)
        if self.cfg.same_length and mem_len > 0:
            # Every query sees the same number of keys: its own last `mem_len` positions + itself.
            mask_len = klen - mem_len
            shift = qlen - mask_len if mask_len > 0 else qlen
            causal = causal | torch.tril(ones, -shift)
        # With mem_len 0, transformers' same_length mask would hide every key; only causality applies.
        return causal[:, :, None]

    def forward(self, ids: torch.Tensor, mems, mem_len: int) -> tuple[list, Optional[list]]:
        """ids (qlen, bsz) -> hidden states [(qlen, bsz, d_model)] * (n_layer + 1) and the new memory.

        `mems`: None (no memory), a list of per-layer memories, or an int n standing for n all-zero
        memory rows in every layer (transformers' fresh memory), which is never materialized.
        """
        qlen = ids.size(0)
        word_emb = self.word_emb(ids)
        zero_mems = isinstance(mems, int)
        mlen = mems if zero_mems else (mems[0].size(0) if mems is not None else 0)
        klen = mlen + qlen
        mask = self._attn_mask(qlen, mlen, mem_len, ids.device)
        pos_seq = torch.arange(klen - 1, -1, -1.0, device=ids.device, dtype=word_emb.dtype)
        if self.cfg.clamp_len > 0:
            pos_seq = pos_seq.clamp(max=self.cfg.clamp_len)
        pos_emb = self.pos_emb(pos_seq)
        hids = []
        core = word_emb
        for i, layer in enumerate(self.layers):
            hids.append(core)
            attn = layer.dec_attn
            r_w = attn.r_w_bias if self.cfg.untie_r else self.r_w_bias
            r_r = attn.r_r_bias if self.cfg.untie_r else self.r_r_bias
            layer_mems = mems if zero_mems or mems is None else mems[i]
            core = layer(core, pos_emb, mask, layer_mems, r_w, r_r)
        new_mems = None
        if mems is not None:
            end = mlen + qlen
            beg = max(0, end - mem_len)
            olds = [h.new_zeros(mlen, *h.shape[1:]) for h in hids] if zero_mems else mems
            new_mems = [torch.cat([m, h], 0)[beg:end] for m, h in zip(olds, hids)]
        hids.append(core)
        return hids, new_mems


def _read_state_dict(path: str) -> dict:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors and plain containers
        raise ProbesError(f"{path}: cannot load the weights safely with torch.load(weights_only=True) ({exc})") from exc


def _tied_input_name(key: str, cfg: TransfoXLConfig) -> list[str]:
    """Adaptive-softmax names that hold the same tensor as input-embedding weight `key`, if tied."""
    layer = re.fullmatch(r"word_emb\.emb_layers\.(\d+)\.weight", key)
    if layer and cfg.tie_word_embeddings:
        return [f"crit.out_layers.{layer.group(1)}.weight"]
    proj = re.fullmatch(r"word_emb\.emb_projs\.(\d+)", key)
    if proj:
        i = int(proj.group(1))
        if cfg.div_val == 1:  # one input projection, shared by every tied output cluster
            return [f"crit.out_projs.{j}" for j, tied in enumerate(cfg.tie_projs) if tied]
        if i < len(cfg.tie_projs) and cfg.tie_projs[i]:
            return [f"crit.out_projs.{i}"]
    return []


def _select_backbone(state: dict, path: str, model: TransfoXLModel) -> dict:
    """The `TransfoXLModel` weights of a checkpoint saved with or without the LM head."""
    if any(k.startswith("transformer.") for k in state):
        backbone = {k[len("transformer."):]: v for k, v in state.items() if k.startswith("transformer.")}
        # The adaptive softmax is tied to the input embeddings; a file that deduplicated the
        # shared tensors may have kept only the softmax's name for an input embedding.
        for key in set(model.state_dict()) - backbone.keys():
            found = [name for name in _tied_input_name(key, model.cfg) if name in state]
            if found:
                backbone[key] = state[found[0]]
        state = backbone
    if not any(k.startswith("word_emb.") for k in state):
        raise ProbesError(f"{path}: no word_emb.* weights; not a Transformer-XL checkpoint")
    return state


def _read_config_floats(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    return {"init_std": float(raw.get("init_std", 0.02)), "proj_init_std": float(raw.get("proj_init_std", 0.01))}


@torch.no_grad()
def random_init_transfo_xl(model: TransfoXLModel, seed: int, stds: dict) -> None:
    """Fresh weights for the same architecture, reproducible from `seed`, as transformers' init='normal'.

    Matrices, embeddings and the u, v biases ~ N(0, init_std); embedding projections ~
    N(0, proj_init_std); layer norms weight ~ N(1, init_std), bias 0; other biases 0.
    """
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        std = stds["proj_init_std"] if "emb_projs" in name else stds["init_std"]
        if "layer_norm" in name and name.endswith("weight"):
            p.copy_(1.0 + std * torch.randn(p.shape, generator=gen))
        elif name.endswith("bias") and not name.endswith(("r_w_bias", "r_r_bias")):
            p.zero_()
        else:
            p.copy_(std * torch.randn(p.shape, generator=gen))


def _drop_tied_bias_aliases(state: dict, path: str) -> dict:
    """With untie_r false transformers saves the shared r_w_bias/r_r_bias again under every layer."""
    kept = {}
    for key, value in state.items():
        m = re.fullmatch(r"layers\.\d+\.dec_attn\.(r_w_bias|r_r_bias)", key)
        if m:
            shared = state.get(m.group(1))
            if shared is None or not torch.equal(shared, value):
                raise ProbesError(f"{path}: untie_r is false but {key} differs from the shared {m.group(1)}")
            continue
        kept[key] = value
    return kept


class TransfoXLEncoder:
    """A `WordEncoder` over a Transformer-XL checkpoint: one vector per word for every layer."""

    def __init__(self, model: TransfoXLModel, vocab: TransfoXLVocab, name: str, fingerprint: str,
                 mem_len: Optional[int] = None, carry_memory: bool = False, batch_size: int = 16):
        self.model = model.eval()
        self.vocab = vocab
        self.name = name
        self.fingerprint = fingerprint
        self.num_layers = model.cfg.n_layer + 1
        self.dim = model.cfg.d_model
        self.mem_len = model.cfg.mem_len if mem_len is None else int(mem_len)
        if self.mem_len < 0:
            raise ProbesError(f"mem_len must be >= 0, got {self.mem_len}")
        self.carry_memory = carry_memory
        self.batch_size = max(1, int(batch_size))
        self.unknown_words = 0  # running count of words mapped to <unk>
        self._mems: Optional[list] = None

    @classmethod
    def from_dir(cls, path: str, **options) -> "TransfoXLEncoder":
        """Load config.json, the weights and the vocabulary from a checkpoint directory."""
        cfg = TransfoXLConfig.from_file(os.path.join(path, "config.json"))
        weights = next((os.path.join(path, f) for f in WEIGHT_FILES if os.path.isfile(os.path.join(path, f))), None)
        if weights is None:
            raise ProbesError(f"{path}: no weights ({' or '.join(WEIGHT_FILES)}) in the Transformer-XL directory")
        vocab_path = next((os.path.join(path, f) for f in VOCAB_FILES if os.path.isfile(os.path.join(path, f))), None)
        if vocab_path is None:
            raise ProbesError(f"{path}: no word vocabulary ({' or '.join(VOCAB_FILES)}) in the Transformer-XL directory")
        random_init, seed = bool(options.pop("random_init", False)), int(options.pop("seed", 0))
        name = options.pop("name", None) or os.path.basename(os.path.normpath(path))
        model = TransfoXLModel(cfg)
        if random_init:
            random_init_transfo_xl(model, seed, _read_config_floats(os.path.join(path, "config.json")))
            name += ":random-init"
        else:
            state = _select_backbone(_read_state_dict(weights), weights, model)
            if not cfg.untie_r:
                state = _drop_tied_bias_aliases(state, weights)
            missing, unexpected = model.load_state_dict(state, strict=False)
            missing = [k for k in missing if k != "pos_emb.inv_freq"]
            if missing or unexpected:
                raise ProbesError(f"{weights}: weights do not match config.json "
                                  f"(missing {missing[:5]}, unexpected {list(unexpected)[:5]})")
        vocab = TransfoXLVocab.from_file(vocab_path)
        # A random-init twin never reads the weights (the loader adds the seed to the identity).
        files = [os.path.join(path, "config.json"), vocab_path] + ([] if random_init else [weights])
        fingerprint = remembered_sha256_files(files)
        return cls(model, vocab, name=name, fingerprint=fingerprint, **options)

    def to(self, device: torch.device) -> "TransfoXLEncoder":
        """Move the weights (and any carried memory) to a device."""
        self.model.to(device)
        if self._mems is not None:
            self._mems = [m.to(device) for m in self._mems]
        return self

    def reset_memory(self) -> None:
        """Forget the memory carried between sentences (carry_memory=True only)."""
        self._mems = None

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def encode(self, batch: list[list[str]]) -> list[torch.Tensor]:
        """Every layer for every word of each sentence: (num_layers, n_words, dim) float32 each."""
        out: list[torch.Tensor] = []
        device = self._device()
        ids_all = []
        for words in batch:
            ids, unknown = self.vocab.ids(words)
            self.unknown_words += unknown
            ids_all.append(ids)
        if self.carry_memory:
            for ids in ids_all:
                if not ids:
                    out.append(torch.zeros(self.num_layers, 0, self.dim))
                    continue
                fresh = self.mem_len if self.mem_len > 0 else None
                mems = self._mems if self._mems is not None else fresh
                hids, self._mems = self.model(torch.tensor(ids, device=device)[:, None], mems, self.mem_len)
                out.append(torch.stack([h[:, 0] for h in hids]).float().cpu())
            return out
        order = sorted(range(len(ids_all)), key=lambda i: len(ids_all[i]))
        results: dict[int, torch.Tensor] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            longest = max(len(ids_all[i]) for i in chunk)
            if longest == 0:
                for i in chunk:
                    results[i] = torch.zeros(self.num_layers, 0, self.dim)
                continue
            # Right padding is exact here: a causal model never lets a word see later positions.
            padded = torch.zeros(longest, len(chunk), dtype=torch.long, device=device)
            for b, i in enumerate(chunk):
                padded[: len(ids_all[i]), b] = torch.tensor(ids_all[i], device=device)
            hids, _ = self.model(padded, self.mem_len if self.mem_len > 0 else None, self.mem_len)
            stacked = torch.stack(hids)  # (layers, qlen, bsz, dim)
            for b, i in enumerate(chunk):
                results[i] = stacked[:, : len(ids_all[i]), b].float().cpu()
        return [results[i] for i in range(len(ids_all))]
