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
