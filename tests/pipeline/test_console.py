"""``python -m pipeline train`` keeps TensorFlow's start-up chatter out of the terminal."""

from __future__ import annotations

from tests.conftest import run_pipeline


def test_training_prints_no_tensorflow_import_lines(tmp_path):
    result = run_pipeline("train", "--dataset", "mnist-sample", "--limit", "300", "--epochs", "1",
                          "--store", str(tmp_path), "--run-id", "quiet", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr, result.stderr
    assert "All log messages before absl::InitializeLog()" not in result.stderr
    assert "run quiet complete" in result.stdout + result.stderr
