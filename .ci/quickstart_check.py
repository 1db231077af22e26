"""CI: run the README Quickstart's first command as written, in a fresh clone, and check what a new user sees.

Usage: ``python3 .ci/quickstart_check.py [CHECKOUT]`` (default: the checkout this file is in).
Standard library only: it runs before anything is installed. With ``QUICKSTART_LOG`` set, the
command's console output is copied to that file, passed or failed.

Steps: clone CHECKOUT's HEAD into a temporary folder; run the command there under bash with
``PORT`` set to a free port and an empty store; wait for ``/healthz`` (the command installs
the runtime and trains the demo run first); then every page the navbar links to must answer
200 and render through the pages router without an error, the store must hold a complete
run, and the console must announce the URL once and show no ``Traceback``. The server's
process group is stopped either way. Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT = 15 * 60  # seconds: a runtime install (TensorFlow) and the demo run come first
REQUEST_TIMEOUT = 60  # seconds per page: the first render of a page may load a run from disk
ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."
# Variables that would point the fresh clone at someone else's store, cache, Redis or code.
UNSET = ("PYTHONPATH", "REDIS_URL", "CNNVIZ_STORE", "CNNVIZ_CACHE_DIR", "CNNVIZ_BASIC_AUTH", "CNNVIZ_DEBUG",
         "CNNVIZ_ALLOW_TRAINING", "HOST", "VIRTUAL_ENV")


class CheckFailed(Exception):
    """One check did not pass; the message says which and why."""


def quickstart_command(readme: Path, line: int) -> str:
    """Return line ``line`` (1-based, blank lines skipped) of the first bash block under "## Quickstart".

    Raises:
        CheckFailed: there is no such line.
    """
    lines, section, block = [], False, False
    for text in readme.read_text(encoding="utf-8").splitlines():
        if text.startswith("## Quickstart"):
            section = True
        elif section and not block and text.startswith("```bash"):
            block = True
        elif block and text.startswith("```"):
            break
        elif block and text.strip():
            lines.append(text)
    if len(lines) < line:
        raise CheckFailed(f"README.md has no line {line} in the Quickstart's bash block")
    return lines[line - 1]


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, data: bytes | None = None, timeout: float = REQUEST_TIMEOUT) -> tuple[int, bytes]:
    """GET (or POST ``data`` as JSON) ``url``; return (status, body). HTTP errors are returned, not raised."""
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for_health(base: str, process: subprocess.Popen, log: Path) -> dict:
    """Poll ``/healthz`` until it answers 200; return its JSON.

    Raises:
        CheckFailed: the command exited first, or nothing answered within START_TIMEOUT.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"the command exited with status {process.returncode} before serving\n{tail(log)}")
        try:
            status, body = fetch(base + "/healthz", timeout=5)
            if status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(2)
    raise CheckFailed(f"/healthz did not answer within {START_TIMEOUT} s\n{tail(log)}")


def nav_paths(base: str) -> list[str]:
    """Return the paths the navbar links to (one per registered page), from the app's own layout.

    Raises:
        CheckFailed: the layout does not answer or has no page links.
    """
    status, body = fetch(base + "/_dash-layout")
    if status != 200:
        raise CheckFailed(f"/_dash-layout answered {status}")
    paths: list[str] = []

    def walk(node) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            props = node.get("props", {})
            if node.get("type") == "NavLink" and isinstance(props.get("href"), str):
                paths.append(props["href"].split("?")[0])
            for value in props.values():
                if isinstance(value, (list, dict)):
                    walk(value)

    walk(json.loads(body))
    if not paths:
        raise CheckFailed("the app's layout links to no page")
    return list(dict.fromkeys(paths))


def check_page(base: str, path: str) -> None:
    """GET ``path`` and render it through the pages router; both must answer 200 without an error.

    Raises:
        CheckFailed: a non-200 answer or a layout that failed.
    """
    status, _ = fetch(base + path)
    if status != 200:
        raise CheckFailed(f"GET {path} answered {status}")
    payload = {
        "output": ROUTER_OUTPUT,
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "state": [],
        "changedPropIds": ["_pages_location.pathname", "_pages_location.search"],
    }
    status, body = fetch(base + "/_dash-update-component", json.dumps(payload).encode())
    if status != 200:
        raise CheckFailed(f"rendering {path} answered {status}: {body[:300]!r}")
    content = json.loads(body)["response"]["_pages_content"]["children"]
    if not content:
        raise CheckFailed(f"rendering {path} gave an empty page")


def stop(process: subprocess.Popen) -> None:
    """Stop the command's whole process group (bash, the server, any trainer): TERM, then KILL."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(log: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of the console log, indented."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def check_console(log: Path, base: str) -> None:
    """The console shows no traceback and announces the URL exactly once.

    Raises:
        CheckFailed: it does not.
    """
    text = log.read_text(encoding="utf-8", errors="replace")
    if "Traceback" in text:
        raise CheckFailed(f"the console shows a Traceback\n{tail(log, 80)}")
    announced = len(re.findall(re.escape(base) + r"/?(?!\S)", text))
    if announced != 1:
        raise CheckFailed(f"the console announces {base}/ {announced} times, not once\n{tail(log)}")


def run(checkout: Path, workdir: Path) -> None:
    """Clone ``checkout``, run its Quickstart's first command and check it; raise CheckFailed on a failure."""
    command = quickstart_command(checkout / "README.md", 1)
    clone = workdir / "quickstart"
    subprocess.run(["git", "clone", "-q", str(checkout), str(clone)], check=True)
    store = workdir / "empty-store"
    store.mkdir()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    env.update(PORT=str(port), CNNVIZ_STORE=str(store))
    base = f"http://127.0.0.1:{port}"
    log = workdir / "quickstart.log"
    print(f"+ (cd {clone} && PORT={port} CNNVIZ_STORE={store} {command})  # console: {log}", flush=True)
    started = time.monotonic()
    with open(log, "wb") as console:
        process = subprocess.Popen(["bash", "-c", command], cwd=clone, env=env, stdin=subprocess.DEVNULL,
                                   stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health = wait_for_health(base, process, log)
        print(f"quickstart: serving after {time.monotonic() - started:.0f} s: {health}", flush=True)
        if health.get("complete_runs", 0) < 1:
            raise CheckFailed(f"the store holds no complete run after start-up: {health}")
        paths = nav_paths(base)
        for path in paths:
            check_page(base, path)
        print(f"quickstart: pages answered 200 and rendered: {' '.join(paths)}", flush=True)
    finally:
        stop(process)
        if os.environ.get("QUICKSTART_LOG"):
            shutil.copyfile(log, os.environ["QUICKSTART_LOG"])
    check_console(log, base)
    print(f"quickstart: console clean, URL announced once ({time.monotonic() - started:.0f} s in all)", flush=True)


def main() -> int:
    """Run the check in a temporary folder; print what failed; return the exit status."""
    checkout = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
    with tempfile.TemporaryDirectory(prefix="cnnviz-quickstart-") as tmp:
        try:
            run(checkout, Path(tmp))
        except CheckFailed as failure:
            print(f"quickstart: FAILED: {failure}", file=sys.stderr, flush=True)
            return 1
    print("quickstart: passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
