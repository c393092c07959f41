"""One self-contained HTML page: the timeline PNG as a data URI, inline CSS, no scripts,
no external assets (it opens offline and can be mailed as one file). Every text that
comes from the call, the store or the configuration is HTML-escaped."""

from __future__ import annotations

import base64
import html
import time
from typing import Any, Mapping

from ..events import AlertClearedEvent
from ..local_time import local_text
from .data import CueRow, ReportData, Utterance, cue_rows
from ..alerts.evidence import evidence_lines
from ..alerts.meaning import kind_name
from ..console import one_line
from .figure import fmt_time

HEAD = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:; form-action 'none'\"><meta name=\"referrer\" content=\"no-referrer\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
"""The head every report page begins with: a page that runs no script and loads nothing, its own
style and its pictures (``data:``) aside, whatever a recording's name or a caller's words hold (each
escaped as well), and that sends no ``Referer`` from its links; opened from a share too."""

CSS = """
body{font-family:-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;margin:0;
  background:#f6f7f9;color:#1d2330;font-size:14px;line-height:1.45}
main{max-width:1380px;margin:0 auto;padding:18px 20px 40px}
h1{font-size:22px;margin:4px 0 6px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
.meta{color:#555;margin:0 0 8px}
.banner{padding:10px 14px;border-radius:6px;margin:10px 0;font-weight:600}
.banner.critical{background:#fde2e2;border:1px solid #d62728;color:#8a1010}
.banner.warning{background:#fff1d6;border:1px solid #e69f00;color:#6b4a00}
.banner.ok{background:#e4f4e4;border:1px solid #2ca02c;color:#1b5e1b}
.banner.unjudged{background:#eeeeee;border:1px solid #8c8c8c;color:#333333}
.banner.stopped{background:#f1ebe3;border:1px solid #8c6d46;color:#4a3520}
.notes{background:#eef2f8;border-left:4px solid #1f5fa8;padding:6px 12px;margin:10px 0;color:#333}
.notes p{margin:4px 0}
figure{margin:12px 0;background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:6px}
figure img{width:100%;height:auto;display:block}
figcaption{color:#555;font-size:12px;padding:4px 2px 0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d8dce3}
th,td{padding:6px 8px;border-bottom:1px solid #e5e8ee;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.worse td.chg{color:#b00000;font-weight:600}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;color:#fff}
.sev.critical{background:#d62728}.sev.warning{background:#9c6500}
tr.alert.critical{background:#fff5f5}
.evidence{font-size:12px;color:#333;margin:0;padding-left:16px;columns:2;column-gap:18px}
.evidence li.wide{column-span:all}.evidence ul.sub{padding-left:14px;margin:2px 0}
.actions{margin:0;padding-left:18px}
.time{white-space:nowrap;font-variant-numeric:tabular-nums}
.transcript{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:6px 12px}
.utt{margin:3px 0;display:flex;gap:10px}
.utt .time{color:#666;min-width:56px}
.utt .who{min-width:52px;font-weight:600}
.utt.caller .who{color:#1f5fa8}.utt.agent .who{color:#5e5e5e}
mark.distress{background:#ffd0d0;color:#8a0000;font-weight:700;padding:0 2px;border-radius:3px}
.muted{color:#5e5e5e;font-style:italic}
.damaged{color:#6e5536;font-weight:600}
/* read by screen readers, not drawn: a table's caption, what a highlight means */
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
"""

def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _num(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)
    return str(v)


def _evidence(ev: Mapping[str, Any]) -> str:
    """The alert's evidence in words (:func:`~monitor.alerts.evidence.evidence_lines`)."""
    items = []
    for line in evidence_lines(ev):
        if line.items:
            sub = "".join(f"<li><b>{_e(x.label)}</b>: {_e(x.text)}</li>" for x in line.items)
            items.append(f"<li class=\"wide\">{_e(line.label)}:<ul class=\"sub\">{sub}</ul></li>")
        else:
            items.append(f"<li>{_e(line.label)}: {_e(line.text)}</li>")
    return f"<ul class=\"evidence\">{''.join(items)}</ul>" if items else "<span class=\"muted\">none</span>"


def table_head(caption: str, *columns: str) -> str:
    """A table's caption (read by screen readers: the heading above it shows) and its column headers."""
    heads = "".join(f"<th scope=\"col\">{_e(c)}</th>" for c in columns)
    return f"<caption class=\"sr\">{_e(caption)}</caption><thead><tr>{heads}</tr></thead>"


WORSE_FRACTION = 0.15
"""The cue table marks a worst window this far from the baseline median, the wrong way."""
WORSE_DB = 3.0
"""The same for a level in dB (half or twice the power)."""


def _cue_table(rows: list[CueRow], whence: str | None = None) -> str:
    """The cue table of ``rows``, and under it ``whence``, where its worst windows come from when
    not from every window (:attr:`~monitor.report.data.ReportData.worst_windows_said`)."""
    if not rows:
        return "<p class=\"muted\">No cue windows with caller speech.</p>"
    out = ["<table class=\"cues\">" + table_head(
        f"The caller's cues: the baseline, the worst window and when it was, and its change from the baseline "
        f"(worse: {100 * WORSE_FRACTION:.0f} % or {WORSE_DB:.0f} dB from it the wrong way)",
        "Cue", "Baseline median", "Baseline q1-q3", "Worst window", "At", "Change") + "<tbody>"]
    for r in rows:
        unit = f" {r.unit}" if r.unit else ""
        chg = r.change
        beyond = WORSE_DB if r.in_db else WORSE_FRACTION
        worse = chg is not None and ((chg < -beyond) if r.direction == "low" else (chg > beyond))
        shown = (f"{chg:+.1f} dB" if r.in_db else f"{100 * chg:+.0f} %") if chg is not None else "-"
        shown += " (worse)" if worse else ""  # said in words, not by its red alone
        band = f"{_num(r.q1)} - {_num(r.q3)}" if r.q1 is not None else "-"
        out.append(
            f"<tr class=\"{'worse' if worse else ''}\"><td>{_e(r.label)}{_e(unit and ' (' + r.unit + ')')}</td>"
            f"<td class=\"num\">{_e(_num(r.baseline))}</td><td class=\"num\">{_e(band)}</td>"
            f"<td class=\"num\">{_e(_num(r.worst))}</td>"
            f"<td class=\"num time\">{_e(fmt_time(r.worst_t)) if r.worst_t is not None else '-'}</td>"
            f"<td class=\"num chg\">{_e(shown)}</td></tr>")
    out.append("</tbody></table>" + (f"<p class=\"muted\">{_e(whence)}</p>" if whence else ""))
    return "".join(out)


def _ending(clear: AlertClearedEvent | None) -> str:
    """How an alert ended, for its time cell (nothing when no clear was recorded)."""
    if clear is None:
        return ""
    if clear.reason == "call_ended":
        return "<br><span class=\"muted\">still raised when the call ended</span>"
    what = {"rule_disabled": "rule switched off", "phrase_expired": "phrase no longer recent"}.get(
        clear.reason, "cleared")
    return f"<br><span class=\"muted\">{what} {_e(fmt_time(clear.t))}</span>"


def _alerts_table(data: ReportData) -> str:
    if not data.alerts:
        return "<p class=\"muted\">No alerts were raised in this call.</p>"
    out = ["<table class=\"alerts\">" + table_head(
        "The call's alerts by their time into the call: severity, alert, evidence and recommended actions",
        "Time", "Severity", "Alert", "Evidence", "Recommended actions") + "<tbody>"]
    for a in sorted(data.alerts, key=lambda a: (a.t, a.alert_id or 0)):
        sev = a.severity if a.severity in ("warning", "critical") else "warning"
        cl = _ending(data.clear_of(a))
        sent = data.deliveries.get(a.alert_id) if a.alert_id is not None else None
        cl += f"<br><span class=\"muted\">{_e(sent)}</span>" if sent else ""
        acked = data.acks.get(a.alert_id) if a.alert_id is not None else None
        cl += f"<br><span class=\"muted acked\">{_e(acked)}</span>" if acked else ""
        word = data.words.get(a.alert_id) if a.alert_id is not None else None
        cl += f"<br><span class=\"agentword\">{_e(word)}</span>" if word else ""
        actions = "".join(f"<li>{_e(x)}</li>" for x in a.actions) or "<li class=\"muted\">none</li>"
        out.append(
            f"<tr class=\"alert {sev}\" data-t=\"{_e(f'{a.t:.1f}')}\" data-kind=\"{_e(a.kind)}\">"
            f"<td class=\"time\">{_e(fmt_time(a.t))}<br><span class=\"muted\">{_e(f'{a.t:.1f}')} s</span>{cl}</td>"
            f"<td><span class=\"sev {sev}\">{_e(a.severity)}</span></td>"
            f"<td><b>{_e(kind_name(a.kind))}</b><br>{_e(a.message)}</td>"
            f"<td>{_evidence(dict(a.evidence or {}))}</td>"
            f"<td><ol class=\"actions\">{actions}</ol></td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _utterance_html(u: Utterance) -> str:
    words = u.words
    marks = sorted(u.distress)
    out, i = [], 0
    for a, b, phrase in marks:
        if a < i or b > len(words) or a >= b:
            continue
        out.append(_e(" ".join(words[i:a])))
        out.append(f"<mark class=\"distress\" title=\"{_e(phrase)}\"><span class=\"sr\">distress phrase: </span>"
                   f"{_e(' '.join(words[a:b]))}</mark>")
        i = b
    out.append(_e(" ".join(words[i:])))
    return " ".join(x for x in out if x)


def _transcript(data: ReportData) -> str:
    if not data.utterances:
        why = ("No transcript: the call was analysed acoustically only (no speech recognition model)."
               if not data.transcribed else "No words were recognised in this call.")
        return f"<p class=\"muted\">{_e(why)}</p>"
    # spaces between the time, the speaker and the words: a screen reader says "0:05 caller ...", not "0:05caller"
    rows = [f"<div class=\"utt {_e(u.channel)}\"><span class=\"time\">{_e(fmt_time(u.start))}</span> "
            f"<span class=\"who\">{_e(u.channel)}</span> <span class=\"text\">{_utterance_html(u)}</span></div>"
            for u in data.utterances]
    n = sum(bool(u.distress) for u in data.utterances)
    head = (f"<p>{_e(n)} line(s) with distress phrases (highlighted).</p>" if n else "")
    return head + "<div class=\"transcript\">" + "".join(rows) + "</div>"


def _banner(data: ReportData) -> str:
    """What the call comes to, at the top of the page: its alerts, or none (green only for a call
    judged whole, grey for one its caller's baseline never came in or whose legs read the wrong way
    round or too quiet, brown for one whose monitoring stopped part-way, said too under the alerts
    of such a call)."""
    cut = data.cut_short
    stopped = f"<div class=\"banner stopped\">{_e(cut[:1].upper() + cut[1:])}</div>" if cut else ""
    if data.critical:
        first = min(a.t for a in data.alerts if a.severity == "critical")
        return (f"<div class=\"banner critical\">{_e(data.critical)} critical alert(s), first at "
                f"{_e(fmt_time(first))} - {_e(len(data.alerts))} alert(s) in all</div>{stopped}")
    if data.alerts:
        return (f"<div class=\"banner warning\">{_e(len(data.alerts))} warning alert(s), none critical</div>"
                + stopped)
    if cut:
        return f"<div class=\"banner stopped\">No alerts, but {_e(cut)}</div>"
    if nothing := data.nothing_judged:
        return f"<div class=\"banner unjudged\">No alerts, but {_e(nothing)}</div>"
    if legs := data.legs_heads:  # judged, but perhaps on the agent's voice, or on a caller half heard
        return f"<div class=\"banner unjudged\">No alerts, but {_e(legs)}: see the notes below</div>"
    return "<div class=\"banner ok\">No alerts in this call</div>"


def _timeline_alt(data: ReportData) -> str:
    """What the timeline shows, in a line: its alerts, the most serious first (the tables say the rest)."""
    if not data.alerts:
        return f"Call timeline of {one_line(data.title)}: no alerts"
    first = min((a for a in data.alerts), key=lambda a: (a.severity != "critical", a.t))
    return (f"Call timeline of {one_line(data.title)}: {len(data.alerts)} alert(s), {data.critical} critical; first "
            f"{first.severity}: {kind_name(first.kind)} at {fmt_time(first.t)}")


def _figure(data: ReportData, png: bytes | None) -> str:
    """The timeline picture, its alternative in a line and its caption naming where the page says it
    in words (the baseline above, the cue and the alert tables below)."""
    if not png:
        return "<p class=\"muted\">Timeline picture not available.</p>"
    img = base64.b64encode(png).decode("ascii")
    return (f"<figure><img id=\"timeline\" alt=\"{_e(_timeline_alt(data))}\" aria-describedby=\"timeline-caption\" "
            f"src=\"data:image/png;base64,{img}\"><figcaption id=\"timeline-caption\">Timeline: waveform and speech "
            f"of both legs, the caller's cues against their baseline band, alerts by severity (thin orange lines: "
            f"warning; thick red lines, bold labels: critical), transcript. The same in words: the baseline above, "
            f"<a href=\"#cues\">each cue against it</a> and <a href=\"#alerts\">each alert with its time, severity "
            f"and end</a> below.</figcaption></figure>")


def render_html(data: ReportData, png: bytes | None) -> str:
    """The report page; ``png`` is the timeline picture (None: left out with a note)."""
    banner = _banner(data)
    meta = [f"duration {_e(fmt_time(data.duration_s))} ({_e(f'{data.duration_s:.1f}')} s)",
            f"legs: {_e(', '.join(data.legs))}",
            "transcribed" if data.transcribed else "acoustic-only"]
    if data.call_id is not None:
        meta.insert(0, f"call id {_e(data.call_id)}")
    if data.agent:
        meta.insert(0, f"agent {_e(data.agent)}")
    if data.started_at:
        when = local_text(data.started_at)  # with its zone in a repeated hour (daylight saving time's end)
        meta.insert(0, f"started {_e(when)}")
    b = data.baseline
    if b is not None:
        meta.append(f"baseline from {_e(fmt_time(b.start_t))} to "
                    f"{_e(fmt_time(b.end_t))} ({_e(f'{b.speech_s:.0f}')} s of caller speech)")
    else:
        meta.append(f"no baseline ({_e(data.why_no_baseline)})")
    notes = "".join(f"<p>{_e(n)}</p>" for n in data.all_notes)
    figure = _figure(data, png)
    generated = local_text(time.time(), "%Y-%m-%d %H:%M")  # as the start: its zone in a repeated hour
    return (
        f"{HEAD}<title>Call report: {_e(one_line(data.title))}</title><style>{CSS}</style></head><body><main>"
        f"<h1>Call report: {_e(one_line(data.title))}</h1>"  # a name's line break written \n, as every line writes it
        f"<p class=\"meta\">{' &middot; '.join(meta)}</p>"
        f"<p class=\"meta\">source: <code>{_e(one_line(data.source))}</code>"  # as the title names it
        + (f" + agent's leg <code>{_e(one_line(data.agent_source))}</code>" if data.agent_source else "")
        + f" &middot; generated {_e(generated)} "
        f"by call-monitor</p>{banner}"
        + (f"<div class=\"notes\">{notes}</div>" if notes else "")
        + figure
        + "<h2 id=\"cues\">Cues: baseline against the worst window</h2>"
        + _cue_table(cue_rows(data), data.worst_windows_said)
        + f"<h2 id=\"alerts\">Alerts ({_e(len(data.alerts))})</h2>" + _alerts_table(data)
        + "<h2 id=\"transcript\">Transcript</h2>" + _transcript(data)
        + "</main></body></html>\n")
