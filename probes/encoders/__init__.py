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

import json
import os
from typing import Optional

from probes.encoders.base import WordEncoder
from probes.errors import ProbesError

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


def open_word_encoder(spec: str, **options) -> Optional[WordEncoder]:
    """The word-level encoder named by `spec` (e.g. 'elmo:DIR', a Transformer-XL directory), else None.

    Options: batch_size; random_init and seed (same architecture, freshly initialized weights);
    for Transformer-XL also mem_len (default: the checkpoint's) and carry_memory (default False:
    every sentence is read alone; True: sentences are consecutive segments sharing memory).
    """
    from probes.encoders.download import is_transfo_xl_hub_id

    # Named as given (like transformers models), not by a cache or snapshot path.
    options.setdefault("name", spec.rstrip("/"))
    if spec.startswith(ELMO_PREFIX):
        return _open_elmo(spec[len(ELMO_PREFIX):], options)
    if spec.startswith(TRANSFO_XL_PREFIX):
        return _open_transfo_xl(spec[len(TRANSFO_XL_PREFIX):], options)
    if os.path.isdir(spec):
        from probes.encoders.elmo import find_elmo_files

        if find_elmo_files(spec) is not None:
            return _open_elmo(spec, options)
        if _is_transfo_xl_dir(spec):
            return _open_transfo_xl(spec, options)
        return None
    if is_transfo_xl_hub_id(spec):
        return _open_transfo_xl(spec, options)
    return None
