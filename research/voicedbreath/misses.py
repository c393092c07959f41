"""What stage loses each mixed breath the sound class misses, and what each false breath event is.

    PYTHONPATH=. python research/voicedbreath/misses.py <the shared data folder> [train|test] [KEY=VALUE ...]

Rebuilds tools.train_sound_class's mixtures (research/breath3/mixed.py's draws) and, for every
missed breath at 16 kHz and over the telephone band, follows its frames through the class's
stages: heard (audible or voice-active; under the -65 dBFS / 50 dB-under-peak bounds nothing is),
the model's non-speech decision before the opening (``other``), the opening (a run of 15 frames),
and the final rules (brief sound, tail, voiced after). Prints one line a miss with the stage that
lost it, and a count by stage; then each false event with its length, its place (inside an
utterance, next to speech) and its level under the peak. KEY=VALUE: SoundClassParams overrides.
"""
import dataclasses
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
import monitor.dsp.sound_class as S
from monitor.dsp.runs import open_then_close, runs
from research.breath3.mixed import mix_meta
from tools import train_sound_class as T

_orig, _seen = S.sound_classes, []


def _capture(*args, **kw):
    _seen.append((args, kw))
    return _orig(*args, **kw)


A.sound_classes = _capture


def longest(mask: np.ndarray) -> int:
    s, e = runs(mask)
    return int((e - s).max()) if len(s) else 0


def stages(args, kw, inside: np.ndarray) -> tuple[str, str]:
    audible, active, scores, strength, params = args[:5]
    rate = kw.get("rate", args[6] if len(args) > 6 else 16000)
    heard = audible | active
    smooth = S.columns_mean(scores, params.score_frames)
    smooth[:, 2] -= params.cough_margin
    best = smooth.argmax(axis=1)
    aperiodic, unvoiced = S._periodicity(strength, params)
    other = ((best > 0) | aperiodic) & heard & unvoiced
    mute = params.mute_frames[rate != S.SPEC_RATE]
    if mute:
        other |= S._mute(heard, active, mute, params.min_sound_frames) & unvoiced
    opened = open_then_close(other, params.min_event_frames | 1, params.min_island_frames | 1) & heard
    h, o, op = (longest(m[inside]) for m in (heard, other, opened))
    info = (f"heard {h:3d} other {o:3d} opened {op:3d} active {int(active[inside].sum()):3d} "
            f"speech-best {int((best[inside] == 0).sum()):3d} voiced {int((~unvoiced[inside]).sum()):3d}")
    if h == 0:
        return "nothing heard", info
    if h < params.min_event_frames:
        return "heard too briefly (< opening)", info
    if o == 0:
        return "model/voicing: speech", info
    if op == 0:
        return ("decided non-speech too briefly (voiced/speech-best around)" if o < params.min_event_frames
                else "opening lost it"), info
    return "final rules (brief/tail) dropped it", info


def main(shared: Path, side: str, cfg) -> None:
    rng = np.random.default_rng(T.SEED)
    breath, speech = T.breathing_clips(shared / "breathing"), T.speech_clips()
    tr_b, te_b = [c for c in breath if c.train], [c for c in breath if not c.train]
    tr_s, te_s = [T.with_inner(c) for c in speech if c.train], [T.with_inner(c) for c in speech if not c.train]
    sn_tr, sn_te = T.breath_snippets(tr_b), T.breath_snippets(te_b)
    m_tr = mix_meta(tr_s, sn_tr, rng, 150)
    m_te = mix_meta(te_s, sn_te, rng, 150)
    mixes = m_tr if side == "train" else m_te
    for band in ("16k", "tel8k"):
        lost, falses = Counter(), Counter()
        hits = 0
        for i, m in enumerate(mixes):
            sig, rate = (m["x"], 16000) if band == "16k" else (T.telephone(m["x"]), 8000)
            _seen.clear()
            f = A.analyze_signal(sig, rate, cfg)
            args, kw = _seen[0]
            s, e = runs(f.sound == S.BREATH)
            ts, te = f.t[s], f.t[np.maximum(e - 1, 0)]
            a, b = m["iv"]
            over = (ts <= b) & (te >= a)
            inside = (f.t >= a) & (f.t < b)
            if over.any():
                hits += 1
                for j in np.flatnonzero(over):
                    if e[j] - s[j] < 15 and args[5] is not None:
                        print(f"{band} SHORT HIT {i:3d} {e[j] - s[j]:3d} fr {float(np.median(args[5][s[j]:e[j]])):5.1f} dB "
                              f"under the peak, speech-score lean "
                              f"{float(np.mean(args[2][s[j]:e[j], 0] - args[2][s[j]:e[j], 1:].max(axis=1))):5.2f}")
            else:
                why, info = stages(args, kw, inside)
                lost[why] += 1
                print(f"{band} MISS {i:3d} below {m['below']:4.1f} dB len {b - a:4.2f} s max "
                      f"{f.energy_db[inside].max():6.1f} dBFS: {why:45s} {info}")
            sp = f.sound == S.SPEECH
            for j in np.flatnonzero(~over):
                before = sp[max(0, s[j] - 10):s[j]].any()
                after = sp[e[j]:e[j] + 10].any()
                kind = ("within speech" if before and after else "after speech" if before
                        else "before speech" if after else "alone")
                length = e[j] - s[j]
                under = float(np.median(args[5][s[j]:e[j]])) if args[5] is not None else np.nan
                falses[kind] += 1
                print(f"{band} FALSE {i:3d} {m['who'][0][-22:]} / {m['who'][1][-22:]} at {ts[j]:5.2f} "
                      f"{length:3d} fr {kind:14s} {under:5.1f} dB under the peak, "
                      f"speech-score lean {float(np.mean(args[2][s[j]:e[j], 0] - args[2][s[j]:e[j], 1:].max(axis=1))):5.2f}")
        print(f"== {band}: {hits} hits; misses by stage {dict(lost)}; false by place {dict(falses)}", flush=True)


if __name__ == "__main__":
    given = {}
    for arg in sys.argv[3:]:
        key, value = arg.split("=")
        given[key] = (tuple(int(v) for v in value.split(",")) if "," in value
                      else float(value) if "." in value else int(value))
    base = A.WITH_SOUND_CLASS
    cfg = dataclasses.replace(base, sound=dataclasses.replace(base.sound, **given)) if given else base
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "train", cfg)
