"""Delivery: the event store (SQLite with its outbox), the sinks (terminal, desktop notification,\nwebhook), the daemon's status socket, and the supervisor's acknowledgements the webhook's heartbeat
brings back (:mod:`.acks`)."""
