"""Pure domain rules: no Airflow, no HTTP, no SQL.

Everything the DAGs decide about a phone number lives here so it can be table-tested
on the JSON Graph actually returns.
"""
