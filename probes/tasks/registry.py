"""The task catalogue: every task's name, kind, metric, options, baseline and builder, and ``build_task``.

Every token, edge and span task ``T`` has a control task ``T:control`` (Hewitt & Liang 2019, see
``probes.tasks.control``). ``edges:<name>`` and ``senteval:<name>`` read their labels from the data
file (``probes.tasks.external``). Tasks may take options (``TaskSpec.options``: name -> (default,
what it does)), given in a config's ``[[tasks]] options = {...}`` or to ``build_task``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, Callable, Optional, Sequence

from probes.errors import ProbesError
from probes.records import Sentence
from probes.tasks import constituents, control, edge, external, mentions, sentence, srl, structural, token
from probes.tasks.base import TaskData, TaskKind
from probes.tasks.baselines import majority_baseline

UNSEEN_LABEL = "label id -1, counted in TaskData.unseen, listed in notes, scored as wrong"
CONTROL_SUFFIX = ":control"
CONTROL_UNSEEN = "cannot occur: control labels are drawn from the training class list"

# build(sentences, train TaskData or None, seed, options) -> TaskData
Builder = Callable[[Sequence[Sentence], Optional[TaskData], int, dict], TaskData]


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
    options: dict[str, tuple[Any, str]] = field(default_factory=dict)
    # The row of Tenney et al.'s Figures 1 and 2 this task stands for (None: not one of the eight).
    pipeline_row: Optional[str] = None


def _token(name: str, description: str, row: Optional[str] = None) -> TaskSpec:
    return TaskSpec(name, "token", "accuracy", description,
                    lambda s, train, seed, o: token.build_token_task(name, s, train=train), pipeline_row=row)


def _sentence(name: str, description: str) -> TaskSpec:
    return TaskSpec(name, "sentence", "accuracy", description,
                    lambda s, train, seed, o: sentence.build_sentence_task(name, s, train=train))


_NOT_CLASSES = "none: regression targets"
_COREF_OPTIONS = {
    "window": (0, "largest sentence distance between the two mentions of a pair (0 = the same sentence, "
                  "as Tenney et al.)"),
    "negatives": ("all", "non-coreferent pairs drawn per coreferent pair, or \"all\" for every candidate pair"),
}
SPECS: dict[str, TaskSpec] = {spec.name: spec for spec in [
    _token("upos", "universal part of speech of each word (UD UPOS)", "POS"),
    _token("xpos", "language-specific part of speech of each word (UD XPOS, PTB tags)", "POS"),
    _token("deprel", "dependency relation of each word to its head (UD DEPREL, subtypes kept)", "Deps."),
    _token("udeprel", "universal dependency relation of each word (UD DEPREL without the :subtype), for cross-lingual use",
           "Deps."),
    TaskSpec("dep-arc", "edge", "accuracy",
             "edge probing: DEPREL of each (head, dependent) arc; the root, which has no head word, is left out",
             lambda s, train, seed, o: edge.build_dep_arc(s, train=train), pipeline_row="Deps."),
    TaskSpec("consts", "span", "accuracy",
             "edge probing: non-terminal label of each constituent span (PTB trees, CoNLL-2012 parse bits)",
             lambda s, train, seed, o: constituents.build_consts(s, train=train, unary=o["unary"]),
             options={"unary": ("top", "a unary chain's span takes its outermost (top) or innermost (bottom) label")},
             pipeline_row="Consts."),
    TaskSpec("ner", "span", "macro_f1",
             "edge probing: type of each gold named-entity span (spaCy entities, BIO tags in MISC NE=, CoNLL-2012 NE)",
             lambda s, train, seed, o: edge.build_ner(s, train=train), pipeline_row="Entities"),
    TaskSpec("entities", "span", "accuracy",
             "edge probing: entity type of each mention span (CorefUD / GUM Entity=: person, place, ...)",
             lambda s, train, seed, o: mentions.build_entities(s, train=train), pipeline_row="Entities"),
    TaskSpec("infstat", "span", "accuracy",
             "edge probing: information status of each mention span (GUM: new, giv, acc, ...)",
             lambda s, train, seed, o: mentions.build_infstat(s, train=train, subtypes=o["subtypes"]),
             options={"subtypes": (False, "keep GUM's subtypes (giv:act, acc:inf) instead of the base status")}),
    TaskSpec("srl", "edge", "accuracy",
             "edge probing: semantic role of each (predicate, argument head) pair (Universal PropBank; ARG0 = A0)",
             lambda s, train, seed, o: srl.build_srl(s, train=train), pipeline_row="SRL"),
    TaskSpec("srl:core", "edge", "accuracy",
             "srl restricted to the core roles ARG0-ARG5 (modifiers, R- and C- arguments left out)",
             lambda s, train, seed, o: srl.build_srl(s, train=train, core_only=True, name="srl:core"),
             pipeline_row="SRL"),
    TaskSpec("srl-spans", "span", "accuracy",
             "edge probing: role of each (predicate span, argument span) pair (span-based SRL: CoNLL-2012, jiant)",
             lambda s, train, seed, o: srl.build_srl_spans(s, train=train), pipeline_row="SRL"),
    TaskSpec("coref", "span", "positive_f1",
             "edge probing: do two mentions corefer? mention pairs of a sentence (or a document window), F1 of the positive class",
             lambda s, train, seed, o: mentions.build_coref(s, train=train, window=o["window"],
                                                            negatives=o["negatives"], seed=seed),
             baseline_name="majority class of the training pairs (F1 of the positive class)",
             options=_COREF_OPTIONS, pipeline_row="Coref."),
    TaskSpec("distance", "distance", "uuas",
             "structural probe: pairwise dependency-tree distances (UUAS, DSpr); punctuation marked",
             lambda s, train, seed, o: structural.build_distance(s, train=train),
             baseline_name="linear chain UUAS (each word linked to the next)", unseen=_NOT_CLASSES),
    TaskSpec("depth", "depth", "nspr",
             "structural probe: depth of each word in the dependency tree, root = 0 (NSpr, root accuracy)",
             lambda s, train, seed, o: structural.build_depth(s, train=train),
             baseline_name="NSpr of depth = word position", unseen=_NOT_CLASSES),
    _sentence("sentlen", "sentence length in words, SentEval bins 5-8 .. 26-28 plus 1-4 and 29+"),
    _sentence("treedepth", "depth of the deepest word of the dependency tree (root = 0; 12+ pooled)"),
    _sentence("tense", "tense of the main clause (finite aux/cop of the root, else the root's Tense)"),
    _sentence("subjnum", "grammatical Number of the root's nominal subject (nsubj)"),
    _sentence("objnum", "grammatical Number of the root's direct object (obj)"),
    _sentence("bshift", "bigram shift: were two adjacent words swapped? (corpus from make_bigram_shift)"),
]}
TEMPLATES = [
    ("feats:<Feature>", "a UD morphological feature (feats:Number, feats:Tense, ...); words without it get the class 'none'"),
    ("edges:<name>", "the targets of a jiant edge-probing JSON file (SPR, relations, ... ; one or two spans, "
                     "multi-label allowed); name 'edges' alone takes <name> from the training file"),
    ("senteval:<name>", "the labels of a SentEval probing file (SentLen, WC, TopConst, SOMO, CoordInv, ...); name "
                        "'senteval' alone takes <name> from the training file"),
    ("<task>:control", "control task of any token, edge or span task (Hewitt & Liang 2019)"),
]
PAPER_ROWS = ["POS", "Consts.", "Deps.", "Entities", "SRL", "Coref.", "SPR", "Relations"]


def _control(base: TaskSpec) -> TaskSpec:
    name = f"{base.name}{CONTROL_SUFFIX}"
    if base.kind == "token":
        build = lambda s, train, seed, o: control.build_token_control(base.name, s, train=train, seed=seed)  # noqa: E731
        what = f"control of {base.name}: one label per word type, drawn from {base.name}'s label distribution"
    elif base.name == "dep-arc":
        build = lambda s, train, seed, o: control.build_dep_arc_control(s, train=train, seed=seed)  # noqa: E731
        what = "control of dep-arc: attach to self / first / last word by word type, label drawn per type"
    else:
        def build(s, train, seed, o):
            return control.build_item_control(base.name, base.build(s, None, seed, o), s, train=train, seed=seed)
        what = f"control of {base.name}: its items, each labelled by a draw keyed on the item's words"
    return TaskSpec(name, base.kind, base.metric, what, build, unseen=CONTROL_UNSEEN, options=base.options)


def _file_task(name: str) -> Optional[TaskSpec]:
    prefix, _, rest = name.partition(":")
    if prefix not in external.PREFIXES or not rest or ":" in rest:
        return None
    if prefix == "edges":
        return TaskSpec(name, "span", "accuracy", f"targets of the jiant file of {rest}",
                        lambda s, train, seed, o: external.build_edges(s, train=train, name=name))
    return TaskSpec(name, "sentence", "accuracy", f"labels of the SentEval file of {rest}",
                    lambda s, train, seed, o: external.build_senteval(s, train=train, name=name))


def _base_spec(name: str) -> Optional[TaskSpec]:
    if name in SPECS:
        return SPECS[name]
    if name.startswith("feats:"):
        feat = name[len("feats:"):]
        if feat and ":" not in feat:
            return _token(name, f"morphological feature {feat} of each word ('none' when absent)", None)
    return _file_task(name)


def known_names() -> list[str]:
    """Every concrete task name (without templates), for suggestions."""
    return list(SPECS) + [f"{n}{CONTROL_SUFFIX}" for n, s in SPECS.items() if s.kind in ("token", "edge", "span")]


def get_spec(name: str) -> TaskSpec:
    """The TaskSpec of ``name``: catalogue names, ``feats:<F>``, ``edges:<n>``, ``senteval:<n>`` and controls."""
    spec = _base_spec(name)
    if spec is not None:
        return spec
    if name.endswith(CONTROL_SUFFIX):
        base = _base_spec(name[: -len(CONTROL_SUFFIX)])
        if base is not None and base.kind in ("token", "edge", "span"):
            return _control(base)
    close = get_close_matches(name, known_names(), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ProbesError(f"unknown task {name!r}{hint}; known: {', '.join(n for n, _ in list_tasks())}")


def list_tasks() -> list[tuple[str, str]]:
    """(name, one-line description) of every task, templates like ``feats:<Feature>`` included."""
    def describe(s: TaskSpec) -> str:
        opts = ", ".join(f"{k} = {v[0]!r}".replace("'", '"') for k, v in s.options.items())
        return s.description + (f" (options: {opts})" if opts else "")

    out = [(n, describe(s)) for n, s in SPECS.items()]
    at = [n for n, _ in out].index("dep-arc")
    out.insert(at, TEMPLATES[0])
    out += TEMPLATES[1:]
    return out


def resolve_options(spec: TaskSpec, options: Optional[dict]) -> dict:
    """The task's options with defaults filled in; an unknown option is an error naming the allowed ones."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(f"{k} (default {v[0]!r}: {v[1]})" for k, v in spec.options.items()) or "none"
        close = get_close_matches(unknown[0], list(spec.options), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ProbesError(f"task {spec.name!r}: unknown option {unknown[0]!r}{hint}; its options: {allowed}")
    return {k: options.get(k, default) for k, (default, _) in spec.options.items()}


def build_task(name: str, sentences: Sequence[Sentence], *, train: Optional[TaskData] = None,
               seed: int = 0, options: Optional[dict] = None) -> TaskData:
    """Build task ``name`` on a corpus; pass the training split's TaskData as ``train`` for eval sets."""
    if not sentences:
        raise ProbesError(f"task {name!r}: the corpus has no sentences")
    spec = get_spec(name)
    return spec.build(list(sentences), train, seed, resolve_options(spec, options))


def pipeline_rank(task: str) -> int:
    """Position of a task's row in Tenney et al.'s Figure 1 order (POS ... Relations); others after."""
    base = task[: -len(CONTROL_SUFFIX)] if task.endswith(CONTROL_SUFFIX) else task
    try:
        row = get_spec(base).pipeline_row
    except ProbesError:
        row = None
    if row is None and base in PAPER_ROWS:  # a table that already uses the paper's row labels
        row = base
    if row is None:
        low = base.lower()
        row = next((r for key, r in (("spr", "SPR"), ("rel", "Relations"), ("semeval", "Relations"),
                                     ("tacred", "Relations"), ("coref", "Coref."), ("srl", "SRL"),
                                     ("ner", "Entities"), ("entit", "Entities"), ("const", "Consts."),
                                     ("dep", "Deps."), ("pos", "POS")) if key in low), None)
    return PAPER_ROWS.index(row) if row in PAPER_ROWS else len(PAPER_ROWS)
