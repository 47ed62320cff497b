"""Feedback on long work: stage and job lines with their times, fits by role and seed, a heartbeat,
plain lines off a terminal, and silence in quiet mode."""

import argparse
import io
import re
import time

from probes import progress
from probes.experiment.cli import register
from probes.experiment.config import load_config
from probes.experiment.runner import Experiment
from probes.progress import Progress
from tests.experiment.test_runner import tiny_model, write_upos_linear_study  # noqa: F401  (fixture)

TIME = r"(\d+\.\d s|\d+ min \d\d s)"  # a busy machine can take minutes where an idle one takes seconds


def test_plain_stream_gets_job_lines_a_heartbeat_and_the_stage_time():
    out = io.StringIO()  # not a terminal: plain lines only
    p = Progress(stream=out, interval=0.2)
    assert not p.live
    with p.stage("[3/4 probe]", 3):
        with p.job("upos linear"):
            progress.fit("task", 0)
            progress.fit("control", 1)
            progress.iteration(7, 500)
            time.sleep(0.7)
        with p.job("upos mlp") as info:
            info["reused"] = True  # from the cache: counted, not printed
        with p.job("upos mix"):
            progress.fit("random-init", 0)
    text = out.getvalue()
    assert "\r" not in text and "\n\n" not in text
    lines = text.splitlines()
    beats = [line for line in lines if "..." in line]
    assert beats and all("upos linear" in b and "control seed 1" in b and "L-BFGS iteration 7/500" in b
                         for b in beats)
    assert len(beats) <= 5  # a modest rate: one line per interval, not one per iteration
    (done,) = [line for line in lines if line.strip().startswith("upos linear:")]
    assert re.search(r"upos linear: 0\.\d s \(task seed 0; control seed 1\) · 1/3 jobs, about \d", done)
    assert not any("upos mlp" in line for line in lines)
    assert re.search(r"upos mix: \d\.\d s \(random-init seed 0\) · 3/3 jobs$", lines[-2])
    assert re.match(r"\[3/4 probe\]\s+done in \d\.\d s: 3 jobs \(1 reused from the cache\)$", lines[-1])


def test_terminal_gets_one_live_line_rewritten_in_place():
    out = io.StringIO()
    p = Progress(stream=out, live=True)
    with p.stage("[2/4 extract]", 1, unit="caches"):
        with p.job("tiny on en"):
            p.detail("loading tiny")
            time.sleep(0.8)
    text = out.getvalue()
    assert "\r\x1b[K[2/4 extract]" in text and "loading tiny" in text  # the live line, redrawn in place
    # every permanent line starts on a cleared line, and the live line is gone at the end
    assert text.endswith("1 caches\n") and "tiny on en: 0." in text


def test_disabled_progress_says_only_warnings_and_hooks_are_free_outside_a_stage():
    out = io.StringIO()
    p = Progress(enabled=False, stream=out, interval=0.05)
    progress.fit("task", 0)  # no stage: nothing to report to
    progress.iteration(1, 10)
    with p.stage("[3/4 probe]", 1):
        with p.job("upos linear"):
            progress.fit("task", 0)
            time.sleep(0.2)
        p.say("a progress line")
    assert out.getvalue() == ""
    p.warn("a damaged cache, rebuilt")
    assert out.getvalue() == "a damaged cache, rebuilt\n"


def test_quiet_option_names():
    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    parser = sub.choices["run"]
    for flag in ("-q", "--quiet", "--no-progress"):
        assert parser.parse_args(["study.toml", flag]).quiet
    assert not parser.parse_args(["study.toml"]).quiet


def _stages(exp: Experiment) -> None:
    exp.load_data()
    exp.extract_all()
    exp.probe_all()


def test_a_study_reports_each_job_with_roles_seeds_and_times(tmp_path, tiny_model, capsys):  # noqa: F811
    quickest = write_upos_linear_study(tmp_path, tiny_model)
    text = quickest.read_text(encoding="utf-8")
    config = tmp_path / "baselines.toml"
    config.write_text(text.replace("random_init = false\ncontrol = false", "random_init = true\ncontrol = true"),
                      encoding="utf-8")
    cfg = load_config(config)
    capsys.readouterr()

    _stages(Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=True))
    err = capsys.readouterr().err  # captured: not a terminal
    assert "\r" not in err and "\n\n" not in err
    lines = err.splitlines()
    for stage in ("[1/4 data]", "[2/4 extract]", "[3/4 probe]"):
        assert any(re.match(re.escape(stage) + r"\s+done in " + TIME, line) for line in lines), stage
    # one line per computed cache, with its size and time
    assert sum(bool(re.search(r"tiny( random-init)? on \w+: " + TIME + r" \(\d+ sentences, \d+ words\)", line))
               for line in lines) == 6
    (job,) = [line for line in lines if line.strip().startswith("upos linear:")]
    assert re.search(r"upos linear: " + TIME + r" \(task seeds 0,1; control seeds 0,1; random-init seeds 0,1; "
                     r"random-init control seeds 0,1\) · 1/1 jobs", job), job

    # Quiet: nothing at all, even while extracting and probing again in a fresh cache (the quickest
    # study: the baselines' fits go through the same reporting as the task's).
    _stages(Experiment(load_config(quickest), tmp_path / "out2", cache_dir=tmp_path / "cache2", progress=False))
    assert capsys.readouterr().err == ""


def test_a_count_on_a_plain_stream_is_whole_lines_with_a_heartbeat_during_a_long_step():
    from probes.progress import counter

    stream = io.StringIO()
    c = counter(10, initial=2, unit="sentences", desc="extract", stream=stream, interval=0.2)
    c.update(3)                     # quicker than the interval: no line
    assert stream.getvalue() == ""
    time.sleep(0.7)                 # a long batch: the heartbeat says where the count stands
    c.update(5)
    c.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and len(lines) >= 2
    assert lines[0].startswith("extract: 5/10 sentences (50%), ") and "left" in lines[0]
    assert lines[-1].startswith("extract: 10/10 sentences (100%), ") and "left" not in lines[-1]
