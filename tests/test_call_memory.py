"""A call's memory does not grow with its length.

* The replay command hands each event to its sinks (terminal, webhook, progress) and keeps none:
  once the call is over, the only events still held are the pipeline's own, its last cue window
  and the alerts it raised (for the summary).
* What the pipeline holds while it runs (the analyzers' context, the cue windows, the baseline,
  the rules, the store's Python side) is the same after 9 minutes of call as after 3: a cue window
  kept per hop (about 1.5 kB each, 360 in those 6 minutes) would be several times the bound.
  The memory is Python's own (``tracemalloc``: objects and numpy arrays); SQLite's page cache
  is bounded by its ``cache_size`` and not traced.
"""
from __future__ import annotations

import gc
import tracemalloc
import weakref
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import CALLS, two_calls_line

from monitor.capture.sources import Chunk, FileSource
from monitor.config import load_config
from monitor.delivery.store import Store
from monitor.events import Event
from monitor.pipeline import CallPipeline, feed_source, run_source

ALERTING_CALL = CALLS / "deteriorating_8k.wav"
LOOPED_CALL = CALLS / "normal_16k.wav"
GROWTH_BOUND_BYTES = 64 * 1024
"""Allowed growth of the traced memory from minute 3 to minute 9 of a call (360 hops): under
200 bytes a hop, against about 1.5 kB for a cue window kept per hop."""


def looped_call(path: Path, minutes: float, block_s: float = 10.0) -> tuple[int, tuple[str, ...], Iterator[Chunk]]:
    """A stereo fixture call played over and over for ``minutes``, in blocks of ``block_s``:
    its rate, legs and chunks (made one at a time, so the test holds one block of audio)."""
    src = FileSource(path, block_s=block_s)
    call = np.concatenate([c.samples for c in src.chunks()])
    n = int(block_s * src.rate)

    def chunks() -> Iterator[Chunk]:
        for i in range(int(minutes * 60 / block_s)):
            yield Chunk(i * block_s, np.take(call, np.arange(i * n, (i + 1) * n), axis=0, mode="wrap"))

    return src.rate, src.legs, chunks()


def test_feeding_a_call_keeps_no_event_once_the_sinks_have_it():
    src = FileSource(ALERTING_CALL, block_s=10.0)
    pipeline = CallPipeline(load_config(None, user_config=False), src.rate, src.legs)
    handed: list[weakref.ref[Event]] = []
    assert feed_source(pipeline, src.chunks(), [lambda ev: handed.append(weakref.ref(ev))]) is None
    gc.collect()
    alive = [ev for ev in (r() for r in handed) if ev is not None]
    assert len(handed) > 200 and pipeline.alerts
    assert sorted(map(id, alive)) == sorted(map(id, [pipeline.last_cues, *pipeline.alerts]))


def test_run_source_returns_what_feeding_the_sinks_hands_them():
    src = FileSource(ALERTING_CALL, block_s=10.0)
    cfg = load_config(None, user_config=False)
    handed: list[Event] = []
    feed_source(CallPipeline(cfg, src.rate, src.legs), src.chunks(), [handed.append])
    src = FileSource(ALERTING_CALL, block_s=10.0)
    returned = run_source(CallPipeline(cfg, src.rate, src.legs), src.chunks(), [])
    assert [e.to_dict() for e in returned] == [e.to_dict() for e in handed]


@pytest.fixture
def traced_by_minute(tmp_path) -> dict[int, int]:
    """Bytes traced by ``tracemalloc`` at each whole minute of a 10-minute call (the fixture call
    looped) fed to a pipeline with a store, as the replay command feeds it (the end of the call,
    where the analyzers let their context go, is not measured)."""
    rate, legs, chunks = looped_call(LOOPED_CALL, 10.0)
    traced: dict[int, int] = {}

    def at_minutes(ev: Event) -> None:
        if ev.type == "cues" and ev.t % 60 == 0 and ev.t < 600:
            gc.collect()
            traced[int(ev.t) // 60] = tracemalloc.get_traced_memory()[0]

    store = Store.open(tmp_path / "calls.db")
    tracemalloc.start()
    try:
        feed_source(CallPipeline(load_config(None, user_config=False), rate, legs, store=store), chunks,
                    [at_minutes])
    finally:
        tracemalloc.stop()
        store.close()
    return traced


def test_the_memory_a_call_holds_does_not_grow_with_its_length(traced_by_minute):
    assert set(traced_by_minute) >= {3, 9}
    assert traced_by_minute[9] - traced_by_minute[3] < GROWTH_BOUND_BYTES


def test_the_live_daemon_gives_every_call_a_recognizer_of_its_own_and_closes_the_last_one(tmp_path):
    """Vosk's recognizer state lives no longer than its call: the daemon makes a new recognizer when
    a call starts and its worker is finished when the call ends (within a long call it is renewed
    too, transcription.renew_s; the memory figures are in research/recognizer_memory)."""
    from monitor.daemon import Daemon
    from monitor.transcription.setup import TranscriptionSetup
    from monitor.transcription.vosk_models import packaged_model_dirs

    call = two_calls_line(tmp_path / "two_calls.wav", LOOPED_CALL, 15, 12)
    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db"), "daemon.call_end_silence_s": 8.0,
                                 "transcription.language": "ko"}, user_config=False)
    setup = TranscriptionSetup.create(cfg, str(packaged_model_dirs(tmp_path / "models") / "vosk-model-small-ko"),
                                      live=True)
    seen: dict[int, object] = {}

    with Store.open(tmp_path / "e.db") as store:
        daemon = Daemon(cfg, FileSource(call), store, {}, transcription=setup)
        daemon.sinks["seen"] = lambda ev: daemon.pipeline is not None and seen.setdefault(
            id(daemon.pipeline.transcribers["caller"]), daemon.pipeline.transcribers["caller"])
        assert daemon.run() == 0
    assert daemon.calls == 2
    first, second = seen.values()
    assert first.stats().finished and second.stats().finished
