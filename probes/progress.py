"""Feedback on long work: one line per finished stage and job with its time, what remains, a heartbeat.

A ``Progress`` writes to stderr. On a terminal it keeps one live status line (rewritten in place,
never a stack of bars) under the permanent lines; anywhere else (a log file, a pipe, a notebook) it
writes plain lines only: a line per finished job and stage, and the status line again whenever
nothing was written for ``interval`` seconds, so no stage stays silent longer than that. Disabled,
it writes only warnings.

Deep code reports without being handed a reporter: the probing API calls ``fit`` (which role and
seed it trains) and L-BFGS calls ``iteration``; both are no-ops unless a stage is running.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional, TextIO

HEARTBEAT_S = 10.0  # the longest a stage may go without a line on a plain stream
LIVE_REDRAW_S = 0.5  # a terminal's live line is redrawn this often (elapsed time ticks)

_active: Optional["Progress"] = None  # the reporter of the running stage, if any


def fit(role: str, seed: int) -> None:
    """Say that a probe of ``role`` (task, control, random-init, ...) is being trained with ``seed``."""
    if _active is not None:
        _active._fit(role, seed)


def iteration(done: int, total: int, what: str = "L-BFGS iteration") -> None:
    """Say how far the running fit is (cheap: it only records; the heartbeat writes it)."""
    if _active is not None:
        _active._step = f"{what} {done}/{total}"


def step(text: str) -> None:
    """Say what the running fit or stage does now (e.g. scoring), replacing the iteration count."""
    if _active is not None:
        _active._step = text


def warn(message: str) -> None:
    """A warning on the running stage's reporter, or on stderr where none runs (a worker process)."""
    if _active is not None:
        _active.warn(message)
    else:
        print(message, file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def _seeds(seeds: list[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {','.join(map(str, seeds))}"


@dataclass
class _Stage:
    label: str                    # "[3/4 probe]"
    unit: str                     # "jobs", "caches"
    total: float                  # weight of all jobs (jobs count 1 unless weighted)
    count: int                    # number of jobs
    t0: float = field(default_factory=time.perf_counter)
    done_weight: float = 0.0
    done_count: int = 0
    reused: int = 0
    computed_weight: float = 0.0  # the rate of what remains comes from computed jobs only (reused cost ~0)
    computed_s: float = 0.0
    job: Optional[str] = None
    job_weight: float = 0.0
    job_t0: float = 0.0
    fits: list[tuple[str, int]] = field(default_factory=list)

    def remaining_s(self, now: float) -> Optional[float]:
        """Seconds left in this stage at the mean rate of the jobs computed so far (None before one)."""
        if self.computed_weight <= 0:
            return None
        left = (self.total - self.done_weight) * self.computed_s / self.computed_weight
        if self.job is not None:
            left -= now - self.job_t0
        return max(left, 0.0)


class Progress:
    """Stage and job lines, an estimate of what remains and a heartbeat, on stderr (see module doc)."""

    def __init__(self, enabled: bool = True, stream: Optional[TextIO] = None, *, live: Optional[bool] = None,
                 interval: float = HEARTBEAT_S):
        self.enabled = enabled
        self._stream = stream
        if live is None:
            s = self.stream
            live = bool(getattr(s, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"
        self.live = live
        self.interval = interval
        self._lock = threading.RLock()
        self._stage: Optional[_Stage] = None
        self._fit_label: Optional[str] = None
        self._fit_t0 = 0.0
        self._step: Optional[str] = None
        self._last_write = time.monotonic()
        self._shown = False  # a live line is on screen
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def stream(self) -> TextIO:
        """The stream written to (stderr as it is now, so a redirected or captured stderr is honoured)."""
        return self._stream if self._stream is not None else sys.stderr

    # ---- permanent lines ----------------------------------------------------------------------
    def say(self, message: str) -> None:
        """A permanent line (nothing when disabled)."""
        if self.enabled:
            self._write(message)

    def warn(self, message: str) -> None:
        """A permanent line even when disabled: something the user must know (a rebuild, a wait)."""
        self._write(message)

    def _write(self, message: str) -> None:
        with self._lock:
            s = self.stream
            if self._shown:
                s.write("\r\x1b[K")
                self._shown = False
            s.write(message + "\n")
            self._last_write = time.monotonic()
            if self.live and self.enabled and self._stage is not None:
                self._draw()
            s.flush()

    # ---- stages and jobs ------------------------------------------------------------------------
    @contextmanager
    def stage(self, label: str, total: float = 0, *, count: Optional[int] = None,
              unit: str = "jobs") -> Iterator["Progress"]:
        """Run a stage: jobs inside it are timed, and a heartbeat runs until it ends with its time.

        ``total`` is the summed weight of its jobs (their number unless jobs carry weights such as
        words); ``count`` their number (default ``total``)."""
        global _active
        st = _Stage(label, unit, float(total), int(total if count is None else count))
        with self._lock:
            self._stage, self._step, self._fit_label = st, None, None
        previous, _active = _active, self
        if self.enabled:
            self._start_heartbeat()
        ok = False
        try:
            yield self
            ok = True
        finally:
            self._stop_heartbeat()
            _active = previous
            with self._lock:
                self._stage = None
                if self._shown:
                    self.stream.write("\r\x1b[K")
                    self.stream.flush()
                    self._shown = False
            if ok:
                extra = ""
                if st.count:
                    extra = f": {st.done_count} {st.unit}"
                    if st.reused:
                        extra += f" ({st.reused} reused from the cache)"
                self.say(f"{label:<15}done in {duration(time.perf_counter() - st.t0)}{extra}")

    @contextmanager
    def job(self, name: str, weight: float = 1.0, what: str = "") -> Iterator[dict]:
        """Time one job of the stage; on success a line with its time, its fits and what remains.

        The yielded dict takes ``reused=True`` (taken from a cache: counted, not printed, left out of
        the rate) and ``note`` (text for the finished line)."""
        st = self._stage
        info: dict = {"reused": False, "note": what}
        if st is None or st.job is not None:
            # No stage, or inside another job (a damaged cache rebuilt during a probe job): the outer
            # job goes on timing, so this one is not counted on its own.
            yield info
            return
        with self._lock:
            st.job, st.job_weight, st.job_t0, st.fits = name, weight, time.perf_counter(), []
            self._fit_label, self._step = None, None
        try:
            yield info
        except BaseException:
            with self._lock:
                st.job = None
            raise
        with self._lock:
            st.job = None
            self._fit_label, self._step = None, None
            fits = self._fits_text(st.fits)
        self.finished(name, time.perf_counter() - st.job_t0, weight, reused=info["reused"],
                      note="; ".join(x for x in (info["note"], fits) if x))

    def finished(self, name: str, seconds: float, weight: float = 1.0, *, reused: bool = False,
                 note: str = "") -> None:
        """Count a job of the stage that ran elsewhere (another process, a cluster) and took `seconds`."""
        st = self._stage
        if st is None:
            return
        now = time.perf_counter()
        with self._lock:
            st.done_weight += weight
            st.done_count += 1
            if reused:
                st.reused += 1
                return
            st.computed_weight += weight
            st.computed_s += seconds
        self.say(f"{'':15}{name}: {duration(seconds)}{f' ({note})' if note else ''} · "
                 f"{st.done_count}/{st.count} {st.unit}{self._left_text(st, now)}")

    def detail(self, text: Optional[str]) -> None:
        """What the stage does now, outside any job (e.g. loading a model, drawing figures)."""
        with self._lock:
            self._fit_label, self._step = None, text

    def _fit(self, role: str, seed: int) -> None:
        with self._lock:
            self._fit_label, self._fit_t0, self._step = f"{role} seed {seed}", time.perf_counter(), None
            if self._stage is not None:
                self._stage.fits.append((role, seed))

    @staticmethod
    def _fits_text(fits: list[tuple[str, int]]) -> str:
        """'task seeds 0,1; control seeds 0,1; random-init seed 0': what a job trained."""
        by_role: dict[str, list[int]] = {}
        for role, seed in fits:
            seeds = by_role.setdefault(role, [])
            if seed not in seeds:
                seeds.append(seed)
        return "; ".join(f"{role} {_seeds(seeds)}" for role, seeds in by_role.items())

    @staticmethod
    def _left_text(st: _Stage, now: float) -> str:
        left = st.remaining_s(now)
        # Under a second (or overrun: this job is slower than the mean) is no estimate worth a word.
        if left is None or left < 1.0 or st.done_weight >= st.total:
            return ""
        return f", about {duration(left)} left"

    # ---- the status line --------------------------------------------------------------------------
    def status(self) -> str:
        """The current status: stage, job, fit, iteration, times and what remains."""
        with self._lock:
            st = self._stage
            if st is None:
                return ""
            now = time.perf_counter()
            parts = [f"{st.label} {duration(now - st.t0)}"]
            if st.count:
                parts.append(f"{st.done_count}/{st.count} {st.unit} done")
            if st.job is not None:
                parts.append(f"{st.job} ({duration(now - st.job_t0)})")
            if self._fit_label:
                parts.append(f"{self._fit_label} ({duration(now - self._fit_t0)})")
            if self._step:
                parts.append(self._step)
            return " · ".join(parts) + self._left_text(st, now)

    def _draw(self) -> None:
        """Rewrite the live line in place, cut to the terminal's width (a wrapped line cannot be)."""
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r\x1b[K" + self.status()[:width])
        self._shown = True

    def _beat(self) -> None:
        while not self._stop.wait(LIVE_REDRAW_S if self.live else min(1.0, self.interval / 2)):
            with self._lock:
                if self._stage is None:
                    continue
                if self.live:
                    self._draw()
                    self.stream.flush()
                elif time.monotonic() - self._last_write >= self.interval:
                    self._write(f"{'':15}... {self.status()}")

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._last_write = time.monotonic()
        self._thread = threading.Thread(target=self._beat, name="probes-progress", daemon=True)
        self._thread.start()

    def _stop_heartbeat(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


class _PlainCounter:
    """A count of done items for a plain stream (a log, a pipe): tqdm's ``update``/``close``, written as
    whole lines, one whenever ``interval`` seconds passed without one (a heartbeat thread writes it
    even while a long batch runs), and a last one with the total time."""

    def __init__(self, total: int, initial: int, unit: str, desc: str, stream: TextIO, interval: float):
        self.total, self.n, self.unit, self.desc = total, initial, unit, desc
        self.stream, self.interval = stream, interval
        self._initial, self._t0 = initial, time.perf_counter()
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="probes-count", daemon=True)
        self._thread.start()

    def update(self, n: int = 1) -> None:
        """Count `n` more items done."""
        with self._lock:
            self.n += n
        if time.monotonic() - self._last >= self.interval:
            self._line()

    def _line(self, final: bool = False) -> None:
        with self._lock:
            elapsed = time.perf_counter() - self._t0
            pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
            text = f"{self.desc}: {self.n}/{self.total} {self.unit}{pct}, {duration(elapsed)}"
            rate = (self.n - self._initial) / elapsed if elapsed > 0 else 0.0
            if not final and rate > 0 and self.n < self.total:
                text += f", about {duration((self.total - self.n) / rate)} left"
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last = time.monotonic()

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.interval / 2)):
            if time.monotonic() - self._last >= self.interval:
                self._line()

    def close(self) -> None:
        """Stop the heartbeat and write the last line."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._line(final=True)


def counter(total: int, *, initial: int = 0, unit: str = "items", desc: str = "", stream: Optional[TextIO] = None,
            interval: float = HEARTBEAT_S):
    """A progress count on stderr: a tqdm bar on a terminal, else plain lines at most `interval` s apart
    (a log file gets readable lines, not hundreds of carriage-return updates)."""
    stream = stream if stream is not None else sys.stderr
    if bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb":
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=stream)
    return _PlainCounter(total, initial, unit, desc, stream, interval)
