"""`probes tasks`: list the task catalogue, or build tasks on a corpus and show their size and baseline."""

from __future__ import annotations

import argparse

from probes.errors import ProbesError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tasks` sub-command."""
    p = subparsers.add_parser("tasks", help="list the probing tasks (or build them on a corpus)",
                              description="List the probing tasks with a one-line description each; with "
                                          "--data, build the named tasks on that corpus and print their size, "
                                          "classes and baseline.")
    p.add_argument("--data", help="corpus to build the tasks on (.conllu, .spacy, .txt or ud:NAME)")
    p.add_argument("--eval-data", help="evaluation corpus: built with the --data classes, unseen labels counted")
    p.add_argument("--task", action="append", default=None,
                   help="task to build (repeatable; default: upos, deprel, dep-arc, distance, depth)")
    p.add_argument("--lang", default=None, help="language of raw text input (spaCy tokenizer)")
    p.add_argument("--sentencize", action="store_true", help="raw text: split paragraphs into sentences")
    p.add_argument("--spacy-model", default=None, help="raw text: installed spaCy pipeline for silver labels")
    p.add_argument("--skip-invalid", action="store_true", help="skip malformed sentences and report them")
    p.add_argument("--trees", default=None, help="Penn Treebank file with one constituent tree per sentence of --data")
    p.add_argument("--format", default=None, help="reader format of --data (default: from the file name)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="task option (repeatable), e.g. window=0 or negatives=all for coref")
    p.add_argument("--seed", type=int, default=0, help="seed of control tasks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List or build tasks."""
    # Imported here: the registry pulls numpy and scipy, which `probes --help` must not wait for.
    from probes.tasks.registry import build_task, get_spec, list_tasks

    if not args.data:
        width = max(len(n) for n, _ in list_tasks())
        for name, desc in list_tasks():
            print(f"{name:<{width}}  {desc}")
        return 0
    from probes.readers import load_corpus

    names = args.task or ["upos", "deprel", "dep-arc", "distance", "depth"]
    for name in names:
        get_spec(name)  # fail on a bad name before reading any corpus
    read = dict(lang=args.lang, sentencize=args.sentencize, spacy_model=args.spacy_model,
                skip_invalid=args.skip_invalid)
    options = {}
    for item in args.option:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ProbesError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else \
            {"true": True, "false": False}.get(value.strip().lower(), value.strip())
    # An option is given to the named tasks that take it; one that none of them takes is refused.
    specs = {name: get_spec(name) for name in names}
    for key in options:
        if not any(key in spec.options for spec in specs.values()):
            from difflib import get_close_matches

            valid = sorted({k for spec in specs.values() for k in spec.options})
            close = get_close_matches(key, valid, n=1, cutoff=0.6)
            raise ProbesError(f"--option {key}: no task named here takes it"
                              + (f" (did you mean {close[0]}?)" if close else "")
                              + (f"; their options: " + ", ".join(
                                  f"{k} ({', '.join(n for n, sp in specs.items() if k in sp.options)})" for k in valid)
                                 if valid else f"; {', '.join(specs)} take{'s' if len(specs) == 1 else ''} no options"))
    train_sents = load_corpus(args.data, trees=args.trees, format=args.format, **read)
    eval_sents = load_corpus(args.eval_data, format=args.format, **read) if args.eval_data else None
    for name in names:
        spec = get_spec(name)
        opts = {k: v for k, v in options.items() if k in spec.options}
        train = build_task(name, train_sents, seed=args.seed, options=opts)
        data = build_task(name, eval_sents, train=train, seed=args.seed, options=opts) if eval_sents else train
        n = _n_items(data)
        line = (f"{name}: {spec.kind}, {n} items, {len(train.classes)} classes, metric {data.metric}, "
                f"baseline ({spec.baseline_name}) {spec.baseline(train, data):.4f}")
        if eval_sents is not None and spec.kind not in ("distance", "depth"):
            line += f", unseen {data.unseen}"
        print(line)
        for note in data.notes:
            print(f"  note: {note}")
    return 0


def _n_items(data) -> int:
    if data.kind in ("distance", "depth"):
        return int(data.sentence_offsets[-1])
    return int(len(data.y if data.y is not None else data.Y))
