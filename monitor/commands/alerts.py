"""``call-monitor alerts``: list stored alerts."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from typing import TYPE_CHECKING

from ..console import error, info, one_line, padded, severity_word, width
from ..files import name_text
from ..local_time import local_text, repeated_mark
from .common import WHEN_FORMATS, ExitStatus, add_config_options, call_id, close_quietly, parse_when

if TYPE_CHECKING:  # for the annotations only
    from ..config import Config
    from ..delivery.outcomes import Labelled, Monitored, Outcomes
    from ..delivery.store import Store
    from ..delivery.store_rows import AgentWord, CallRecord, Delivery, StoredAlert



DESCRIPTION = ("List alerts from the database, each with its id (#12: what `call-monitor "
               "outcome` takes), its call and, for a replayed or "
               "scored call, the recording's name. Where a webhook took alerts, each line "
               "ends with its delivery: delivered (when: the time, with the date unless "
               "it is the alert's day), queued (the attempts that failed, why, and the "
               "next try: its time, which the sender keeps if it still runs, or \"due now, when a daemon or a "
               "replay --webhook opens this database\" once it is due (its time has come, or lies "
               "further ahead than delivery.max_backoff_s: the clock stepped back since): the running daemon, the next one started or the next replay with "
               "--webhook on this database delivers it), failed for good (after "
               "delivery.retries), or not "
               "sent (raised with no webhook: none was set, or a batch or a replay "
               "without --webhook). An alert raised while the daemon's database failed and "
               "posted from memory then keeps the id it was posted under, the alert_id the "
               "supervisor console keeps of it (not the console's own id): its line says \"posted as alert ID\". An alert a supervisor "
               "acknowledged on the console (told to the daemon in the answer to its heartbeat) "
               "says so after its delivery: \"acknowledged by supervisor NAME at TIME\" (the "
               "console's clock). The agent's word on an alert (`call-monitor outcome`) "
               "says so last: \"agent: handled (NOTE) at TIME\" or \"agent: false alarm ...\", "
               "\", to post\" while the webhook has not delivered it, \", not deliverable (WHY)\" once it is given "
               "up for good (after delivery.retries, or at once when the console "
               "answers 409: it has not the alert, which went to an earlier webhook URL).")
"""What ``alerts --help`` says the command lists."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alerts", help="list stored alerts", description=DESCRIPTION,
                       epilog="A configuration that cannot be loaded (a value a reload refused, say) is one "
                              "warning line naming its file and problem, and the alerts are read from the "
                              "database that --db, the storage.db the files still give, and the defaults place (a "
                              "daemon.status_socket that cannot be loaded only keeps it from asking the running "
                              "daemon where it records, said in that line); "
                              "a configuration file that is no TOML at all, without --db, is one error line (it "
                              "may be what names the database), exit 2.")
    p.add_argument("--since", metavar="WHEN",
                   help=f"only alerts since WHEN: {WHEN_FORMATS}")
    p.add_argument("--until", metavar="WHEN", help="only alerts before WHEN, read as --since reads it")
    p.add_argument("--outcomes", action="store_true",
                   help="instead of the alerts, how detection did on the live calls by the agents' words "
                        "(`call-monitor outcome`): per agent, alert kind and severity, the alerts, those "
                        "said handled, false alarm and none said, the false alarms among the alerts with "
                        "a word (\"2 of 3 (67 %%)\"), the critical alerts per hour of monitored call time "
                        "and the false alarms' notes; with --jsonl one JSON object")
    p.add_argument("--call", type=call_id, metavar="ID", help="only alerts of call ID")
    p.add_argument("--jsonl", action="store_true",
                   help="one JSON object per alert, with \"source\": its call's recording (or live "
                        "devices), \"deliveries\": its webhook deliveries (target, "
                        "status pending|delivered|failed, attempts, last_error, next_attempt_at, delivered_at), "
                        "\"posted_id\": the alert id the webhook posts it under (its alert_id, or the id it was "
                        "posted from memory with while the database failed; null: never queued for a webhook), "
                        "\"daemon_id\": the daemon id it is posted under (this database's on this machine; null "
                        "with posted_id): with posted_id the alert's key at the supervisor console, whose "
                        "/api/state lists it with that daemon_id and alert_id under an id of the console's own "
                        "(the one /api/alerts/ID/ack takes), \"agent\": the agent of a live call (null for a "
                        "replayed one), \"agent_source\": the agent's file of a call of two files (null for "
                        "any other), \"acked_by\" and \"acked_at\": who "
                        "acknowledged it on the supervisor console and when (Unix seconds, the console's clock; "
                        "null: not acknowledged), and the agent's word on it (`call-monitor outcome`), the labels "
                        "of real calls: \"agent_word\" (handled, false_alarm, or null: none said), \"agent_note\", "
                        "\"agent_word_at\" (Unix seconds), \"agent_word_delivery\" (pending, delivered, failed: "
                        "not deliverable, given up for good, or unsent: the alert never went to a webhook) and "
                        "\"agent_word_error\" (why a failed one is not deliverable, null otherwise); of its call, the time "
                        "each leg was not heard: \"caller_no_input\", \"agent_no_input\" ([from, to] seconds into "
                        "the call) and their seconds, \"caller_no_input_s\", \"agent_no_input_s\", and of the "
                        "caller's, the spans the caller was on hold, \"caller_on_hold\" (null while the "
                        "call runs, or for a call a crash left open)")
    add_config_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..delivery.store import Store
    from ..delivery.store_files import unreachable
    from .common import ConfigError, StoreError
    try:
        since, until = _period(args)
        cfg, asked = _database_config(args)
        store = Store.open_readonly(cfg.storage.db)  # never creates or changes a database
    except (ValueError, ConfigError) as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    except StoreError as err:
        there = os.path.exists(os.path.expanduser(cfg.storage.db)) or unreachable(cfg.storage.db) is not None
        error(str(err) + ("" if there else _daemon_elsewhere(args, asked)))
        return ExitStatus.BAD_SETUP
    try:
        if args.outcomes:
            return _outcomes(store, args, cfg.storage.db, since, until)
        try:
            alerts = store.list_alerts(since=since, call_id=args.call, until=until)
            if args.call is not None and not alerts and store.get_call(args.call) is None:
                error(f"call {args.call}: no such call in {name_text(cfg.storage.db)}")
                return ExitStatus.FAILED
        except StoreError as err:
            error(str(err))
            return ExitStatus.BAD_SETUP
        if not alerts and not args.jsonl:
            info("no alerts" + (f" in call {args.call}" if args.call is not None else "")
                 + (f" since {args.since}" if args.since else "") + (f" until {args.until}" if args.until else "")
                 + f" in {name_text(cfg.storage.db)}"
                 + _daemon_elsewhere(args, asked))
        try:
            _print_alerts(store, alerts, args.jsonl, cfg.delivery.max_backoff_s)
        except StoreError as err:
            error(str(err))
            return ExitStatus.BAD_SETUP
    finally:
        close_quietly(store)
    return ExitStatus.OK


def _period(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """The unix times ``--since`` and ``--until`` say (None: not given); raises ValueError, one line,
    for a time that does not read (an empty one too) or an ``--until`` not after ``--since``."""
    since = parse_when(args.since, "--since") if args.since is not None else None  # "" refused
    until = parse_when(args.until, "--until") if args.until is not None else None
    if since is not None and until is not None and until <= since:
        raise ValueError(f"--until {args.until!r} is not after --since {args.since!r}: no time between them")
    return since, until


def _outcomes(store: Store, args: argparse.Namespace, db: str, since: float | None, until: float | None) -> int:
    """``alerts --outcomes``: the agents' words on the live calls' alerts of the period, summed up
    (:mod:`~monitor.delivery.outcomes`), as text or one JSON object."""
    import json
    from ..delivery.outcomes import by_agent, outcomes_of, summary_dict
    from .common import StoreError
    try:
        if args.call is not None and store.get_call(args.call) is None:
            error(f"call {args.call}: no such call in {name_text(db)}")
            return ExitStatus.FAILED
        alerts, replayed, calls = _labelled(store, since, until, args.call)
    except StoreError as err:
        error(str(err))
        return ExitStatus.BAD_SETUP
    if args.jsonl:
        print(json.dumps({"db": name_text(db), "since": since, "until": until, "call_id": args.call,
                          **summary_dict(alerts, calls, replayed)}, ensure_ascii=False))
        return ExitStatus.OK
    said = _period_said(args, since, until) + f" in {name_text(db)}" + (
        f" ({replayed} alert(s) of replayed calls left out)" if replayed else "")
    if not alerts:
        info(f"no alerts of {said}")
    if alerts or calls:
        _print_outcomes(said, by_agent(alerts, calls), outcomes_of(alerts, calls))
    return ExitStatus.OK


def _labelled(store: Store, since: float | None, until: float | None,
              call_id: int | None) -> tuple[list[Labelled], int, list[Monitored]]:
    """The alerts of live calls in the period (of call ``call_id`` alone where given) with the agents'
    words on them, how many alerts of replayed calls were left out, and the live calls started in the
    period. Raises StoreError."""
    alerts, replayed = store.labelled(since, until, call_id)
    return alerts, replayed, store.monitored_calls(since, until, call_id)


def _period_said(args: argparse.Namespace, since: float | None, until: float | None) -> str:
    """``live calls since 2026-12-01 00:00 until 2026-12-06 00:00`` (``live call 12`` with ``--call``):
    the alerts' calls and period as the summary heads it."""
    return ((f"live call {args.call}" if args.call is not None else "live calls")
            + (f" since {_local_minute(since)}" if since is not None else "")
            + (f" until {_local_minute(until)}" if until is not None else ""))


def _local_minute(t: float) -> str:
    """Unix seconds ``t`` as a local date and minute (``2026-12-01 00:00``; ``2026-10-25 02:30 CET`` in an
    hour a change of daylight saving time repeats); a time past the calendar's
    ends in local time (the first day given in a zone east of UTC, a duration longer than time) as
    the end it is past."""
    try:
        moment = datetime.fromtimestamp(t)
    except (OverflowError, OSError, ValueError):  # "timestamp out of range", "year 0 is out of range"
        moment = datetime.min if t < 0 else datetime.max
    return f"{moment.year:04d}-{moment:%m-%d %H:%M}{repeated_mark(t)}"


def _print_outcomes(said: str, agents: list[Outcomes], whole: Outcomes) -> None:
    """The summary in text: a block for each agent, and one for all agents where there are several."""
    from ..delivery.outcomes import outcome_lines
    print(f"alerts of {said}, by the agents' words")
    blocks = [(f"agent {o.agent}" if o.agent is not None else "agent not recorded (calls kept no agent then)", o)
              for o in agents] + ([("all agents", whole)] if len(agents) > 1 else [])
    for title, o in blocks:
        print()
        print(title)
        for line in outcome_lines(o):
            print(f"  {line}")


def _print_alerts(store: Store, alerts: list[StoredAlert], jsonl: bool, longest_wait_s: float) -> None:
    """Print ``alerts``, each with its call's recording, its webhook delivery (a next try further
    ahead than ``longest_wait_s``, the sender's longest wait, due now) and its supervisor's
    acknowledgement: one line of text each, or one JSON object (``jsonl``). Raises StoreError
    before printing any when what it reads cannot be read."""
    from ..delivery.delivered import ack_text, delivery_text, posted_as, posted_under, word_text
    from ..delivery.sinks.terminal import call_clock
    from ..delivery.store_rows import recording_name
    sent = store.deliveries_of([a.alert_id for a in alerts])
    acks = store.acks_of([a.alert_id for a in alerts])
    words = store.words_of([a.alert_id for a in alerts])
    calls = _calls(store, {a.event.call_id for a in alerts})
    daemon_id = store.posting_id() if jsonl else None
    names = {i: one_line(recording_name(call.source, call.agent_file)) for i, call in calls.items()}  # one line each
    columns = max((width(n) for n in names.values()), default=0)
    clock_columns = max((len(local_text(a.created_at)) for a in alerts), default=0)  # a repeated hour's are longer
    for stored in alerts:
        ev = stored.event
        rows, ack, word = sent.get(stored.alert_id, []), acks.get(stored.alert_id), words.get(stored.alert_id)
        if jsonl:
            call = calls.get(ev.call_id)
            print(ev.to_json(created_at=stored.created_at, source=call.source if call else None,
                             agent_source=call.agent_file if call is not None else None,
                             deliveries=[_delivery_dict(d) for d in rows], posted_id=posted_as(rows),
                             daemon_id=posted_under(rows, daemon_id), agent=call.agent if call is not None else None,
                             acked_by=ack.by if ack else None, acked_at=ack.at if ack else None, **_word_dict(word),
                             **_no_input_dict(call)))
            continue
        when = padded(local_text(stored.created_at), clock_columns)
        name = f"{padded(names.get(ev.call_id, ''), columns)}  " if columns else ""
        said = ([delivery_text(rows, stored.created_at, longest_wait_s)] if sent else []) + (
            [ack_text(ack, stored.created_at)] if ack else []) + ([word_text(word, stored.created_at)] if word else [])
        print(f"{severity_word(ev.severity)} {when}  #{stored.alert_id:<5} call {ev.call_id:<4} {name}[{call_clock(ev.t)}] "
              f"{ev.kind}: {ev.message}" + (f"  [{'; '.join(said)}]" if said else ""))


def _database_config(args: argparse.Namespace) -> tuple[Config, Config | None]:
    """The configuration whose ``storage.db`` the alerts are read from, and the one that places the
    daemon's socket, asked where it records when that database has none (None: not asked). The
    database is all ``alerts`` needs: a configuration that cannot be loaded elsewhere (a threshold,
    ``daemon.status_socket``) is said in one warning line, and the alerts read from the database
    ``--db``, the ``storage.db`` the files give and the defaults place. Raises ConfigError where
    ``storage.db`` is what cannot be loaded, or may be set by a file that is no TOML (without
    ``--db``), and for an option given empty."""
    from ..delivery.status_socket import SOCKET_KEYS
    from .common import config_despite_problem, given_config, say_not_loaded
    cfg, broken = config_despite_problem(args, ("storage.db",), needed=("storage.db",))
    if broken is None:
        return cfg, cfg
    asked = given_config(args, SOCKET_KEYS)  # None: daemon.status_socket is what cannot be loaded
    say_not_loaded(broken, f"the alerts are read from {cfg.storage.db}",
                   also="" if asked else "no daemon asked where it records: daemon.status_socket cannot be loaded")
    return cfg, asked


def _daemon_elsewhere(args: argparse.Namespace, asked: Config | None) -> str:
    """:func:`~.common.daemon_elsewhere` with the configuration that places the daemon's socket,
    '' where none does."""
    from .common import daemon_elsewhere
    return daemon_elsewhere(args, asked) if asked is not None else ""


def _calls(store: Store, call_ids: set[int | None]) -> dict[int | None, CallRecord]:
    """The stored calls, by id: what each was heard from (``source``: the recording replayed or
    scored, or a live call's devices; of a call of two files, the agent's file too)."""
    calls = (store.get_call(i) for i in call_ids if i is not None)
    return {c.id: c for c in calls if c is not None}


def _word_dict(word: AgentWord | None) -> dict:
    """The agent's word on an alert as ``--jsonl`` gives it (a label of a real call: handled or false_alarm)."""
    return {"agent_word": word.word if word else None, "agent_note": word.note if word else None,
            "agent_word_at": word.said_at if word else None, "agent_word_delivery": word.status if word else None,
            "agent_word_error": word.last_error if word and word.status == "failed" else None}


def _no_input_dict(call: CallRecord | None) -> dict:
    """The spans of the alert's call each leg was not heard, as ``--jsonl`` gives them: ``caller_no_input``
    and ``agent_no_input`` (``[from, to]`` in seconds into the call; [] for none) and their seconds
    (``_s``), as the call's summary keeps them once it ended; null while it runs, with no call stored,
    or for a call a crash left open (closed as interrupted: its summary kept none of it); and the spans of
    those the caller was on hold (``caller_on_hold``, within ``caller_no_input``)."""
    from ..events import ON_HOLD, no_input_key, no_input_of, on_hold_of
    summary = call.summary if call is not None and call.ended_at is not None else None
    known = summary is not None and summary.get("interrupted") is not True
    out: dict = {}
    for leg in ("caller", "agent"):
        spans = no_input_of(summary, leg) if known else None
        out[no_input_key(leg)] = None if spans is None else [[a, b] for a, b in spans]
        out[f"{no_input_key(leg)}_s"] = None if spans is None else round(sum(b - a for a, b in spans), 1)
    out[ON_HOLD] = [[a, b] for a, b in on_hold_of(summary)] if known else None
    return out


def _delivery_dict(d: Delivery) -> dict:
    """An outbox row as ``--jsonl`` prints it, its URL as it may be shown (:func:`redact_url`)."""
    from ..config.urls import redact_url

    return {"target": redact_url(d.target), "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
            "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
            "delivered_at": d.delivered_at}
