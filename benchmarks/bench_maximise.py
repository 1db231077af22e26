"""Activation maximisation against training: what each filter looks for must cost under 10% of training.

Trains the default run configuration (the CLI's defaults: the classic convnet, 15 epochs, on the
4,500 training digits of ``mnist-sample``) through ``pipeline.train`` into a temporary store, exactly
as ``python -m pipeline train --dataset mnist-sample`` does, and compares the two times the run itself
records: training as a user waits for it (the sum of ``history.jsonl``'s ``epoch_seconds``) and the
maximisation after the last epoch (``maximised.npz``'s ``seconds``, tracing included). Both are
measured in the same process minutes apart, so load moves both. Then the maximisation is repeated on
the trained model (``--repeats`` times, traced again each time, as in a run) for a steadier figure.

Writes the "Activation maximisation" section of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from artifacts import ArtifactStore  # noqa: E402
from artifacts.config import TrainConfig, conv_layers  # noqa: E402
from benchmarks.results import machine, write_section  # noqa: E402

GOAL = 0.10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="maximisations repeated on the trained model")
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument("--epochs", type=int, help="fewer epochs for a smoke test (default: the CLI's 15)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args(argv)

    from pipeline.train import import_tensorflow_quietly, train

    import_tensorflow_quietly()
    from pipeline.maximise import maximise_filters
    from pipeline.model import load_model

    config = TrainConfig() if args.epochs is None else TrainConfig(epochs=args.epochs)
    with tempfile.TemporaryDirectory() as folder:
        store = ArtifactStore(folder)
        train(config, store, args.dataset, run_id="bench")
        run = store.run("bench")
        training = float(run.history()["epoch_seconds"].sum())
        _maxima, in_run = run.maximised()
        model = load_model(run.model_path)
        probes = run.probes()["images"]
        again = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            maximise_filters(model, conv_layers(config), probes, config.seed)
            again.append(time.perf_counter() - started)
        filters = sum(block.filters for block in config.conv_blocks)
    repeated = sorted(again)[len(again) // 2] if again else in_run
    body = (
        f"The default run ({config.epochs} epochs, {args.dataset}, {filters} conv filters): training "
        f"{training:.1f} s (the sum of its epochs), maximisation in the run {in_run:.1f} s, repeated on the "
        f"trained model {repeated:.1f} s (median of {len(again)}). Goal: <= {GOAL:.0%} of training.\n\n"
        f"**Ratio: {in_run / training:.1%} in the run, {repeated / training:.1%} repeated**\n\n"
        f"{machine()}, load average at the end {[round(value, 2) for value in os.getloadavg()]}."
    )
    print(body)
    if not args.no_write:
        write_section("Activation maximisation", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
