"""Delivery: the event store (SQLite with its outbox), the sinks (terminal, desktop notification,\nwebhook) and the daemon's status socket."""
