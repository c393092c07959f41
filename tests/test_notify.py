"""Desktop notifications through a real session bus and notification server (dunst on Xvfb)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time

import pytest
import soundfile as sf

from conftest import CALLS, ROOT, Daemon, Desktop, db_rows, stop_daemon, wait_for

from monitor.events import AlertAckedEvent, AlertEvent, CallSummaryEvent
from monitor.delivery.sinks.notify import NotifySink


def test_a_notification_carries_its_urgency_critical_for_a_critical_alert_and_its_acknowledgement_mid_call():
    crit = AlertEvent(t=1.0, kind="possible_emergency", severity="critical", message="m", actions=("a", "b"))
    warn = AlertEvent(t=1.0, kind="slow_speech", severity="warning", message="w")
    assert NotifySink.format(crit).urgency == "critical" and "possible emergency" in NotifySink.format(crit).summary
    assert "• a" in NotifySink.format(crit).body
    assert NotifySink.format(warn).urgency == "normal"
    acked = AlertAckedEvent(t=1.0, call_id=3, alert_id=5, kind="possible_emergency", severity="critical", by="Dana",
                            acked_at=1796431283.0)
    assert NotifySink.format_acked(acked).urgency == "critical"
    assert NotifySink.format_acked(acked, over=True).urgency == "normal"


def test_a_notification_says_what_the_alert_means_then_what_to_do_then_the_measurements():
    """A desktop shows a notification's first lines: the agent reads the plain words and the next
    step there; the measured evidence (dB, syll/s, the evidence score) comes last. A distress
    phrase's message, the caller's own words, comes first."""
    crit = AlertEvent(t=93.0, kind="possible_emergency", severity="critical",
                      message="Possible emergency: long pauses and slow speech agree (evidence 3.6, raised at 3)",
                      actions=("Ask the caller how they feel right now", "Keep the caller on the line"))
    assert NotifySink.format(crit).body.splitlines() == [
        "The caller may be unwell or in danger: check on them now", "• Ask the caller how they feel right now",
        "• Keep the caller on the line",
        "Possible emergency: long pauses and slow speech agree (evidence 3.6, raised at 3)"]
    phrase = AlertEvent(t=9.0, kind="distress_phrase", severity="critical",
                        message='Distress phrase: the caller said "I can\'t breathe"', actions=("Ask",))
    assert NotifySink.format(phrase).body.splitlines() == ['Distress phrase: the caller said "I can\'t breathe"', "• Ask"]


def test_an_acknowledgement_in_the_hour_daylight_saving_time_repeats_says_its_zone(in_berlin):
    """Berlin's clocks read 02:30:30 twice on 2026-10-25: the notification of an acknowledgement then
    says which (CEST, an hour later CET); an hour before, the time is as it was."""
    cest, cet = in_berlin
    said = [NotifySink.format_acked(AlertAckedEvent(t=1.0, call_id=3, alert_id=5, kind="possible_emergency",
                                                    severity="critical", by="Dana", acked_at=at + 30)).body
            for at in (cest - 3600, cest, cet)]
    assert [body.split(": they have seen it")[0] for body in said] == [
        f"Supervisor Dana acknowledged this critical alert at {clock}" for clock in
        ("01:30:30", "02:30:30 CEST", "02:30:30 CET")]


MARKUP = "<a href='https://example.com/'>Dana</a> & <b>co</b>"
"""Text from outside (a name typed on the console, a caller's words, a configured action) that a
notification server, reading a body as markup, would render as a link and bold text."""
SHOWN = "&lt;a href='https://example.com/'&gt;Dana&lt;/a&gt; &amp; &lt;b&gt;co&lt;/b&gt;"


def test_a_supervisor_s_name_in_an_acknowledgement_s_body_is_plain_text_not_markup():
    from monitor.events import AlertAckedEvent
    ack = AlertAckedEvent(t=93.0, call_id=3, alert_id=5, kind="possible_emergency", severity="critical", by=MARKUP,
                          acked_at=1796431283.0)
    assert NotifySink.format_acked(ack).body.startswith(f"Supervisor {SHOWN} acknowledged this critical alert at ")


def test_an_alert_s_words_and_actions_in_its_body_are_plain_text_not_markup():
    phrase = AlertEvent(t=9.0, kind="distress_phrase", severity="critical",
                        message=f'Distress phrase: the caller said "{MARKUP}"', actions=(f"Call {MARKUP}",))
    assert NotifySink.format(phrase).body.splitlines() == [f'Distress phrase: the caller said "{SHOWN}"',
                                                         f"• Call {SHOWN}"]


def test_missing_notify_send_is_logged_not_raised(monitor_logs):
    logs = monitor_logs
    sink = NotifySink(command="no-such-notify-send")
    ev = AlertEvent(t=1.0, kind="slow_speech", severity="warning", message="w")
    assert sink.send(ev) is False and sink.send(ev) is False
    assert logs[0][0] == "warning" and "not found" in logs[0][1] and logs[1][0] == "info"
    assert logs[0][1].endswith("(no desktop here? `run --no-notify` or delivery.notify = false turns them off)")
    assert "--no-notify" not in logs[1][1]  # the hint once, with the warning
    sink.close()


def on_dunst(desktop: Desktop, sends: str) -> tuple[str, list[dict]]:
    """Run ``sends`` (Python, with ``s`` a NotifySink) against the ``desktop``'s dunst: what it printed,
    and dunst's history of the notifications (each closed first, a moment after it ends)."""
    script = desktop.folder / "send.py"
    script.write_text(textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from monitor.events import AlertEvent, CallSummaryEvent
        from monitor.console import configure_logging
        from monitor.delivery.sinks.notify import NotifySink
        configure_logging("info")
        s = NotifySink()
    """) + textwrap.dedent(sends))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                       env=desktop.full_env())
    assert r.returncode == 0, r.stderr
    time.sleep(0.3)
    return r.stdout, desktop.history()


def test_critical_alert_reaches_dunst(desktop):
    said, items = on_dunst(desktop, """
        ok1 = s.send(AlertEvent(t=74.0, kind="possible_emergency", severity="critical",
                                message="Several cues agree", actions=("Get the caller's exact location",)))
        ok2 = s.send(AlertEvent(t=70.0, kind="slow_speech", severity="warning", message="Slower"))
        print(ok1, ok2)
    """)
    assert said.startswith("True True")
    by_summary = {i["summary"]["data"]: i for i in items}
    crit = by_summary["CRITICAL: possible emergency"]
    # dunst's history has no urgency field; its default rules give critical urgency no timeout
    assert crit["timeout"]["data"] == 0 and "Several cues agree" in crit["body"]["data"]
    assert crit["appname"]["data"] == "call-monitor"
    assert by_summary["Warning: slow speech"]["timeout"]["data"] > 0


def test_a_call_that_ends_with_its_critical_alert_on_the_desktop_replaces_it_by_one_that_goes(desktop):
    """A critical notification stays until dismissed: once its call is over it would tell the agent,
    on with the next caller, to get "the caller's exact location". It is replaced by a normal one
    saying that call is over (and when the alert came), which goes as a normal one does; another
    call's critical notification stays."""
    said, items = on_dunst(desktop, """
        crit = dict(kind="possible_emergency", severity="critical", message="Several cues agree")
        print(s.send(AlertEvent(t=93.0, call_id=3, **crit)), s.send(AlertEvent(t=20.0, call_id=4, **crit)),
              s.call_over(CallSummaryEvent(t=227.0, call_id=3, ended_by="the softphone's stream ended")),
              s.call_over(CallSummaryEvent(t=227.0, call_id=3, ended_by="the softphone's stream ended")))
    """)
    assert said.split() == ["True", "True", "True", "False"]  # the second end finds nothing left to replace
    assert sorted((i["summary"]["data"], i["timeout"]["data"] > 0) for i in items) == [
        ("CRITICAL: possible emergency", False), ("Call over: possible emergency", True)]
    (over,) = [i for i in items if i["summary"]["data"].startswith("Call over")]
    assert over["body"]["data"] == "That call is over. The alert was raised 01:33 into it."


def test_a_call_the_daemon_s_stop_ends_is_not_over_and_its_critical_notification_stays():
    """Ctrl-C or a restart mid-call ends the call in the database, but the caller is still on the
    line: the critical notification is not replaced (the queue keeps the order: sent, kept, ended)."""
    sink = NotifySink(command="true")
    sink._prints_id = True
    sink._run = lambda args: calls.append(args) or subprocess.CompletedProcess(args, 0, "7\n", "")
    calls: list[list[str]] = []
    sink(AlertEvent(t=93.0, kind="possible_emergency", severity="critical", message="m", call_id=3))
    sink.keep_shown()
    sink(CallSummaryEvent(t=103.0, call_id=3, ended_by="SIGINT"))
    sink(AlertEvent(t=20.0, kind="possible_emergency", severity="critical", message="m", call_id=4))
    sink(CallSummaryEvent(t=60.0, call_id=4, ended_by="call-monitor call end"))
    sink.close(timeout=5.0)
    assert [a[0] for a in calls] == ["-u", "-u", "-r"] and calls[2][:2] == ["-r", "7"]


def test_a_critical_alert_acknowledged_on_the_console_replaces_its_notification_by_one_saying_who_saw_it(desktop):
    """The agent in an emergency call learns on the desktop that the supervisor has seen the critical
    alert: its notification is replaced (still critical: the alert stands) by one naming who
    acknowledged it and when."""
    said, items = on_dunst(desktop, """
        from monitor.events import AlertAckedEvent
        print(s.send(AlertEvent(t=93.0, call_id=3, kind="possible_emergency", severity="critical", message="m")),
              s.acked(AlertAckedEvent(t=93.0, call_id=3, alert_id=5, kind="possible_emergency", severity="critical",
                                      by="Dana", acked_at=1796431283.0)))
    """)
    assert said.split() == ["True", "True"]
    (shown,) = items  # the alert's notification replaced, not a second one beside it
    assert shown["summary"]["data"] == "Acknowledged: possible emergency" and shown["timeout"]["data"] == 0
    assert shown["body"]["data"].startswith("Supervisor Dana acknowledged this critical alert at ")


def test_a_warnings_acknowledgement_brings_no_desktop_notification():
    from monitor.events import AlertAckedEvent
    sink = NotifySink(command="true")
    calls: list[list[str]] = []
    sink._run = lambda args: calls.append(args) or subprocess.CompletedProcess(args, 0, "", "")
    sink(AlertAckedEvent(t=40.0, call_id=3, alert_id=2, kind="slow_speech", severity="warning", by="Dana",
                         acked_at=1796431283.0))
    sink.close(timeout=5.0)
    assert calls == []


def test_with_include_phrase_text_off_a_notification_names_the_listed_phrase_not_the_callers_words():
    """``delivery.include_phrase_text = false``: a notification pops up over whatever is on the screen
    (a shared screen, a locked one that shows them) and stays in the notification server's history,
    which no retention or purge reaches; it names the listed phrase, as the webhook's post does."""
    phrase = AlertEvent(t=9.0, kind="distress_phrase", severity="warning",
                        message='Distress phrase: the caller said "oh I cannot breathe my chest"', actions=("Ask",),
                        evidence={"phrase": "cannot breathe", "excerpt": "oh I cannot breathe my chest"})
    joined = AlertEvent(t=12.0, kind="possible_emergency", severity="critical",
                        message='Possible emergency: slow speech and the caller said "oh I cannot breathe my chest"',
                        evidence={"phrase": {"phrase": "cannot breathe", "excerpt": "oh I cannot breathe my chest"}})
    for ev in (phrase, joined):
        assert "oh I cannot" in NotifySink.format(ev).body
        assert "my chest" not in NotifySink.format(ev, include_phrase_text=False).body
    assert NotifySink.format(phrase, include_phrase_text=False).body.splitlines() == [
        'Distress phrase: the caller said a listed distress phrase ("cannot breathe")', "• Ask"]


def test_a_calls_critical_alerts_are_one_notification_each_kind_and_none_stays_once_the_call_is_over(desktop):
    """A possible emergency raised again after it cleared replaces its notification rather than piling
    up beside it, and a second critical kind (a distress phrase configured critical) has its own: once
    the call is over, every one of them is replaced by one that goes, none left telling the agent, on
    with the next caller, to get the caller's location."""
    said, items = on_dunst(desktop, """
        crit = dict(severity="critical", message="Several cues agree", call_id=3)
        print(s.send(AlertEvent(t=93.0, kind="possible_emergency", **crit)),
              s.send(AlertEvent(t=98.0, kind="distress_phrase", **crit)),
              s.send(AlertEvent(t=160.0, kind="possible_emergency", **crit)),
              s.call_over(CallSummaryEvent(t=227.0, call_id=3, ended_by="the softphone's stream ended")))
    """)
    assert said.split() == ["True"] * 4
    assert sorted((i["summary"]["data"], i["body"]["data"], i["timeout"]["data"] > 0) for i in items) == [
        ("Call over: distress phrase", "That call is over. The alert was raised 01:38 into it.", True),
        ("Call over: possible emergency", "That call is over. The alert was raised 02:40 into it.", True)]


def test_an_acknowledgement_keeps_the_alerts_next_steps_in_its_call_and_goes_by_itself_once_the_call_is_over(desktop):
    """While its call goes on the acknowledged alert stands: its notification says who saw it above
    what to do. A supervisor who acknowledges the alert after the call ended (the usual case) is told in
    a normal notification, not a critical one that would stay on the desktop into the next call."""
    said, items = on_dunst(desktop, """
        from monitor.events import AlertAckedEvent
        crit = dict(kind="possible_emergency", severity="critical", message="Several cues agree",
                    actions=("Get the caller's exact location",))
        ack = dict(kind="possible_emergency", severity="critical", by="Dana", acked_at=1796431283.0)
        print(s.send(AlertEvent(t=93.0, call_id=3, **crit)), s.acked(AlertAckedEvent(t=93.0, call_id=3, alert_id=5, **ack)),
              s.send(AlertEvent(t=20.0, call_id=4, **crit)),
              s.call_over(CallSummaryEvent(t=60.0, call_id=4, ended_by="the softphone's stream ended")),
              s.acked(AlertAckedEvent(t=20.0, call_id=4, alert_id=6, **ack)))
    """)
    assert said.split() == ["True"] * 5
    acked = sorted((i["timeout"]["data"] > 0, i["body"]["data"]) for i in items if i["summary"]["data"].startswith("Ack"))
    assert [(goes, body.splitlines()[1:]) for goes, body in acked] == [
        (False, ["The caller may be unwell or in danger: check on them now", "• Get the caller's exact location",
                 "Several cues agree"]),
        (True, [])]
    assert acked[1][1].endswith(": they have seen it. That call is over; the alert was raised 00:20 into it.")


def stubbed_sink() -> tuple[NotifySink, list[list[str]]]:
    """A sink whose command prints each notification's id (7, 8, ...), and the arguments it ran with."""
    sink = NotifySink(command="true")
    sink._prints_id = True
    calls: list[list[str]] = []
    sink._run = lambda args: calls.append(args) or subprocess.CompletedProcess(args, 0, f"{6 + len(calls)}\n", "")
    return sink, calls


def test_a_call_whose_row_the_failing_database_held_back_ends_its_critical_notifications_by_its_id():
    """An alert raised while a failing database held its call's row back names no call (None); the
    database works again before the call ends, and its summary names the call's id: both of its
    critical notifications (one of each time) are replaced once it is over, none left critical."""
    sink, calls = stubbed_sink()
    crit = dict(kind="possible_emergency", severity="critical", message="m")
    sink(AlertEvent(t=93.0, call_id=None, **crit))
    sink(AlertEvent(t=20.0, call_id=None, kind="distress_phrase", severity="critical", message="m"))
    sink(AlertEvent(t=160.0, call_id=3, **crit))
    sink(CallSummaryEvent(t=227.0, call_id=3, ended_by="the softphone's stream ended"))
    sink.close(timeout=5.0)
    assert sorted(a[1] for a in calls[3:] if a[0] == "-r") == ["7", "8", "9"]
    assert sink._shown == {} and sink._open == set()


def test_a_call_that_failed_and_ended_without_a_summary_ends_its_critical_notification():
    """A call whose audio or database failed ends without a summary (the daemon says it to the sink):
    its critical notification is replaced all the same, and nothing of it is kept for the rest of the shift."""
    sink, calls = stubbed_sink()
    sink(AlertEvent(t=93.0, call_id=3, kind="possible_emergency", severity="critical", message="m"))
    sink.call_ended(3)
    sink.close(timeout=5.0)
    assert calls[1][:4] == ["-r", "7", "-u", "normal"] and sink._shown == {} and sink._open == set()


def test_the_daemon_says_a_call_it_aborts_is_over_to_the_notifications(tmp_path):
    """A call whose audio or database failed is over (its critical notification replaced); one failing
    as the daemon stops is not: its caller is still on the line."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.store import Store

    sink, calls = stubbed_sink()
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = Daemon(cfg, FileSource(CALLS / "normal_8k.wav"), store, {"notify": sink}, notify=sink)
        daemon._start_call(0.0)
        daemon.emit([AlertEvent(t=93.0, call_id=daemon.pipeline.call_id, kind="possible_emergency",
                                severity="critical", message="m")])
        daemon._abort_call(RuntimeError("the capture failed"))
        daemon._start_call(0.0)  # a call failing as the daemon stops is not over for the caller: it stays
        daemon.emit([AlertEvent(t=20.0, call_id=daemon.pipeline.call_id, kind="possible_emergency",
                                severity="critical", message="m")])
        daemon.stop_reason = "SIGTERM"
        daemon._abort_call(RuntimeError("the capture failed"))
    sink.close(timeout=5.0)
    assert [a[:2] for a in calls] == [["-u", "critical"], ["-r", "7"], ["-u", "critical"]]


def test_a_reload_that_turns_notifications_off_mid_call_still_replaces_its_critical_one_at_the_end(tmp_path):
    """delivery.notify = false by a reload mid-call: no notification comes after it, but the critical one
    already on the desktop is replaced once its call is over rather than left telling the agent, on
    with the next caller, to get the caller's location."""
    import dataclasses

    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.store import Store

    sink, calls = stubbed_sink()
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = Daemon(cfg, FileSource(CALLS / "normal_8k.wav"), store, {"notify": sink}, notify=sink)
        daemon._start_call(0.0)
        crit = dict(call_id=daemon.pipeline.call_id, kind="possible_emergency", severity="critical", message="m")
        daemon.emit([AlertEvent(t=93.0, **crit)])
        daemon._run_with(dataclasses.replace(cfg, delivery=dataclasses.replace(cfg.delivery, notify=False)))
        daemon.emit([AlertEvent(t=95.0, **{**crit, "kind": "distress_phrase"})])
        daemon._end_call("the softphone's stream ended")
    sink.close(timeout=5.0)
    assert [a[:2] for a in calls] == [["-u", "critical"], ["-r", "7"]]


def test_a_critical_alert_raised_as_the_daemon_s_stop_ends_the_call_stays_too():
    """The call's last cues, scored as the stop ends it, may raise a critical alert after the stop
    was said to the sink: the caller is still on the line, and that notification stays as the others do."""
    sink, calls = stubbed_sink()
    sink.keep_shown()
    sink(AlertEvent(t=93.0, kind="possible_emergency", severity="critical", message="m", call_id=3))
    sink(CallSummaryEvent(t=93.5, call_id=3, ended_by="SIGTERM", notes={"aborted": True}))
    sink.close(timeout=5.0)
    assert [a[:2] for a in calls] == [["-u", "critical"]]


def test_an_acknowledgement_naming_the_call_of_an_alert_raised_before_its_row_was_written_replaces_its_notification():
    """A failing database held the call's row back: its critical alert named no call. The console, told
    the call's id by the post made once the row was written, acknowledges it naming that id while the call
    goes on: its notification says who saw it (critical still), not that the call is over."""
    from monitor.events import AlertAckedEvent
    sink, calls = stubbed_sink()
    sink(AlertEvent(t=93.0, call_id=None, kind="possible_emergency", severity="critical", message="m"))
    sink(AlertAckedEvent(t=93.0, call_id=3, alert_id=5, kind="possible_emergency", severity="critical", by="Dana",
                         acked_at=1796431283.0))
    sink(CallSummaryEvent(t=227.0, call_id=3, ended_by="the softphone's stream ended"))
    sink.close(timeout=5.0)
    assert [a[:4] for a in calls[1:]] == [["-r", "7", "-u", "critical"], ["-r", "8", "-u", "normal"]]


ON_A_DAEMON = """
    import os, subprocess, time
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.store import Store

    def until(ok, within=30.0):
        end = time.monotonic() + within
        while not ok() and time.monotonic() < end:
            time.sleep(0.02)
        return ok()

    def click(label, taken):
        # the agent picks label in the menu of the notification's actions (its buttons once the
        # waiting notify-send has shown them: asked again till taken() says the click was taken)
        open({choice!r}, "w").write(label)
        return until(lambda: subprocess.run(["dunstctl", "action", "0"], check=True) and False or
                     until(taken, 0.3))

    def no_children():
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        return False

    store = Store.open({db!r})
    cfg = load_config(overrides={{"storage.db": {db!r}}}, user_config=False)
    daemon = Daemon(cfg, FileSource({wav!r}), store, {{"notify": s}}, notify=s)
    s.take_words(daemon.button_word)
    call = store.start_call("test", time.time())
    def raised(kind, severity):
        return store.add_alert(call, AlertEvent(t=93.0, call_id=call, kind=kind, severity=severity, message="m"))
"""


def on_a_daemon(desktop: Desktop, sends: str) -> str:
    """``sends`` for :func:`on_dunst` after a daemon on a real database, which keeps the words of ``s``'s
    buttons, its helpers ``until``, ``click``, ``no_children`` and ``raised(kind, severity)``, which
    stores an alert of its call."""
    return textwrap.dedent(ON_A_DAEMON.format(choice=str(desktop.choice), db=str(desktop.folder / "e.db"),
                                              wav=str(CALLS / "normal_8k.wav"))) + textwrap.dedent(sends)


def test_a_click_on_a_notification_s_button_is_the_agent_s_word_on_its_alert_kept_in_the_database(desktop):
    """The agent clicks "False alarm" on a critical alert's notification: the word is kept as
    `call-monitor outcome ID false-alarm` keeps it, and a notification says so. A warning whose word the
    agent typed already ("handled") keeps it: the click is refused, said in a notification and the log.
    Nothing is left waiting once the sink is closed."""
    said, items = on_dunst(desktop, on_a_daemon(desktop, """
        import logging
        logged = []
        keep = logging.Handler()
        keep.emit = lambda record: logged.append(record.getMessage())
        logging.getLogger("monitor").addHandler(keep)
        a, b = raised("possible_emergency", "critical"), raised("slow_speech", "warning")
        print(daemon.agent_word({"alert": b.alert_id, "word": "handled", "note": "slowed down for her"})["ok"])
        s.send(a)
        print(until(lambda: len(s._waiters) == 1))
        print(click("False alarm", lambda: a.alert_id in store.words_of([a.alert_id])))
        print(until(lambda: s.sent == 2))  # said kept, in a notification of its own
        subprocess.run(["dunstctl", "close-all"], check=True)
        s.send(b)
        print(until(lambda: len(s._waiters) == 1))
        print(click("False alarm", lambda: s.sent == 4))  # refused: said in a notification of its own
        s.close(timeout=5.0)
        print(f"the agent's word: alert {a.alert_id} (possible_emergency" in "".join(logged),
              f"not kept: alert {b.alert_id} (slow_speech" in "".join(logged))
        print(no_children(), a.alert_id, b.alert_id)
    """))
    *done, a, b = said.split()
    assert done == ["True"] * 9, said
    assert db_rows(desktop.folder / "e.db", "SELECT alert_id, word, note FROM alert_words ORDER BY alert_id") == [
        (int(a), "false_alarm", ""), (int(b), "handled", "slowed down for her")]
    bodies = {i["summary"]["data"]: i["body"]["data"] for i in items}
    assert bodies["Kept: false alarm"] == (f"alert {a} (possible_emergency, call 1 at 01:33.0): false alarm; kept here "
                                           "(the alert was never sent to a webhook)")
    assert bodies["Not kept: false alarm"] == (
        f"alert {b} (slow_speech, call 1 at 01:33.0) has the agent's word already: handled with a note, "
        f"kept; `call-monitor outcome {b} false-alarm` changes it")


def test_a_replaced_notification_ends_its_buttons_waiter_and_the_sink_s_close_ends_every_one(desktop):
    """One process waits per notification with buttons: the notification replaced (acknowledged by a
    supervisor, then its call over) ends the one before, the oldest is given up past the cap, and the
    daemon's stop (the sink closed) ends the rest; none is left, nor a zombie."""
    said, _ = on_dunst(desktop, on_a_daemon(desktop, """
        from monitor.events import AlertAckedEvent
        s.close()
        s = NotifySink(max_waiting=2)
        s.take_words(daemon.button_word)
        a = raised("possible_emergency", "critical")
        s.send(a)
        until(lambda: len(s._waiters) == 1)
        first = list(s._waiters._live)[0].proc
        s.acked(AlertAckedEvent(t=93.0, call_id=call, alert_id=a.alert_id, kind="possible_emergency",
                                severity="critical", by="Dana", acked_at=time.time()))
        print(until(lambda: first.returncode is not None), first.returncode, len(s._waiters))
        s.call_over(CallSummaryEvent(t=120.0, call_id=call, ended_by="the softphone's stream ended"))
        print(until(lambda: len(s._waiters._live) == 1), len(s._waiters))
        for kind in ("slow_speech", "long_pauses"):
            s.send(raised(kind, "warning"))
        print(until(lambda: len(s._waiters._live) == 2), len(s._waiters))
        s.close()
        print(no_children(), len(s._waiters._live))
    """))
    assert said.split() == ["True", "-15", "1", "True", "1", "True", "2", "True", "0"], said


def test_past_the_cap_the_oldest_warning_s_buttons_are_given_up_before_a_running_call_s_critical_one_s(desktop):
    """Warnings shown after a critical alert's notification leave its buttons waiting: past the cap
    the oldest warning's waiter is given up; a critical one's only when every one waiting is critical
    (the oldest first), a warning shown then given up at once itself. Each is said in the log."""
    said, _ = on_dunst(desktop, on_a_daemon(desktop, """
        import logging
        logged = []
        keep = logging.Handler()
        keep.emit = lambda record: logged.append(record.getMessage())
        logging.getLogger("monitor").addHandler(keep)
        s.close()
        s = NotifySink(max_waiting=2)
        s.take_words(daemon.button_word)
        names = {}
        def show(name, kind, severity):
            alert = raised(kind, severity)
            names[alert.alert_id] = name
            s.send(alert)
            print(",".join(sorted(names[w.alert_id] for w in s._waiters._waiting.values())))
        show("a", "possible_emergency", "critical")
        show("w1", "slow_speech", "warning")
        show("w2", "long_pauses", "warning")
        show("c2", "distress_phrase", "critical")
        show("w3", "weak_voice", "warning")
        show("c3", "slow_response", "critical")
        print(",".join(names[int(line.split()[4][:-2])] for line in logged if "are given up" in line))
        s.close()
        print(no_children(), len(s._waiters._live))
    """))
    assert said.split() == ["a", "a,w1", "a,w2", "a,c2", "a,c2", "c2,c3", "w1,w2,w3,a", "True", "0"], said


def test_a_notify_send_without_buttons_sends_notifications_as_before_and_says_so_once(monitor_logs):
    """libnotify before 0.8 has no ``--action``: the notifications go without buttons (no process left
    waiting), and the log says once that the agent's word is said with `call-monitor outcome`."""
    sink = NotifySink(command="true")  # its --help names no --action
    sink.take_words(lambda alert_id, word: {"ok": True, "message": ""})
    for alert_id in (1, 2):
        assert sink.send(AlertEvent(t=1.0, kind="slow_speech", severity="warning", message="w", alert_id=alert_id))
    sink.close()
    said = [m for _, m in monitor_logs if "--action" in m]
    assert said == ["true shows no buttons (--action: libnotify 0.8 and later): notifications carry none; "
                    "`call-monitor outcome` says the agent's word"]
    assert len(sink._waiters) == 0


def test_a_reload_turns_the_buttons_off_and_on_for_the_notifications_that_follow(tmp_path):
    """delivery.notify_buttons is read at each reload (SIGHUP), as delivery.notify is."""
    import dataclasses

    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.store import Store

    sink, _ = stubbed_sink()
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        daemon = Daemon(cfg, FileSource(CALLS / "normal_8k.wav"), store, {"notify": sink}, notify=sink)
        seen: list[bool] = []
        for on in (False, True):
            daemon._run_with(dataclasses.replace(cfg, delivery=dataclasses.replace(cfg.delivery, notify_buttons=on)))
            seen.append(sink.buttons)
    sink.close(timeout=5.0)
    assert seen == [False, True]


def test_the_daemon_s_stop_waits_for_a_click_being_kept_before_it_goes_on_to_close_the_database():
    """A click comes as the daemon stops: its waiter's process has ended (the button's key said) and its
    word is being kept when the waiters are closed. The close waits for that word, so the database the
    daemon closes next is still open to keep it."""
    import threading

    from monitor.delivery.sinks.notify_buttons import ButtonWaiters, show_waiting

    keeping, stop_went_on, kept = threading.Event(), threading.Event(), []

    def keep(alert_id: int, word: str) -> None:
        keeping.set()
        stop_went_on.wait(0.3)  # set at once by a close that did not wait for this click
        kept.append((alert_id, word))

    waiters = ButtonWaiters(keep)
    waiters.wait(show_waiting(["printf", "7\\nhandled\\n"], 5.0), 41)  # notification 7 shown, "handled" clicked
    assert keeping.wait(30.0), "the click never kept"
    waiters.close(timeout=5.0)
    kept_at_close = list(kept)
    stop_went_on.set()
    assert kept_at_close == [(41, "handled")]


@pytest.mark.skipif(shutil.which("dbus-monitor") is None, reason="dbus-monitor not installed")
def test_a_notification_with_buttons_is_shown_once_with_them_not_shown_then_said_again(desktop):
    """The notification server is asked once per notification with buttons: the notification comes with
    them (no second request in its place, which would show it twice where a server does not replace it,
    and redraw it where one does), its id known at once, its process left waiting for the click."""
    said, items = on_dunst(desktop, on_a_daemon(desktop, """
        bus = subprocess.Popen(["dbus-monitor", "--session", "type='method_call',member='Notify'"],
                               stdout=subprocess.PIPE, text=True)
        bus.stdout.readline()  # the monitor is on the bus (it says the name it was given)
        a = raised("possible_emergency", "critical")
        s.send(a)
        print(until(lambda: len(s._waiters) == 1))
        time.sleep(0.1)  # what the bus carried is written by the monitor
        bus.terminate()
        print(bus.communicate()[0].count("member=Notify"))
        s.close()
    """))
    assert said.split() == ["True", "1"], said
    assert [i["summary"]["data"] for i in items] == ["CRITICAL: possible emergency"]


QUICK_WARNING = "[rules.slow_speech]\npersist_s = 0\nmin_speech_s = 0\n"
"""A configuration under which the first seconds of the fixture call ``labored_start`` (its caller's
leg) raise a slow_speech warning at once, about 1 s into the call: no wait for the caller to speak
more, nor for the cue to stay. (The test plays 5 s of it: a stream of 3 s or less is no call.)"""


def test_a_click_on_the_running_daemon_s_notification_is_kept_in_its_database_and_posted_to_the_webhook(
        pulse, env, desktop, hook, tmp_path):
    """`call-monitor run` on the private sound server, notifying on a desktop of its own: the caller's
    first seconds raise a warning, whose notification carries the buttons; the agent clicks "False
    alarm" in dunst, and the running daemon keeps the word in its database, posts it to the webhook
    beside the alert, as `call-monitor outcome ID false-alarm` does, and says so in a notification."""
    x, rate = sf.read(CALLS / "labored_start_8k.wav", frames=8000 * 5, dtype="float32")
    caller = tmp_path / "caller.wav"
    sf.write(caller, x[:, 1], rate)
    (tmp_path / "c.toml").write_text(QUICK_WARNING)
    db = tmp_path / "e.db"
    d = Daemon(["--caller", "softphone.monitor", "--config", str(tmp_path / "c.toml"), "--db", str(db),
                "--webhook", hook.url, "--no-transcribe"], {**env, **desktop.env}, tmp_path)
    try:
        d.wait_running(env, timeout=20)
        player = pulse.play(caller)
        alerts = lambda: [p for _, p in hook.received if p.get("type") != "agent_word"]  # noqa: E731
        assert wait_for(alerts, 30), d.err
        (alert,) = alerts()
        assert alert["kind"] == "slow_speech"
        words = lambda: db_rows(db, "SELECT alert_id, word, note FROM alert_words")  # noqa: E731
        assert desktop.click("False alarm", words), d.err
        assert words() == [(alert["alert_id"], "false_alarm", "")]
        posted = lambda: [p for _, p in hook.received if p.get("type") == "agent_word"]  # noqa: E731
        assert wait_for(posted, 30), d.err
        assert [(p["alert_id"], p["word"]) for p in posted()] == [(alert["alert_id"], "false_alarm")]
        assert wait_for(lambda: any(f"the agent's word: alert {alert['alert_id']} (slow_speech" in e for e in d.err),
                        30), d.err
        assert wait_for(lambda: "Kept: false alarm" in [n["summary"]["data"] for n in desktop.history()], 30)
        player.wait(10)
    finally:
        stop_daemon(d)
