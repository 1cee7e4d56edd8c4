"""The score log: every model's scores as Parquet files, one per (batch, attempt, chunk, role,
model version), written beside the other outputs and read through DuckDB.

The ledger is its manifest: a batch's files are listed in its ``outputs`` when it commits, and a
reader reads only the files committed batches list, so an attempt that crashed, or a batch
rejected after some chunks scored, is never read. ``files`` writes, ``read`` reads, ``migrate``
moves the rows of the SQL table older versions kept.
"""
