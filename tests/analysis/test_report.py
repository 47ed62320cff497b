"""The report: files written, every figure and table embedded, no external URLs; `probes report DIR`."""

import base64
import html
import json
import re

import pandas as pd
import pytest

from analysis.report import write_report
from analysis.results import read_results
from probes import cli
from probes.records import RESULT_COLUMNS
from tests.analysis.synthetic import EXPECTED, MODEL, make_results_table, make_structural_extra

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|ftp:)?//|url\(\s*["']?\s*(?:https?:)?//|@import|<script|<link""", re.I)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    cka = pd.DataFrame([{"model": MODEL, "layer": l, "lang_a": "en", "lang_b": "de", "cka": 0.4 + 0.1 * l} for l in range(5)])
    path = write_report(make_results_table(), out, config={"name": "demo-run", "probe": {"kind": "linear"}},
                        manifest={"versions": {"torch": "9.9-test"}},
                        extras={"structural": [make_structural_extra()], "cka": cka, "sentence_scores": [
                            {"model": MODEL, "task": "upos", "probe": "linear", "eval_set": "en_ewt-ud-test", "layer": l,
                             "scores": [l + 1, 2, 3], "weights": [4, 4, 4]} for l in range(3)]},
                        formats=("png", "svg"))
    return out, path


def test_report_writes_results_summary_figures_tables(report):
    out, path = report
    assert path == out / "report.html"
    back = read_results(out / "results.csv")
    assert len(back) == len(make_results_table()) and list(back.columns) == RESULT_COLUMNS
    summary = pd.read_csv(out / "summary.csv")
    cum = summary[(summary.task == "upos") & (summary.probe == "cumulative")]
    assert cum["expected_layer"].iloc[0] == pytest.approx(EXPECTED["upos"]["expected_layer"], abs=1e-5)
    sel = pd.read_csv(out / "selectivity.csv")
    assert sel[(sel.task == "upos") & (sel.layer == 1)]["selectivity"].iloc[0] == pytest.approx(0.25)
    agg = pd.read_csv(out / "aggregated.csv")
    assert len(agg[(agg.model == MODEL) & (agg.task == "upos") & (agg.probe == "linear") & (agg.layer == 0)]) == 5
    exp = pd.read_csv(out / "expected_layers.csv").set_index("task")
    assert exp.loc["deprel", "center_of_gravity"] == pytest.approx(2.45)
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    svgs = sorted(p.stem for p in (out / "figures").glob("*.svg"))
    assert pngs == svgs
    assert {f"{MODEL}-fig1-expected-layers", f"{MODEL}-fig2-layer-weights", f"{MODEL}-layer-curves",
            f"{MODEL}-heatmap-linear", f"{MODEL}-selectivity", f"{MODEL}-mdl-codelength",
            f"{MODEL}-transfer", f"{MODEL}-zero-shot-en",
            f"{MODEL}-cka"} <= set(pngs)
    assert any(p.startswith("structural-") for p in pngs)
    md = sorted(p.stem for p in (out / "tables").glob("*.md"))
    assert md == sorted(p.stem for p in (out / "tables").glob("*.tex"))
    assert "layer-significance" in md
    assert f"{MODEL}-summary" in md and f"{MODEL}-transfer-gap" in md
    tex = (out / "tables" / f"{MODEL}-expected-layers.tex").read_text()
    assert "\\toprule" in tex and "1.533" in tex and "eval\\_set" in tex
    gap = (out / "tables" / f"{MODEL}-transfer-gap.md").read_text()
    assert "| upos | linear | accuracy | 2 | en | 0.110 | 0.090 | 0.360 |" in gap  # layer 2: .91 - .80, .91 - .82, .91 - .55


def test_report_html_is_self_contained_and_complete(report):
    out, path = report
    page = path.read_text(encoding="utf-8")
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    figures = sorted((out / "figures").glob("*.png"))
    assert len(imgs) == len(figures)
    embedded = {base64.b64decode(i) for i in imgs}
    assert all(f.read_bytes() in embedded for f in figures)
    assert page.count('class="displacy"') == 2  # gold and predicted trees, inline SVG
    for name in [p.stem for p in (out / "tables").glob("*.md")]:
        caption = (out / "tables" / f"{name}.md").read_text().splitlines()[0].strip("*")
        assert html.escape(caption) in page, name
    assert page.count('<table class="tbl sortable"') == len(list((out / "tables").glob("*.md")))
    assert "demo-run" in page and "9.9-test" in page and "matplotlib" in page
    assert "<title>demo-run</title>" in page


def test_extras_are_saved_and_drawn_again_on_rerender(report, tmp_path, capsys):
    out, _ = report
    extras = json.loads((out / "extras.json").read_text())
    assert extras["structural"][0]["words"][1] == "cat" and len(extras["cka"]) == 5
    assert cli.main(["report", str(out), "--out", str(tmp_path), "--formats", "png"]) == 0, capsys.readouterr().err
    page = (tmp_path / "report.html").read_text()
    assert page.count('class="displacy"') == 2 and "Linear CKA between languages" in page and "Paired bootstrap over sentences" in page
    assert (tmp_path / "results.csv").read_bytes() == (out / "results.csv").read_bytes()


def test_probes_report_from_results_csv_alone(tmp_path, capsys):
    make_results_table().to_csv(tmp_path / "results.csv", index=False)
    before = (tmp_path / "results.csv").read_bytes()
    (tmp_path / "manifest.json").write_text(json.dumps({"config": {"name": "from-manifest"}, "versions": {"probes": "0.1.0"}}))
    assert cli.main(["report", str(tmp_path), "--formats", "png"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "from-manifest" in page and not EXTERNAL.search(page)
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "figures" / f"{MODEL}-fig1-expected-layers.png").is_file()
    assert not list((tmp_path / "figures").glob("*.svg"))
    assert (tmp_path / "results.csv").read_bytes() == before  # the input is not rewritten


@pytest.mark.parametrize("content, expected", [
    (None, "results.csv: results file not found"),
    ("", "results.csv: empty file"),
    ("model,task,layer,value\nm,t,0,0.5\n", "results.csv: missing column(s) probe, train_set, eval_set, seed, metric, ci_low, ci_high"),
    (",".join(RESULT_COLUMNS) + "\nm,t,linear,zero,a,b,0,accuracy,0.5,,\n", "results.csv:2: column 'layer' must be an integer, got 'zero'"),
    (",".join(RESULT_COLUMNS) + "\n", "results.csv: no result rows"),
])
def test_probes_report_errors_name_the_file(tmp_path, capsys, content, expected):
    if content is not None:
        (tmp_path / "results.csv").write_text(content)
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert str(tmp_path) in err


def test_rows_without_value_are_left_out_and_listed(tmp_path):
    df = make_results_table()
    df.loc[0, "value"] = float("nan")  # upos linear layer 0 seed 0: the other seed carries the layer
    page = write_report(df, tmp_path, formats=("png",)).read_text()
    assert "row 2: tiny-bert / upos / linear / layer 0 / en_ewt-ud-test / seed 0 / accuracy has no value (NaN): left out" in page
    agg = pd.read_csv(tmp_path / "aggregated.csv")
    row = agg[(agg.model == MODEL) & (agg.task == "upos") & (agg.probe == "linear") & (agg.layer == 0)
              & (agg.eval_set == "en_ewt-ud-test")]
    assert row["value"].iloc[0] == pytest.approx(0.81) and row["n_seeds"].iloc[0] == 1


def test_probes_report_bad_manifest(tmp_path, capsys):
    make_results_table().to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "manifest.json").write_text("{not json")
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "manifest.json: not valid JSON" in capsys.readouterr().err


def test_probes_report_says_its_stage_and_time_and_quiet_says_nothing(tmp_path, capsys):
    make_results_table().to_csv(tmp_path / "results.csv", index=False)
    assert cli.main(["report", str(tmp_path), "--formats", "png"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"[report]       {len(make_results_table())} result rows -> {tmp_path}"
    assert re.fullmatch(r"\[report\]       done in \d+\.\d s", err[-1])
    assert cli.main(["report", str(tmp_path), "--formats", "png", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_probes_report_writes_pdf_as_a_study_does_and_refuses_unknown_formats(tmp_path, capsys):
    make_results_table().to_csv(tmp_path / "results.csv", index=False)
    assert cli.main(["report", str(tmp_path), "-q"]) == 0
    figs = tmp_path / "figures"
    assert {p.stem for p in figs.glob("*.pdf")} == {p.stem for p in figs.glob("*.svg")} == {p.stem for p in figs.glob("*.png")}
    assert cli.main(["report", str(tmp_path), "--formats", "png,eps"]) == 2
    assert "unknown format(s) ['eps']; choose from png, svg, pdf" in capsys.readouterr().err
