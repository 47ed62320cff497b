"""The experiment config (TOML): models, tasks with their data sets, probes; checked before heavy work."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Optional

from probes.errors import ProbesError
from probes.paths import unsafe_name

PROBE_KINDS = ("linear", "mlp", "mix", "cumulative", "edge", "structural", "mdl", "neurons", "conditional")
DATA_FORMATS = ("conllu", "ptb", "conll2012", "jiant", "senteval", "spacy", "text")
POOLINGS = ("mean", "first", "last")
CONDITIONAL_BASELINES = ("layer0", "previous")  # [probe.options] conditional_on: what the conditional kind is given


class ConfigError(ProbesError):
    """A config problem: names the file, the key and what is expected."""

    def __init__(self, path: Path | str, key: str, message: str):
        super().__init__(f"{path}: {key}: {message}")


@dataclass
class DataSpec:
    """One data set: a file (or ud:NAME) and optionally a range of its sentences."""

    source: str                      # path as resolved (absolute) or ud:NAME
    name: str                        # eval_set / train_set name: the file's name without extension
    first: Optional[int] = None      # 1-based, inclusive
    last: Optional[int] = None       # 1-based, inclusive
    max_sentences: Optional[int] = None
    lang: Optional[str] = None
    trees: Optional[str] = None      # a Penn Treebank file with one tree per sentence of the source
    format: Optional[str] = None     # reader format (default: from the file name)
    split: Optional[str] = None      # SentEval split tr / va / te (default: by role, train -> tr ...)
    skip_invalid: bool = False       # skip malformed sentences (each one listed) instead of stopping
    role: str = "test"               # train, dev or test: where the data set appears in its task

    def describe(self) -> str:
        """Short human description, e.g. 'en.conllu[1-150]'."""
        rng = f"[{self.first or 1}-{self.last or 'end'}]" if (self.first or self.last) else ""
        cap = f" (first {self.max_sentences})" if self.max_sentences else ""
        split = f" split {self.split}" if self.split else ""
        return f"{self.source}{rng}{cap}{split}"


@dataclass
class ModelSpec:
    """A model to probe: a display name and a hub id, local directory or elmo:DIR."""

    name: str
    source: str
    layers: Optional[list[int]] = None
    pooling: str = "mean"
    batch_size: int = 32
    trust_remote_code: bool = False
    multiword: str = "split"         # split | token: words of a multiword token (see probes.extract.alignment)
    dtype: str = "float32"           # float32 | bfloat16 | float16: precision the weights load and run in
    device_map: Any = None           # accelerate placement: auto, balanced, sequential, a device, {module: device}
    quantization: Optional[str] = None  # 8bit | 4bit (bitsandbytes, CUDA only)


@dataclass
class TaskSpec:
    """A probing task with its train, optional dev, and test sets."""

    name: str
    train: DataSpec
    test: list[DataSpec]
    dev: Optional[DataSpec] = None
    options: dict[str, Any] = field(default_factory=dict)  # task options (see `probes tasks`)
    kinds: Optional[list[str]] = None  # probe kinds for this task (default: [probe] kinds)


@dataclass
class ProbeSpec:
    """Which probes to train and which baselines to report."""

    kinds: list[str] = field(default_factory=lambda: ["linear"])
    control: bool = True
    random_init: bool = True
    bootstrap: int = 1000
    rank: int = 64                   # structural probe rank
    options: dict[str, Any] = field(default_factory=dict)
    random_init_seeds: bool = False  # one random-init model per seed (its weights drawn with that seed)


@dataclass
class SimilaritySpec:
    """How representations of parallel sentences are compared across languages."""

    estimator: str = "debiased"      # linear CKA from the unbiased HSIC estimator; "biased" = the plug-in one
    permutations: int = 200          # shuffled pairings drawn for the null band (0 = none)


@dataclass
class AmnesicSpec:
    """Amnesic probing: erase ``task``'s labels (LEACE) from each of ``layers`` (of every model)."""

    task: str
    layers: list[int]
    lm_loss: bool = True  # also the model's own LM loss with the layer erased in its forward pass
    # the other token tasks probed at later layers with the erasure inside the model: True = all of them,
    # False = none, or a list of task names (each costs two extractions of its data sets per erased layer)
    other_tasks: bool | list[str] = True


@dataclass
class ExperimentConfig:
    """A whole probing study, as written in one TOML file."""

    name: str
    models: list[ModelSpec]
    tasks: list[TaskSpec]
    probe: ProbeSpec
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    cache_dir: Optional[Path] = None
    path: Optional[Path] = None      # the config file
    raw: dict = field(default_factory=dict)
    similarity: SimilaritySpec = field(default_factory=SimilaritySpec)
    amnesic: Optional[AmnesicSpec] = None
    shard_sentences: Optional[int] = None  # data sets longer than this are extracted in shards (0 = never; None = default)


def _expect(cond: bool, path, key: str, message: str) -> None:
    if not cond:
        raise ConfigError(path, key, message)


def _did_you_mean(value: Any, choices) -> str:
    # " (did you mean X?)" for the choice closest to a misspelt value, or "" when none is close.
    close = get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def conditional_model(value: Any) -> Optional[tuple[str, int]]:
    """(model name, layer) of ``conditional_on = "model:NAME"`` or ``"model:NAME:LAYER"`` (layer 0 by
    default), or None for the other baselines."""
    if not (isinstance(value, str) and value.startswith("model:")):
        return None
    name, _, layer = value[len("model:"):].partition(":")
    return name, int(layer) if layer.isdigit() else (-1 if layer else 0)


def _check_conditional_on(value: Any, models: list, path) -> None:
    """conditional_on: layer0, previous, or model:NAME[:LAYER] naming a model of the study and one of its layers."""
    key = "probe.options.conditional_on"
    other = conditional_model(value)
    if other is None:
        _expect_choice(value, CONDITIONAL_BASELINES + ("model:NAME", "model:NAME:LAYER"), path, key, "baseline",
                       " (layer0: what a layer adds beyond the embeddings, Hewitt et al.'s default; previous: beyond "
                       "the layer below it; model:NAME[:LAYER]: beyond that layer, 0 by default, of another model "
                       "of the study)")
        return
    name, layer = other
    names = [m.name for m in models]
    _expect(name in names, path, key, f"{value!r} names no model of the study{_did_you_mean(name, names)}; "
                                      f"its models are {', '.join(names)}")
    _expect(layer >= 0, path, key, f"{value!r}: the layer after the model's name must be a number (model:NAME:LAYER)")
    spec = models[names.index(name)]
    _expect(spec.layers is None or layer in spec.layers, path, key,
            f"{value!r}: model {name} keeps layers {spec.layers}, not {layer}")


def _expect_choice(value: Any, choices, path, key: str, what: str, why: str = "") -> None:
    """Refuse a value outside ``choices``, naming it and the closest choice."""
    if isinstance(value, str) and value in choices:
        return
    raise ConfigError(path, key, f"unknown {what} {value!r}{_did_you_mean(value, choices)}; "
                                 f"expected one of {', '.join(choices)}{why}")


def _check_keys(table: dict, allowed: set[str], path, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(path, f"{where}{unknown[0]}", f"unknown key{_did_you_mean(unknown[0], sorted(allowed))}; "
                                                        f"expected one of: {', '.join(sorted(allowed))}")


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_RANGE = re.compile(r"^\s*(\d+)?\s*-\s*(\d+)?\s*$")


def _local_path(raw: str, base: Path, path, key: str, check_files: bool) -> str:
    p = Path(raw).expanduser()
    p = p if p.is_absolute() else (base / p)
    if check_files:
        _expect(p.is_file(), path, key, f"file not found: {p}")
    return str(p.resolve())


def _expect_file_name(name: str, path, key: str) -> None:
    why = unsafe_name(name)
    _expect(why is None, path, key, f"{name!r} becomes part of cache file names, so it cannot be used: {why}")


def _data_spec(value: Any, base: Path, path, key: str, check_files: bool, role: str = "test") -> DataSpec:
    if isinstance(value, str):
        value = {"path": value}
    _expect(isinstance(value, dict), path, key,
            "expected a path string or a table {path = ..., sentences = \"1-150\", name = ..., lang = ...}")
    _check_keys(value, {"path", "sentences", "name", "lang", "max_sentences", "trees", "format", "split",
                        "skip_invalid"}, path, f"{key}.")
    _expect(isinstance(value.get("path"), str) and value["path"], path, f"{key}.path", "expected a file path or ud:NAME")
    raw = value["path"]
    if raw.startswith("ud:"):
        source, default_name = raw, raw[3:].replace("/", "-")
    else:
        source = _local_path(raw, base, path, key, check_files)
        default_name = Path(source).name
        for suffix in (".conllu", ".spacy", ".txt", ".jsonl", ".json", ".ptb", ".conll"):
            if default_name.endswith(suffix):
                default_name = default_name[: -len(suffix)]
    first = last = None
    if "sentences" in value:
        m = _RANGE.match(str(value["sentences"]))
        _expect(bool(m), path, f"{key}.sentences", "expected a 1-based inclusive range like \"1-150\" or \"151-\"")
        first = int(m.group(1)) if m.group(1) else None
        last = int(m.group(2)) if m.group(2) else None
        _expect(first is None or first >= 1, path, f"{key}.sentences", "sentence numbers start at 1")
        _expect(first is None or last is None or first <= last, path, f"{key}.sentences", "range end is before its start")
    max_s = value.get("max_sentences")
    _expect(max_s is None or (isinstance(max_s, int) and max_s > 0), path, f"{key}.max_sentences", "expected a positive integer")
    name = value.get("name", default_name)
    _expect(isinstance(name, str) and name, path, f"{key}.name", "expected a non-empty string")
    _expect_file_name(name, path, f"{key}.name")
    trees = value.get("trees")
    _expect(trees is None or (isinstance(trees, str) and trees), path, f"{key}.trees",
            "expected the path of a Penn Treebank file with one tree per sentence")
    if trees is not None:
        trees = _local_path(trees, base, path, f"{key}.trees", check_files)
    fmt = value.get("format")
    if fmt is not None:
        _expect_choice(fmt, DATA_FORMATS, path, f"{key}.format", "format")
    split = value.get("split")
    if split is not None:
        _expect_choice(split, ("tr", "va", "te", "train", "dev", "test"), path, f"{key}.split", "split",
                       " (tr, va and te are a SentEval file's splits)")
    skip = value.get("skip_invalid", False)
    _expect(isinstance(skip, bool), path, f"{key}.skip_invalid", "expected true or false")
    if fmt is None and source.endswith(".txt") and Path(source).is_file():
        from probes.readers.senteval import looks_like_senteval

        fmt = "senteval" if looks_like_senteval(source) else None
    if fmt == "senteval" and split is None:
        split = {"train": "tr", "dev": "va", "test": "te"}[role]  # one file holds all three splits
    _expect(split is None or fmt == "senteval", path, f"{key}.split", "a split applies to SentEval files only")
    return DataSpec(source=source, name=name, first=first, last=last, max_sentences=max_s, lang=value.get("lang"),
                    trees=trees, format=fmt, split=split, skip_invalid=skip, role=role)


def _check_kinds(kinds, path, key: str) -> None:
    accepted = f"expected a list drawn from {', '.join(PROBE_KINDS)}"
    if isinstance(kinds, str):  # kinds = "mlp": the value is right, the brackets are missing
        raise ConfigError(path, key, f'got the string "{kinds}"; {accepted}, e.g. kinds = ["{kinds}"]')
    _expect(isinstance(kinds, list) and kinds, path, key, f"{accepted} (got {kinds!r})")
    for k in kinds:
        _expect(isinstance(k, str) and k in PROBE_KINDS, path, key,
                f"unknown probe kind {k!r}{_did_you_mean(k, PROBE_KINDS)}; {accepted}")


def _task_name(name: str, train: DataSpec, path, key: str) -> str:
    """``edges`` / ``senteval`` alone take their task name from the training file."""
    from probes.tasks.external import PREFIXES, task_name_from_file

    if name in PREFIXES:
        _expect(not train.source.startswith("ud:"), path, key, f"{name}: name the task {name}:<name>")
        return task_name_from_file(name, train.source)
    return name


def parse_config(data: dict, *, path: Path | str = "<config>", base: Optional[Path] = None,
                 check_files: bool = True) -> ExperimentConfig:
    """Validate a config dict (from TOML); every error names the key and what is expected."""
    base = base or Path(".")
    _check_keys(data, {"name", "seeds", "models", "tasks", "probe", "device", "cache_dir", "similarity", "amnesic",
                       "shard_sentences"},
                path, "")
    name = data.get("name")
    _expect(isinstance(name, str) and re.fullmatch(r"[\w.\-]+", name or ""), path, "name",
            "expected a name of letters, digits, '.', '_' or '-'")
    seeds = data.get("seeds", [0])
    _expect(isinstance(seeds, list) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)
            and len(set(seeds)) == len(seeds), path, "seeds", "expected a non-empty list of distinct non-negative integers")

    models_raw = data.get("models")
    _expect(isinstance(models_raw, list) and models_raw, path, "models",
            "expected at least one [[models]] table with name and source")
    models = []
    for i, m in enumerate(models_raw):
        key = f"models[{i}]"
        _expect(isinstance(m, dict), path, key, "expected a table")
        _check_keys(m, {"name", "source", "layers", "pooling", "batch_size", "trust_remote_code", "multiword",
                        "dtype", "device_map", "quantization"}, path, f"{key}.")
        _expect(isinstance(m.get("name"), str) and re.fullmatch(r"[\w.\-]+", m.get("name") or ""), path,
                f"{key}.name", "expected a name of letters, digits, '.', '_' or '-'")
        _expect(isinstance(m.get("source"), str) and m["source"], path, f"{key}.source",
                "expected a Hugging Face hub id or a local model directory")
        source = m["source"]
        local = Path(source).expanduser()
        if not local.is_absolute() and (base / local).exists():
            source = str((base / local).resolve())
        if check_files:  # a local folder without a model is found now, not after the data sets are read
            from probes.encoders import check_model_dir

            try:
                check_model_dir(source)
            except ProbesError as exc:
                raise ConfigError(path, f"{key}.source", str(exc)) from None
        layers = m.get("layers")
        _expect(layers is None or (isinstance(layers, list) and layers
                                   and all(isinstance(x, int) and x >= 0 for x in layers)),
                path, f"{key}.layers", "expected a non-empty list of layer numbers (0 = embeddings)")
        pooling = m.get("pooling", "mean")
        _expect_choice(pooling, POOLINGS, path, f"{key}.pooling", "pooling")
        bs = m.get("batch_size", 32)
        _expect(isinstance(bs, int) and bs > 0, path, f"{key}.batch_size", "expected a positive integer")
        trc = m.get("trust_remote_code", False)
        _expect(isinstance(trc, bool), path, f"{key}.trust_remote_code", "expected true or false")
        mw = m.get("multiword", "split")
        _expect_choice(mw, ("split", "token"), path, f"{key}.multiword", "multiword mode",
                       " (split: each word of a multiword token on its own characters, where its form is found "
                       "there; token: every word on the token's vector)")
        models.append(ModelSpec(m["name"], source, layers, pooling, bs, trc, mw, *_load_options(m, path, key)))
    names = [m.name for m in models]
    _expect(len(set(names)) == len(names), path, "models", "model names must be distinct")

    tasks_raw = data.get("tasks")
    _expect(isinstance(tasks_raw, list) and tasks_raw, path, "tasks",
            "expected at least one [[tasks]] table with name, train and test")
    tasks = []
    for i, t in enumerate(tasks_raw):
        key = f"tasks[{i}]"
        _expect(isinstance(t, dict), path, key, "expected a table")
        _check_keys(t, {"name", "train", "dev", "test", "max_train_sentences", "lang", "options", "kinds"}, path,
                    f"{key}.")
        _expect(isinstance(t.get("name"), str) and t["name"], path, f"{key}.name", "expected a task name (see `probes tasks`)")
        _expect("train" in t, path, f"{key}.train", "missing: expected the training data file")
        _expect("test" in t, path, f"{key}.test", "missing: expected one or more test data files")
        train = _data_spec(t["train"], base, path, f"{key}.train", check_files, "train")
        mts = t.get("max_train_sentences")
        _expect(mts is None or (isinstance(mts, int) and mts > 0), path, f"{key}.max_train_sentences",
                "expected a positive integer")
        if mts:
            train.max_sentences = mts
        dev = _data_spec(t["dev"], base, path, f"{key}.dev", check_files, "dev") if t.get("dev") else None
        tests_raw = t["test"] if isinstance(t["test"], list) else [t["test"]]
        _expect(bool(tests_raw), path, f"{key}.test", "expected one or more test data files")
        tests = [_data_spec(v, base, path, f"{key}.test[{j}]", check_files) for j, v in enumerate(tests_raw)]
        test_names = [d.name for d in tests]
        dupes = sorted({n for n in test_names if test_names.count(n) > 1})
        _expect(not dupes, path, f"{key}.test", f"two test sets share the name {dupes[:1]}; "
                "give them distinct names with a table {path = ..., name = ...}")
        task_name = _task_name(t["name"], train, path, f"{key}.name")
        _expect_file_name(task_name.replace(":", "_"), path, f"{key}.name")
        options = t.get("options", {})
        _expect(isinstance(options, dict), path, f"{key}.options", "expected a table of task options")
        from probes.tasks.registry import get_spec, resolve_options

        try:
            spec = get_spec(task_name)
        except ProbesError as exc:  # names the task, the closest known name and the catalogue
            raise ConfigError(path, f"{key}.name", str(exc)) from None
        try:  # an unknown option is named with the closest one and the task's options
            resolve_options(spec, options)
        except ProbesError as exc:
            raise ConfigError(path, f"{key}.options", str(exc)) from None
        task_kinds = t.get("kinds")
        if task_kinds is not None:
            _check_kinds(task_kinds, path, f"{key}.kinds")
        tasks.append(TaskSpec(task_name, train, tests, dev, dict(options), task_kinds))

    probe_raw = data.get("probe", {})
    _expect(isinstance(probe_raw, dict), path, "probe", "expected a [probe] table")
    _check_keys(probe_raw, {"kinds", "control", "random_init", "random_init_seeds", "bootstrap", "rank", "options"},
                path, "probe.")
    kinds = probe_raw.get("kinds", ["linear"])
    _check_kinds(kinds, path, "probe.kinds")
    control = probe_raw.get("control", True)
    _expect(isinstance(control, bool), path, "probe.control", "expected true or false")
    random_init = probe_raw.get("random_init", True)
    _expect(isinstance(random_init, bool), path, "probe.random_init", "expected true or false")
    ri_seeds = probe_raw.get("random_init_seeds", False)
    _expect(isinstance(ri_seeds, bool), path, "probe.random_init_seeds",
            "expected true (a random-init model per seed) or false (one, drawn with seed 0)")
    boot = probe_raw.get("bootstrap", 1000)
    _expect(isinstance(boot, int) and boot >= 0, path, "probe.bootstrap", "expected the number of bootstrap resamples (0 = none)")
    rank = probe_raw.get("rank", 64)
    _expect(isinstance(rank, int) and rank > 0, path, "probe.rank", "expected a positive integer")
    options = probe_raw.get("options", {})
    _expect(isinstance(options, dict), path, "probe.options", "expected a table of probe hyper-parameters")
    if options:
        from probes.probing.api import probe_parameters

        known: set[str] = set()
        for k in set(kinds).union(*[t.kinds or [] for t in tasks]):
            known |= probe_parameters("linear" if k in ("mdl", "neurons", "conditional") else k)
            if k == "structural":
                known |= probe_parameters("structural-depth")
        if "conditional" in set(kinds).union(*[t.kinds or [] for t in tasks]):
            known.add("conditional_on")
            if "conditional_on" in options:
                _check_conditional_on(options["conditional_on"], models, path)
        for key in options:
            _expect(key in known, path, f"probe.options.{key}",
                    f"no probe kind of this study ({', '.join(kinds)}) takes it{_did_you_mean(key, sorted(known))}; "
                    f"they take {', '.join(sorted(known))}")

    device = data.get("device", "auto")
    _expect(isinstance(device, str) and bool(_DEVICE.fullmatch(device)), path, "device",
            f"unknown device {device!r}{_did_you_mean(device, ('auto', 'cpu', 'cuda', 'mps'))}; "
            "expected auto, cpu, cuda, cuda:N or mps")
    cache_dir = data.get("cache_dir")
    _expect(cache_dir is None or isinstance(cache_dir, str), path, "cache_dir", "expected a directory path")
    cache = None
    if cache_dir:
        cache = Path(cache_dir).expanduser()
        cache = cache if cache.is_absolute() else base / cache
    return ExperimentConfig(name=name, models=models, tasks=tasks,
                            probe=ProbeSpec(kinds, control, random_init, boot, rank, options, ri_seeds),
                            seeds=seeds, device=device, cache_dir=cache, path=Path(path), raw=data,
                            similarity=_similarity_spec(data.get("similarity", {}), path),
                            amnesic=_amnesic_spec(data.get("amnesic"), tasks, path),
                            shard_sentences=_shard_sentences(data.get("shard_sentences"), path))


def _shard_sentences(raw: Any, path) -> Optional[int]:
    from probes.extract.shards import check_shard_size

    if raw is None:
        return None
    why = check_shard_size(raw)
    _expect(why is None, path, "shard_sentences", why or "")
    return raw


def _load_options(m: dict, path, key: str) -> tuple:
    """A [[models]] table's dtype, device_map and quantization (see probes.extract.load_options)."""
    from probes.extract.load_options import DTYPES, QUANTIZATIONS, check_device_map

    dtype = m.get("dtype", "float32")
    _expect_choice(dtype, DTYPES, path, f"{key}.dtype", "dtype",
                   " (bfloat16 loads the weights in half the memory of float32)")
    try:
        device_map = check_device_map(m.get("device_map"), "device_map")
    except ProbesError as exc:
        raise ConfigError(path, f"{key}.device_map", str(exc).removeprefix("device_map: ")) from None
    quantization = m.get("quantization")
    if quantization is not None:
        _expect_choice(quantization, QUANTIZATIONS, path, f"{key}.quantization", "quantization",
                       " (bitsandbytes' LLM.int8 or NF4; CUDA GPUs only)")
    return dtype, device_map, quantization


def _amnesic_spec(raw: Any, tasks: list, path) -> Optional[AmnesicSpec]:
    if raw is None:
        return None
    _expect(isinstance(raw, dict), path, "amnesic", "expected an [amnesic] table with task and layers")
    _check_keys(raw, {"task", "layers", "lm_loss", "other_tasks"}, path, "amnesic.")
    names = [t.name for t in tasks]
    task = raw.get("task")
    _expect(isinstance(task, str) and task in names, path, "amnesic.task",
            f"expected the name of one of this study's tasks ({', '.join(names)}), got {task!r}"
            f"{_did_you_mean(str(task), names)}")
    layers = raw.get("layers")
    _expect(isinstance(layers, list) and layers and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                                                        for x in layers),
            path, "amnesic.layers", "expected a non-empty list of layer numbers (0 = embeddings)")
    lm = raw.get("lm_loss", True)
    _expect(isinstance(lm, bool), path, "amnesic.lm_loss", "expected true or false")
    other = raw.get("other_tasks", True)
    if not isinstance(other, bool):
        from probes.tasks.registry import get_spec

        others = [n for n in names if n != task]
        _expect(isinstance(other, list) and all(isinstance(x, str) for x in other), path, "amnesic.other_tasks",
                "expected true (every other token task), false (none) or a list of task names")
        for x in other:
            _expect(x in others, path, "amnesic.other_tasks", f"expected names of this study's other tasks "
                    f"({', '.join(others) or 'none'}), got {x!r}{_did_you_mean(x, others)}")
            _expect(get_spec(x).kind == "token", path, "amnesic.other_tasks",
                    f"{x} is a {get_spec(x).kind} task; the erased model's later layers are probed for token tasks")
        other = list(dict.fromkeys(other))
    return AmnesicSpec(task, list(dict.fromkeys(layers)), lm, other)


def _similarity_spec(raw: Any, path) -> SimilaritySpec:
    from analysis.transfer import CKA_ESTIMATORS

    _expect(isinstance(raw, dict), path, "similarity", "expected a [similarity] table")
    _check_keys(raw, {"estimator", "permutations"}, path, "similarity.")
    estimator = raw.get("estimator", "debiased")
    _expect_choice(estimator, CKA_ESTIMATORS, path, "similarity.estimator", "estimator",
                   " (debiased: unbiased HSIC; biased: the plug-in estimator)")
    perms = raw.get("permutations", 200)
    _expect(isinstance(perms, int) and not isinstance(perms, bool) and perms >= 0, path, "similarity.permutations",
            "expected the number of shuffled pairings for the null band (0 = none)")
    return SimilaritySpec(estimator, perms)


def load_config(path: str | Path, *, check_files: bool = True) -> ExperimentConfig:
    """Read and validate a TOML config; relative paths are relative to the config file."""
    path = Path(path)
    if not path.is_file():
        raise ProbesError(f"{path}: config file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProbesError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ProbesError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_config(data, path=path, base=path.parent.resolve(), check_files=check_files)
