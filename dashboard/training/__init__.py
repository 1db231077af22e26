"""Training from the browser: the job API, the detached supervisor, the background-callback manager,
Celery and the Train form."""
