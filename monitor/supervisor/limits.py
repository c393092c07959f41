"""How fast each agent may post to the console, and each client address may fail to sign in: token buckets.

Each agent (the ``agent`` a post names; an agent's own token posts only as that agent) has a bucket
for its alerts and another for its heartbeats, so that beats never use up what its alerts may post:
each holds at most ``burst`` posts, refilled at ``rate`` a second. A post that finds its bucket
empty is refused (429) with the seconds until one post is allowed again (``Retry-After``); a
daemon keeps the alert in its outbox and posts it again then. Refusals are said in one log line
when they begin for an agent and kind, then at most once every :data:`SAY_EVERY_S` with how many
came meanwhile, never once per request.

Memory is bounded: a bucket full again is the same as a new one and is forgotten (the least
recently used first, as posts come), and at most :data:`MAX_BUCKETS` are kept (past that, the least
recently used goes: that agent starts again from a full bucket).

Wrong tokens given to sign in to the page (its form, ``/?token=``) are counted per client address
(:class:`SignInLimits`): :data:`SIGN_IN_FAILURES` at once, then one every :data:`SIGN_IN_EVERY_S`;
past that, every sign-in from that address is refused, the right token too, until a try is allowed
again.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("monitor.supervisor")

MAX_BUCKETS = 10_000
"""The most buckets kept (two per agent posting now: far above any contact centre's agents)."""
SAY_EVERY_S = 60.0
"""An agent's refusals of one kind are said at most once in this many seconds."""
SIGN_IN_FAILURES = 10
"""The wrong tokens one client address may give at once to sign in."""
SIGN_IN_EVERY_S = 6.0
"""Past :data:`SIGN_IN_FAILURES`, one more wrong token allowed this many seconds after the last."""


@dataclass
class _Bucket:
    tokens: float
    at: float
    """When :attr:`tokens` was counted (monotonic seconds)."""
    refused: int = 0
    """Posts refused since the last line said so."""
    said_at: float | None = None
    """When its refusals were last said; None: never (since the bucket was last full)."""


def _counted(buckets: collections.OrderedDict, key: object, now: float, rate: float, burst: int) -> _Bucket:
    """``key``'s bucket in ``buckets``, refilled to ``now`` and made the most recently used (last);
    the least recently used that are full again go (a new one is the same), and any beyond
    :data:`MAX_BUCKETS`."""
    bucket = buckets.pop(key, None) or _Bucket(float(burst), now)
    bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
    bucket.at = now
    buckets[key] = bucket
    while len(buckets) > 1:
        oldest_key, oldest = next(iter(buckets.items()))
        if len(buckets) <= MAX_BUCKETS and oldest.tokens + (now - oldest.at) * rate < burst:
            break
        del buckets[oldest_key]
    return bucket


def _wait_s(bucket: _Bucket, rate: float) -> int:
    """The whole seconds until ``bucket`` holds one token again (at least 1)."""
    return max(1, math.ceil((1.0 - bucket.tokens) / rate))


def _unsaid(bucket: _Bucket) -> str | None:
    """One more refusal from ``bucket``: the words to end its log line with when it is one to say
    (the first since the bucket was full, or :data:`SAY_EVERY_S` after the last said: how many came
    unsaid meanwhile), else None."""
    bucket.refused += 1
    if bucket.said_at is not None and bucket.at - bucket.said_at < SAY_EVERY_S:
        return None
    since = f"; {bucket.refused - 1} more refused since the last line" if bucket.said_at is not None else ""
    bucket.said_at, bucket.refused = bucket.at, 0
    return since


class PostLimits:
    """The buckets of the agents posting to one console (the console's own: nothing is shared
    between consoles). Used from the event loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: collections.OrderedDict[tuple[str, str], _Bucket] = collections.OrderedDict()
        self._clock = clock

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, kind: str, agent: str, rate: float, burst: int) -> int | None:
        """One post of ``kind`` ("alert", "heartbeat") by ``agent``: None if its bucket allows it
        (taken from it), else the whole seconds until it allows one (said in the log as
        :data:`SAY_EVERY_S` allows)."""
        bucket = _counted(self._buckets, (kind, agent), self._clock(), rate, burst)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        wait = _wait_s(bucket, rate)
        if (since := _unsaid(bucket)) is not None:
            log.warning("429: agent %r posts %ss faster than this console takes them (%g a second, %d at once): "
                        "refused, to post again in %d s%s", agent, kind, rate, burst, wait, since)
        return wait


class SignInLimits:
    """The failed sign-ins to the page per client address (the console's own). Used from the event
    loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, failures: int = SIGN_IN_FAILURES,
                 every_s: float = SIGN_IN_EVERY_S) -> None:
        self._buckets: collections.OrderedDict[str, _Bucket] = collections.OrderedDict()
        self._clock, self._burst, self._rate = clock, failures, 1.0 / every_s

    def __len__(self) -> int:
        return len(self._buckets)

    def wait(self, address: str) -> int | None:
        """None if ``address`` may try to sign in now, else the whole seconds until it may (said in
        the log as :data:`SAY_EVERY_S` allows)."""
        bucket = _counted(self._buckets, address, self._clock(), self._rate, self._burst)
        if bucket.tokens >= 1.0:
            return None
        wait = _wait_s(bucket, self._rate)
        if (since := _unsaid(bucket)) is not None:
            log.warning("429: %s gave %d wrong tokens to sign in (one more allowed every %g s): its sign-ins are "
                        "refused for %d s%s", address, self._burst, 1.0 / self._rate, wait, since)
        return wait

    def failed(self, address: str) -> None:
        """One wrong token given by ``address``."""
        _counted(self._buckets, address, self._clock(), self._rate, self._burst).tokens -= 1.0
