"""Executors: how a study's flat list of jobs runs — in this process, one process per GPU, or on Ray.

A job is a module-level function and its (picklable) arguments, so that any executor can ship it
to a worker; every executor runs the same functions on the same arguments, so the results are the
same row for row. What differs is where:

``local`` (the default)  every job in this process, one after another. With several visible CUDA
                         devices (and device auto or cuda), extraction jobs run in one process per
                         device instead (its CUDA_VISIBLE_DEVICES set to that device), each keeping
                         one model loaded; probe jobs stay in this process.
``ray``                  extraction jobs on Ray actors, one per GPU of the cluster (``num_gpus=1``),
                         or one per T CPUs on a cluster without GPUs, each keeping one model loaded;
                         probe jobs as Ray tasks (``num_cpus=T``, or ``PROBE_GPU_SHARE`` of a GPU
                         where the cluster has GPUs). The cache directory must be one every node
                         reads and writes (a shared file system), and probes installed on every node.

Every job runs with T = the study process's torch thread count (``call``), so that its sums round as
in a local run; results then agree row for row on machines of the same kind (another CPU or BLAS
rounds differently, and a fit may stop at another iteration).

A model placed with ``device_map`` spreads over every device its process sees: its extraction jobs
run in the study's own process, never in a one-device worker.

A job that fails lets the jobs already running finish (their work is cached), starts no new one,
and then stops the run with the failure; the next run resumes from what is cached.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from probes.errors import ProbesError
from probes.progress import Progress

EXECUTORS = ("local", "ray")
PROBE_GPU_SHARE = 0.25  # of one GPU, for a probe job on a Ray cluster with GPUs (four fit one device)
RAY_INSTALL = "pip install 'probes[ray]'  (or: pip install ray)"


@dataclass
class JobResult:
    """What a job gives back: its value, whether it was found cached, a note for its progress line."""

    value: Any = None
    reused: bool = False
    note: str = ""
    notes: list[str] = field(default_factory=list)  # lines for the run's record (e.g. what was not measured)
    seconds: float = 0.0
    worker: str = ""  # where it ran: "pid 123" and the CUDA device it saw, if any


@dataclass
class Job:
    """One unit of a study: fn(*args) -> JobResult, with its name, weight and what it runs on.

    ``args`` may be a function that returns the arguments, or the JobResult when nothing is left to
    run (a probe job found cached): it is called in this process when the job is about to start.
    """

    name: str
    fn: Callable[..., JobResult]
    args: Union[tuple, Callable[[], Union[tuple, JobResult]]] = ()
    weight: float = 1.0
    extraction: bool = False  # runs on a device worker that keeps one model loaded

    def prepare(self) -> Union[tuple, JobResult]:
        """The arguments, or the finished result."""
        return self.args() if callable(self.args) else self.args


def job_threads() -> int:
    """The CPU threads this process's torch uses: what every executor's jobs are given."""
    import torch

    return torch.get_num_threads()


def call(fn: Callable[..., JobResult], *args, threads: Optional[int] = None) -> JobResult:
    """Run a job's function, timed and labelled with the process and device it ran on.

    ``threads``: torch's CPU threads for the job, set before it runs. Sums split over threads round
    differently with another thread count, and a probe's L-BFGS can then stop at another iteration
    (probabilities up to ~1e-2 apart on EWT-sized data), so every executor gives its jobs the thread
    count of the study's own process (a Ray worker starts with one per CPU it was granted).
    A ProbesError leaves a worker as a plain ProbesError with the same message: its subclasses'
    constructors take other arguments and would not survive unpickling.
    """
    if threads is not None:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    t0 = time.perf_counter()
    try:
        result = fn(*args)
    except ProbesError as exc:
        raise ProbesError(str(exc)) from None
    result.seconds = time.perf_counter() - t0
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES")
    result.worker = f"pid {os.getpid()}" + (f", CUDA_VISIBLE_DEVICES={gpu}" if gpu is not None else "")
    if threads is not None:
        result.worker += f", {threads} threads"
    return result


def _inline(job: Job) -> JobResult:
    prepared = job.prepare()
    return prepared if isinstance(prepared, JobResult) else call(job.fn, *prepared)


def cuda_device_count() -> int:
    """CUDA devices this process sees (0 without CUDA); imports torch only when asked."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class LocalExecutor:
    """Every job in this process, in order; extraction jobs in one process per device when given several."""

    name = "local"

    def __init__(self, devices: Optional[list[str]] = None):
        self.devices = list(devices or [])  # CUDA device ids, one extraction process each (2 or more)

    @property
    def parallel_extraction(self) -> bool:
        """Whether extraction jobs run side by side (then long corpora are sharded by default)."""
        return len(self.devices) > 1

    def map(self, jobs: list[Job], progress: Progress) -> list[JobResult]:
        """Run the jobs; results in job order."""
        if self.parallel_extraction and sum(j.extraction for j in jobs) > 1:
            return _run_on_slots(jobs, _DevicePool(self.devices), progress)
        results = []
        for job in jobs:
            with progress.job(job.name, job.weight) as info:
                result = _inline(job)
                info["reused"], info["note"] = result.reused, result.note
            results.append(result)
        return results

    def close(self) -> None:
        """Nothing held between stages."""


class _DevicePool:
    """One spawned process per CUDA device, each seeing only its device."""

    def __init__(self, devices: list[str]):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked child
        self.labels = [f"GPU {d}" for d in devices]
        self.threads = job_threads()
        self.pools = [ProcessPoolExecutor(1, mp_context=ctx, initializer=_see_only, initargs=(d,)) for d in devices]

    def submit(self, slot: int, job: Job, args: tuple) -> Future:
        return self.pools[slot].submit(call, job.fn, *args, threads=self.threads)

    def wait(self, pending: list) -> list:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Future, job: Job, slot: int) -> JobResult:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return handle.result()
        except BrokenProcessPool:
            raise ProbesError(f"the extraction process on {self.labels[slot]} died while running {job.name} "
                              "(killed, or out of memory); what it had written is kept, and the next run "
                              "resumes from it") from None

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)


def _see_only(device: str) -> None:
    # Before the job imports torch's CUDA state: "cuda" in this process is then that one device.
    os.environ["CUDA_VISIBLE_DEVICES"] = device


def _run_on_slots(jobs: list[Job], pool, progress: Progress) -> list[JobResult]:
    """Extraction jobs on the pool's slots (one job per slot at a time), the others in this process after."""
    results: list[Optional[JobResult]] = [None] * len(jobs)
    todo = [i for i, j in enumerate(jobs) if j.extraction]
    free = list(range(len(pool.labels)))
    running: dict = {}  # handle -> (job index, slot)
    failure: Optional[BaseException] = None
    try:
        while todo or running:
            while todo and free and failure is None:
                i = todo.pop(0)
                prepared = jobs[i].prepare()
                if isinstance(prepared, JobResult):
                    results[i] = prepared
                    progress.finished(jobs[i].name, 0.0, jobs[i].weight, reused=prepared.reused, note=prepared.note)
                    continue
                slot = free.pop(0)
                running[pool.submit(slot, jobs[i], prepared)] = (i, slot)
            if failure is not None:
                todo = []
            if not running:
                continue
            progress.detail(f"{len(running)} running: " + ", ".join(jobs[i].name for i, _ in running.values()))
            for handle in pool.wait(list(running)):
                i, slot = running.pop(handle)
                free.append(slot)
                try:
                    r = pool.result(handle, jobs[i], slot)
                except BaseException as exc:  # the first failure is raised once the running jobs are done
                    failure = failure or exc
                    continue
                results[i] = r
                progress.finished(jobs[i].name, r.seconds, jobs[i].weight, reused=r.reused,
                                  note="; ".join(x for x in (r.note, f"on {pool.labels[slot]}") if x))
    finally:
        pool.close()
    if failure is not None:
        raise failure
    for i, job in enumerate(jobs):
        if results[i] is None:
            with progress.job(job.name, job.weight) as info:
                results[i] = _inline(job)
                info["reused"], info["note"] = results[i].reused, results[i].note
    return results


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ProbesError(f"--executor ray needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


class RayExecutor:
    """Jobs on a Ray cluster: extraction on actors that keep one model each, probe jobs as tasks."""

    name = "ray"
    parallel_extraction = True

    def __init__(self, address: Optional[str] = None):
        ray = self.ray = _import_ray()
        self._started = False
        if not ray.is_initialized():
            if address not in (None, "auto", "local"):
                _check_reachable(address)  # else ray.init retries an address nobody answers for minutes
            try:
                ray.init(address=address, include_dashboard=False, logging_level="warning",
                         runtime_env={"env_vars": {"PYTHONPATH": _python_path()}} if address is None else None)
            except ConnectionError as exc:
                hint = ("; a cluster started with token authentication (the default of recent Ray) takes drivers "
                        "that set RAY_AUTH_MODE=token, with the token in ~/.ray/auth_token or RAY_AUTH_TOKEN"
                        if "RAY_AUTH_MODE" not in os.environ else "")
                raise ProbesError(f"--address {address}: no Ray cluster answers there ({exc}){hint}") from None
            except (ValueError, ImportError) as exc:  # ray:// without the client package, a malformed address
                if "ray[client]" in str(exc):
                    raise ProbesError(f"--address {address}: a ray:// address goes through the Ray client, which is "
                                      "not installed: pip install 'probes[ray]'  (or: pip install 'ray[client]')") from None
                raise ProbesError(f"--address {address}: {exc}") from None
            self._started = True
        resources = ray.cluster_resources()
        self.gpus, self.cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        # Each job gets (and asks Ray for) this process's thread count: the local run's floating point.
        self.threads = min(job_threads(), self.cpus)

    def map(self, jobs: list[Job], progress: Progress) -> list[JobResult]:
        """Run the jobs on the cluster; results in job order."""
        if any(j.extraction for j in jobs):
            n = min(sum(j.extraction for j in jobs), self.gpus or max(1, self.cpus // self.threads))
            return _run_on_slots(jobs, _RayActors(self.ray, n, gpu=self.gpus > 0, threads=self.threads), progress)
        return self._tasks(jobs, progress)

    def _tasks(self, jobs: list[Job], progress: Progress) -> list[JobResult]:
        ray = self.ray
        needs = {"num_gpus": PROBE_GPU_SHARE, "num_cpus": 0} if self.gpus else {"num_cpus": self.threads}
        remote = ray.remote(**needs)(call)
        results: list[Optional[JobResult]] = [None] * len(jobs)
        prepared = {}
        for i, job in enumerate(jobs):
            p = job.prepare()
            if isinstance(p, JobResult):
                results[i] = p
                progress.finished(job.name, 0.0, job.weight, reused=p.reused, note=p.note)
            else:
                prepared[i] = p
        # An argument that several jobs share (a task's data, read by each of its probe kinds) goes
        # to the object store once; Ray resolves such top-level references before the task runs.
        uses: dict[int, int] = {}
        for args in prepared.values():
            for a in args:
                uses[id(a)] = uses.get(id(a), 0) + 1
        refs: dict[int, Any] = {}
        running = {}
        todo = list(prepared)
        # As many tasks in flight as the cluster runs at once: after a failure no new one starts (all
        # submitted at once, every queued job ran before the failure was said).
        slots = max(1, int(self.gpus / PROBE_GPU_SHARE) if self.gpus else self.cpus // self.threads)
        failure = None
        while todo or running:
            while todo and len(running) < slots and failure is None:
                i = todo.pop(0)
                for a in prepared[i]:
                    if uses[id(a)] > 1 and id(a) not in refs:
                        refs[id(a)] = ray.put(a)
                sent = [refs.get(id(a), a) for a in prepared[i]]
                running[remote.remote(jobs[i].fn, *sent, threads=self.threads)] = i
            if failure is not None:
                todo = []
            if not running:
                continue
            progress.detail(f"{len(running)} Ray tasks running, {len(todo)} to start")
            done, _ = ray.wait(list(running), num_returns=1)
            i = running.pop(done[0])
            try:
                r = _ray_result(ray, done[0], jobs[i])
            except BaseException as exc:
                failure = failure or exc
                continue
            results[i] = r
            progress.finished(jobs[i].name, r.seconds, jobs[i].weight, reused=r.reused, note=r.note)
        if failure is not None:
            raise failure
        return results

    def close(self) -> None:
        """Shut down the Ray instance this executor started (one it joined is left running)."""
        if self._started:
            self.ray.shutdown()
            self._started = False


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a cluster address where nothing accepts a connection within `timeout` seconds."""
    import socket

    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ProbesError(f"--address {address}: expected HOST:PORT (the head's GCS port, 6379 by default), "
                          "ray://HOST:PORT (the Ray client, 10001 by default) or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ProbesError(f"--address {address}: nothing answers at {host}:{port} ({exc.strerror or exc}); "
                          "start the cluster with `ray start --head` on that machine, or check the address") from None


def _python_path() -> str:
    """The folder that holds this probes package, first on the workers' PYTHONPATH (a source checkout)."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + rest if rest else "")


def _ray_result(ray, ref, job: Job) -> JobResult:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, ProbesError):
            raise ProbesError(str(cause)) from None
        raise
    except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError):
        raise ProbesError(f"the Ray worker running {job.name} died (killed, out of memory, or its node left); "
                          "what it had written is kept, and the next run resumes from it") from None
    except ray.exceptions.RayError as exc:  # killed by Ray's memory monitor, its result lost, cancelled
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProbesError(f"Ray could not run {job.name} ({type(exc).__name__}: {first}); what it had written "
                          "is kept, and the next run resumes from it") from None


class _RayActors:
    """Ray actors that each keep one model loaded: one per GPU (num_gpus=1), or per `threads` CPUs without GPUs."""

    def __init__(self, ray, n: int, gpu: bool, threads: int = 1):
        self.ray, self.threads = ray, threads
        actor = ray.remote(num_gpus=1, num_cpus=0)(_Worker) if gpu else ray.remote(num_cpus=threads)(_Worker)
        self.actors = [actor.remote() for _ in range(n)]
        self.labels = [f"Ray worker {k + 1}" for k in range(n)]

    def submit(self, slot: int, job: Job, args: tuple):
        return self.actors[slot].run.remote(job.fn, *args, threads=self.threads)

    def wait(self, pending: list) -> list:
        done, _ = self.ray.wait(pending, num_returns=1)
        return done

    def result(self, handle, job: Job, slot: int) -> JobResult:
        return _ray_result(self.ray, handle, job)

    def close(self) -> None:
        for a in self.actors:  # their models (and GPU memory) go with them
            self.ray.kill(a)


class _Worker:
    """A Ray actor's body: runs jobs one at a time in one long-lived process."""

    def run(self, fn: Callable[..., JobResult], *args, threads: Optional[int] = None) -> JobResult:
        return call(fn, *args, threads=threads)


def make_executor(name: str = "local", *, address: Optional[str] = None, device: str = "auto") -> Any:
    """The executor called `name`: local (several CUDA devices -> one extraction process each) or ray."""
    if name not in EXECUTORS:
        raise ProbesError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
    if name == "ray":
        return RayExecutor(address)
    if address is not None:
        raise ProbesError("--address names a Ray cluster: it goes with --executor ray")
    devices = []
    if device in ("auto", "cuda"):  # a pinned device (cuda:1, cpu) keeps every job on it
        n = cuda_device_count()
        devices = visible_devices(n) if n > 1 else []
    return LocalExecutor(devices)


def visible_devices(n: int) -> list[str]:
    """The CUDA_VISIBLE_DEVICES entries of this process's `n` devices, one for each extraction process.

    A child's CUDA_VISIBLE_DEVICES names physical devices: with CUDA_VISIBLE_DEVICES=2,3 this process's
    cuda:0 and cuda:1 are devices 2 and 3, and a child told "0" would use device 0, outside the set.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [str(k) for k in range(n)]
    entries = [d.strip() for d in visible.split(",") if d.strip()]
    return entries[:n]
