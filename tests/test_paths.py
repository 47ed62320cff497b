import pytest

from probes.errors import ProbesError
from probes.paths import inside, unsafe_name


@pytest.mark.parametrize("name", ["ewt-dev", "de_pud.test", "ud:upos x"])
def test_plain_names_are_accepted(name, tmp_path):
    assert unsafe_name(name) is None
    assert inside(tmp_path, name) == tmp_path.resolve() / name


@pytest.mark.parametrize("name, why", [
    ("../../../../tmp/x", "'/'"), ("a\\b", "'\\\\'"), ("..", "names a directory"), (".", "names a directory"),
    ("", "empty"), ("a\nb", "control character"), ("a\x00b", "control character"),
])
def test_names_that_could_leave_the_root_are_refused(name, why, tmp_path):
    assert why in unsafe_name(name)
    with pytest.raises(ProbesError, match="cannot be used as a file name"):
        inside(tmp_path, name)


def test_a_symlinked_root_still_counts_as_inside(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert inside(tmp_path / "link", "x").name == "x"
