"""Scoring an archive of recorded calls on all cores or on a Dask cluster.

``inputs`` turns files, folders, globs and CSV manifests into :class:`~monitor.batch.inputs.CallJob`
objects; ``score`` is what a worker runs for one call (the ``replay`` pipeline, without a store);
``table`` makes the per-call row and writes the table (CSV or Parquet); ``ledger`` is the client's
store, which writes each scored call, its alerts and its ledger row in one transaction (so a batch
killed at any point resumes without losing or duplicating a call); ``runner`` drives the Dask
client: bounded submission, results streamed into the store as they complete, a progress bar.
``detection`` scores calls against labels of them (each call's first alerts after its onset, a set
of calls' figures: the project's evaluation scores its corpus with it too), and ``labels`` reads a
QA lead's labels file (``--labels``) and applies it to the batch's rows.
"""
