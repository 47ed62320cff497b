"""Choosing the torch device and dtype: CUDA when present, the CPU otherwise."""

from __future__ import annotations

import torch

from probes.errors import ProbesError

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
           "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def resolve_device(name: str = "auto") -> torch.device:
    """Map 'auto' | 'cpu' | 'cuda' | 'cuda:N' to a torch.device, CUDA first under 'auto'."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ProbesError(f"--device {name} was asked for, but no CUDA device is available; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ProbesError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from exc


def fast_bf16(device: torch.device) -> bool:
    """Whether bfloat16 GEMMs run natively (faster than float32) on this CPU device."""
    return device.type == "cpu" and getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()


def resolve_dtype(name: str = "float32") -> torch.dtype:
    """Map a dtype name (float32, float16, bfloat16) to a torch dtype."""
    try:
        return _DTYPES[name]
    except KeyError:
        raise ProbesError(f"unknown dtype {name!r}: choose one of {', '.join(sorted(_DTYPES))}") from None


def release_memory() -> None:
    """Give freed models' memory back: collect reference cycles (accelerate's hooks hold some), empty CUDA's cache."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
