"""`probes models`: the supported model families, how each is loaded and how words are pooled."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from probes.encoders.families import FAMILIES


def register(subparsers) -> None:
    """Add the `models` sub-command."""
    p = subparsers.add_parser("models", help="list the supported model families, their loading and word pooling",
                              description="List the supported model families: how each is loaded, its "
                                          "tokenizer convention, and how subwords are pooled into words.")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the family table."""
    if args.json:
        json.dump([asdict(f) for f in FAMILIES], sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    for f in FAMILIES:
        print(f.name)
        print(f"  --model    {f.example}")
        print(f"  loaded by  {f.loader}")
        print(f"  tokens     {f.tokenizer}")
        print(f"  pooling    {f.pooling}")
        print(f"  layers     {f.layers}")
        if f.model_types:
            print(f"  model_type {', '.join(f.model_types)}")
    print("\nAny other transformers model with hidden states may work through AutoModel; "
          "the families above are the ones the suite tests.")
    return 0
