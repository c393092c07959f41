"""Each training-side mixed breath's miss and each false breath event, traced through the decisions.

    PYTHONPATH=. python research/mix33/trace.py capture <the shared data folder> CAPTURE.pkl
    PYTHONPATH=. python research/mix33/trace.py trace CAPTURE.pkl

``capture`` rebuilds the tool's training-side mixtures (``tools.train_sound_class --mixes 150
--figures-on train``: the same draws, research/breath3/mixed.py's ``mix_meta``), analyses each at
16 kHz and over the telephone band, and keeps what the analyzer hands ``sound_classes`` (audible,
voice activity, the model's scores, periodicity, dB under the peak, level / floor / peak) with the
final classes. Only the training side is built (its draws come first).

``trace`` runs the decisions again on the kept inputs, stage by stage, and says per missed breath
where its breath went (not heard, the model's other-than-speech decision, the opening, the tail or
brief rule, the cough label) and per false event what made it (the model's decision alone, the 8 kHz
mute rule, the voiced stretch after a breath, the lead), with its length, level under the peak,
periodicity, the model's mean scores, the speech around it. Counts by cause at the end.
"""
from __future__ import annotations

import pickle
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
import monitor.dsp.sound_class as S
from monitor.dsp.filters import columns_mean
from monitor.dsp.runs import open_then_close, runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "breath3"))

_real, _seen = A.sound_classes, []


def _capture(*args, **kw):
    _seen.append((args, kw))
    return _real(*args, **kw)


def capture(shared: Path, out: Path) -> None:
    A.sound_classes = _capture
    from tools import train_sound_class as T
    import mixed  # research/breath3: the tool's mixtures with their metadata (patches the analyzer too)
    mixed.A.sound_classes = _capture
    rng = np.random.default_rng(T.SEED)
    breath, speech = T.breathing_clips(shared / "breathing"), T.speech_clips()
    tr_b = [c for c in breath if c.train]
    tr_s = [T.with_inner(c) for c in speech if c.train]
    metas = mixed.mix_meta(tr_s, T.breath_snippets(tr_b), rng, 150)
    kept = []
    for m in metas:
        row = dict(iv=m["iv"], a_end=m["a_end"], b_start=m["b_start"], below=m["below"], who=m["who"], k=m["k"],
                   inner=m["inner"])
        for band in ("16k", "tel8k"):
            sig, rate = (m["x"], 16000) if band == "16k" else (T.telephone(m["x"]), 8000)
            _seen.clear()
            f = A.analyze_signal(sig, rate, A.WITH_SOUND_CLASS)
            assert len(_seen) == 1
            (audible, active, scores, strength, params, under, rate_), kw = _seen[0][0][:7], _seen[0][1]
            levels = _seen[0][0][7] if len(_seen[0][0]) > 7 else kw.get("levels")
            row[band] = dict(audible=audible, active=active, scores=scores, strength=strength, under=under,
                             rate=rate_, levels=levels, t=f.t, sound=f.sound, energy=f.energy_db)
        kept.append(row)
    with open(out, "wb") as fh:
        pickle.dump(kept, fh)


def stages(d, params: S.SoundClassParams):
    """The decisions of sound_classes, stage by stage (the same code, unrolled)."""
    audible, active, scores, strength, under = d["audible"], d["active"], d["scores"], d["strength"], d["under"]
    heard = audible | active
    smooth = columns_mean(scores, params.score_frames)
    smooth[:, 2] -= params.cough_margin
    best = smooth.argmax(axis=1)
    aperiodic, unvoiced = S._periodicity(strength, params)
    model = ((best > 0) | aperiodic) & heard & unvoiced
    other = model.copy()
    mute = params.mute_frames[d["rate"] != S.SPEC_RATE]
    muted = np.zeros_like(other)
    if mute and np.count_nonzero(heard > active):
        muted = S._mute(heard, active, mute, params.min_sound_frames) & unvoiced
        other |= muted
    opened = open_then_close(other, params.min_event_frames | 1, params.min_island_frames | 1) & heard
    dec, tail = S._decisions(opened, heard, active, strength, under, params, other)
    tail = np.zeros_like(dec) if tail is None else tail
    return dict(heard=heard, smooth=smooth, best=best, model=model, muted=muted, other=other, opened=opened,
                dec=dec, tail=tail, cough=S._cough_odds(smooth, opened, params) > 0)


def trace(path: Path, params: S.SoundClassParams | None = None, verbose: bool = True) -> dict:
    params = params or A.WITH_SOUND_CLASS.sound
    with open(path, "rb") as fh:
        kept = pickle.load(fh)
    totals = {}
    for band in ("16k", "tel8k"):
        hits = misses = false = 0
        why_miss, why_false = Counter(), Counter()
        for i, m in enumerate(kept):
            d = m[band]
            t, sound = d["t"], S.sound_classes(d["audible"], d["active"], d["scores"], d["strength"], params,
                                               d["under"], d["rate"], d["levels"])
            st = stages(d, params)
            a, b = m["iv"]
            inside = (t >= a) & (t < b)
            s, e = runs(sound == S.BREATH)
            ts, te = t[s], t[np.maximum(e - 1, 0)]
            over = (ts <= b) & (te >= a)
            up = d["under"]
            if over.any():
                hits += 1
            else:
                misses += 1
                n_in = inside.sum()
                heard, mod, opn, dec = (int(st[k][inside].sum()) for k in ("heard", "model", "opened", "dec"))
                tl, co = int((st["tail"] & inside).sum()), int((st["dec"] & st["cough"] & inside).sum())
                if heard < 8:
                    why = "not heard (under the audible gate)"
                elif co and co >= dec - tl - 2:
                    why = "taken for a cough"
                elif mod + int(st["muted"][inside].sum()) < 8:
                    why = "model: speech (no non-speech decision)"
                elif opn == 0:
                    why = "opening: non-speech decisions too brief"
                elif tl >= dec - 2:
                    why = "tail / brief rule made it silence"
                else:
                    why = "other"
                why_miss[why] += 1
                if verbose:
                    sm = st["smooth"][inside & st["heard"]]
                    print(f"{band} MISS {i:3d} {why:40s} below {m['below']:4.1f} dB len {b - a:4.2f} s "
                          f"frames {n_in} heard {heard} model {mod} muted {int(st['muted'][inside].sum())} "
                          f"opened {opn} dec {dec} tail {tl} active {int(d['active'][inside].sum())} "
                          f"under-peak min {up[inside].min():5.1f} dB strength {d['strength'][inside].mean():.2f} "
                          f"smooth sp/br/co(-m) {np.round(sm.mean(axis=0), 1) if len(sm) else '-'} "
                          f"snip {m['k']}")
            for j in np.flatnonzero(~over):
                false += 1
                seg = slice(s[j], e[j])
                L = e[j] - s[j]
                made = ("mute" if st["muted"][seg].any() and not st["model"][seg].any() else
                        "voiced-after" if not st["opened"][seg].any() else
                        "lead" if st["opened"][seg].sum() < L // 2 else "model")
                sp = np.flatnonzero(sound == S.SPEECH)
                before = s[j] - sp[sp < s[j]].max() if (sp < s[j]).any() else 999
                after = sp[sp >= e[j]].min() - e[j] + 1 if (sp >= e[j]).any() else 999
                where = ("in a" if te[j] < m["a_end"] else "in b" if ts[j] >= m["b_start"] else "pause")
                off, inner = (0.0, m["inner"][0]) if where == "in a" else (m["b_start"], m["inner"][1])
                own = where != "pause" and any(p <= te[j] - off and q >= ts[j] - off for p, q in inner)
                why_false[(made, "own" if own else where if where == "pause" else "speech")] += 1
                if verbose:
                    file = m["who"][0 if where == "in a" else 1].split("/")[-1]
                    print(f"{band} FALSE {i:3d} {made:12s} {'own breath-like' if own else where:15s} {file:42s} "
                          f"at {ts[j] - off:5.2f} s {L:3d} fr under-peak {up[seg].mean():5.1f} dB "
                          f"strength {d['strength'][seg].mean():.2f} active {d['active'][seg].mean():.2f} "
                          f"smooth sp/br/co(-m) {np.round(st['smooth'][seg].mean(axis=0), 1)} "
                          f"speech gap before {before} after {after} fr")
        totals[band] = (hits, misses, false)
        if verbose:
            print(f"== {band}: recall {100 * hits / (hits + misses):.1f} precision {100 * hits / max(hits + false, 1):.1f}"
                  f" ({hits} hits, {misses} misses, {false} false)")
            print("   misses by cause:", dict(why_miss))
            print("   false by cause:", dict(why_false))
    return totals


if __name__ == "__main__":
    if sys.argv[1] == "capture":
        capture(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        trace(Path(sys.argv[2]))
