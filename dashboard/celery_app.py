"""The Celery application for training jobs when ``REDIS_URL`` is set.

Start a worker with ``celery -A dashboard.worker worker`` (see the Procfile):
that module builds the Dash app, which registers the background callbacks
as Celery tasks on this app.
"""

from __future__ import annotations

from celery import Celery


def make_celery(redis_url: str) -> Celery:
    """Return a Celery app using ``redis_url`` as broker and result backend."""
    app = Celery("cnnviz", broker=redis_url, backend=redis_url)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        task_acks_late=False,
        worker_prefetch_multiplier=1,  # one training at a time per worker process
        result_expires=3600,
    )
    return app
