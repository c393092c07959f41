"""Decision variants scored on the captured training-side mixtures (trace.py capture), no analyzer run.

    PYTHONPATH=. python research/mix33/variants.py CAPTURE.pkl            # every variant
    PYTHONPATH=. python research/mix33/variants.py CAPTURE.pkl diff inside_words max_frames=40 gap=2 flank_frames=10

Each variant is a function with sound_classes' signature; the counts are the tool's (a hit: a breath
event overlapping the mixed breath; false: every breath event overlapping none).
"""
from __future__ import annotations

import dataclasses
import pickle
import sys
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
import monitor.dsp.sound_class as S
from monitor.dsp.runs import apart_runs_to_mask, open_then_close, runs


def faint_mute(audible, active, scores, strength, params, under_peak_db=None, rate=16000, levels=None,
               reach=None, gate=None, min_frames=None, max_speech_lean=None):
    """sound_classes with, at 8 kHz, the mute rule over the faint sounds too: a faint sound (the lead's
    gate, or ``gate`` = (dB under the peak, dBFS)) that the voice activity never touches within
    ``reach`` frames each side, at least ``min_frames`` of it, is heard by the decisions (not by the
    model's input) and is no speech."""
    mute = params.mute_frames[rate != S.SPEC_RATE]
    if not mute or levels is None:
        return S.sound_classes(audible, active, scores, strength, params, under_peak_db, rate, levels)
    reach = reach or mute
    p = params if gate is None else dataclasses.replace(params, lead_below_peak_db=gate[0], lead_min_db=gate[1])
    faint = S.faint_sounds(*levels, p)
    wide = faint | audible | active
    quiet = S._mute(wide, active, reach, min_frames or params.min_sound_frames) & ~(audible | active)
    if max_speech_lean is not None and np.count_nonzero(quiet):
        sm = S.columns_mean(scores, params.score_frames)
        means, _ = S.event_means(quiet, (sm[:, 0] - np.maximum(sm[:, 1], sm[:, 2]))[:, None], 35)
        quiet &= means[:, 0] <= max_speech_lean
    return S.sound_classes(audible | quiet, active, scores, strength, params, under_peak_db, rate, levels)


def score(kept, fn, **kw):
    out = {}
    for band in ("16k", "tel8k"):
        h = f = 0
        for m in kept:
            d = m[band]
            sound = fn(d["audible"], d["active"], d["scores"], d["strength"], A.WITH_SOUND_CLASS.sound, d["under"],
                       d["rate"], d["levels"], **kw)
            t = d["t"]
            s, e = runs(sound == S.BREATH)
            ts, te = t[s], t[np.maximum(e - 1, 0)]
            a, b = m["iv"]
            over = (ts <= b) & (te >= a)
            h += bool(over.any())
            f += int((~over).sum())
        out[band] = (h, 150 - h, f)
    return out


def show(name, r):
    print(f"{name:50s} " + "  ".join(f"{b}: {h} hits {f} false ({100 * h / 150:.1f} / {100 * h / max(h + f, 1):.1f} %)"
                                       for b, (h, _, f) in r.items()), flush=True)


def inside_words(audible, active, scores, strength, params, under_peak_db=None, rate=16000, levels=None,
                 max_frames=40, gap=2, active_share=0.9, flank_frames=0):
    """sound_classes, then a breath or cough shorter than ``max_frames`` with speech within ``gap``
    frames before and after it and voice activity over ``active_share`` of it is silence: a sound
    inside running speech (a word's fricative), not a breath."""
    sound = S.sound_classes(audible, active, scores, strength, params, under_peak_db, rate, levels)
    n = len(sound)
    s, e = runs((sound == S.BREATH) | (sound == S.COUGH))
    if not len(s):
        return sound
    sp = np.concatenate([[0], np.cumsum(sound == S.SPEECH)])
    act = np.concatenate([[0], np.cumsum(active)])
    keep = ((e - s < max_frames) & (sp[s] - sp[np.maximum(s - gap, 0)] > 0)
            & (sp[np.minimum(e + gap, n)] - sp[e] > 0) & (act[e] - act[s] >= active_share * (e - s)))
    if flank_frames:  # the speech each side is a run of at least flank_frames (a phrase, not the breath's own voice)
        ss, se = runs(sound == S.SPEECH)
        ss, se = ss[se - ss >= flank_frames], se[se - ss >= flank_frames]
        long = np.zeros(n + 1, np.int32)
        long[1:] = np.cumsum(apart_runs_to_mask(ss, se, n))
        keep &= (long[s] - long[np.maximum(s - gap, 0)] > 0) & (long[np.minimum(e + gap, n)] - long[e] > 0)
    out = sound.copy()
    out[apart_runs_to_mask(s[keep], e[keep], n)] = S.SILENCE
    return out


def own_start_any(audible, active, scores, strength, params, under_peak_db=None, rate=16000, levels=None,
                  frames=None):
    """sound_classes with the sound's own start not needing a frame decided non-speech: any speech run
    shorter than ``frames`` (own_start_frames) right before the sound, with no other speech within
    tail_gap_frames before it, is the sound's own start (a phrase is longer), so the sound is no tail."""
    real = S._own_start

    def own(s, speech, decided, p):
        return real(s, speech, np.ones_like(decided), dataclasses.replace(p, own_start_frames=frames or p.own_start_frames))
    S._own_start = own
    try:
        return S.sound_classes(audible, active, scores, strength, params, under_peak_db, rate, levels)
    finally:
        S._own_start = real


def with_params(**over):
    """sound_classes with SoundClassParams fields overridden."""
    p = dataclasses.replace(A.WITH_SOUND_CLASS.sound, **over)
    return lambda a, ac, sc, st, _p, up, r, lv: S.sound_classes(a, ac, sc, st, p, up, r, lv)


SWEEP = ([dict(own_start_frames=v) for v in (12, 15, 20, 25)] + [dict(tail_frames=v) for v in (15, 20, 30)]
         + [dict(tail_gap_frames=v) for v in (5, 7, 15)] + [dict(min_sound_frames=v) for v in (15, 25)]
         + [dict(min_event_frames=v) for v in (11, 13, 17)] + [dict(min_island_frames=v) for v in (5, 7, 11, 15)]
         + [dict(score_frames=v) for v in (5, 9, 11)] + [dict(cough_margin=v) for v in (0.75, 1.5, 2.0)]
         + [dict(label_reach_frames=v) for v in (20, 50)] + [dict(mute_frames=(v, 0)) for v in (10, 30)]
         + [dict(min_speech_strength=v) for v in (0.25, 0.35, 0.4)] + [dict(voiced_share=v) for v in (0.8, 0.95)]
         + [dict(voiced_strength=v) for v in (0.5, 0.7)] + [dict(lead_frames=0)] + [dict(voiced_after_frames=0)]
         + [dict(mid_pause_under_peak_db=v) for v in (30.0, 40.0)] + [dict(max_flanked_frames=v) for v in (20, 35)])


def events(kept, fn):
    """Every breath event per (band, mixture, start, end): whether it is a hit."""
    out = {}
    for band in ("16k", "tel8k"):
        for i, m in enumerate(kept):
            d = m[band]
            sound = fn(d["audible"], d["active"], d["scores"], d["strength"], A.WITH_SOUND_CLASS.sound, d["under"],
                       d["rate"], d["levels"])
            t, (a, b) = d["t"], m["iv"]
            s, e = runs(sound == S.BREATH)
            for j in range(len(s)):
                out[(band, i, s[j], e[j])] = bool(t[s[j]] <= b and t[e[j] - 1] >= a)
    return out


if __name__ == "__main__":
    # variants.py CAPTURE.pkl [all | diff FUNCTION KEY=VALUE ...]
    import functools
    with open(sys.argv[1], "rb") as fh:
        kept = pickle.load(fh)
    if len(sys.argv) > 2 and sys.argv[2] == "diff":
        kw = {k: (float(v) if "." in v else int(v)) for k, v in (x.split("=") for x in sys.argv[4:])}
        b0 = events(kept, lambda *a: S.sound_classes(*a))
        b1 = events(kept, functools.partial(globals()[sys.argv[3]], **kw))
        for k in sorted(set(b0) | set(b1)):
            if (k in b0) != (k in b1):
                band, i, s, e = k
                m = kept[i]
                print("GONE" if k in b0 else "NEW ", band, i, s, e, e - s, "hit" if (b0.get(k) or b1.get(k)) else "false",
                      *(w.split("/")[-1] for w in m["who"]), "breath %.2f-%.2f" % m["iv"], "t %.2f" % m[band]["t"][s])
        raise SystemExit
    show("main", score(kept, lambda *a, **k: S.sound_classes(*a[:8])))
    for g in SWEEP:
        show(str(g), score(kept, with_params(**g)))
    for gate in ((55.0, -75.0), (55.0, -70.0), (50.0, -70.0), (60.0, -80.0)):
        for mf in (20, 30):
            show(f"faint mute gate {gate} min {mf}", score(kept, faint_mute, gate=gate, min_frames=mf))
    for gate in ((60.0, -80.0), (55.0, -75.0)):
        for lean in (0.0, -1.0, -2.0):
            show(f"faint mute {gate} min 20 lean<={lean}", score(kept, faint_mute, gate=gate, min_frames=20,
                                                                    max_speech_lean=lean))
    for mf in (40, 60):
        for gap in (1, 2, 5, 11):
            for sh in (0.0, 0.5, 0.9):
                show(f"inside words <{mf} gap {gap} active {sh}", score(kept, inside_words, max_frames=mf, gap=gap,
                                                                        active_share=sh))
            for fl in (10, 20, 30):
                show(f"inside words <{mf} gap {gap} flank {fl}", score(kept, inside_words, max_frames=mf, gap=gap,
                                                                       active_share=0.0, flank_frames=fl))
    for fr in (5, 7, 9, 12):
        show(f"own start any < {fr}", score(kept, own_start_any, frames=fr))
