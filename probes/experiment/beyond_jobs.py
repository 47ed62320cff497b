"""What the neurons and amnesic probe jobs keep beside their rows (issue 13), as plain records and
module-level functions that run wherever the job runs (``probes.experiment.jobs``):

* a job's notes (what it could not measure, and why) saved beside its rows, so that a job taken
  from the cache says them again;
* the neurons job's ranking profile (``NeuronRanking.profile``: each layer's top neurons and each
  label's mean activation on them), for the report's label-activation figure;
* the amnesic job's other tasks: for each other token task of the study, its probe at the layers
  after the erased one, on vectors re-extracted with the erasure inside the model's forward pass
  (LEACE, and the random subspace of the same rank) against the clean caches. The re-extraction
  runs the study's own extractor into a temporary directory, read into memory and deleted: nothing
  of the erased model is cached. Cost: two extractions (LEACE, random) of every data set the other
  tasks use, per erased layer, plus three probe fits per other task and erased layer.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from probes.errors import ProbesError

PROFILE_TOP = 12  # neurons per layer kept in a ranking profile (the label-activation figure's columns)


# ----- notes beside a job's rows ---------------------------------------------------------------------
def notes_path(rows_path: Path) -> Path:
    """Where a probe job's notes are kept: beside its rows."""
    return Path(rows_path).with_suffix(".notes.json")


def write_notes(rows_path: Path, notes: list[str]) -> None:
    """Save a job's notes before its rows are written (the rows' file marks the job complete)."""
    from probes.extract.cache import write_json_atomic

    if notes:
        write_json_atomic(notes_path(rows_path), {"notes": list(notes)})


def read_notes(rows_path: Path) -> list[str]:
    """The notes a cached job made (none when it made none or the file is unreadable)."""
    try:
        data = json.loads(notes_path(rows_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    notes = data.get("notes") if isinstance(data, dict) else None
    return [str(n) for n in notes] if isinstance(notes, list) else []


# ----- the neurons job's ranking profile ---------------------------------------------------------------
def profile_path(rows_path: Path) -> Path:
    """Where a neurons job keeps its ranking profile: beside its rows."""
    return Path(rows_path).with_suffix(".profile.json")


def save_profile(rows_path: Path, ranking, model: str, task: str) -> dict:
    """Write the ranking's profile (top neurons per layer, label means rounded to 4 decimals); return it."""
    from probes.extract.cache import write_json_atomic

    prof = dict(ranking.profile(PROFILE_TOP, decimals=4), model=model, task=task)
    write_json_atomic(profile_path(rows_path), prof)
    return prof


def load_profile(rows_path: Path) -> Optional[dict]:
    """A saved ranking profile, or None."""
    try:
        data = json.loads(profile_path(rows_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and {"layers", "neurons", "class_means"} <= set(data) else None


def neuron_job_rows(train, tests, dev, common: dict, options: dict, rows_path: Path) -> list:
    """The neurons kind's rows, the ranking fitted once and its profile saved beside the rows."""
    from probes.probing import api

    names = api.probe_parameters("linear")
    hyper = {k: v for k, v in options.items() if k in names}
    ranked = api.rank_neurons(train, "lca", device=common["device"])
    save_profile(rows_path, ranked, common["model"], common["task"])
    # Dalvi et al.'s linguistic correlation analysis; the random-k band is drawn over the seeds.
    return api.neuron_rows(train, tests, dev, ranking="lca", ranked=ranked, **common, **hyper)


# ----- the amnesic job's other tasks -----------------------------------------------------------------------
@dataclass
class OtherSplit:
    """One data set of another task: its clean cache, the task's labels on it and its sentences."""

    set_name: str
    cache: Any                     # VectorCache (pickled as its path)
    task: Any                      # TaskData
    sentences: list                # list[Sentence], for the re-extraction through the erased model


@dataclass
class OtherTask:
    """Another token task of the study, probed downstream of the erasure."""

    name: str
    train_set: str
    train: OtherSplit
    tests: dict                    # test set name -> OtherSplit
    dev: Optional[OtherSplit] = None

    def splits(self) -> list[OtherSplit]:
        return [self.train, *([self.dev] if self.dev is not None else []), *self.tests.values()]


@dataclass
class Downstream:
    """What the amnesic job needs to probe the other tasks: the model to re-extract with and the tasks."""

    model: Any                     # ModelSpec
    device: str
    tasks: list[OtherTask] = field(default_factory=list)


def _erased_arrays(loaded, splits: list[OtherSplit], layer: int, eraser, label: str, keep: list[int],
                   options: dict) -> dict:
    """{id(split.sentences): vectors (len(keep), n_words, dim)} of each distinct data set, extracted
    with ``eraser`` applied to hidden state ``layer`` inside the forward pass (a temporary cache, read
    into memory, deleted)."""
    from probes.extract.extractor import extract
    from probes.probing.amnesic import erased_model

    out = {}
    opts = dict(options, layers=keep)
    with erased_model(loaded, layer, eraser, label) as model, tempfile.TemporaryDirectory(prefix="probes-erased-") as tmp:
        for k, split in enumerate(splits):
            if id(split.sentences) in out:
                continue
            cache = extract(model, split.sentences, Path(tmp) / f"set{k}", progress=False, **opts)
            out[id(split.sentences)] = np.array(cache.vectors)  # a copy in memory: the directory goes
    return out


def downstream_rows(work: Downstream, layer: int, leace, rand, erased_task: str, common: dict,
                    loaded=None) -> tuple[list, list[str]]:
    """Per other task, its linear probe at the layers after ``layer``: clean, LEACE-erased and randomly
    erased inside the model (``probes.probing.amnesic.downstream_rows``). Returns (rows, notes)."""
    from probes.probing.amnesic import LayerView, downstream_rows as rows_of, later_layers

    if not work.tasks:
        return [], []
    model = common["model"]
    try:
        later = later_layers(work.tasks[0].train.cache, layer)
    except ProbesError as exc:
        return [], [f"{model}: amnesic other tasks not probed after layer {layer}: {exc}"]
    if loaded is None:
        loaded = load_for_erasure(work)
    from probes.experiment.jobs import extraction_options

    splits = [s for t in work.tasks for s in t.splits()]
    erased = {}
    try:
        for name, er in (("erased", leace), ("erased_random", rand)):
            erased[name] = _erased_arrays(loaded, splits, layer, er, f"{er.kind}-{erased_task}@{layer}", later.layers,
                                          extraction_options(work.model))
    except ProbesError as exc:  # e.g. a word encoder, or a layer the hook cannot reach exactly
        return [], [f"{model}: amnesic other tasks not probed after layer {layer}: {exc}"]

    def variant(t: OtherTask, name: str):
        def split(s: OtherSplit):
            if name == "clean":
                return later_layers(s.cache, layer), s.task
            return LayerView(erased[name][id(s.sentences)], later.layers, np.asarray(s.cache.sentence_offsets)), s.task

        return split(t.train), {n: split(s) for n, s in t.tests.items()}, None if t.dev is None else split(t.dev)

    rows = []
    for t in work.tasks:
        rows += rows_of({v: variant(t, v) for v in ("clean", "erased", "erased_random")}, erased_task, layer,
                        seed=common["seeds"][0], model=model, task=t.name, train_set=t.train_set,
                        n_boot=common["n_boot"], device=common["device"])
    return rows, []


def load_for_erasure(work: Downstream):
    """The study's model loaded for extraction, as its caches were made (the erasure hooks go on it)."""
    from probes.experiment.jobs import load_extraction_model

    return load_extraction_model(work.model, work.device, False, 0)


# ----- gathered by the runner (in the study's process) -------------------------------------------------------
def _other_specs(exp) -> list:
    """The study's other token tasks (one label per word) that [amnesic] other_tasks asks for."""
    from probes.tasks.registry import get_spec

    spec = exp.cfg.amnesic
    if spec is None or spec.other_tasks is False:
        return []
    names = None if spec.other_tasks is True else set(spec.other_tasks)
    out = []
    for task in exp.cfg.tasks:
        if task.name == spec.task or (names is not None and task.name not in names):
            continue
        if get_spec(task.name).kind == "token" and exp._task_data(task)[0].Y is None:
            out.append(task)
    return out


def downstream_work(exp, model) -> tuple[Downstream, list[str]]:
    """The other tasks of the amnesic job of one model, and a note when it has none to probe."""
    work = Downstream(model, exp.cfg.device)
    for task in _other_specs(exp):
        train, dev, tests, _ = exp._task_data(task)

        def split(ds, data):
            return OtherSplit(ds.name, exp.cache_of(model, ds), data, exp.dataset(ds).sentences)

        work.tasks.append(OtherTask(task.name, task.train.name, split(task.train, train),
                                    {t.name: split(t, tests[t.name]) for t in task.test},
                                    split(task.dev, dev) if task.dev else None))
    notes = []
    if exp.cfg.amnesic.other_tasks is not False and not work.tasks:
        notes.append(f"{model.name}: amnesic other tasks not probed: the study has no other token task with one "
                     "label per word")
    return work, notes


def downstream_key(exp, model) -> list:
    """What the amnesic job's other-task rows depend on beyond its own task (for its cache key)."""
    from probes.experiment.runner import _spec_key

    key = []
    for task in _other_specs(exp):
        sets = [s for s in (task.train, task.dev, *task.test) if s is not None]
        key.append([task.name, task.options, [s.name for s in sets],
                    [exp.vectors[(model.name, _spec_key(s), False, 0)].meta.get("key") for s in sets],
                    [exp.dataset(s).fingerprint for s in sets]])
    return key


def neuron_profiles(exp) -> list[dict]:
    """The ranking profile of every neurons job of the study (fitted again for a job cached without one)."""
    from probes.probing.api import rank_neurons

    out = []
    for model in exp.cfg.models:
        for task in exp.cfg.tasks:
            if "neurons" not in exp._kinds_for(task):
                continue
            path = exp.probe_path(model, task, "neurons")
            prof = load_profile(path)
            if prof is None and path.exists():  # rows from before profiles were kept: rank again (no ablation)
                ranked = rank_neurons((exp.cache_of(model, task.train), exp._task_data(task)[0]), "lca",
                                      device=exp.cfg.device)
                prof = save_profile(path, ranked, model.name, task.name)
            if prof is not None:
                out.append(prof)
    return out
