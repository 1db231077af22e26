"""The background-callback manager: Diskcache on one machine, Celery when REDIS_URL is set."""

from __future__ import annotations

from dashboard.settings import Settings


def make_manager(settings: Settings):
    """Return a Dash background callback manager for ``settings``.

    ``CeleryManager`` (Redis broker and result backend) when ``settings.redis_url``
    is set, else ``DiskcacheManager`` in ``settings.cache_dir``.
    """
    if settings.redis_url:
        from dash import CeleryManager

        from dashboard.celery_app import make_celery

        return CeleryManager(make_celery(settings.redis_url))
    import diskcache
    from dash import DiskcacheManager

    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(settings.cache_dir)))
