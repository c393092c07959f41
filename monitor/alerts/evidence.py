"""An alert's evidence in words, as a supervisor reads it (the call report and the console's page,
which analyses no audio: nothing here imports numpy).

The evidence itself (the alert's JSON, kept as the rules made it) names its parts by key:
``min_families``, ``short_drift``, ``evidence_s``... Here each part becomes a line with a label
in words and its numbers; the rules' settings that say nothing about this call (the drifts, the
seconds of evidence a level needs) are left out, and a threshold the alert was raised at is said
beside the number it applies to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping, TypeGuard

from ..cue_registry import cue
from ..events import AlertEvent
from .meaning import kind_name


@dataclass(frozen=True)
class EvidenceLine:
    """One line of an alert's evidence: ``label: text``, with sub-lines (a family's, a cue's)."""

    label: str
    text: str
    items: tuple["EvidenceLine", ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "text": self.text, "items": [x.as_json() for x in self.items]}


WINDOWS: tuple[str, ...] = ("long", "short")
"""The cue windows whose grades accumulate: the long one and the short one (see
:mod:`monitor.analysis.cue_windows`); an alert's evidence names the one that made it."""

SETTINGS = frozenset({"min_score", "min_families", "evidence_s", "drift", "short_drift", "paired_grade",
                      "direction", "baseline_threshold", "window"})
"""Keys said beside another part (the threshold a number was held against) or not at all (a
setting of the rules, the same in every alert)."""

BASES: Mapping[str, str] = MappingProxyType({
    "baseline": "the caller's own baseline", "absolute": "the absolute limit",
    "baseline+absolute": "the caller's own baseline and the absolute limit"})
"""What a warning's cue was judged against (its ``basis``)."""


def fmt_time(t: float | None) -> str:
    """A time into the call as the report and the console say it: ``m:ss``, ``h:mm:ss``."""
    if t is None:
        return "-"
    t = max(0.0, float(t))
    m, s = divmod(int(round(t)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_duration(s: float) -> str:
    """A call's length: ``m:ss`` (:func:`fmt_time`), but seconds with their tenth under a minute,
    so that a call of half a second does not read as one of none ("0.5 s", "42.0 s")."""
    return f"{max(0.0, float(s)):.1f} s" if s < 59.95 else fmt_time(s)


def value_text(v: Any) -> str:
    """A number, list or mapping of the evidence as text ("latency 2.01, pausing 1.63")."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(value_text(x) for x in v)
    if isinstance(v, Mapping):
        return ", ".join(f"{k} {value_text(x)}" for k, x in v.items()) if v else "-"
    return str(v)


def _num(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _in_db(name: Any) -> bool:
    """The evidence's cue is a level in decibels (:attr:`~monitor.cue_registry.Cue.in_db`)."""
    try:
        return cue(str(name)).in_db
    except KeyError:
        return False


def cue_name(name: Any) -> str:
    """A cue's label and unit ("response latency (s)"), or its key when no cue has it."""
    try:
        c = cue(str(name))
    except KeyError:
        return str(name)
    return f"{c.label} ({c.unit})" if c.unit else c.label


def change_text(d: Mapping[str, Any]) -> str | None:
    """The change from the baseline as the cue table says it: a difference in dB for a level,
    else a percentage of the baseline; None when there is none."""
    if _in_db(d.get("cue")):
        value, base = d.get("value"), d.get("baseline")
        if _num(d.get("change")):
            return f"{d['change']:+.1f} dB"
        return f"{value - base:+.1f} dB" if _num(value) and _num(base) else None
    rc = d.get("relative_change")
    return f"{100 * rc:+.0f} %" if _num(rc) else None


def not_heard_text(unheard_s: float) -> str:
    """What an alert says of the time in its span the caller was not heard (``unheard_s``
    seconds, its evidence's ``unheard_s``): ``"12 s of it not heard"``, or nothing under half a second."""
    n = f"{unheard_s:.0f}"
    return "" if n == "0" else f"{n} s of it not heard"


def _span(d: Mapping[str, Any]) -> str | None:
    """The evidence's span, ``since`` to ``until`` (a distress phrase's: its first word's start
    to its last word's end); one time where the two read the same."""
    since, until = d.get("since"), d.get("until")
    if not _num(since):
        return None
    if not _num(until) or abs(until - since) < 0.05 or fmt_time(since) == fmt_time(until):
        return f"{fmt_time(since)} into the call"
    unheard = not_heard_text(d["unheard_s"]) if _num(d.get("unheard_s")) else ""
    return f"{fmt_time(since)} to {fmt_time(until)} into the call" + (f", {unheard}" if unheard else "")


def cue_line(d: Mapping[str, Any]) -> str:
    """One line for a contributing cue of a combined alert."""
    parts = [f"{cue_name(d.get('cue', '?'))} {value_text(d.get('value'))}"]
    parts += [f"{name} {value_text(d[key])}" for name, key in (("baseline", "baseline"), ("threshold", "threshold"))
              if d.get(key) is not None]
    change = change_text(d)
    if change is not None:
        parts.append(change)
    window = f"{d['window']} window" if d.get("window") in WINDOWS else None
    if _num(d.get("window_s")):
        window = f"{window or 'cue window'} (the last {d['window_s']:.0f} s)"
    if window is not None:
        parts.append(window)
    return ", ".join(parts)


def accumulated_line(d: Mapping[str, Any]) -> str:
    """What one family of a combined alert accumulated: its level (it agrees at 1), the window
    whose sum made it, since when, and the sums and grades behind it."""
    level = f"level {value_text(d.get('level'))}"
    if d.get("window") in WINDOWS:
        level += f" from the {d['window']} window's sum"
    if _num(d.get("since")):
        level += f", accumulating since {fmt_time(d['since'])}"
        if _num(d.get("held_s")):
            level += f" ({d['held_s']:.0f} s)"
    sums = ", ".join(f"{name} {value_text(d[key])}" for name, key in (
        ("long", "evidence"), ("short", "short_evidence"), ("change only", "change_evidence")) if key in d)
    grades = ", ".join(f"{name} {value_text(d[key])}" for name, key in (("long", "grade"), ("short", "short_grade"))
                       if key in d)
    return "; ".join(x for x in (level, sums and f"sums: {sums}", grades and f"grades: {grades}") if x)


def _kinds(v: Any) -> str:
    """A list of alert kinds in words; anything else (another daemon's evidence) as it is."""
    return ", ".join(kind_name(k) for k in v) if isinstance(v, (list, tuple)) else value_text(v)


def _sub(v: Any, line: Callable[[Mapping[str, Any]], str], name: Callable[[Any], str]) -> tuple[EvidenceLine, ...]:
    return tuple(EvidenceLine(name(k), line(d) if isinstance(d, Mapping) else value_text(d))
                 for k, d in v.items())


def _fusion_lines(ev: Mapping[str, Any]) -> list[EvidenceLine]:
    """The combined alert's own parts: its score, the families' levels, how many agree."""
    out = []
    if _num(ev.get("score")):
        at = f" (raised at {value_text(ev['min_score'])})" if _num(ev.get("min_score")) else ""
        out.append(EvidenceLine("evidence score", f"{value_text(ev['score'])}{at}"))
    if isinstance(ev.get("families"), Mapping):
        out.append(EvidenceLine("family levels", f"{value_text(ev['families'])} (a family agrees at 1)"))
    if _num(ev.get("count")):
        need = f" ({ev['min_families']} needed)" if _num(ev.get("min_families")) else ""
        out.append(EvidenceLine("families agreeing", f"{ev['count']}{need}"))
    if ev.get("single_family") is not None:
        out.append(EvidenceLine("raised by one family alone", str(ev["single_family"])))
    paired = ev.get("paired")
    if isinstance(paired, Mapping):
        held = f" for {paired['held_s']:.0f} s" if _num(paired.get("held_s")) else ""
        grade = (f", each at least {value_text(paired['paired_grade'])} of the way to its limit"
                 if _num(paired.get("paired_grade")) else "")
        out.append(EvidenceLine("families near their absolute limits together",
                                f"{value_text(paired.get('families'))}{held}{grade}"))
    return out


def _phrase_lines(ev: Mapping[str, Any]) -> list[EvidenceLine]:
    phrase = ev.get("phrase")
    if isinstance(phrase, Mapping):  # a combined alert's recent phrase: the span of its words (an earlier release's: its end)
        span = _span(phrase if _num(phrase.get("since")) else {"since": phrase.get("t")})
        when = f", {span}" if span else ""
        if phrase.get("excerpt") is None:  # the caller's words withheld (delivery.include_phrase_text = false)
            return [EvidenceLine("distress phrase", f"\"{phrase.get('phrase', '')}\"{when}")]
        return [EvidenceLine("the caller said", f"\"{phrase.get('excerpt', '')}\"{when} "
                                                f"(distress phrase \"{phrase.get('phrase', '')}\")")]
    out = []
    if phrase is not None:
        out.append(EvidenceLine("distress phrase", f"\"{phrase}\""))
    if ev.get("excerpt") is not None:
        out.append(EvidenceLine("the caller said", f"\"{ev['excerpt']}\""))
    return out


@dataclass(frozen=True)
class PhraseHeard:
    """The distress phrase an alert was raised on, as its evidence keeps it: the listed ``phrase``,
    what the caller said (``excerpt``; None: withheld), and the call times of its words, the first's
    start (``since``; None: an earlier release kept only the last's end) to the last's end (``until``)."""

    phrase: str
    excerpt: str | None
    since: float | None
    until: float


def phrase_heard(alert: AlertEvent) -> PhraseHeard | None:
    """The phrase a ``distress_phrase`` alert was raised on, or the one a combined alert
    (``possible_emergency``) names among its evidence; None for an alert of neither."""
    ev = alert.evidence or {}
    found = ev.get("phrase")
    if isinstance(found, Mapping):  # a combined alert's recent phrase (an earlier release's: its end, "t")
        part: Mapping[str, Any] = found
        until = part.get("until", part.get("t"))
    elif alert.kind == "distress_phrase" and found is not None:
        part, until = ev, ev.get("until", alert.t)
    else:
        return None
    if not _num(until):
        return None
    since, excerpt = part.get("since"), part.get("excerpt")
    return PhraseHeard(str(part.get("phrase", "")), None if excerpt is None else str(excerpt),
                       float(since) if _num(since) else None, float(until))


def redact_phrase_text(alert: AlertEvent) -> AlertEvent:
    """The alert without the caller's own words: the excerpt of what was said is removed from the
    evidence, and the message names the listed phrase it matched instead
    (``delivery.include_phrase_text = false``: the webhook's posts and the desktop notification)."""
    ev = dict(alert.evidence)
    nested = ev.get("phrase") if isinstance(ev.get("phrase"), dict) else None
    excerpt = ev.get("excerpt") if nested is None else nested.get("excerpt")
    listed = ev.get("phrase") if nested is None else nested.get("phrase")
    if not isinstance(excerpt, str) or not excerpt:
        return alert
    if nested is None:
        ev["excerpt"] = None
    else:
        ev["phrase"] = {**nested, "excerpt": None}
    message = alert.message.replace(f'"{excerpt}"', f'a listed distress phrase ("{listed}")')
    return replace(alert, evidence=ev, message=message.replace(excerpt, "[words withheld]"))


def _cue_lines(ev: Mapping[str, Any]) -> list[EvidenceLine]:
    """A warning's own cue: what it is now against the caller's baseline and the threshold."""
    if "cue" not in ev:
        return []
    out = [EvidenceLine("cue", cue_name(ev["cue"]))]
    for label, key in (("now", "value"), ("caller's baseline", "baseline"), ("threshold", "threshold"),
                       ("absolute limit", "absolute")):
        if ev.get(key) is not None:
            out.append(EvidenceLine(label, value_text(ev[key])))
    change = change_text(ev)
    if change is not None:
        out.append(EvidenceLine("change from the baseline", change))
    if ev.get("basis") is not None:
        out.append(EvidenceLine("judged against", BASES.get(str(ev["basis"]), str(ev["basis"]))))
    if _num(ev.get("grade")):
        out.append(EvidenceLine("grade", f"{value_text(ev['grade'])} (1 = at the threshold)"))
    if _num(ev.get("measured")):
        out.append(EvidenceLine("as measured", f"{value_text(ev['measured'])} (\"now\" is net of the "
                                               f"pauses' rise)"))
    return out


SAID = frozenset({"score", "families", "count", "single_family", "paired", "phrase", "excerpt", "cue", "value",
                  "baseline", "threshold", "absolute", "relative_change", "change", "basis", "grade", "measured",
                  "since", "until", "unheard_s", "accumulated", "cues", "kinds", "window_s", "corroborated_by"})
"""Keys :func:`evidence_lines` words itself; any other key is shown with its name in words."""


def _tail_lines(ev: Mapping[str, Any]) -> list[EvidenceLine]:
    """What every alert may have: the cues and families behind it, its times, its window."""
    out = []
    if isinstance(ev.get("accumulated"), Mapping) and ev["accumulated"]:
        out.append(EvidenceLine("what each family accumulated", "",
                                _sub(ev["accumulated"], accumulated_line, str)))
    if isinstance(ev.get("cues"), Mapping) and ev["cues"]:
        out.append(EvidenceLine("cues", "", _sub(ev["cues"], cue_line, kind_name)))
    elif ev.get("kinds"):
        out.append(EvidenceLine("alerts behind it", _kinds(ev["kinds"])))
    if ev.get("corroborated_by"):
        out.append(EvidenceLine("corroborated by", _kinds(ev["corroborated_by"])))
    span = _span(ev)
    if span is not None:
        out.append(EvidenceLine("when", span))
    if _num(ev.get("window_s")) and not _cue_spans(ev):
        out.append(EvidenceLine("cue window", f"the last {ev['window_s']:.0f} s of the call"))
    return out


def _cue_spans(ev: Mapping[str, Any]) -> bool:
    """Whether each cue of a combined alert says the span of the window it was judged on (its
    line says it: the alert's own span, the longest of them, would say too much of a short one's)."""
    cues = ev.get("cues")
    return (isinstance(cues, Mapping) and bool(cues)
            and all(isinstance(d, Mapping) and _num(d.get("window_s")) for d in cues.values()))


def evidence_lines(ev: Mapping[str, Any]) -> list[EvidenceLine]:
    """An alert's evidence as lines in words, keeping its numbers (see the module's docstring)."""
    other = [EvidenceLine(k.replace("_", " "), value_text(v)) for k, v in sorted(ev.items())
             if k not in SAID and k not in SETTINGS and v is not None]
    return _fusion_lines(ev) + _phrase_lines(ev) + _cue_lines(ev) + other + _tail_lines(ev)
