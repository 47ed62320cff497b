from probes import cli


def test_tasks_lists_the_catalogue(capsys):
    assert cli.main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ("upos", "feats:<Feature>", "dep-arc", "ner", "distance", "depth", "sentlen", "treedepth",
                 "tense", "subjnum", "objnum", "bshift", "consts", "entities", "infstat", "srl", "srl:core",
                 "srl-spans", "coref", "edges:<name>", "senteval:<name>", "<task>:control"):
        assert any(line.split()[0] == name for line in out.splitlines()), name


def test_tasks_builds_on_a_corpus(tmp_path, capsys):
    p = tmp_path / "c.conllu"
    p.write_text("1\tDogs\t_\tNOUN\t_\tNumber=Plur\t2\tnsubj\t_\t_\n2\tbark\t_\tVERB\t_\t_\t0\troot\t_\t_\n\n"
                 "1\tA\t_\tDET\t_\t_\t2\tdet\t_\t_\n2\tcat\t_\tNOUN\t_\tNumber=Sing\t3\tnsubj\t_\t_\n"
                 "3\tmews\t_\tVERB\t_\t_\t0\troot\t_\t_\n", encoding="utf-8")
    assert cli.main(["tasks", "--data", str(p), "--task", "upos", "--task", "feats:Number"]) == 0
    out = capsys.readouterr().out
    assert "upos: token, 5 items, 3 classes, metric accuracy" in out
    assert "baseline (majority class of the training labels) 0.4000" in out  # NOUN 2 of 5
    assert cli.main(["tasks", "--data", str(tmp_path / "none.conllu")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_tasks_lists_options_and_builds_semantic_tasks(capsys):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "semantic"
    assert cli.main(["tasks"]) == 0
    out = capsys.readouterr().out
    coref = next(line for line in out.splitlines() if line.startswith("coref "))
    assert 'options: window = 0, negatives = "all"' in coref
    assert cli.main(["tasks", "--data", str(fixture / "pipeline.conllu"), "--trees", str(fixture / "pipeline.ptb"),
                     "--task", "consts", "--task", "coref", "--option", "window=2"]) == 0
    out = capsys.readouterr().out
    assert "consts: span, 25 items, 5 classes" in out
    assert "coref: span, 18 items, 2 classes, metric positive_f1" in out


def test_an_option_no_named_task_takes_is_refused_naming_the_valid_ones(tmp_path, capsys):
    p = tmp_path / "c.conllu"
    p.write_text("1\tDogs\t_\tNOUN\t_\t_\t2\tnsubj\t_\t_\n2\tbark\t_\tVERB\t_\t_\t0\troot\t_\t_\n", encoding="utf-8")
    assert cli.main(["tasks", "--data", str(p), "--task", "coref", "--task", "upos", "--option", "windw=2"]) == 2
    assert capsys.readouterr().err == ("probes tasks: error: --option windw: no task named here takes it (did you mean "
                                       "window?); their options: negatives (coref), window (coref)\n")
    assert cli.main(["tasks", "--data", str(p), "--task", "upos", "--option", "window=2"]) == 2
    assert capsys.readouterr().err == "probes tasks: error: --option window: no task named here takes it; upos takes no options\n"
