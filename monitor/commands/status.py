"""``call-monitor status``: the running daemon's state, read over its Unix socket."""

from __future__ import annotations

import argparse

from ..console import TRANSCRIPTION_OFF, call_name, severity_word
from ..cue_registry import cue
from ..local_time import local_text
from ..events import json_line
from ..release import RELEASE, release_said
from .common import ExitStatus, add_daemon_options
from .status_shape import STATUS_CUES, status_shape_problem


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="state of the running daemon (devices, call, cues, alerts)",
                       description="Ask the running `call-monitor run` for its state over its Unix socket "
                                   "(no network port).",
                       epilog="Exit status: 0 the daemon is listening (monitoring calls); 3 it answers but is "
                              "still starting (opening its capture and database: a call mark is refused meanwhile, so "
                              "`call-monitor status && ...` waits for 0, as `systemctl is-active` does for a "
                              "unit still activating); 1 no daemon answers (an answer at the socket that is no "
                              "daemon's status, another program's, too; a daemon that runs but does not answer, "
                              "stopped, frozen or starved of CPU, said as such); 2 a socket path too long for a Unix "
                              "socket, or a configuration that cannot be loaded and no daemon answering (where a file that is no TOML may place the socket elsewhere, one error line says so: give --socket). A "
                              "configuration that cannot be loaded (the one a reload refused, say) is one warning "
                              "line naming its file and problem, and the daemon is asked all the same, at the "
                              "socket that --socket, --db, the daemon.status_socket and storage.db the files give, "
                              "and the defaults place.")
    p.add_argument("--json", action="store_true",
                   help="print the daemon's state as one JSON object with \"running\": true and "
                        "\"starting\": false (a leg's "
                        "level_dbfs: its last block's level, -240 for digital silence, null before its "
                        "first block and while it has no input); while the daemon starts (opening its "
                        "capture and database), {\"running\": true, \"starting\": true, \"pid\", \"version\", \"uptime_s\", "
                        "\"db\", \"doing\"} only; with no daemon answering, "
                        "{\"running\": false, \"error\": \"...\"} (the error line is said on stderr too), and "
                        "for a daemon that runs but does not answer (stopped, frozen or starved of CPU), "
                        "{\"running\": true, \"answering\": false, \"pid\", \"db\", \"stopped\", \"error\"}; with a "
                        "configuration that cannot be loaded, \"config_problem\": its warning's \"FILE: problem\"")
    add_daemon_options(p)
    p.set_defaults(run=run)


def _fmt(v: float | None, nd: int = 2, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:.{nd}f}{unit}"


def _cue_text(name: str, v: float | None) -> str:
    """``label value unit`` of a cue, as the registry names it."""
    c = cue(name)
    sep = '' if c.unit.startswith('/') else ' '
    return f"{c.label} {_fmt(v, 2 if c.unit in ('', 'syll/s') else 1, (sep + c.unit) if c.unit else '')}"


def _cues_text(cues: dict, from_speech_s: float | None) -> str:
    """The running call's cues, or, while its cue window holds too little of the caller's speech for
    them (``from_speech_s``: the daemon's :func:`shown_min_speech_s`; the daemon gives them as None
    then), that they are not measured yet."""
    speech = cues.get("speech_s") or 0.0
    if from_speech_s is not None and speech < from_speech_s:
        return (f"not measured yet ({speech:.1f} s of the caller's speech in the window; shown from "
                f"{from_speech_s:g} s)")
    return ", ".join(_cue_text(name, cues.get(name)) for name in STATUS_CUES)


def _level_text(v: float | None) -> str:
    """A leg's level: dBFS, or what its floor means (every sample 0)."""
    from ..capture.devices import DIGITAL_ZERO_DBFS
    if v is not None and v <= DIGITAL_ZERO_DBFS:
        return "silent (digital zero)"
    return _fmt(v, 1, " dBFS")


def _pending_text(p: dict) -> str:
    """The stream that is no call yet (the daemon's ``pending``), in words."""
    after = f"{p['call_after_s']:g} s"
    if p["kind"] == "start":
        return (f"  a stream began {p['since_s']:.1f} s ago: a call once it has played {after} "
                "(`call-monitor call end` calls it off)")
    return f"    a stream began beside it {p['since_s']:.1f} s ago: the next call once it has played {after}"


RECENT_SHOWN = 5
"""How many of the daemon's recent alerts the text lists (the warnings; a critical one it keeps is
listed too)."""


def shown_recent(recent: list[dict]) -> list[dict]:
    """The recent alerts the text lists, in their order: the last :data:`RECENT_SHOWN`, and every
    critical one among those the daemon keeps: a labored caller's five warnings, raised in the
    half minute after the critical one, do not push it off the list a team lead reads."""
    last = len(recent) - RECENT_SHOWN
    return [a for i, a in enumerate(recent) if i >= last or a.get("severity") == "critical"]


def _acked(alert: dict) -> str:
    """A recent alert's acknowledgement on the supervisor console, in words ("" while none)."""
    if not alert.get("acked_by") or not isinstance(alert.get("acked_at"), (int, float)):
        return ""
    return f", acknowledged by supervisor {alert['acked_by']} at {_clock(alert['acked_at'])}"


def render_starting(st: dict) -> str:
    """A daemon that is starting (its status socket open, its capture opening, say), in words."""
    return (f"call-monitor daemon pid {st['pid']}, release {release_said(st.get('version'))}, starting "
            f"({st['doing']}, {st['uptime_s']:.0f} s so far), database {st['db']}: not listening yet"
            + "".join(f"\n{line}" for line in _release_lines(st)))


def _release_lines(st: dict) -> list[str]:
    """A line when the daemon runs another release than this call-monitor's (one upgraded, or
    rolled back, and the daemon not restarted since): it runs the code it started with."""
    if st.get("version") == RELEASE:
        return []
    return [f"  the daemon still runs release {release_said(st.get('version'))}, the call-monitor installed here is "
            f"{RELEASE}: restart the daemon to run {RELEASE} (systemctl --user restart callmonitor, or stop "
            f"`call-monitor run` and start it again)"]


def render(st: dict) -> str:
    """The daemon's status in words: its legs, the call under way, what waits and what was delivered."""
    if st.get("starting"):
        return render_starting(st)
    lines = [f"call-monitor daemon pid {st['pid']}, release {release_said(st.get('version'))}, "
             f"up {st['uptime_s']:.0f} s, database {st['db']}", *_release_lines(st)]
    lines += _leg_lines(st)
    lines += _behind_lines(st.get("behind_s"))
    b = st.get("boundaries")
    if b:
        lines.append(f"  calls cut by {b['based_on']}")
    lines += _call_lines(st.get("call"))
    pending = st.get("pending")
    if pending:
        lines.append(_pending_text(pending))
    lines.append(f"  calls {st['calls']}, alerts {st['alerts']}, overflows {st['overflows']}")
    lines += _store_lines(st.get("store") or {})
    lines += _recent_lines(st)
    lines += _delivery_lines(st)
    lines += _transcription_lines(st)
    problem = st.get("last_problem")
    if problem and problem.get("source") != TRANSCRIPTION_OFF:  # a reload (systemctl --user reload) refused,
        # say: otherwise only in the journal
        lines.append(_problem_text(problem))
    return "\n".join(lines)


def _leg_lines(st: dict) -> list[str]:
    """A line per leg: its source, state (with the last error while it waits or reopens), rate and
    level, and its overflows, dropped blocks and reopens."""
    lines = []
    for leg, s in st["legs"].items():
        state = s["state"] + (f": {s['last_error']}" if s["state"] in ("waiting", "lost", "reopening")
                              and s.get("last_error") else "")
        rate = f" {s['device_rate']} Hz" if s.get("device_rate") else ""  # none while its source is not open
        lines.append(f"  {leg:6s} {s['label']} [{state}]{rate}, level "
                     f"{_level_text(s.get('level_dbfs'))}, overflows {s['overflows']}, dropped "
                     f"{s['dropped_blocks']}, reopens {s['reopens']}")
    return lines


BEHIND_SHOWN_S = 2.0
"""The analysis this far behind the capture is a line of the text (closer, it takes the audio as it comes)."""


def _behind_lines(behind_s: float | None) -> list[str]:
    """A line while the analysis runs :data:`BEHIND_SHOWN_S` or more behind the capture, saying by how much."""
    if behind_s is None or behind_s < BEHIND_SHOWN_S:
        return []
    return [f"  analysis {behind_s:.0f} s behind the capture (the machine is too busy): alerts come that much "
            "late, at their call times"]


def _call_lines(c: dict | None) -> list[str]:
    """The call under way (its time, alerts, baseline, end, active alerts and cues), or that there is none."""
    if not c:
        return ["  no call in progress"]
    lines = [f"  call {call_name(c['call_id'])}: {c['t']:.0f} s, {c['alerts']} alert(s), baseline "
             f"{'ready' if c['baseline_ready'] else 'collecting'}"
             + (f", ends {c['ends']}" if c.get("ends") else "")
             + (f", on hold for {c['hold_s']:.0f} s (the caller not judged until `call resume`)"
                if c.get("hold_s") is not None else "")]
    for kind, a in c["active_alerts"].items():
        lines.append(f"    active {a['severity']} {kind} since {a['t']:.0f} s")
    cues = c.get("cues")
    if cues:
        lines.append("    cues: " + _cues_text(cues, c.get("cues_from_speech_s")))
    return lines


def _store_lines(db: dict) -> list[str]:
    """A line while the database fails, or works again with records still held, or after it failed
    and cue snapshots and transcript lines were not kept meanwhile (those are not held)."""
    dropped = db.get("dropped") or 0
    lost = (f"{dropped} cue snapshot(s) and transcript line(s) not kept while it "
            f"{'fails' if db.get('failing') else 'failed'}") if dropped else ""
    if not (db.get("failing") or db.get("held")):
        return [f"  database working again: {lost}"] if lost else []
    return [f"  database {'failing' if db.get('failing') else 'working again'}"
            + (f" ({db['error']})" if db.get("failing") and db.get("error") else "")
            + f": {db.get('held', 0)} record(s) held, written once it works" + (f"; {lost}" if lost else "")]


def _recent_lines(st: dict) -> list[str]:
    """A line per recent alert shown: severity, time of day, call, kind, time in the call, acknowledgement."""
    lines = []
    for a in shown_recent(st.get("recent_alerts") or []):
        when = _clock(a["at"])
        lines.append(f"    {severity_word(a['severity'])} {when} call {call_name(a['call_id'])} {a['kind']} "
                     f"at {a['t']:.0f} s"
                     + _acked(a))
    return lines


def _delivery_lines(st: dict) -> list[str]:
    """The webhook's deliveries, failures and heartbeats, and the notifications sent, when configured."""
    lines = []
    if st.get("webhook"):
        w = st["webhook"]
        h = w.get("heartbeat")
        lines.append(f"  webhook {w['url']}: delivered {w['delivered']}, {_webhook_failures(w)}{_asked_wait(w)}"
                     + (f"; heartbeats sent {h['sent']}" + (f", failing ({h['last_error']})" if h["failing"] else "")
                        + _asked_wait(h) if h else ""))
    if st.get("notify"):
        lines.append(f"  notifications sent {st['notify']['sent']}, failures {st['notify']['failures']}")
    return lines


def _transcription_lines(st: dict) -> list[str]:
    """Why the daemon transcribes nothing, or that its speech model still loads."""
    if st.get("transcription_off"):  # said at the start, whatever the last problem is now
        return [f"  {_transcription_off_text(st['transcription_off'])}"]
    if st.get("transcription_loading"):
        return [f"  {TRANSCRIPTION_LOADING}"]
    return []


TRANSCRIPTION_LOADING = ("transcription: loading the speech model (the calls are monitored acoustic-only until it is "
                         "ready; a call under way is transcribed from then on)")
"""The status's line while the daemon's speech model still loads in the background."""


def _transcription_off_text(off: str) -> str:
    """Why the daemon transcribes nothing, and that only a restart loads a model (a reload keeps
    the recognizer it started with: none)."""
    head = "" if off.startswith("transcription off") else "transcription off: "
    return f"{head}{off} (a reload loads no model: restart the daemon once the model is fixed)"


def _clock(at: float) -> str:
    """Unix seconds ``at`` as a local time of day, with its zone in an hour a change of daylight saving
    time repeats (``02:30:02 CEST``, ``02:30:02 CET``)."""
    return local_text(at, "%H:%M:%S")


def _webhook_failures(w: dict) -> str:
    """The webhook's failures: none; failing now, and why; or failures earlier, the last one's time
    and error, while it delivers or waits as the receiver asks (:func:`_asked_wait`: it answered
    since) (a daemon of an earlier version: the count and the last error)."""
    if not w["failures"]:
        return "failures 0"
    if "failing" not in w:
        return f"failures {w['failures']}" + (f" (last: {w['last_error']})" if w["last_error"] else "")
    if w["failing"]:
        return f"failing now: {w['last_error']} ({w['failures']} failure(s))"
    when = f" at {_clock(w['last_failure_at'])}" if w.get("last_failure_at") else ""
    earlier = f"{w['failures']} failure(s) earlier, the last{when}: {w['last_error']}"
    return earlier if w.get("waiting") else f"delivering; {earlier}"


def _asked_wait(posts: dict) -> str:
    """The wait the receiver asked the webhook's alerts, or its heartbeats, for (429 or 503 with
    ``Retry-After``: the console's limit of an agent's posts, its ``max_connections``), while it
    lasts: no failure nor outage, but why nothing is posted meanwhile."""
    wait = posts.get("waiting")
    return f", waiting {wait['for_s']:.1f} s as the receiver asks ({wait['reason']})" if wait else ""


def _problem_text(problem: dict) -> str:
    """The daemon's last warning or error, and, once what it was about said it is over, that it is
    resolved (and when)."""
    line = f"  last {problem['level']} at {_clock(problem['at'])}: {problem['message']}"
    if problem.get("resolved_at") is None:
        return line
    how = f": {problem['resolved']}" if problem.get("resolved") else ""
    return f"{line} (resolved at {_clock(problem['resolved_at'])}{how})"


def with_url_redacted(st: dict) -> dict:
    """The daemon's state with its webhook URL as it may be shown (:func:`redact_url`): a daemon of
    an earlier version, still running, gives it as it was configured."""
    from ..config.urls import redact_url
    w = st.get("webhook")
    if not isinstance(w, dict) or not isinstance(w.get("url"), str):
        return st
    return {**st, "webhook": {**w, "url": redact_url(w["url"])}}


def run(args: argparse.Namespace) -> int:
    from .common import answer_despite_config
    # a configuration that cannot be loaded is one warning line: the daemon runs on with what it loaded,
    # and its state is what tells what is wrong
    st, broken = answer_despite_config(args, None)
    if not isinstance(st, dict):  # no daemon answered: one line on stderr, and JSON a script can read
        return _no_answer(args, st.status, st.why, broken, st.held_up)
    st = with_url_redacted(st)
    shown = {"running": True, "starting": False, **st} | ({"config_problem": broken} if broken else {})
    if not args.json and (problem := status_shape_problem(st)):  # a part of it of another release's shape
        return _no_answer(args, ExitStatus.FAILED, unreadable_status(st, problem))
    print(json_line(shown) if args.json else render(st))
    return ExitStatus.NOT_READY if st.get("starting") else ExitStatus.OK


def unreadable_status(st: dict, problem: str) -> str:
    """Why the daemon's status ``st``, whole as every release's is, cannot be shown (``problem``:
    what in it is not of the shape this release reads, :func:`status_shape_problem`), in one line
    naming the daemon."""
    return (f"the daemon pid {st['pid']} (release {release_said(st.get('version'))}, database {st['db']}) "
            f"answered a status this call-monitor ({RELEASE}) cannot show: {problem}; restart the daemon to run "
            f"{RELEASE}, or give --json")


def _no_answer(args: argparse.Namespace, status: ExitStatus, why: str, broken: str | None = None,
               held_up: dict | None = None) -> int:
    """No daemon's state: ``why`` in one error line, and with ``--json`` an object a script reads
    (with the configuration's problem, ``broken``, when it could not be loaded). A daemon that runs
    but does not answer (``held_up``: its pid, database, and whether it is stopped) is said running,
    with those."""
    from ..console import error
    error(why)
    if args.json:
        running = {"running": False} if held_up is None else {"running": True, "answering": False, **held_up}
        print(json_line(running | {"error": why} | ({"config_problem": broken} if broken else {})))
    return status
