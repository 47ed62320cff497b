"""Only the asked-for layers: hidden states taken from the model's blocks as the forward pass runs.

``output_hidden_states=True`` keeps every layer's (batch, length, dim) states until the forward
pass returns: 33 of them for a 32-layer model. Here a forward pre-hook on each block hands the
state that block reads (hidden state k is the input of the k-th block call; the last one is the
model's ``last_hidden_state``) to a callback, which pools it into words at once, so no layer is
kept; and once the highest asked-for layer is read, the pass stops: the blocks above it never run.

Which module list holds the blocks, and whether their inputs are exactly the states
``output_hidden_states`` returns, is found once per loaded model by running both on a probe batch
and comparing them bit for bit (``find_blocks``). Where no list passes, extraction keeps today's
way (all hidden states, then the asked-for subset), with the same vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from probes.errors import ProbesError

OnState = Callable[[int, torch.Tensor], None]


@dataclass
class BlockPlan:
    """Where a model's hidden states can be read: the inputs of calls to these blocks, in call order."""

    name: str                   # the module list, e.g. "layers" or "encoder.layer"
    blocks: list                # its modules (ALBERT calls one shared block for every layer)
    n_states: int               # hidden states: block calls + 1 (the last is last_hidden_state)
    seq_first: bool = False     # blocks read (length, batch, dim) (XLNet)


class _Stop(Exception):
    """Raised by a hook once the highest asked-for layer is read: the rest of the pass is not needed."""


def _block_input(args: tuple, kwargs: dict) -> Optional[torch.Tensor]:
    if args and torch.is_tensor(args[0]):
        return args[0]
    value = kwargs.get("hidden_states")
    return value if torch.is_tensor(value) else None


def _last_state(out) -> torch.Tensor:
    return out.last_hidden_state if getattr(out, "last_hidden_state", None) is not None else out[0]


def find_blocks(model, inputs: dict) -> tuple[Optional[BlockPlan], int, int]:
    """(plan, number of hidden states, their size): the plan is the module list whose block inputs
    equal ``output_hidden_states`` on `inputs` bit for bit, or None where no list does.

    `inputs` should be a batch of two or more rows longer than the batch, so that a (length, batch)
    layout cannot pass for (batch, length).
    """
    lists = [(name, list(mod)) for name, mod in model.named_modules()
             if isinstance(mod, torch.nn.ModuleList) and len(mod)]
    seen: dict[str, list] = {name: [] for name, _ in lists}
    handles = []
    for name, mods in lists:
        for mod in mods:
            def hook(_m, args, kwargs, name=name):
                seen[name].append(_block_input(args, kwargs))
            handles.append(mod.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        with torch.inference_mode():
            out = model(**inputs, output_hidden_states=True, return_dict=True)
    finally:
        for h in handles:
            h.remove()
    states = getattr(out, "hidden_states", None)
    if not states:
        raise ProbesError(f"{type(model).__name__} returned no hidden states: its layers cannot be extracted")
    n_states, dim = len(states), int(states[-1].shape[-1])
    if not torch.equal(_last_state(out), states[-1]):
        return None, n_states, dim
    for name, mods in lists:  # outermost first (named_modules order): ALBERT's groups before their layers
        got = seen[name]
        if len(got) != len(states) - 1 or any(x is None for x in got):
            continue
        for seq_first in (False, True):
            if all((x.transpose(0, 1) if seq_first else x).shape == s.shape
                   and torch.equal(x.transpose(0, 1) if seq_first else x, s) for x, s in zip(got, states)):
                return BlockPlan(name, mods, n_states, seq_first), n_states, dim
    return None, n_states, dim


def run_layers(model, inputs: dict, plan: BlockPlan, keep: list[int], on_state: OnState) -> None:
    """One forward pass handing each asked-for layer's (batch, length, dim) states to `on_state`, in order.

    Nothing of the other layers is kept, and the pass stops after the highest layer asked for
    (unless that is the last one, read from the model's output).
    """
    wanted = set(keep)
    top = max(keep)
    last = plan.n_states - 1
    calls = [0]

    def hook(_m, args, kwargs):
        i = calls[0]
        calls[0] += 1
        if i in wanted:
            x = _block_input(args, kwargs)
            on_state(i, x.transpose(0, 1) if plan.seq_first else x)
        if i == top:
            raise _Stop

    handles = [mod.register_forward_pre_hook(hook, with_kwargs=True) for mod in {id(m): m for m in plan.blocks}.values()]
    out = None
    try:
        with torch.inference_mode():
            out = model(**inputs, output_hidden_states=False, return_dict=True)
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    expected = top + 1 if top < last else last
    if calls[0] != expected:
        raise ProbesError(f"the model called its blocks ({plan.name}) {calls[0]} times in one pass, "
                          f"expected {expected}: its layers cannot be read this way")
    if top == last:
        on_state(last, _last_state(out))
