"""How detection is scored against labelled calls: each call's first alerts relative to its marked
onset (:func:`call_scores`), and a set of calls' figures (:func:`row_metrics`).

The one declaration of these scores: ``call-monitor batch --labels`` reports them for a user's own
archive, ``tools/evaluate.py`` for the project's corpus. A call is *expected* critical (a caller in
trouble from its onset), *forbidden* one (a normal call: any critical is a false alarm), or
neither (a mild caller, for whom no critical is expected). Time on hold (a manifest's ``hold``) is
no call time the rates are over: the caller is not heard then, so no alert of theirs can come.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..capture.holds import within
from ..events import AlertEvent, Span, joined_spans

DETECT_WITHIN_S = 30.0
"""A critical alert this soon after the labelled onset counts as detected in time."""


def first_alert(alerts: Sequence[AlertEvent], severity: str, after: float = -math.inf) -> float | None:
    """Time of the first alert of ``severity`` at or after ``after`` (alerts in time order), or None."""
    return next((a.t for a in alerts if a.severity == severity and a.t >= after), None)


def normal_time_s(duration_s: float, onset_s: float | None, healthy: bool = True) -> float:
    """Seconds of a call that are normal speech: all of a ``healthy`` call without an onset, a
    troubled call's part before its onset; none of a call neither (a hard negative, whose alerts
    are scored as false alarms instead)."""
    if onset_s is not None:
        return min(onset_s, duration_s)
    return duration_s if healthy else 0.0


def held_s(holds: Sequence[Span], end_s: float) -> float:
    """Seconds of ``holds`` (overlapping ones joined) before ``end_s``."""
    return sum(b - a for a, b in within(joined_spans(holds), end_s))


def call_scores(alerts: Sequence[AlertEvent], onset_s: float | None, normal_s: float,
                holds: Sequence[Span] = ()) -> dict[str, Any]:
    """One call's scores from its alerts (in time order): first warning and critical, the first of
    each at or after ``onset_s`` and the seconds from the onset to it, the criticals before the
    onset, the alerts counted, and the warnings within the first ``normal_s`` seconds, whose time
    off ``holds`` is the call's normal time (``normal_s``; ``normal_held_s`` the rest)."""
    crit_after = first_alert(alerts, "critical", onset_s) if onset_s is not None else None
    warn_after = first_alert(alerts, "warning", onset_s) if onset_s is not None else None
    onset = 0.0 if onset_s is None else onset_s  # the times after it are None without an onset
    held = held_s(holds, normal_s)
    return {
        "first_warning_t": first_alert(alerts, "warning"), "first_critical_t": first_alert(alerts, "critical"),
        "first_critical_after_onset_t": crit_after,
        "time_to_warning_s": None if warn_after is None else round(warn_after - onset, 3),
        "time_to_critical_s": None if crit_after is None else round(crit_after - onset, 3),
        "criticals_before_onset": 0 if onset_s is None else sum(a.severity == "critical" and a.t < onset_s
                                                                for a in alerts),
        "warnings": sum(a.severity == "warning" for a in alerts),
        "criticals": sum(a.severity == "critical" for a in alerts),
        "normal_s": normal_s - held, "normal_held_s": held,
        "normal_warnings": sum(a.severity == "warning" and a.t < normal_s for a in alerts),
    }


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank of ``values`` (may hold inf); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _share(k: int, n: int) -> float | None:
    return None if n == 0 else k / n


def _per_hour(count: int, seconds: float) -> float | None:
    return None if seconds <= 0 else 3600.0 * count / seconds


def _ttc(r: Mapping[str, Any]) -> float:
    """Seconds from the onset to the first critical after it; inf for none (a miss)."""
    return math.inf if r["time_to_critical_s"] is None else r["time_to_critical_s"]


def _past_mild_ttc(r: Mapping[str, Any]) -> float:
    """Seconds from the first turn past the mild level to the first critical after the onset
    (inf if none; results without the field count from the onset)."""
    t = r.get("time_past_mild_to_critical_s", r["time_to_critical_s"])
    return math.inf if t is None else t


def row_metrics(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of a set of calls' scores (:func:`call_scores` with ``duration_s``, ``onset_s``,
    ``expect_critical`` and ``forbid_critical``): the share of expected calls critical within
    :data:`DETECT_WITHIN_S` of the onset and at all after it, the median and 90th percentile time
    to it (nearest rank, a miss infinitely late), the forbidden calls with a critical and their
    alerts per hour (of their time off hold: ``held_s``), the troubled and mild calls critical before
    their onset, the mild calls' detection, and the warnings per hour of normal call time."""
    exp = [r for r in results if r["expect_critical"]]
    ttc = [_ttc(r) for r in exp]
    forb = [r for r in results if r["forbid_critical"]]
    forb_s = sum(r["duration_s"] - r.get("held_s", 0.0) for r in forb)
    labored = [r for r in results if r["onset_s"] is not None]
    other_ttc = [_ttc(r) for r in labored if not r["expect_critical"] and not r["forbid_critical"]]
    normal_s = sum(r["normal_s"] for r in results)
    return {
        "files": len(results),
        "expected": len(exp),
        "detected_30s": _share(sum(t <= DETECT_WITHIN_S for t in ttc), len(exp)),
        "detected_30s_past_mild": _share(sum(_past_mild_ttc(r) <= DETECT_WITHIN_S for r in exp), len(exp)),
        "detected_any": _share(sum(math.isfinite(t) for t in ttc), len(exp)),
        "median_ttc_s": nearest_rank(ttc, 0.5),
        "p90_ttc_s": nearest_rank(ttc, 0.9),
        "forbidden": len(forb),
        "false_alarm_files": sum(r["criticals"] > 0 for r in forb),
        "forbidden_hours": forb_s / 3600.0,
        "warnings_per_hour": _per_hour(sum(r["warnings"] for r in forb), forb_s),
        "criticals_per_hour": _per_hour(sum(r["criticals"] for r in forb), forb_s),
        "labored": len(labored),
        "pre_onset_false_alarm_files": sum(r["criticals_before_onset"] > 0 for r in labored),
        "other": len(other_ttc),
        "other_detected": _share(sum(math.isfinite(t) for t in other_ttc), len(other_ttc)),
        "other_median_ttc_s": nearest_rank(other_ttc, 0.5),
        "normal_hours": normal_s / 3600.0,
        "normal_held_hours": sum(r.get("normal_held_s", 0.0) for r in results) / 3600.0,
        "normal_warnings_per_hour": _per_hour(sum(r["normal_warnings"] for r in results), normal_s),
    }
