"""The figures of a soak run (soak.py's samples.jsonl): CPU % of one core idle and in calls, RSS,
threads, open files, and the database and log growth per call."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
rows = [r for r in rows if r["daemon"]]


def kind(phase: str) -> str:
    return "idle" if phase.startswith(("idle", "gap")) else "call" if phase.startswith("c") else "start"


cpu: dict[str, list[float]] = {"idle": [], "call": [], "start": []}
for a, b in zip(rows, rows[1:]):
    if kind(a["phase"]) == kind(b["phase"]) or kind(b["phase"]) == "call":  # not the interval a call ends in
        cpu[kind(b["phase"])].append(100 * (b["daemon"]["cpu_s"] - a["daemon"]["cpu_s"]) / (b["t"] - a["t"]))
for k in ("idle", "call"):
    v = sorted(cpu[k])
    print(f"daemon CPU % of one core, {k}: median {v[len(v) // 2]:.1f}, range {v[0]:.1f}-{v[-1]:.1f} ({len(v)} intervals of {rows[2]['t'] - rows[1]['t']:.0f} s)")
calls = [r for r in rows if isinstance(r["rows"], dict) and r["rows"].get("calls")]
first, last = rows[1], rows[-1]
print(f"RSS MB: {first['daemon']['rss_mb']:.0f} idle before the first call, "
      f"{max(r['daemon']['rss_mb'] for r in rows):.0f} at most, {last['daemon']['rss_mb']:.0f} at the end")
for key in ("threads", "fds"):
    print(f"{key}: {min(r['daemon'][key] for r in rows[1:])}-{max(r['daemon'][key] for r in rows[1:])}")
n = calls[-1]["rows"]["calls"]
console = [r["console"]["rss_mb"] for r in rows if r["console"]]
print(f"{n} calls, {last['t'] / 60:.0f} min; stdout {last['out_bytes'] / n / 1024:.1f} KB/call, "
      f"stderr {last['err_bytes']} bytes in all; console RSS "
      + (f"{console[0]:.0f}->{max(console):.0f} MB" if console else "(no console)"))
print("rows at the end:", calls[-1]["rows"], calls[-1]["console_rows"])
