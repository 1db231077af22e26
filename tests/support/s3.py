"""A real S3-compatible server for tests: moto's standalone server on loopback, one per test session.

``s3_server`` (session fixture) starts ``python -m moto.server``, points the standard AWS
variables at it in this process (children inherit them through ``subprocess_env``), creates
:data:`BUCKET`, and yields an :class:`S3Server`; its access log counts the requests the store made.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import free_port, wait_for_http

BUCKET = "cnnviz-tests"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
# Werkzeug's access log line; it colours some answers (206, 404) with terminal escapes.
_REQUEST = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|HEAD|PUT|POST|DELETE) (/[^ ]*) HTTP')


@dataclass
class S3Server:
    """A running moto server: its endpoint, the variables that reach it, and its access log."""

    endpoint: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen

    def url(self, prefix: str | None = None) -> str:
        """Return ``s3://BUCKET/prefix`` for a fresh (or the given) prefix."""
        return f"s3://{BUCKET}/{prefix or 'store-' + uuid.uuid4().hex[:12]}"

    def requests(self, method: str, contains: str = "") -> int:
        """Count the requests of ``method`` (GET, HEAD...) the server logged whose path holds ``contains``.

        The server logs a request just after answering it: wait until the log stops growing.
        """
        size = -1
        while size != self.log.stat().st_size:
            size = self.log.stat().st_size
            time.sleep(0.3)
        text = self.log.read_text(errors="replace")
        return sum(1 for verb, path in _REQUEST.findall(text) if verb == method and contains in path)


def start_moto(folder: Path, timeout: float = 60) -> S3Server:
    """Start ``python -m moto.server`` on a free loopback port and create :data:`BUCKET` on it.

    Raises:
        RuntimeError: it did not answer within ``timeout`` seconds.
    """
    port = free_port()
    log = folder / "moto.log"
    handle = open(log, "wb")  # noqa: SIM115 - the server writes to it for the whole session
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(endpoint + "/moto-api/", timeout, process)
    except RuntimeError:
        process.kill()
        raise
    env = dict(AWS_ENV, AWS_ENDPOINT_URL=endpoint)
    import boto3

    boto3.client("s3", endpoint_url=endpoint, **_client_args(env)).create_bucket(Bucket=BUCKET)
    return S3Server(endpoint, env, log, process)


def _client_args(env: dict[str, str]) -> dict[str, str]:
    return {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
            "region_name": env["AWS_DEFAULT_REGION"]}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """A moto S3 server for the whole session, with the AWS variables set in this process."""
    from tests.conftest import require

    require(importlib.util.find_spec("moto") is not None and importlib.util.find_spec("flask_cors") is not None,
            "moto[server] is not installed (pip install -e '.[dev]')")
    server = start_moto(tmp_path_factory.mktemp("moto"))
    saved = {name: os.environ.get(name) for name in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.process.kill()
        server.process.wait(timeout=10)
