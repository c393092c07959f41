"""What a critical on the articulation rate alone (slowing held 8 s past a threshold) would add to
main's criticals within 30 s of the onset, and which healthy files it would make critical (tuning
half). Usage: python research/ioi/union.py TUNE.pkl MAIN_TUNE.json (measure.py --out; tools.evaluate --json)."""
import json, pickle, sys, numpy as np
sys.path.insert(0, '.')
from numpy.lib.stride_tricks import sliding_window_view
from research.ioi.measure import slowing
files = pickle.load(open(sys.argv[1], 'rb'))
main = {(f['id'], f['rate']): f for f in json.load(open(sys.argv[2]))['files']}
def first_cross(t, s, thr, n=8, start=0.0):
    x = np.where(np.isfinite(s), s, -np.inf)
    if len(x) < n: return None
    m = sliding_window_view(x, n).min(axis=1)  # value held over hops i..i+n-1, known at hop i+n-1
    ok = np.nonzero((m > thr) & (t[n-1:] >= start))[0]
    return float(t[n-1:][ok[0]]) if len(ok) else None
for meas in ('art', 'ioi', 'art&ioi'):
  for thr in (0.26, 0.28, 0.30, 0.33, 0.36, 0.40):
    new, fa, tempo_new = [], [], []
    for d in files:
        s, _ = slowing(d); t = d['t']
        hit = first_cross(t, s[meas], thr)
        if d['forbid']:
            if hit is not None: fa.append((d['id'], d['rate']))
            continue
        if hit is None or hit < d['onset_s']: continue
        ttc_new = hit - d['onset_s']
        m = main[(d['id'], d['rate'])]['time_to_critical_s']
        if ttc_new <= 30 and (m is None or m > 30):
            new.append((d['id'], d['rate'], d['condition']['degrade'], round(ttc_new,1)))
    print(meas, thr, 'FA', len(fa), fa[:4], 'new det@30', len(new), new)
