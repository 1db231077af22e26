"""Helpers shared by the tests and the benchmarks: real servers (gunicorn, redis-server) and an HTTP Dash client.

Nothing here is a test; benchmarks import only this package from tests/.
"""
