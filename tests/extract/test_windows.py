"""Overlapping windows and which window each subword is read from."""

from probes.extract.windows import owners, plan_windows


def test_fits_in_one_window():
    assert plan_windows(5, 8) == [(0, 5)]
    win, pos = owners(5, [(0, 5)])
    assert win.tolist() == [0] * 5 and pos.tolist() == [0, 1, 2, 3, 4]


def test_windows_cover_everything_and_end_at_the_end():
    assert plan_windows(10, 4) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert plan_windows(9, 4) == [(0, 4), (2, 6), (4, 8), (5, 9)]


def test_each_subword_takes_the_window_with_most_context():
    windows = [(0, 4), (2, 6), (4, 8), (6, 10)]
    win, pos = owners(10, windows)
    # position 2: window 0 gives min(2, 1) = 1, window 1 gives min(0, 3) = 0 -> window 0
    # position 3: window 0 gives min(3, 0) = 0, window 1 gives min(1, 2) = 1 -> window 1
    # position 0 only lies in window 0; position 9 only in window 3
    assert win.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert pos.tolist() == [0, 1, 2, 1, 2, 1, 2, 1, 2, 3]


def test_causal_model_takes_the_window_with_most_left_context():
    win, pos = owners(10, [(0, 4), (2, 6), (4, 8), (6, 10)], causal=True)
    assert win.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]
    assert pos.tolist() == [0, 1, 2, 3, 2, 3, 2, 3, 2, 3]
