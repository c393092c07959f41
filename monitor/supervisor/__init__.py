"""The supervisor's console (``call-monitor supervisor``): every agent's alerts on one live page.

- :mod:`.store`: the console's own SQLite database (alerts de-duplicated by daemon, alert id and call start,
  acknowledgements, agents' heartbeats, call report links).
- :mod:`.auth`: the shared and per-agent tokens, compared in constant time, and the signed
  session cookie of the page.
- :mod:`.heartbeat`: what a heartbeat's status holds, as the page and the store read it, and the
  check that refuses one of another shape.
- :mod:`.acks`: which acknowledgements each daemon took, of those told back to it in the answers
  to its heartbeats (the daemon listens on no port; :mod:`monitor.delivery.acks` is the answer's shape).
- :mod:`.app`: the ASGI application (Starlette): the webhook the daemons post to, the page, its
  Server-Sent Events stream and the acknowledgements.
- :mod:`.limits`: how fast each agent may post (a token bucket per agent for its alerts, another for
  its heartbeats; 429 with ``Retry-After`` past it).
- :mod:`.connections`: uvicorn's HTTP/1.1 connections with a deadline for each request to arrive whole,
  at most ``max_connections`` served at once.

Only what an alert or a heartbeat needs is kept: no audio and no transcript ever reach the console
(an alert's evidence holds at most the distress phrase that fired).
"""
