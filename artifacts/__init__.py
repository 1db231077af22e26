"""The artifact store: the on-disk format of training runs and its only reader/writer.

No TensorFlow here: numpy, pandas and JSON only, so the dashboard can read runs
without importing Keras.
"""

from artifacts.format import SCHEMA_VERSION
from artifacts.io import ArtifactError
from artifacts.records import FINISHED, DatasetInfo, Manifest, Metrics, Phase, Progress, RunSummary, Status
from artifacts.store import ArtifactStore, InvalidRunId, Run, RunExistsError, RunNotFound, default_root

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactError",
    "ArtifactStore",
    "DatasetInfo",
    "FINISHED",
    "Manifest",
    "Metrics",
    "Phase",
    "Progress",
    "RunSummary",
    "Status",
    "InvalidRunId",
    "Run",
    "RunExistsError",
    "RunNotFound",
    "default_root",
]
