"""Local times as the commands read and show them, around a change of daylight saving time.

Every time stored is in unix seconds; a command shows it, and reads one given without an offset,
in the local time zone (``TZ``, else the system's). A change of daylight saving time makes the
wall clock read the same hour twice (02:00 to 03:00 in Europe/Berlin on 2026-10-25, at +02:00 and
again at +01:00), or skip one (02:00 to 03:00 on 2026-03-29): a time shown in a repeated hour
carries its zone's abbreviation (``02:30:02 CEST``, ``02:30:02 CET``), and one read in a repeated
or skipped hour is refused, saying so (:func:`wall_clock_problem`), not taken one way in silence.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

ZONEINFO = "zoneinfo/"
"""What a zone file's path holds before the zone's name (``/usr/share/zoneinfo/Europe/Berlin``)."""


def zone_name() -> str:
    """The local time zone's name as a person names it: ``TZ``'s (``Europe/Berlin``; a file it names
    as the zone in that file's path), else that of the zone file ``/etc/localtime`` links to, else
    ``/etc/timezone``'s, else the zone's abbreviations (``CET/CEST``)."""
    tz = os.environ.get("TZ")
    if tz is not None:
        tz = tz.removeprefix(":")
        return _zone_of_file(tz) if tz.startswith("/") else tz or "UTC"
    if os.path.islink("/etc/localtime"):
        return _zone_of_file("/etc/localtime")
    try:
        with open("/etc/timezone", encoding="utf-8") as f:
            name = f.readline().strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    return name or "/".join(dict.fromkeys(time.tzname))


def _zone_of_file(path: str) -> str:
    """The zone a zone file is of, by the path it lies at (links followed)."""
    real = os.path.realpath(path)
    return real.split(ZONEINFO, 1)[1] if ZONEINFO in real else real


def offset_text(offset: timedelta | None) -> str:
    """A UTC offset as ISO 8601 writes it: ``+02:00``, ``-03:30``."""
    minutes = round((offset or timedelta()).total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def repeated_mark(t: float) -> str:
    """`` CEST`` (a space, then the zone's abbreviation) where the local wall-clock reading of unix
    seconds ``t`` happens twice (the hour a change of daylight saving time repeats), else ``""``;
    the offset (`` +02:00``) where both readings have one abbreviation."""
    try:
        moment = datetime.fromtimestamp(t)
        other = moment.replace(fold=1 - moment.fold)
        if other.timestamp() == moment.timestamp():
            return ""
        here, there = moment.astimezone(), other.astimezone()
    except (OverflowError, OSError, ValueError):  # past the calendar's ends: no change of time there
        return ""
    name = here.tzname()
    return f" {name}" if name and name != there.tzname() else f" {offset_text(here.utcoffset())}"


def local_text(t: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Unix seconds ``t`` as a local time in ``fmt``, marked with its zone in a repeated hour
    (:func:`repeated_mark`): ``2026-10-25 02:30:02 CEST``."""
    return datetime.fromtimestamp(t).strftime(fmt) + repeated_mark(t)


def wall_clock_problem(moment: datetime) -> str | None:
    """Why local time ``moment`` (naive) names no one instant: ``happens twice in Europe/Berlin
    (+02:00 and +01:00): give the offset, ...`` or ``does not exist in Europe/Berlin: ...``; None
    for one it names (a time with an offset too)."""
    if moment.tzinfo is not None:
        return None
    try:
        first, second = moment.replace(fold=0).timestamp(), moment.replace(fold=1).timestamp()
        wall = moment.replace(tzinfo=timezone.utc).timestamp()
    except (OverflowError, OSError, ValueError):  # the calendar's ends: see unix_time
        return None
    if first == second:
        return None
    before, after = timedelta(seconds=wall - first), timedelta(seconds=wall - second)
    if first < second:
        spec = "minutes" if not (moment.second or moment.microsecond) else "auto"
        given = [moment.replace(tzinfo=timezone(o)).isoformat(timespec=spec) for o in (before, after)]
        return (f"happens twice in {zone_name()} ({offset_text(before)} and {offset_text(after)}): "
                f"give the offset, {given[0]} or {given[1]}")
    change = _change_between(second, first)
    skipped = [datetime.fromtimestamp(change, timezone(o)).strftime("%H:%M") for o in (before, after)]
    return (f"does not exist in {zone_name()}: its clocks went from {skipped[0]} to {skipped[1]} that day "
            f"({offset_text(before)} to {offset_text(after)}); give a time outside the gap, or an offset")


def _change_between(lo: float, hi: float) -> float:
    """The unix second the local UTC offset changes at, between ``lo`` (before it) and ``hi``."""
    was = time.localtime(lo).tm_gmtoff
    lo, hi = int(lo), int(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if time.localtime(mid).tm_gmtoff == was else (lo, mid)
    return hi
