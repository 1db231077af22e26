"""The Celery application for training jobs when ``REDIS_URL`` is set.

Start a worker with ``celery -A dashboard.training.worker worker`` (see the Procfile):
that module builds the Dash app, which registers the background callbacks
as Celery tasks on this app.

Timeouts are short on the web side (a Train press must learn within seconds that
Redis is gone, not hang), and tasks are acknowledged only when they finish, so a
worker that dies mid-job leaves its press queued for another worker. A press that
Redis itself loses (a restart without persistence) is reported by the page.
"""

from __future__ import annotations

from celery import Celery

CONNECT_SECONDS = 3  # to open a connection to Redis
SOCKET_SECONDS = 10  # for one reply from Redis
# A training press is acknowledged when its job ends; a job still unacknowledged this long
# is handed to another worker, so it must outlast the longest training the form allows.
VISIBILITY_SECONDS = 24 * 3600


def make_celery(redis_url: str) -> Celery:
    """Return a Celery app using ``redis_url`` as broker and result backend."""
    app = Celery("cnnviz", broker=redis_url, backend=redis_url)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=CONNECT_SECONDS,
        broker_transport_options={
            "socket_connect_timeout": CONNECT_SECONDS,
            "socket_timeout": SOCKET_SECONDS,
            "visibility_timeout": VISIBILITY_SECONDS,
        },
        # Publishing a press: two quick retries, then the page says the queue is unavailable.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        redis_socket_connect_timeout=CONNECT_SECONDS,
        redis_socket_timeout=SOCKET_SECONDS,
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        worker_prefetch_multiplier=1,  # one training at a time per worker process
        result_expires=3600,
    )
    return app
