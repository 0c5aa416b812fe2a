"""The health HTTP API and the *WhatsApp Health* page, as a FastAPI app Airflow mounts at ``/whatsapp``.

Kept out of :mod:`whatsapp.plugin`'s import path: schedulers and workers load the plugin too,
and only the API server needs FastAPI and Airflow's API security modules.
"""
