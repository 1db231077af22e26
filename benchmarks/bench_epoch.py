"""How much slower is a pipeline epoch (every capture on) than a plain ``model.fit`` epoch?

Arm A is what ``pipeline.train`` runs: the model compiled with per-class accuracy
metrics and the real :class:`~pipeline.callbacks.StoreCallback` (progress every
half second, history row, snapshot of kernels, activations and saliency) writing
a run into a temporary store. Arm B is the same architecture compiled with plain
accuracy and no callbacks. Both fit the same training/validation split of the
same 60,000 images with the same batch size, validation included.

The arms alternate (A B B A A B ...) one epoch per ``fit`` call, after one
warm-up epoch each (tracing), so drifting machine load hits both equally. An
epoch's time runs from the first ``on_epoch_begin`` to the last
``on_epoch_end`` hook: training, validation and every capture.

Usage::

    .venv/bin/python benchmarks/bench_epoch.py                # ~4 min on 2 cores
    .venv/bin/python benchmarks/bench_epoch.py --pairs 1 --limit 6000 --no-write   # smoke test

Writes the "Pipeline epoch overhead" section of benchmarks/results.md and the
``pipeline_epoch_overhead`` entry of benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from artifacts import ArtifactStore  # noqa: E402
from artifacts.config import TrainConfig, captured_layers, conv_layers  # noqa: E402
from pipeline.capture import Capture  # noqa: E402
from pipeline.data import choose_probes, load_dataset, train_validation_split  # noqa: E402
from pipeline.model import build_model, compile_model  # noqa: E402
from pipeline.train import store_callback  # noqa: E402

DEFAULT_DATASET = "idx:/usr/share/datasets/fashion-mnist"
SECTION = "Pipeline epoch overhead"
JSON_KEY = "pipeline_epoch_overhead"
GOAL = 1.05


class EpochTimer:
    """Two callbacks framing the others: ``start`` goes first in the list, ``end`` last."""

    def __init__(self):
        self.started = (0.0, 0.0)
        self.seconds: list[float] = []  # wall time
        self.cpu_seconds: list[float] = []  # CPU time of every thread of this process
        timer = self

        class Start(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.started = (time.perf_counter(), time.process_time())

        class End(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                timer.seconds.append(time.perf_counter() - timer.started[0])
                timer.cpu_seconds.append(time.process_time() - timer.started[1])

        self.start, self.end = Start(), End()


def time_calls(callback: keras.callbacks.Callback, hook: str) -> list[float]:
    """Wrap ``callback.<hook>`` to record each call's wall time; return the list it fills."""
    seconds: list[float] = []
    original = getattr(callback, hook)

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    setattr(callback, hook, timed)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs after the warm-up (each pair: 2 epochs)")
    parser.add_argument("--limit", type=int, help="use only the first N training images (smoke tests)")
    parser.add_argument("--no-write", action="store_true", help="print the figures, do not update results files")
    args = parser.parse_args(argv)

    config = TrainConfig()
    data = load_dataset(args.dataset, seed=config.seed)
    x_all, y_all = data.x_train, data.y_train
    if args.limit:
        x_all, y_all = x_all[: args.limit], y_all[: args.limit]
    train_index, validation_index = train_validation_split(y_all, config.validation_fraction, config.seed)
    x_train, y_train = x_all[train_index][..., None].astype(np.float32), y_all[train_index]
    validation = (x_all[validation_index][..., None].astype(np.float32), y_all[validation_index])
    steps = int(np.ceil(len(train_index) / config.batch_size))
    probe_ids = choose_probes(data.y_test, config.probe_per_class, config.seed)

    keras.utils.set_random_seed(config.seed)
    pipeline_model = compile_model(build_model(config), config)
    keras.utils.set_random_seed(config.seed)
    plain_model = compile_model(build_model(config), config, class_metrics=False)

    with tempfile.TemporaryDirectory(prefix="bench-epoch-") as folder:
        run = ArtifactStore(folder).create_run("bench", {"config": config.to_dict(), "dataset": {}})
        capture = Capture(pipeline_model, captured_layers(config), conv_layers(config))
        callback = store_callback(run, capture, config, data.x_test[probe_ids], data.y_test[probe_ids], steps)
        epoch_end_seconds = time_calls(callback, "on_epoch_end")
        timers = {"pipeline": EpochTimer(), "plain": EpochTimer()}
        arms = {
            "pipeline": (pipeline_model, [callback]),
            "plain": (plain_model, []),
        }
        epochs = {"pipeline": 0, "plain": 0}

        def one_epoch(arm: str) -> None:
            model, callbacks = arms[arm]
            timer = timers[arm]
            model.fit(
                x_train,
                y_train,
                batch_size=config.batch_size,
                initial_epoch=epochs[arm],
                epochs=epochs[arm] + 1,
                validation_data=validation,
                callbacks=[timer.start, *callbacks, timer.end],
                verbose=0,
            )
            epochs[arm] += 1
            print(f"  {arm:<8} epoch {epochs[arm]}: {timer.seconds[-1]:.2f} s wall, {timer.cpu_seconds[-1]:.2f} s CPU",
                  flush=True)

        print(f"{len(train_index)} training + {len(validation_index)} validation images of {data.name}, "
              f"batch {config.batch_size}, {steps} steps per epoch", flush=True)
        order = ["pipeline", "plain"]
        for arm in order:  # warm-up: tracing and first-epoch allocation, not counted
            one_epoch(arm)
        for timer in timers.values():
            timer.seconds.clear()
            timer.cpu_seconds.clear()
        epoch_end_seconds.clear()
        for pair in range(args.pairs):
            for arm in order if pair % 2 else order[::-1]:
                one_epoch(arm)
        history_rows = len(run.history())

    pipeline_seconds = timers["pipeline"].seconds
    plain_seconds = timers["plain"].seconds
    ratios = [a / b for a, b in zip(pipeline_seconds, plain_seconds, strict=True)]
    cpu_ratios = [a / b for a, b in zip(timers["pipeline"].cpu_seconds, timers["plain"].cpu_seconds, strict=True)]
    result = {
        "ratio_median": round(statistics.median(ratios), 4),
        "ratios": [round(r, 4) for r in ratios],
        "cpu_ratio_median": round(statistics.median(cpu_ratios), 4),
        "cpu_ratios": [round(r, 4) for r in cpu_ratios],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "epoch_end_hook_median_ms": round(statistics.median(epoch_end_seconds) * 1000, 1),
        "epoch_end_hook_share": round(statistics.median(epoch_end_seconds) / statistics.median(plain_seconds), 4),
        "pipeline_seconds": [round(s, 3) for s in pipeline_seconds],
        "plain_seconds": [round(s, 3) for s in plain_seconds],
        "pipeline_median_seconds": round(statistics.median(pipeline_seconds), 3),
        "plain_median_seconds": round(statistics.median(plain_seconds), 3),
        "goal": GOAL,
        "dataset": args.dataset,
        "train_images": int(len(train_index)),
        "validation_images": int(len(validation_index)),
        "batch_size": config.batch_size,
        "pairs": args.pairs,
        "history_rows_written": history_rows,
        "command": "python benchmarks/bench_epoch.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Keras {keras.__version__}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    verdict = "meets" if result["ratio_median"] <= GOAL else "MISSES"
    print(f"pipeline/plain epoch time: median {result['ratio_median']:.3f} ({verdict} the {GOAL}x goal); "
          f"pairs {result['ratios']}; CPU time: median {result['cpu_ratio_median']:.3f}, pairs {result['cpu_ratios']}; "
          f"StoreCallback.on_epoch_end {result['epoch_end_hook_median_ms']:.0f} ms "
          f"= {result['epoch_end_hook_share']:.1%} of a plain epoch")
    if not args.no_write:
        write_results(result)
    return 0


def write_results(result: dict) -> None:
    """Replace this benchmark's section of results.md and its entry of results.json, keeping the rest."""
    from benchmarks.results import write_section

    json_path = HERE / "results.json"
    everything = json.loads(json_path.read_text()) if json_path.exists() else {}
    everything[JSON_KEY] = result
    json_path.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")

    rows = "\n".join(
        f"| {i + 1} | {a:.2f} | {b:.2f} | {r:.3f} | {c:.3f} |"
        for i, (a, b, r, c) in enumerate(
            zip(result["pipeline_seconds"], result["plain_seconds"], result["ratios"], result["cpu_ratios"],
                strict=True)
        )
    )
    write_section(SECTION, f"""
Pipeline epoch (real `StoreCallback` + per-class metrics, as `pipeline.train` runs it) against a plain
`model.fit` epoch of the same model, same {result['train_images']:,} training + {result['validation_images']:,}
validation images ({result['dataset']}), batch {result['batch_size']}, validation included; arms alternated,
one warm-up epoch each not counted. Goal: <= {result['goal']}x.

**Median ratio: {result['ratio_median']:.3f}x wall time, {result['cpu_ratio_median']:.3f}x CPU time**
(pipeline {result['pipeline_median_seconds']:.2f} s, plain {result['plain_median_seconds']:.2f} s per epoch).
{result['machine']}, {result['date']}, load average at the end {result['load_average']}
(CPU time, summed over the process's threads, is the steadier figure when other jobs share the machine).
The part of the overhead that load cannot blur, `StoreCallback.on_epoch_end` (snapshot capture, its
compressed write, the history row, progress), takes {result['epoch_end_hook_median_ms']:.0f} ms per epoch,
{result['epoch_end_hook_share']:.1%} of a plain epoch.

| pair | pipeline s | plain s | wall ratio | CPU ratio |
| --- | --- | --- | --- | --- |
{rows}

Command: `{result['command'].strip()}`
""")


if __name__ == "__main__":
    sys.exit(main())
