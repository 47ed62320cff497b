"""The `probes` command line: each stage registers its own sub-commands here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from probes import __version__
from probes.errors import ProbesError

# Each module defines register(subparsers) and sets `func` on its parsers via set_defaults. They are
# imported for every `probes` call, --help and --version included, so they import nothing heavy
# (torch, transformers, numpy, pandas, sklearn) at module level: their commands do, when they run
# (tests/test_cli.py checks).
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


# Exit status after the reader of stdout went away (`probes models | head -1`): 128 + SIGPIPE, what a
# shell reports for a command killed by a closed pipe, so `set -o pipefail` scripts can tell that the
# output was cut short; nothing is printed (the reader asked for no more).
BROKEN_PIPE_STATUS = 141


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear message (no traceback) and exit with status 2."""
    try:
        try:
            return _main(argv)
        finally:  # --help and --version leave by SystemExit: flush for them too
            sys.stdout.flush()  # a closed pipe shows here at the latest, while it can still be caught
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_STATUS


def _silence_stdout() -> None:
    # As the Python docs recommend (signal module, "Note on SIGPIPE"): point stdout at devnull, so
    # that the interpreter's final flush at exit does not raise BrokenPipeError a second time.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or closed: nothing to redirect
        pass


def _main(argv: list[str] | None) -> int:
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
