"""Model families that transformers does not serve (ELMo, Transformer-XL), run in torch.

`open_word_encoder` decides from the model spec alone whether the suite's own implementation
reads the model (it returns a `WordEncoder`) or transformers does (it returns None):
  elmo:DIR, or a directory with options.json + weights.hdf5          -> ELMo
  elmo:original | elmo:small | elmo:medium | elmo:original-5.5b      -> a released ELMo, downloaded
  transfo-xl:DIR, or a directory whose config.json says 'transfo-xl' -> Transformer-XL
  transfo-xl/transfo-xl-wt103 (hub id)                               -> Transformer-XL, downloaded
  anything else                                                      -> None (transformers)
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from probes.errors import ProbesError

if TYPE_CHECKING:  # base imports torch; `probes models` and `probes --help` start without it
    from probes.encoders.base import WordEncoder

ELMO_PREFIX = "elmo:"
TRANSFO_XL_PREFIX = "transfo-xl:"
_ELMO_OPTIONS = ("batch_size", "name", "random_init", "seed")
_TRANSFO_XL_OPTIONS = ("batch_size", "name", "random_init", "seed", "mem_len", "carry_memory")


def _is_transfo_xl_dir(path: str) -> bool:
    config = os.path.join(path, "config.json")
    if not os.path.isfile(config):
        return False
    try:
        with open(config, encoding="utf-8") as f:
            return json.load(f).get("model_type") == "transfo-xl"
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


HF_MODEL_FILES = ("a Hugging Face model folder needs config.json, plus its weights (model.safetensors or "
                  "pytorch_model.bin) and its tokenizer files (tokenizer.json, or the vocabulary files)")
_SEARCH_DEPTH = 2      # how far below a model folder without config.json to look for one
_SEARCH_ENTRIES = 200  # subfolders looked at per folder: a wrong --model may be a home directory


def find_elmo_files(path: str) -> Optional[tuple[str, str]]:
    """(options.json, weights.hdf5) in a directory: those names, or the one `*options.json` + `*weights.hdf5` pair."""
    if not os.path.isdir(path):
        return None
    opts, weights = os.path.join(path, "options.json"), os.path.join(path, "weights.hdf5")
    if os.path.isfile(opts) and os.path.isfile(weights):
        return opts, weights
    # The released files are named e.g. elmo_2x4096_512_2048cnn_2xhighway_{options.json,weights.hdf5}.
    opt_files = sorted(glob.glob(os.path.join(glob.escape(path), "*options.json")))
    weight_files = sorted(glob.glob(os.path.join(glob.escape(path), "*weights.hdf5")))
    if len(opt_files) == 1 and len(weight_files) == 1:
        return opt_files[0], weight_files[0]
    return None


def _holds_model(path: Path) -> bool:
    return (path / "config.json").is_file() or find_elmo_files(str(path)) is not None


def models_below(path: Path, depth: int = _SEARCH_DEPTH) -> list[Path]:
    """Folders up to ``depth`` levels below ``path`` that hold a model (config.json, or ELMo's files)."""
    found: list[Path] = []
    level = [path]
    for _ in range(depth):
        below: list[Path] = []
        for folder in level:
            try:
                subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:  # unreadable: nothing to suggest from there
                continue
            below += subs[:_SEARCH_ENTRIES]
        found += [p for p in below if _holds_model(p)]
        if found:  # the nearest level that holds a model is the one to suggest
            return found
        level = below
    return found


# What a tokenizer is read from: a fast tokenizer's tokenizer.json, tokenizer_config.json (also the
# whole tokenizer of byte/character-level models such as ByT5), or a vocabulary (vocab.txt, vocab.json +
# merges.txt, a SentencePiece model).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "merges.txt")
TOKENIZER_PATTERNS = ("*.model", "*.spm", "vocab.*")


def missing_tokenizer(path: Path) -> bool:
    """True when a transformers model folder holds no tokenizer file at all (see TOKENIZER_FILES)."""
    if any((path / name).is_file() for name in TOKENIZER_FILES):
        return False
    return not any(glob.glob(os.path.join(glob.escape(str(path)), pattern)) for pattern in TOKENIZER_PATTERNS)


def check_model_dir(spec: str) -> None:
    """Refuse a local model folder that holds no model, before transformers fails on it with a traceback.

    A folder is a model when it holds config.json (transformers, Transformer-XL) or ELMo's
    options.json + weights.hdf5. Otherwise the error says what a model folder needs and, when a
    subfolder one or two levels down holds a model (an unpacked archive, a hub cache's
    ``snapshots/<hash>``), names it. A transformers folder without any tokenizer file is refused
    too: transformers would build a tokenizer of special tokens only, and every word would be [UNK].
    """
    local = Path(spec).expanduser()
    if not local.is_dir():
        return
    if _holds_model(local):
        if (local / "config.json").is_file() and not _is_transfo_xl_dir(str(local)) and missing_tokenizer(local):
            raise ProbesError(f"model folder {spec} has config.json but no tokenizer files: it needs tokenizer.json, "
                              "or tokenizer_config.json with the model's vocabulary (vocab.txt; vocab.json + "
                              "merges.txt; a SentencePiece .model file); copy them from where the model came from "
                              "(save_pretrained of its tokenizer writes them)")
        return
    below = models_below(local)
    hint = ""
    if len(below) == 1:
        hint = f"; did you mean {below[0]}?"
    elif below:
        hint = (f"; did you mean one of its subfolders {', '.join(str(p) for p in below[:3])}"
                f"{' ...' if len(below) > 3 else ''}?")
    raise ProbesError(f"model folder {spec} has no config.json: {HF_MODEL_FILES}{hint}")


def _check_options(family: str, options: dict, allowed: tuple) -> dict:
    unknown = sorted(k for k in options if k not in allowed)
    if unknown:
        raise ProbesError(f"option(s) {', '.join(unknown)} do not apply to {family} (it takes {', '.join(allowed)})")
    return options


def _open_elmo(path: str, options: dict) -> WordEncoder:
    from probes.encoders.elmo import ElmoEncoder
    from probes.encoders.download import resolve_elmo

    options = _check_options("ELMo", options, _ELMO_OPTIONS)
    return ElmoEncoder.from_dir(resolve_elmo(path), **options)


def _open_transfo_xl(path: str, options: dict) -> WordEncoder:
    from probes.encoders.transfo_xl import TransfoXLEncoder
    from probes.encoders.download import resolve_transfo_xl

    options = _check_options("Transformer-XL", options, _TRANSFO_XL_OPTIONS)
    return TransfoXLEncoder.from_dir(resolve_transfo_xl(path), **options)


def word_encoder_kind(spec: str) -> Optional[str]:
    """'elmo' or 'transfo-xl' when the suite's own code reads `spec`, None when transformers does (nothing loaded)."""
    from probes.encoders.download import is_transfo_xl_hub_id

    if spec.startswith(ELMO_PREFIX):
        return "elmo"
    if spec.startswith(TRANSFO_XL_PREFIX):
        return "transfo-xl"
    if os.path.isdir(spec):
        if find_elmo_files(spec) is not None:
            return "elmo"
        return "transfo-xl" if _is_transfo_xl_dir(spec) else None
    return "transfo-xl" if is_transfo_xl_hub_id(spec) else None


def open_word_encoder(spec: str, **options) -> Optional[WordEncoder]:
    """The word-level encoder named by `spec` (e.g. 'elmo:DIR', a Transformer-XL directory), else None.

    Options: batch_size; random_init and seed (same architecture, freshly initialized weights);
    for Transformer-XL also mem_len (default: the checkpoint's) and carry_memory (default False:
    every sentence is read alone; True: sentences are consecutive segments sharing memory).
    """
    kind = word_encoder_kind(spec)
    if kind is None:
        return None
    # Named as given (like transformers models), not by a cache or snapshot path.
    options.setdefault("name", spec.rstrip("/"))
    opener = _open_elmo if kind == "elmo" else _open_transfo_xl
    for prefix in (ELMO_PREFIX, TRANSFO_XL_PREFIX):
        if spec.startswith(prefix):
            return opener(spec[len(prefix):], options)
    return opener(spec, options)
