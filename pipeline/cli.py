"""Command line: ``python -m pipeline train ...``, ``import MODEL.keras ...`` and ``runs``.

Bad arguments get one line on stderr and exit status 2, never a traceback.
Exit status of ``train``: 0 complete, 1 failed, 130 cancelled. Of ``import``: 0 published,
1 refused or failed (one line on stderr, nothing written to the store), 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from artifacts import ArtifactStore, InvalidRunId, Status, backend, default_root
from artifacts.backend import RemotePath
from artifacts.config import TrainConfig
from artifacts.format import is_valid_run_id
from artifacts.store import store_location

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130


class UsageError(Exception):
    """A bad argument; its message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default prints usage too
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``pipeline`` command."""
    parser = _Parser(prog="python -m pipeline",
                     description="Train CNNs on MNIST into the artifact store, or import a Keras model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model and publish a run")
    train.add_argument("--dataset", default="auto", help="auto, mnist, mnist-sample, idx:DIR or npz:PATH")
    train.add_argument("--config", type=Path, help="JSON file of TrainConfig fields")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--probe-per-class", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--dense-units", type=int)
    train.add_argument("--dropout-rate", type=float)
    train.add_argument("--augmentation", action=argparse.BooleanOptionalAction, default=None)
    train.add_argument("--limit", type=int, help="use about N training digits, every class (quick runs)")
    train.add_argument("--store", type=_location, help="store folder or s3://bucket/prefix "
                       "(default: $CNNVIZ_STORE or artifacts/runs)")
    train.add_argument("--run-id", help="id of the new run (default: time-based)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    imported = commands.add_parser("import", help="evaluate a Keras model trained elsewhere into a run")
    imported.add_argument("model", type=Path, help="a .keras file (loaded with safe_mode: no Lambda layers)")
    imported.add_argument("--dataset", default="auto", help="auto, mnist, mnist-sample, idx:DIR or npz:PATH")
    imported.add_argument("--run-id", help="id of the new run (default: time-based)")
    imported.add_argument("--input-scale", type=int, choices=(255, 1), default=255,
                          help="255: the model takes raw pixels 0-255; 1: pixels divided by 255")
    imported.add_argument("--class-names", nargs="+", help="one name per class (default: the data set's)")
    imported.add_argument("--store", type=_location, help="store folder or s3://bucket/prefix "
                          "(default: $CNNVIZ_STORE or artifacts/runs)")

    runs = commands.add_parser("runs", help="list the runs in a store")
    runs.add_argument("--store", type=_location)
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "runs":
            return _list_runs(_store(args.store, must_write=False), args.json)
        if args.command == "import":
            return _import(args)
        return _train(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _location(value: str) -> Path | RemotePath:
    """Parse ``--store``: a folder, or ``s3://bucket/prefix`` (endpoint and keys from the AWS variables)."""
    try:
        return store_location(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _store(path: Path | RemotePath | None, must_write: bool) -> ArtifactStore:
    try:
        root = path if path is not None else default_root()
    except ValueError as error:  # a malformed $CNNVIZ_STORE
        raise UsageError(f"CNNVIZ_STORE: {error}") from None
    if isinstance(root, RemotePath):
        try:
            backend.check_reachable(root)
        except OSError as error:
            raise UsageError(f"store {str(root)!r} cannot be reached ({error})") from None
        return ArtifactStore(root)
    if must_write:
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=root):
                pass
        except OSError as error:
            raise UsageError(f"store {str(root)!r} is not writable ({error.strerror or error})") from None
    elif root.exists() and not root.is_dir():
        raise UsageError(f"store {str(root)!r} is not a folder")
    return ArtifactStore(root)


def _config(args: argparse.Namespace) -> TrainConfig:
    data: dict = {}
    if args.config is not None:
        try:
            data = json.loads(args.config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"config file {str(args.config)!r} does not exist") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise UsageError(f"config file {str(args.config)!r} is not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise UsageError(f"config file {str(args.config)!r} must hold a JSON object")
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "probe_per_class": args.probe_per_class,
        "learning_rate": args.learning_rate,
        "dense_units": args.dense_units,
        "dropout_rate": args.dropout_rate,
        "augmentation": args.augmentation,
    }
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return TrainConfig.from_dict(data)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def _check_dataset(source: str) -> None:
    from pipeline.data import SOURCES

    if source in ("auto", "mnist", "mnist-sample"):
        return
    if source.startswith("idx:"):
        if not Path(source[4:]).is_dir():
            raise UsageError(f"dataset folder {source[4:]!r} does not exist")
        return
    if source.startswith("npz:"):
        if not Path(source[4:]).is_file():
            raise UsageError(f"dataset file {source[4:]!r} does not exist")
        return
    raise UsageError(f"unknown dataset {source!r}; choose one of {', '.join(SOURCES)}")


def _train(args: argparse.Namespace) -> int:
    config = _config(args)
    _check_dataset(args.dataset)
    if args.limit is not None and args.limit < 20:
        raise UsageError(f"--limit must be at least 20, not {args.limit}")
    _check_run_id(args.run_id)
    store = _store(args.store, must_write=True)
    if args.run_id is not None and store.exists(args.run_id):
        raise UsageError(f"run {args.run_id!r} already exists in {store.root}")

    from pipeline.train import train  # imports TensorFlow: only once arguments are good

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        result = train(
            config, store, args.dataset, args.run_id, limit=args.limit, verbose=not args.quiet, log=log
        )
    except InvalidRunId as error:
        raise UsageError(str(error)) from None
    except Exception as error:  # the run is already marked failed with this message
        print(f"error: training failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    if result.status is Status.CANCELLED:
        print(f"run {result.run_id} {result.status}", file=sys.stderr)
        return EXIT_CANCELLED
    size_mb = result.size_bytes / 1e6
    # Say which test digits: on mnist-sample they are held out of the 5,000-digit sample, not MNIST's own test set.
    held_out = f", {result.test_split}" if result.test_split else ""
    print(f"run {result.run_id} complete: test accuracy {result.test_accuracy:.4f} on {result.test_digits:,} "
          f"test digits of {result.dataset_name}{held_out} ({size_mb:.1f} MB in {store.root / result.run_id})")
    return 0


def _import(args: argparse.Namespace) -> int:
    _check_dataset(args.dataset)
    _check_run_id(args.run_id)
    names = tuple(args.class_names) if args.class_names else None
    if names is not None and not all(0 < len(name) <= 40 for name in names):
        raise UsageError("class names must be 1-40 characters each")
    store = _store(args.store, must_write=True)
    from pipeline.train import new_run_id

    run_id = args.run_id or new_run_id()
    if store.exists(run_id):
        raise UsageError(f"run {run_id!r} already exists in {store.root}")

    from pipeline.importer import ImportRefused, import_model  # imports TensorFlow: only once arguments are good
    from pipeline.train import TrainingCancelled

    try:
        result = import_model(args.model, store, args.dataset, run_id, args.input_scale, names,
                              log=lambda message: print(message, file=sys.stderr, flush=True))
    except ImportRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except TrainingCancelled as cancel:  # nothing was published
        print(f"import cancelled ({cancel})", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as error:  # nothing was published: the staging folder is gone
        print(f"error: import failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    softmax = " (its outputs were logits: softmax applied)" if result.softmax_applied else ""
    snapshot = "" if result.snapshot else "; no activation snapshot"
    print(f"run {result.run_id} imported: test accuracy {result.test_accuracy:.4f} on {result.test_digits:,} "
          f"test digits of {result.dataset_name}{softmax}{snapshot} ({store.root / result.run_id})")
    return 0


def _check_run_id(run_id: str | None) -> None:
    if run_id is not None and not is_valid_run_id(run_id):
        raise UsageError(
            f"invalid run id {run_id!r}: use 1-64 letters, digits, '.', '_' or '-', not starting with '.'"
        )


def _list_runs(store: ArtifactStore, as_json: bool) -> int:
    runs = store.summaries()
    if as_json:
        print(json.dumps([summary.to_dict() for summary in runs], indent=2, sort_keys=True))
        return 0
    if not runs:
        print(f"no runs in {store.root}")
        return 0
    print(f"{'run id':<28} {'status':<10} {'dataset':<14} {'epochs':>6} {'test acc':>8} {'size':>8}")
    for summary in runs:
        info = summary.manifest
        if info is None:
            size_mb = summary.size_bytes / 1e6
            print(f"{summary.run_id:<28} {'unreadable':<10} {'':<14} {'':>6} {'-':>8} {size_mb:>6.1f}MB")
            print(f"    {summary.error}")
            continue
        accuracy = info.metrics.test_accuracy
        shown = f"{accuracy:.4f}" if accuracy is not None else "-"
        epochs = info.planned_epochs if info.planned_epochs is not None else ""
        if info.is_imported:
            epochs = "import"
        print(
            f"{summary.run_id:<28} {info.status:<10} {info.dataset.name:<14} {epochs!s:>6} "
            f"{shown:>8} {summary.size_bytes / 1e6:>6.1f}MB"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
