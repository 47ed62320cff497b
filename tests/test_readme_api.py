"""The README's Python API section runs as written (on a tiny random model instead of MiniLM)."""

import re
from pathlib import Path

import pandas as pd
import pytest

from probes.experiment import demo
from probes.experiment.tiny_model import build_tiny_bert
from probes.readers import load_corpus

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Python API"


def readme_api_blocks() -> list[str]:
    """The ```python blocks of the README's Python API section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else len(text)]
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)


def test_the_section_has_the_four_steps():
    blocks = readme_api_blocks()
    assert len(blocks) == 4
    code = "\n".join(blocks)
    for name in ("extract(", "build_task(", "probe_layers(", "fit_probe(", "plot_layer_curves(", "savefig("):
        assert name in code, name


def test_readme_python_api_snippets_run(tmp_path, monkeypatch, capsys):
    texts = [" ".join(s.words) for lang in ("en", "de") for s in load_corpus(ROOT / "data" / "sample" / f"{lang}.conllu")]
    tiny = build_tiny_bert(texts, tmp_path / "tiny-model", hidden=32, layers=2, vocab_size=800)
    # The snippets ask for MiniLM first: hand them the tiny model, offline and fast.
    monkeypatch.setattr(demo, "minilm_path", lambda: tiny)
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "sample").symlink_to(ROOT / "data" / "sample", target_is_directory=True)
    monkeypatch.chdir(work)

    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(readme_api_blocks()):
        try:
            exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as exc:  # name the block: the traceback alone points into exec'd text
            pytest.fail(f"README Python API block {i + 1} failed: {exc!r}")

    results = namespace["results"]
    assert isinstance(results, pd.DataFrame)
    acc = results[(results["metric"] == "accuracy") & (results["layer"] >= 0) & (results["probe"] == "linear")]
    assert set(acc["eval_set"]) == {"en", "de"} and set(acc["layer"]) == {0, 1, 2}
    assert (acc["ci_low"] <= acc["value"]).all() and (acc["value"] <= acc["ci_high"]).all()
    png = work / "runs" / "api" / "upos-layers.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr()
    assert "eval_set" in printed.out  # the pivot table of block 2
    assert "upos" in printed.err and "done in" in printed.err  # the Progress stage's closing line
