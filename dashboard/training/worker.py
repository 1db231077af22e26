"""Entry point of the Celery worker: ``celery -A dashboard.training.worker worker`` (needs ``REDIS_URL``).

Importing the Dash app registers every background callback as a task on the
CeleryManager's Celery app, which this module exposes as ``app`` (the name
``celery -A`` looks up first) and ``celery_app``.
"""

from celery import Celery

from dashboard import app as dash_app_module

celery_app = dash_app_module.app._background_manager.handle  # the Celery app CeleryManager was built with
if not isinstance(celery_app, Celery):
    raise SystemExit("the Celery worker needs REDIS_URL set (without it the dashboard uses DiskcacheManager)")
app = celery_app
