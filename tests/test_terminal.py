"""What the agent reads on the terminal: an alert that ends with the call is not an all-clear."""

import io
import re

from monitor.events import AlertClearedEvent, AlertEvent, CallSummaryEvent, Word, WordsEvent
from monitor.delivery.sinks.terminal import HumanSink, JsonlSink


def lines(*events, name_calls: bool = False) -> list[str]:
    out = io.StringIO()
    sink = HumanSink(out, name_calls=name_calls)
    for ev in events:
        sink(ev)
    sink.end_batch()
    return out.getvalue().splitlines()


def test_an_alert_prints_its_message_and_each_action():
    printed = lines(AlertEvent(t=97.0, kind="possible_emergency", severity="critical",
                               message="Possible emergency: slow speech", actions=("Ask", "Stay")))
    assert printed == ["CRITICAL [01:37.0] possible_emergency: Possible emergency: slow speech",
                       "         what it means: the caller may be unwell or in danger: check on them now",
                       "         -> Ask", "         -> Stay"]


def test_an_alert_line_starts_with_its_severity_and_a_warning_s_stamp_lines_up_with_a_critical_s():
    """A screen reader reads a line from its start: the agent hears "CRITICAL" (or "warning")
    before the time and the call. The word is padded to one width, so the stamps, kinds and the
    lines under each alert stand in the same columns, as every other line keeps its stamp first."""
    printed = lines(AlertEvent(t=92.0, kind="possible_emergency", severity="critical", message="Possible emergency",
                               actions=("Ask",), call_id=2),
                    AlertEvent(t=97.0, kind="slow_speech", message="Slow speech", actions=("Check in",), call_id=2),
                    name_calls=True)
    assert [line.split(" [")[0] for line in printed if "[call 2" in line] == ["CRITICAL", "warning "]
    assert len({line.index("[") for line in printed if "[call 2" in line}) == 1
    assert {line.index(line.strip()) for line in printed if "[call 2" not in line} == {len("CRITICAL ")}


def test_the_live_daemon_s_alerts_and_their_end_name_their_call_where_replay_s_give_the_time_alone():
    """On a shift, call follows call: a critical line "CRITICAL [01:32.0] ..." under the next
    caller's start, or scrolled away from its own, does not say which call it is about. The live
    daemon's lines (``name_calls``) say it in their stamp; a replayed file is one call."""
    events = (AlertEvent(t=92.0, kind="possible_emergency", severity="critical", message="Possible emergency",
                         call_id=2),
              AlertClearedEvent(t=120.0, kind="possible_emergency", call_id=2),
              AlertEvent(t=5.0, kind="slow_speech", message="Slow speech", call_id=3),
              AlertClearedEvent(t=130.5, kind="slow_speech", call_id=3, reason="call_ended"))
    live = [line for line in lines(*events, name_calls=True) if not line.startswith(" ")]
    assert live == ["CRITICAL [call 2, 01:32.0] possible_emergency: Possible emergency",
                    "[call 2, 02:00.0] cleared  possible_emergency",
                    "warning  [call 3, 00:05.0] slow_speech: Slow speech",
                    "[call 3, 02:10.5] call ended with slow_speech still raised"]
    assert lines(*events)[0] == "CRITICAL [01:32.0] possible_emergency: Possible emergency"
    import argparse
    import contextlib

    from monitor.commands.run import _sinks
    from monitor.config import Config
    with contextlib.ExitStack() as stack:
        sinks, _ = _sinks(argparse.Namespace(jsonl=False, log_level=None), Config(), None, None, stack)
    assert sinks["terminal"].name_calls


def test_a_warning_raised_while_a_critical_alert_of_its_call_stands_says_the_critical_is_still_raised():
    """A deteriorating caller on the live terminal: the critical alert, then five warnings within
    half a minute, which push it up the screen. Each warning says the critical one stands, until it
    clears; the next call's warnings say nothing of the last call's critical alert. A replay, read
    after the fact, says the critical alert once."""
    check = ("Check in",)
    events = (AlertEvent(t=92.0, kind="possible_emergency", severity="critical", message="Possible emergency",
                         actions=("Ask",), call_id=2),
              AlertEvent(t=97.0, kind="long_pauses", message="Long pauses", actions=check, call_id=2),
              AlertClearedEvent(t=120.0, kind="possible_emergency", call_id=2),
              AlertEvent(t=125.0, kind="slow_speech", message="Slow speech", actions=check, call_id=2),
              AlertEvent(t=50.0, kind="possible_emergency", severity="critical", message="Possible emergency",
                         actions=("Ask",), call_id=3),
              AlertClearedEvent(t=60.0, kind="possible_emergency", call_id=3, reason="call_ended"),
              AlertEvent(t=5.0, kind="slow_speech", message="Slow speech", actions=check, call_id=4))
    live, replayed = lines(*events, name_calls=True), lines(*events)
    reminders = [(i, line) for i, line in enumerate(live) if "still raised:" in line and "CRITICAL" in line]
    assert [line for _, line in reminders] == [
        "         CRITICAL still raised: possible_emergency (since 01:32.0): check on the caller now"]
    assert live[reminders[0][0] - 3].startswith("warning  [call 2, 01:37.0] long_pauses")
    assert not [line for line in replayed if "CRITICAL still raised" in line]


def test_the_critical_still_raised_line_comes_under_the_first_warning_then_at_most_once_a_minute():
    """A burst of warnings under a standing critical alert: the reminder under the first one, none
    under the next ones of that minute, one again under the first warning a minute or more after
    it; a critical alert raised again is recalled under the next warning at once."""
    def warning(t: float, kind: str = "long_pauses") -> AlertEvent:
        return AlertEvent(t=t, kind=kind, message=kind, call_id=2)
    critical = AlertEvent(t=92.0, kind="possible_emergency", severity="critical", message="Possible emergency",
                          call_id=2)
    events = (critical, warning(93.0), warning(95.0, "slow_speech"), warning(110.0, "weak_voice"),
              warning(151.0, "breathy_voice"), warning(152.0, "short_phrases"), warning(153.0, "slow_response"),
              AlertClearedEvent(t=155.0, kind="possible_emergency", call_id=2),
              AlertEvent(t=160.0, kind="possible_emergency", severity="critical", message="Possible emergency",
                         call_id=2), warning(161.0, "audible_breathing"))
    live = lines(*events, name_calls=True)
    recalled = [live[i - 2].split("]")[0].removeprefix("warning  ") for i, line in enumerate(live) if "CRITICAL still raised" in line]
    assert recalled == ["[call 2, 01:33.0", "[call 2, 02:33.0", "[call 2, 02:41.0"], live


def test_the_live_terminal_s_words_name_their_call_as_its_alerts_do_and_replay_s_give_the_time_alone():
    """The callers' words of call after call on the live terminal: each line's stamp says its call,
    as an alert's does, where a replayed file's words give the time alone."""
    events = (WordsEvent(t=21.4, final=True, text="i can't breathe", call_id=12),
              AlertEvent(t=92.0, kind="slow_speech", message="Slow speech", call_id=12))
    live, replayed = lines(*events, name_calls=True), lines(*events)
    assert live[0] == '[call 12, 00:21.4] caller "i can\'t breathe"'
    assert live[1].startswith("warning  [call 12, 01:32.0] slow_speech")
    assert replayed[0] == '[00:21.4] caller "i can\'t breathe"'


def test_a_words_line_is_stamped_when_the_words_began_not_when_the_recognizer_ended_the_utterance():
    """The recognizer gives an utterance's words after the pause that ends it (here 1.6 s after
    "여보세요", "hello", was said); its line says when they were said, so that it comes before the
    alert the phrase raised at the phrase's end, not 1.6 s after it."""
    said = WordsEvent(t=13.4, final=True, text="여보세요", words=(Word("여보세요", 11.1, 11.76, 1.0),), call_id=1)
    alert = AlertEvent(t=11.76, kind="distress_phrase", message='Distress phrase: the caller said "여보세요"',
                       call_id=1)
    printed = lines(said, alert)
    assert printed[0] == '[00:11.1] caller "여보세요"'
    assert printed[1].startswith("warning  [00:11.8] distress_phrase")


def test_every_alert_says_what_it_means_in_plain_words_under_its_evidence():
    """The agent mid-call reads "the caller's voice sounds breathy or hoarse", not only "HNR 3.74 dB,
    8.3 dB below the caller's baseline"; every rule the configuration knows has such words, but
    the distress phrase, whose message is the caller's own words."""
    from monitor.alerts.meaning import meaning
    from monitor.config import Config
    printed = lines(AlertEvent(t=102.0, kind="breathy_voice", message="Breathy voice: HNR 3.74 dB",
                               actions=("Check in",)))
    assert printed == ["warning  [01:42.0] breathy_voice: Breathy voice: HNR 3.74 dB",
                       "         what it means: the caller's voice sounds breathy or hoarse",
                       "         -> Check in"]
    assert all(meaning(kind) for kind in (*Config().rules.kinds, "possible_emergency"))
    said = lines(AlertEvent(t=5.0, kind="distress_phrase", severity="critical",
                            message='Distress phrase: the caller said "I can\'t breathe"', actions=("Ask",)))
    assert len(said) == 2 and "what it means" not in said[1]


def test_a_recovered_cue_prints_as_cleared():
    assert lines(AlertClearedEvent(t=130.0, kind="slow_speech")) == ["[02:10.0] cleared  slow_speech"]


def test_a_time_past_an_hour_reads_as_hours_as_in_the_report_and_never_as_sixty_seconds():
    """A three-hour recording's alert at 2:05:03 is not "[125:03.0]"; 59.96 s is not "[00:60.0]"."""
    assert lines(AlertClearedEvent(t=7503.0, kind="slow_speech")) == ["[2:05:03.0] cleared  slow_speech"]
    assert lines(AlertClearedEvent(t=59.96, kind="slow_speech")) == ["[01:00.0] cleared  slow_speech"]


def test_an_alert_still_raised_at_the_end_of_the_call_says_so():
    printed = lines(AlertClearedEvent(t=227.0, kind="possible_emergency", reason="call_ended"))
    assert printed == ["[03:47.0] call ended with possible_emergency still raised"]
    assert "cleared" not in printed[0]


def test_the_same_next_steps_are_printed_once_a_call():
    """Every warning has the same two next steps: the agent reads them under the first one, not
    under each of seven; new steps (the critical alert's) are printed, and the next call starts afresh."""
    from monitor.events import CallSummaryEvent
    check, act = ("Check in",), ("Ask how they feel", "Keep them on the line")
    printed = lines(AlertEvent(t=95.0, kind="long_pauses", message="Long pauses", actions=check, call_id=1),
                    AlertEvent(t=102.0, kind="breathy_voice", message="Breathy voice", actions=check, call_id=1),
                    AlertEvent(t=110.0, kind="possible_emergency", severity="critical", message="Possible emergency",
                               actions=act, call_id=1),
                    CallSummaryEvent(t=120.0, file="call.wav", call_id=1, duration_s=120.0),
                    AlertEvent(t=30.0, kind="slow_speech", message="Slow speech", actions=check, call_id=2))
    steps = [line.strip() for line in printed if line.strip().startswith("->")]
    assert steps == ["-> Check in", "-> Ask how they feel", "-> Keep them on the line", "-> Check in"]
    assert printed[3].startswith("warning  [01:42.0] breathy_voice") and "what it means" in printed[4]


def test_the_alerts_a_call_ends_with_are_said_in_one_line_the_emergency_first():
    """A call that ends labored has every alert still raised: the agent reads one line naming them,
    not eight lines of "call ended with ..." (the JSON lines keep one clear each)."""
    ended = [AlertClearedEvent(t=227.0, kind=k, reason="call_ended")
             for k in ("slow_speech", "long_pauses", "weak_voice", "possible_emergency")]
    assert lines(*ended) == ["[03:47.0] call ended with 4 alerts still raised: possible_emergency, "
                             "slow_speech, long_pauses, weak_voice"]


def test_the_still_raised_line_comes_before_the_summary_and_with_the_batch_it_ended():
    """Said when the next event comes (the call's summary), or at the end of the daemon's batch
    when nothing follows (a call whose audio failed has no summary)."""
    from monitor.events import CallSummaryEvent
    out = io.StringIO()
    sink = HumanSink(out)
    for kind in ("slow_speech", "long_pauses"):
        sink(AlertClearedEvent(t=60.0, kind=kind, reason="call_ended"))
    assert out.getvalue() == ""
    sink(CallSummaryEvent(t=60.0, file="call.wav", duration_s=60.0, alerts=2, alert_kinds=("slow_speech", "long_pauses")))
    assert out.getvalue().splitlines()[0] == "[01:00.0] call ended with 2 alerts still raised: slow_speech, long_pauses"
    assert out.getvalue().splitlines()[1].startswith("== call.wav")
    sink(AlertClearedEvent(t=90.0, kind="weak_voice", reason="call_ended"))
    sink.end_batch()
    assert out.getvalue().splitlines()[2:] == ["[01:30.0] call ended with weak_voice still raised"]


def test_a_clear_names_the_alerts_still_raised_and_clears_of_one_moment_are_one_line():
    """"cleared  possible_emergency" alone reads as all clear to an agent mid-call, while the caller
    still pauses long and breathes audibly: a clear names what stays raised. Five warnings that
    clear in the same second (the caller's baseline just became ready) are one line."""
    raised = [AlertEvent(t=t, kind=k, severity="critical" if k == "possible_emergency" else "warning",
                         message="m", call_id=1)
              for t, k in ((93.0, "possible_emergency"), (95.0, "long_pauses"), (141.0, "audible_breathing"),
                           (146.0, "slow_speech"), (150.0, "weak_voice"))]
    printed = lines(*raised,
                    AlertClearedEvent(t=180.0, kind="slow_speech", call_id=1),
                    AlertClearedEvent(t=187.0, kind="possible_emergency", call_id=1),
                    AlertClearedEvent(t=200.0, kind="long_pauses", call_id=1),
                    AlertClearedEvent(t=200.0, kind="weak_voice", call_id=1),
                    AlertClearedEvent(t=200.0, kind="audible_breathing", call_id=1))
    assert printed[-3:] == [
        "[03:00.0] cleared  slow_speech (still raised: possible_emergency, long_pauses, audible_breathing, weak_voice)",
        "[03:07.0] cleared  possible_emergency (still raised: long_pauses, audible_breathing, weak_voice)",
        "[03:20.0] cleared  long_pauses, weak_voice, audible_breathing"]


def test_a_rule_switched_off_by_a_reload_says_so():
    printed = lines(AlertClearedEvent(t=60.0, kind="weak_voice", reason="rule_disabled"))
    assert printed == ["[01:00.0] ended    weak_voice: its rule was switched off, not a recovery"]


def test_an_emergency_that_only_lost_its_phrase_does_not_read_as_cleared():
    printed = lines(AlertClearedEvent(t=300.0, kind="possible_emergency", reason="phrase_expired"))
    assert printed[0].startswith("[05:00.0] ended    possible_emergency: the distress phrase is no longer")
    assert "cleared" not in printed[0]


def test_jsonl_carries_the_reason():
    out = io.StringIO()
    JsonlSink(out)(AlertClearedEvent(t=5.0, kind="slow_speech", call_id=3, reason="call_ended"))
    assert out.getvalue() == ('{"type": "alert_cleared", "t": 5.0, "call_id": 3, "kind": "slow_speech", '
                              '"reason": "call_ended"}\n')


def test_the_live_daemon_s_json_lines_name_its_agent_on_a_call_s_alerts_their_end_and_its_summary():
    """As its database and webhook do: ``run --jsonl`` gives the agent on the events a reader
    ties to a person (alert, alert_cleared, call_summary), after the event's own keys, which stay
    as they were; the cue stream and status lines, and replay's lines (no agent), are unchanged."""
    import json

    from monitor.events import CallSummaryEvent, CuesEvent, StatusEvent
    events = [AlertEvent(t=97.0, kind="slow_speech", message="Slow speech", call_id=3, alert_id=8),
              AlertClearedEvent(t=130.0, kind="slow_speech", call_id=3),
              CallSummaryEvent(t=200.0, call_id=3, duration_s=200.0),
              CuesEvent(t=98.0, speech_s=12.0), StatusEvent(t=1.0, message="call 3 started")]
    live, replay = io.StringIO(), io.StringIO()
    for ev in events:
        JsonlSink(live, agent="Alice (desk 4)")(ev)
        JsonlSink(replay)(ev)
    for ev, line, plain in zip(events, live.getvalue().splitlines(), replay.getvalue().splitlines()):
        got, own = json.loads(line), json.loads(plain)
        assert plain == ev.to_json() and "agent" not in own
        if ev.type in ("alert", "alert_cleared", "call_summary"):
            assert got == {**own, "agent": "Alice (desk 4)"} and list(got)[-1] == "agent"
        else:
            assert line == plain


def test_a_live_call_s_summary_says_what_ended_it():
    from monitor.events import CallSummaryEvent
    (line,) = lines(CallSummaryEvent(t=42.0, file="live:caller=softphone.monitor", call_id=7, duration_s=42.0,
                                  ended_by="the softphone's stream ended (sink softphone)"))
    assert line == ("== call 7: 42.0 s, 0 alert(s) (0 critical): none; ended: the "
                    "softphone's stream ended (sink softphone)")  # not the daemon's source label
    assert "ended" not in lines(CallSummaryEvent(t=42.0, file="call.wav", duration_s=42.0))[0]


def test_a_live_call_the_daemons_stop_ended_says_the_monitor_stopped_not_a_bare_signal_name():
    """Ctrl-C (or a restart's SIGTERM) mid-call: the caller is still on the line; "ended: SIGINT"
    read as the call's end. The line says the monitor stopped and the call is judged up to there."""
    from monitor.events import CallSummaryEvent
    (line,) = lines(CallSummaryEvent(t=37.7, file="live:caller=softphone.monitor", call_id=4, duration_s=37.7,
                                     ended_by="SIGINT"))
    assert line == ("== call 4: 37.7 s, 0 alert(s) (0 critical): none; ended: the monitor was stopped (SIGINT): "
                    "the call is judged only up to here")


def test_status_lines_that_logging_says_on_stderr_are_not_printed_again():
    """`run` logs each status it emits: the terminal (and the journal) showed both stderr's line and
    this one. The levels logging says are left out here; the others are printed."""
    from monitor.commands.run import logged_levels
    from monitor.events import StatusEvent
    out = io.StringIO()
    sink = HumanSink(out, logged=logged_levels("warning"))
    for level in ("info", "warning", "error"):
        sink(StatusEvent(t=1.0, level=level, message=f"an {level}"))
    assert out.getvalue().splitlines() == ["[00:01.0] info: an info"]
    assert logged_levels("info") == {"info", "warning", "error"} and logged_levels("error") == {"error"}


def test_a_status_line_outside_any_call_is_stamped_with_the_wall_clock_not_a_calls_time():
    """A call's status line carries its call time, ``[mm:ss.s]``; one outside any call (a source found
    between calls) has no call time to give: it says so, with the time of day."""
    import time

    from monitor.events import StatusEvent
    at = time.mktime((2025, 3, 4, 14, 3, 22, 0, 0, -1))
    assert lines(StatusEvent(t=35.7, message="caller leg: source softphone.monitor found", at=at),
                 StatusEvent(t=35.7, message="call 2: the caller's source gives input again")) == [
        "[no call, 14:03:22] info: caller leg: source softphone.monitor found",
        "[00:35.7] info: call 2: the caller's source gives input again"]


def test_wall_clock_times_on_the_terminal_in_the_hour_daylight_saving_time_repeats_say_their_zone(in_berlin):
    """Berlin's clocks read 02:30 twice on 2026-10-25 (CEST, then CET): a status line outside any call
    and a supervisor's acknowledgement stamped then say which, so two lines an hour apart do not read
    alike; an hour before, the time is as it was."""
    from monitor.events import AlertAckedEvent, StatusEvent
    cest, cet = in_berlin
    found = [StatusEvent(t=1.0, message="caller leg: source softphone.monitor found", at=at)
             for at in (cest - 3598, cest + 2, cet + 2)]
    acked = [AlertAckedEvent(t=97.0, call_id=3, alert_id=5, kind="slow_speech", severity="warning", by="anna",
                             acked_at=at) for at in (cest + 30, cet + 30)]
    assert lines(*found, *acked, name_calls=True) == [
        "[no call, 01:30:02] info: caller leg: source softphone.monitor found",
        "[no call, 02:30:02 CEST] info: caller leg: source softphone.monitor found",
        "[no call, 02:30:02 CET] info: caller leg: source softphone.monitor found",
        "[call 3, 01:37.0] acknowledged slow_speech (warning) by supervisor anna at 02:30:30 CEST: the supervisor "
        "has seen this alert",
        "[call 3, 01:37.0] acknowledged slow_speech (warning) by supervisor anna at 02:30:30 CET: the supervisor "
        "has seen this alert"]


def test_the_live_daemon_s_status_lines_of_a_call_name_it_unless_they_say_it_themselves():
    """On a shift, a status line of a call ("configuration reloaded" 35 s into it, a note on its
    transcription) stamped with the call time alone does not say which call it is about: the live
    daemon's lines name it as its alerts' do. A line that names its call itself ("call 12 started",
    "call 12: the caller's source ...") is not named twice; a line outside any call and replay's
    lines, one file one call, keep their stamps."""
    import time

    from monitor.events import StatusEvent
    at = time.mktime((2025, 3, 4, 14, 3, 22, 0, 0, -1))
    events = (StatusEvent(t=0.0, message="call 12 started", call_id=12),
              StatusEvent(t=35.2, message="configuration reloaded", call_id=12),
              StatusEvent(t=61.0, level="warning", message="call 120's words are transcribed from 3.0 s", call_id=12),
              StatusEvent(t=70.5, message="call 12: the caller's source gives no input: the call waits for it",
                          call_id=12),
              StatusEvent(t=71.0, message="transcription ready; call 12's words are transcribed from 71.0 s",
                          call_id=12),
              StatusEvent(t=4.0, message="configuration reloaded"),  # a call whose row is not written yet
              StatusEvent(t=80.0, message="caller leg: source softphone.monitor found", at=at))
    assert lines(*events, name_calls=True) == [
        "[00:00.0] info: call 12 started",
        "[call 12, 00:35.2] info: configuration reloaded",
        "[call 12, 01:01.0] warning: call 120's words are transcribed from 3.0 s",
        "[01:10.5] info: call 12: the caller's source gives no input: the call waits for it",
        "[01:11.0] info: transcription ready; call 12's words are transcribed from 71.0 s",
        "[00:04.0] info: configuration reloaded",
        "[no call, 14:03:22] info: caller leg: source softphone.monitor found"]
    assert lines(*events)[1:3] == ["[00:35.2] info: configuration reloaded",
                                   "[01:01.0] warning: call 120's words are transcribed from 3.0 s"]


def test_the_daemon_says_on_the_terminal_that_it_listens_where_logging_does_not(capsys):
    """Started in a terminal, `run` said nothing until the first call (its "listening" line is
    logged at info, below the default): whoever started it could not tell it was running. The
    readable output says it; `-v` logs it on stderr instead, and `--jsonl` keeps stdout for events."""
    import argparse

    from monitor.commands.run import _say_listening
    line = "listening (caller = softphone.monitor); status socket /run/user/1000/callmonitor.sock"
    for jsonl, level in ((False, "warning"), (False, "info"), (True, "warning")):
        _say_listening(argparse.Namespace(jsonl=jsonl, log_level=level), line)
        said = capsys.readouterr().out
        assert said == (f"call-monitor: {line}\n" if (jsonl, level) == (False, "warning") else "")


def test_a_callers_words_not_stored_are_printed_on_a_terminal_only_never_into_a_file_or_the_journal():
    """`storage.transcripts = false` keeps the words out of the database; the daemon under systemd
    writes its output to the journal, which keeps it: there (any file or pipe) the words are left
    out, while the agent at a terminal still reads them, and stored words are printed to a file or a
    pipe too."""
    import os
    words = WordsEvent(t=21.4, final=True, text="i can't breathe")
    said = '[00:21.4] caller "i can\'t breathe"'
    for stored, printed in ((False, []), (True, [said])):
        out = io.StringIO()
        sink = HumanSink(out)
        sink.keep_words(stored)
        sink(words)
        assert out.getvalue().splitlines() == printed
    main, side = os.openpty()
    with os.fdopen(side, "w") as terminal:
        sink = HumanSink(terminal)
        sink.keep_words(False)
        sink(words)
        terminal.flush()
        assert os.read(main, 1024).decode().splitlines() == [said]
    os.close(main)


def _written(sink_type, path, journal: bool, stored: bool, events) -> str:
    """What a sink of ``sink_type`` writes of ``events`` into the file ``path``, that file being the
    stream systemd names in $JOURNAL_STREAM (``journal``) or not, the words stored in the database
    (``stored``) or not."""
    import os
    with open(path, "w+") as out:
        st = os.fstat(out.fileno())
        sink = sink_type(out, journal_stream=f"{st.st_dev}:{st.st_ino}" if journal else "8:1234")
        sink.keep_words(stored)
        for ev in events:
            sink(ev)
        out.seek(0)
        return out.read()


def test_the_callers_words_never_go_into_the_journal_which_no_retention_or_purge_reaches(tmp_path):
    """The daemon under systemd writes its output to the journal, which keeps it by journald's rules
    (for months, readable by the journal's administrators): `storage.retention_days` and `purge`
    delete the words from the database only, so they are not written there even when the database
    stores them; an alert's line still is."""
    words = WordsEvent(t=21.4, final=True, text="i can't breathe")
    alert = AlertEvent(t=22.0, kind="distress_phrase", severity="warning", message="Distress phrase",
                       evidence={}, actions=())
    for journal, stored, kept in ((True, True, False), (True, False, False), (False, True, True)):
        said = _written(HumanSink, tmp_path / "journal", journal, stored, [words, alert])
        assert ("i can't breathe" in said) == kept and "Distress phrase" in said, said


def test_run_jsonl_keeps_the_words_out_of_the_journal_but_gives_them_to_the_program_reading_it(tmp_path):
    """`run --jsonl` in a systemd unit (`install-service --jsonl`) writes its lines into the journal,
    which systemd names in $JOURNAL_STREAM: the words lines are left out there, whether the database
    stores them or not, and kept for a program reading a pipe or a file."""
    import json
    words = WordsEvent(t=21.4, final=True, text="i can't breathe")
    for journal, stored, kept in ((True, False, False), (False, False, True), (True, True, False)):
        said = _written(JsonlSink, tmp_path / "out.jsonl", journal, stored,
                        [words, CallSummaryEvent(t=30.0, call_id=1, duration_s=30.0)])
        assert [json.loads(line)["type"] for line in said.splitlines()] == ["words"] * kept + ["call_summary"]


def test_run_gives_its_terminal_output_the_journal_stream_systemd_names_for_either_output(tmp_path, monkeypatch):
    """`run`'s own output, human or `--jsonl`, is judged by the $JOURNAL_STREAM systemd set (the
    `DEVICE:INODE` of the stream its output goes to): its stdout that stream, the words stay out even
    while the database stores them; another stream named there (a shell under a terminal that a
    systemd unit started inherits the variable) leaves the words in its file."""
    import argparse
    import contextlib
    import os

    from monitor.commands.run import _sinks
    from monitor.config import load_config
    cfg = load_config(overrides={"storage.transcripts": True}, user_config=False)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "other", "w") as other:
        monkeypatch.setattr("sys.stdout", out)
        for stream, kept in ((out, False), (other, True)):
            st = os.fstat(stream.fileno())
            monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
            for jsonl in (False, True):
                args = argparse.Namespace(jsonl=jsonl, log_level=None)
                with contextlib.ExitStack() as stack:
                    terminal = _sinks(args, cfg, None, None, stack)[0]["terminal"]
                assert terminal.out is out and terminal.show_words == kept, (stream.name, jsonl)


def test_the_alerts_listing_gives_each_alert_the_call_time_the_replay_printed_it_at(tmp_path, capsys):
    """An alert raised 92 s into a call reads `[01:32.0]` in `call-monitor alerts` as on the terminal
    it was raised on (and `[2:05:03.0]` past an hour); each line starts with the severity as the
    terminal's line does (`CRITICAL`, `warning`: a screen reader says it first, before the time);
    `--jsonl` keeps the number of seconds."""
    import json

    from monitor import cli
    from monitor.delivery.store import Store

    raised = [AlertEvent(t=92.0, kind="long_pauses", message="Long pauses"),
              AlertEvent(t=7503.0, kind="possible_emergency", severity="critical", message="Possible emergency")]
    with Store.open(tmp_path / "e.db") as store:
        call = store.start_call("call.wav", 1.7e9)
        for ev in raised:
            store.add_alert(call, ev)
    assert cli.main(["alerts", "--db", str(tmp_path / "e.db")]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("call.wav  ")[1] for line in listed] == [
        "[01:32.0] long_pauses: Long pauses", "[2:05:03.0] possible_emergency: Possible emergency"]
    assert [line[:9] for line in listed] == [lines(ev)[0][:9] for ev in raised] == ["warning  ", "CRITICAL "]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  #\d+ +call ", line[9:]) for line in listed)  # the time, the id
    assert [lines(ev)[0].split("] ")[0].split("[")[1] for ev in raised] == ["01:32.0", "2:05:03.0"]
    assert cli.main(["alerts", "--db", str(tmp_path / "e.db"), "--jsonl"]) == 0
    assert [json.loads(line)["t"] for line in capsys.readouterr().out.splitlines()] == [92.0, 7503.0]


def test_severity_is_a_word_never_a_colour_and_the_bell_rings_only_when_asked_and_on_a_terminal():
    """An agent who does not tell colours apart, or hears the terminal through a screen reader, reads
    the severity as a word (CRITICAL, warning): no line holds a colour or any other escape code, so
    NO_COLOR has nothing to turn off. The bell (``delivery.bell``, off by default) rings for a critical
    alert only, and only on a terminal: written into a file or systemd's journal it would be a control
    character in the critical alert's line."""
    import os
    crit = AlertEvent(t=92.0, kind="possible_emergency", severity="critical", message="Possible emergency", call_id=2)
    warn = AlertEvent(t=97.0, kind="slow_speech", message="Slow speech", call_id=2)
    printed = "\n".join(lines(crit, warn, name_calls=True))
    assert "CRITICAL [call 2, 01:32.0] possible_emergency" in printed and "warning  [call 2, 01:37.0] slow_speech" in printed
    assert all(c in "\n" or c.isprintable() for c in printed)  # no ESC, no bell
    into_file = io.StringIO()
    HumanSink(into_file, bell=True)(crit)
    assert "\a" not in into_file.getvalue()
    head, tail = os.openpty()
    with os.fdopen(tail, "w") as tty:
        sink = HumanSink(tty, bell=True)
        sink(crit)
        sink(warn)
    said = os.read(head, 4096).decode()
    os.close(head)
    assert said.startswith("\aCRITICAL [01:32.0]") and said.count("\a") == 1


def test_the_daemon_docs_say_each_alert_kinds_meaning_as_the_terminal_does():
    """docs/daemon.md's table of what each alert means has a row for every kind with a meaning,
    in the words the terminal prints (``MEANINGS``), and none for a kind that has none."""
    from conftest import ROOT

    from monitor.alerts.meaning import MEANINGS
    text = (ROOT / "docs" / "daemon.md").read_text(encoding="utf-8")
    table = text.split("| alert | what it means |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)`[^|]* \| (.+) \|$", table, flags=re.M))
    assert {k: v for k, v in rows.items() if k != "distress_phrase"} == dict(MEANINGS)
