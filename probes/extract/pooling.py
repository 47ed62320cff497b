"""Pooling subword vectors into word vectors: first, last or mean subword.

The default is ``mean``: every subword of a word contributes equally, so the word vector does not
depend on where a tokenizer happens to split it (Hewitt & Manning 2019 and most probing work
average; Tenney et al. 2019 use the first subword, available as ``first``). Pooling works on the
whole batch at once (``index_add`` over flat subword indices), so padding can never enter a mean:
only the subwords that the alignment names are summed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

# numpy and torch are imported in the functions: the CLI reads POOLINGS and must start without them.
if TYPE_CHECKING:
    import numpy as np
    import torch

POOLINGS = ("mean", "first", "last")
DEFAULT_POOLING = "mean"


def check_pooling(name: str) -> str:
    """Validate a pooling name."""
    from probes.errors import ProbesError

    if name not in POOLINGS:
        raise ProbesError(f"unknown pooling {name!r}: choose one of {', '.join(POOLINGS)}")
    return name


def select_pairs(tok: np.ndarray, method: str) -> np.ndarray:
    """Mask of the (subword, token) pairs a pooling uses; pairs are sorted by token, then subword."""
    import numpy as np

    if method == "mean" or len(tok) == 0:
        return np.ones(len(tok), dtype=bool)
    change = np.ones(len(tok), dtype=bool)
    if method == "first":
        change[1:] = tok[1:] != tok[:-1]
    else:  # last
        change[:-1] = tok[1:] != tok[:-1]
    return change


def pool_layer(h: torch.Tensor, sub: torch.Tensor, tok: torch.Tensor, n_tok: int, method: str) -> torch.Tensor:
    """Pool one layer's (N, D) flat subword states into (n_tok, D) float32 token vectors, on h's device.

    `sub`/`tok` are the pairs (flat subword index, token row), already filtered by select_pairs.
    Tokens without any pair get a zero vector.
    """
    import torch

    out = torch.zeros(n_tok, h.shape[-1], dtype=torch.float32, device=h.device)
    if sub.numel() == 0:
        return out
    # Only the aligned subwords are gathered: no copy of padding, no stack of whole layers.
    picked = h.index_select(0, sub)
    if picked.dtype != torch.float32:
        picked = picked.float()
    if method == "mean":
        out.index_add_(0, tok, picked)
        out /= torch.bincount(tok, minlength=n_tok).clamp_(min=1).to(out.dtype).view(-1, 1)
    else:
        out.index_copy_(0, tok, picked)
    return out


def pool(hidden: Sequence[torch.Tensor], sub: torch.Tensor, tok: torch.Tensor, n_tok: int, method: str) -> torch.Tensor:
    """Pool K layers of (N, D) flat subword states into (K, n_tok, D) float32 token vectors (see pool_layer)."""
    import torch

    return torch.stack([pool_layer(h, sub, tok, n_tok, method) for h in hidden])
