"""Opening a model for extraction: a word-level encoder, or a transformers model and its tokenizer.

``--model`` is a Hugging Face hub id or a local model directory. Encoder-decoder models give their
encoder (T5 and its kin through their ``EncoderModel`` classes). ``trust_remote_code`` stays off
unless asked. ``random_init=True`` builds the same architecture from the same config with freshly
initialised weights (seeded): the "random-init model" baseline of probing papers.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from probes.encoders import HF_MODEL_FILES, check_model_dir, open_word_encoder, word_encoder_kind
from probes.errors import ProbesError
from probes.encoders.download import offline
from probes.extract.layer_capture import BlockPlan, find_blocks
from probes.extract.load_options import (DEVICE_MAP_NAMES, DeviceMap, offload_folder, pretrained_kwargs,
                                         require_accelerate)
from probes.fingerprint import hub_blob_name, remembered_sha256_files

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".hdf5")
# Models whose position ids start after the padding index, so two positions are unusable.
_PADDING_OFFSET_TYPES = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer",
                         "data2vec-text", "luke", "mpnet", "roberta-prelayernorm", "ernie_m"}
_ENCODER_CLASSES = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}
_NO_LIMIT = 100_000


@dataclass
class Template:
    """Special tokens a tokenizer puts around one sentence, and their token type ids."""

    prefix: list[int]
    suffix: list[int]
    prefix_types: list[int] = field(default_factory=list)
    content_type: int = 0
    suffix_types: list[int] = field(default_factory=list)

    @property
    def n_special(self) -> int:
        return len(self.prefix) + len(self.suffix)


@dataclass
class LoadedModel:
    """A model ready for extraction, with what the extractor and the cache key need to know."""

    name: str
    fingerprint: str
    num_layers: int          # including layer 0
    dim: int
    model: Any = None        # a transformers model, or None for word encoders
    tokenizer: Any = None
    word_encoder: Any = None
    template: Optional[Template] = None
    max_content: Optional[int] = None  # subwords per window, specials excluded; None = no limit
    pad_id: int = 0
    pad_left: bool = False
    use_token_types: bool = False
    use_position_ids: bool = False
    forward_options: dict = field(default_factory=dict)  # e.g. use_cache=False: no decoding cache
    causal: bool = False     # left-to-right: a subword sees only what precedes it
    tokenizer_fingerprint: str = ""
    device: torch.device = torch.device("cpu")  # where inputs go (a dispatched model's first device)
    dtype: torch.dtype = torch.float32
    quantization: Optional[str] = None  # 8bit | 4bit (bitsandbytes)
    device_map: Optional[dict] = None   # module -> device of a model placed by accelerate; never .to() it
    blocks: Optional[BlockPlan] = None  # where the asked-for layers are read during the pass (None: all kept)
    identity: Optional[dict] = None     # the files and options that made it, known without loading it

    @property
    def hidden_states_from(self) -> str:
        """How the extractor reads layers: from block hooks (only those asked for) or all hidden states."""
        return f"block inputs ({self.blocks.name})" if self.blocks else "output_hidden_states"


def _hub_error(spec: str, exc: Exception) -> ProbesError:
    return ProbesError(
        f"model {spec!r} is not a local directory and could not be fetched from the Hugging Face hub "
        f"(offline, or no such model: {type(exc).__name__}); download it where the hub is reachable "
        f"and pass its local directory, e.g. --model /path/to/{spec.split('/')[-1]}")


def _looks_like_path(spec: str) -> bool:
    # Hub ids are "name" or "owner/name"; anything else that is not a directory is a wrong path.
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or Path(spec).exists()


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host accepts a connection; saves the hub client's long retries when offline."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                      timeout=timeout):
            return True
    except OSError:
        return False


def _from_pretrained(loader, spec: str, **kwargs):
    """Call a transformers loader, turning 'cannot fetch' failures into one clear sentence."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar per weight file per load would drown our own progress lines
    local = Path(spec).expanduser()
    if local.is_dir():
        check_model_dir(spec)  # no config.json: say what a model folder holds, not transformers' traceback
        try:
            return loader(str(local), **kwargs)
        except OSError as exc:  # e.g. config.json without weights: transformers names the missing file
            said = (str(exc).strip().splitlines() or [type(exc).__name__])[0].removeprefix("Error ").rstrip(".")
            raise ProbesError(f"model folder {spec}: {said}; {HF_MODEL_FILES}") from None
    if _looks_like_path(spec):
        what = "is not a directory" if local.exists() else "does not exist"
        raise ProbesError(f"model directory {spec} {what}: pass a directory holding config.json and the weights, "
                          "or a Hugging Face hub id")
    try:
        return loader(spec, local_files_only=True, **kwargs)
    except (OSError, ValueError):
        pass
    if offline():
        raise _hub_error(spec, OSError("HF_HUB_OFFLINE is set"))
    if not _hub_reachable():
        raise _hub_error(spec, OSError("the hub cannot be reached"))
    import logging

    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # its retry warnings would bury the one sentence that matters
    try:
        return loader(spec, **kwargs)
    except (OSError, ValueError) as exc:
        raise _hub_error(spec, exc) from None
    finally:
        hub_log.setLevel(level)


def _model_class(config):
    import transformers

    name = _ENCODER_CLASSES.get(getattr(config, "model_type", ""))
    if name and hasattr(transformers, name):
        return getattr(transformers, name), False
    return transformers.AutoModel, bool(getattr(config, "is_encoder_decoder", False))


def _loaded_weight_files(local: Path) -> list[Path]:
    """The weight files transformers reads from a directory (safetensors first, as it does).

    A hub snapshot often also holds TF/Flax copies of the same weights; hashing those too would
    read several times the bytes that determine the vectors.
    """
    files = sorted(p for p in local.iterdir() if p.is_file())
    for pattern in ("model*.safetensors", "pytorch_model*.bin"):
        chosen = sorted(local.glob(pattern))
        if chosen:
            return chosen
    return [p for p in files if p.suffix in WEIGHT_SUFFIXES]


def _weight_files(local: Path) -> list[Path]:
    return [local / "config.json", *_loaded_weight_files(local)]


def _files_fingerprint(files: list[Path], memo: Optional[Path], read: bool = True) -> Optional[str]:
    """The files' identity: their hub blob names when all are hub cache links (nothing read), else
    their bytes' sha256, read once per state of the files and remembered in `memo` (``read=False``:
    None when not remembered)."""
    blobs = [hub_blob_name(f) for f in files]
    if files and all(blobs):
        names = json.dumps([[f.name, b] for f, b in zip(files, blobs)])
        return "hub-blobs:" + hashlib.sha256(names.encode()).hexdigest()
    digest = remembered_sha256_files(files, memo, read=read)
    return None if digest is None else "sha256:" + digest


def _weights_fingerprint(spec: str, config, model, memo: Optional[Path] = None) -> str:
    local = Path(spec).expanduser()
    if local.is_dir():
        return _files_fingerprint(_weight_files(local), memo)
    commit = getattr(config, "_commit_hash", None)
    if commit:
        return f"hub:{spec}@{commit}"
    # No revision known: hash the loaded weights themselves (slower, but never stale).
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode() + b"\0")
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return "state-sha256:" + h.hexdigest()


def _hub_snapshot(spec: str) -> Optional[Path]:
    """The hub cache's snapshot folder of a hub id, found without the network, or None."""
    if _looks_like_path(spec):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:  # not cached, or no huggingface_hub: the model is loaded to know what it is
        return None


def model_identity(spec: str, *, dtype: torch.dtype, quantization: Optional[str] = None, random_init: bool = False,
                   seed: int = 0, trust_remote_code: bool = False, max_length: Optional[int] = None,
                   memo: Optional[Path] = None, read: bool = True) -> Optional[dict]:
    """What a load of `spec` with these options depends on, from its files alone (the model is not loaded).

    Every file transformers reads (config, tokenizer, code, the weights actually loaded) by its
    remembered fingerprint, the options, and the transformers and tokenizers versions (which turn
    the same files into a tokenizer and a model). Equal identities give equal vectors, so that a
    re-run finds its caches without loading (or reading) a model. None for word encoders, for
    hub ids that are not in the local hub cache, and (``read=False``) where a fingerprint is not
    remembered yet.
    """
    from importlib import metadata

    if word_encoder_kind(spec) is not None:
        return None
    local = Path(spec).expanduser()
    folder = local if local.is_dir() else _hub_snapshot(spec)
    if folder is None or not (folder / "config.json").is_file():
        return None
    weights = set(_loaded_weight_files(folder))
    others = sorted(p for p in folder.iterdir() if p.is_file() and p not in weights and p.suffix not in WEIGHT_SUFFIXES)
    versions = {}
    for pkg in ("transformers", "tokenizers"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    files = _files_fingerprint(others, memo, read)
    # A random-init model reads no weights: its config (in "files") and seed make it.
    weights = None if random_init else _files_fingerprint(_weight_files(folder), memo, read)
    if files is None or (weights is None and not random_init):
        return None
    return {"files": files, "weights": weights,
            "dtype": str(dtype), "quantization": quantization, "random_init": random_init,
            "seed": seed if random_init else None, "trust_remote_code": trust_remote_code,
            "max_length": max_length, "versions": versions}


def _tokenizer_fingerprint(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    h = hashlib.sha256()
    h.update(backend.to_str().encode() if backend is not None else repr(tokenizer.get_vocab()).encode())
    h.update(f"{tokenizer.padding_side}|{tokenizer.pad_token_id}".encode())
    return h.hexdigest()


def _template(tokenizer) -> Template:
    probe = "Hello world"
    content = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True, return_token_type_ids=True)
    ids = list(full["input_ids"])
    types = list(full.get("token_type_ids") or [0] * len(ids))
    n = len(content)
    for i in range(len(ids) - n + 1):
        if ids[i:i + n] == list(content):
            return Template(ids[:i], ids[i + n:], types[:i], types[i] if n else 0, types[i + n:])
    raise ProbesError("cannot tell where this tokenizer puts its special tokens (the sentence's subwords are "
                      "not a contiguous run of its input); this tokenizer is not supported")


def _max_content(tokenizer, config, template: Template, max_length: Optional[int]) -> Optional[int]:
    limit = max_length
    if limit is None:
        tml = getattr(tokenizer, "model_max_length", None)
        if tml and tml < _NO_LIMIT:
            limit = int(tml)
    if limit is None:
        for attr in ("max_position_embeddings", "n_positions", "n_ctx"):
            value = getattr(config, attr, None)
            if isinstance(value, int) and 0 < value < _NO_LIMIT:
                limit = value
                if getattr(config, "model_type", "") in _PADDING_OFFSET_TYPES:
                    limit -= (getattr(config, "pad_token_id", 1) or 1) + 1
                break
    if limit is None:
        return None
    content = limit - template.n_special
    if content < 1:
        raise ProbesError(f"max length {limit} leaves no room for words after {template.n_special} special tokens")
    return content


def _random_model(cls, config, seed: int, dtype: torch.dtype, trust_remote_code: bool):
    """The architecture with freshly initialised weights, drawn on the CPU with `seed` (the same on any device)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if dtype == torch.float32:  # as before dtype was an option: the float32 draws are unchanged
            if hasattr(cls, "from_config"):  # Auto classes
                return cls.from_config(config, trust_remote_code=trust_remote_code)
            return cls(config)  # concrete classes (T5EncoderModel...) initialise their weights in the constructor
        # Drawn in the asked-for dtype: a bfloat16 random 7B model needs 14 GB of host memory, not 28.
        if hasattr(cls, "from_config"):
            return cls.from_config(config, trust_remote_code=trust_remote_code, dtype=dtype)
        return cls._from_config(config, dtype=dtype)


def _dispatch(model, device_map: DeviceMap, dtype: torch.dtype):
    """Place a model built in memory (the random-init twin) over devices as `device_map` says, with accelerate."""
    require_accelerate(f"device_map {device_map!r}")
    from accelerate import dispatch_model, infer_auto_device_map

    if isinstance(device_map, str):
        if device_map in DEVICE_MAP_NAMES:
            device_map = infer_auto_device_map(model, no_split_module_classes=model._no_split_modules or [], dtype=dtype)
        else:
            device_map = {"": device_map}
    model = dispatch_model(model, device_map=device_map, offload_dir=offload_folder(device_map))
    model.hf_device_map = device_map
    return model


def _input_device(model, fallback: torch.device) -> torch.device:
    """Where a dispatched model takes its inputs: its input embeddings' execution device."""
    emb = model.get_input_embeddings()
    hook = getattr(emb, "_hf_hook", None)
    device = getattr(hook, "execution_device", None)
    if device is None:
        device = next((p.device for p in emb.parameters() if p.device.type != "meta"), fallback)
    return torch.device(f"cuda:{device}" if isinstance(device, int) else device)


def _json_device_map(device_map) -> Optional[dict]:
    return None if device_map is None else {str(k): str(v) for k, v in dict(device_map).items()}


def load_model(spec: str, *, device: torch.device, dtype: torch.dtype = torch.float32, random_init: bool = False,
               seed: int = 0, trust_remote_code: bool = False, max_length: Optional[int] = None,
               device_map: DeviceMap = None, quantization: Optional[str] = None,
               fingerprint_memo: Optional[Path] = None) -> LoadedModel:
    """Open `spec` (word encoder, local directory or hub id) on a device, ready for extraction.

    Weights are read in `dtype`; with `device_map` (accelerate) they are placed over devices as
    they load, and with `quantization` ("8bit", "4bit"; CUDA only) quantized by bitsandbytes (see
    ``probes.extract.load_options``). Weight files are hashed once per state of the files
    (`fingerprint_memo`, default ``$PROBES_CACHE/fingerprints.json``).
    """
    if word_encoder_kind(spec) is not None:
        asked = [what for what, on in (("dtype " + str(dtype).removeprefix("torch."), dtype != torch.float32),
                                       (f"device_map {device_map!r}", device_map is not None),
                                       (f"quantization {quantization!r}", quantization is not None)) if on]
        if asked:
            raise ProbesError(f"{spec}: {', '.join(asked)} applies to transformers models only; the suite's ELMo and "
                              "Transformer-XL run in float32 on one device")
    encoder = open_word_encoder(spec, random_init=random_init, seed=seed)
    if encoder is not None:
        encoder = encoder.to(device)
        fingerprint = encoder.fingerprint + (f"|random-init:{seed}" if random_init else "")
        return LoadedModel(name=encoder.name, fingerprint=fingerprint, num_layers=encoder.num_layers,
                           dim=encoder.dim, word_encoder=encoder, device=device, dtype=torch.float32)
    if random_init and quantization is not None:
        raise ProbesError(f"{spec}: quantization {quantization!r} applies to loading a checkpoint; the random-init "
                          "baseline builds its weights in memory: leave quantization unset for it")

    import transformers

    config = _from_pretrained(transformers.AutoConfig.from_pretrained, spec, trust_remote_code=trust_remote_code)
    tokenizer = _from_pretrained(transformers.AutoTokenizer.from_pretrained, spec,
                                 trust_remote_code=trust_remote_code)
    if not getattr(tokenizer, "is_fast", False):
        raise ProbesError(f"{spec}: its tokenizer has no fast (Rust) version, so it gives no character offsets; "
                          "word alignment needs them")
    cls, take_encoder = _model_class(config)
    name = spec.rstrip("/")
    if random_init:
        model = _random_model(cls, config, seed, dtype, trust_remote_code)
        config_hash = hashlib.sha256(config.to_json_string(use_diff=False).encode()).hexdigest()
        fingerprint = f"random-init:{seed}:config:{config_hash}"
        name += ":random-init"
        if device_map is not None:
            model = _dispatch(model.eval(), device_map, dtype)
    else:
        kwargs = pretrained_kwargs(dtype, device, device_map, quantization)
        model = _from_pretrained(cls.from_pretrained, spec, trust_remote_code=trust_remote_code, **kwargs)
        fingerprint = _weights_fingerprint(spec, config, model, fingerprint_memo)
    placed = None
    if device_map is not None or quantization is not None:
        # Placed while loading (transformers records a map only when it spans several devices).
        placed = getattr(model, "hf_device_map", None) or {"": str(next(model.parameters()).device)}
    if take_encoder:
        model = model.get_encoder()
    if placed is None:
        # Weights are in `dtype` already (read or drawn so); a cast here would also round the buffers a
        # model keeps in float32 (rotary frequencies), unlike the same model placed by a device map.
        model = model.to(device)
    else:  # moving a model that accelerate placed would undo its placement: never .to() it
        device = _input_device(model, device)
    model = model.eval()

    template = _template(tokenizer)
    params = inspect.signature(model.forward).parameters
    pad_id = tokenizer.pad_token_id
    if pad_id is None:  # GPT-2 and kin have no padding token; padded positions are masked anyway
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    loaded = LoadedModel(
        name=name, fingerprint=fingerprint, num_layers=0, dim=0, model=model, tokenizer=tokenizer,
        template=template, max_content=_max_content(tokenizer, config, template, max_length), pad_id=int(pad_id),
        pad_left=tokenizer.padding_side == "left",
        use_token_types="token_type_ids" in params and "token_type_ids" in tokenizer.model_input_names,
        use_position_ids="position_ids" in params,
        forward_options={k: False for k in ("use_cache", "use_mems") if k in params},
        tokenizer_fingerprint=_tokenizer_fingerprint(tokenizer),
        device=device, dtype=dtype, quantization=quantization, device_map=_json_device_map(placed))
    # One small forward pass tells the layer count and size, and where each layer can be read.
    content = list(tokenizer("Hello world, this is a test", add_special_tokens=False)["input_ids"])[:6] or [pad_id]
    content += [pad_id] * (4 - len(content))  # rows longer than the batch of 2: (length, batch) cannot pass for (batch, length)
    ids = torch.tensor([template.prefix + content + template.suffix,
                        template.prefix + content[::-1] + template.suffix], device=device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), **loaded.forward_options}
    loaded.blocks, loaded.num_layers, loaded.dim = find_blocks(model, inputs)
    loaded.causal = _is_causal(model, tokenizer, template, device)
    loaded.identity = model_identity(spec, dtype=dtype, quantization=quantization, random_init=random_init, seed=seed,
                                     trust_remote_code=trust_remote_code, max_length=max_length, memo=fingerprint_memo)
    return loaded


def _is_causal(model, tokenizer, template: Template, device: torch.device) -> bool:
    """Whether the first subword's top state ignores a change to the last one (a left-to-right model)."""
    content = list(tokenizer("Hello world again", add_special_tokens=False)["input_ids"])[:3]
    if len(content) < 2:
        return False
    other = (content[-1] + 1) % max(len(tokenizer), 2)
    states = []
    for last in (content[-1], other):
        ids = torch.tensor([template.prefix + content[:-1] + [last] + template.suffix], device=device)
        with torch.inference_mode():
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
        states.append(out.hidden_states[-1][0, len(template.prefix)].float())
    return bool(torch.allclose(states[0], states[1], atol=1e-6, rtol=1e-5))
