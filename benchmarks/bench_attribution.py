"""How long do the attributions card's maps take, and how large is its figure? (issue 14, part 4)

Per probe digit of a run, warm (networks loaded): plain saliency, SmoothGrad (25 noisy copies in one
batched pass) and Grad-CAM of each conv layer from the numpy engine, beside one plain analysis
(:meth:`Network.analyse`) for scale; then the card's whole answer for a new digit (every method from
the untrained and the trained network, the Spearman table, the figure) and for a method change (the
table kept), and the size of the figure's JSON. Also the median untrained-vs-trained rank correlation
of each method over the probes (the sanity check's numbers for that run).

Usage::

    .venv/bin/python benchmarks/bench_attribution.py --store /tmp/st1 --run r1 --digits 10

Prints its results (the machine is shared: compare ratios, not absolute times).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

from artifacts import ArtifactStore  # noqa: E402
from artifacts.config import conv_layers  # noqa: E402
from dashboard.inference import Network  # noqa: E402
from dashboard.inference import attribution as attr  # noqa: E402


def median_ms(function, repeats: int = 5) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--digits", type=int, default=10)
    args = parser.parse_args()
    os.environ["CNNVIZ_STORE"] = args.store
    from dashboard.ui import attribution_card as card

    run = ArtifactStore(args.store).run(args.run)
    config = run.info().config
    trained, untrained = Network(config, run.weights(config.epochs)), Network(config, run.weights(0))
    images = run.probes()["images"][:args.digits].astype(np.float32)
    methods = [(attr.SALIENCY, None), (attr.SMOOTHGRAD, None), *((attr.GRADCAM, name) for name in conv_layers(config))]
    print(f"run {args.run}: {len(images)} probe digits, {config.epochs} epochs")
    base = statistics.median(median_ms(lambda image=image: trained.analyse(image[None])) for image in images)
    print(f"  one analysis (probabilities, activations, saliency): {base:.1f} ms")
    for method, layer in methods:
        spent = statistics.median(
            median_ms(lambda image=image, method=method, layer=layer: attr.attribute(trained, image, method, layer))
            for image in images)
        rhos = [attr.sanity_check(untrained, trained, image, method, layer).correlation for image in images]
        defined = [rho for rho in rhos if rho is not None]
        print(f"  {method} {layer or ''}: {spent:.1f} ms ({spent / base:.0f}x one analysis); "
              f"untrained vs trained rho median {statistics.median(defined):.2f} ({len(defined)}/{len(rhos)} defined)")
    new, change, sizes = [], [], []
    for probe in range(len(images)):
        card._CHECKS.clear()
        start = time.perf_counter()
        figure = card.probe_outputs(True, attr.SALIENCY, None, None, probe, None, "light", args.run)[4]
        new.append(time.perf_counter() - start)
        start = time.perf_counter()
        card.probe_outputs(True, attr.GRADCAM, None, None, probe, None, "light", args.run)
        change.append(time.perf_counter() - start)
        sizes.append(len(figure.to_json()))
    print(f"  card, new digit: {statistics.median(new) * 1000:.0f} ms; method change: "
          f"{statistics.median(change) * 1000:.0f} ms; figure JSON {statistics.median(sizes) / 1024:.1f} KB")


if __name__ == "__main__":
    main()
