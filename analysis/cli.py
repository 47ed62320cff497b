"""`probes report DIR`: re-render figures, tables and report.html from DIR/results.csv."""

from __future__ import annotations

import json
from pathlib import Path

from probes.errors import ProbesError


def register(subparsers) -> None:
    """Add the `report` sub-command."""
    p = subparsers.add_parser("report", help="re-render figures, tables and report.html from DIR/results.csv",
                              description="Re-render summary.csv, figures/, tables/ and report.html from DIR/results.csv "
                                          "(plus DIR/manifest.json and DIR/extras.json when present).")
    p.add_argument("dir", help="an experiment directory holding results.csv")
    p.add_argument("--out", help="write the report here instead of DIR")
    p.add_argument("--formats", default="png,svg,pdf",
                   help="figure formats (comma-separated from png, svg, pdf; default png,svg,pdf as a study writes; "
                        "the PNG is always written: report.html shows it)")
    p.add_argument("--paper-sizes", action="store_true",
                   help="also every figure at both paper widths, 3.3 in (one column) and 6.9 in (two columns), "
                        "as its vector formats in figures/paper/single-column/ and double-column/ (about twice "
                        "the drawing time)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--reference", metavar="CSV", help="also draw the published per-layer table "
                                                      "(e.g. ../shared/data/reference/tenney2019_cumulative_f1.csv)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Render the report; user errors raise ProbesError."""
    from analysis.reference import load_reference
    from analysis.report import load_extras, write_report
    from analysis.results import read_results
    from probes.progress import Progress

    d = Path(args.dir)
    if not d.is_dir():
        raise ProbesError(f"{d}: not a directory")
    results = read_results(d / "results.csv")
    manifest = None
    mpath = d / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ProbesError(f"{mpath}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(manifest, dict):
            raise ProbesError(f"{mpath}: expected a JSON object")
    extras = load_extras(d / "extras.json") if (d / "extras.json").is_file() else {}
    if args.reference:
        extras["reference"] = load_reference(args.reference)
    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad:
        raise ProbesError(f"--formats: unknown format(s) {bad}; choose from png, svg, pdf")
    out = Path(args.out) if args.out else d
    reporter = Progress(enabled=not args.quiet)
    reporter.say(f"[report]       {len(results)} result rows -> {out}")
    with reporter.stage("[report]"):
        path = write_report(results, out, manifest=manifest, extras=extras or None, formats=formats,
                            write_results=out.resolve() != d.resolve(), paper_sizes=args.paper_sizes)
    print(path)
    return 0
