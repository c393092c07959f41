"""The errors of the SQLite store: a database that cannot be used, and one of a newer callmonitor.

Declared below the store's other modules (its files' checks, its schema, its rows), which all raise them.
"""

from __future__ import annotations


class StoreError(RuntimeError):
    """The database cannot be used; the message names the file and the problem."""


class SchemaTooNew(StoreError):
    """The database was written by a newer callmonitor: using it needs an upgrade, not a retry."""

