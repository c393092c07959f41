"""Every syllable nucleus on the breathing and cough recordings (and on real speech), with what it looks like.

    PYTHONPATH=. python research/coughsyl/diag.py <the shared data folder> [train|test] [--speech] [--csv OUT] [syl.FIELD=VALUE ...]

``--speech``: the side's real speech files too, clean and over hum / babble / pink / white at 5-20 dB
(``train_sound_class.noisy_speech``, seed 99), for the rules' cost. ``syl.FIELD=VALUE``: a SyllableParams setting overridden (a float). ``--eval FOLDER KIND,...``: the callers of the evaluation corpus's tuning-half
calls of those kinds (their description's start: healthy, mild labored, elderly_quiet, ...), 16 and 8 kHz.

For each nucleus the analyzer finds (its own settings, whole-signal analysis): the recording, the
time, and

* ``p25`` / ``p95``: periodic frames (strength >= 0.45) within 250 / 950 ms each side;
* ``lean``: the model's vowel lean (``syllables._vowel_lean``: speech less the better of breath
  and cough, over the periodic frames within 250 ms), ``lc`` / ``lb`` the same against cough / breath alone;
* ``str``: the periodicity at the peak; ``smed``: its median within 100 ms each side;
* ``hgt``: intensity over the noise floor; ``under``: under the recording's trailing peak level;
* ``ev``: the audible sound (class not silence) holding the peak: its length (frames), the peak
  under the sound's loudest frame (``ev_under``), the sound's shares of speech / breath / cough;
* ``run``: the speech run holding the peak: its length, the peak's place in it, the class right
  before and after it;
* ``rise`` / ``fall``: dB the intensity rises over the 100 ms before the peak / falls over the 100 ms after;
* ``wid``: frames around the peak within 6 dB of it (the nucleus's duration);
* ``since_c`` / ``since_b``: frames since the last cough / breath frame before the peak (999: none within 1.3 s);
* the neighbourhood (``_around``; research/breathcompany): ``il6`` / ``il10`` the model's lean over the
  frames 6 / 10 dB over the floor and not periodic from 95 frames before the peak to 60 after (``ia..``
  how many; the company test's measure), and the class-based ``nl`` / ``nb`` / ``na`` / ``nv`` columns,
  ``prec`` / ``prec_max`` and ``pre_hgt``.
"""
from __future__ import annotations

import csv
import dataclasses
import sys
from pathlib import Path

import numpy as np

import monitor.analysis.analyzer as A
from monitor.dsp.runs import runs
from monitor.dsp.sound_class import BREATH, COUGH, SILENCE, SPEECH
from monitor.dsp.syllables import _vowel_lean
from tools import train_sound_class as T

_nuclei, _seen = A.nuclei, []


def _capture(intensity, voiced, speech, params, level_db=None, strength=None, scores=None, floor_db=None):
    out = _nuclei(intensity, voiced, speech, params, level_db, strength, scores, floor_db)
    _seen.append(dict(intensity=intensity, level=level_db, strength=strength, scores=scores, floor=floor_db))
    return out


A.nuclei = _capture
NAMES = {SPEECH: "S", BREATH: "B", COUGH: "C", SILENCE: "-"}


def lean_of(peaks, periodic, scores, against):
    """Mean speech score less ``against`` (columns) over the periodic frames within 25 each side."""
    s = scores.copy()
    s[:, 1:] = -np.inf
    for c in against:
        s[:, c] = scores[:, c]
    count = np.array([periodic[max(p - 25, 0):p + 26].sum() for p in peaks])
    return _vowel_lean(peaks, periodic, s, 25, count)


def rows_of(name: str, kind: str, x: np.ndarray, rate: int = 16000, cfg=None) -> list[dict]:
    _seen.clear()
    f = A.analyze_signal(x, rate, cfg or A.WITH_SOUND_CLASS)
    g = _seen[0]
    inten, strength, scores, floor, level = g["intensity"], g["strength"], g["scores"], g["floor"], g["level"]
    sound = f.sound
    n = len(sound)
    peaks = np.flatnonzero(f.nucleus)
    if not len(peaks):
        return []
    periodic = strength >= 0.45
    count = np.r_[0, np.cumsum(periodic)]
    p25 = count[np.minimum(peaks + 26, n)] - count[np.maximum(peaks - 25, 0)]
    p95 = count[np.minimum(peaks + 96, n)] - count[np.maximum(peaks - 95, 0)]
    lean = _vowel_lean(peaks, periodic, scores, 25, p25)
    lc = lean_of(peaks, periodic, scores, (2,))
    lb = lean_of(peaks, periodic, scores, (1,))
    ev_s, ev_e = runs(sound != SILENCE)
    sp_s, sp_e = runs(sound == SPEECH)
    out = []
    for i, p in enumerate(peaks):
        k = np.searchsorted(ev_s, p, "right") - 1
        es, ee = ev_s[k], ev_e[k]
        ev = sound[es:ee]
        j = np.searchsorted(sp_s, p, "right") - 1
        rs, re = sp_s[j], sp_e[j]
        lo = p
        while lo > 0 and inten[lo - 1] >= inten[p] - 6:
            lo -= 1
        hi = p
        while hi < n - 1 and inten[hi + 1] >= inten[p] - 6:
            hi += 1
        before = sound[max(p - 130, 0):p]
        cb = np.flatnonzero(before == COUGH)
        bb = np.flatnonzero(before == BREATH)
        out.append(dict(
            name=name, kind=kind, t=round(p * 0.01, 2), p25=int(p25[i]), p95=int(p95[i]),
            lean=round(float(lean[i]), 2), lc=round(float(lc[i]), 2), lb=round(float(lb[i]), 2),
            str=round(float(strength[p]), 2), smed=round(float(np.median(strength[max(p - 10, 0):p + 11])), 2),
            hgt=round(float(inten[p] - floor[p]), 1), under=round(float(level[p] - inten[p]), 1),
            ev_len=int(ee - es), ev_under=round(float(inten[es:ee].max() - inten[p]), 1),
            ev_S=round(float((ev == SPEECH).mean()), 2), ev_B=round(float((ev == BREATH).mean()), 2),
            ev_C=round(float((ev == COUGH).mean()), 2),
            run=int(re - rs), at=int(p - rs), pre=NAMES[int(sound[rs - 1])] if rs > 0 else "|",
            post=NAMES[int(sound[re])] if re < n else "|",
            rise=round(float(inten[p] - inten[max(p - 10, 0):p + 1].min()), 1),
            fall=round(float(inten[p] - inten[p:p + 11].min()), 1), wid=int(hi - lo + 1),
            since_c=int(len(before) - cb[-1]) if len(cb) else 999,
            since_b=int(len(before) - bb[-1]) if len(bb) else 999,
            **_around(p, sound, scores, periodic, inten, floor)))
    return out


def _around(p, sound, scores, periodic, inten, floor) -> dict:
    """Score-based neighbourhood of a peak (streaming-safe: scores and periodicity, not classes,
    except ``nbS*``, the class's own share for comparison): ``nb{L}_{R}`` the share of frames
    within L before and R after the peak, audible (sound not silence) and not periodic, where the
    model leans to speech; ``nl{L}_{R}`` their mean lean; ``na..`` how many they are;
    ``prec``: the mean of cough less speech over the 30-120 ms before the peak; ``prec_max`` its max;
    ``pre_hgt``: the intensity over the floor 150 ms before the peak."""
    n = len(sound)
    lean = scores[:, 0] - np.maximum(scores[:, 1], scores[:, 2])
    out = {}
    for lo, hi in ((30, 30), (60, 60), (95, 60)):
        s = slice(max(p - lo, 0), min(p + hi + 1, n))
        aud = (sound[s] != SILENCE) & ~periodic[s]
        k = int(aud.sum())
        out[f"na{lo}_{hi}"] = k
        out[f"nb{lo}_{hi}"] = round(float((lean[s][aud] >= 0).mean()), 2) if k else -1.0
        out[f"nl{lo}_{hi}"] = round(float(lean[s][aud].mean()), 2) if k else 9.0
        audv = sound[s] != SILENCE
        out[f"nv{lo}_{hi}"] = round(float((lean[s][audv] >= 0).mean()), 2) if audv.any() else -1.0
    s = slice(max(p - 95, 0), min(p + 61, n))
    for db in (6, 10):  # audible by the intensity over the floor (streaming-safe), not periodic
        aud = (inten[s] - floor[s] >= db) & ~periodic[s]
        k = int(aud.sum())
        out[f"ia{db}"] = k
        out[f"il{db}"] = round(float(lean[s][aud].mean()), 2) if k else 9.0
    s = slice(max(p - 12, 0), max(p - 3, 0))
    d = scores[s, 2] - scores[s, 0]
    out["prec"] = round(float(d.mean()), 2) if len(d) else -9.0
    out["prec_max"] = round(float(d.max()), 2) if len(d) else -9.0
    out["pre_hgt"] = round(float(inten[max(p - 15, 0)] - floor[max(p - 15, 0)]), 1)
    return out


def clips(shared: Path, side: str, speech: bool):
    train = side == "train"
    for c in T.breathing_clips(shared / "breathing"):
        if c.train == train and c.kind != "vowel-a":
            yield c
    if speech:
        sp = [c for c in T.speech_clips() if c.train == train]
        yield from sp
        rng = np.random.default_rng(99)
        for kind in ("hum50", "babble", "pink", "white"):
            for c, x in zip(sp, T.noisy_speech(sp, (kind,), (5.0, 20.0), rng)):
                yield T.Clip(c.name, "speech+" + kind, train, x)


def eval_calls(folder: Path, kinds: tuple[str, ...]):
    """The caller's channel of the evaluation corpus's tuning-half calls whose description starts
    with one of ``kinds``, at 16 and 8 kHz, as (name, kind, signal, rate)."""
    import json

    import soundfile as sf
    for label in sorted(folder.glob("*.json")):
        d = json.loads(label.read_text())
        kind = d["description"].split(" caller")[0].replace("hard negative: ", "")
        if d.get("split") != "tune" or not kind.startswith(kinds):
            continue
        for rate, file in d["files"].items():
            x, _ = sf.read(folder / file, dtype="float32")
            yield d["name"], f"eval {kind} {int(rate) // 1000}k", x[:, d["channels"]["caller"]], int(rate)


def main(argv: list[str]) -> None:
    shared, side = Path(argv[0]), argv[1] if len(argv) > 1 and not argv[1].startswith("-") else "train"
    speech = "--speech" in argv
    given = {a[4:].split("=")[0]: float(a.split("=")[1]) for a in argv if a.startswith("syl.")}
    base = A.WITH_SOUND_CLASS
    cfg = dataclasses.replace(base, syllables=dataclasses.replace(base.syllables, **given))
    rows = []
    for c in clips(shared, side, speech):
        rows.extend(rows_of(c.name, c.kind, c.x, cfg=cfg))
    if "--eval" in argv:  # FOLDER KIND,KIND,...
        folder, kinds = argv[argv.index("--eval") + 1], argv[argv.index("--eval") + 2]
        for name, kind, x, rate in eval_calls(Path(folder), tuple(kinds.split(","))):
            rows.extend(rows_of(name, kind, x, rate, cfg))
    if "--csv" in argv and rows:
        path = Path(argv[argv.index("--csv") + 1])
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    keys = list(rows[0])
    print(" ".join(f"{k:>7s}" for k in keys[1:]))
    for r in rows:
        if not r["kind"].startswith("speech"):
            print(f"{r['name'][:3]} " + " ".join(f"{str(r[k]):>7s}" for k in keys[1:]))


if __name__ == "__main__":
    main(sys.argv[1:])
