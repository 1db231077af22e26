"""Start real servers for tests: gunicorn exactly as the Procfile says, on a free loopback port."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(port: int, folder: Path, timeout: float = 10) -> subprocess.Popen:
    """Start a real ``redis-server`` on 127.0.0.1:``port`` (no persistence) and wait until it accepts connections.

    Raises:
        RuntimeError: it did not accept connections within ``timeout`` seconds.
    """
    import shutil

    process = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                                "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")


def procfile_command(process: str) -> str:
    """Return the command of ``process`` (``web``, ``worker``) in the Procfile."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == process:
            return command.strip()
    raise LookupError(f"no {process!r} process in the Procfile")


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; raise RuntimeError after ``timeout`` s or if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def procfile_web(env: dict[str, str], log_path: Path, timeout: float = 60, cwd: Path = ROOT) -> Iterator[str]:
    """Run the Procfile's ``web`` line under bash with ``PORT`` set on loopback; yield its base URL.

    The line binds 0.0.0.0:$PORT as a PaaS wants; tests reach it on 127.0.0.1 only. ``cwd``: its
    working folder (the checkout must then be on ``PYTHONPATH``).
    """
    port = free_port()
    child_env = dict(env)
    child_env["PORT"] = str(port)
    child_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), child_env.get("PATH", "")])
    command = procfile_command("web")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=child_env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(base + "/healthz", timeout, process)
            yield base
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def quoted(command: list[str]) -> str:
    """Return a shell-quoted command line (for messages)."""
    return " ".join(shlex.quote(part) for part in command)
