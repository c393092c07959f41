"""`call-monitor batch --scheduler`: an archive scored on a Dask cluster started with Dask's own
commands, as docs/recordings.md tells an operator to (a `dask scheduler` and `dask worker` processes, one
thread each), here all on 127.0.0.1 (Dask's diagnostics made cheap: :data:`DIAGNOSTICS_QUIET`). The calls
are stored exactly as `replay` stores them.
"""
from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile as sf

from conftest import (CALLS, PY, ROOT, call_monitor as cli, call_monitor_here, child_processes, holds_open, korean_model,
                      long_recording, scheduler_address, wait_for)

FILES = [CALLS / "deteriorating_8k.wav", CALLS / "normal_8k.wav", CALLS / "noisy_line_16k.wav"]

DIAGNOSTICS_QUIET = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
                     "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s"}
"""Dask's own diagnostics, which neither the batch nor these tests read, made cheap in the Dask
commands started here: the workers' statistical profiler (every thread sampled each 10 ms, for the
dashboard) off, and each process's check of its event loop (a log line when it was blocked for
seconds) once a second instead of every 20 ms. A scheduler and two workers, idle, took 0.14 s of
CPU a second with Dask's defaults, 0.04 s with these."""


def _dask(*args: str, log: Path, imports_from: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A Dask command (scheduler or worker) in its own process group, its output in ``log``, run in
    ``imports_from`` (the checkout), where it imports callmonitor's ``monitor`` from, with ``env``
    added to its environment (Dask's settings; :data:`DIAGNOSTICS_QUIET` always)."""
    env = dict(os.environ, PYTHONPATH=str(imports_from), **DIAGNOSTICS_QUIET, **(env or {}))
    with open(log, "w") as out:
        return subprocess.Popen([PY, "-m", "distributed.cli.dask_" + args[0], *args[1:]], cwd=imports_from, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def _own_cluster(tmp: Path, workers: int = 1, imports_from: Path = ROOT,
                 scheduler_env: dict[str, str] | None = None) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A scheduler on a free loopback port (its Dask settings in ``scheduler_env``) and ``workers``
    single-threaded worker processes (which import callmonitor from ``imports_from``), once they have
    joined, until the block ends: its address and the processes, the scheduler first."""
    info = tmp / "scheduler.json"
    started = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
                     "--scheduler-file", str(info), log=tmp / "scheduler.log", env=scheduler_env)]
    try:
        assert wait_for(lambda: scheduler_address(info), 60), (tmp / "scheduler.log").read_text()
        address = scheduler_address(info)
        started += [_dask("worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}",
                          log=tmp / f"worker{i}.log", imports_from=imports_from) for i in range(workers)]
        if workers:
            from distributed import Client
            with Client(address, timeout=30) as client:
                client.wait_for_workers(workers, timeout=90)
        yield address, started
    finally:
        for proc in reversed(started):
            _stop(proc)



def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _sources(db: Path) -> list[str]:
    """The recordings of the calls stored in ``db``."""
    conn = sqlite3.connect(db)
    try:
        return [source for source, in conn.execute("SELECT source FROM calls ORDER BY id")]
    finally:
        conn.close()


def _sources_so_far(db: Path) -> list[str]:
    """The recordings of the calls a running batch has stored in ``db`` so far: none while the
    database, or its tables, are still being made."""
    if not db.exists():
        return []
    try:
        return _sources(db)
    except sqlite3.OperationalError:  # the file made, its schema not yet
        return []


def _alerts(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT c.source, a.t, a.kind, a.severity, a.evidence FROM alerts a "
                            "JOIN calls c ON c.id = a.call_id ORDER BY a.id").fetchall()
    finally:
        conn.close()
    out: dict[str, list[tuple]] = {}
    for source, *alert in rows:
        out.setdefault(source, []).append(tuple(alert))
    return out


def _tasks_of_batches(client, workers: bool = True) -> dict[str, dict[str, str]]:
    """The batch's tasks (``callmonitor-score-...``) each process of the cluster holds, by their
    state: the scheduler's (``"scheduler"``: those sent and not yet taken by the batch) and, with
    ``workers``, each worker's own, by its address."""
    def ours(tasks) -> dict[str, str]:
        return {str(key): task.state for key, task in tasks.items() if str(key).startswith("callmonitor-score-")}
    held = {"scheduler": client.run_on_scheduler(lambda dask_scheduler: ours(dask_scheduler.tasks))}
    if workers:
        held.update(client.run(lambda dask_worker: ours(dask_worker.state.tasks)))
    return held


def _scoring(client) -> bool:
    """Whether a worker of ``client``'s cluster is scoring one of the batch's calls."""
    return "executing" in [state for name, held in _tasks_of_batches(client).items()
                           if name != "scheduler" for state in held.values()]


@contextmanager
def _batch(*args: str) -> Iterator[subprocess.Popen]:
    """``call-monitor batch ARGS --quiet`` running from the checkout, its stderr piped as text;
    killed at the block's end if it still runs."""
    batch = subprocess.Popen([PY, "-m", "monitor.cli", "batch", *args, "--quiet"], cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        yield batch
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()


def _short_call(path: Path, seconds: int = 10) -> Path:
    """The first ``seconds`` of a fixture call, written to ``path``."""
    x, rate = sf.read(FILES[1], dtype="int16")
    sf.write(path, x[: seconds * rate], rate)
    return path


def _without_callmonitor(tmp: Path) -> Path:
    """A folder whose ``monitor`` package fails to import, as where callmonitor is not installed."""
    broken = tmp / "elsewhere" / "monitor"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("callmonitor is not installed here")\n')
    return broken.parent


def _before_holds(tmp: Path) -> Path:
    """A folder whose ``monitor`` package is callmonitor as before a manifest's ``hold`` (its
    ``CallJob`` without ``holds``), as on a worker where an earlier release is installed."""
    import shutil
    earlier = tmp / "earlier" / "monitor"
    shutil.copytree(ROOT / "monitor", earlier, ignore=shutil.ignore_patterns("__pycache__"))
    inputs = earlier / "batch" / "inputs.py"
    text = inputs.read_text()
    field = re.search(r"\n    holds: tuple\[.*?\n    \"\"\".*?\"\"\"\n", text, re.S)
    assert field is not None
    inputs.write_text(text.replace(field.group(0), "\n"))
    return earlier.parent


@pytest.fixture(scope="module")
def long_call(tmp_path_factory) -> Path:
    """A 15-minute call (:func:`long_recording`), written once for the tests that score it."""
    return long_recording(tmp_path_factory.mktemp("long"))


def test_a_call_with_holds_sent_to_a_worker_of_an_earlier_release_fails_naming_it_not_scored_without_them(tmp_path):
    """A worker where an earlier release of callmonitor is installed reads a call's job as its own,
    without the manifest's ``hold``: rather than scored without its holds (its hold music judged as
    the caller, the table saying the holds), the call fails in one line naming the worker and what to
    do, and nothing of it is stored; a call without holds is scored there as before."""
    held, plain = _short_call(tmp_path / "held.wav", 4), _short_call(tmp_path / "plain.wav", 4)
    manifest = tmp_path / "calls.csv"
    manifest.write_text(f"path,hold\n{held},0:01-0:02\n{plain},\n")
    from distributed import Client
    with _own_cluster(tmp_path, imports_from=_before_holds(tmp_path)) as (address, _):
        with Client(address, timeout=30) as client:
            [worker] = client.scheduler_info()["workers"]
        db, out = tmp_path / "events.db", tmp_path / "summary.csv"
        done = call_monitor_here("batch", str(manifest), "--scheduler", address, "--db", str(db), "--out", str(out), "--quiet")
    line = (f"{held}: not scored: callmonitor on {worker} is of an earlier release, which does not know a call's "
            "holds and would score it without them; install this release where each worker runs "
            f"(<the worker's python> -m pip install '{ROOT}[batch]') and start them again; the same command with "
            "--resume scores it again")
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[0] == f"call-monitor: error: {line} (listed on {manifest} line 2)"
    assert [(r["path"], r["status"], r["error"]) for r in _rows(out)] == [
        (str(held), "failed", line), (str(plain), "scored", "")]
    assert _sources(db) == [str(plain)]


def test_a_stop_while_the_clusters_worker_scores_cancels_the_batchs_call_there_and_says_so(tmp_path):
    """SIGTERM to a batch on a running cluster while its worker scores an hour-long call: the batch
    cancels the call it sent (a task Dask cannot interrupt would be scored to its end for no one,
    the worker's thread kept from the next batch), says so in its one line and exits 143; soon
    after, neither the scheduler nor the worker holds a task of the batch, running or cancelled, and
    the worker scores the next batch's call."""
    x, rate = sf.read(FILES[1], dtype="int16")
    hour = tmp_path / "hour.flac"
    with sf.SoundFile(hour, "w", rate, x.shape[1], "PCM_16", format="FLAC", compression_level=0.0) as out:
        for _ in range(int(np.ceil(3600 * rate / len(x)))):
            out.write(x)
    from distributed import Client
    with _own_cluster(tmp_path) as (address, started):
        with Client(address, timeout=30) as client:
            db = tmp_path / "events.db"
            with _batch(str(hour), "--scheduler", address, "--db", str(db)) as batch:
                assert wait_for(lambda: _scoring(client), 120), _tasks_of_batches(client)
                batch.send_signal(signal.SIGTERM)
                _, err = batch.communicate(timeout=60)
            assert batch.returncode == 143, err
            assert err.splitlines() == [
                f"call-monitor: error: stopped by SIGTERM: every call scored before it (0 of the 1 to score) is in "
                f"{db}; the 1 call(s) sent "
                "to the cluster and not yet scored were cancelled there; the same command with --resume scores the "
                "rest"]
            nothing = {"scheduler": {}, **{worker: {} for worker in client.scheduler_info()["workers"]}}
            assert wait_for(lambda: _tasks_of_batches(client) == nothing, 30), _tasks_of_batches(client)
        short = _short_call(tmp_path / "short.wav")
        after = call_monitor_here("batch", str(short), "--scheduler", address, "--db", str(db), "--quiet")
        assert after.returncode == 0 and "1 scored, 0 already scored, 0 failed" in after.stderr, after.stderr


def test_a_scheduler_gone_while_its_worker_scores_stops_the_batch_in_one_line_keeping_what_was_stored(
        tmp_path, long_call):
    """The running cluster's scheduler dies while its worker scores the batch's second call: Dask
    cancels the calls it held, which were never scored, so the batch fails none of them and sends no
    more to a scheduler that is not there (it would wait for them for ever): it stops at once with one
    line naming the scheduler, how many of the calls to score were stored and where, in the words of a
    stop's line, and what to do (exit 1), without
    Dask's own log lines or a traceback; the call scored before is in the database."""
    short, long = _short_call(tmp_path / "short.wav"), long_call
    with _own_cluster(tmp_path) as (address, started):
        db, out = tmp_path / "events.db", tmp_path / "calls.csv"
        with _batch(str(short), str(long), "--scheduler", address, "--db", str(db), "--out", str(out)) as batch:
            assert wait_for(lambda: len(_sources_so_far(db)) == 1, 120)
            os.killpg(started[0].pid, signal.SIGKILL)
            _, err = batch.communicate(timeout=60)
        assert batch.returncode == 1, err
        assert err.splitlines() == [
            f"call-monitor: error: {address}: the Dask scheduler went away (connection lost): every call scored "
            f"before it (1 of the 2 to score) is in {db}; start it again with its workers, then the same command "
            f"with --resume scores the rest and writes {out}"]
        assert _sources(db) == [str(short)]
        assert not out.exists()


def test_a_call_whose_worker_died_is_one_short_line_naming_it_and_resume_scores_it(tmp_path, long_call):
    """The worker scoring a call dies (killed, out of memory) as often as the scheduler allows
    (here once: ``allowed-failures`` 0), and Dask fails the call with ``KilledWorker``, whose text
    is a paragraph naming the task's key: the call's row and its one line on stderr name its
    recording, the worker it last ran on and that --resume scores it again (a failed call is not in
    the ledger); the batch's other call is stored."""
    short, long = _short_call(tmp_path / "short.wav"), long_call
    from distributed import Client
    with _own_cluster(tmp_path, scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}) as (
            address, started):
        with Client(address, timeout=30) as client:
            [worker] = client.scheduler_info()["workers"]
            db, out = tmp_path / "events.db", tmp_path / "calls.csv"
            with _batch(str(short), str(long), "--scheduler", address, "--db", str(db), "--out", str(out)) as batch:
                def scoring_the_long_one() -> bool:
                    return _scoring(client) and len(_sources_so_far(db)) == 1
                assert wait_for(scoring_the_long_one, 120), _tasks_of_batches(client)
                for pid in child_processes(started[1].pid):  # the worker, not its nanny, which starts another
                    os.kill(pid, signal.SIGKILL)
                _, err = batch.communicate(timeout=60)
    line = f"{long}: not scored: the worker scoring it died ({worker}); the same command with --resume scores it again"
    assert batch.returncode == 1, err
    assert err.splitlines()[:-1] == [f"call-monitor: error: {line}"]
    assert err.splitlines()[-1].startswith("call-monitor: 1 scored, 0 already scored, 1 failed; ")
    assert [(r["path"], r["status"], r["error"]) for r in _rows(out)] == [
        (str(short), "scored", ""), (str(long), "failed", line)]
    assert _sources(db) == [str(short)]


def test_workers_that_cannot_import_callmonitor_are_one_line_before_anything_is_scored(tmp_path):
    """A worker started where callmonitor is not installed (here its ``monitor`` package fails to
    import) would die on the first call it is sent, unable to read the task, and the batch would
    wait for ever for a cluster with no worker left: the batch checks the workers first and says
    which cannot import it and what to do, in one line, exit 2, with no database made."""
    from distributed import Client
    with _own_cluster(tmp_path, imports_from=_without_callmonitor(tmp_path)) as (address, started):
        with Client(address, timeout=30) as client:
            [worker] = client.scheduler_info()["workers"]
        db = tmp_path / "events.db"
        done = cli("batch", str(FILES[1]), "--scheduler", address, "--db", str(db), "--quiet", timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            f"call-monitor: error: {address}: 1 of its 1 worker(s) cannot import callmonitor ({worker}: ImportError: "
            "callmonitor is not installed here); install it where each worker runs "
            f"(<the worker's python> -m pip install '{ROOT}[batch]') and start them again"]
        assert not db.exists()


def test_a_worker_without_callmonitor_that_joins_while_the_batch_scores_is_said_closed_and_loses_no_call(
        tmp_path, long_call):
    """A worker started where callmonitor is not installed joins the cluster after the batch checked
    its workers, while the batch's other worker scores a long call: the call it is sent is not lost
    (it died on it, unsaid, and a call so reached on several such workers failed): the batch says in
    one line which worker it is, why and how to install it there, closes it so that it takes no more
    of the batch's calls, and every call is scored on the other worker and stored (exit 0)."""
    elsewhere = _without_callmonitor(tmp_path)
    calls = [long_call, *(_short_call(tmp_path / f"short{i}.wav") for i in (1, 2))]
    from distributed import Client
    with _own_cluster(tmp_path) as (address, started), Client(address, timeout=30) as client:
        db, out = tmp_path / "events.db", tmp_path / "calls.csv"
        with _batch(*map(str, calls), "--scheduler", address, "--db", str(db), "--out", str(out)) as batch:
            assert wait_for(lambda: _scoring(client), 120), _tasks_of_batches(client)
            joined = _dask("worker", address, "--nthreads", "1", "--no-dashboard", "--name", "without",
                           log=tmp_path / "without.log", imports_from=elsewhere)
            started.append(joined)  # stopped with the cluster, should the batch not close it
            _, err = batch.communicate(timeout=120)
        assert len(client.scheduler_info()["workers"]) == 1  # closed by the batch
    assert batch.returncode == 0, err
    [said, last] = err.splitlines()
    assert re.fullmatch(r"call-monitor: warning: (tcp://127\.0\.0\.1:\d+): a worker that joined while the batch "
                        r"scored cannot import callmonitor \(ImportError: callmonitor is not installed here\); install "
                        r"it where each worker runs \(<the worker's python> -m pip install "
                        rf"'{re.escape(str(ROOT))}\[batch\]'\) and start it again: the batch closed it, and its calls "
                        r"go to the others", said), said
    assert last.startswith("call-monitor: 3 scored, 0 already scored, 0 failed; ")
    assert [r["status"] for r in _rows(out)] == ["scored"] * 3
    assert sorted(_sources(db)) == sorted(map(str, calls))


def test_a_batch_whose_clusters_workers_all_left_says_so_once_and_waits_for_them(tmp_path, long_call):
    """The cluster's only worker dies (its machine down, killed) while it scores the batch's call:
    the scheduler is still there, so the batch waits for workers to come back, but says so once, with
    how to start one and that --resume goes on after a stop, rather than waiting without a word
    (the progress bar still, or nothing at all with --quiet)."""
    long = long_call
    from distributed import Client
    with _own_cluster(tmp_path) as (address, started):
        db = tmp_path / "events.db"
        with Client(address, timeout=30) as client:
            with _batch(str(long), "--scheduler", address, "--db", str(db)) as batch:
                said: list[str] = []
                reader = threading.Thread(target=lambda: said.extend(batch.stderr), daemon=True)
                reader.start()
                assert wait_for(lambda: _scoring(client), 120), _tasks_of_batches(client)
                os.killpg(started[1].pid, signal.SIGKILL)  # the worker and its nanny
                assert wait_for(lambda: said, 30), "the batch said nothing of its workers gone"
                batch.send_signal(signal.SIGTERM)
                batch.wait(timeout=60)
                reader.join(timeout=10)
        assert batch.returncode == 143, said
        assert [line.rstrip("\n") for line in said] == [
            f"call-monitor: warning: {address}: the scheduler has no workers any more; the batch waits for them "
            f"(start them with: dask worker {address} --nthreads 1), or stop it (Ctrl-C) and run the same command "
            "with --resume once they are there",
            f"call-monitor: error: stopped by SIGTERM: every call scored before it (0 of the 1 to score) is in {db}; "
            "the 1 call(s) sent to the cluster and not yet scored were cancelled there; the same command with "
            "--resume scores the rest"]


def test_a_worker_that_joins_as_the_batch_scores_is_sent_calls_for_each_of_its_threads(tmp_path):
    """The batch starts on a cluster of one worker of one thread, so it keeps two calls in flight;
    that worker then stalls (stopped, here, so that its two calls stay in flight), and a worker of
    two threads joins: the batch keeps two calls per thread of the workers present in flight (six),
    not the two it started with, so the worker that joined scores the batch's other calls rather
    than stand idle; once the first worker goes on, every call is stored and the batch's last line
    counts both workers."""
    calls = [_short_call(tmp_path / f"short{i}.wav", seconds=2) for i in range(10)]
    from distributed import Client
    with _own_cluster(tmp_path) as (address, started), Client(address, timeout=30) as client:
        db, out = tmp_path / "events.db", tmp_path / "calls.csv"
        with _batch(*map(str, calls), "--scheduler", address, "--db", str(db), "--out", str(out)) as batch:
            assert wait_for(lambda: _scoring(client), 120), _tasks_of_batches(client)
            os.killpg(started[1].pid, signal.SIGSTOP)
            try:
                started.append(_dask("worker", address, "--nthreads", "2", "--no-dashboard", "--name", "joined",
                                     log=tmp_path / "joined.log"))
                def in_flight() -> int:  # the first worker's stalled: its own tasks cannot be asked
                    return len(_tasks_of_batches(client, workers=False)["scheduler"])
                assert wait_for(lambda: in_flight() == 6, 60), in_flight()
            finally:
                os.killpg(started[1].pid, signal.SIGCONT)
            _, err = batch.communicate(timeout=120)
    assert batch.returncode == 0, err
    assert re.fullmatch(r"call-monitor: 10 scored, 0 already scored, 0 failed; .* on 2 worker\(s\) .*",
                        err.strip()), err
    assert [r["status"] for r in _rows(out)] == ["scored"] * 10


def test_a_stop_while_a_call_is_sent_sends_no_call_after_it(tmp_path):
    """A stop (here SIGTERM) that comes while a call is being sent is held until that call is sent
    whole, and then no other call is sent (as when calls are sent again after workers joined): one
    call in flight, not the three there is room for; the stop is noted, for the batch to raise."""
    from distributed import Client, LocalCluster, as_completed

    from monitor.batch import runner
    from monitor.batch.inputs import expand_inputs
    from monitor.batch.ledger import BatchStore
    from monitor.config import load_config
    from monitor.stops import Terminated, sigterm_as_interrupt, stops_noted

    class StoppedAsItSends(Client):  # a real client; the stop lands as it sends the first call
        def submit(self, *args, **kwargs):
            if not getattr(self, "stopped", False):
                self.stopped = True
                os.kill(os.getpid(), signal.SIGTERM)
            return super().submit(*args, **kwargs)

    jobs = expand_inputs([str(f) for f in FILES])
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as local, \
            StoppedAsItSends(local) as client, BatchStore.open(tmp_path / "events.db") as store:
        batch = runner.BatchRun(client, store, load_config(None, user_config=False), runner.BatchOptions(),
                                on_error=print)
        sent = runner._Sent(batch, runner.remote_scorer(), as_completed(), wanted=4)
        stops: list[KeyboardInterrupt] = []
        sigterm_as_interrupt(lambda: stops_noted(stops, lambda: sent.fill(iter(jobs), stops)))
        assert [type(s) for s in stops] == [Terminated]
        assert len(sent.in_flight) == 1
        client.cancel(list(sent.in_flight.values()))


_SCHEDULER_HIT_AT = """
import os, signal, sys, time
from monitor.batch import runner
from monitor.cli import main
runner.SCHEDULER_REPLY_S, runner.IDLE_CHECK_S = 1.0, 0.2
scheduler, sig, where = int(sys.argv[1]), signal.Signals[sys.argv[2]], sys.argv[3]
owner_name, _, name = where.rpartition(".")
owner = getattr(runner, owner_name) if owner_name else runner
reached = getattr(owner, name)

def hit_there(first, *args, **kwargs):
    setattr(owner, name, reached)
    os.kill(scheduler, sig)
    client = getattr(first, "client", first)  # a BatchRun's, or the client itself
    while sig == signal.SIGKILL and client.status == "running":  # until the client has heard that it went
        time.sleep(0.01)
    return reached(first, *args, **kwargs)

setattr(owner, name, hit_there)
sys.exit(main(sys.argv[4:]))
"""


def _batch_hitting_its_scheduler(scheduler: subprocess.Popen, sig: str, where: str,
                                 *args: str) -> subprocess.CompletedProcess:
    """``call-monitor batch ARGS --quiet`` whose ``scheduler`` is sent ``sig`` (SIGSTOP: it stops
    replying, as one whose machine went down without its connections closing; SIGKILL: it goes away)
    as the batch first calls ``where`` (a function or ``Class.method`` of ``monitor.batch.runner``,
    given the client or the batch's run first), every time at that moment; the batch waits 1 s for a
    reply (``SCHEDULER_REPLY_S``) and looks at the workers every 0.2 s while it waits for its calls
    (``IDLE_CHECK_S``). A stopped scheduler goes on once the batch has ended."""
    try:
        return subprocess.run([PY, "-c", _SCHEDULER_HIT_AT, str(scheduler.pid), sig, where, "batch", *args, "--quiet"],
                              cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        if scheduler.poll() is None:
            os.killpg(scheduler.pid, signal.SIGCONT)


@pytest.mark.parametrize("sig, why", [("SIGSTOP", "does not reply (nothing within 1 s)"),
                                      ("SIGKILL", "went away (connection lost)")])
def test_a_scheduler_silent_or_gone_as_the_batch_looks_at_its_workers_is_one_line_and_nothing_is_made(
        tmp_path, sig, why):
    """The scheduler took the batch's client, then stops replying (stopped) or goes away (killed) as
    the batch asks whether its workers can import callmonitor: one line naming it and what became of
    it, exit 2, no database made, rather than a wait for ever for the reply or Dask's traceback."""
    with _own_cluster(tmp_path, workers=0) as (address, started):
        db = tmp_path / "events.db"
        done = _batch_hitting_its_scheduler(started[0], sig, "workers_without_callmonitor", str(FILES[1]),
                                            "--scheduler", address, "--db", str(db))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"call-monitor: error: {address}: the Dask scheduler {why}: nothing was scored or stored; start it again "
        "with its workers, then the same command"]
    assert not db.exists()


def test_a_scheduler_that_stops_replying_while_the_batch_waits_for_its_calls_stops_it_in_one_line(tmp_path):
    """The scheduler stops replying (stopped, as one whose machine went down without its connections
    closing) once the batch has sent its call, while it waits for a worker to score it: the batch,
    which asks the scheduler for its workers while it waits, stops in one line naming it, how many of
    the calls to score were stored and where, and what to do (exit 1), with its database kept and its
    table not written, rather than wait for ever for a call no one will score."""
    with _own_cluster(tmp_path, workers=0) as (address, started):
        db, out = tmp_path / "events.db", tmp_path / "calls.csv"
        done = _batch_hitting_its_scheduler(started[0], "SIGSTOP", "BatchRun._collect", str(FILES[1]),
                                            "--scheduler", address, "--db", str(db), "--out", str(out))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"call-monitor: warning: {address}: the scheduler has no workers yet; the batch waits for them (start them "
        f"with: dask worker {address} --nthreads 1)",
        f"call-monitor: error: {address}: the Dask scheduler does not reply (nothing within 1 s): every call scored "
        f"before it (0 of the 1 to score) is in {db}; start it again with its workers, then the same command with "
        f"--resume scores the rest and writes {out}"]
    assert _sources(db) == [] and not out.exists()


def test_a_scheduler_that_stops_replying_while_the_workers_load_the_speech_model_stops_the_batch_in_one_line(
        tmp_path):
    """With --transcribe the batch waits for the workers to load the speech model as long as their
    loads take (minutes on a slow worker), asking the scheduler for its workers meanwhile: one that
    stops replying then (stopped, as one whose machine went down without its connections closing)
    stops the batch in one line, exit 1, rather than a wait for ever for its answer."""
    model = korean_model(tmp_path / "models")
    with _own_cluster(tmp_path, workers=0) as (address, started):
        db = tmp_path / "events.db"
        done = _batch_hitting_its_scheduler(started[0], "SIGSTOP", "BatchRun._start", str(FILES[1]), "--transcribe",
                                            "--model", str(model), "--scheduler", address, "--db", str(db))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"call-monitor: error: {address}: the Dask scheduler does not reply (nothing within 1 s): every call scored "
        f"before it (0 of the 1 to score) is in {db}; start it again with its workers, then the same command with "
        "--resume scores the rest")
    assert _sources(db) == []


# The tests on the module's own cluster (a scheduler and two workers) come last: it starts at the first
# test that asks for it and stops after the module's last test, so placed first it stood idle (its five
# processes about 0.12 s of CPU a second) through every test that starts a cluster of its own.


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[str]:
    """A scheduler on a free loopback port and two single-threaded worker processes; its address."""
    with _own_cluster(tmp_path_factory.mktemp("cluster"), workers=2) as (address, _):
        yield address


def test_an_archive_on_a_dask_cluster_is_scored_as_replay_scores_it(cluster, tmp_path):
    db, out = tmp_path / "cluster.db", tmp_path / "cluster.csv"
    done = call_monitor_here("batch", *map(str, FILES), "--scheduler", cluster, "--db", str(db), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "3 scored, 0 already scored, 0 failed" in done.stderr and "2 worker(s)" in done.stderr
    rows = _rows(out)
    assert [r["path"] for r in rows] == list(map(str, FILES))
    assert all(r["status"] == "scored" and r["db_call_id"] for r in rows)
    replayed = tmp_path / "replay.db"
    again = call_monitor_here("replay", "--no-transcribe", "--db", str(replayed), *map(str, FILES))
    assert again.returncode == 0, again.stderr
    assert _alerts(db) == _alerts(replayed)
    assert any(severity == "critical" for *_, severity, _ in _alerts(db)[str(FILES[0])])


def test_a_rerun_with_resume_on_the_cluster_scores_nothing_again(cluster, tmp_path):
    calls = [str(_short_call(tmp_path / f"call{i}.wav", seconds=20)) for i in range(2)]
    db, out = tmp_path / "cluster.db", tmp_path / "cluster.csv"
    first = call_monitor_here("batch", *calls, "--scheduler", cluster, "--db", str(db), "--quiet")
    assert first.returncode == 0, first.stderr
    again = call_monitor_here("batch", *calls, "--scheduler", cluster, "--db", str(db), "--out", str(out),
                  "--resume", "--quiet")
    assert again.returncode == 0, again.stderr
    assert "0 scored, 2 already scored, 0 failed" in again.stderr
    assert [r["status"] for r in _rows(out)] == ["already_scored", "already_scored"]


def test_a_recording_only_the_workers_see_is_checked_and_scored_by_them(cluster, tmp_path):
    """With a scheduler, a recording the client cannot see (a share mounted on the workers only) is
    not failed on the client: the worker that scores it checks it, and one it cannot see either
    fails there with the line the client would give. A recording the client sees and cannot open is
    still failed by the client, before any worker has it. (Here the workers run in the checkout and
    the client elsewhere, and the paths go through /proc/self/cwd, which each process resolves in
    its own folder.)"""
    only_workers = "/proc/self/cwd/audio_fixtures/calls/normal_8k.wav"
    nowhere = "/proc/self/cwd/audio_fixtures/calls/gone.wav"
    garbled = tmp_path / "garbled.wav"
    garbled.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    db, out = tmp_path / "cluster.db", tmp_path / "cluster.csv"
    done = call_monitor_here("batch", only_workers, nowhere, str(garbled), "--scheduler", cluster, "--db", str(db),
                 "--out", str(out), "--quiet", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    said = done.stderr.splitlines()
    assert said[0].startswith(f"call-monitor: error: {garbled}: ")  # the client's check, before the batch
    assert said[1] == f"call-monitor: error: {nowhere}: no such file"  # the worker's check, the same line
    assert said[2].startswith("call-monitor: 1 scored, 0 already scored, 2 failed; ") and len(said) == 3
    assert [(r["path"], r["status"]) for r in _rows(out)] == [
        (only_workers, "scored"), (nowhere, "failed"), (str(garbled), "failed")]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT source FROM calls").fetchall() == [(only_workers,)]
    finally:
        conn.close()
    alone = call_monitor_here("batch", only_workers, "--workers", "1", "--db", str(db), cwd=tmp_path)  # no cluster: the client's
    assert alone.returncode == 1
    assert alone.stderr.splitlines() == [f"call-monitor: error: {only_workers}: no such file"]


@pytest.mark.parametrize("named", ["audio_fixtures/calls/", "audio_fixtures/calls", "calls.csv",
                                   "audio_fixtures/calls/normal.json", "audio_fixtures/calls/*",
                                   "audio_fixtures/calls/*.wav"])
def test_a_folder_or_manifest_only_the_workers_see_is_one_line_from_the_client(cluster, tmp_path, named):
    """The client lists folders and globs and reads manifests itself: one it cannot see, named so
    that it is no recording (a trailing slash, a manifest's or another extension, no extension, a
    glob even of recordings), is one error line naming it and saying so, exit 2, before anything is
    scored or stored; it is not sent to a worker as a recording. (The paths go through
    /proc/self/cwd, which the client resolves in its own empty folder.)"""
    path = f"/proc/self/cwd/{named}"
    db = tmp_path / "cluster.db"
    done = call_monitor_here("batch", path, str(CALLS / "normal_8k.wav"), "--scheduler", cluster, "--db", str(db),
                 "--quiet", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"call-monitor: error: {path}: cannot be seen from this machine, and its name is not a recording's "
        "(.wav, .flac, .ogg, .mp3, no pattern): the client lists folders and globs and reads manifests itself, "
        "so with --scheduler they must be visible here at the same path (only recordings may be on the workers "
        "alone)"]
    assert not db.exists()


@pytest.mark.parametrize("pattern", ["*", "**"])
def test_a_glob_the_client_sees_is_scored_on_the_cluster_whatever_its_ending(cluster, tmp_path, pattern):
    """A glob is never a file of its name: one that matches here (``calls/*``, ``calls/**``, no audio
    ending) is listed by the client and scored on the workers, not refused as unseen."""
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "normal_8k.wav").symlink_to(_short_call(tmp_path / "normal_8k.wav", seconds=20))
    (folder / "notes.txt").write_text("not a recording\n")
    done = call_monitor_here("batch", str(folder / pattern), "--scheduler", cluster, "--db", str(tmp_path / "cluster.db"),
                 "--quiet")
    assert done.returncode == 0, done.stderr
    assert "1 scored, 0 already scored, 0 failed" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the workers must read what the client may not: they run as root")
def test_a_recording_the_client_may_not_read_is_left_to_the_workers_who_may(cluster, tmp_path):
    """A recording the client's user may not read (the workers run as a user who may) is not failed
    on the client: the worker that scores it checks it and scores it. Here the client runs with file
    permissions binding it, the workers as root."""
    private = tmp_path / "private.wav"
    _short_call(private, seconds=20)
    private.chmod(0)
    db, out = tmp_path / "cluster.db", tmp_path / "cluster.csv"
    done = cli("batch", str(private), "--scheduler", cluster, "--db", str(db), "--out", str(out), "--quiet",
               permissions_bind=True)
    assert done.returncode == 0, done.stderr
    assert [(r["path"], r["status"]) for r in _rows(out)] == [(str(private), "scored")]


def test_a_call_started_while_the_scheduler_does_not_answer_is_scored_all_the_same(cluster, tmp_path, monkeypatch):
    """A call's task tells the scheduler that it started, and waits for it to take the word, before it
    reads its recording; a scheduler that does not answer (here stopped, as one whose machine went
    down without its connections closing) holds the worker's thread no longer than
    CALL_STARTED_WAIT_S (here half a second, which the task, sent whole, takes with it): a worker given
    its next call while it scored one goes on to it once that one is done, and reads its recording,
    while the scheduler is still stopped; once it goes on, every call is stored."""
    from distributed import Client

    from monitor.batch import runner
    from monitor.batch.inputs import expand_inputs
    from monitor.batch.ledger import BatchStore
    from monitor.config import load_config

    monkeypatch.setattr(runner, "CALL_STARTED_WAIT_S", 0.5)
    jobs = expand_inputs([str(_short_call(tmp_path / f"call{i}.wav", seconds=60)) for i in range(4)])
    stalled: list[bool] = []
    with Client(cluster, timeout=30) as client:
        scheduler, workers = client.run_on_scheduler(os.getpid), list(client.run(os.getpid).values())

        def given_next() -> list[str]:  # the recordings of the calls a worker holds to start next
            return [jobs[int(key.split("-")[2])].path for name, held in _tasks_of_batches(client).items()
                    if name != "scheduler" for key, state in held.items() if state == "ready"]

        def stall() -> None:
            nexts: list[str] = []
            stalled.append(wait_for(lambda: nexts.extend(given_next()) or nexts, 60))
            os.kill(scheduler, signal.SIGSTOP)  # at once: the next call not started yet
            try:
                stalled.append(wait_for(lambda: any(holds_open(pid, Path(path)) for pid in workers
                                                    for path in nexts), 30, every_s=0.005))
            finally:
                os.kill(scheduler, signal.SIGCONT)
        watcher = threading.Thread(target=stall)
        watcher.start()
        store = BatchStore.open(tmp_path / "events.db")
        try:
            outcome = runner.BatchRun(client, store, load_config(None, user_config=False),
                                      runner.BatchOptions(scheduler=cluster), on_error=print).run(jobs)
        finally:
            watcher.join()
            store.close()
    assert stalled == [True, True]  # a next call given, then read with the scheduler stopped
    assert outcome.scored == 4 and sorted(_sources(tmp_path / "events.db")) == sorted(j.path for j in jobs)
