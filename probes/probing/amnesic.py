"""Amnesic probing (Elazar et al. 2021) with LEACE (Belrose et al. 2023): does the model use a property?

LEACE (EleutherAI's ``concept-erasure``, the authors' implementation) fits, on one layer's word
vectors of the training set, the affine map of least mean-squared change after which no linear
classifier predicts the task's labels better than a constant. Then:

* the probe after erasure: a linear probe retrained and scored on erased vectors of that layer
  (``accuracy_erased``), which LEACE's guarantee puts at the majority baseline;
* the model's own language-modelling loss on held-out sentences with the eraser applied to every
  position's hidden state of that layer inside the forward pass (masked-LM loss for encoders,
  next-token loss for left-to-right models): ``lm_loss_delta`` = erased minus clean, nats per token;
* the control of the same rank: an orthogonal projection removing a random subspace of the LEACE
  eraser's rank around the same mean (``*_random`` rows), and the paired difference
  ``lm_loss_delta_vs_random`` (LEACE's change minus the random one's) with its interval.

Word vectors are pooled from subwords by an average (or one subword); LEACE is affine, so erasing
each subword's state erases the pooled word vector exactly as the probe saw it.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from probes.errors import ProbesError
from probes.probing.bootstrap import percentile_interval, ratio_replicates, resample_counts
from probes.probing.features import to_tensor
from probes.probing.linear import LinearProbe
from probes.records import ResultRow


@dataclass
class Eraser:
    """x -> x - (x - mean) @ right.T @ left.T: LEACE (oblique) or a random orthogonal projection."""

    left: torch.Tensor   # (d, k)
    right: torch.Tensor  # (k, d)
    mean: torch.Tensor   # (d,)
    rank: int
    kind: str            # "leace" | "random"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Erase along the last axis (any leading shape), in x's dtype."""
        left, right, mean = (t.to(device=x.device, dtype=torch.float32) for t in (self.left, self.right, self.mean))
        xf = x.float()
        return (xf - ((xf - mean) @ right.T) @ left.T).to(x.dtype)


def fit_leace(X: torch.Tensor, y: np.ndarray) -> Eraser:
    """The LEACE eraser of labels y (n,) class ids from vectors X (n, d)."""
    from concept_erasure import LeaceEraser

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise ProbesError("LEACE needs at least two classes in the training labels")
    X = X.double()
    Z = torch.nn.functional.one_hot(torch.as_tensor(y, dtype=torch.long)).double()
    er = LeaceEraser.fit(X, Z)
    P = er.proj_left @ er.proj_right
    rank = int(torch.linalg.matrix_rank(P, atol=1e-6 * max(1.0, float(P.abs().max()))))
    return Eraser(er.proj_left.float(), er.proj_right.float(), er.bias.float(), rank, "leace")


def random_eraser(mean: torch.Tensor, rank: int, seed: int) -> Eraser:
    """An orthogonal projection removing a uniformly random ``rank``-dimensional subspace."""
    g = torch.Generator().manual_seed(int(seed))
    Q, _ = torch.linalg.qr(torch.randn(mean.shape[0], rank, generator=g, dtype=torch.float64))
    return Eraser(Q.float(), Q.T.float(), mean.float(), rank, "random")


def _layer(vectors, task, layer: int, classes=None):
    """(X (n, d) of one layer, Inputs) for a token task."""
    from probes.probing.api import task_inputs

    inputs = task_inputs(vectors, task, classes)
    if task.Y is not None or task.kind != "token":
        raise ProbesError(f"task {task.name}: amnesic probing erases one label per word (a token task)")
    if layer not in inputs.layers:
        raise ProbesError(f"layer {layer} is not in the cache (it holds layers {inputs.layers})")
    return to_tensor(inputs.X, layers=[inputs.layers.index(layer)])[0], inputs


def _interval_rows(key: dict, layer: int, metric_values, counts, den, covers: str) -> list[ResultRow]:
    rows = []
    for metric, per_sent in metric_values:
        point, reps = ratio_replicates(per_sent, den, counts)
        lo, hi = percentile_interval(reps)
        rows.append(ResultRow(key["model"], key["task"], "amnesic", int(layer), key["train_set"], key["eval_set"],
                              key["seed"], metric, float(point), float(lo), float(hi), covers))
    return rows


def erased_probe_rows(train: tuple, tests: Mapping[str, tuple], layer: int, dev: Optional[tuple] = None,
                      seed: int = 0, model: str = "model", task: Optional[str] = None, train_set: str = "train",
                      n_boot: int = 1000, ci_seed: int = 0, device: str = "auto",
                      **hyper) -> tuple[list[ResultRow], Eraser, Eraser]:
    """A linear probe on one layer before and after LEACE and after a random erasure of the same rank.

    Rows (probe ``amnesic``): ``accuracy_clean``, ``accuracy_erased``, ``accuracy_erased_random``,
    ``accuracy_delta_vs_random`` (erased minus erased_random, its interval over the same resamples),
    ``majority`` (the most frequent training label's accuracy); returns (rows, LEACE eraser, random eraser).
    """
    X, tr = _layer(*train, layer)
    task = task or train[1].name
    classes = np.unique(tr.y)
    leace = fit_leace(X, np.searchsorted(classes, tr.y))
    rand = random_eraser(leace.mean, leace.rank, seed)
    Xd = yd = None
    if dev is not None:
        Xd, dv = _layer(*dev, layer, classes)
        yd = np.where(dv.y >= 0, classes[np.maximum(dv.y, 0)], -1)
    majority = classes[np.argmax(np.bincount(np.searchsorted(classes, tr.y)))]
    fitted = {}
    for name, er in (("clean", None), ("erased", leace), ("erased_random", rand)):
        f = (lambda t: t) if er is None else er
        fitted[name] = LinearProbe(device=device, random_state=seed, **hyper).fit(
            f(X)[None], tr.y, None if Xd is None else f(Xd)[None], yd, groups=tr.sent)
    rows = []
    for name, (tv, tt) in tests.items():
        Xt, te = _layer(tv, tt, layer, classes)
        counts = resample_counts(te.n_sentences, n_boot, ci_seed)
        den = np.bincount(te.sent, minlength=te.n_sentences).astype(float)
        gold = np.where(te.y >= 0, classes[np.maximum(te.y, 0)], np.iinfo(np.int64).min)
        values = []
        for nm, er in (("clean", None), ("erased", leace), ("erased_random", rand)):
            pred = np.asarray(fitted[nm].predict((Xt if er is None else er(Xt))[None])).reshape(-1)
            values.append((f"accuracy_{nm}", np.bincount(te.sent, weights=(pred == gold), minlength=te.n_sentences)))
        # The control's answer: LEACE minus the random erasure of the same rank, on the same sentence resamples
        values.append(("accuracy_delta_vs_random", values[1][1] - values[2][1]))
        values.append(("majority", np.bincount(te.sent, weights=(gold == majority), minlength=te.n_sentences)))
        key = dict(model=model, task=task, train_set=train_set, eval_set=name, seed=seed)
        rows += _interval_rows(key, layer, values, counts, den,
                               f"test sentences; LEACE rank {leace.rank}, random subspace of the same rank (seed {seed})")
    return rows, leace, rand


# ----- inside the model ----------------------------------------------------------------------------

def _blocks(model, n_layers: int) -> torch.nn.ModuleList:
    """The model's list of transformer blocks (the ModuleList with one entry per layer)."""
    found = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n_layers]
    if not found:
        raise ProbesError(f"cannot find the {n_layers} transformer blocks of {type(model).__name__} to erase in")
    return found[0]


class _Hook:
    """Replaces a module's output hidden states by ``fn(states)`` (run before any other hook on it)."""

    def __init__(self, module: torch.nn.Module, fn):
        self.fn = fn
        self.handle = module.register_forward_hook(self._post, prepend=True)

    def _post(self, module, args, output):
        if isinstance(output, tuple):
            return (self.fn(output[0]),) + tuple(output[1:])
        if hasattr(output, "last_hidden_state"):  # a ModelOutput
            output.last_hidden_state = self.fn(output.last_hidden_state)
            return output
        return self.fn(output)

    def remove(self) -> None:
        self.handle.remove()


def _first(output):
    if isinstance(output, tuple):
        return output[0] if output and isinstance(output[0], torch.Tensor) else None
    return output if isinstance(output, torch.Tensor) else None


def _candidates(model, n_layers: int, layer: int, enc, ref: torch.Tensor) -> list[torch.nn.Module]:
    """Modules whose output is hidden state ``layer``: block layer-1's output, or for layer 0 the
    modules that produce the embeddings (finished before block 0 starts), the latest first."""
    blocks = _blocks(model, n_layers)
    if layer >= 1:
        return [blocks[layer - 1]]
    found, started = [], {"block0": False}
    block_ids = {id(b) for b in blocks}

    def record(module, args, output):
        out = _first(output)
        if not started["block0"] and id(module) not in block_ids and out is not None and out.shape == ref.shape \
                and torch.allclose(out, ref, atol=1e-6):
            found.append(module)

    def mark(module, args):
        started["block0"] = True

    handles = [m.register_forward_hook(record) for m in model.modules() if m is not model]
    handles.append(blocks[0].register_forward_pre_hook(mark))
    try:
        with torch.inference_mode():
            model(**enc)
    finally:
        for h in handles:
            h.remove()
    return found[::-1]


def check_hook(model, tokenizer, n_layers: int, layer: int) -> torch.nn.Module:
    """The module whose output is hidden state ``layer``, checked on one sentence: shifting that output
    by a constant must shift the model's reported hidden state ``layer`` by exactly that and leave
    the state below it as it was; else the layer is refused."""
    if not 0 <= layer <= n_layers:
        raise ProbesError(f"layer {layer} is outside 0..{n_layers}")
    enc = tokenizer("probing the hidden states", return_tensors="pt").to(model.device)
    with torch.inference_mode():
        ref = model(**enc, output_hidden_states=True).hidden_states
    for module in _candidates(model, n_layers, layer, enc, ref[layer]):
        hook = _Hook(module, lambda h: h + 0.5)
        try:
            with torch.inference_mode():
                got = model(**enc, output_hidden_states=True).hidden_states
        finally:
            hook.remove()
        if torch.allclose(got[layer], ref[layer] + 0.5, atol=1e-4) and (
                layer == 0 or torch.equal(got[layer - 1], ref[layer - 1])):
            return module
    raise ProbesError(f"{type(model).__name__}: no module's output is exactly hidden state {layer} as the model "
                      "reports it (e.g. a final norm follows the last block), so it cannot be erased inside the model")


@contextmanager
def erased_model(loaded, layer: int, eraser: Eraser, label: str):
    """A loaded extraction model (``probes.extract.loading.LoadedModel``) with ``eraser`` applied to
    hidden state ``layer`` inside its forward pass, under a name and cache key of its own.

    ``label`` names the erasure (e.g. ``leace-upos@2``); vectors extracted meanwhile are those of the
    erased model, so the next layers show what the property's removal does downstream."""
    if loaded.model is None:
        raise ProbesError(f"{loaded.name}: erasure inside the model needs a Hugging Face model, not a word encoder")
    n_blocks = loaded.num_layers - 1
    module = check_hook(loaded.model, loaded.tokenizer, n_blocks, layer)
    digest = hashlib.sha256(b"".join(t.detach().cpu().numpy().tobytes()
                                     for t in (eraser.left, eraser.right, eraser.mean))).hexdigest()[:16]
    saved = (loaded.name, loaded.fingerprint)
    loaded.name = f"{saved[0]}:erased-{label}"
    loaded.fingerprint = f"{saved[1]}|erased:{label}:{digest}"
    hook = _Hook(module, eraser)
    try:
        yield loaded
    finally:
        hook.remove()
        loaded.name, loaded.fingerprint = saved


@dataclass
class LanguageModel:
    """A Hugging Face model with its language-modelling head, for amnesic LM losses."""

    model: object
    tokenizer: object
    causal: bool
    n_layers: int  # transformer blocks; hidden states are 0..n_layers

    @classmethod
    def load(cls, spec: str, device: str = "cpu") -> "LanguageModel":
        """Open a local model folder (or cached hub id) with its LM head; refuse a checkpoint without one."""
        import transformers

        from probes.extract.loading import _from_pretrained

        config = _from_pretrained(transformers.AutoConfig.from_pretrained, spec)
        causal = not getattr(config, "is_encoder_decoder", False) and bool(
            getattr(config, "is_decoder", False) or type(config).__name__ in _CAUSAL_CONFIGS
            or any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in (config.architectures or [])))
        loader = transformers.AutoModelForCausalLM if causal else transformers.AutoModelForMaskedLM
        tokenizer = _from_pretrained(transformers.AutoTokenizer.from_pretrained, spec)
        model, info = _from_pretrained(loader.from_pretrained, spec, output_loading_info=True)
        missing = [k for k in info.get("missing_keys", []) if not k.endswith("position_ids")]
        if missing:
            raise ProbesError(f"{spec}: the checkpoint has no trained language-modelling head ({len(missing)} weights "
                              f"missing, e.g. {missing[0]}); the amnesic LM loss needs a model saved with its head "
                              f"(e.g. *ForMaskedLM / *ForCausalLM)")
        model = model.to(device).eval()
        n_layers = int(getattr(config, "num_hidden_layers", 0) or getattr(config, "n_layer", 0))
        if not n_layers:
            raise ProbesError(f"{spec}: the config does not say how many layers the model has")
        if not causal and tokenizer.mask_token_id is None:
            raise ProbesError(f"{spec}: an encoder without a mask token; no masked-LM loss to measure")
        return cls(model, tokenizer, causal, n_layers)

    def check_layer(self, layer: int) -> torch.nn.Module:
        """The module whose output is hidden state ``layer``; refuses a layer the hook cannot reach exactly."""
        return check_hook(self.model, self.tokenizer, self.n_layers, layer)

    def sentence_losses(self, sentences: Sequence[Sequence[str]], eraser=None, layer: int = 0, seed: int = 0,
                        mask_rate: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
        """Per sentence: (summed token loss in nats, number of predicted tokens), with an optional eraser.

        Next-token loss for left-to-right models; for encoders, a fixed draw (by ``seed``) of
        ``mask_rate`` of each sentence's tokens (at least one) replaced by the mask token, the same
        draw with and without erasure.
        """
        hook = _Hook(self.check_layer(layer), eraser) if eraser is not None else None
        sums, counts = np.zeros(len(sentences)), np.zeros(len(sentences))
        rng = np.random.default_rng(seed)
        limit = getattr(self.tokenizer, "model_max_length", 512)
        try:
            for i, words in enumerate(sentences):
                ids = self.tokenizer(" ".join(words), return_tensors="pt")["input_ids"]
                if ids.shape[1] > min(limit, 100_000):
                    raise ProbesError(f"sentence {i}: {ids.shape[1]} tokens, more than the model's {limit}")
                ids = ids.to(self.model.device)
                with torch.inference_mode():
                    if self.causal:
                        if ids.shape[1] < 2:
                            continue
                        logits = self.model(input_ids=ids).logits[0, :-1].float()
                        target = ids[0, 1:]
                    else:
                        special = torch.tensor(self.tokenizer.get_special_tokens_mask(
                            ids[0].tolist(), already_has_special_tokens=True), dtype=torch.bool)
                        content = np.flatnonzero(~special.numpy())
                        if not len(content):
                            continue
                        k = max(1, int(round(mask_rate * len(content))))
                        pos = torch.as_tensor(np.sort(rng.choice(content, k, replace=False)), device=ids.device)
                        masked = ids.clone()
                        masked[0, pos] = self.tokenizer.mask_token_id
                        logits = self.model(input_ids=masked).logits[0, pos].float()
                        target = ids[0, pos]
                    loss = torch.nn.functional.cross_entropy(logits, target, reduction="sum")
                sums[i], counts[i] = float(loss), len(target)
        finally:
            if hook is not None:
                hook.remove()
        return sums, counts


_CAUSAL_CONFIGS = {"GPT2Config", "GPTNeoConfig", "GPTNeoXConfig", "GPTJConfig", "LlamaConfig", "MistralConfig",
                   "Qwen2Config", "OPTConfig", "BloomConfig", "OlmoConfig", "PhiConfig", "GemmaConfig",
                   "TransfoXLConfig", "XLNetConfig", "CTRLConfig", "FalconConfig"}


def lm_loss_rows(lm: LanguageModel, sentences: Sequence[Sequence[str]], layer: int, leace: Eraser, rand: Eraser,
                 model: str = "model", task: str = "task", train_set: str = "train", eval_set: str = "heldout",
                 seed: int = 0, n_boot: int = 1000, ci_seed: int = 0) -> list[ResultRow]:
    """LM-loss rows of erasing ``layer``: ``lm_loss_clean``, ``lm_loss_delta``, ``lm_loss_delta_random``,
    ``lm_loss_delta_vs_random`` (nats per predicted token; intervals over the held-out sentences)."""
    lm.check_layer(layer)
    clean, n = lm.sentence_losses(sentences, None, layer, seed)
    erased, _ = lm.sentence_losses(sentences, leace, layer, seed)
    randomly, _ = lm.sentence_losses(sentences, rand, layer, seed)
    keep = n > 0
    counts = resample_counts(int(keep.sum()), n_boot, ci_seed)
    key = dict(model=model, task=task, train_set=train_set, eval_set=eval_set, seed=seed)
    what = "masked-LM" if not lm.causal else "next-token"
    covers = (f"held-out sentences ({what} loss, nats per token; {int((~keep).sum())} without a predicted token "
              f"left out); LEACE rank {leace.rank} vs a random subspace of that rank (seed {seed})")
    values = [("lm_loss_clean", clean[keep]), ("lm_loss_delta", (erased - clean)[keep]),
              ("lm_loss_delta_random", (randomly - clean)[keep]), ("lm_loss_delta_vs_random", (erased - randomly)[keep])]
    return _interval_rows(key, layer, values, counts, n[keep], covers)


# ----- other tasks downstream of an erasure --------------------------------------------------------

@dataclass
class LayerView:
    """Some layers of a cache, or vectors extracted in memory: what ``task_inputs`` reads as a split's vectors."""

    vectors: object          # (len(layers), n_words, dim)
    layers: list[int]
    sentence_offsets: np.ndarray


def later_layers(cache, layer: int) -> LayerView:
    """The layers of a cache after ``layer`` (a view of its memory map, nothing read)."""
    pos = [i for i, l in enumerate(cache.layers) if l > layer]
    if not pos:
        raise ProbesError(f"no layer after {layer} in the cache (it holds layers {cache.layers})")
    if pos != list(range(pos[0], pos[-1] + 1)):
        raise ProbesError(f"the cache's layers {cache.layers} are not in increasing order")
    if hasattr(cache, "verify"):
        cache.verify()
    return LayerView(cache.vectors[pos[0]:pos[-1] + 1], [cache.layers[i] for i in pos],
                     np.asarray(cache.sentence_offsets))


def downstream_rows(variants: Mapping[str, tuple], erased_task: str, erased_layer: int, seed: int = 0,
                    model: str = "model", task: Optional[str] = None, train_set: str = "train", n_boot: int = 1000,
                    ci_seed: int = 0, device: str = "auto", **hyper) -> list[ResultRow]:
    """Another task's linear probe at the layers after an erasure, clean and with the erasure inside the model.

    ``variants``: {"clean" | "erased" | "erased_random": (train, tests, dev)}, each split a
    (vectors, TaskData) whose vectors hold the same later layers (``LayerView``); ``clean`` is
    required. Per variant a probe is trained on its own vectors (dev early stopping on its own dev
    vectors) and scored on its own test vectors, so each number is what a probe of that model reads.
    Rows (probe ``amnesic``, the probed layer as ``layer``): ``other_accuracy_<variant>:<erased_layer>``
    and the paired difference ``other_accuracy_delta_vs_random:<erased_layer>`` (LEACE minus random,
    on the same sentence resamples), word accuracy on each test set.
    """
    from probes.probing.api import task_inputs

    if "clean" not in variants:
        raise ProbesError("downstream_rows needs the clean vectors as a reference")
    layers = None
    correct: dict[str, dict] = {}
    first = None
    for name, (train, tests, dev) in variants.items():
        tr = task_inputs(*train)
        if train[1].Y is not None:
            raise ProbesError(f"task {train[1].name}: downstream accuracy needs one label per item")
        ids = list(tr.layers)
        if layers is None:
            layers, first = ids, (tr, train[1])
        elif ids != layers:
            raise ProbesError(f"the {name} vectors hold layers {ids}, the clean ones {layers}")
        classes = np.unique(tr.y)
        dv = task_inputs(*dev, classes=classes) if dev is not None else None
        est = LinearProbe(device=device, random_state=seed, **hyper).fit(
            tr.X, tr.y, None if dv is None else dv.X,
            None if dv is None else np.where(dv.y >= 0, classes[np.maximum(dv.y, 0)], -1), groups=tr.sent)
        for ev, split in tests.items():
            te = task_inputs(*split, classes=classes)
            pred = np.asarray(est.predict(te.X)).reshape(len(layers), -1)
            gold = np.where(te.y >= 0, classes[np.maximum(te.y, 0)], np.iinfo(np.int64).min)
            per_sent = np.stack([np.bincount(te.sent, weights=(p == gold), minlength=te.n_sentences) for p in pred], 1)
            den = np.bincount(te.sent, minlength=te.n_sentences).astype(float)
            correct.setdefault(ev, {})[name] = (per_sent, den, te.n_sentences)
    task = task or first[1].name
    rows = []
    covers = (f"test sentences; {erased_task} erased at layer {erased_layer} inside the model (LEACE, or a random "
              f"subspace of the same rank, seed {seed}), each variant's probe trained on its own vectors")
    for ev, by_variant in correct.items():
        n_sent = next(iter(by_variant.values()))[2]
        counts = resample_counts(n_sent, n_boot, ci_seed)
        den = next(iter(by_variant.values()))[1]
        values = [(f"other_accuracy_{name}:{erased_layer}", per_sent) for name, (per_sent, _, _) in by_variant.items()]
        if "erased" in by_variant and "erased_random" in by_variant:
            values.append((f"other_accuracy_delta_vs_random:{erased_layer}",
                           by_variant["erased"][0] - by_variant["erased_random"][0]))
        for metric, per_sent in values:
            point, reps = ratio_replicates(per_sent, den, counts)
            lo, hi = percentile_interval(reps)
            rows += [ResultRow(model, task, "amnesic", int(l), train_set, ev, seed, metric, float(point[m]),
                               float(lo[m]), float(hi[m]), covers) for m, l in enumerate(layers)]
    return rows
