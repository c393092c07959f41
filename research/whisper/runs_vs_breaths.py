"""Whispered speech against real breaths: measures of the runs the sound class calls breath (research).

    PYTHONPATH=. python research/whisper/runs_vs_breaths.py CORPUS BREATHING [--calls id,id,...]
        [--pkl OUT.pkl] [--margin HEALTHY_CALLS]

Three kinds of run, each a run of frames (at least 0.15 s) the sound class calls BREATH, 16 kHz:

- ``whisper``: inside a labelled caller phrase of the tuning half's severe labored calls ``--calls``
  (speech the class takes for breath);
- ``inhalation``: inside a labelled caller inhalation of the same calls (real breaths of the corpus);
- ``deep`` / ``shallow``: anywhere in the breathing recordings (folder BREATHING with its
  ``manifest.csv``) of the training speakers s01-s16;
- with ``--margin``, every 16 kHz call of that folder of healthy calls: ``margin whisper`` (inside
  the caller's phrases), ``margin inhalation``, ``margin other`` (elsewhere in the caller's channel).

Per run: its length; ``mod``, the share of the run's frame-energy envelope (dB, mean removed)
power at 2-8 Hz; ``rough``, the share of its variance a quadratic (one rise and fall) leaves;
``flux``, the mean distance (dB rms) between the level-free log band spectra of frames 100 ms
apart; ``flux20``, the same 20 ms apart; ``flux_ratio``, flux / flux20 (change at the syllable's
scale against the frame-to-frame change a noise's spectrum shows anyway); ``peaks``, energy peaks (3 dB prominence, 50 ms smoothed)
per second; ``strength``, the median periodicity. Prints quantiles per kind and the best single
threshold of each measure (whisper against all real breaths), with its error rates both ways, and
the runs (and seconds) a few two-measure rules would take for speech (:data:`RULES`).
"""
from __future__ import annotations

import csv
import json
import pickle
import sys
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "white"))
from stages import caller_samples, stage_masks  # noqa: E402

from monitor.analysis import analyzer as an  # noqa: E402
from monitor.dsp.framing import frame_signal  # noqa: E402
from monitor.dsp.sound_class import BREATH  # noqa: E402
from tools import evaluate as ev  # noqa: E402
from tools.background_talk import inside  # noqa: E402
from tools.train_sound_class import TRAIN_SPEAKERS, load  # noqa: E402

CALLS = ("eval_1048", "eval_1066", "eval_1068", "eval_1084", "eval_1288", "eval_1306", "eval_1324",
         "eval_1326", "eval_1050", "eval_1086")
"""Severe labored tuning-half callers, the whispered ones (voiced share <= 8 %) first."""
MEASURES = ("dur", "mod", "rough", "flux", "flux20", "flux_ratio", "peaks", "strength")
RULES = (("dur > 0.6", lambda r: r["dur"] > 0.6),
         ("mod > 0.6", lambda r: r["mod"] > 0.6),
         ("mod > 0.6 & peaks >= 2", lambda r: r["mod"] > 0.6 and r["peaks"] >= 2),
         ("dur > 0.6 & mod > 0.6", lambda r: r["dur"] > 0.6 and r["mod"] > 0.6),
         ("dur > 0.6 & mod > 0.5", lambda r: r["dur"] > 0.6 and r["mod"] > 0.5),
         ("dur > 0.6 & peaks >= 2", lambda r: r["dur"] > 0.6 and r["peaks"] >= 2),
         ("flux_ratio > 1.4 & peaks >= 2", lambda r: r["flux_ratio"] > 1.4 and r["peaks"] >= 2))
RATE = 16000
MIN_FRAMES = 15
BANDS = np.geomspace(200.0, 4000.0, 19)


def run_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (frame indices, end exclusive) of the runs of True in ``mask`` (n,)."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def band_spectra(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Level-free log band spectra (dB, each frame's mean removed) of 25 ms Hann frames centred
    at the times ``t`` (n,). Shape (n, len(BANDS) - 1)."""
    half = 200
    xp = np.pad(x.astype(np.float64), (half, half + 400))
    fr = frame_signal(xp, 2 * half, RATE // 100, offset=int(round(t[0] * RATE)), count=len(t))
    p = np.abs(np.fft.rfft(fr * np.hanning(2 * half), axis=1)) ** 2
    f = np.fft.rfftfreq(2 * half, 1 / RATE)
    idx = np.searchsorted(f, BANDS)
    b = np.add.reduceat(p, idx[:-1], axis=1)[:, : len(BANDS) - 1]
    db = 10 * np.log10(b + 1e-12)
    return db - db.mean(axis=1, keepdims=True)


def run_measures(e: np.ndarray, spec: np.ndarray, strength: np.ndarray) -> dict[str, float]:
    """The measures of one run: frame energies ``e`` (k,) dB, spectra ``spec`` (k, bands),
    periodicity ``strength`` (k,)."""
    k = len(e)
    env = e - e.mean()
    pw = np.abs(np.fft.rfft(env, 256)) ** 2
    f = np.fft.rfftfreq(256, 0.01)
    mod = pw[(f >= 2) & (f <= 8)].sum() / max(pw[f > 0].sum(), 1e-12)
    x = np.linspace(-1, 1, k)
    resid = env - np.polyval(np.polyfit(x, env, 2), x)
    rough = resid.var() / max(env.var(), 1e-12)
    lag = min(10, k - 1)
    flux = np.sqrt(((spec[lag:] - spec[:-lag]) ** 2).mean(axis=1)).mean()
    flux20 = np.sqrt(((spec[2:] - spec[:-2]) ** 2).mean(axis=1)).mean()
    sm = np.convolve(e, np.ones(5) / 5, mode="same")
    peaks = len(find_peaks(sm, prominence=3.0)[0]) / (k / 100)
    return {"dur": k / 100, "mod": float(mod), "rough": float(rough), "flux": float(flux), "flux20": float(flux20),
            "flux_ratio": float(flux / flux20), "peaks": peaks, "strength": float(np.median(strength))}


def measured_runs(x: np.ndarray, region: np.ndarray | None, m: dict) -> list[dict[str, float]]:
    """Measures of each run of BREATH frames (at least MIN_FRAMES) within ``region`` (n,) bool."""
    mask = m["sound"] == BREATH
    if region is not None:
        mask &= region
    spec = band_spectra(x, m["t"])
    out = []
    for a, b in zip(*run_bounds(mask)):
        if b - a >= MIN_FRAMES:
            out.append(run_measures(m["e"][a:b], spec[a:b], m["strength"][a:b]) | {"start": a / 100})
    return out


def corpus_runs(corpus: str, split: str, calls: tuple[str, ...] | None, prefix: str = "") -> list[dict]:
    """Runs of the calls ``calls`` (all with None) of ``split``: inside the caller's labelled
    phrases (``whisper``), inside the labelled inhalations (``inhalation``) and, with a
    ``prefix``, anywhere outside the caller's phrases (``other``); kinds named ``prefix + kind``."""
    rows = []
    for job in ev.load_jobs(corpus, split, rates=(RATE,)):
        if calls is not None and job.id not in calls:
            continue
        label = json.loads(Path(job.path).with_name(f"{job.id}.json").read_text())
        x = caller_samples(job)
        m = stage_masks(x, job.rate, an.AnalyzerConfig())
        caller = [t for t in label["turns"] if t["speaker"] == "caller"]
        phrases = inside(m["t"], [(p["start_s"], p["end_s"]) for t in caller for p in t.get("phrases", [])], 0.0)
        inh = inside(m["t"], [(i["start_s"], i["end_s"]) for t in caller for i in t.get("inhalations", [])], 0.0)
        regions = {"whisper": phrases, "inhalation": inh} | ({"other": ~phrases & ~inh} if prefix else {})
        for kind, region in regions.items():
            rows += [r | {"kind": prefix + kind, "src": job.id} for r in measured_runs(x, region, m)]
    return rows


def recording_runs(folder: Path) -> list[dict]:
    rows = []
    for r in csv.DictReader((folder / "manifest.csv").open()):
        if r["speaker"] not in TRAIN_SPEAKERS or not r["kind"].startswith("breathing"):
            continue
        x = load(folder / r["file"])
        m = stage_masks(x, RATE, an.AnalyzerConfig())
        kind = r["kind"].split("-")[1]
        rows += [q | {"kind": kind, "src": r["file"]} for q in measured_runs(x, None, m)]
    return rows


def best_threshold(speech: np.ndarray, breath: np.ndarray) -> tuple[float, str, float, float]:
    """The threshold (and side: speech '>' or '<' it) with the least balanced error; returns
    (threshold, side, share of speech runs on the breath side, share of breath runs on the speech side)."""
    best = (np.inf, 0.0, ">", 1.0, 1.0)
    for c in np.unique(np.r_[speech, breath]):
        for side in (">", "<"):
            miss = np.mean(speech <= c) if side == ">" else np.mean(speech >= c)
            lost = np.mean(breath > c) if side == ">" else np.mean(breath < c)
            if miss + lost < best[0]:
                best = (miss + lost, float(c), side, float(miss), float(lost))
    return best[1:]


def report(rows: list[dict]) -> None:
    kinds = tuple(k for k in ("whisper", "inhalation", "deep", "shallow", "margin whisper", "margin inhalation",
                               "margin other") if any(r["kind"] == k for r in rows))
    by = {k: [r for r in rows if r["kind"] == k] for k in kinds}
    for k in kinds:
        d = np.array([r["dur"] for r in by[k]])
        print(f"{k:10s} runs {len(d):4d}  {d.sum():6.1f} s  from {len({r['src'] for r in by[k]})} sources")
    print("\nquantiles p10 / p50 / p90")
    for meas in MEASURES:
        print(f"{meas:8s} " + "  ".join(
            f"{k}: " + "/".join(f"{v:.2f}" for v in np.percentile([r[meas] for r in by[k]], [10, 50, 90]))
            for k in kinds if by[k]))
    breaths = by["inhalation"] + by["deep"] + by["shallow"]
    sp = {meas: np.array([r[meas] for r in by["whisper"]]) for meas in MEASURES}
    br = {meas: np.array([r[meas] for r in breaths]) for meas in MEASURES}
    print("\nbest single threshold, whisper runs against all real breath runs (balanced error)")
    for meas in MEASURES:
        c, side, miss, lost = best_threshold(sp[meas], br[meas])
        per = "  ".join(f"{k} {np.mean(np.array([r[meas] for r in by[k]]) > c if side == '>' else np.array([r[meas] for r in by[k]]) < c):.0%}"
                        for k in ("inhalation", "deep", "shallow"))
        print(f"{meas:8s} speech if {side} {c:7.3f}: whisper runs kept as breath {miss:.0%}, "
              f"breath runs taken for speech {lost:.0%} ({per})")


def held_out_logistic(rows: list[dict]) -> None:
    """A logistic regression on all measures, whisper against the real breaths (corpus and
    recordings), each source's runs scored by the model fitted without them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = [r for r in rows if r["kind"] in ("whisper", "inhalation", "deep", "shallow")]
    x = np.array([[r[m] for m in MEASURES] for r in rows])
    y = np.array([r["kind"] == "whisper" for r in rows])
    src = np.array([r["src"] for r in rows])
    p = np.zeros(len(rows))
    for s in np.unique(src):
        out = src == s
        model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
        p[out] = model.fit(x[~out], y[~out]).predict_proba(x[out])[:, 1]
    print("\nlogistic regression on all measures, leave one source out: share of runs taken for speech")
    for c in (0.5, 0.7, 0.8, 0.9):
        print(f"  p > {c}: " + "  ".join(f"{k} {np.mean(p[np.array([r['kind'] == k for r in rows])] > c):.0%}"
                                     for k in ("whisper", "inhalation", "deep", "shallow")))


def rules(rows: list[dict]) -> None:
    kinds = ("whisper", "inhalation", "deep", "shallow", "margin whisper", "margin inhalation", "margin other")
    print("\nruns (seconds) each rule takes for speech")
    for name, rule in RULES:
        cells = []
        for k in kinds:
            sel = [r for r in rows if r["kind"] == k]
            hit = [r for r in sel if rule(r)]
            cells.append(f"{k} {len(hit) / max(len(sel), 1):.0%} ({sum(r['dur'] for r in hit):.0f} of "
                         f"{sum(r['dur'] for r in sel):.0f} s)")
        print(f"{name:30s} " + "  ".join(cells))
    for name, rule in RULES[2:4]:
        print(f"\n{name}: whisper seconds taken / recovered per call; breath seconds lost per source")
        per: dict[str, list[float]] = {}
        for r in rows:
            if r["kind"] == "whisper":
                got = per.setdefault(r["src"], [0.0, 0.0])
                got[0] += r["dur"]
                got[1] += r["dur"] if rule(r) else 0.0
        print("  " + ", ".join(f"{s} {a:.1f}/{b:.1f}" for s, (a, b) in sorted(per.items())))
        lost = {r["src"]: 0.0 for r in rows}
        for r in rows:
            if r["kind"] != "whisper" and rule(r):
                lost[r["src"]] += r["dur"]
        print("  lost: " + (", ".join(f"{s} {v:.1f} s" for s, v in sorted(lost.items(), key=lambda x: -x[1]) if v)
                            or "none"))


def main() -> None:
    args = sys.argv[1:]
    corpus, breathing = args[0], Path(args[1])
    calls = tuple(args[args.index("--calls") + 1].split(",")) if "--calls" in args else CALLS
    rows = corpus_runs(corpus, "tune", calls) + recording_runs(breathing)
    if "--margin" in args:
        rows += corpus_runs(args[args.index("--margin") + 1], "all", None, "margin ")
    if "--pkl" in args:
        with open(args[args.index("--pkl") + 1], "wb") as fh:
            pickle.dump(rows, fh)
    report(rows)
    held_out_logistic(rows)
    rules(rows)


if __name__ == "__main__":
    main()
