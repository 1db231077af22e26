"""``python -m dashboard``: what its console says (help, start-up, Ctrl+C, a taken port)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

from tests.conftest import ROOT, subprocess_env
from tests.support.servers import free_port, wait_for_http


def dashboard(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dashboard", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def test_help_is_plain_text():
    process = dashboard("--help", env=subprocess_env())
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "`" not in output and "--no-demo" in output
    assert "usage: python -m dashboard" in output


def test_start_up_announces_the_url_once_and_explains_the_server(tiny_store, tmp_path):
    port = free_port()
    env = subprocess_env(PORT=str(port), CNNVIZ_STORE=str(tiny_store), CNNVIZ_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("REDIS_URL", None)
    process = dashboard("--no-demo", env=env)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=120, process=process)
        wait_for_http(f"http://127.0.0.1:{port}/training", timeout=30, process=process)
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl+C sends
        output, _ = process.communicate(timeout=30)
    assert output.count(f"http://127.0.0.1:{port}") == 1, output
    assert f"Dashboard at http://127.0.0.1:{port}/" in output
    assert "development server, for one user on this machine" in output and "Procfile" in output
    assert "Traceback" not in output, output
    assert process.returncode == 0, output


def test_a_taken_port_gets_one_line(tiny_store, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = subprocess_env(PORT=str(port), CNNVIZ_STORE=str(tiny_store), CNNVIZ_CACHE_DIR=str(tmp_path / "cache"))
        env.pop("REDIS_URL", None)
        process = dashboard("--no-demo", env=env)
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 1, output
    assert "Traceback" not in output, output
    assert f"Port {port} is in use" in output.strip().splitlines()[-1]
