"""Dropout whose mask comes from the probe's own seeded generator.

``torch.nn.functional.dropout`` draws from torch's global generator, whose state depends on what
ran before in the process (an earlier probe, a model's initialisation): the same probe with the
same ``random_state`` then gave other weights in another job order, on a Ray worker or in a resumed
run. A mask drawn from a generator seeded by the probe makes a fit depend on its own seed only.
"""

from __future__ import annotations

import torch


def seeded_dropout(h: torch.Tensor, rate: float, gen: torch.Generator) -> torch.Tensor:
    """Inverted dropout of `h` at `rate`, its mask drawn from `gen` (a generator on h's device)."""
    keep = torch.rand(h.shape, generator=gen, device=h.device, dtype=h.dtype) >= rate
    return h * keep / (1.0 - rate)


def dropout_generator(seed: int, device) -> torch.Generator:
    """The generator of a probe's dropout masks, on the device its activations live on."""
    return torch.Generator(device=torch.device(device)).manual_seed(int(seed))
