import os
import subprocess
import sys
from pathlib import Path

import pytest

from probes import cli
from probes.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert "probes" in capsys.readouterr().out


def test_input_error_names_file_line_and_sentence():
    err = InputError("wrong column count (9, expected 10)", path="a.conllu", line=12, sent_id="s3")
    assert str(err) == "a.conllu:12 (sentence s3): wrong column count (9, expected 10)"


# Start-up: every `probes` call builds the whole parser, so no command module may import these at
# module level (they cost seconds of CPU before `--help` could print).
HEAVY = ("torch", "transformers", "sklearn", "scipy", "pandas", "matplotlib", "numpy", "spacy")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_building_the_parser_imports_no_heavy_library():
    done = _python("import sys, probes.cli; probes.cli.build_parser(); "
                   f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()} (import them inside the command)"


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["extract", "--help"], ["run", "--help"],
                                  ["report", "--help"]])
def test_help_and_version_import_no_heavy_library(argv):
    done = _python("import sys, probes.cli\ntry:\n    probes.cli.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
                   f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("HEAVY:"), done.stderr


def _with_closed_stdout(argv: list[str]) -> subprocess.CompletedProcess:
    """Run `probes ARGV` writing into a pipe whose reader is already gone (`probes models | head -0`)."""
    read, write = os.pipe()
    os.close(read)  # closed before the command starts, so its first write meets a closed pipe, every time
    try:
        proc = subprocess.Popen([sys.executable, "-m", "probes", *argv], stdout=write, stderr=subprocess.PIPE,
                                cwd=ROOT)
    finally:
        os.close(write)
    _, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, proc.returncode, "", err.decode())


@pytest.mark.parametrize("argv", [["models"], ["models", "--json"], ["tasks"]])
def test_a_closed_pipe_ends_the_command_quietly(argv):
    done = _with_closed_stdout(argv)
    assert done.stderr == ""  # no BrokenPipeError, no "Exception ignored" from the final flush
    assert done.returncode == cli.BROKEN_PIPE_STATUS == 141


def test_a_reader_that_stops_after_one_line_gets_it(tmp_path):
    # As `probes tasks | head -1`: the reader takes its line and leaves; the command ends without a word.
    proc = subprocess.Popen([sys.executable, "-m", "probes", "tasks"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT)
    first = proc.stdout.readline().decode()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 141)  # 0 when everything fit in the pipe before the reader left
    assert first.startswith("upos") and err == ""
