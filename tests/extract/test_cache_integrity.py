"""A cache is used only while it is what was written: checksums, damage detection and rebuild,
deterministic resume after kill -9, one writer at a time, no writing into foreign directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from probes.cli import main
from probes.errors import ProbesError
from probes.extract.cache import LOCK_FILE, VectorCache, read_meta
from probes.extract.extractor import extract
from probes.extract.integrity import CacheDamaged
from probes.probing.api import cache_arrays
from probes.readers import load_corpus

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = load_corpus(ROOT / "data" / "sample" / "en.conllu")[:40]


@pytest.fixture(scope="module")
def pristine(loaded, tmp_path_factory):
    """An uninterrupted extraction, and copies of its arrays."""
    out = tmp_path_factory.mktemp("pristine") / "c"
    cache = extract(loaded, SENTENCES, out, batch_size=8, chunk_size=16, progress=False)
    return out, {name: (out / name).read_bytes() for name in ("vectors.npy", "offsets.npy", "missing.npy")}


def _copy(pristine, tmp_path) -> Path:
    src, _ = pristine
    dst = tmp_path / "c"
    dst.mkdir()
    for f in src.iterdir():
        if f.name != LOCK_FILE:
            (dst / f.name).write_bytes(f.read_bytes())
            os.utime(dst / f.name, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns))
    return dst


def _flip(path: Path, at: int, keep_mtime: bool) -> None:
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x10]))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _nan(path: Path, layer: int, rows: slice) -> None:
    st = path.stat()
    v = np.load(path, mmap_mode="r+")
    v[layer, rows] = np.nan
    v.flush()
    del v
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _rebuilds_to_pristine(loaded, pristine, path, capsys, reason: str) -> None:
    """The damaged cache is refused, reported with `reason`, rebuilt, and then equal to the pristine one."""
    again = extract(loaded, SENTENCES, path, batch_size=8, chunk_size=16, progress=False)  # quiet: still said
    err = capsys.readouterr().err
    assert "damaged" in err and reason in err and "extracting again" in err, err
    assert again.summary.status == "rebuilt"
    for name, data in pristine[1].items():
        assert (path / name).read_bytes() == data, name
    VectorCache.open(path).verify()


def test_a_finished_cache_records_checksums_and_passes_its_checks(pristine):
    meta = read_meta(pristine[0])
    integ = meta["integrity"]
    assert integ["algorithm"] == "crc32" and len(integ["layers_crc32"]) == len(meta["layers"])
    assert set(integ["files"]) == {"vectors.npy", "offsets.npy", "missing.npy", "done.npy"}
    assert len(meta["meta_sha256"]) == 64
    cache = VectorCache.open(pristine[0]).verify()
    assert cache.n_sentences == len(SENTENCES)


def test_flipped_byte_in_vectors_is_caught_and_rebuilt(loaded, pristine, tmp_path, capsys):
    path = _copy(pristine, tmp_path)
    _flip(path / "vectors.npy", 4096, keep_mtime=False)  # the file changed: the stamp sends open() to the full check
    with pytest.raises(CacheDamaged, match="does not match its checksum"):
        VectorCache.open(path)
    assert read_meta(path)["damaged"]
    _rebuilds_to_pristine(loaded, pristine, path, capsys, "does not match its checksum")


def test_flipped_byte_with_its_mtime_restored_is_caught_before_any_probe_reads_it(loaded, pristine, tmp_path, capsys):
    path = _copy(pristine, tmp_path)
    _flip(path / "vectors.npy", (path / "vectors.npy").stat().st_size - 7, keep_mtime=True)
    cache = VectorCache.open(path)  # the quick check cannot see it ...
    with pytest.raises(CacheDamaged, match="layer .* does not match its checksum"):
        cache_arrays(cache)         # ... the read before probing does
    assert main(["info", str(path)]) == 2  # marked damaged: refused from now on
    assert "damaged" in capsys.readouterr().err
    _rebuilds_to_pristine(loaded, pristine, path, capsys, "does not match its checksum")


def test_nans_in_one_layer_are_caught(loaded, pristine, tmp_path, capsys):
    path = _copy(pristine, tmp_path)
    _nan(path / "vectors.npy", 2, slice(10, 114))
    with pytest.raises(CacheDamaged, match="layer 2 has NaN or Inf in 104 words"):
        VectorCache.open(path).verify()
    _rebuilds_to_pristine(loaded, pristine, path, capsys, "in 104 words")


@pytest.mark.parametrize("damage, reason", [
    (lambda p: (p / "vectors.npy").write_bytes(b""), "vectors.npy has 0 bytes"),
    (lambda p: (p / "offsets.npy").write_bytes((p / "offsets.npy").read_bytes()[:-8]), "offsets.npy has"),
    (lambda p: (p / "missing.npy").write_bytes((p / "missing.npy").read_bytes()[:-3]), "missing.npy has"),
    (lambda p: (p / "missing.npy").unlink(), "missing.npy is missing"),
    (lambda p: (p / "meta.json").write_text("{not json", encoding="utf-8"), "unreadable meta.json"),
    (lambda p: _edit_meta(p, layers=[0, 1]), "meta.json was edited"),
    (lambda p: _edit_meta(p, n_words=7), "meta.json was edited"),
])
def test_empty_truncated_missing_or_edited_files_are_refused_cleanly_and_rebuilt(loaded, pristine, tmp_path, capsys,
                                                                                   damage, reason):
    path = _copy(pristine, tmp_path)
    damage(path)
    assert main(["info", str(path)]) == 2  # a message, not a traceback
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err
    if "unreadable" not in reason:
        assert reason in err
    again = extract(loaded, SENTENCES, path, batch_size=8, chunk_size=16, progress=False)
    err = capsys.readouterr().err
    assert reason in err and "extracting again" in err, err
    assert again.summary.status == "rebuilt"
    for name, data in pristine[1].items():
        assert (path / name).read_bytes() == data, name


def _edit_meta(path: Path, **changes) -> None:
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    (path / "meta.json").write_text(json.dumps(dict(meta, **changes)), encoding="utf-8")


def test_info_verify_reads_every_layer(pristine, tmp_path, capsys):
    path = _copy(pristine, tmp_path)
    assert main(["info", str(path), "--verify"]) == 0
    assert "every layer matches its checksum" in capsys.readouterr().out
    _nan(path / "vectors.npy", 1, slice(0, 1))
    assert main(["info", str(path)]) == 0  # the quick check does not read the layers
    capsys.readouterr()
    assert main(["info", str(path), "--verify"]) == 2
    assert "layer 1 has NaN or Inf in 1 word)" in capsys.readouterr().err


# ----- resume: batches never depend on where a run stopped ----------------------------------------
KILLER = """
import os, signal, sys, torch
from pathlib import Path
from probes.extract.extractor import extract
from probes.extract.loading import load_model
from probes.readers import load_corpus
loaded = load_model(sys.argv[1], device=torch.device("cpu"))
forward, calls = loaded.model.forward, []
def dying(*a, **k):
    calls.append(1)
    if len(calls) == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return forward(*a, **k)
loaded.model.forward = dying
extract(loaded, load_corpus(Path(sys.argv[4]))[:40], sys.argv[2], batch_size=8, chunk_size=16,
        cache_dtype="float32", progress=False)
"""


def test_kill_9_at_several_points_then_resume_is_byte_identical(bert, loaded, tmp_path):
    out = tmp_path / "c"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # 40 sentences, chunks of 16, batches of 8: the second kill lands inside the second chunk
    for at in (2, 3):
        proc = subprocess.run([sys.executable, "-c", KILLER, bert, str(out), str(at), str(ROOT / "data/sample/en.conllu")],
                              env=env, capture_output=True, timeout=300)
        assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    done = np.load(out / "done.npy")
    assert 0 < done.sum() < len(SENTENCES)
    resumed = extract(loaded, SENTENCES, out, batch_size=8, chunk_size=16, cache_dtype="float32", progress=False)
    assert resumed.summary.status == "resumed" and resumed.summary.resumed_from == int(done.sum())
    fresh = extract(loaded, SENTENCES, tmp_path / "fresh", batch_size=8, chunk_size=16, cache_dtype="float32",
                    progress=False)
    assert (out / "vectors.npy").read_bytes() == (tmp_path / "fresh" / "vectors.npy").read_bytes()
    assert (out / "missing.npy").read_bytes() == (tmp_path / "fresh" / "missing.npy").read_bytes()


def test_resume_recomputes_only_unfinished_batches(loaded, tmp_path):
    forward, calls = loaded.model.forward, []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("simulated crash")
        return forward(*a, **k)

    out = tmp_path / "c"
    loaded.model.forward = failing
    try:
        with pytest.raises(RuntimeError):
            extract(loaded, SENTENCES, out, batch_size=8, chunk_size=16, progress=False)
        calls.clear()
        loaded.model.forward = lambda *a, **k: (calls.append(1), forward(*a, **k))[1]
        extract(loaded, SENTENCES, out, batch_size=8, chunk_size=16, progress=False)
    finally:
        loaded.model.forward = forward
    # 40 sentences = chunks of 16, 16, 8 = batches 2 + 2 + 1; three were done before the crash
    assert len(calls) == 2


# ----- one writer per cache ------------------------------------------------------------------------
def _in_thread(fn):
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    return t, box


def test_a_second_writer_waits_then_reuses_or_rebuilds(loaded, pristine, tmp_path, capsys):
    from filelock import FileLock

    path = _copy(pristine, tmp_path)
    lock = FileLock(str(path / LOCK_FILE))
    lock.acquire()
    same, box = _in_thread(lambda: extract(loaded, SENTENCES, path, batch_size=8, chunk_size=16, progress=False))
    time.sleep(1.0)
    assert same.is_alive()  # waiting for the lock, not reading a cache another process is writing
    lock.release()
    same.join(60)
    assert "error" not in box and box["value"].summary.status == "complete"
    assert "another process is writing this cache" in capsys.readouterr().err

    lock.acquire()
    other, box = _in_thread(lambda: extract(loaded, SENTENCES, path, layers=[0, 2], batch_size=8, progress=False))
    time.sleep(1.0)
    assert other.is_alive() and read_meta(path)["layers"] != [0, 2]
    lock.release()
    other.join(60)
    assert "error" not in box and box["value"].summary.status == "rebuilt"
    assert VectorCache.open(path).verify().layers == [0, 2]


def test_two_processes_writing_one_cache_leave_one_correct_cache(bert, loaded, tmp_path):
    script = ("import sys, torch; from pathlib import Path; from probes.extract.extractor import extract; "
              "from probes.readers import load_corpus; "
              "c = extract(sys.argv[1], load_corpus(Path(sys.argv[3]))[:40], sys.argv[2], layers=[int(sys.argv[4])], "
              "batch_size=8, progress=False); print(c.summary.status, c.layers)")
    out = tmp_path / "c"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", script, bert, str(out), str(ROOT / "data/sample/en.conllu"), str(k)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in (1, 2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1].decode()[-1000:] for r in results]
    said = sorted(r[0].decode().split()[0] for r in results)
    assert said == ["new", "rebuilt"]  # one made it, the other waited and then replaced it: nobody claims another's work
    final = VectorCache.open(out).verify()
    alone = extract(loaded, SENTENCES, tmp_path / "alone", layers=final.layers, batch_size=8, progress=False)
    assert (out / "vectors.npy").read_bytes() == (tmp_path / "alone" / "vectors.npy").read_bytes()


def test_a_directory_holding_other_files_is_not_written_into(loaded, tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ProbesError, match="not empty and is not a vector cache .*notes.txt"):
        extract(loaded, SENTENCES, tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
