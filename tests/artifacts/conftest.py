"""The store under test: a local folder and an S3 prefix on a real (moto) server, for tests taking ``store``."""

from __future__ import annotations

import pytest

from artifacts import ArtifactStore
from tests.support.s3 import s3_server  # noqa: F401 - the session fixture, shared with these tests

BACKENDS = ("local", "s3")


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> ArtifactStore:
    """An empty store: a local folder, or a fresh prefix of the moto server's bucket."""
    if request.param == "s3":
        return ArtifactStore(request.getfixturevalue("s3_server").url())
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def local_store(tmp_path) -> ArtifactStore:
    """An empty local store, for what only a disk has (file modes, links, temporary files)."""
    return ArtifactStore(tmp_path / "store")
