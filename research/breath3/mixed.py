"""What the missed and false breaths of the mixed-breath figure are (tools.train_sound_class's mixtures).

    PYTHONPATH=. python research/breath3/mixed.py <the shared data folder> [train|test] [KEY=VALUE ...]

Rebuilds the tool's mixtures (the same draws) with each one's breath level under the speech, its
length, the pauses each side and the two speakers, runs the analyzer at 16 kHz and over the telephone
band, and prints each miss (the class over the breath) and each false breath event (where it lies:
in the first or second utterance, in a pause, how long, its level under the peak). KEY=VALUE:
SoundClassParams overrides, as research/onset/fig.py.
"""
import dataclasses
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
from monitor.dsp.runs import runs
from monitor.dsp.sound_class import BREATH, COUGH, SPEECH
from tools import train_sound_class as T

_sound_classes, _seen = A.sound_classes, []


def _capture(*args, **kw):
    """The analyzer's sound_classes, its scores and strength kept (a whole signal: one call)."""
    _seen.append((args[2], args[3]))
    return _sound_classes(*args, **kw)


A.sound_classes = _capture


def mix_meta(speech, breaths, rng, count, gap_s=(0.25, 0.6), below_db=(10.0, 25.0), snr_db=(50.0, 50.0)):
    """tools.train_sound_class.mix with its defaults (white line), the same draws, and each mixture's
    (signal, breath interval, a end, b start, below_db, speakers, breath index)."""
    out = []
    for _ in range(count):
        pair = rng.choice(len(speech), 2, replace=False)
        a, b = (speech[j].x for j in pair)
        k = rng.integers(len(breaths))
        br = breaths[k]
        level = np.sqrt(np.mean(np.square(np.concatenate([a, b])))) + 1e-9
        below = rng.uniform(*below_db)
        br = br * (level * 10 ** (-below / 20) / (np.sqrt(np.mean(br ** 2)) + 1e-12))
        gap1, gap2 = (np.zeros(int(rng.uniform(*gap_s) * 16000), np.float32) for _ in range(2))
        x = np.concatenate([a, gap1, br, gap2, b]).astype(np.float32)
        gain = level * 10 ** (-rng.uniform(*snr_db) / 20)
        x += (gain * T.line_noise("white", len(x), rng, [])).astype(np.float32)
        t0, t1 = (len(a) + len(gap1)) / 16000, (len(a) + len(gap1) + len(br)) / 16000
        out.append(dict(x=x, iv=(t0, t1), a_end=len(a) / 16000, b_start=t1 + len(gap2) / 16000, below=below,
                        who=(speech[pair[0]].name, speech[pair[1]].name), k=int(k),
                        inner=(speech[pair[0]].inner, speech[pair[1]].inner)))
    return out


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
        hits = misses = false = 0
        kinds = Counter()
        for i, m in enumerate(mixes):
            sig, rate = (m["x"], 16000) if band == "16k" else (T.telephone(m["x"]), 8000)
            _seen.clear()
            f = A.analyze_signal(sig, rate, cfg)
            scores, strength = _seen[0]
            s, e = runs(f.sound == BREATH)
            ts, te = f.t[s], f.t[np.maximum(e - 1, 0)]
            a, b = m["iv"]
            over = (ts <= b) & (te >= a)
            inside = (f.t >= a) & (f.t < b)
            cls = np.bincount(f.sound[inside], minlength=4) / max(inside.sum(), 1)
            lvl = f.energy_db[inside]
            if over.any():
                hits += 1
            else:
                misses += 1
                print(f"{band} MISS mix {i:3d} {m['who']} snip {m['k']:3d} below {m['below']:4.1f} dB "
                      f"len {b - a:4.2f} s  class sil/sp/br/co {np.round(cls, 2)} level max {lvl.max():6.1f} "
                      f"mean {lvl.mean():6.1f} dBFS strength {strength[inside].mean():.2f} "
                      f"scores sp/br/co {np.round(scores[inside].mean(axis=0), 1)}")
            for j in np.flatnonzero(~over):
                where = ("in a" if te[j] < m["a_end"] else "in b" if ts[j] >= m["b_start"] else
                         "pause before" if te[j] < a else "pause after" if ts[j] > b else "?")
                seg = slice(s[j], e[j])
                off, inner = (0.0, m["inner"][0]) if where == "in a" else (m["b_start"], m["inner"][1])
                if where in ("in a", "in b") and any(p <= te[j] - off and q >= ts[j] - off for p, q in inner):
                    where += " (on a breath-like sound of the speech)"
                kinds[where] += 1
                false += 1
                print(f"{band} FALSE mix {i:3d} {m['who']} {where:12s} at {ts[j]:5.2f}-{te[j]:5.2f} "
                      f"({e[j] - s[j]:3d} fr) a_end {m['a_end']:5.2f} b_start {m['b_start']:5.2f} breath {a:5.2f}-{b:5.2f} "
                      f"level {f.energy_db[seg].mean():6.1f} dBFS strength {strength[seg].mean():.2f} "
                      f"scores sp/br/co {np.round(scores[seg].mean(axis=0), 1)}")
        print(f"== {band}: recall {100 * hits / (hits + misses):.1f} precision {100 * hits / max(hits + false, 1):.1f} "
              f"({hits} hits, {misses} misses, {false} false) false by place {dict(kinds)}", flush=True)


if __name__ == "__main__":
    given = {}
    for arg in sys.argv[3:]:
        key, value = arg.split("=")
        given[key] = (tuple(int(v) for v in value.split(",")) if "," in value
                      else float(value) if "." in value else int(value))
    base = A.WITH_SOUND_CLASS
    cfg = dataclasses.replace(base, sound=dataclasses.replace(base.sound, **given)) if given else base
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "train", cfg)
