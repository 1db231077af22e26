"""How long does the Draw page's server take to answer one drawn digit, and to load its model?

Per digit (warm, model loaded): decoding and MNIST-style preprocessing of a 280x280 canvas
PNG (what draw.js sends), then one live-model call for probabilities, every captured layer's
activations and the saliency map: the numpy engine from the run's stored weights, beside the
same analysis through TensorFlow (the fallback for older runs). Separately, the figure builders
the page's answer callback calls for that digit, and the size of their JSON. One-off: loading
each (for TensorFlow, importing it too: what the first visitor of the page waits for).

Usage::

    .venv/bin/python benchmarks/bench_draw.py --store /tmp/st1 --run r1      # ~30 s
    .venv/bin/python benchmarks/bench_draw.py --store S --run R --digits 20 --no-write   # smoke test

Writes the "Draw page" section of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import plotly.io as pio  # noqa: E402
from PIL import Image  # noqa: E402

from artifacts import ArtifactStore  # noqa: E402
from benchmarks.results import machine, write_section  # noqa: E402
from dashboard.draw.live_model import NUMPY, TENSORFLOW, get_live_model  # noqa: E402
from dashboard.draw.preprocess import preprocess_upload  # noqa: E402
from dashboard.figures.activations import (  # noqa: E402
    activation_surface,
    feature_map_mosaic,
    input_digit,
    probability_bars,
    saliency_overlay,
    stacked_layers,
)

SHARED_MNIST = HERE.parent.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
CANVAS_SIDE = 280
LIMIT = 2 * 1024 * 1024
GOAL_P95_MS = 300.0


def canvas_drawings(count: int) -> list[str]:
    """Return ``count`` canvas-like PNG data URLs: real MNIST test digits drawn white on black at 280x280."""
    if SHARED_MNIST.is_file():
        digits = np.frombuffer(gzip.open(SHARED_MNIST).read(), np.uint8, offset=16).reshape(-1, 28, 28)[:count]
    else:  # a plain stroke pattern when the shared data is absent
        digits = np.zeros((count, 28, 28), dtype=np.uint8)
        digits[:, 5:23, 13:16] = 255
    urls = []
    for digit in digits:
        canvas = Image.fromarray(digit).resize((CANVAS_SIDE, CANVAS_SIDE), Image.Resampling.BILINEAR).convert("RGBA")
        buffer = io.BytesIO()
        canvas.save(buffer, format="PNG")
        urls.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))
    return urls


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(np.asarray(values), share))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="artifact store holding the run")
    parser.add_argument("--run", required=True, help="run id (a complete run with model.keras and stored weights)")
    parser.add_argument("--digits", type=int, default=200, help="drawn digits to time")
    parser.add_argument("--no-write", action="store_true", help="print the figures, do not update results.md")
    args = parser.parse_args(argv)

    run = ArtifactStore(args.store).run(args.run)
    drawings = canvas_drawings(args.digits)
    first = preprocess_upload(drawings[0], LIMIT)

    # The numpy engine first, in a process without TensorFlow, as the web process runs it.
    start = time.perf_counter()
    engine = get_live_model(run)
    engine_load = time.perf_counter() - start
    if engine.backend != NUMPY or "tensorflow" in sys.modules:
        raise SystemExit(f"run {args.run} has no stored weights: the live model is {engine.backend}")
    start = time.perf_counter()
    engine.analyse(first)
    engine_first = time.perf_counter() - start

    for url in drawings[:10]:  # warm-up, not counted
        engine.analyse(preprocess_upload(url, LIMIT))
    preprocess_ms, engine_ms, keras_ms, total_ms, figures_ms, figure_bytes = [], [], [], [], [], []
    drawn, answers = [], []
    for url in drawings:
        start = time.perf_counter()
        pixels = preprocess_upload(url, LIMIT)
        middle = time.perf_counter()
        analysis = engine.analyse(pixels)
        end = time.perf_counter()
        drawn.append(pixels)
        answers.append(int(np.argmax(analysis.probabilities)))
        preprocess_ms.append((middle - start) * 1000)
        engine_ms.append((end - middle) * 1000)
        total_ms.append((end - start) * 1000)
        start = time.perf_counter()
        conv = analysis.activations[0][1]
        figures = [
            input_digit(pixels, "What the network sees", "light"),
            saliency_overlay(pixels, analysis.saliency, "light"),
            probability_bars(analysis.probabilities, None, "light"),
            stacked_layers([("pixels", pixels.astype(np.float32)), *analysis.activations], "light"),
            feature_map_mosaic(conv, "conv_1", "light", highlight=0),
            activation_surface(conv[:, :, 0], "conv_1, channel 0", "light"),
        ]
        size = sum(len(pio.to_json(figure, validate=False)) for figure in figures)
        figures_ms.append((time.perf_counter() - start) * 1000)
        figure_bytes.append(size)

    # Then TensorFlow in the same process, on the same digits (its threads would slow the engine's loop).
    start = time.perf_counter()
    import tensorflow  # noqa: F401  (timed on its own: the fallback's first visitor pays for it once)

    import_seconds = time.perf_counter() - start
    start = time.perf_counter()
    keras_model = get_live_model(run, backend=TENSORFLOW)
    keras_load = time.perf_counter() - start
    start = time.perf_counter()
    keras_model.analyse(first)
    keras_first = time.perf_counter() - start
    for pixels in drawn[:10]:  # warm-up, not counted
        keras_model.analyse(pixels)
    agree = 0
    for pixels, answer in zip(drawn, answers, strict=True):
        start = time.perf_counter()
        reference = keras_model.analyse(pixels)
        keras_ms.append((time.perf_counter() - start) * 1000)
        agree += int(np.argmax(reference.probabilities) == answer)

    result = {
        "p50_ms": percentile(total_ms, 50),
        "p95_ms": percentile(total_ms, 95),
        "preprocess_p50_ms": percentile(preprocess_ms, 50),
        "engine_p50_ms": percentile(engine_ms, 50),
        "engine_p95_ms": percentile(engine_ms, 95),
        "keras_p50_ms": percentile(keras_ms, 50),
        "keras_p95_ms": percentile(keras_ms, 95),
        "figures_p50_ms": percentile(figures_ms, 50),
        "figures_p95_ms": percentile(figures_ms, 95),
        "figures_kb": statistics.median(figure_bytes) / 1024,
        "engine_load_s": engine_load,
        "engine_first_s": engine_first,
        "import_s": import_seconds,
        "keras_load_s": keras_load,
        "keras_first_s": keras_first,
        "agree": agree,
    }
    body = report(result, args, len(drawings))
    print(body)
    if not args.no_write:
        write_section("Draw page", body)
    return 0 if result["p95_ms"] < GOAL_P95_MS else 1


def report(result: dict, args: argparse.Namespace, count: int) -> str:
    """Return the Markdown section for results.md."""
    verdict = "met" if result["p95_ms"] < GOAL_P95_MS else "NOT met"
    rows = [
        ("preprocess (decode PNG, MNIST-style 28x28) + live model (probabilities, 6 layers' activations, "
         "saliency)", result["p50_ms"], result["p95_ms"]),
        ("of which the live model: numpy engine from the stored weights (one forward and one backward pass)",
         result["engine_p50_ms"], result["engine_p95_ms"]),
        ("the same analysis through TensorFlow (the fallback for runs without stored weights)",
         result["keras_p50_ms"], result["keras_p95_ms"]),
        ("figure builders of the one answer callback (6 figures) + JSON", result["figures_p50_ms"],
         result["figures_p95_ms"]),
    ]
    table = "\n".join(f"| {name} | {p50:.1f} ms | {p95:.1f} ms |" for name, p50, p95 in rows)
    return f"""
`{' '.join(['.venv/bin/python', 'benchmarks/bench_draw.py', *sys.argv[1:]])}` on {machine()};
run `{args.run}` (the default model), {count} drawn digits (MNIST test digits drawn white on black
on a 280x280 canvas PNG, as draw.js sends them), warm. Preprocessing alone: {result['preprocess_p50_ms']:.1f} ms p50.
The engine and TensorFlow predict the same class for {result['agree']} of {count} digits.
Load average during the run: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min; shared cores).

| per drawn digit (server) | p50 | p95 |
| --- | ---: | ---: |
{table}

Goal p95 < {GOAL_P95_MS:.0f} ms for predict + activations + saliency: **{verdict}**. The six figures'
JSON is {result['figures_kb']:.0f} kB per digit (before gzip).

One-off cost in a fresh web process. Numpy engine: reading the last epoch's weights and building the
network {result['engine_load_s']:.2f} s, first call {result['engine_first_s'] * 1000:.1f} ms; no TensorFlow.
TensorFlow fallback: importing TensorFlow {result['import_s']:.2f} s, loading the model and building the
activation model {result['keras_load_s']:.2f} s, first call (tracing) {result['keras_first_s']:.2f} s.
The page starts this load when it opens (the "model ready" badge).
"""


if __name__ == "__main__":
    sys.exit(main())
