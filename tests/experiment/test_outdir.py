"""`probes run --out` writes into a new or empty folder or an earlier study's output, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probes import cli
from probes.errors import ProbesError
from probes.experiment.outdir import check_out_dir, is_study_output

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "en.conllu"


def test_new_empty_and_earlier_study_folders_are_accepted(tmp_path):
    check_out_dir(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    check_out_dir(tmp_path / "empty")
    study = tmp_path / "study"
    study.mkdir()
    (study / "manifest.json").write_text(json.dumps({"config": {"name": "x"}}), encoding="utf-8")
    (study / "notes.txt").write_text("mine", encoding="utf-8")
    assert is_study_output(study)
    check_out_dir(study)
    only_results = tmp_path / "results-only"
    only_results.mkdir()
    (only_results / "results.csv").write_text("model\n", encoding="utf-8")
    check_out_dir(only_results)


def test_a_folder_of_other_files_is_refused_naming_them(tmp_path):
    for name in ("paper.tex", "b.txt", "c.txt", "d.txt", "e.txt"):
        (tmp_path / name).write_text("", encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "manifest.json").write_text('{"name": "a web app"}', encoding="utf-8")  # not a study's
    with pytest.raises(ProbesError) as exc:
        check_out_dir(tmp_path)
    assert str(exc.value) == (f"--out {tmp_path}: the folder holds other files (b.txt, c.txt, d.txt, data/ and 3 more) "
                              "and is not a study's output (no manifest.json or results.csv); a study would write its "
                              "results among them. Name a new or empty folder, or an earlier study's output to write it again")
    with pytest.raises(ProbesError, match="a file, not a folder"):
        check_out_dir(tmp_path / "paper.tex")


def test_probes_run_refuses_before_any_work(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(f'name = "c"\n[[models]]\nname = "m"\nsource = "{tmp_path / "no-model"}"\n[[tasks]]\n'
                      f'name = "upos"\ntrain = "{SAMPLE}"\ntest = ["{SAMPLE}"]\n', encoding="utf-8")
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("", encoding="utf-8")
    assert cli.main(["run", str(config), "--out", str(out), "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"probes run: error: --out {out}: the folder holds other files (chapter1.tex)")
    assert sorted(p.name for p in out.iterdir()) == ["chapter1.tex"] and not (tmp_path / "cache").exists()
