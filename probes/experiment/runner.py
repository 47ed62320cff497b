"""`probes run`: one config -> extraction -> probes -> analysis -> report, resumable at every stage."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from probes import __version__
from probes.errors import ProbesError
from probes.experiment.config import DataSpec, ExperimentConfig, ModelSpec, TaskSpec, conditional_model
from probes.experiment.datasets import Dataset, load_dataset
from probes.experiment.executors import Job, LocalExecutor, make_executor
from probes.extract.cache import VectorCache, write_json_atomic
from probes.fingerprint import sha256_file
from probes.records import RESULT_COLUMNS, ResultRow
from probes.paths import inside
from probes.progress import Progress

CLASSIFIER_KINDS = ("linear", "mlp", "mix", "cumulative")
STRUCTURAL_TASK_KINDS = ("distance", "depth")


def _hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:20]


def default_cache_dir() -> Path:
    """Where vectors and probe results are cached across runs: $PROBES_CACHE or ~/.cache/probes."""
    import os

    return Path(os.environ.get("PROBES_CACHE", Path.home() / ".cache" / "probes"))


@dataclass
class StageTimer:
    """Seconds spent per stage, for the manifest and the closing summary."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, t0: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0


@dataclass
class RunOutcome:
    """What a run produced: the output directory, the results and what was recomputed."""

    out: Path
    results: pd.DataFrame
    extracted: int = 0          # caches computed in this run (0 on a full resume)
    probed: int = 0             # probe jobs computed in this run
    reused: int = 0             # probe jobs taken from the cache
    shards: int = 0             # shards of long data sets extracted in this run
    report: Optional[Path] = None


def _spec_key(spec: DataSpec) -> tuple:
    return (spec.source, spec.first, spec.last, spec.max_sentences, spec.lang, spec.trees, spec.format, spec.split,
            spec.skip_invalid)


class Experiment:
    """Runs one ExperimentConfig; all heavy intermediate results live under the cache directory."""

    def __init__(self, cfg: ExperimentConfig, out: Path, *, cache_dir: Optional[Path] = None,
                 progress: bool | Progress = True, executor=None, shard_sentences: Optional[int] = None):
        from probes.extract.shards import DEFAULT_SHARD, chunk_for

        self.cfg = cfg
        self.out = Path(out)
        # Absolute: the jobs may run in other processes or on other machines, in other working directories.
        self.cache = Path(cache_dir or cfg.cache_dir or default_cache_dir()).expanduser().absolute()
        # progress=False: warnings only (a rebuilt cache, a wait for another study), no stage lines.
        self.progress = progress if isinstance(progress, Progress) else Progress(enabled=bool(progress))
        self.timer = StageTimer()
        self.datasets: dict[tuple, Dataset] = {}
        self.vectors: dict[tuple, object] = {}
        # Where the jobs run (probes.experiment.executors); long data sets are cut into sentence shards
        # when asked, or by default where extraction jobs run side by side.
        self.executor = executor or make_executor("local", device=cfg.device)
        shard = cfg.shard_sentences if shard_sentences is None else shard_sentences
        self.shard_sentences = (DEFAULT_SHARD if self.executor.parallel_extraction else 0) if shard is None else shard
        self.chunk_size = chunk_for(self.shard_sentences)
        self._built: dict[int, tuple] = {}  # id(TaskSpec) -> TaskData of its sets, shared by its probe kinds
        self.task_notes: dict[str, list[tuple[str, str]]] = {}  # task -> (data set, note) from the builders
        self.skipped_jobs: list[str] = []  # probe kinds that do not apply to a task, and why
        self.outcome = RunOutcome(self.out, pd.DataFrame(columns=RESULT_COLUMNS))

    # ---- stage 1: data -------------------------------------------------------------------
    def load_data(self) -> None:
        """Read every data set named by the config once (shared by tasks)."""
        t0 = time.perf_counter()
        say = self.progress.say
        specs = {}
        for task in self.cfg.tasks:
            for spec in [task.train, task.dev, *task.test]:
                if spec is not None:
                    specs.setdefault(_spec_key(spec), spec)
        with self.progress.stage("[1/4 data]"):
            for key, spec in specs.items():
                self.progress.detail(f"reading {spec.name}")
                ds = load_dataset(spec)
                if not ds.sentences:
                    raise ProbesError(f"{spec.describe()}: no sentences selected")
                self.datasets[key] = ds
            n_s = sum(len(d.sentences) for d in self.datasets.values())
            say(f"[1/4 data]     {len(self.datasets)} data sets, {n_s} sentences")
            for ds in self.datasets.values():
                for note in ds.notes:
                    say(f"               {ds.spec.name}: {note}")
                if ds.skipped:
                    say(f"               {ds.spec.name}: {len(ds.skipped)} invalid sentence(s) skipped (listed above)")
            # Tasks are built before any model loads: a task that cannot be built fails in seconds.
            for task in self.cfg.tasks:
                self.progress.detail(f"building task {task.name}")
                self._task_data(task)
            for task in self.cfg.tasks:
                for set_name, note in self.task_notes.get(task.name, []):
                    say(f"               {task.name} on {set_name}: {note}")
        self.timer.add("data", t0)

    def dataset(self, spec: DataSpec) -> Dataset:
        return self.datasets[_spec_key(spec)]

    # ---- stage 2: extract ------------------------------------------------------------------
    def extract_all(self) -> None:
        """Vectors for every (model, data set), and the random-init twin's when baselines want it."""
        t0 = time.perf_counter()
        twins = [(False, 0)] + ([(True, d) for d in self._draws()] if self.cfg.probe.random_init else [])
        caches = self.extraction_caches()
        plans = [(c, self._extract_works(*c)) for c in caches]
        n_jobs = sum(len(works) for _, works in plans)
        self.progress.say(
            f"[2/4 extract]  {len(caches)} caches ({len(self.cfg.models)} models x {len(self.datasets)} data sets"
            f"{' x random-init twin' if len(twins) == 2 else f' x {len(twins) - 1} random-init draws' if len(twins) > 2 else ''})"
            + (f" in {n_jobs} jobs (data sets over {self.shard_sentences} sentences in shards of that many)"
               if n_jobs > len(caches) else ""))
        # Weighted by words: what remains is estimated from the words per second extracted so far.
        with self.progress.stage("[2/4 extract]", sum(w.n_words for _, works in plans for w in works),
                                 count=n_jobs, unit="caches" if n_jobs == len(caches) else "jobs"):
            self._extract(plans, self.executor)
        self.timer.add("extract", t0)

    def extraction_caches(self) -> list[tuple]:
        """The study's vector caches, (model, data set key, random-init, draw), in the order they are made.

        Grouped by loaded model: each is loaded once, used for every data set, then freed.
        """
        twins = [(False, 0)] + ([(True, d) for d in self._draws()] if self.cfg.probe.random_init else [])
        return [(m, key, ri, draw) for m in self.cfg.models for ri, draw in twins for key in self.datasets]

    def _extract(self, plans: list[tuple], executor) -> None:
        """Run the extraction jobs of (cache, works) plans on `executor`, then join each sharded cache's pieces."""
        from probes.experiment.jobs import free_models, run_extraction

        # A model placed with device_map spans the devices of this process: its jobs stay here (a
        # one-device worker would load it over one GPU and the CPU, once per worker).
        jobs = [Job(self._extract_job_name(c, w, len(works)), run_extraction, (w,), weight=w.n_words,
                    extraction=w.model.device_map is None) for c, works in plans for w in works]
        results = iter(executor.map(jobs, self.progress))
        for c, works in plans:
            self._store_cache(c, works, [next(results) for _ in works])
        free_models()

    def _extract_works(self, model: ModelSpec, key, ri: bool, draw: int) -> list:
        """The jobs of one cache: the whole data set, or one per shard of a long one."""
        from probes.experiment.jobs import ExtractWork
        from probes.extract.extractor import data_fingerprint
        from probes.extract.shards import corpus_identity, plan_shards

        ds = self.datasets[key]
        # Vectors depend on the text only: an edited annotation reuses them.
        # (the default multiword mode is left out of the name, so caches from before it keep theirs)
        # (likewise the first random-init draw, seed 0)
        mw = [model.multiword] if model.multiword != "split" else []
        mw += [f"draw-{draw}"] if draw else []
        # (and float32 unquantized weights: the key changes with them, so they keep caches of their own)
        mw += [model.dtype] if model.dtype != "float32" else []
        mw += [model.quantization] if model.quantization and not ri else []
        out = inside(self.cache / "vectors", f"{model.name}{'-random-init' if ri else ''}-{ds.spec.name}-"
                     f"{_hash(model.source, data_fingerprint(ds.sentences), model.pooling, model.layers, ri, *mw)}")
        shards = plan_shards(len(ds.sentences), self.shard_sentences, self.chunk_size)
        common = dict(model=model, random_init=ri, draw=draw, device=self.cfg.device, out=out, chunk_size=self.chunk_size)
        if len(shards) == 1:
            return [ExtractWork(sentences=ds.sentences, **common)]
        whole = corpus_identity(ds.sentences, model.multiword)
        return [ExtractWork(sentences=ds.sentences[a:b], span=(a, b), whole=whole, **common) for a, b in shards]

    def _extract_job_name(self, c: tuple, work, n_shards: int) -> str:
        model, key, ri, draw = c
        twin = f" random-init{f' draw {draw}' if draw else ''}" if ri else ""
        shard = ""
        if work.span is not None:
            a, b = work.span
            shard = f" shard {a // self.shard_sentences + 1}/{n_shards} (sentences {a + 1}-{b})"
        return f"{model.name}{twin} on {self.datasets[key].spec.name}{shard}"

    def _store_cache(self, c: tuple, works: list, results: list) -> None:
        """The cache a job (or its shards' jobs) made, opened; the pieces of a sharded one joined first."""
        from probes.extract.shards import found_whole, join_pieces, pieces_dir, remove_pieces

        model, key, ri, draw = c
        made = [r.value for r in results]
        if works[0].span is None or any(m.whole_found for m in made):
            if works[0].span is None:
                cache = VectorCache.open(made[0].path)
                cache.summary = made[0].summary
            else:
                cache = found_whole(works[0].out)
            # Pieces left by a run stopped after its join sealed the whole, by another shard size or
            # by a sharded run that an unsharded one finished are copies of it: deleted, as the join
            # would have (any one being written is kept).
            folder = pieces_dir(works[0].out)
            if folder.is_dir():
                remove_pieces(works[0].out, sorted(folder.iterdir()))
        else:
            self.progress.detail(f"joining {len(made)} shards of {works[0].out.name}")
            pieces = []
            for m in made:
                pieces.append(VectorCache.open(m.path))
                pieces[-1].summary = m.summary
            cache = join_pieces(works[0].out, pieces, self.datasets[key].sentences)
        if not all(r.reused for r in results):
            self.outcome.extracted += 1
        if works[0].span is not None:
            self.outcome.shards += sum(not r.reused for r in results)
        self.vectors[(model.name, key, ri, draw)] = cache

    def _draws(self) -> list[int]:
        """Seeds of the random-init model: one per probe seed with random_init_seeds, else one (seed 0)."""
        return list(self.cfg.seeds) if self.cfg.probe.random_init_seeds else [0]

    def cache_of(self, model: ModelSpec, spec: DataSpec, random_init: bool = False, draw: int = 0):
        """The cache a probe reads, checked in full first (once); a damaged one is rebuilt here, then used."""
        from probes.extract.integrity import CacheDamaged

        key = (model.name, _spec_key(spec), random_init, draw)
        try:
            return self.vectors[key].verify()
        except CacheDamaged as exc:
            self.progress.warn(f"               {exc.path.name}: damaged ({exc.reason}); extracting it again")
            c = (model, key[1], random_init, draw)
            self._extract([(c, self._extract_works(*c))], LocalExecutor())
            return self.vectors[key].verify()

    # ---- stage 3: probe --------------------------------------------------------------------
    def probe_all(self) -> pd.DataFrame:
        """Every (model, task, probe kind) job; each job's rows are cached under its inputs' key."""
        t0 = time.perf_counter()
        jobs = self.probe_jobs()
        self.progress.say(f"[3/4 probe]    {len(jobs)} probe jobs x {len(self.cfg.seeds)} seeds")
        self.skipped_jobs = [s for t in self.cfg.tasks for s in self._skipped_kinds(t)]
        for line in self.skipped_jobs:
            self.progress.say(f"               {line}")
        many_models = len(self.cfg.models) > 1
        # Inside a job the probing API reports each fit (role, seed) and L-BFGS its iterations.
        with self.progress.stage("[3/4 probe]", len(jobs)):
            done = self.executor.map([self._probe_job(m, t, k, f"{m.name + ' ' if many_models else ''}{t.name} {k}")
                                      for m, t, k in jobs], self.progress)
        frames = [r.value for r in done]
        for r in done:
            self.outcome.reused += r.reused
            self.outcome.probed += not r.reused
            self.skipped_jobs += r.notes
        self.timer.add("probe", t0)
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS)
        return df[RESULT_COLUMNS]

    def probe_jobs(self) -> list[tuple]:
        """The study's probe jobs, (model, task, kind), in the order they run."""
        jobs = [(m, t, k) for m in self.cfg.models for t in self.cfg.tasks for k in self._kinds_for(t)]
        if self.cfg.amnesic is not None:  # erase one task's labels from chosen layers of each model
            erased = next(t for t in self.cfg.tasks if t.name == self.cfg.amnesic.task)
            jobs += [(m, erased, "amnesic") for m in self.cfg.models]
        return jobs

    def probe_path(self, model: ModelSpec, task: TaskSpec, kind: str) -> Path:
        """Where a probe job's rows are cached (its key needs the job's vector caches in self.vectors)."""
        return inside(self.cache / "results", f"{model.name}-{task.name.replace(':', '_')}-{kind}-"
                      f"{self._job_key(model, task, kind)}.csv")

    def _kinds_for(self, task: TaskSpec) -> list[str]:
        """The configured probe kinds that apply to a task (structural tasks take the structural probe)."""
        from probes.tasks.registry import get_spec

        kind = get_spec(task.name).kind
        if kind in STRUCTURAL_TASK_KINDS:
            return ["structural"]
        kinds = [k for k in (task.kinds or self.cfg.probe.kinds) if k != "structural"]
        if kind == "sentence":  # the edge probe pools spans of words; sentence tasks have none
            kinds = [k for k in kinds if k != "edge"]
        if kind != "token":  # neurons and conditional information are about word vectors here
            kinds = [k for k in kinds if k not in ("neurons", "conditional")]
        if id(task) in self._built and self._built[id(task)][0].Y is not None:
            kinds = [k for k in kinds if k not in ("mlp", "mdl", "neurons", "conditional")]  # one label per item only
        return kinds

    def _skipped_kinds(self, task: TaskSpec) -> list[str]:
        from probes.tasks.registry import get_spec

        if get_spec(task.name).kind in STRUCTURAL_TASK_KINDS:
            return []
        kept = set(self._kinds_for(task))
        out = []
        for k in task.kinds or self.cfg.probe.kinds:
            if k == "structural" or k in kept:
                continue
            kind = get_spec(task.name).kind
            why = ("a sentence task has no word spans" if k == "edge" else
                   f"it reads one word's vector and {task.name} is a {kind} task"
                   if k in ("neurons", "conditional") and kind != "token" else
                   "it takes one label per item and the task is multi-label")
            out.append(f"{task.name}: probe kind {k!r} not run ({why})")
        return out

    def _task_data(self, task: TaskSpec):
        """TaskData of train, dev and tests (and of the control task), built once per task."""
        if id(task) not in self._built:
            self._built[id(task)] = self._build_task_data(task)
        return self._built[id(task)]

    def _build_task_data(self, task: TaskSpec):
        from probes.tasks.registry import build_task

        seed = self.cfg.seeds[0]
        opts = task.options

        def build(name, spec, train=None, seed=seed):
            try:
                data = build_task(name, self.dataset(spec).sentences, train=train, seed=seed, options=opts)
            except ProbesError as exc:
                raise ProbesError(f"{exc} (data set {spec.name}: {spec.describe()})") from None
            notes = self.task_notes.setdefault(task.name, [])
            notes += [(spec.name, n) for n in data.notes if (spec.name, n) not in notes and "control task" not in n]
            return data

        train = build(task.name, task.train)
        dev = build(task.name, task.dev, train) if task.dev else None
        tests = {t.name: build(task.name, t, train) for t in task.test}
        control = None
        if self.cfg.probe.control and train.kind in ("token", "edge", "span"):
            # Each seed draws its own control task (Hewitt & Liang's random label per word type).
            cname = f"{task.name}:control"
            control = {}
            for s in self.cfg.seeds:
                c_train = build(cname, task.train, seed=s)
                control[s] = {"train": c_train, "dev": build(cname, task.dev, c_train, seed=s) if task.dev else None,
                              "tests": {t.name: build(cname, t, c_train, seed=s) for t in task.test}}
        return train, dev, tests, control

    def _job_key(self, model: ModelSpec, task: TaskSpec, kind: str) -> str:
        from probes.experiment.beyond_jobs import downstream_key

        caches = []
        for spec in [task.train, task.dev, *task.test]:
            if spec is None:
                continue
            for ri, draw in [(False, 0)] + ([(True, d) for d in self._draws()] if self.cfg.probe.random_init else []):
                caches.append(self.vectors[(model.name, _spec_key(spec), ri, draw)].meta.get("key"))
        names = [task.train.name, task.dev.name if task.dev else None, [t.name for t in task.test]]
        other = conditional_model(self.cfg.probe.options.get("conditional_on")) if kind == "conditional" else None
        if other is not None:  # the baseline model's vectors are inputs of the job too
            caches.append([self.vectors[(other[0], _spec_key(spec), False, 0)].meta.get("key")
                           for spec in [task.train, task.dev, *task.test] if spec is not None])
        # The version after probe-job/ is raised whenever a kind's rows change for the same inputs (5:
        # amnesic accuracy_delta_vs_random, dropout masks seeded by the probe),
        # so that rows cached by an earlier release are computed again rather than reused stale.
        return _hash("probe-job/5", __version__, model.name, caches, names, task.name, task.options, kind,
                     kind == self._kinds_for(task)[0], self.cfg.seeds,
                     [repr(self.cfg.amnesic), downstream_key(self, model)] if kind == "amnesic" else None,
                     self.cfg.probe.control, self.cfg.probe.random_init, self.cfg.probe.bootstrap,
                     self.cfg.probe.rank, self.cfg.probe.options,
                     [self.dataset(s).fingerprint for s in [task.train, task.dev, *task.test] if s is not None])

    def _probe_job(self, model: ModelSpec, task: TaskSpec, kind: str, name: str) -> Job:
        """The job of one (model, task, kind): its rows from the cache, or its inputs, gathered when it starts."""
        from probes.experiment.jobs import cached_rows, run_probe_job

        path = self.probe_path(model, task, kind)

        def inputs():
            # The caches are checked in full (and a damaged one rebuilt) only for a job that runs.
            return cached_rows(path) if path.exists() else (self._probe_work(model, task, kind, path),
                                                             self._task_data(task))

        return Job(name, run_probe_job, inputs)

    def _probe_work(self, model: ModelSpec, task: TaskSpec, kind: str, path: Path):
        from probes.experiment.jobs import AmnesicWork, ProbeWork

        vec = lambda spec, r=False: self.cache_of(model, spec, r)  # noqa: E731
        common = dict(seeds=self.cfg.seeds, model=model.name, task=task.name, train_set=task.train.name,
                      n_boot=self.cfg.probe.bootstrap, device=self.cfg.device)
        random_init = None
        if self.cfg.probe.random_init:
            def twin(draw):
                return {"train": self.cache_of(model, task.train, True, draw),
                        "tests": {t.name: self.cache_of(model, t, True, draw) for t in task.test},
                        "dev": self.cache_of(model, task.dev, True, draw) if task.dev else None}

            # With random_init_seeds, seed s probes the random model drawn with seed s.
            random_init = {d: twin(d) for d in self._draws()} if self.cfg.probe.random_init_seeds else twin(0)
        amnesic = None
        if kind == "amnesic":  # the LM loss is measured on the first test set
            heldout = task.test[0]
            from probes.experiment.beyond_jobs import downstream_work

            down, notes = downstream_work(self, model)
            amnesic = AmnesicWork(self.cfg.amnesic, model.source, heldout.name,
                                  [s.words for s in self.dataset(heldout).sentences], down, notes)
        # The majority baseline does not depend on the probe: report it with the task's first kind only.
        return ProbeWork(kind, path, vec(task.train), {t.name: vec(t) for t in task.test},
                         vec(task.dev) if task.dev else None, random_init, common,
                         majority=kind == self._kinds_for(task)[0], rank=self.cfg.probe.rank,
                         options=self.cfg.probe.options, amnesic=amnesic,
                         baseline=self._conditional_baseline(model, task) if kind == "conditional" else None)

    def _conditional_baseline(self, model: ModelSpec, task: TaskSpec):
        """What the conditional kind of `model` is given: "layer0" or "previous", or for
        ``conditional_on = "model:NAME[:LAYER]"`` that model's caches of the task's data sets (NAME's own
        job at its layer 0 is "layer0", 0 there by definition)."""
        option = self.cfg.probe.options.get("conditional_on", "layer0")
        other = conditional_model(option)
        if other is None or other == (model.name, 0):
            return "layer0" if other else option
        name, layer = other
        spec = next(m for m in self.cfg.models if m.name == name)
        return {"name": name, "layer": layer, "train": self.cache_of(spec, task.train),
                "tests": {t.name: self.cache_of(spec, t) for t in task.test},
                "dev": self.cache_of(spec, task.dev) if task.dev else None}

    # ---- stage 4: analyze + report ---------------------------------------------------------
    def cross_lingual_cka(self) -> list[dict]:
        """Linear CKA per layer between languages' mean sentence vectors over parallel sentences, with
        its permutation null (the same sentences with their pairing shuffled)."""
        from analysis.transfer import cka_with_null

        sim = self.cfg.similarity

        rows = []
        for model in self.cfg.models:
            by_set = {}
            for key, ds in self.datasets.items():
                ids = [s.sent_id for s in ds.sentences]
                if _lang_of(ds):
                    by_set[key] = (ds, ids)
            keys = list(by_set)
            for i, a in enumerate(keys):
                for b in keys[i + 1:]:
                    da, ia = by_set[a]
                    db, ib = by_set[b]
                    la, lb = _lang_of(da), _lang_of(db)
                    if la == lb:
                        continue
                    common = sorted(set(ia) & set(ib))
                    if len(common) < 10:
                        continue
                    ca, cb = self.cache_of(model, da.spec), self.cache_of(model, db.spec)
                    pa, pb = {s: k for k, s in enumerate(ia)}, {s: k for k, s in enumerate(ib)}
                    for li, layer in enumerate(ca.layers):
                        xa = _sentence_means(ca, [pa[s] for s in common], li)
                        xb = _sentence_means(cb, [pb[s] for s in common], li)
                        res = cka_with_null(xa, xb, estimator=sim.estimator, permutations=sim.permutations,
                                            seed=self.cfg.seeds[0])
                        rows.append({"model": model.name, "layer": layer, "lang_a": la, "lang_b": lb,
                                     "set_a": da.spec.name, "set_b": db.spec.name, "n": len(common), **res})
        return rows

    def manifest(self) -> dict:
        """Config, versions, fingerprints, seeds and timings of this run."""
        versions = {}
        for pkg in ("probes", "torch", "transformers", "tokenizers", "scikit-learn", "spacy", "numpy", "scipy",
                    "pandas", "matplotlib", "seaborn"):
            try:
                versions[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                versions[pkg] = __version__ if pkg == "probes" else None
        data = []  # a list: a train slice and a test slice of one file may share a name
        for ds in self.datasets.values():
            src = ds.spec.source
            data.append({"name": ds.spec.name, "source": src, "selection": ds.spec.describe(),
                         "sentences": len(ds.sentences),
                         "words": sum(len(s) for s in ds.sentences), "sentences_fingerprint": ds.fingerprint,
                         "file_sha256": sha256_file(src) if Path(src).is_file() else None,
                         "trees": ds.spec.trees, "trees_sha256": sha256_file(ds.spec.trees) if ds.spec.trees else None,
                         "skipped_invalid": ds.skipped, "reader_notes": ds.notes})
        models = {}
        for (name, key, ri, draw), cache in self.vectors.items():
            entry = models.setdefault(name + (":random-init" if ri else "") + (f" (draw {draw})" if draw else ""), {})
            entry.update({k: cache.meta.get(k) for k in ("model", "model_fingerprint", "pooling", "dtype", "load")
                          if k in cache.meta})
            entry.setdefault("caches", {})[self.datasets[key].spec.name] = str(cache.path)
        return {"name": self.cfg.name, "config": self.cfg.raw, "config_file": str(self.cfg.path),
                "seeds": self.cfg.seeds, "versions": versions, "python": platform.python_version(),
                "platform": platform.platform(), "data": data, "models": models,
                "tasks": [{"name": task.name, "options": task.options,
                           "notes": [f"{s}: {n}" for s, n in self.task_notes.get(task.name, [])]}
                          for task in self.cfg.tasks],
                "probe_kinds_not_run": self.skipped_jobs,
                "timings_s": {k: round(v, 3) for k, v in self.timer.seconds.items()},
                "recomputed": {"caches": self.outcome.extracted, "shards": self.outcome.shards,
                               "probe_jobs": self.outcome.probed,
                               "probe_jobs_reused": self.outcome.reused}}

    def run(self, extras: Optional[dict] = None) -> RunOutcome:
        """All four stages; writes results.csv, summary.csv, figures/, report.html, manifest.json."""
        self.load_data()
        self.extract_all()
        results = self.probe_all()
        t0 = time.perf_counter()
        self.progress.say(f"[4/4 report]   {len(results)} result rows -> {self.out}")
        with self.progress.stage("[4/4 report]"):
            extras = dict(extras or {})
            self.progress.detail("CKA between languages")
            cka = self.cross_lingual_cka()
            if cka:
                extras["cka"] = cka
            self.progress.detail("structural probe example")
            structural = self.structural_example(results)
            if structural:
                extras["structural"] = structural
            from probes.experiment.beyond_jobs import neuron_profiles

            profiles = neuron_profiles(self)  # the neurons jobs' top neurons per label, for the report
            if profiles:
                extras["neuron_profiles"] = profiles
            self.timer.add("analyze", t0)
            t0 = time.perf_counter()
            manifest = self.manifest()
            from analysis.report import write_report

            self.out.mkdir(parents=True, exist_ok=True)
            self.progress.detail("statistics, figures, tables and report.html")
            report = write_report(results, self.out, config=self.cfg.raw, manifest=manifest, extras=extras,
                                  title=self.cfg.name)
            self.timer.add("report", t0)
        manifest["timings_s"] = {k: round(v, 3) for k, v in self.timer.seconds.items()}
        write_json_atomic(self.out / "manifest.json", manifest)
        self.outcome.results, self.outcome.report = results, report
        return self.outcome

    def structural_example(self, results: pd.DataFrame) -> list[dict]:
        """Predicted vs gold tree of one test sentence per distance task, at the best UUAS layer.

        Cached beside the task's probe job, so a resumed run fits nothing again.
        """
        from probes.tasks.registry import get_spec

        out = []
        model = self.cfg.models[0]
        for task in self.cfg.tasks:
            if get_spec(task.name).kind != "distance":
                continue
            test_spec = task.test[0]
            pick = _pick_sentence(self.dataset(test_spec))
            scores = results[(results["model"] == model.name) & (results["task"] == task.name)
                             & (results["eval_set"] == test_spec.name) & (results["metric"] == "uuas")
                             & (results["layer"] >= 0)]
            if pick is None or scores.empty:
                continue
            best = int(scores.groupby("layer")["value"].mean().idxmax())
            path = inside(self.cache / "results", f"{model.name}-{task.name.replace(':', '_')}-structural-"
                          f"{self._job_key(model, task, 'structural')}-example-{pick}.json")
            if not path.exists():
                write_json_atomic(path, self._fit_structural_example(model, task, test_spec, pick, best))
            out.append(json.loads(path.read_text(encoding="utf-8")))
        return out

    def _fit_structural_example(self, model: ModelSpec, task: TaskSpec, test_spec: DataSpec, pick: int,
                                layer: int) -> dict:
        from probes.probing.api import fit_structural, probe_parameters, structural_predictions

        train, dev, tests, _ = self._task_data(task)
        est = fit_structural((self.cache_of(model, task.train), train),
                             (self.cache_of(model, task.dev), dev) if task.dev else None,
                             seed=self.cfg.seeds[0], device=self.cfg.device, rank=self.cfg.probe.rank,
                             **{k: v for k, v in self.cfg.probe.options.items() if k in probe_parameters("structural")})
        pred = structural_predictions(est, self.cache_of(model, test_spec), tests[test_spec.name], pick)
        li = list(pred["layers"]).index(layer)
        s = self.dataset(test_spec).sentences[pick]
        return {"model": model.name, "task": task.name, "layer": layer, "sent_id": s.sent_id,
                "eval_set": test_spec.name, "words": list(s.words), "gold_heads": list(s.heads),
                "gold_deprels": list(s.deprels or []),
                "predicted_edges": sorted(tuple(sorted(e)) for e in pred["pred_edges"][li]),
                "predicted_distances": np.asarray(pred["pred"][li]).tolist(),
                "gold_distances": np.asarray(pred["gold"]).tolist()}


def run_probe(kind: str, train, tests, dev, *, control, random_init, rank, options, majority: bool = True,
              baseline=None, **common) -> list[ResultRow]:
    """Dispatch one probe kind to the probing API."""
    from probes.probing import api

    # [probe] options are shared by the kinds of a study: each kind takes the ones it knows (the
    # config has checked that every option is known to some kind it runs).
    names = api.probe_parameters("linear" if kind in ("mdl", "neurons", "conditional") else kind)
    options = {k: v for k, v in options.items() if k in names}
    if kind in CLASSIFIER_KINDS or kind == "edge":
        return api.probe_layers(train, tests, dev, probe=kind, control=control, random_init=random_init,
                                majority=majority, **common, **options)
    if kind == "structural":
        return api.structural_layers(train, tests, dev, rank=rank, random_init=random_init, **common, **options)
    if kind == "mdl":
        # Codelength is a property of the training data: no test sets, no bootstrap.
        mdl = {k: common[k] for k in ("seeds", "model", "task", "train_set", "device")}
        return api.mdl_study(train, control=control, random_init=random_init, **mdl, **options)
    if kind == "neurons":
        # Dalvi et al.'s linguistic correlation analysis; the random-k band is drawn over the seeds.
        return api.neuron_rows(train, tests, dev, ranking="lca", **common, **options)
    if kind == "conditional":
        from probes.probing.conditional import conditional_rows

        # What each layer adds beyond layer 0 (Hewitt et al. 2021), or beyond the layer below it
        # ([probe.options] conditional_on = "previous"); the linear probes are deterministic given the
        # data split, so one run with the first seed.
        from probes.probing.conditional import Baseline

        cond = {k: v for k, v in common.items() if k != "seeds"}
        # baseline: "layer0", "previous", or another model's caches (Experiment._conditional_baseline)
        given = Baseline(**baseline) if isinstance(baseline, dict) else baseline or "layer0"
        return conditional_rows(train, tests, dev, baseline=given, seed=common["seeds"][0], **cond, **options)
    raise ProbesError(f"unknown probe kind {kind!r}")


def _lang_of(ds: Dataset) -> Optional[str]:
    if ds.spec.lang:
        return ds.spec.lang
    langs = {s.lang for s in ds.sentences if s.lang}
    if len(langs) == 1:
        return langs.pop()
    from analysis.results import language_of  # the same rule the transfer figures use

    return language_of(ds.spec.name) or language_of(Path(ds.spec.source).name) or None


def _sentence_means(cache, sentence_ids: list[int], layer_index: int) -> np.ndarray:
    off = cache.sentence_offsets
    V = cache.vectors[layer_index]
    return np.stack([np.asarray(V[off[i]:off[i + 1]], dtype=np.float32).mean(axis=0) for i in sentence_ids])


def _pick_sentence(ds: Dataset) -> Optional[int]:
    """A readable example: the first test sentence of 8-14 words with a tree."""
    for i, s in enumerate(ds.sentences):
        if s.heads and 8 <= len(s) <= 14:
            return i
    return 0 if ds.sentences and ds.sentences[0].heads else None
