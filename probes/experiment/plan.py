"""`probes run --plan`: what a study would do, read off the runner's job lists without doing any of it.

For every vector cache: found complete (nothing to extract), resumable, or to extract, and its disk
use (the file's size when it exists; else words x layers x dim x 2 bytes of a float16 cache, with
the layer count and size from the model's config). For every probe job: cached, to run, or waiting
for its caches. Nothing is written, no model is loaded, and no weight file is read: a model whose
fingerprint is not remembered yet is reported as not known until it is loaded once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from probes.extract.cache import read_meta

BYTES = {"float16": 2, "float32": 4}


@dataclass
class PlannedCache:
    """One vector cache of the plan."""

    name: str                    # model (and twin) on data set
    path: Path
    status: str                  # cached | to extract | resumable (k/n) | complete, unverified (only loading tells)
    words: int
    layers: Optional[int]        # kept layers (None: not known without loading the model)
    dim: Optional[int]
    disk_bytes: Optional[int]    # the cache's size: measured when it exists, else estimated
    measured: bool = False


@dataclass
class PlannedProbe:
    """One probe job of the plan."""

    name: str
    status: str                  # cached | to run | after extraction


@dataclass
class Plan:
    """A study's caches and probe jobs with what each would cost now."""

    caches: list[PlannedCache] = field(default_factory=list)
    probes: list[PlannedProbe] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The plan as text: one line per cache and per probe job, then the totals."""
        out = [f"vector caches ({len(self.caches)}):"]
        for c in self.caches:
            size = "size unknown" if c.disk_bytes is None else (
                f"{_mib(c.disk_bytes)} on disk" if c.measured else
                f"~{_mib(c.disk_bytes)} = {c.words} words x {c.layers} layers x {c.dim} dims x 2 bytes")
            out.append(f"  {c.status:<24} {c.name}: {size}  [{c.path}]")
        todo = [c for c in self.caches if c.status != "cached"]
        new = sum(c.disk_bytes or 0 for c in todo if not c.measured)
        unknown = sum(c.disk_bytes is None for c in todo)
        out.append(f"  {len(self.caches) - len(todo)} cached, {len(todo)} to extract"
                   + (f", about {_mib(new)} more on disk" if todo else "")
                   + (f" ({unknown} of unknown size)" if unknown else ""))
        out.append(f"probe jobs ({len(self.probes)}):")
        for p in self.probes:
            out.append(f"  {p.status:<24} {p.name}")
        counts = {s: sum(p.status == s for p in self.probes) for s in ("cached", "to run", "after extraction")}
        out.append("  " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
        return out


def _mib(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def model_shape(source: str) -> tuple[Optional[int], Optional[int]]:
    """(hidden states incl. layer 0, their size) from a model's config files, or (None, None)."""
    from probes.encoders import find_elmo_files, word_encoder_kind

    folder = Path(source.split(":", 1)[1] if word_encoder_kind(source) and ":" in source else source).expanduser()
    try:
        if word_encoder_kind(source) == "elmo":
            files = find_elmo_files(str(folder))
            opts = json.loads(Path(files[0]).read_text()) if files else {}
            lstm = opts.get("lstm", {})
            return lstm.get("n_layers", 2) + 1, 2 * lstm.get("projection_dim", 0) or None
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, TypeError, IndexError):
        return None, None
    cfg = cfg.get("text_config", cfg)
    layers = next((cfg[k] for k in ("num_hidden_layers", "n_layer", "num_layers") if isinstance(cfg.get(k), int)), None)
    dim = next((cfg[k] for k in ("hidden_size", "d_model", "n_embd", "dim") if isinstance(cfg.get(k), int)), None)
    return (layers + 1 if layers is not None else None), dim


def _cache_status(exp, model, key, ri: bool, draw: int, works) -> tuple[str, Optional[dict]]:
    from probes.extract.extractor import find_extracted

    out = works[0].out
    ds = exp.datasets[key]
    meta = read_meta(out)
    if meta is not None and meta.get("complete"):
        found = find_extracted(model.source, ds.sentences, out, layers=model.layers, pooling=model.pooling,
                               dtype=model.dtype, random_init=ri, seed=draw, multiword=model.multiword,
                               trust_remote_code=model.trust_remote_code,
                               quantization=None if ri else model.quantization, open_cache=False, read_weights=False)
        if found:
            return "cached", meta
        return "complete, unverified", meta  # made from other files, before quick keys, or a word encoder: loading tells
    if meta is not None and meta.get("n_sentences"):
        try:
            import numpy as np

            done = int(np.count_nonzero(np.load(out / "done.npy", mmap_mode="r")))
            return f"resumable ({done}/{meta['n_sentences']})", None
        except (OSError, ValueError):
            pass
    pieces = out.with_name(out.name + ".pieces")
    if pieces.is_dir():
        return f"resumable ({sum(1 for _ in pieces.iterdir())} shard pieces)", None
    return "to extract", None


def plan_study(exp) -> Plan:
    """The plan of an Experiment whose data sets are loaded (``exp.load_data()``); nothing is run or written."""
    from probes.extract.cache import VectorCache

    plan = Plan()
    for model, key, ri, draw in exp.extraction_caches():
        ds = exp.datasets[key]
        works = exp._extract_works(model, key, ri, draw)
        status, meta = _cache_status(exp, model, key, ri, draw, works)
        words = sum(len(s) for s in ds.sentences)
        n_states, dim = model_shape(model.source)
        layers = len(model.layers) if model.layers else n_states
        twin = f" random-init{f' draw {draw}' if draw else ''}" if ri else ""
        name = f"{model.name}{twin} on {ds.spec.name}"
        vectors = works[0].out / "vectors.npy"
        if meta is not None and vectors.is_file():
            layers, dim = len(meta.get("layers") or []) or layers, meta.get("dim") or dim
            plan.caches.append(PlannedCache(name, works[0].out, status, words, layers, dim, vectors.stat().st_size,
                                            measured=True))
            if status == "cached":  # its key, for the probe jobs' keys (opened read-only, nothing checked)
                exp.vectors[(model.name, key, ri, draw)] = VectorCache(works[0].out, meta)
            continue
        size = words * layers * dim * BYTES["float16"] if layers and dim else None
        plan.caches.append(PlannedCache(name, works[0].out, status, words, layers, dim, size))
    many = len(exp.cfg.models) > 1
    for model, task, kind in exp.probe_jobs():
        name = f"{model.name + ' ' if many else ''}{task.name} {kind}"
        try:
            path = exp.probe_path(model, task, kind)
        except KeyError:  # a cache of the job is not extracted yet: its key is not known
            plan.probes.append(PlannedProbe(name, "after extraction"))
            continue
        plan.probes.append(PlannedProbe(name, "cached" if path.exists() else "to run"))
    return plan
