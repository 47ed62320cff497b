"""ELMo (Peters et al. 2018) in torch, reading the released options.json + weights.hdf5 as distributed.

The biLM: a character CNN over each word's UTF-8 bytes (max-pooled convolutions, highway layers,
a linear projection), then a stack of forward and backward LSTMs with cell clipping, a projection
of the hidden state (clipped) and residual connections between layers. The weight file keeps
TensorFlow's names and layouts (gate order i, j, f, o; forget bias +1 added at run time), which
this module reads directly.

Layers returned per word (the <S> and </S> positions the biLM reads are dropped):
  0: the character-CNN token vector, duplicated for both directions ([x; x], as ELMo does),
  l: the forward and backward outputs of LSTM layer l concatenated.

Every sentence starts from zero LSTM states: unlike AllenNLP's stateful `_ElmoBiLm`, which carries
states from one batch to the next, a word's vectors never depend on what was encoded before it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from probes.errors import ProbesError
from probes.fingerprint import remembered_sha256_files
from probes.encoders.elmo_chars import MAX_CHARS, N_CHAR_SYMBOLS, batch_char_ids
from probes.encoders import find_elmo_files  # defined there: a config check finds ELMo folders without torch


@dataclass
class ElmoOptions:
    """The fields of a released ELMo options.json."""

    filters: list            # [[width, n_filters], ...] of the character convolutions
    n_highway: int
    char_dim: int
    activation: str          # of the convolutions: 'relu' or 'tanh' (highways always use relu)
    max_chars: int
    projection_dim: int      # LSTM hidden state (after projection) and CNN output size
    cell_dim: int            # LSTM memory cell size
    n_layers: int
    cell_clip: Optional[float]
    proj_clip: Optional[float]
    use_skip_connections: bool

    @property
    def n_filters(self) -> int:
        return sum(int(n) for _, n in self.filters)

    @classmethod
    def from_file(cls, path: str) -> "ElmoOptions":
        """Parse options.json; missing or malformed fields raise ProbesError naming the file."""
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
            cnn, lstm = raw["char_cnn"], raw["lstm"]
            opts = cls(
                filters=[[int(w), int(n)] for w, n in cnn["filters"]],
                n_highway=int(cnn["n_highway"]),
                char_dim=int(cnn["embedding"]["dim"]),
                activation=str(cnn.get("activation", "relu")),
                max_chars=int(cnn.get("max_characters_per_token", MAX_CHARS)),
                projection_dim=int(lstm["projection_dim"]),
                cell_dim=int(lstm["dim"]),
                n_layers=int(lstm["n_layers"]),
                cell_clip=lstm.get("cell_clip"),
                proj_clip=lstm.get("proj_clip"),
                use_skip_connections=bool(lstm.get("use_skip_connections", False)),
            )
        except OSError as exc:
            raise ProbesError(f"{path}: cannot read the ELMo options ({exc})") from exc
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ProbesError(f"{path}: not an ELMo options file ({type(exc).__name__}: {exc})") from exc
        if opts.activation not in ("relu", "tanh"):
            raise ProbesError(f"{path}: unknown char_cnn activation {opts.activation!r} (relu or tanh)")
        return opts


class CharCNN(nn.Module):
    """Context-independent word vectors from characters: conv + max-pool, highways, projection."""

    def __init__(self, o: ElmoOptions):
        super().__init__()
        self.activation = torch.relu if o.activation == "relu" else torch.tanh
        # Row 0 stays zero: the id of "no character" in padded batches.
        self.char_embed = nn.Parameter(torch.zeros(N_CHAR_SYMBOLS + 1, o.char_dim))
        self.convs = nn.ModuleList(nn.Conv1d(o.char_dim, n, kernel_size=w) for w, n in o.filters)
        n = o.n_filters
        self.w_carry = nn.ParameterList(nn.Parameter(torch.zeros(n, n)) for _ in range(o.n_highway))
        self.b_carry = nn.ParameterList(nn.Parameter(torch.zeros(n)) for _ in range(o.n_highway))
        self.w_transform = nn.ParameterList(nn.Parameter(torch.zeros(n, n)) for _ in range(o.n_highway))
        self.b_transform = nn.ParameterList(nn.Parameter(torch.zeros(n)) for _ in range(o.n_highway))
        self.projection = nn.Linear(n, o.projection_dim)

    def highway(self, x: torch.Tensor) -> torch.Tensor:
        """bilm-tf's highway: g = sigmoid(x Wc + bc), out = g * relu(x Wt + bt) + (1 - g) * x."""
        for wc, bc, wt, bt in zip(self.w_carry, self.b_carry, self.w_transform, self.b_transform):
            gate = torch.sigmoid(x @ wc + bc)
            x = gate * torch.relu(x @ wt + bt) + (1.0 - gate) * x
        return x

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """char_ids (batch, words, max_chars) -> token vectors (batch, words, projection_dim)."""
        b, t, c = char_ids.shape
        emb = nn.functional.embedding(char_ids.reshape(b * t, c), self.char_embed).transpose(1, 2)
        pooled = [self.activation(conv(emb).max(dim=-1).values) for conv in self.convs]
        x = self.highway(torch.cat(pooled, dim=-1))
        return self.projection(x).view(b, t, -1)


class LstmWithProjection(nn.Module):
    """One direction of one biLM layer, weights in TensorFlow's layout (gates i, j, f, o)."""

    def __init__(self, input_dim: int, cell_dim: int, hidden_dim: int,
                 cell_clip: Optional[float], proj_clip: Optional[float]):
        super().__init__()
        self.input_dim, self.cell_dim, self.hidden_dim = input_dim, cell_dim, hidden_dim
        self.cell_clip, self.proj_clip = cell_clip, proj_clip
        self.W_0 = nn.Parameter(torch.zeros(input_dim + hidden_dim, 4 * cell_dim))
        self.B = nn.Parameter(torch.zeros(4 * cell_dim))
        self.W_P_0 = nn.Parameter(torch.zeros(cell_dim, hidden_dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, forward: bool) -> torch.Tensor:
        """x (batch, time, input_dim), mask (batch, time) -> outputs (batch, time, hidden_dim), 0 where masked.

        A masked position leaves the state untouched, so with right padding the backward direction
        of each sentence starts at its own last word from a zero state, as the original does.
        """
        b, t, _ = x.shape
        c = self.cell_dim
        w_in, w_rec = self.W_0[: self.input_dim], self.W_0[self.input_dim:]
        # TensorFlow's LSTMCell adds 1 to the forget gate bias at run time.
        bias = self.B.clone()
        bias[2 * c: 3 * c] += 1.0
        projected_inputs = x @ w_in
        h = x.new_zeros(b, self.hidden_dim)
        mem = x.new_zeros(b, c)
        out = x.new_zeros(b, t, self.hidden_dim)
        steps = range(t) if forward else range(t - 1, -1, -1)
        for step in steps:
            z = projected_inputs[:, step] + (h @ w_rec + bias)
            i, j, f, o = z.split(c, dim=-1)
            new_mem = torch.sigmoid(i) * torch.tanh(j) + torch.sigmoid(f) * mem
            if self.cell_clip:
                new_mem = new_mem.clamp(-self.cell_clip, self.cell_clip)
            new_h = (torch.sigmoid(o) * torch.tanh(new_mem)) @ self.W_P_0
            if self.proj_clip:
                new_h = new_h.clamp(-self.proj_clip, self.proj_clip)
            live = mask[:, step, None]
            mem = torch.where(live, new_mem, mem)
            h = torch.where(live, new_h, h)
            out[:, step] = torch.where(live, new_h, torch.zeros_like(new_h))
        return out


class ElmoBiLM(nn.Module):
    """The whole biLM: character CNN, then `n_layers` of forward and backward LSTMs."""

    def __init__(self, o: ElmoOptions):
        super().__init__()
        self.options = o
        self.char_cnn = CharCNN(o)
        p = o.projection_dim
        make = lambda: LstmWithProjection(p, o.cell_dim, p, o.cell_clip, o.proj_clip)  # noqa: E731
        self.forward_layers = nn.ModuleList(make() for _ in range(o.n_layers))
        self.backward_layers = nn.ModuleList(make() for _ in range(o.n_layers))

    def forward(self, char_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """char_ids (batch, time, max_chars) incl. <S>/</S>, mask (batch, time) -> layers, each (batch, time, 2p)."""
        tokens = self.char_cnn(char_ids)
        m = mask.unsqueeze(-1).to(tokens.dtype)
        layers = [torch.cat([tokens, tokens], dim=-1) * m]
        fwd, bwd = tokens, tokens
        for k, (fl, bl) in enumerate(zip(self.forward_layers, self.backward_layers)):
            new_fwd, new_bwd = fl(fwd, mask, forward=True), bl(bwd, mask, forward=False)
            if k > 0 and self.options.use_skip_connections:
                new_fwd, new_bwd = new_fwd + fwd, new_bwd + bwd
            fwd, bwd = new_fwd, new_bwd
            layers.append(torch.cat([fwd, bwd], dim=-1))
        return layers


def _dataset(h5, name: str, shape: tuple, path: str) -> torch.Tensor:
    if name not in h5:
        raise ProbesError(f"{path}: the ELMo weight file has no dataset {name!r}")
    value = h5[name][...]
    if tuple(value.shape) != tuple(shape):
        raise ProbesError(f"{path}: dataset {name!r} has shape {tuple(value.shape)}, options.json implies {tuple(shape)}")
    return torch.from_numpy(value.astype("float32"))


@torch.no_grad()
def load_elmo_weights(model: ElmoBiLM, path: str) -> None:
    """Copy the weights of a released ELMo weights.hdf5 (TensorFlow names) into `model`."""
    import h5py

    o = model.options
    n, p, c = o.n_filters, o.projection_dim, o.cell_dim
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ProbesError(f"{path}: cannot open the ELMo weight file ({exc})") from exc
    with h5:
        cnn = model.char_cnn
        cnn.char_embed[1:] = _dataset(h5, "char_embed", (N_CHAR_SYMBOLS, o.char_dim), path)
        for i, (width, num) in enumerate(o.filters):
            w = _dataset(h5, f"CNN/W_cnn_{i}", (1, width, o.char_dim, num), path)
            cnn.convs[i].weight.copy_(w[0].permute(2, 1, 0))  # (num, char_dim, width)
            cnn.convs[i].bias.copy_(_dataset(h5, f"CNN/b_cnn_{i}", (num,), path))
        for k in range(o.n_highway):
            g = f"CNN_high_{k}"
            cnn.w_carry[k].copy_(_dataset(h5, f"{g}/W_carry", (n, n), path))
            cnn.b_carry[k].copy_(_dataset(h5, f"{g}/b_carry", (n,), path))
            cnn.w_transform[k].copy_(_dataset(h5, f"{g}/W_transform", (n, n), path))
            cnn.b_transform[k].copy_(_dataset(h5, f"{g}/b_transform", (n,), path))
        cnn.projection.weight.copy_(_dataset(h5, "CNN_proj/W_proj", (n, p), path).T)
        cnn.projection.bias.copy_(_dataset(h5, "CNN_proj/b_proj", (p,), path))
        for d, layers in enumerate((model.forward_layers, model.backward_layers)):
            for k, lstm in enumerate(layers):
                g = f"RNN_{d}/RNN/MultiRNNCell/Cell{k}/LSTMCell"
                lstm.W_0.copy_(_dataset(h5, f"{g}/W_0", (p + p, 4 * c), path))
                lstm.B.copy_(_dataset(h5, f"{g}/B", (4 * c,), path))
                lstm.W_P_0.copy_(_dataset(h5, f"{g}/W_P_0", (c, p), path))


@torch.no_grad()
def random_init_elmo(model: ElmoBiLM, seed: int) -> None:
    """Fresh weights for the same architecture (a random-encoder baseline), reproducible from `seed`.

    Character embeddings ~ N(0, 1); every matrix ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases 0.
    """
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith("char_embed"):
            p.copy_(torch.randn(p.shape, generator=gen))
            p[0] = 0.0
        elif p.dim() == 1:
            p.zero_()
        else:
            fan_in = p.shape[0] if name.split(".")[-1] in ("W_0", "W_P_0") or ".w_" in name else p[0].numel()
            bound = 1.0 / fan_in ** 0.5
            p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)


class ElmoEncoder:
    """A `WordEncoder` over an ELMo biLM: (n_layers + 1) layers of 2 * projection_dim per word."""

    def __init__(self, model: ElmoBiLM, name: str, fingerprint: str, batch_size: int = 32):
        self.model = model.eval()
        self.name = name
        self.fingerprint = fingerprint
        self.num_layers = model.options.n_layers + 1
        self.dim = 2 * model.options.projection_dim
        self.batch_size = max(1, int(batch_size))

    @classmethod
    def from_dir(cls, path: str, **options) -> "ElmoEncoder":
        """Load options.json + weights.hdf5 from a directory (ProbesError when they are missing or wrong)."""
        files = find_elmo_files(path)
        if files is None:
            raise ProbesError(f"{path}: an ELMo model is a directory with options.json and weights.hdf5 "
                              "(the files of allennlp's elmo_*_options.json / elmo_*_weights.hdf5 release)")
        opts_path, weights_path = files
        random_init, seed = bool(options.pop("random_init", False)), int(options.pop("seed", 0))
        model = ElmoBiLM(ElmoOptions.from_file(opts_path))
        name = options.pop("name", None) or f"elmo:{os.path.basename(os.path.normpath(path))}"
        if random_init:
            random_init_elmo(model, seed)
            name += ":random-init"
        else:
            load_elmo_weights(model, weights_path)
        # A random-init twin never reads the weights (the loader adds the seed to the identity).
        files = [opts_path] if random_init else [opts_path, weights_path]
        return cls(model, name=name, fingerprint=remembered_sha256_files(files), **options)

    def to(self, device: torch.device) -> "ElmoEncoder":
        """Move the weights to a device."""
        self.model.to(device)
        return self

    @torch.no_grad()
    def encode(self, batch: list[list[str]]) -> list[torch.Tensor]:
        """Every layer for every word of each sentence: (num_layers, n_words, dim) float32 each."""
        device = self.model.char_cnn.char_embed.device
        results: dict[int, torch.Tensor] = {}
        # Sentences of similar length together: less padding, identical results (padding is masked).
        order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            ids, mask = batch_char_ids([batch[i] for i in chunk], self.model.options.max_chars)
            layers = torch.stack(self.model(ids.to(device), mask.to(device)))  # (L, b, time, dim)
            for b, i in enumerate(chunk):
                n = len(batch[i])
                results[i] = layers[:, b, 1:n + 1].float().cpu()
        return [results[i] for i in range(len(batch))]
