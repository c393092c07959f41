"""The agent's word on an alert (``call-monitor outcome``): handled or a false alarm, with a note, kept
in the daemon's database, listed by ``alerts`` and posted to the supervisor's console beside the alert.

A real daemon on the private PulseAudio server (asked over its status socket), a real console process
on 127.0.0.1, real SQLite files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from console_proc import ConsoleProcess, alert_body
from conftest import ALERTING_CALL, bare_sqlite_file, db_tables, fill, rolled_back_as_documented, start_daemon, stop_daemon, stored_alert, until
from pulse import have_pulse

from monitor import cli
from monitor.delivery import store_schema
from monitor.delivery.sinks.webhook import Sender, WebhookSink
from monitor.delivery.store import Store
from monitor.events import AlertEvent
from monitor.delivery.words import NOTE_CHARS


def _outcome(capsys, sock: Path, *args: str) -> subprocess.CompletedProcess:
    """``call-monitor outcome ARGS`` asking the daemon at ``sock``: its exit status and output."""
    status = cli.main(["outcome", *args, "--socket", str(sock)])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out.out, out.err)


def _console_alert(console: ConsoleProcess) -> dict | None:
    alerts = console.state()["alerts"]
    return alerts[0] if alerts else None


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio not installed")
def test_a_word_said_before_the_daemon_runs_and_one_said_to_it_reach_the_console_beside_the_alert(
        pulse, env, tmp_path, capsys):
    """With no daemon running the word is kept in the database; the daemon started then posts the
    alert and the word after it. A word said to the running daemon replaces it, said so, and reaches
    the console within seconds; an id it has not is one line, exit 1. ``alerts --jsonl`` gives the word
    delivered, after a restart of the daemon too."""
    console = ConsoleProcess(tmp_path / "console")
    sock = Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock"
    try:
        with Store.open(tmp_path / "e.db") as store:
            raised = stored_alert(store, kind="possible_emergency")
            store.enqueue_delivery(raised.alert_id, console.webhook)
        early = _outcome(capsys, sock, "last", "false-alarm", "--note", "caller was eating", "--db", str(tmp_path / "e.db"))
        assert early.returncode == 0, early.stderr
        assert early.stdout.startswith(f"alert {raised.alert_id} (possible_emergency, call 1 at 00:12.0): false alarm "
                                       "(caller was eating); to the supervisor's console")
        assert "next one started, posts it" in early.stderr
        d = start_daemon(env, tmp_path, f'[delivery]\nwebhook_url = "{console.webhook}"\n'
                                        f'webhook_token_file = "{console.token_file}"\n')
        try:
            until(lambda: (a := _console_alert(console)) is not None and a["agent_word"] == "false_alarm",
                  lambda: f"the alert and the word kept before at the console: {console.state()}")
            assert _console_alert(console)["agent_note"] == "caller was eating"
            changed = _outcome(capsys, sock, f"#{raised.alert_id}", "handled", "--note", "called an ambulance")
            assert changed.returncode == 0, changed.stderr
            assert "handled (called an ambulance), in place of false alarm (caller was eating)" in changed.stdout
            until(lambda: _console_alert(console)["agent_word"] == "handled",
                  lambda: f"the word said to the daemon at the console: {console.state()}")
            unknown = _outcome(capsys, sock, "99", "handled")
            assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
            assert "alert 99: no such alert in" in unknown.stderr
            with Store.open(tmp_path / "qa.db") as qa:  # another database, which the daemon does not record to
                stored_alert(qa, kind="slow_speech", severity="warning")
            elsewhere = _outcome(capsys, sock, "1", "false-alarm", "--db", str(tmp_path / "qa.db"))
            assert elsewhere.returncode == 0 and elsewhere.stdout.startswith("alert 1 (slow_speech, "), elsewhere
            with Store.open_readonly(tmp_path / "qa.db") as qa:
                assert qa.words_of([1])[1].word == "false_alarm"
        finally:
            stop_daemon(d)
    finally:
        console.kill()
    assert cli.main(["alerts", "--jsonl", "--db", str(tmp_path / "e.db")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["agent_word"], row["agent_note"], row["agent_word_delivery"]) == (
        "handled", "called an ambulance", "delivered")


def delivered_alert(sink: WebhookSink, store: Store) -> AlertEvent:
    """An alert stored and posted by ``sink``, once its post is delivered."""
    alert = stored_alert(store)
    sink(alert)
    until(lambda: store.deliveries("pending") == [], lambda: f"the alert delivered: {store.deliveries()}")
    return alert


def test_a_word_on_an_alert_the_new_console_never_received_is_not_deliverable_said_once_never_posted_again(
        tmp_path, hook, monitor_logs, capsys):
    """The webhook's URL changed (the daemon posts to another console now): a word on an alert
    delivered to the earlier URL is answered 409 by the new console, which has not the alert. The
    word is given up at once, ``retries = 0`` (try for ever) notwithstanding, said in one warning
    line naming both URLs; the alert is not posted to the new console. An alert raised since and
    the word on it reach the new console as usual; ``alerts`` says the first word not deliverable."""
    console = ConsoleProcess(tmp_path / "console")
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, retries=0, backoff_s=0.05, max_backoff_s=0.1, poll_s=0.05,
                       identity=Sender.of(store, "alice")).start()
    try:
        earlier = delivered_alert(sink, store)
        sink.retarget(console.webhook, console.token)
        store.set_word(earlier.alert_id, "handled", "called an ambulance", time.time())
        later = stored_alert(store, kind="slow_speech", severity="warning")
        sink(later)
        until(lambda: len(console.state()["alerts"]) == 1, lambda: f"the later alert at the console: {console.state()}")
        store.set_word(later.alert_id, "false_alarm", "", time.time())
        sink.wake()
        until(lambda: store.words_of([later.alert_id])[later.alert_id].status == "delivered",
              lambda: f"the later word delivered: {store.words_of([later.alert_id])}")
        until(lambda: store.words_of([earlier.alert_id])[earlier.alert_id].status == "failed",
              lambda: f"the earlier word given up: {store.words_of([earlier.alert_id])}")
        time.sleep(0.5)  # ten polls past the backoff: the word is not tried again
        word = store.words_of([earlier.alert_id])[earlier.alert_id]
        assert (word.status, word.attempts) == ("failed", 1)
        (shown,) = console.state()["alerts"]
        assert (shown["alert_id"], shown["agent_word"]) == (later.alert_id, "false_alarm")
    finally:
        sink.close()
        store.close()
        console.kill()
    (said,) = [m for lvl, m in monitor_logs if lvl == "warning"]
    assert said == (f"webhook {console.webhook}: the agent's word on alert {earlier.alert_id} (handled) is not "
                    f"deliverable: {word.last_error}")
    assert word.last_error.startswith(f"HTTP 409 Conflict: no alert {earlier.alert_id} of daemon ")
    assert word.last_error.endswith(f" (the alert went to {hook.url} before the webhook's URL changed, not here); "
                                    "not posted again")
    assert cli.main(["alerts", "--db", str(tmp_path / "e.db")]) == 0
    first, _ = capsys.readouterr().out.splitlines()
    assert first.endswith(f"agent: handled (called an ambulance) at {time.strftime('%H:%M:%S', time.localtime(word.said_at))}"
                          f", not deliverable ({word.last_error})]"), first
    assert cli.main(["alerts", "--jsonl", "--db", str(tmp_path / "e.db")]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (row["agent_word_delivery"], row["agent_word_error"]) == ("failed", word.last_error)


def test_a_word_the_receiver_asks_to_wait_for_counts_no_failed_attempt_as_an_alert_it_asks_to_wait_for(tmp_path, hook):
    """The console answers the agent's word 429 with ``Retry-After`` twice (its limit of an agent's
    posts), then takes it: each wait counted as a failed attempt of the word's (``delivery.retries``,
    the backoff), so that a word a busy console paced could be given up after a failure or two more,
    where an alert it paces is never given up for it. A wait the receiver asks for is no failed
    attempt, for a word as for an alert: the word is delivered with no attempt counted."""
    asked = []
    def refuses(post: dict) -> int | None:
        if post.get("type") != "agent_word" or len(asked) == 2:
            return None
        asked.append(post)
        return 429
    hook.refuses, hook.retry_after = refuses, "1"
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, retries=1, backoff_s=0.05, max_backoff_s=5.0, poll_s=0.05,
                           identity=Sender.of(store, "alice")).start()
        try:
            raised = delivered_alert(sink, store)
            store.set_word(raised.alert_id, "handled", "", time.time())
            sink.wake()
            until(lambda: store.words_of([raised.alert_id])[raised.alert_id].status != "pending",
                  lambda: f"the word posted after two waits: {store.words_of([raised.alert_id])}")
        finally:
            sink.close()
        word = store.words_of([raised.alert_id])[raised.alert_id]
    assert (len(asked), word.status, word.attempts) == (2, "delivered", 0)


def test_a_word_said_again_on_an_alert_the_console_answered_409_is_posted_once_more_and_the_answer_says_so(
        tmp_path, hook, capsys):
    """The receiver answers the agent's word on an alert with 409 (it has not the alert): the word is
    not deliverable. The agent says it again: it is posted once more (the webhook may point at the
    console that has the alert by now), the answer names the refusal before it, and a second 409 makes
    it not deliverable at once."""
    hook.refuses = lambda post: 409 if post.get("type") == "agent_word" else None
    hook.refusal = {"error": "no alert here", "code": "unknown_alert"}
    store = Store.open(tmp_path / "e.db")
    sink = WebhookSink(store, hook.url, retries=5, backoff_s=0.05, max_backoff_s=0.1, poll_s=0.05,
                       identity=Sender.of(store, "alice")).start()
    words = lambda: [p for p in hook.headers if p.get("X-Callmonitor-Delivery", "").startswith("word-")]  # noqa: E731
    try:
        raised = delivered_alert(sink, store)
        store.set_word(raised.alert_id, "handled", "", time.time())
        sink.wake()
        until(lambda: store.words_of([raised.alert_id])[raised.alert_id].status == "failed",
              lambda: f"the word refused (409): {store.words_of([raised.alert_id])}")
        refused = store.words_of([raised.alert_id])[raised.alert_id]
        assert refused.last_error.startswith("HTTP 409 Conflict: no alert here")
        again = _outcome(capsys, tmp_path / "none.sock", str(raised.alert_id), "false-alarm", "--db", str(tmp_path / "e.db"))
        assert again.returncode == 0, again.stderr
        assert again.stdout.startswith(f"alert {raised.alert_id} (possible_emergency, call 1 at 00:12.0): false alarm, "
                                       "in place of handled; to the supervisor's console with the webhook, posted "
                                       f"again (the word before it was not deliverable: {refused.last_error})"), again.stdout
        sink.wake()
        until(lambda: store.words_of([raised.alert_id])[raised.alert_id].status == "failed",
              lambda: f"the word refused (409): {store.words_of([raised.alert_id])}")
        word = store.words_of([raised.alert_id])[raised.alert_id]
        assert (word.word, word.attempts) == ("false_alarm", 1)
        assert len(words()) == 2
    finally:
        sink.close()
        store.close()


@pytest.fixture
def db(tmp_path):
    """A database with a replayed call's alert (id 1, never sent to a webhook)."""
    path = tmp_path / "e.db"
    with Store.open(path) as store:
        stored_alert(store, source=str(tmp_path / "call.wav"))
    return path


def _said(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(["outcome", *args, "--socket", "/nonexistent/d.sock"])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_replayed_calls_alert_takes_a_word_kept_and_not_sent(db, capsys):
    status, out, _ = _said(capsys, "1", "handled", "--db", str(db))
    assert status == 0 and out.strip() == ("alert 1 (possible_emergency, call 1 at 00:12.0): handled; kept here "
                                           "(the alert was never sent to a webhook)")
    cli.main(["alerts", "--db", str(db)])
    line = capsys.readouterr().out
    assert line.startswith("CRITICAL ") and "  #1     call 1 " in line and "agent: handled at " in line


def test_a_word_on_an_alert_whose_delivery_failed_for_good_is_kept_and_not_sent_not_left_to_post_for_ever(db, capsys):
    """The word is posted once its alert was delivered: an alert given up on never will be, so its word,
    said before or after, is unsent (``alerts``: no "to post"), and the answer says it goes to no console."""
    with Store.open(db) as store:
        first = store.enqueue_delivery(1, "http://127.0.0.1:9/hook")
        assert store.set_word(1, "handled", "", 1000.0) is None and store.words_of([1])[1].status == "pending"
        store.mark_failed(first, None, "connection refused")  # given up after the word was said
        assert store.words_of([1])[1].status == "unsent"
        other = stored_alert(store)
        store.mark_failed(store.enqueue_delivery(other.alert_id, "http://127.0.0.1:9/hook"), None, "refused")
    status, out, err = _said(capsys, str(other.alert_id), "false-alarm", "--db", str(db))
    assert (status, err) == (0, "") and out.strip().endswith(
        "false alarm; kept here (the alert's delivery to the webhook failed for good, so it goes to none)")
    cli.main(["alerts", "--db", str(db)])
    listed = capsys.readouterr().out
    assert "agent: handled at " in listed and "agent: false alarm at " in listed and "to post" not in listed


def test_last_while_the_database_is_behind_is_refused_not_given_to_an_earlier_calls_alert(tmpfs):
    """An alert raised while the disk was full waits in the daemon to be written: the database's latest
    alert is an earlier call's, which ``last`` must not name; an alert's id is taken as usual."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.events import AlertEvent

    store = Store.open(tmpfs / "e.db")
    earlier = stored_alert(store)
    source = FileSource(ALERTING_CALL)  # opened, never read: the daemon is not run
    daemon = Daemon(load_config(overrides={"storage.db": str(tmpfs / "e.db")}, user_config=False), source, store, {})
    call = daemon.guard.start_call("live:caller=softphone.monitor", 1000.0)
    filler = fill(tmpfs)
    assert daemon.guard.add_alert(call, AlertEvent(t=5.0, kind="slow_speech", message="m")).stored is False
    filler.unlink()  # room again; what is held is written at the guard's next try
    try:
        said = daemon.agent_word({"alert": None, "word": "false_alarm", "note": ""})
        assert said["error"].startswith("the database is behind: 1 record(s) of the calls wait to be written "), said
        assert store.words_of([earlier.alert_id]) == {}
        assert daemon.agent_word({"alert": earlier.alert_id, "word": "handled", "note": ""})["ok"]
    finally:
        store.close()


def test_the_daemon_logs_an_agents_word_and_a_refused_click_with_a_note_never_the_notes_text(tmp_path, monitor_logs):
    """An agent's note is free text of the call (a caller's name, a telephone number): the daemon's
    log (its standard error, systemd's journal, which no purge reaches) says "with a note" where
    the word has one, the word said to the daemon, one it replaced, and a notification's click
    refused for the word kept; the answer to the agent who typed it says the note, as typed."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon

    store = Store.open(tmp_path / "e.db")
    alert = stored_alert(store, kind="possible_emergency")
    daemon = Daemon(load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False),
                    FileSource(ALERTING_CALL), store, {})  # the source opened, never read: the daemon is not run
    try:
        first = daemon.agent_word({"alert": alert.alert_id, "word": "false_alarm", "note": "caller Kim 010-5555-1234"})
        second = daemon.agent_word({"alert": alert.alert_id, "word": "handled", "note": "called 119 for Kim"})
        refused = daemon.button_word(alert.alert_id, "false_alarm")
    finally:
        store.close()
    where = f"alert {alert.alert_id} (possible_emergency, call 1 at 00:12.0)"
    assert first["message"] == f"{where}: false alarm (caller Kim 010-5555-1234); kept here (the alert was never sent to a webhook)"
    assert second["message"].startswith(f"{where}: handled (called 119 for Kim), in place of false alarm (caller Kim ")
    assert "error" in refused
    assert [m for _, m in monitor_logs if "agent's word" in m] == [
        f"the agent's word: {where}: false alarm with a note; kept here (the alert was never sent to a webhook)",
        f"the agent's word: {where}: handled with a note, in place of false alarm with a note; kept here (the alert "
        "was never sent to a webhook)",
        f"the agent's word from a notification's button is not kept: {where} has the agent's word already: handled "
        f"with a note, kept; `call-monitor outcome {alert.alert_id} false-alarm` changes it"]
    assert not any("Kim" in m for _, m in monitor_logs)


def test_a_word_said_before_its_alerts_outbox_row_was_written_is_posted_with_it(db):
    """An alert the database wrote late (it failed meanwhile) has its outbox row written by the webhook's
    worker after it: a word said in between goes with the alert once the row is there."""
    with Store.open(db) as store:
        store.set_word(1, "handled", "", 1000.0)
        assert store.words_of([1])[1].status == "unsent"
        store.mark_delivered(store.enqueue_delivery(1, "http://127.0.0.1:9/hook"))
        assert store.words_of([1])[1].status == "pending" and [w.alert_id for w, _ in store.due_words()] == [1]
        other = stored_alert(store)
        store.mark_failed(store.enqueue_delivery(other.alert_id, "http://127.0.0.1:9/hook"), None, "refused")
        store.set_word(other.alert_id, "handled", "", 1000.0)
        store.enqueue_delivery(other.alert_id, "http://127.0.0.1:9/hook")  # its row is there, given up
        assert store.words_of([other.alert_id])[other.alert_id].status == "unsent"


def test_words_waiting_for_their_alerts_hold_up_none_whose_alert_was_delivered(db):
    """A word is posted once its alert was delivered: those whose alerts are still on their way (more
    than a pass takes) do not keep the others from their posts."""
    with Store.open(db) as store:
        store.enqueue_delivery(1, "http://127.0.0.1:9/hook")  # not delivered yet
        store.set_word(1, "handled", "", 1000.0)
        other = stored_alert(store)
        store.mark_delivered(store.enqueue_delivery(other.alert_id, "http://127.0.0.1:9/hook"))
        store.set_word(other.alert_id, "false_alarm", "", 2000.0)
        assert [w.alert_id for w, _ in store.due_words(limit=1)] == [other.alert_id]


@pytest.mark.parametrize("args, status, said", [
    (("7", "handled"), 1, "outcome: alert 7: no such alert in {db} (`call-monitor alerts` lists them)"),
    (("1", "fixed"), 2, "outcome: 'fixed' is no word on an alert: say handled or false-alarm"),
    (("1", "handled", "--note", "x" * (NOTE_CHARS + 1)), 2,
     f"outcome: the note is {NOTE_CHARS + 1} characters long, longer than {NOTE_CHARS}: say it shorter"),
    (("first", "handled"), 2, "outcome: 'first' is no alert id: give the id `call-monitor alerts` lists, or last"),
    (("99999999999999999999", "handled"), 2,
     "outcome: '99999999999999999999' is no alert id: give the id `call-monitor alerts` lists, or last"),
    (("1" + "0" * 5000, "handled"), 2,
     f"outcome: '1{'0' * 5000}' is no alert id: give the id `call-monitor alerts` lists, or last"),
    (("1", "handled", "--note", "a\x07b"), 2, "outcome: the note holds a control character"),
    (("1", "handled", "--note", "a\x9b2Jb"), 2, "outcome: the note holds a control character"),
    (("1", "handled", "--note", "no emergency \u202edellac"), 2, "outcome: the note holds a control character"),
    (("1", "handled", "--note", "a\u2066b\u2069"), 2, "outcome: the note holds a control character"),
    (("1", "handled", "--note", os.fsdecode(b"caf\xe9")), 2,
     "outcome: the note is not valid text (bytes that are not UTF-8): type it again"),
], ids=["unknown id", "unknown word", "note too long", "no alert id", "id past SQLite's integers",
        "more digits than int() reads", "control character", "a C1 control character (an 8-bit CSI)",
        "a right-to-left override", "a bidirectional isolate", "a Latin-1 note"])
def test_bad_input_is_one_line_naming_the_problem_and_keeps_nothing(db, capsys, args, status, said):
    got, out, err = _said(capsys, *args, "--db", str(db))
    assert (got, out, err) == (status, "", f"call-monitor: error: {said.format(db=db)}\n")
    with Store.open_readonly(db) as store:
        assert store.words_of([1]) == {}


def test_a_note_kept_before_it_was_checked_as_now_is_shown_escaped_by_alerts_and_outcomes(tmp_path, capsys):
    """A database of an earlier release may hold a note with an 8-bit CSI or a right-to-left override
    (``note_of`` refused only C0 and DEL): ``alerts`` and ``alerts --outcomes`` write them as Python
    writes them in a string, as every line writes a file's name, not to the terminal raw."""
    db = tmp_path / "e.db"
    with Store.open(db) as store:
        stored_alert(store, source="live:caller=softphone.monitor")  # a live call's: --outcomes counts it
        store.set_word(1, "false_alarm", "caller ok\x9b2J \u202eyako", time.time())
    assert cli.main(["alerts", "--db", str(db)]) == 0
    listed = capsys.readouterr().out
    assert "agent: false alarm (caller ok\\x9b2J \\u202eyako) at " in listed, listed
    assert cli.main(["alerts", "--outcomes", "--db", str(db)]) == 0
    summed = capsys.readouterr().out
    assert [ln.strip() for ln in summed.splitlines() if "caller ok" in ln] == ["1 \u00d7 caller ok\\x9b2J \\u202eyako"]
    assert not set(listed + summed) & {"\x9b", "\u202e"}


def _asked_word(sock: Path, word: dict) -> dict:
    """The daemon's answer at ``sock`` to the word ``word``, sent as a request of the socket's own."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10.0)
        s.connect(str(sock))
        s.sendall(json.dumps({"word": word}).encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        return json.loads(s.makefile("rb").readline())


@pytest.mark.skipif(not have_pulse(), reason="pulseaudio not installed")
def test_a_word_at_the_socket_whose_note_or_db_is_no_text_is_one_error_answer_and_nothing_is_kept(pulse, env, tmp_path):
    """``"note": {"a": 1}`` was kept as its Python text (``{'a': 1}``); a ``db`` that was no text was
    taken for the daemon's own database. Each is refused with one error answer, as a note holding a
    C1 control character or a right-to-left override is."""
    with Store.open(tmp_path / "e.db") as store:
        stored_alert(store)
    d = start_daemon(env, tmp_path)
    sock = Path(env["XDG_RUNTIME_DIR"]) / "callmonitor.sock"
    try:
        for word, said in (({"alert": 1, "word": "handled", "note": {"a": 1}}, "the note is no text: give it as a "
                                                                               "JSON string"),
                           ({"alert": 1, "word": "handled", "note": 3}, "the note is no text: give it as a JSON string"),
                           ({"alert": 1, "word": "handled", "note": "a\x9bb"}, "the note holds a control character"),
                           ({"alert": 1, "word": "handled", "note": "\u202eok"}, "the note holds a control character"),
                           ({"alert": 1, "word": "handled", "db": {"path": "e.db"}},
                            "a word's db is the path of a database, as a JSON string")):
            assert _asked_word(sock, word) == {"error": said}, word
        assert _asked_word(sock, {"alert": 1, "word": "handled", "note": "checked on"})["ok"] is True
    finally:
        stop_daemon(d)
    with Store.open_readonly(tmp_path / "e.db") as store:
        assert store.words_of([1])[1].note == "checked on"


def test_no_database_and_no_daemon_is_one_line_and_makes_no_database(tmp_path, capsys):
    missing = tmp_path / "none.db"
    got, out, err = _said(capsys, "last", "handled", "--db", str(missing))
    assert (got, out) == (2, "") and err == (f"call-monitor: error: outcome: {missing}: no database there (nothing has "
                                             "been recorded to it yet), and no daemon answers: nothing kept\n")
    assert not missing.exists()


NO_DATABASE = {
    "random bytes": lambda p: p.write_bytes(bytes(range(256)) * 16),
    "a folder": lambda p: p.mkdir(),
    "an empty file": lambda p: p.write_bytes(b""),
    "an SQLite file with no tables": bare_sqlite_file,
}


@pytest.mark.parametrize("make", NO_DATABASE.values(), ids=NO_DATABASE.keys())
def test_a_database_the_reading_commands_refuse_is_refused_as_they_say_it_exit_2_and_left_as_it_was(
        tmp_path, capsys, make):
    """With no daemon answering, the word is kept in the database as `alerts` reads one: what is no
    callmonitor database is said in `alerts`' words, exit 2 as there, and left byte for byte (an
    empty file or an SQLite file with no tables is not made a database the word is then missing from)."""
    given = tmp_path / "somedir.wav"
    make(given)
    before = given.read_bytes() if given.is_file() else None
    assert cli.main(["alerts", "--db", str(given)]) == 2
    (refused,) = capsys.readouterr().err.removeprefix("call-monitor: error: ").splitlines()
    got, out, err = _said(capsys, "1", "handled", "--db", str(given))
    assert (got, out) == (2, "") and err.startswith(f"call-monitor: error: outcome: {refused}") and \
        err.count("\n") == 1, err
    assert (given.read_bytes() if given.is_file() else None) == before and given.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["somedir.wav"]


def test_a_version_5_database_gains_the_words_in_place_and_a_purge_takes_them_with_their_alerts(tmp_path):
    """Rolled back as docs/deployment.md says, it is again as schema 5 made it, and upgraded again."""
    p = tmp_path / "v5.db"
    conn = sqlite3.connect(p)
    conn.executescript(store_schema._SCHEMA.split("CREATE TABLE alert_words")[0] + "PRAGMA user_version = 5;")
    conn.close()
    made_by_0_3 = db_tables(p)
    with Store.open(p) as store:
        raised = stored_alert(store, started_at=1000.0)
        store.end_call(raised.call_id, 60.0, ended_at=1060.0)
        assert store.set_word(raised.alert_id, "false_alarm", "", 1100.0) is None
        assert store.set_word(raised.alert_id, "handled", "escalated", 1200.0).word == "false_alarm"
        assert store.words_of([raised.alert_id])[raised.alert_id].note == "escalated"
        assert store.purge(2000.0)["alert_words"] == 1
    assert sqlite3.connect(p).execute("PRAGMA user_version").fetchone()[0] == store_schema.SCHEMA_VERSION == 6
    rolled_back_as_documented(p, 5, of="events.db")
    assert db_tables(p) == made_by_0_3
    Store.open(p).close()
    assert "alert_words" in db_tables(p)


def _word(alert_id: int, word: str, said_at: float, **extra) -> dict:
    return {"type": "agent_word", "source": "call-monitor", "daemon_id": "d-test", "agent": "alice",
            "alert_id": alert_id, "word": word, "note": "", "said_at": said_at, **extra}


def test_the_console_keeps_the_latest_word_beside_the_alert_over_a_restart_and_refuses_one_on_an_alert_it_has_not(
        tmp_path):
    console = ConsoleProcess(tmp_path / "console")
    try:
        assert console.post(alert_body(4))[0] == 201
        assert console.post(_word(4, "handled", 2000.0, note="checked on the caller"))[0] == 200
        assert console.post(_word(4, "false_alarm", 1000.0))[0] == 200  # said before, come late: changes nothing
        (a,) = console.state()["alerts"]
        assert (a["agent_word"], a["agent_note"], a["agent_word_at"]) == ("handled", "checked on the caller", 2000.0)
        status, said = console.post(_word(5, "handled", 2000.0))
        assert (status, said["code"]) == (409, "unknown_alert")
        status, said = console.post(_word(4, "fine", 2000.0))
        assert status == 422 and said["error"].startswith("word: expected one of handled, false_alarm")
        assert console.stop() == 0
    finally:
        console.kill()
    again = ConsoleProcess(tmp_path / "console")  # restarted: the word is kept with the alert
    try:
        (a,) = again.state()["alerts"]
        assert (a["agent_word"], a["agent_note"], a["agent_word_at"]) == ("handled", "checked on the caller", 2000.0)
    finally:
        again.kill()


def test_the_consoles_page_shows_the_agents_word_on_the_alerts_card_as_it_comes_and_as_it_changes(console_pages):
    console = console_pages.console
    page = console_pages.open()
    status, body = console.post(alert_body(4))
    assert status == 201
    card = f"document.querySelector('#critical article[data-id=\"{body['id']}\"]')"
    page.wait(f"{card} !== null")
    assert page.eval(f"{card}.querySelector('.agentword')") is None
    assert console.post(_word(4, "false_alarm", 2000.0, note="the caller was eating"))[0] == 200
    page.wait(f"{card} !== null && {card}.querySelector('.agentword') !== null")
    said = page.eval(f"{card}.querySelector('.agentword').innerText")
    assert said.startswith("Agent: false alarm: the caller was eating ("), said
    assert console.post(_word(4, "handled", 3000.0))[0] == 200  # the agent said it again: the card follows
    page.wait(f"{card}.querySelector('.agentword').innerText.startsWith('Agent: handled (')")
    assert page.eval(f"{card}.querySelectorAll('.agentword').length") == 1


def test_a_click_waiting_for_the_database_keeps_the_word_another_process_wrote_meanwhile(tmp_path):
    """A click's word (kept in place of none) reads the alert without a word, then waits for the database,
    which another process holds, writing the word the agent typed (`call-monitor outcome` keeping it itself:
    the daemon did not answer in time). The typed word stays; the click's is refused, the typed one said."""
    import threading

    with Store.open(tmp_path / "e.db") as store:
        alert = stored_alert(store)
        store.flush()
        other = sqlite3.connect(tmp_path / "e.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO alert_words (alert_id, word, note, said_at, status, next_attempt_at) "
                      "VALUES (?, 'handled', 'called an ambulance', ?, 'unsent', 0)", (alert.alert_id, time.time()))
        kept_before: list = []
        click = threading.Thread(target=lambda: kept_before.append(
            store.set_word(alert.alert_id, "false_alarm", "", time.time(), replace=False)))
        click.start()
        time.sleep(0.3)  # the click has read no word, and waits for the other's write lock
        other.execute("COMMIT")
        other.close()
        click.join(30.0)
        assert not click.is_alive(), "the click's write: never done once the other process committed"
        kept = store.words_of([alert.alert_id])[alert.alert_id]
    assert (kept.word, kept.note) == ("handled", "called an ambulance")
    assert [(w.word, w.note) for w in kept_before] == [("handled", "called an ambulance")]


def test_each_word_said_is_a_post_of_its_own_delivery_id_its_retries_the_same_and_said_at_as_alerts_gives_it(
        tmp_path, hook, capsys):
    """A word's ``X-Callmonitor-Delivery`` was ``word-ALERT``, the same for the word said again
    (false alarm after handled): a receiver keeping posts once by it dropped the changed word. And
    its ``said_at`` was rounded to the millisecond, where ``alerts --jsonl`` gives the time kept. A
    retry of a word (the receiver answered 503) carries the same delivery id; the word said again
    another; each post's ``said_at`` is the time ``alerts --jsonl`` gives."""
    posts: list[tuple[str, dict]] = []
    def record(post: dict) -> int | None:
        posts.append((hook.headers[-1]["X-Callmonitor-Delivery"], post))
        first_word = post.get("type") == "agent_word" and sum(p["type"] == "agent_word" for _, p in posts) == 1
        return 503 if first_word else None
    hook.refuses = record
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, hook.url, retries=0, backoff_s=0.05, max_backoff_s=0.1, poll_s=0.05,
                           identity=Sender.of(store, "alice")).start()
        try:
            raised = delivered_alert(sink, store)
            for word, note in (("handled", "called an ambulance"), ("false_alarm", "was laughing")):
                store.set_word(raised.alert_id, word, note, time.time() + 0.000123)
                sink.wake()
                until(lambda: store.words_of([raised.alert_id])[raised.alert_id].status == "delivered",
                      lambda: f"the word delivered: {store.words_of([raised.alert_id])}")
                said_at = store.words_of([raised.alert_id])[raised.alert_id].said_at
                assert [p["said_at"] for _, p in posts if p["type"] == "agent_word"][-1] == said_at
        finally:
            sink.close()
    (alert_id, _), *words = posts
    assert [(p["word"], delivery) for delivery, p in words] == [
        ("handled", words[0][0]), ("handled", words[0][0]), ("false_alarm", words[2][0])]
    assert len({alert_id, words[0][0], words[2][0]}) == 3 and words[0][0].startswith("word-")
    assert cli.main(["alerts", "--jsonl", "--db", str(tmp_path / "e.db")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["agent_word"], row["agent_word_at"]) == ("false_alarm", words[2][1]["said_at"])


def test_each_heartbeat_carries_a_delivery_id_of_its_own(hook):
    """The docs say every post carries ``X-Callmonitor-Delivery``; heartbeats carried none. A heartbeat
    is never posted again (the next one is a new status), so each has an id of its own."""
    from monitor.delivery.sinks.webhook import Heartbeat, Identity
    heartbeat = Heartbeat(hook.url, Identity("alice", "d-test"), lambda: {}, every_s=3600.0)
    assert heartbeat.beat() and heartbeat.beat()
    ids = [h.get("X-Callmonitor-Delivery") for h in hook.headers]
    assert len(ids) == 2 and all(i and i.startswith("heartbeat-") for i in ids) and ids[0] != ids[1]
