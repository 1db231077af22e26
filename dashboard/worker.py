"""Entry point of the Celery worker: ``celery -A dashboard.worker worker``.

Importing the app registers every background callback as a task on the
CeleryManager's Celery app, which this module exposes as ``celery_app``.
"""

from dashboard.app import app

celery_app = app._background_manager.handle  # the Celery app CeleryManager was built with
