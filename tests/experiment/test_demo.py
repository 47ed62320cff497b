"""`probes demo` without MiniLM falls back to a tiny random model, and says so loudly."""

from pathlib import Path

from probes.experiment import demo


def test_demo_config_uses_minilm_when_installed(tmp_path, monkeypatch):
    model_dir = tmp_path / "minilm"
    monkeypatch.setattr(demo, "minilm_path", lambda: model_dir)
    cfg = demo.demo_config(tmp_path / "cache")
    assert [(m.name, m.source) for m in cfg.models] == [("minilm", str(model_dir))]
    assert [t.name for t in cfg.tasks] == ["upos", "udeprel", "distance", "entities", "srl"]
    assert [d.name for d in cfg.tasks[0].test] == ["en", "de", "es", "zh"]
    assert (cfg.tasks[0].train.first, cfg.tasks[0].train.last, cfg.tasks[0].test[1].first) == (1, 150, 171)


def test_demo_falls_back_to_a_tiny_random_model_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "minilm_path", lambda: None)
    cfg = demo.demo_config(tmp_path / "cache")
    assert "numbers mean NOTHING" in capsys.readouterr().err
    (model,) = cfg.models
    assert model.name == "tiny-random-bert"
    assert (Path(model.source) / "config.json").is_file() and (Path(model.source) / "tokenizer.json").is_file()
    # built once, then reused
    before = (Path(model.source) / "config.json").stat().st_mtime_ns
    demo.demo_config(tmp_path / "cache")
    assert (Path(model.source) / "config.json").stat().st_mtime_ns == before
