"""The work of a study's jobs as plain records and module-level functions, which any executor can ship.

An extraction job extracts one cache, or one sentence shard of a long data set into its piece
(``probes.extract.shards``); a probe job fits one (model, task, probe kind) and writes its rows.
The functions run unchanged in the study's own process, in a process per GPU and on Ray workers
(``probes.experiment.executors``), which is why every executor gives the same results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from probes.errors import ProbesError
from probes.experiment.config import AmnesicSpec, ModelSpec
from probes.experiment.executors import JobResult
from probes.progress import warn
from probes.records import RESULT_COLUMNS, Sentence

_MODELS: dict = {}  # this process's one loaded model for extraction: (name, source, random-init, draw, device) -> it


@dataclass
class ExtractWork:
    """One extraction job: a model's vectors of a data set, or of one shard of it (``span``)."""

    model: ModelSpec
    random_init: bool
    draw: int                      # the random-init model's seed
    device: str                    # the study's device setting, resolved where the job runs
    sentences: list[Sentence]      # the shard's sentences (the whole data set's when not sharded)
    out: Path                      # the data set's cache
    span: Optional[tuple[int, int]] = None   # this shard's sentences [start, stop) of the data set
    whole: Optional[tuple[str, int]] = None  # the data set's (fingerprint, split words): its cache's key
    chunk_size: int = 1024

    @property
    def n_words(self) -> int:
        """Words to extract: the job's weight in the progress estimate."""
        return sum(len(s) for s in self.sentences)

    @property
    def target(self) -> Path:
        """The directory this job writes: the cache, or the shard's piece of it."""
        from probes.extract.shards import piece_path

        return self.out if self.span is None else piece_path(self.out, *self.span)


@dataclass
class Extracted:
    """What an extraction job made: the directory (a cache or a piece) and the extractor's summary."""

    path: Path
    summary: Any = None            # ExtractSummary; None when the whole cache was found complete
    whole_found: bool = False      # a shard's job found the data set's cache finished: nothing extracted


def load_extraction_model(model: ModelSpec, device: str, random_init: bool, draw: int):
    """Open a study's model for extraction on `device` (resolved in the process that runs the job),
    its weights in the entry's dtype, placement and quantization (probes.extract.load_options)."""
    from probes.device import resolve_device, resolve_dtype
    from probes.extract.loading import load_model

    return load_model(model.source, device=resolve_device(device), random_init=random_init, seed=draw,
                      trust_remote_code=model.trust_remote_code, dtype=resolve_dtype(model.dtype),
                      device_map=model.device_map, quantization=twin_quantization(model, random_init))


def twin_quantization(model: ModelSpec, random_init: bool):
    """The quantization a load uses: the entry's, except for the random-init twin, whose weights are
    drawn in memory in the entry's dtype (there is no checkpoint to quantize while loading)."""
    return None if random_init else model.quantization


def extraction_options(model: ModelSpec) -> dict:
    """The `extract` options a study's model entry sets."""
    return {"layers": model.layers, "pooling": model.pooling, "batch_size": model.batch_size,
            "multiword": model.multiword}


def free_models() -> None:
    """Drop this process's loaded model (the next extraction job loads its own), and its device memory."""
    from probes.device import release_memory

    _MODELS.clear()
    release_memory()


def run_extraction(work: ExtractWork) -> JobResult:
    """Extract one job's sentences into its directory, keeping the model loaded for the next job.

    A shard first checks whether the whole data set's cache is finished with the key it would have
    (its pieces were joined and removed by an earlier run): then nothing is extracted.
    """
    from probes.extract.extractor import cache_identity, extract, find_extracted
    from probes.extract.shards import finished_cache

    model = work.model
    # Made already from the same files and options: found without loading the model (or reading its weights).
    found = find_extracted(model.source, work.sentences, work.out, corpus=work.whole, random_init=work.random_init,
                           seed=work.draw, dtype=model.dtype, quantization=twin_quantization(model, work.random_init),
                           trust_remote_code=model.trust_remote_code, layers=model.layers, pooling=model.pooling,
                           multiword=model.multiword)
    if found is not None:
        return JobResult(Extracted(work.out, None if work.span else found.summary, whole_found=work.span is not None),
                         reused=True)
    key = (work.model.name, work.model.source, work.random_init, work.draw, work.device)
    if key not in _MODELS:
        free_models()  # one model at a time: the previous one's weights are freed before the next loads
        _MODELS[key] = load_extraction_model(work.model, work.device, work.random_init, work.draw)
    loaded = _MODELS[key]
    options = extraction_options(work.model)
    if work.span is not None:
        whole_key, _ = cache_identity(loaded, *work.whole, layers=options["layers"], pooling=options["pooling"],
                                      cache_dtype=options.get("cache_dtype", "float16"))
        if finished_cache(work.out, whole_key) is not None:
            return JobResult(Extracted(work.out, whole_found=True), reused=True)
    # The extractor's own bar is off: one tqdm bar per cache left a stack of bars (blank lines
    # when not on a terminal); the stage's job lines and heartbeat say the same in one place.
    cache = extract(loaded, work.sentences, work.target, device=work.device, progress=False,
                    chunk_size=work.chunk_size, **options)
    s = cache.summary
    note = f"{len(work.sentences)} sentences, {work.n_words} words"
    if s is not None and s.status == "resumed":
        note += f", resumed from {s.resumed_from}"
    return JobResult(Extracted(cache.path, s), reused=s is not None and s.status == "complete", note=note)


@dataclass
class AmnesicWork:
    """What amnesic probing of one model needs besides the task's vectors and labels."""

    spec: AmnesicSpec
    source: str                    # the model, for its LM loss with a layer erased
    heldout: str                   # the test set the LM loss is measured on
    sentences: list[list[str]]     # its words
    downstream: Any = None         # beyond_jobs.Downstream: the other tasks probed at later layers
    notes: list = field(default_factory=list)  # what the runner found not measurable (other tasks)


@dataclass
class ProbeWork:
    """One probe job: a probe kind on a task's caches; its rows are written to ``path``."""

    kind: str
    path: Path
    train: Any                     # VectorCache of the training set (pickled as its path, see VectorCache)
    tests: dict
    dev: Any = None
    random_init: Any = None        # the random-init twin's caches, as run_probe takes them
    common: Optional[dict] = None  # seeds, model, task, train_set, n_boot, device
    majority: bool = True
    rank: int = 64
    options: Optional[dict] = None
    amnesic: Optional[AmnesicWork] = None
    baseline: Any = None  # the conditional kind's: "layer0", "previous" or another model's caches (name, layer, train, tests, dev)


def cached_rows(path: Path) -> JobResult:
    """A probe job's rows found in the cache, with the notes it made (said again)."""
    from probes.experiment.beyond_jobs import read_notes

    notes = read_notes(path)
    for note in notes:
        warn(f"               {note}")
    return JobResult(pd.read_csv(path), reused=True, notes=notes)


def run_probe_job(work: ProbeWork, data: tuple) -> JobResult:
    """Fit one probe job on `data` (the task's train, dev, tests and control TaskData) and write its rows.

    One study computes a job at a time: another one sharing the cache waits, then reuses its rows.
    """
    from filelock import FileLock, Timeout

    path = work.path
    if path.exists():
        return cached_rows(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path.with_suffix(".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        warn(f"               {path.name}: another study is computing this job; waiting for it")
        lock.acquire()
    try:
        if path.exists():
            return cached_rows(path)
        rows, notes = _probe_rows(work, data)
        from probes.experiment.beyond_jobs import write_notes

        write_notes(path, notes)  # before the rows, whose file marks the job done
        df = pd.DataFrame([r.as_dict() for r in rows], columns=RESULT_COLUMNS)
        tmp = path.with_suffix(".tmp")
        df.to_csv(tmp, index=False)
        tmp.replace(path)
        return JobResult(df, notes=notes)
    finally:
        lock.release()


def _probe_rows(work: ProbeWork, data: tuple) -> tuple[list, list[str]]:
    from probes.experiment.runner import run_probe

    train, dev, tests, control = data
    tr = (work.train, train)
    te = {name: (cache, tests[name]) for name, cache in work.tests.items()}
    dv = (work.dev, dev) if work.dev is not None else None
    if work.kind == "amnesic":
        return amnesic_rows(work.amnesic, tr, te, dv, work.common)
    if work.kind == "neurons":  # its ranking profile is kept beside the rows, for the report
        from probes.experiment.beyond_jobs import neuron_job_rows

        return neuron_job_rows(tr, te, dv, work.common, work.options or {}, work.path), []
    rows = run_probe(work.kind, tr, te, dv, control=control, random_init=work.random_init, majority=work.majority,
                     rank=work.rank, options=work.options, baseline=work.baseline, **work.common)
    return rows, []


def amnesic_rows(work: AmnesicWork, tr, te, dv, common: dict) -> tuple[list, list[str]]:
    """Amnesic probing of one model: per erased layer, the probe before/after LEACE and a random
    erasure of the same rank, and the model's own LM loss on the first test set with the layer erased.
    Returns the rows and what was not measured (and why)."""
    from probes.device import resolve_device
    from probes.probing.amnesic import LanguageModel, erased_probe_rows, lm_loss_rows

    from probes.experiment.beyond_jobs import downstream_rows, load_for_erasure

    seed = common["seeds"][0]
    args = {k: common[k] for k in ("model", "task", "train_set", "n_boot", "device")}
    lm, rows, notes = None, [], list(work.notes)
    down = work.downstream
    loaded = load_for_erasure(down) if down is not None and down.tasks else None
    if work.spec.lm_loss:
        try:
            lm = LanguageModel.load(work.source, device=str(resolve_device(common["device"])))
        except ProbesError as exc:  # e.g. a checkpoint saved without its LM head: say so, probe anyway
            notes.append(f"{common['model']}: amnesic LM loss not measured: {exc}")
            warn(f"               {notes[-1]}")
    for layer in work.spec.layers:
        r, leace, rand = erased_probe_rows(tr, te, layer, dv, seed=seed, **args)
        rows += r
        if lm is not None:
            rows += lm_loss_rows(lm, work.sentences, layer, leace, rand, eval_set=work.heldout, seed=seed,
                                 **{k: args[k] for k in ("model", "task", "train_set", "n_boot")})
        if loaded is not None:  # (c): the other tasks at the later layers, the erasure inside the model
            r, n = downstream_rows(down, layer, leace, rand, common["task"], common, loaded)
            rows += r
            notes += n
    return rows, notes
