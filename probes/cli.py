"""The `probes` command line: each stage registers its own sub-commands here."""

from __future__ import annotations

import argparse
import importlib
import sys

from probes import __version__
from probes.errors import ProbesError

# Each module defines register(subparsers) and sets `func` on its parsers via set_defaults.
COMMAND_MODULES = [
    "probes.extract.cli",       # extract, info, export
    "probes.tasks.cli",         # tasks
    "probes.experiment.cli",    # run, demo
    "analysis.cli",             # report
    "probes.encoders.cli",      # models
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every stage's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="probes",
        description="Probe pretrained language models layer by layer: extract -> probe -> analyze -> report.",
    )
    parser.add_argument("--version", action="version", version=f"probes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear message (no traceback) and exit with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except ProbesError as exc:
        print(f"probes {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"probes {args.command}: interrupted; cached work so far is kept and a re-run resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
