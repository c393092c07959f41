"""Where background talk is taken for the caller: the caller's speech frames the cue windows keep
(after the background-talk gate), set against the corpus's own record of who spoke when.

    python -m tools.background_talk DIR [--split tune|test|fixtures|all] [--cache DIR] [--noise babble|all]
                                        [--set KEY=VALUE ...] [--verdict settled|first] [--files]
                                        [--json OUT.json]  (and tools.evaluate's other corpus options)

Every file (one call at one sample rate) is read from the evaluation's frame cache (``--cache``,
see :mod:`tools.evaluate`; a file without cached frames is replayed), and the cue tracker's gate
is run hop by hop as the pipeline runs it
(:meth:`~monitor.analysis.cue_windows.CueTracker.caller_voice`). Each frame is judged by the
gate's verdict ``SETTLE_S`` after it, what the cue windows see from then on (``--verdict first``:
at the first hop that sees it, what a live call sees at once; a hold's first seconds change
verdict in between). Against the label file's turns (speaker, start, end, phrases) and events
(holds), the seconds of kept speech outside the caller's turns are split into:

- ``hold``: inside a hold;
- ``agent``: inside one of the agent's turns;
- ``gap``: between turns, nobody speaking (the caller's pauses between turns);
- ``inner``: inside a caller's turn but between its phrases (the pauses inside an answer; a
  breath taken for speech lands here too).

What the gate costs the caller: ``voice`` is the analyzer's speech inside the caller's phrases,
``lost`` the part of it the gate turned to silence. ``sounds``: the seconds of breaths and coughs
kept outside the caller's turns (``SETTLE_S`` after them). Times within ``MARGIN_S`` of a turn's or a
phrase's edge count as inside it (the labels are the synthesiser's, the frames 10 ms each).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread, as tools.evaluate
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(_v, "1")

import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Mapping, Sequence  # noqa: E402

import numpy as np  # noqa: E402

from monitor.analysis.cue_windows import CueTracker  # noqa: E402
from monitor.analysis.frame_features import HOP_S, Frames  # noqa: E402
from monitor.config import AnalysisConfig, Config  # noqa: E402
from monitor.dsp.sound_class import SILENCE  # noqa: E402
from tools import evaluate as ev  # noqa: E402
from tools.evaluate import FrameRecord, Job, cache_load, check_audio, frames_key, replay_file  # noqa: E402

PROG = "background_talk"

SETTLE_S = 15.0
"""A frame's verdict is read again this long after it (the hold test's reach, ``voice_hold_quiet_s``
10 s, is behind it by then): the verdict the cue windows see from then on (longer with the long-hold
test, :func:`settle_s`)."""
MARGIN_S = 0.15
"""Tolerance around the labelled edges of turns and phrases."""
PLACES: tuple[str, ...] = ("hold", "agent", "gap", "inner")
"""Where kept speech outside the caller's phrases lies (module docstring)."""


@dataclass(frozen=True)
class GatedFrames:
    """The caller's frames of one file as the cue tracker kept them: frame times, the analyzer's
    speech, the speech left after the gate at the first hop that sees it and ``SETTLE_S`` later,
    and the breaths and coughs left ``SETTLE_S`` later (shapes (n,), (n,) bool x 4)."""

    t: np.ndarray
    speech: np.ndarray
    kept: np.ndarray
    settled: np.ndarray
    sounds: np.ndarray


class _GateRecorder(CueTracker):
    """A cue tracker that only gates the caller's frames hop by hop and records each frame's
    verdict at the first hop that sees it and at the first hop ``settle_s`` after it (or the last
    hop); no cues are measured."""

    def __init__(self, analysis: AnalysisConfig, legs: tuple[str, ...], settle_s: float) -> None:
        super().__init__(analysis, legs)
        self.settle_s = settle_s
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.settled: list[np.ndarray] = []
        self.sounds: list[np.ndarray] = []
        self._done_t = 0.0
        self._settled_t = 0.0
        self.last = Frames.empty()  # the caller's frames as the last hop gated them

    def measure(self, t: float) -> Any:
        """Gate the frames up to ``t`` and record the verdicts (returns None, not a cue event)."""
        me, _ = self.caller_voice(t)
        mine = self.frames(self.channel).between(self._done_t, t)
        new = me.t >= self._done_t
        self.parts.append((me.t[new], mine.speech, me.speech[new]))
        self._done_t = t
        self.settle(me, t - self.settle_s)
        self.last = me
        return None

    def settle(self, me: Frames, upto: float) -> None:
        """Record the verdicts of the frames from the last settled time to ``upto``."""
        if upto > self._settled_t:
            now = me.between(self._settled_t, upto)
            self.settled.append(now.speech)
            self.sounds.append(~now.speech & (now.sound != SILENCE))
            self._settled_t = upto


def settle_s(analysis: AnalysisConfig) -> float:
    """How long after a frame its verdict is read: ``SETTLE_S``, or longer when the long-hold test
    (``voice_hold_long_s``) may still take a hold's first seconds back after that."""
    return max(SETTLE_S, analysis.voice_hold_long_s + 1.0)


def gated_frames(record: FrameRecord, analysis: AnalysisConfig) -> GatedFrames:
    """The caller's frames of a recorded file through the gate, fed as ``tools.evaluate.track_cues``
    feeds the cue tracker."""
    tracker = _GateRecorder(analysis, record.legs, settle_s(analysis))
    for step in record.fed:
        for leg, frames in zip(record.legs, step):
            tracker.add(leg, frames)
        tracker.due()
    for leg, frames in zip(record.legs, record.flushed):
        tracker.add(leg, frames)
    tracker.due(final=True)
    if not tracker.parts:
        return GatedFrames(np.zeros(0), *(np.zeros(0, bool) for _ in range(4)))
    tracker.settle(tracker.last, np.inf)
    t, speech, kept = (np.concatenate(col) for col in zip(*tracker.parts))
    settled, sounds = np.concatenate(tracker.settled), np.concatenate(tracker.sounds)
    return GatedFrames(t, speech, kept, settled[:len(t)], sounds[:len(t)])


def inside(t: np.ndarray, spans: Sequence[tuple[float, float]], margin: float = MARGIN_S) -> np.ndarray:
    """Whether each time lies within ``margin`` of one of the spans (start, end). Shapes (n,) -> (n,) bool."""
    out = np.zeros(len(t), dtype=bool)
    for a, b in spans:
        out |= (t >= a - margin) & (t < b + margin)
    return out


def label_spans(label: Mapping[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """The label's caller turns and phrases, agent turns and holds, as (start, end) lists."""
    turns = label.get("turns", [])
    caller = [t for t in turns if t["speaker"] == "caller"]
    return {"caller_turns": [(t["start_s"], t["end_s"]) for t in caller],
            "caller_phrases": [(p["start_s"], p["end_s"]) for t in caller for p in t.get("phrases", [])],
            "agent_turns": [(t["start_s"], t["end_s"]) for t in turns if t["speaker"] == "agent"],
            "holds": [(e["start_s"], e["end_s"]) for e in label.get("events", []) if e["kind"] == "hold"]}


def place_seconds(g: GatedFrames, spans: Mapping[str, list[tuple[float, float]]],
                  settled: bool = True) -> dict[str, float]:
    """Seconds of kept speech per place (:data:`PLACES`) and the caller's own ``voice`` and ``lost``
    seconds (module docstring), by the verdicts ``SETTLE_S`` after each frame or at once."""
    g = GatedFrames(g.t, g.speech, g.settled if settled else g.kept, g.settled, g.sounds)
    in_turn = inside(g.t, spans["caller_turns"])
    phrase = inside(g.t, spans["caller_phrases"])
    hold = inside(g.t, spans["holds"], 0.0)
    agent = inside(g.t, spans["agent_turns"], 0.0)
    outside = g.kept & ~in_turn
    where = {"hold": outside & hold, "agent": outside & ~hold & agent, "gap": outside & ~hold & ~agent,
             "inner": g.kept & in_turn & ~phrase}
    out = {k: float(v.sum()) * HOP_S for k, v in where.items()}
    out["voice"] = float((g.speech & phrase).sum()) * HOP_S
    out["lost"] = float((g.speech & ~g.kept & phrase).sum()) * HOP_S
    out["sounds"] = float((g.sounds & ~in_turn).sum()) * HOP_S
    return out


def file_row(job: Job, cfg: Config, cache_dir: str | None, settled: bool = True) -> dict[str, Any]:
    """One file's figures: its id, rate, condition and :func:`place_seconds` (its frames from the
    evaluation's cache ``cache_dir``, or replayed); raises AudioFileError for audio that cannot be
    replayed (:func:`~tools.evaluate.check_audio`), cached or not."""
    check_audio(job)
    record = cache_load(cache_dir, frames_key(job), FrameRecord) if cache_dir else None
    if record is None:
        record = replay_file(job, cfg)[1]
    label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
    row = {"id": job.id, "rate": job.rate, "minutes": job.duration_s / 60.0,
           "group": job.condition.get("group"), "severity": job.condition.get("severity"),
           "degrade": job.condition.get("degrade"), "snr_db": job.condition.get("snr_db"),
           "on_hold": bool(job.condition.get("hold")), "noise": job.condition.get("noise")}
    row.update(place_seconds(gated_frames(record, cfg.analysis), label_spans(label), settled))
    return row


def summary(rows: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    """Lines of totals per value of ``key``: files, minutes, seconds per place (and per hour of
    call), the caller's voice and the share of it lost."""
    lines = [f"{key:<22} files   min " + "".join(f"{p:>8} s/h" for p in PLACES)
             + "   voice s  lost s  lost%  sounds s"]
    for value in sorted({str(r[key]) for r in rows}):
        sub = [r for r in rows if str(r[key]) == value]
        hours = sum(r["minutes"] for r in sub) / 60.0
        cells = "".join(f"{sum(r[p] for r in sub):>6.1f} {sum(r[p] for r in sub) / hours:>5.0f}" for p in PLACES)
        voice, lost = sum(r["voice"] for r in sub), sum(r["lost"] for r in sub)
        lines.append(f"{value:<22} {len(sub):>5} {60 * hours:>5.0f} {cells} {voice:>9.1f} {lost:>7.1f} "
                     f"{100 * lost / voice if voice else 0:>5.1f}% {sum(r['sounds'] for r in sub):>9.1f}")
    return lines


def snr_band(r: Mapping[str, Any]) -> str:
    snr = r["snr_db"]
    return "-" if snr is None else "<10" if snr < 10 else "10-20" if snr < 20 else ">=20"


def main(argv: Sequence[str] | None = None) -> int:
    ap = ev.corpus_tool_parser(PROG, __doc__.split("\n\n")[0])
    ap.add_argument("--noise", default="babble", help="the line noise of the files measured, or 'all'")
    ap.add_argument("--files", action="store_true", help="print one line per file")
    ap.add_argument("--verdict", default="settled", choices=("settled", "first"),
                    help="each frame's verdict SETTLE_S after it (default) or at the first hop that sees it")
    args = ap.parse_args(argv)
    try:
        settings, cfg, jobs = ev.corpus_of(args)
        jobs = [j for j in jobs if args.noise == "all" or j.condition.get("noise") == args.noise]
        rows = [file_row(j, cfg, settings.cache_dir, args.verdict == "settled") for j in jobs]
    except ev.CORPUS_PROBLEMS as exc:
        return ev.corpus_failed(exc, PROG)
    for r in rows:
        r["snr"] = snr_band(r)
        r["hold_group"] = f"{r['group']}/{'hold' if r['on_hold'] else 'no hold'}"
    if args.files:
        for r in rows:
            print(f"{r['id']} {r['rate']:>5} {r['group']:<13} {r['severity']:<8} snr {r['snr_db']} hold {r['on_hold']:d} "
                  + " ".join(f"{p} {r[p]:5.1f}" for p in PLACES) + f" voice {r['voice']:6.1f} lost {r['lost']:5.1f}")
    for key in ("noise", "hold_group", "snr", "severity", "degrade"):
        print("\n".join(summary(rows, key)) + "\n")
    if args.json:
        try:
            ev.write_json(args.json, {"files": rows})
        except OSError as exc:
            return ev.fail(f"{args.json}: cannot write ({exc.strerror or exc})", prog=PROG)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
