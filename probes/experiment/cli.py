"""`probes run CONFIG` and `probes demo`: whole studies from one command."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from probes.errors import ProbesError
from probes.experiment.config import load_config

if TYPE_CHECKING:  # pandas is heavy; `probes --help` imports this module, the commands import pandas
    import pandas as pd


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` and `demo` sub-commands."""
    p = subparsers.add_parser("run", help="run a probing study from a TOML config: extract -> probe -> analyze -> report")
    p.add_argument("config", help="the study's TOML config (see README: config reference)")
    p.add_argument("--out", help="output directory (default: runs/<name>)")
    p.add_argument("--cache-dir", help="where vectors and probe results are cached (default: $PROBES_CACHE or ~/.cache/probes)")
    p.add_argument("--plan", action="store_true",
                   help="dry run: the caches and probe jobs the study would compute, which are cached already, "
                        "and the disk each cache takes; nothing is extracted, fitted or written")
    _executor_options(p)
    _quiet_option(p)
    p.set_defaults(func=run_command)

    d = subparsers.add_parser("demo", help="the embedded default: the sample corpus, MiniLM (or a tiny random model), full report")
    d.add_argument("--out", default="demo-out", help="output directory (default: demo-out)")
    d.add_argument("--cache-dir", help="cache directory (default: $PROBES_CACHE or ~/.cache/probes)")
    _quiet_option(d)
    d.set_defaults(func=demo_command)


def _executor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where the jobs run: local (this process; one extraction process per GPU when "
                             "several are visible) or ray (a Ray cluster; needs probes[ray]) (default: local)")
    parser.add_argument("--address", help="the Ray cluster to join, e.g. ray://head:10001 or auto "
                                          "(default with --executor ray: a Ray instance on this machine)")
    parser.add_argument("--shard-sentences", type=int, metavar="N",
                        help="extract data sets of more than N sentences in shards of N, side by side "
                             "(0: never; default: the config's shard_sentences, else 8192 where extraction "
                             "runs in parallel and no shards otherwise)")


def _quiet_option(parser: argparse.ArgumentParser) -> None:
    # --no-progress: the option's older name, kept so that existing scripts go on working.
    parser.add_argument("-q", "--quiet", "--no-progress", dest="quiet", action="store_true",
                        help="no progress lines on stderr (warnings and the final summary only)")


def run_command(args: argparse.Namespace) -> int:
    """probes run CONFIG."""
    cfg = load_config(args.config)
    out = Path(args.out) if args.out else Path("runs") / cfg.name
    _check_shard_option(args)  # --plan too: a plan of shards the run would refuse is no plan
    if args.plan:
        return _plan(cfg, out, args)
    return _run(cfg, out, args)


def _plan(cfg, out: Path, args) -> int:
    """probes run CONFIG --plan."""
    from probes.experiment.executors import make_executor
    from probes.experiment.plan import plan_study
    from probes.experiment.runner import Experiment

    # The executor decides whether long data sets are sharded by default; a dry run joins no Ray cluster.
    executor = (_PlannedRay() if getattr(args, "executor", "local") == "ray"
                else make_executor("local", address=getattr(args, "address", None), device=cfg.device))
    exp = Experiment(cfg, out, cache_dir=Path(args.cache_dir) if args.cache_dir else None, progress=not args.quiet,
                     executor=executor, shard_sentences=getattr(args, "shard_sentences", None))
    exp.load_data()
    print("\n".join(plan_study(exp).lines()))
    return 0


class _PlannedRay:
    """What --plan needs of the Ray executor (extraction side by side, hence shards), without Ray."""

    name = "ray"
    parallel_extraction = True


def demo_command(args: argparse.Namespace) -> int:
    """probes demo."""
    from probes.experiment.demo import demo_config
    from probes.experiment.runner import default_cache_dir

    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    cfg = demo_config(cache)
    return _run(cfg, Path(args.out), args)


def _check_shard_option(args) -> Optional[int]:
    """--shard-sentences, refused when shards of that size cannot give the unsharded vectors."""
    shard = getattr(args, "shard_sentences", None)
    if shard is not None:
        from probes.extract.shards import check_shard_size

        why = check_shard_size(shard)
        if why:
            raise ProbesError(f"--shard-sentences: {why}")
    return shard


def _run(cfg, out: Path, args) -> int:
    from probes.experiment.executors import make_executor
    from probes.experiment.outdir import check_out_dir
    from probes.experiment.runner import Experiment

    check_out_dir(out)  # before any work: a folder of other files is never written into
    t0 = time.perf_counter()
    shard = _check_shard_option(args)
    executor = make_executor(getattr(args, "executor", "local"), address=getattr(args, "address", None),
                             device=cfg.device)
    try:
        outcome = Experiment(cfg, out, cache_dir=Path(args.cache_dir) if args.cache_dir else None,
                             progress=not args.quiet, executor=executor, shard_sentences=shard).run()
    finally:
        executor.close()
    print(summary_table(outcome.results))
    print(f"\n{cfg.name}: {len(outcome.results)} result rows in {time.perf_counter() - t0:.1f} s "
          f"(computed {outcome.extracted} vector caches and {outcome.probed} probe jobs, reused {outcome.reused})")
    print(f"report: {outcome.report}")
    return 0


def summary_table(results: pd.DataFrame) -> str:
    """Best layer per model, task, probe and evaluation set, with its 95% interval."""
    main = {"accuracy", "macro_f1", "micro_f1", "uuas", "dspr", "nspr", "root_acc"}
    df = results[results["metric"].isin(main) & (results["layer"] >= 0) & ~results["task"].str.endswith(":control")]
    if df.empty:
        return "(no per-layer scores)"
    # With several seeds, show the rows aggregated over seeds (seed -1) only.
    multi = df.groupby(["model", "task", "probe", "eval_set", "metric", "layer"])["seed"].transform("nunique") > 1
    df = df[~multi | (df["seed"] == -1)]
    lines = [f"{'model':<26} {'task':<10} {'probe':<20} {'eval':<16} {'metric':<9} best layer  score [95% CI]"]
    for key, g in df.groupby(["model", "task", "probe", "eval_set", "metric"], sort=False):
        best = g.loc[g["value"].idxmax()]
        lines.append(f"{key[0]:<26} {key[1]:<10} {key[2]:<20} {key[3]:<16} {key[4]:<9} {int(best['layer']):>10}  "
                     f"{best['value']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}]")
    return "\n".join(lines)
