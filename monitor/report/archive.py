"""The overview page of a scored archive (``call-monitor report --batch summary.csv -o archive.html``).

From the per-call table ``call-monitor batch`` writes: calls by alert kind and severity, the
distribution of each watched cue over the calls against the configured thresholds (the call's
median against the absolute limit, and its change from the caller's own baseline against the
rule's baseline test), the flagged calls, most serious first, each linked to its own call
report (written beside the page from the store, or from the recording), the recordings whose
audio broke off (truncated or damaged: judged only as far as it goes), and those whose two legs
carried the same audio, whose legs read the wrong way round or were too quiet to measure (judged
on both voices, on the wrong voice, or on too little of it), and for a batch run with ``--labels``
its figures against them (from the labelled calls' alerts in the database). One self-contained page: CSS inline, the figure as a data URI, no scripts.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypedDict

import numpy as np

from ..alerts.evidence import fmt_duration
from ..alerts.meaning import kind_name
from ..capture.audio_files import audio_breaks_off
from ..config import Config, RuleConfig
from ..batch.progress import PROGRESS_EVERY_S, Progress
from ..batch.table import legs_same_of, legs_swapped_of, quiet_legs_of
from ..cue_registry import cue
from ..delivery.store_files import no_database_there
from ..events import NO_SPEECH_S
from ..files import make_private_folder
from ..installing import install_hint, requirement
from ..local_time import local_text
from .data import ReportError
from .figure import MUTED, SEVERITY_COLOURS, _pyplot, fmt_time
from .html import CSS, HEAD, _e, table_head

MAX_CALL_REPORTS = 100
"""Flagged calls that get their own report beside the page (the most serious first)."""

_NEEDED = ("path", "status", "alerts")


@dataclass(frozen=True)
class KindCount:
    kind: str
    severity: str
    calls: int
    alerts: int


def _number(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _not_utf8(path: str) -> str:
    """What a batch table that is not UTF-8 text is: no text at all (a recording given by mistake),
    or text in another encoding (saved from a spreadsheet in Windows-1252), by its line."""
    from ..batch.inputs import not_utf8
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\0" in head:
        return f"{path}: not a batch table (not text; write one with call-monitor batch --out)"
    return not_utf8(path, "the batch table")


def read_table(path: str) -> list[dict[str, Any]]:
    """The rows of a batch table (CSV or Parquet); ReportError naming the file otherwise."""
    if os.path.isdir(path):
        raise ReportError(f"{path}: is a directory, not a batch table")
    if not os.path.isfile(path):
        raise ReportError(f"{path}: no such batch table")
    try:
        if path.lower().endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq
            rows = pq.read_table(path).to_pylist()
        else:  # a spreadsheet's "CSV UTF-8" begins with a byte order mark, which is no part of "path"
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
    except UnicodeDecodeError:
        raise ReportError(_not_utf8(path)) from None
    except ImportError:
        raise ReportError(f"{path}: reading Parquet needs pyarrow ({install_hint(requirement('pyarrow'))})") from None
    except PermissionError:
        raise ReportError(f"{path}: cannot read the batch table (permission denied)") from None
    except Exception as err:  # noqa: BLE001 - csv, unicode and arrow errors alike: one line
        raise ReportError(f"{path}: not a batch table ({err})") from None
    if not rows or any(c not in rows[0] for c in _NEEDED):
        raise ReportError(f"{path}: not a batch table (needs the columns {', '.join(_NEEDED)} and a row; "
                          f"write one with call-monitor batch --out)")
    return rows


def kind_counts(rows: Sequence[dict[str, Any]], cfg: Config) -> list[KindCount]:
    """Per alert kind in the table: its configured severity, calls with one or more, alerts in all."""
    severity = {r.kind: r.severity for r in cfg.rules.acoustic}
    severity.update(possible_emergency=cfg.rules.possible_emergency.severity,
                    distress_phrase=cfg.rules.distress_phrase.severity)
    kinds = [c[len("alerts_"):] for c in rows[0] if c.startswith("alerts_")]
    out = []
    for k in kinds:
        n = [int(_number(r.get(f"alerts_{k}")) or 0) for r in rows]
        out.append(KindCount(k, severity.get(k, "warning"), sum(x > 0 for x in n), sum(n)))
    return sorted(out, key=lambda c: (c.severity != "critical", -c.calls, c.kind))


def _stored_call_id(row: dict[str, Any]) -> int | None:
    """The id of the row's call in the database the batch stored it in (its ``db_call_id``), None
    where it has none or a cell edited by hand holds no id a call can have (below 1, a fraction, past
    SQLite's largest integer, which SQLite refuses to be asked for): no stored call, its report made from
    its recording."""
    from ..delivery.store_rows import ID_MAX
    x = _number(row.get("db_call_id"))
    return int(x) if x is not None and x.is_integer() and 1 <= x <= ID_MAX else None


def flagged(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls with an alert: critical ones first (earliest critical first), then by alert count."""
    hit = [r for r in rows if (_number(r.get("alerts")) or 0) > 0]
    return sorted(hit, key=lambda r: (_number(r.get("first_critical_s")) is None,
                                      _number(r.get("first_critical_s")) or 0.0, -(_number(r.get("alerts")) or 0)))


def cue_change(row: dict[str, Any], rule: RuleConfig) -> float | None:
    """The call's median of the rule's cue against its baseline, in the unit of the rule's
    baseline test: a fraction (``relative_change``) or a difference (``delta``)."""
    median, base = _number(row.get(f"median_{rule.cue}")), _number(row.get(f"baseline_{rule.cue}"))
    if median is None or base is None:
        return None
    if rule.relative_change is not None:
        return median / base - 1.0 if base else None
    return median - base


def _panel(ax: Any, values: list[float], limit: float | None, title: str, xlabel: str) -> None:
    from matplotlib.ticker import MaxNLocator
    if values:
        ax.hist(values, bins=min(30, max(5, len(values) // 3)), color="#1f5fa8", alpha=0.8)
    else:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", color=MUTED)
    if limit is not None:
        ax.axvline(limit, color=SEVERITY_COLOURS["warning"], lw=2, ls="--")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("calls", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole calls, never half of one
    ax.tick_params(labelsize=7)


def rule_values(scored: Sequence[dict[str, Any]], rule: RuleConfig) -> tuple[list[float], list[float], float | None]:
    """What the page shows of a rule over the ``scored`` rows: the calls' medians of its cue, their
    changes from the caller's baseline (:func:`cue_change`) and the rule's baseline test."""
    medians = [v for v in (_number(r.get(f"median_{rule.cue}")) for r in scored) if v is not None]
    changes = [v for v in (cue_change(r, rule) for r in scored) if v is not None]
    return medians, changes, rule.relative_change if rule.relative_change is not None else rule.delta


def _spread(values: Sequence[float], fmt: str) -> str:
    return " / ".join(fmt.format(v) for v in (min(values), float(np.median(values)), max(values))) if values else "-"


def _beyond(values: Sequence[float], limit: float | None, rule: RuleConfig, fmt: str) -> str:
    """How many of ``values`` are past ``limit`` the way the rule watches (below or above it)."""
    if limit is None:
        return "no such line"
    n = sum((v < limit) if rule.direction == "below" else (v > limit) for v in values)
    return f"{n} of {len(values)} ({rule.direction} {fmt.format(limit)})"


def _cues_in_words(rows: Sequence[dict[str, Any]], cfg: Config) -> str:
    """The histograms' alternative in words: per enabled rule, the calls' lowest, middle and highest
    median of its cue and change from the baseline, and how many are past each dashed line."""
    scored = [r for r in rows if r.get("status") in ("scored", "already_scored")]
    body = []
    for rule in (r for r in cfg.rules.acoustic if r.enabled):
        medians, changes, limit = rule_values(scored, rule)
        change = "{:+.0%}" if rule.relative_change is not None else "{:+.3g}"
        watched = cue(rule.cue)
        body.append(f"<tr data-kind=\"{_e(rule.kind)}\"><td>{_e(kind_name(rule.kind))}</td><td>{_e(watched.label)}{_e(f' ({watched.unit})' if watched.unit else '')}"
                    f"</td><td class=\"num\">{_e(_spread(medians, '{:.3g}'))}</td>"
                    f"<td class=\"num\">{_e(_beyond(medians, rule.absolute, rule, '{:.3g}'))}</td>"
                    f"<td class=\"num\">{_e(_spread(changes, change))}</td>"
                    f"<td class=\"num\">{_e(_beyond(changes, limit, rule, change))}</td></tr>")
    return ("<table id=\"cues-in-words\">" + table_head(
        "The picture in words: per alert rule, the calls' median of its cue and its change from the caller's "
        "baseline (lowest / middle / highest), and how many calls are past each dashed line",
        "rule", "cue", "call medians", "past the absolute limit", "change from the baseline",
        "past the baseline test") + f"<tbody>{''.join(body)}</tbody></table>")


def render_distributions(rows: Sequence[dict[str, Any]], cfg: Config) -> bytes:
    """PNG of :func:`distributions_figure`."""
    fig = distributions_figure(rows, cfg)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    _pyplot().close(fig)
    return buf.getvalue()


def distributions_figure(rows: Sequence[dict[str, Any]], cfg: Config) -> Any:
    """Histograms of the scored calls (``rows``), two per enabled acoustic rule: the calls' median
    of its cue (dashed: the absolute limit) and its change from the caller's baseline (dashed: the
    baseline test); their heights are calls."""
    plt = _pyplot()
    rules = [r for r in cfg.rules.acoustic if r.enabled]
    scored = [r for r in rows if r.get("status") in ("scored", "already_scored")]
    fig, axes = plt.subplots(len(rules), 2, figsize=(10, 1.9 * len(rules) + 0.4), squeeze=False)
    for (left, right), rule in zip(axes, rules):
        medians, changes, limit = rule_values(scored, rule)
        unit = "fraction of baseline" if rule.relative_change is not None else "difference from baseline"
        watched = cue(rule.cue)
        _panel(left, medians, rule.absolute, f"{kind_name(rule.kind)}: call median of the {watched.label}",
               f"{watched.label} ({watched.unit})" if watched.unit else watched.label)
        _panel(right, changes, limit, f"{kind_name(rule.kind)}: change from the caller's baseline", unit)
    fig.tight_layout()
    return fig


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    x = _number(v)
    return "" if x is None else fmt.format(x)


def _kinds_table(counts: Sequence[KindCount], n_calls: int) -> str:
    body = "".join(
        f"<tr data-kind=\"{_e(c.kind)}\"><td>{_e(kind_name(c.kind))}</td><td><span class=\"sev {_e(c.severity)}\">{_e(c.severity)}</span></td>"
        f"<td class=\"num\">{c.calls}</td><td class=\"num\">{100.0 * c.calls / max(1, n_calls):.1f} %</td>"
        f"<td class=\"num\">{c.alerts}</td></tr>" for c in counts)
    return ("<table id=\"kinds\">" + table_head("Per alert kind, most serious first: its severity, the calls with "
                                                "one or more, their share of the scored calls and the alerts in all",
                                                "alert kind", "severity", "calls", "share of calls", "alerts")
            + f"<tbody>{body}</tbody></table>")


def row_key(row: dict[str, Any]) -> tuple[str, str, str]:
    """What tells one row of the table from another: a recording may be a call more than once
    (a manifest naming each leg of a stereo file as the caller), each with its own stored call."""
    return str(row["path"]), str(row.get("db_call_id") or ""), str(row.get("call_id") or "")


def is_damaged(row: dict[str, Any]) -> bool:
    """Whether the row's recording broke off before the length its header promises (its
    ``truncated`` column: a CSV's text, a Parquet table's boolean; a table without it: no)."""
    return str(row.get("truncated")).lower() == "true"


def damaged(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose recording broke off (:func:`is_damaged`): their calls are judged only as far
    as it goes, whatever alerts they have (one cut before its caller spoke: not judged at all)."""
    return [r for r in rows if is_damaged(r)]


DAMAGED_MARK = "<br><span class=\"damaged\">truncated or damaged</span>"
"""What marks a damaged call's recording (:func:`is_damaged`) in the page's lists of calls."""


def _damaged_list(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    items = "".join(f"<li><code>{_e(audio_breaks_off(r['path'], 'scored', _number(r.get('duration_s')) or 0.0))}"
                    "</code></li>" for r in rows)
    return (f"<h2 id=\"damaged\">Truncated or damaged recordings: judged only as far as their audio goes "
            f"({len(rows)})</h2><ul>{items}</ul>")


SWAPPED_MARK = "<br><span class=\"damaged\">legs the wrong way round?</span>"
"""What marks a call whose legs read the wrong way round (:func:`legs_swapped_of`) in the page's lists."""

SAME_MARK = "<br><span class=\"damaged\">both legs the same audio?</span>"
"""What marks a call whose two legs carried the same audio (:func:`legs_same_of`) in the page's lists."""

QUIET_MARK = "<br><span class=\"damaged\">too quiet to measure</span>"
"""What marks a call with a leg too quiet to measure (:func:`quiet_legs_of`) in the page's lists."""


def _marks(row: dict[str, Any]) -> str:
    """The marks of what the batch said of the row's recording: broken off, its two legs the same
    audio, its legs the wrong way round, a leg too quiet to measure."""
    return ((DAMAGED_MARK if is_damaged(row) else "") + (SAME_MARK if legs_same_of(row) else "")
            + (SWAPPED_MARK if legs_swapped_of(row) else "")
            + (QUIET_MARK if quiet_legs_of(row) else ""))


def _said_list(rows: Sequence[dict[str, Any]], said: Callable[[dict[str, Any]], Sequence[str]], anchor: str,
               heading: str) -> str:
    """The rows of which the batch said something (``said``: its phrases), each in the batch's
    words, under ``heading``; nothing without such a row."""
    items = "".join(f"<li><code>{_e(r['path'])}: {_e(line)}</code></li>" for r in rows for line in said(r))
    n = sum(bool(said(r)) for r in rows)
    return f"<h2 id=\"{anchor}\">{_e(heading)} ({n})</h2><ul>{items}</ul>" if n else ""


def swapped_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose legs read the wrong way round (:func:`legs_swapped_of`): their calls were
    judged on the agent's voice, so their alerts, or lack of them, do not tell of the caller."""
    return [r for r in rows if legs_swapped_of(r)]


def same_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose two legs carried the same audio (:func:`legs_same_of`): their caller's cues
    held the agent's voice, and their response latency was not measured."""
    return [r for r in rows if legs_same_of(r)]


def quiet_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with a leg too quiet to measure (:func:`quiet_legs_of`): less speech, more pauses
    and slower rates read than were said."""
    return [r for r in rows if quiet_legs_of(r)]


def call_names(rows: Sequence[dict[str, Any]]) -> tuple[str, list[str]]:
    """The folder all ``rows``' recordings are under and each row's path from it, as the page names
    the calls: recordings of one name in different folders (an agent's, a month's) told apart, the
    common part said once; a lone recording's name alone. No common folder (relative and absolute
    paths, other drives): ``""`` and the paths as they are."""
    paths = [str(r["path"]) for r in rows]
    try:
        folder = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    except ValueError:
        return "", paths
    return folder, [os.path.relpath(p, folder) if folder else p for p in paths]


def _flagged_table(rows: Sequence[dict[str, Any]], links: dict[tuple[str, str, str], str]) -> str:
    if not rows:
        return "<p class=\"muted\">No call raised an alert.</p>"
    kinds = [c for c in rows[0] if c.startswith("alerts_")]
    folder, names = call_names(rows)
    out = []
    for r, shown in zip(rows, names):
        name = _e(shown)
        link = links.get(row_key(r))
        cell = f"<a href=\"{_e(link)}\">{name}</a>" if link is not None else name
        which = ", ".join(f"{kind_name(k[len('alerts_'):])} ({int(_number(r[k]) or 0)})" for k in kinds
                          if (_number(r.get(k)) or 0) > 0)
        crit = _number(r.get("first_critical_s"))
        cell += _marks(r)
        out.append(f"<tr class=\"alert{' critical' if crit is not None else ''}\"><td>{cell}<br>"
                   f"<span class=\"muted\">{_e(r.get('call_id') or '')}</span></td>"
                   f"<td class=\"num\">{_e(fmt_duration(_number(r.get('duration_s')) or 0))}</td>"
                   f"<td class=\"num\">{_num(r.get('alerts'), '{:.0f}')}</td><td>{_e(which)}</td>"
                   f"<td class=\"time\">{_e(fmt_time(_number(r.get('first_warning_s'))))}</td>"
                   f"<td class=\"time\">{_e(fmt_time(crit))}</td></tr>")
    under = f"<p class=\"muted\">Recordings under <code>{_e(folder)}</code></p>" if folder else ""
    return (under + "<table id=\"flagged\">" + table_head(
        "The flagged calls, those with a critical alert first, " + _linked_said(rows, links),
        "call", "duration", "alerts", "kinds", "first warning", "first critical") + f"<tbody>{''.join(out)}</tbody></table>")


def _linked_said(rows: Sequence[dict[str, Any]], links: dict[tuple[str, str, str], str]) -> str:
    """Which of the flagged calls the table links to a call report of their own, in words: each, or
    how many (at most :data:`MAX_CALL_REPORTS` are written, and none where it could not be made)."""
    linked = sum(row_key(r) in links for r in rows)
    return "each linked to its call report" if linked == len(rows) else f"{linked} of them linked to their call reports"


def _failed_list(rows: Sequence[dict[str, Any]]) -> str:
    failed = [r for r in rows if r.get("status") == "failed"]
    if not failed:
        return ""
    items = "".join(f"<li><code>{_e(r.get('error') or r['path'])}</code></li>" for r in failed)
    return f"<h2 id=\"failed\">Calls that could not be scored ({len(failed)})</h2><ul>{items}</ul>"


def unheard(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scored calls in which no caller speech was heard (a silent leg, the caller on the other
    channel): nothing was judged in them, so their lack of alerts is no clean call."""
    return [r for r in rows if (speech := _number(r.get("caller_speech_s"))) is not None and speech < NO_SPEECH_S]


def _unheard_list(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    items = "".join(f"<li><code>{_e(r['path'])}</code>{_marks(r)}</li>" for r in rows)
    return (f"<h2 id=\"unheard\">Calls with no caller speech heard on the caller's leg: nothing judged "
            f"({len(rows)})</h2><ul>{items}</ul>")


def render_archive_html(table: str, rows: Sequence[dict[str, Any]], cfg: Config, png: bytes,
                        links: dict[tuple[str, str, str], str], notes: Sequence[str] = (),
                        detection: Sequence[str] = ()) -> str:
    """The archive report's page: its banner, notes, the figures against the labels of a batch
    with ``--labels`` (``detection``: :func:`detection_lines`), the calls by kind, the cues'
    distributions (``png``) in figures and words, the flagged calls (linked to their reports by
    ``links``) and the lists of recordings judged in part, unheard or failed."""
    scored = [r for r in rows if r.get("status") in ("scored", "already_scored")]
    hours = sum(_number(r.get("duration_s")) or 0.0 for r in scored) / 3600
    flag = flagged(scored)
    silent, broken = unheard(scored), damaged(scored)
    swapped, quiet, same = swapped_rows(scored), quiet_rows(scored), same_rows(scored)
    banner_cls, banner = _banner(scored, flag, silent, broken, swapped, quiet, same)
    note_html = "".join(f"<p>{_e(n)}</p>" for n in notes)
    img = base64.b64encode(png).decode("ascii")
    generated = local_text(time.time(), "%Y-%m-%d %H:%M")  # with its zone in a repeated hour
    return (
        f"{HEAD}<title>Archive report: {_e(os.path.basename(table))}</title><style>{CSS}</style></head><body><main>"
        f"<h1>Archive report: {_e(os.path.basename(table))}</h1>"
        f"<p class=\"meta\">{len(rows)} calls &middot; {len(scored)} scored &middot; "
        f"{len(rows) - len(scored)} failed &middot; {hours:.2f} h of audio</p>"
        f"<p class=\"meta\">table: <code>{_e(table)}</code> &middot; generated {_e(generated)} by call-monitor</p>"
        f"<div class=\"banner {banner_cls}\">{_e(banner)}</div>"
        + (f"<div class=\"notes\">{note_html}</div>" if note_html else "") + _detection_list(detection)
        + "<h2 id=\"by-kind\">Calls by alert kind and severity</h2>" + _kinds_table(kind_counts(rows, cfg), len(scored))
        + "<h2 id=\"cues\">Cues over the archive against the thresholds</h2>"
        + f"<figure><img id=\"distributions\" alt=\"Histograms of each alert rule's cue over the calls; the table "
        f"below says them in words\" aria-describedby=\"distributions-caption\" src=\"data:image/png;base64,{img}\">"
        "<figcaption id=\"distributions-caption\">Per alert rule: left, each call's median of the cue over its caller "
        "windows (dashed: the absolute limit); right, that median against the caller's own baseline (dashed: the "
        "rule's baseline test). The rules also need the change to persist; a median beyond a line is a call worth a "
        "look, not an alert.</figcaption></figure>" + _cues_in_words(rows, cfg)
        + f"<h2 id=\"flagged-calls\">Flagged calls ({len(flag)})</h2>" + _flagged_table(flag, links)
        + _damaged_list(broken)
        + _said_list(same, lambda r: [legs_same_of(r)], "same",
                     "Recordings whose two legs carry the same audio: judged on both voices")
        + _said_list(swapped, lambda r: [legs_swapped_of(r)], "swapped",
                     "Recordings whose legs read the wrong way round: judged on the agent's voice")
        + _said_list(quiet, quiet_legs_of, "quiet", "Recordings with a leg too quiet to measure")
        + _unheard_list(silent) + _failed_list(rows) + "</main></body></html>\n")


def _banner(scored: Sequence[dict[str, Any]], flag: Sequence[dict[str, Any]], silent: Sequence[dict[str, Any]],
            broken: Sequence[dict[str, Any]], swapped: Sequence[dict[str, Any]], quiet: Sequence[dict[str, Any]],
            same: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The banner's class (its colour: the worst found) and its words: the scored calls with a
    critical alert, a warning, flagged, and those unheard, damaged or with legs the same, swapped
    or too quiet."""
    crit = sum(_number(r.get("first_critical_s")) is not None for r in scored)
    warn = sum(_number(r.get("first_warning_s")) is not None for r in scored)
    banner_cls = ("critical" if crit else "warning" if flag else "unjudged" if silent else "stopped"
                  if broken or swapped or quiet or same else "ok")
    banner = (f"{crit} call(s) with a critical alert, {warn} with a warning, {len(flag)} flagged in all, "
              f"of {len(scored)} scored" + (f"; {len(silent)} with no caller speech heard: nothing judged"
                                            if silent else "")
              + (f"; {len(broken)} truncated or damaged recording(s): judged only as far as their audio goes"
                 if broken else "")
              + (f"; {len(same)} with both legs the same audio: judged on both voices" if same else "")
              + (f"; {len(swapped)} with legs that read the wrong way round: judged on the agent's voice"
                 if swapped else "")
              + (f"; {len(quiet)} with a leg too quiet to measure" if quiet else ""))
    return banner_cls, banner


class Legs(TypedDict):
    """The channels of a recording's legs, as ``from_file`` takes them."""
    caller_channel: int
    agent_channel: int | None


def legs_of(row: dict[str, Any]) -> Legs:
    """The caller and agent channels a row was scored with (``from_file``'s keywords); a table
    written before it had these columns: the defaults of ``batch`` (caller 1, agent 0)."""
    caller, agent = _number(row.get("caller_channel")), _number(row.get("agent_channel"))
    return Legs(caller_channel=1 if caller is None else int(caller),
                agent_channel=0 if agent is None else None if agent < 0 else int(agent))


def holds_of(row: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    """The holds a row was scored with (its ``hold``, as its manifest gave them); () for none, and
    for a table written before it had the column."""
    from ..capture.holds import parse_holds
    try:
        return parse_holds(str(row.get("hold") or ""))
    except ValueError:  # a cell edited by hand into no holds: none
        return ()


def write_call_reports(rows: Sequence[dict[str, Any]], cfg: Config, folder: str, page_dir: str,
                       on_error: Callable[[str], None],
                       on_warning: Callable[[str], None] = lambda line: None,
                       progress: str | None = None,
                       every_s: float = PROGRESS_EVERY_S) -> dict[tuple[str, str, str], str]:
    """Write the report of each flagged call (at most :data:`MAX_CALL_REPORTS`) into ``folder``:
    from the store when it holds the call (a stored call whose recording is gone, or there but
    unreadable, said to ``on_warning`` as ``report ID`` says it), else from the recording. Their
    ``progress`` (about a second each from the store, more from a recording) shows on stderr as the
    batch's does (:func:`~monitor.batch.progress.progress_shown`): a bar counting them, the lines said
    meanwhile each on a line of its own, or a line every ``every_s``. Returns :func:`row_key` -> link."""
    from ..delivery.store import Store

    db = os.path.expanduser(cfg.storage.db)
    there = no_database_there(db) is None
    store = Store.open_to_read(db, snapshot_every_s=cfg.storage.snapshot_every_s) if there else None
    links: dict[tuple[str, str, str], str] = {}
    todo = flagged(rows)[:MAX_CALL_REPORTS]
    shown = Progress(len(todo), progress, "report", desc="call reports", leave=False, every_s=every_s)
    on_error, on_warning = shown.lines(on_error), shown.lines(on_warning)

    def line(wall: float) -> str:
        rate, times = shown.pace(wall, "reports")
        return f"{shown.done} of {shown.total} call reports done; {rate}; {times}"
    try:
        make_private_folder(folder)
        for r in todo:
            name = _call_report(r, cfg, store, folder, len(links), on_error, on_warning)
            if name is not None:
                links[row_key(r)] = os.path.relpath(os.path.join(folder, name), page_dir)
            shown.step(line)
    finally:
        shown.close()
        if store is not None:
            store.close()
    return links


def _call_report(r: dict[str, Any], cfg: Config, store: Any, folder: str, made: int,
                 on_error: Callable[[str], None], on_warning: Callable[[str], None]) -> str | None:
    """Write row ``r``'s call report into ``folder`` (after ``made`` others): from ``store`` when it
    holds the call, else from the recording. Returns its file name, or None (said to ``on_error``)."""
    from . import from_file, render, write_atomic
    from .data import from_store, recording_warning

    call_id = _stored_call_id(r)
    name = f"call-{call_id}.html" if call_id is not None else f"call-{made + 1}.html"
    try:
        record = store.get_call(call_id) if store is not None and call_id is not None else None
        if record is not None and call_id is not None and record.source == r["path"]:
            data = from_store(store, call_id, cfg)
            if said := recording_warning(call_id, data):
                on_warning(said)
        else:
            data = from_file(str(r["path"]), cfg, **legs_of(r), agent_file=r.get("agent_path") or None,
                             on_hold=holds_of(r))
        write_atomic(os.path.join(folder, name), render(data, "html"))
    except (ReportError, OSError) as err:
        on_error(f"{r['path']}: call report not written ({err})")
        return None
    return name


def table_scores(store: Any, rows: Sequence[dict[str, Any]]) -> tuple[list[dict], int]:
    """The scores of the labelled calls of a batch's table (``rows`` as ``batch --labels`` wrote them:
    each call's kind and onset in :data:`~monitor.batch.labels.LABEL_COLUMNS`) from their alerts stored
    in ``store`` (the call its ``db_call_id`` names, stored from its recording), as the batch scores
    them (:func:`~monitor.batch.labels.labelled_row`); and how many labelled calls scored are not
    there (left out)."""
    from ..batch.labels import KINDS, CallLabel, labelled_row

    scores, unstored = [], 0
    for row in rows:
        kind = str(row.get("label") or "")
        if kind not in KINDS or row.get("status") not in ("scored", "already_scored"):
            continue
        call_id = _stored_call_id(row)
        record = store.get_call(call_id) if store is not None and call_id is not None else None
        if record is None or record.source != row["path"]:
            unstored += 1
            continue
        label = CallLabel(str(row["path"]), kind, _number(row.get("onset_s")), where="")
        score = labelled_row(dict(row), label, [s.event for s in store.list_alerts(call_id=record.id)],
                             holds_of(row))[1]
        if score is not None:
            scores.append(score)
    return scores, unstored


def detection_lines(table: str, rows: Sequence[dict[str, Any]], cfg: Config,
                    on_warning: Callable[[str], None] = lambda line: None) -> list[str]:
    """The figures of a table written by ``batch --labels`` (none for another), as that batch printed
    them: from the labelled calls' alerts in the database (``cfg.storage.db``), as its ``--resume``
    counts them; the labelled calls not there left out and counted, and a database that is not
    there said to ``on_warning``."""
    from ..batch.labels import figure_lines
    from ..delivery.store import Store

    if "label" not in rows[0]:
        return []
    db = os.path.expanduser(cfg.storage.db)
    if (none := no_database_there(db)) is not None:
        on_warning(f"{table}: the labels' figures are counted from the calls' alerts in the database, and "
                   f"none is read: {none}")
        return []
    store = Store.open_to_read(db, snapshot_every_s=cfg.storage.snapshot_every_s)
    try:
        scores, unstored = table_scores(store, rows)
    finally:
        store.close()
    return figure_lines(f"the labels in {os.path.basename(table)}", rows, scores,
                        *([f"{unstored} not in {db}"] if unstored else []))


def _detection_list(lines: Sequence[str]) -> str:
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f"<h2 id=\"detection\">Detection against the labels</h2><ul>{items}</ul>"


def archive_calls_folder(output: str) -> str:
    """The folder of an archive page's call reports: ``<output stem>_calls`` beside the page."""
    return os.path.splitext(os.path.abspath(output))[0] + "_calls"


def archive_report(table: str, rows: Sequence[dict[str, Any]], output: str, cfg: Config,
                   on_error: Callable[[str], None], on_warning: Callable[[str], None] = lambda line: None,
                   progress: str | None = None) -> int:
    """Write the archive page of ``table`` (its ``rows``: :func:`read_table`) to ``output`` and the
    flagged calls' reports into ``<output stem>_calls/``. Returns how many call reports were written.
    Raises ReportError."""
    from . import write_atomic

    page_dir = os.path.dirname(os.path.abspath(output))
    folder = archive_calls_folder(output)
    links = write_call_reports(rows, cfg, folder, page_dir, on_error, on_warning, progress)
    notes = []
    n_flagged = len(flagged(rows))
    if n_flagged > len(links):
        notes.append(f"{n_flagged - len(links)} flagged call(s) have no report of their own "
                     f"(at most {MAX_CALL_REPORTS} are written, and only for recordings or stored calls found).")
    page = render_archive_html(table, rows, cfg, render_distributions(rows, cfg), links, notes,
                               detection_lines(table, rows, cfg, on_warning))
    write_atomic(output, page.encode("utf-8"))
    return len(links)
