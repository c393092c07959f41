"""Which acknowledgements each daemon took, on the console's side (:class:`AckNews`).

The console tells a daemon the acknowledgements of its alerts in the answers to its heartbeats
(:mod:`monitor.delivery.acks` says how), only those of the last :data:`ACK_NEWS_S`, until the
daemon's next heartbeat says it took them. A console restarted forgets what was taken and tells
those of the last :data:`ACK_NEWS_S` again, which the daemon shows once. A daemon of an earlier
release, which takes none, is answered them with every beat for :data:`ACK_NEWS_S`.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from ..delivery.acks import ACKS_PER_ANSWER, ack_item

ACK_NEWS_S = 900.0
"""Acknowledgements older than this (seconds) are not told any more."""


class AckNews:
    """Which acknowledgements each daemon took (console ids, by daemon id), within :data:`ACK_NEWS_S`.
    Used from the event loop only."""

    def __init__(self) -> None:
        self._told: dict[str, set[int]] = {}

    @staticmethod
    def since(now: float | None = None) -> float:
        """The earliest acknowledgement still told (console clock)."""
        return (time.time() if now is None else now) - ACK_NEWS_S

    def untold(self, daemon_id: str, rows: list[Mapping[str, Any]], taken: frozenset[int]) -> list[dict[str, Any]]:
        """Of ``rows`` (that daemon's acknowledgements since :meth:`since`), those it has not taken, at
        most :data:`ACKS_PER_ANSWER`; ``taken``: the alert ids its heartbeat says it took, counted
        from now on. What was taken of older ones is forgotten."""
        done = self._told.get(daemon_id, set()) | {r["id"] for r in rows if r["alert_id"] in taken}
        done &= {r["id"] for r in rows}
        if done:
            self._told[daemon_id] = done
        else:
            self._told.pop(daemon_id, None)
        return [ack_item(r) for r in rows if r["id"] not in done][:ACKS_PER_ANSWER]
