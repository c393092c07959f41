"""Every sample of a soak run (soak.py's samples.jsonl) on one line: CPU % since the last, RSS, threads, files, rows."""
import json, sys
prev = None
for l in open(sys.argv[1]):
    r = json.loads(l); d = r['daemon'] or {}; c = r['console'] or {}
    s = r['status'] if isinstance(r['status'], dict) else {}
    cpu = ''
    if prev and d and prev['daemon']:
        cpu = f"{100*(d['cpu_s']-prev['daemon']['cpu_s'])/(r['t']-prev['t']):5.1f}%"
    rows = r['rows'] if isinstance(r['rows'], str) else {k: v for k, v in r['rows'].items() if v and k not in ('meta', 'sqlite_sequence')}
    wh = s.get('webhook') or {}
    print(r['clock'], f"{r['t']:6.0f}", f"{r['phase']:22}", cpu, d.get('cpu_s'), round(d.get('rss_mb', 0)), d.get('threads'), d.get('fds'),
          '| con', c.get('cpu_s'), round(c.get('rss_mb', 0)), c.get('threads'), c.get('fds'), '|', r['db_bytes'], r['out_bytes'], r['err_bytes'],
          rows, r['console_rows'] if isinstance(r['console_rows'], str) else r['console_rows'].get('alerts'),
          'pend', (s.get('webhook') or {}).get('pending') if s else (r['status'][:80] if isinstance(r['status'], str) else None), 'calls', s.get('calls'), 'call', (s.get('call') or {}).get('call_id') if s else None)
    prev = r
