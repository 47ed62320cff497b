"""How a transformers model's weights are loaded: their precision, their placement, their quantization.

``dtype`` (float32, bfloat16, float16) is passed to ``from_pretrained``, so that the weights are
read in that precision (a bfloat16 checkpoint of 7B parameters takes 14 GB, not 28 GB as float32),
and the modules a model keeps in float32 stay so. ``device_map`` ("auto", "balanced",
"balanced_low_0", "sequential", one device, or a table of module -> device) spreads a model that
does not fit one device over several GPUs, or GPUs and the CPU, through accelerate (the
``probes[big]`` extra); a model so placed is never moved with ``.to()``. ``quantization`` ("8bit",
"4bit": LLM.int8 and NF4 from bitsandbytes, the ``probes[quant]`` extra) needs a CUDA device.

What enters a vector cache's key: the dtype and the quantization (they change the vectors). Not the
placement: a device map changes where each layer runs, not what it computes, just as ``--device``
does not enter the key; it is recorded in the cache's meta.json and the study's manifest.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional, Union

from probes.errors import ProbesError

DTYPES = ("float32", "bfloat16", "float16")
DEVICE_MAP_NAMES = ("auto", "balanced", "balanced_low_0", "sequential")
QUANTIZATIONS = ("8bit", "4bit")
_DEVICE = re.compile(r"cpu|disk|mps|cuda(:\d+)?")
BIG_EXTRA = "pip install 'probes[big]' (or: pip install accelerate)"
QUANT_EXTRA = "pip install 'probes[quant]' (or: pip install bitsandbytes accelerate)"

DeviceMap = Union[str, dict, None]


def canonical_dtype(name: str) -> str:
    """float32 | bfloat16 | float16 for a dtype name or alias (fp32, bf16, fp16); anything else is refused."""
    from probes.device import resolve_dtype  # torch: imported only when a dtype is checked

    return str(resolve_dtype(name)).removeprefix("torch.")


def check_device_map(value: Any, where: str = "device_map") -> DeviceMap:
    """A valid device map (a name, one device, or {module: device}), or a ProbesError naming `where`."""
    if value is None:
        return None
    if isinstance(value, str):
        if value in DEVICE_MAP_NAMES or (_DEVICE.fullmatch(value) and value != "disk"):
            return value
        raise ProbesError(f"{where}: unknown device map {value!r}; expected one of {', '.join(DEVICE_MAP_NAMES)}, "
                          "a device (cpu, cuda:N) or a table of module name -> device")
    if isinstance(value, dict) and value:
        for module, device in value.items():
            ok = (isinstance(device, int) and not isinstance(device, bool) and device >= 0) or (
                isinstance(device, str) and bool(_DEVICE.fullmatch(device)))
            if not isinstance(module, str) or not ok:
                raise ProbesError(f"{where}: entry {module!r} = {device!r}: expected a module name mapped to a GPU "
                                  "number, cuda:N, cpu or disk")
        return dict(value)
    raise ProbesError(f"{where}: expected {', '.join(DEVICE_MAP_NAMES)}, a device, or a non-empty table of "
                      f"module name -> device, got {value!r}")


def parse_device_map(text: str) -> DeviceMap:
    """A --device-map argument: a name, a device, or a JSON object such as '{"": "cpu"}'."""
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ProbesError(f"--device-map: not a JSON object ({exc})") from None
        return check_device_map(value, "--device-map")
    return check_device_map(text, "--device-map")


def check_quantization(value: Any, where: str = "quantization") -> Optional[str]:
    """None, 8bit or 4bit; anything else is refused naming `where`."""
    if value is None or value in QUANTIZATIONS:
        return value
    raise ProbesError(f"{where}: unknown quantization {value!r}; expected {' or '.join(QUANTIZATIONS)}")


def require_accelerate(what: str) -> None:
    """Refuse clearly when accelerate, which places a model over devices, is not installed."""
    try:
        import accelerate  # noqa: F401
    except ImportError:
        raise ProbesError(f"{what} needs the accelerate package, which is not installed: {BIG_EXTRA}") from None


def quantization_config(quantization: str, dtype, device) -> Any:
    """The transformers BitsAndBytesConfig of 8bit / 4bit (NF4, computing in `dtype`); CUDA and bitsandbytes required."""
    import torch

    if not torch.cuda.is_available() or getattr(device, "type", "cuda") != "cuda":
        where = "this machine has no CUDA device" if not torch.cuda.is_available() else f"the device is {device}"
        raise ProbesError(f"quantization {quantization!r} loads weights with bitsandbytes, which runs on CUDA GPUs "
                          f"only, and {where}: load with dtype bfloat16 instead (half the float32 memory), or run "
                          "where a GPU is")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ProbesError(f"quantization {quantization!r} needs bitsandbytes, which is not installed: {QUANT_EXTRA}") from None
    require_accelerate(f"quantization {quantization!r}")
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)


def pretrained_kwargs(dtype, device, device_map: DeviceMap = None, quantization: Optional[str] = None) -> dict:
    """Keyword arguments of ``from_pretrained``: weights read in `dtype`, placed and quantized as asked."""
    import transformers
    from packaging.version import Version

    version = Version(transformers.__version__)
    # transformers 4.56 renamed torch_dtype to dtype; from 5.0 low_cpu_mem_usage is how it always loads.
    kwargs: dict = {"dtype" if version >= Version("4.56") else "torch_dtype": dtype}
    if version >= Version("5.0"):
        kwargs["low_cpu_mem_usage"] = True
    else:
        try:
            import accelerate  # noqa: F401  (transformers 4 loads without a float32 copy only through it)
            kwargs["low_cpu_mem_usage"] = True
        except ImportError:
            pass
    if quantization is not None:
        kwargs["quantization_config"] = quantization_config(quantization, dtype, device)
        if device_map is None:  # bitsandbytes weights are placed while they load; they cannot be moved after
            device_map = {"": device.index or 0}
    if device_map is not None:
        require_accelerate(f"device_map {device_map!r}")
        kwargs["device_map"] = device_map
        folder = offload_folder(device_map)
        if folder is not None:
            kwargs["offload_folder"] = folder
    return kwargs


def offload_folder(device_map: DeviceMap) -> Optional[str]:
    """A private folder for the weights a device map sends to "disk" (removed when the process ends), or None."""
    if not isinstance(device_map, dict) or "disk" not in device_map.values():
        return None
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="probes-offload-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
