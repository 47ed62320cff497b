"""The task catalogue: every task's name, kind, metric, baseline and builder, and ``build_task``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from probes.errors import ProbesError
from probes.records import Sentence
from probes.tasks import control, edge, sentence, structural, token
from probes.tasks.base import TaskData, TaskKind
from probes.tasks.baselines import majority_baseline

UNSEEN_LABEL = "label id -1, counted in TaskData.unseen, listed in notes, scored as wrong"
CONTROL_SUFFIX = ":control"

Builder = Callable[[Sequence[Sentence], Optional[TaskData], int], TaskData]


@dataclass(frozen=True)
class TaskSpec:
    """What a task is: how to build it, what it is scored with, what it is compared against."""

    name: str
    kind: TaskKind
    metric: str
    description: str
    build: Builder
    baseline: Callable[[TaskData, TaskData], float] = majority_baseline
    baseline_name: str = "majority class of the training labels"
    unseen: str = UNSEEN_LABEL


def _token(name: str, description: str) -> TaskSpec:
    return TaskSpec(name, "token", "accuracy", description,
                    lambda s, train, seed: token.build_token_task(name, s, train=train))


def _token_control(task: str) -> TaskSpec:
    return TaskSpec(f"{task}{CONTROL_SUFFIX}", "token", "accuracy",
                    f"control of {task}: one label per word type, drawn from {task}'s label distribution",
                    lambda s, train, seed: control.build_token_control(task, s, train=train, seed=seed),
                    unseen="cannot occur: control labels are drawn from the training class list")


def _sentence(name: str, description: str) -> TaskSpec:
    return TaskSpec(name, "sentence", "accuracy", description,
                    lambda s, train, seed: sentence.build_sentence_task(name, s, train=train))


_NOT_CLASSES = "none: regression targets"
SPECS: dict[str, TaskSpec] = {spec.name: spec for spec in [
    _token("upos", "universal part of speech of each word (UD UPOS)"),
    _token("xpos", "language-specific part of speech of each word (UD XPOS)"),
    _token("deprel", "dependency relation of each word to its head (UD DEPREL, subtypes kept)"),
    _token("udeprel", "universal dependency relation of each word (UD DEPREL without the :subtype), for cross-lingual use"),
    TaskSpec("dep-arc", "edge", "accuracy",
             "edge probing: DEPREL of each (head, dependent) arc; the root, which has no head word, is left out",
             lambda s, train, seed: edge.build_dep_arc(s, train=train)),
    TaskSpec("ner", "span", "macro_f1",
             "edge probing: type of each gold named-entity span (spaCy entities or BIO tags in MISC NE=)",
             lambda s, train, seed: edge.build_ner(s, train=train)),
    TaskSpec("distance", "distance", "uuas",
             "structural probe: pairwise dependency-tree distances (UUAS, DSpr); punctuation marked",
             lambda s, train, seed: structural.build_distance(s, train=train),
             baseline_name="linear chain UUAS (each word linked to the next)", unseen=_NOT_CLASSES),
    TaskSpec("depth", "depth", "nspr",
             "structural probe: depth of each word in the dependency tree, root = 0 (NSpr, root accuracy)",
             lambda s, train, seed: structural.build_depth(s, train=train),
             baseline_name="NSpr of depth = word position", unseen=_NOT_CLASSES),
    _sentence("sentlen", "sentence length in words, SentEval bins 5-8 .. 26-28 plus 1-4 and 29+"),
    _sentence("treedepth", "depth of the deepest word of the dependency tree (root = 0; 12+ pooled)"),
    _sentence("tense", "tense of the main clause (finite aux/cop of the root, else the root's Tense)"),
    _sentence("subjnum", "grammatical Number of the root's nominal subject (nsubj)"),
    _sentence("objnum", "grammatical Number of the root's direct object (obj)"),
    _sentence("bshift", "bigram shift: were two adjacent words swapped? (corpus from make_bigram_shift)"),
    _token_control("upos"), _token_control("xpos"), _token_control("deprel"), _token_control("udeprel"),
    TaskSpec("dep-arc:control", "edge", "accuracy",
             "control of dep-arc: attach to self / first / last word by word type, label drawn per type",
             lambda s, train, seed: control.build_dep_arc_control(s, train=train, seed=seed),
             unseen="cannot occur: control labels are drawn from the training class list"),
    TaskSpec("ner:control", "span", "macro_f1",
             "control of ner: each gold span labelled by a draw keyed on its words",
             lambda s, train, seed: control.build_ner_control(s, train=train, seed=seed),
             unseen="cannot occur: control labels are drawn from the training class list"),
]}


def get_spec(name: str) -> TaskSpec:
    """The TaskSpec of ``name`` (``feats:<Feature>`` and ``feats:<Feature>:control`` included)."""
    if name in SPECS:
        return SPECS[name]
    if name.startswith("feats:"):
        feat = name[len("feats:"):]
        if feat.endswith(CONTROL_SUFFIX):
            feat = feat[: -len(CONTROL_SUFFIX)]
            if feat:
                return _token_control(f"feats:{feat}")
        elif feat and ":" not in feat:
            return _token(name, f"morphological feature {feat} of each word ('none' when absent)")
    raise ProbesError(f"unknown task {name!r}; known: {', '.join(n for n, _ in list_tasks())}")


def list_tasks() -> list[tuple[str, str]]:
    """(name, one-line description) of every task, templates like ``feats:<Feature>`` included."""
    out = [(n, s.description) for n, s in SPECS.items()]
    at = [n for n, _ in out].index("dep-arc")
    out.insert(at, ("feats:<Feature>", "a UD morphological feature (feats:Number, feats:Tense, ...); "
                                       "words without it get the class 'none'"))
    out.append(("feats:<Feature>:control", "control of feats:<Feature>: one label per word type"))
    return out


def build_task(name: str, sentences: Sequence[Sentence], *, train: Optional[TaskData] = None,
               seed: int = 0) -> TaskData:
    """Build task ``name`` on a corpus; pass the training split's TaskData as ``train`` for eval sets."""
    if not sentences:
        raise ProbesError(f"task {name!r}: the corpus has no sentences")
    spec = get_spec(name)
    data = spec.build(list(sentences), train, seed)
    return data
