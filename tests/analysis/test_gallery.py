"""The README gallery: analysis/gallery.py rewrites the block between its markers from a study's results,
and every image the README names exists."""

import re
from pathlib import Path

import pytest

from analysis import gallery
from probes.errors import ProbesError
from tests.analysis.synthetic import MODEL, make_results_table

ROOT = Path(__file__).resolve().parents[2]
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
LIMIT = 150 * 1024  # bytes: committed gallery PNGs stay small


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("study")
    make_results_table().to_csv(d / "results.csv", index=False)
    return d


def _readme(path: Path, block: str) -> str:
    text = f"# title\n\nbefore the gallery\n\n{block}\n\n## after\n\nafter the gallery\n"
    path.write_text(text)
    return text


def _block(text: str) -> str:
    return text[text.index(gallery.START):text.index(gallery.END) + len(gallery.END)]


def test_the_block_is_rewritten_from_the_results(study, tmp_path):
    readme = tmp_path / "README.md"
    old = f"{gallery.START}\n![hand-made](docs/img/old.png)\n\n*drawn by hand*\n{gallery.END}"
    before = _readme(readme, old)
    images_dir = tmp_path / "docs" / "gallery"
    images_dir.mkdir(parents=True)
    (images_dir / "stale.png").write_bytes(b"not a figure of this gallery")
    images = gallery.write_gallery(study, readme)
    text = readme.read_text()
    # only the block changed
    assert text.replace(_block(text), old) == before
    block = _block(text)
    assert "old.png" not in block and "drawn by hand" not in block
    named = IMAGE.findall(block)
    assert named == [f"docs/gallery/{k}.png" for k in gallery.KINDS]  # the synthetic table has every figure
    assert sorted(p.name for p in images_dir.iterdir()) == sorted(Path(n).name for n in named)  # stale.png gone
    for n in named:
        data = (tmp_path / n).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(data) < LIMIT
    # one caption line after each image, saying what the bands or whiskers cover (from the covers column)
    lines = block.splitlines()
    captions = [lines[i + 2] for i, line in enumerate(lines) if IMAGE.match(line)]
    assert len(captions) == len(named) == len(images)
    assert all(c.startswith("*") and c.endswith("*") and len(c) > 60 for c in captions)
    by_kind = dict(zip(gallery.KINDS, captions))
    assert "bands: 95% interval over test sentences" in by_kind["layer-curves"]
    assert "(upos, deprel, tree)" in by_kind["layer-curves"] and MODEL in by_kind["layer-curves"]
    assert "no whiskers: the results carry no interval of E_Δ" in by_kind["fig1-expected-layers"]  # none in the table
    assert "trained on en" in by_kind["zero-shot"]
    # running again changes nothing
    gallery.write_gallery(study, readme)
    assert readme.read_text() == text


def test_a_readme_without_markers_is_refused_before_drawing(study, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no gallery here\n")
    with pytest.raises(ProbesError, match=r"README\.md: no gallery block"):
        gallery.write_gallery(study, readme)
    assert not (tmp_path / "docs").exists()
    assert gallery.main([str(study), "--readme", str(readme)]) == 2
    assert "no gallery block" in capsys.readouterr().err
    assert gallery.main([str(tmp_path / "missing"), "--readme", str(readme)]) == 2  # markers first, then results
    _readme(readme, f"{gallery.START}\n{gallery.END}")
    assert gallery.main([str(tmp_path / "missing"), "--readme", str(readme)]) == 2
    err = capsys.readouterr().err
    assert "results file not found; run `probes demo --out" in err and "Traceback" not in err


def test_every_image_the_readme_names_exists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(gallery.START) == 1 and text.count(gallery.END) == 1
    named = IMAGE.findall(text)
    assert named, "the README shows no image"
    missing = [n for n in named if not (ROOT / n).is_file()]
    assert not missing, f"README names images that do not exist: {missing}"
    shown = {Path(n).name for n in IMAGE.findall(_block(text))}
    committed = {p.name for p in (ROOT / "docs" / "gallery").glob("*.png")}
    assert shown == committed and len(shown) >= 4
    assert all((ROOT / "docs" / "gallery" / n).stat().st_size < LIMIT for n in committed)
