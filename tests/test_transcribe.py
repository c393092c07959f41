"""The transcription stage, with the real Korean Vosk model on Korean espeak-ng speech.

espeak-ng's Korean is poorly recognised, so these tests check structure and
timing (words inside the speech, increasing times, finals during the replay,
gating that skips silence without moving words) rather than exact words; the
one phrase test uses "여보세요", which the model recognises reliably from
espeak-ng at its default speed.
"""

from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.signal import resample_poly

from conftest import CALLS
from monitor.analysis.analyzer import EMIT_GRID
from monitor.capture.audio_files import AnalysisStream
from monitor.capture.sources import Chunk
from monitor.config import load_config
from monitor.dsp.resample import Resampler
from monitor.events import WordsEvent
from monitor.transcription.phrases import PhraseMatcher, PhraseSpotter
from monitor.transcription.recognizer import Transcriber
from monitor.pipeline import CallPipeline
from tools.bench_transcribe import say  # Korean espeak-ng speech, trimmed (shared with the bench)

RATE = 16000
SENTENCES = (
    "숨을 쉴 수가 없어요",
    "가슴이 너무 아파요",
    "구급차를 불러 주세요",
    "안녕하세요 전화 주셔서 감사합니다",
    "잠시만 기다려 주세요",
    "어지러워서 앉아 있어요",
)

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                reason="espeak-ng and sox make the test speech")


@dataclass(frozen=True)
class Speech:
    audio: np.ndarray  # float32 mono at RATE
    regions: tuple[tuple[float, float], ...]  # (start, end) of each spoken clip, seconds

    def inside(self, t: float, slack: float = 0.25) -> bool:
        return any(a - slack <= t <= b + slack for a, b in self.regions)




def build(clips: list[np.ndarray], gaps: list[float], seed: int = 0) -> Speech:
    """Clips separated by gaps of silence (with a faint noise floor), and where each clip is."""
    parts, regions, t = [], [], 0.0
    for clip, gap in zip(clips, gaps):
        parts.append(np.zeros(int(gap * RATE), np.float32))
        t += gap
        parts.append(clip)
        regions.append((t, t + len(clip) / RATE))
        t += len(clip) / RATE
    parts.append(np.zeros(int(1.0 * RATE), np.float32))
    audio = np.concatenate(parts)
    audio += np.random.default_rng(seed).normal(0, 0.001, len(audio)).astype(np.float32)
    return Speech(audio, tuple(regions))


def energy_mask(x: np.ndarray, rate: int) -> np.ndarray:
    """Voice activity per 10 ms frame: frame energy within 40 dB of the loudest frame."""
    hop = rate // 100
    n = -(-len(x) // hop)
    frames = np.pad(x, (0, n * hop - len(x))).reshape(n, hop)
    e = 10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    return e > e.max() - 40


@dataclass
class Run:
    events: list[WordsEvent]
    finals_before_close: int
    stats: object
    renewals: int = 0

    @property
    def finals(self) -> list[WordsEvent]:
        return [e for e in self.events if e.final]

    @property
    def words(self):
        return [w for e in self.finals for w in e.words]


def replay(model, x: np.ndarray, rate: int, *, gate: bool, chunks: str = "fixed", backlog_s: float = 3.0,
           seed: int = 1, renew_s: float = 0.0) -> Run:
    """Feed audio like the pipeline would (chunk, t0, speech mask), polling as it goes."""
    tr = Transcriber(model, "caller", rate, gate=gate, on_full="block", max_backlog_s=backlog_s, renew_s=renew_s)
    mask = energy_mask(x, rate)
    hop = rate // 100
    rng = np.random.default_rng(seed)
    events: list[WordsEvent] = []
    i = 0
    while i < len(x):
        n = int(rng.integers(rate // 100, rate)) if chunks == "random" else rate // 10
        f0 = i // hop
        tr.feed(i / rate, x[i:i + n], mask[f0:f0 + -(-n // hop)] if gate else None)
        i += n
        events += tr.poll()
    finals_before = sum(e.final for e in events)
    events += tr.close(timeout=60)
    stats = tr.stats()
    assert stats.finished
    return Run(events, finals_before, stats, tr.renewals)


@pytest.fixture(scope="session")
def call_speech(tmp_path_factory) -> Speech:
    """Six sentences, 1.5 s apart, with a 5 s silence in the middle (about 30 s)."""
    d = tmp_path_factory.mktemp("ko-speech")
    clips = [say(s, d, f"s{i}") for i, s in enumerate(SENTENCES)]
    return build(clips, [0.5, 1.5, 1.5, 5.0, 1.5, 1.5])


@pytest.fixture(scope="session")
def ungated(ko_model, call_speech) -> Run:
    return replay(ko_model, call_speech.audio, RATE, gate=False)


@pytest.fixture(scope="session")
def gated(ko_model, call_speech) -> Run:
    return replay(ko_model, call_speech.audio, RATE, gate=True, chunks="random")


@pytest.fixture(scope="session")
def caller_alone(ko_model, call_speech) -> Run:
    """The speech's first 5 s decoded alone, ungated: a caller's leg with no other beside it."""
    return replay(ko_model, call_speech.audio[:5 * RATE], RATE, gate=False)


def test_the_packaged_korean_model_resolves_by_language_and_runs_at_16k(ko_model_info):
    assert ko_model_info.language == "ko"
    assert ko_model_info.source == "VOSK_MODEL_PATH"
    assert ko_model_info.sample_rate == 16000


def test_words_come_back_inside_the_speech_with_increasing_times(ungated, call_speech):
    words = ungated.words
    assert len(words) >= 12, [e.text for e in ungated.finals]
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in words)
    inside = [call_speech.inside((w.start + w.end) / 2) for w in words]
    assert np.mean(inside) >= 0.95, [(w.word, w.start, w.end) for w in words]
    # every sentence got some words
    for a, b in call_speech.regions:
        assert any(a - 0.25 <= w.start <= b for w in words), (a, b)


def test_events_have_the_documented_shape(ungated):
    d = ungated.finals[0].to_dict()
    assert d["type"] == "words" and d["channel"] == "caller" and d["final"] is True
    assert set(d["words"][0]) == {"word", "start", "end", "conf"}
    assert d["text"] == " ".join(w["word"] for w in d["words"])
    partials = [e for e in ungated.events if not e.final]
    assert partials, "partial results while speech goes on"


def test_finals_arrive_during_the_replay_not_only_at_close(ungated, call_speech):
    assert ungated.finals_before_close >= 3
    # each final comes after its words, at the call time the recognizer had reached
    for e in ungated.finals:
        assert e.t >= e.words[-1].end - 1e-6
        assert e.t <= len(call_speech.audio) / RATE + 1e-6


def test_gating_skips_silence_without_moving_words(gated, ungated, call_speech):
    assert gated.stats.skipped_s >= 4.0  # most of the 5 s silence, some of the 1.5 s gaps
    assert gated.stats.fed_s + gated.stats.skipped_s == pytest.approx(len(call_speech.audio) / RATE, abs=0.02)
    g = gated.words
    assert all(call_speech.inside((w.start + w.end) / 2) for w in g)
    # Recognition of espeak-ng Korean is unstable (other chunking or context may change a
    # word), but word boundaries stay put: a shift by skipped silence (0.5 s to 4 s here)
    # would put them far apart.
    u = ungated.words
    near = [w for w in u if min(abs(v.start - w.start) for v in g) <= 0.1]
    assert len(near) >= 0.7 * len(u), ([(w.word, round(w.start, 2)) for w in u],
                                       [(w.word, round(w.start, 2)) for w in g])
    for a, b in call_speech.regions:  # every sentence is still heard, at its place
        assert any(a - 0.25 <= w.start <= b for w in g), (a, b)


def test_word_times_hold_when_fed_at_8k_in_random_chunks(ko_model, call_speech):
    x8 = resample_poly(call_speech.audio, 1, 2).astype(np.float32)
    run = replay(ko_model, x8, 8000, gate=True, chunks="random", seed=7)
    words = run.words
    assert len(words) >= 12
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert np.mean([call_speech.inside((w.start + w.end) / 2) for w in words]) >= 0.95
    for a, b in call_speech.regions:
        assert any(a - 0.25 <= w.start <= b for w in words), (a, b)


def test_a_recognizer_renewed_at_utterance_ends_keeps_the_words_call_times(ko_model, call_speech,
                                                                                       gated):
    """``renew_s`` replaces the recognizer by a new one at the first utterance end after that much
    audio (a long call's recognizer memory): the words' call times hold across the renewals. The
    words themselves may differ a little (a new recognizer starts without the speaker adaptation the
    old one had built up). The old recognizer is freed before the new one is made and its memory
    goes back to the system at once (glibc's malloc kept it, and a long call's low points rose with
    each renewal)."""
    renewed = replay(ko_model, call_speech.audio, RATE, gate=True, chunks="random", renew_s=2.0)
    assert renewed.renewals >= 1
    assert renewed.stats.renewals == renewed.renewals
    if platform.libc_ver()[0] == "glibc":
        assert renewed.stats.given_back == renewed.renewals
    words = renewed.words
    assert abs(len(words) - len(gated.words)) <= 0.2 * len(gated.words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert np.mean([call_speech.inside((w.start + w.end) / 2) for w in words]) >= 0.95
    for a, b in call_speech.regions:
        assert any(a - 0.25 <= w.start <= b for w in words), (a, b)


def test_a_calls_words_are_the_same_whatever_the_process_decoded_before_it(ko_model, call_speech, caller_alone):
    """Kaldi dithers each frame's features with noise drawn from the C library's ``rand()``: unseeded,
    the same audio decoded again in the process got other words (a batch's worker, or the daemon,
    heard a call otherwise after other calls). Each recognizer seeds it as it starts."""
    again = replay(ko_model, call_speech.audio[:5 * RATE], RATE, gate=False)
    first = [(w.word, w.start, w.end, w.conf) for w in caller_alone.words]
    assert first and [(w.word, w.start, w.end, w.conf) for w in again.words] == first


def test_two_legs_decoded_at_once_get_the_words_each_gets_alone(ko_model, call_speech, caller_alone):
    """The agent's leg transcribed beside the caller's: each recognizer draws its dither from
    numbers of its own, so neither takes the other's and both get the words they get alone (drawn
    from the process's one sequence in whatever order their threads ran, both legs' words changed)."""
    caller, agent = call_speech.audio[:5 * RATE], call_speech.audio[16 * RATE:21 * RATE]
    legs = [Transcriber(ko_model, name, RATE, gate=False, on_full="block", max_backlog_s=10.0)
            for name in ("caller", "agent")]
    for i in range(0, 5 * RATE, RATE // 10):  # both fed as they come in, both decoding meanwhile
        for leg, x in zip(legs, (caller, agent)):
            leg.feed(i / RATE, x[i:i + RATE // 10])
    together = [_words(leg.close(timeout=60)) for leg in legs]
    assert all(leg.stats().finished for leg in legs)
    alone = [_words(caller_alone.events), _words(replay(ko_model, agent, RATE, gate=False).events)]
    assert all(together) and together == alone


def _words(events: list[WordsEvent]) -> list[tuple[str, float, float, float]]:
    return [(w.word, w.start, w.end, w.conf) for e in events if e.final for w in e.words]


def test_a_korean_phrase_the_model_recognises_is_spotted_at_its_time(ko_model, tmp_path):
    clips = [say("감사합니다", tmp_path, "a"), say("여보세요", tmp_path, "b"), say("네", tmp_path, "c")]
    speech = build(clips, [0.5, 1.2, 1.2])
    run = replay(ko_model, speech.audio, RATE, gate=True, chunks="random")
    spotter = PhraseSpotter(PhraseMatcher({"test": ["여보세요"], "help": ["살려 주세요", "숨을 쉴 수가 없어요"]}))
    hits = [h for e in run.events for h in spotter.push(e)]
    hello = [h for h in hits if h.match.phrase == "여보세요"]
    assert hello, [e.text for e in run.finals]
    a, b = speech.regions[1]
    assert a - 0.25 <= hello[0].start_s and hello[0].end_s <= b + 0.25
    assert hello[0].match.excerpt == "여보세요"


def test_a_full_backlog_drops_the_oldest_audio_and_counts_it(ko_model, call_speech):
    tr = Transcriber(ko_model, "caller", RATE, gate=False, max_backlog_s=1.0, on_full="drop")
    x = call_speech.audio[: 10 * RATE]
    for i in range(0, len(x), RATE // 10):  # ten seconds handed over at once: feed never waits
        tr.feed(i / RATE, x[i:i + RATE // 10])
    tr.close(timeout=30)
    s = tr.stats()
    assert s.dropped_s > 5.0
    assert s.fed_s + s.dropped_s == pytest.approx(10.0, abs=0.05)


def test_bad_input_is_refused_with_the_channel_named(ko_model):
    tr = Transcriber(ko_model, "agent", RATE)
    with pytest.raises(ValueError, match="agent"):
        tr.feed(0.0, np.zeros((10, 2), np.float32))
    tr.close()
    with pytest.raises(RuntimeError, match="agent"):
        tr.feed(0.0, np.zeros(10, np.float32))


@pytest.mark.parametrize("rates", [(8000, 16000), (44100, 16000), (48000, 16000)])
def test_the_streaming_resampler_equals_resampling_the_whole_signal(rates):
    rin, rout = rates
    x = np.random.default_rng(3).normal(size=3 * rin)
    g = np.gcd(rin, rout)
    whole = resample_poly(x, rout // g, rin // g)
    r = Resampler(rin, rout, 1)  # the transcriber's resampler (monitor.dsp.resample)
    rng = np.random.default_rng(4)
    out, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, rin // 2))
        out.append(r.process(x[i:i + n, None].astype(np.float32))[:, 0])
        i += n
    out.append(r.process(np.zeros((0, 1), np.float32), final=True)[:, 0])
    y = np.concatenate(out)
    assert len(y) == len(whole)
    assert np.max(np.abs(y - whole)) < 1e-5


def test_in_a_call_a_transcribed_leg_keeps_half_second_batches_and_the_other_leg_one_per_hop(ko_model):
    """The recognizer gets a leg's audio as soon as its voice activity is known: that leg's
    analyzer emits every 0.5 s; a leg whose frames serve only the cue windows, once per cue hop."""
    stream = AnalysisStream(CALLS / "deteriorating_16k.wav", [1, 0])
    x = np.concatenate(list(stream))[: 8 * stream.rate]
    cfg = load_config(user_config=False)
    transcriber = Transcriber(ko_model, "caller", stream.rate, on_full="block")
    pipe = CallPipeline(cfg, stream.rate, ("caller", "agent"), transcribers={"caller": transcriber})
    seen: dict[str, set[int]] = {"caller": set(), "agent": set()}
    step = stream.rate // 50
    for i in range(0, len(x), step):
        pipe.process(Chunk(i / stream.rate, x[i:i + step]))
        for leg, an in pipe.analyzers.items():
            seen[leg].add(an.frames_emitted)
    pipe.finish()
    hop = round(cfg.analysis.hop_s * 100)
    assert all(n % EMIT_GRID == 0 for n in seen["caller"]) and any(n % hop for n in seen["caller"])
    assert all(n % hop == 0 for n in seen["agent"])
