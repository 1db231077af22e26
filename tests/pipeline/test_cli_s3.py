"""``python -m pipeline ... --store s3://bucket/prefix`` (issue 15), against moto's S3 server."""

from __future__ import annotations

import json

from artifacts import ArtifactStore
from tests.artifacts import helpers
from tests.conftest import run_pipeline
from tests.support.s3 import s3_server  # noqa: F401 - the session fixture


def test_runs_lists_an_s3_store(s3_server):  # noqa: F811
    url = s3_server.url()
    helpers.make_run(ArtifactStore(url), "on-s3")
    listed = run_pipeline("runs", "--store", url, "--json", timeout=120)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [run["run_id"] for run in runs] == ["on-s3"] and runs[0]["status"] == "complete"


def test_a_store_url_that_leaves_its_prefix_is_a_usage_error():
    result = run_pipeline("runs", "--store", "s3://cnnviz-tests/runs/../other", timeout=120)
    assert result.returncode == 2 and "prefix segment '..'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_bucket_is_a_usage_error(s3_server):  # noqa: F811
    result = run_pipeline("train", "--store", "s3://no-such-bucket/runs", "--dataset", "mnist-sample",
                          "--limit", "20", "--epochs", "1", timeout=120)
    assert result.returncode == 2 and "no-such-bucket" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


BUILD_MODEL = """
import sys, keras
keras.utils.set_random_seed(1)
keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                  keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                  keras.layers.Dense(10, activation="softmax")]).save(sys.argv[1])
"""


def test_import_publishes_onto_an_s3_store_manifest_last_and_refuses_a_taken_id(s3_server, tmp_path):  # noqa: F811
    import subprocess
    import sys

    from tests.conftest import ROOT, subprocess_env

    model_path = tmp_path / "convnet.keras"
    subprocess.run([sys.executable, "-c", BUILD_MODEL, str(model_path)], check=True, env=subprocess_env(),
                   cwd=ROOT, capture_output=True, timeout=600)
    url = s3_server.url("imports")
    arguments = ["import", str(model_path), "--dataset", "mnist-sample", "--store", url, "--run-id", "theirs",
                 "--input-scale", "1"]
    result = run_pipeline(*arguments, timeout=600)
    assert result.returncode == 0, result.stderr
    run = ArtifactStore(url).run("theirs")
    info = run.info()
    assert info.is_complete and info.is_imported
    assert run.confusion().sum() == info.dataset.test_size
    again = run_pipeline(*arguments, timeout=600)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert ArtifactStore(url).run_ids() == ["theirs"]
