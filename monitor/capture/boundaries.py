"""Where calls begin and end, from the softphone's streams: the rules, on the source clock.

The capture carries every change of the streams playing into the caller's sink
(:class:`~monitor.capture.sources.StreamsMark`); :class:`StreamBoundaries` turns them into what
the daemon does with its calls:

* a stream appearing between calls starts a call at that moment once it has played
  ``STREAM_CALL_MIN_S`` (until then the daemon keeps the audio from the mark): one that is
  gone before (a click, a short tone, a stream with nothing to monitor) is no call, neither
  stored nor delivered; one appearing while another stream still
  plays starts a new call there (the running one is closed there) once it has played
  ``STREAM_CALL_MIN_S`` too (meanwhile the daemon holds the running call's audio back; a tone
  gone before, e.g. call waiting, leaves the call whole), unless the running call's streams
  go before that (the softphone handed the call over to a new stream: a ringback tone giving
  way to the answered call's audio, the tone's stream removed 70 ms after the answer's came on
  an idle machine, a second after on a loaded one; of two streams side by side, the one gone
  within ``STREAM_CALL_MIN_S`` was passing, the one playing on is the call); one appearing while
  none plays (the softphone re-created its stream, or the sound server came back) goes on with the
  running call, but while the running call's own stream plays on into another sink (the server
  moved it there when the sink was unloaded, and the sink came back without it) it is the next
  call, as a stream beside the running call's is;
* the last stream going away ends the call once ``grace_s`` has passed without a new one; a
  stream paused (corked by its softphone) is gone too, but not while the call is on hold
  (``call-monitor call hold``): its stream paused over the hold keeps the call, and the grace
  counts from the hold's end (a stream removed meanwhile ends it);
* silence ends a call only when its stream does not mark it: the call did not begin with a
  stream appearing (a softphone whose stream plays all the time), or there is no stream
  information now (no such sink, no server answering); a call ``call-monitor call start``
  began is marked by the streams only when one playing then was seen to begin (not before
  the daemon watched, not one of a call ``call end`` closed);
* speech starts a call (after enough silence) only while a stream plays, or with no stream
  information: with none playing, what is heard is the agent's own microphone, not a call;
  nor does it while only the streams of a call ended by ``call-monitor call end`` play (the
  integration said that call is over: the next begins with a new stream or ``call start``).

Without any mark (an ALSA device, replay of a file) the rules fall back to silence throughout.
"""

from __future__ import annotations

import enum

from .sources import StreamsMark
from .streams import NO_SERVER


STREAM_CALL_MIN_S = 3.0
"""How long a stream that began between calls plays before it is a call. Shorter ones (a click,
a short tone, a stream that opened and closed) are none; a real call shorter than this has
nothing the analysis could use (a baseline needs several seconds of the caller's speech)."""


class Action(enum.Enum):
    """What a change of the streams asks of the daemon."""

    START = "start"
    """A call begins at the mark: keep the audio from there; :meth:`StreamBoundaries.start_due`
    says when it starts (or that it does not)."""
    SPLIT = "split"
    """A new call may begin at the mark: hold the running call's audio from there;
    :meth:`StreamBoundaries.split_due` says whether the running call is closed there."""


class StreamBoundaries:
    """The stream state the rules need, changed only by its methods; see the module's docstring."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.ids: frozenset[int] | None = None  # the streams playing now; None: no stream information
        self.why = "no stream information"
        self.gone_at: float | None = None  # when the last stream went away (its call not ended yet) ...
        self.gone: frozenset[int] = frozenset()  # ... these streams
        self.paused: frozenset[int] = frozenset()  # the sink's corked streams now
        self.bounded = False  # the running call is marked by its stream
        self.ended: frozenset[int] = frozenset()  # the streams of a call ``call end`` closed, playing on since
        self.begun: frozenset[int] = frozenset()  # the streams playing now that were seen to begin
        self.held: float | None = None  # when a stream began the call that has not started yet ...
        self.starting: frozenset[int] = frozenset()  # ... these streams, its own
        self.split_at: float | None = None  # when streams began beside the running call's ...
        self.splitting: frozenset[int] = frozenset()  # ... these, not yet a call of their own
        self.away: frozenset[int] = frozenset()  # the running call's streams when the information was lost

    def reconfigure(self, grace_s: float) -> None:
        """A reloaded ``daemon.stream_end_grace_s``."""
        self.grace_s = grace_s

    def on_mark(self, mark: StreamsMark, in_call: bool) -> Action | None:
        """Take a change of the streams; what to do now, or None (nothing)."""
        old, self.ids, self.why, self.paused = self.ids, mark.ids, mark.why, mark.paused
        if mark.ids is None:  # the silence decides until the streams are known again
            if mark.why == NO_SERVER or not in_call:  # a server gone takes its streams with it
                self.away = frozenset()
            elif old is not None:
                self.away = old
            self.gone_at = None
            self.held = None
            self.begun = frozenset()
            self.split_at = None
            return None
        self.ended &= mark.ids  # a stream that stopped and plays again (uncorked) is no longer the ended call's
        if old is None:  # known (again): what plays now was not seen to begin
            self.bounded = False
            self.gone_at = None
            return None
        self.begun = (self.begun | (mark.ids - old)) & mark.ids
        if mark.ids - old:
            self.gone_at = None
            if not in_call:
                if self.held is not None:  # made again at once: the same call, from its first stream
                    self.starting |= mark.ids - old
                    return None
                self.held, self.starting = mark.t, mark.ids - old
                return Action.START
            if old & mark.ids or self.away & mark.elsewhere:  # beside the call's own stream
                if self.split_at is None:
                    self.split_at, self.splitting = mark.t, frozenset()
                self.splitting |= mark.ids - old
                return Action.SPLIT
            self.away = frozenset()
            self.bounded = True
            return None
        if old and not mark.ids:
            self.gone_at, self.gone = mark.t, old
        elif self.split_at is not None and mark.ids <= self.splitting and mark.t - self.split_at < STREAM_CALL_MIN_S:
            self.split_at = None  # handed over: the running call's streams gave way to the new ones
            self.bounded = True
        return None

    def start_due(self, now: float) -> float | None:
        """When the call a stream began (:data:`Action.START`) starts, once its streams have
        played ``STREAM_CALL_MIN_S`` at ``now``; None before, and for good when they went first."""
        if self.held is None:
            return None
        if not (self.ids or frozenset()) & self.starting:  # its streams went (others may play on)
            self.held = None
            return None
        if now - self.held < STREAM_CALL_MIN_S:
            return None
        at, self.held = self.held, None
        return at

    def call_started(self, bounded: bool) -> None:
        """A call started (by a stream, by ``call start``, ``bounded`` when its stream marks it):
        a stream that went before it ends no call, its own ends it."""
        self.bounded = bounded
        self.gone_at = None
        self.held = None
        self.split_at = None
        self.away = frozenset()

    def marked_start(self) -> bool:
        """``call-monitor call start``: whether the streams mark the call it starts: only when a
        stream playing now was seen to begin and was not one of a call ended by ``call end`` (a
        softphone's stream that plays all the time leaves the call's end to the silence)."""
        bounded = bool(self.ids and self.begun - self.ended)
        self.ended = frozenset()
        self.split_at = None  # the mark overrides a split pending: the streams beside are the new call's
        return bounded

    def call_ended(self) -> None:
        """The running call ended or failed, however: no call is marked by a stream now."""
        self.bounded = False
        self.split_at = None
        self.away = frozenset()

    @property
    def split_pending(self) -> bool:
        return self.split_at is not None

    def split_due(self, now: float) -> bool | None:
        """Whether the running call is closed at the mark of :data:`Action.SPLIT`: True once the
        streams that began beside it have played ``STREAM_CALL_MIN_S`` at ``now``, False when
        they went before (and then for good); None meanwhile, or with no split pending."""
        if self.split_at is None:
            return None
        if not (self.ids or frozenset()) & self.splitting:
            self.split_at = None
            return False
        if now - self.split_at < STREAM_CALL_MIN_S:
            return None
        self.split_at = None
        return True

    def stream_ended(self, now: float, on_hold: bool = False) -> bool:
        """True once, when the last stream has been gone ``grace_s`` at ``now``; while the call is
        ``on_hold``, a stream of it paused (corked) is not gone: the grace counts from the hold's end."""
        if self.gone_at is None or self.ids:
            return False
        if on_hold and self.gone & self.paused:
            self.gone_at = now
            return False
        if now < self.gone_at + self.grace_s:
            return False
        self.gone_at = None
        return True

    def silence_may_end(self) -> bool:
        return not (self.bounded and self.ids is not None)

    def speech_may_start(self) -> bool:
        return self.ids is None or bool(self.ids - self.ended)

    def ended_by_mark(self) -> None:
        """The running call was ended by ``call-monitor call end``: its streams start no call.
        Streams that began beside it (a split pending) are not its: the call they began starts
        once they have played ``STREAM_CALL_MIN_S`` (:meth:`start_due`), as one begun between
        calls. Before :meth:`call_ended`, which forgets the split."""
        playing = self.ids or frozenset()
        beside = playing & self.splitting if self.split_at is not None else frozenset()
        if beside:
            self.held, self.starting = self.split_at, beside
        self.split_at = None
        self.ended = playing - beside

    def cancel_pending(self) -> float | None:
        """``call-monitor call end`` before the call a stream began has started (its first 3 s:
        a ring the agent declines, a stream the CRM knows is no call): that call does not start,
        nor do its streams start one by speech. When its stream began, or None when none was
        pending (nothing changes then)."""
        began, self.held = self.held, None
        if began is not None:
            self.ended_by_mark()
        return began
