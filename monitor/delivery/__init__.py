"""Delivery: the event store (SQLite with its outbox), the sinks (terminal, desktop notification,
webhook), the daemon's status socket and the supervisor's acknowledgements brought back (:mod:`.acks`)."""
