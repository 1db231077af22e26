"""How pages get at runs: the store from the settings and safe lookups of the active run.

Pages never see a traceback from the store: every lookup returns either a run or
a plain-English message for an error card.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from artifacts import ArtifactError, ArtifactStore, InvalidRunId, Manifest, Run, RunNotFound, RunSummary, Status
from artifacts.format import KEY_CONFIG, KEY_LAYERS, is_imported, is_valid_run_id
from dashboard.settings import current_settings


def get_store() -> ArtifactStore:
    """Return the store named by the settings in force (``CNNVIZ_STORE``; see :func:`current_settings`)."""
    return ArtifactStore(current_settings().store_root)


@dataclass
class Resolved:
    """A lookup's outcome: ``run`` and its typed manifest ``info``, or a user-facing ``error``.

    ``manifest`` is the same manifest as a dict: transitional, read only by the Draw page's
    live model (whose ``get_live_model`` ignores it); everything else reads ``info``.
    """

    run: Run | None = None
    info: Manifest | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run was found and its manifest read."""
        return self.run is not None and self.error is None


def unreadable(error: ArtifactError, run_id: str | None = None) -> str:
    """Return a page's message for a run file that cannot be read: which run, why, and which file.

    ``run_id`` names the run when given, else the error's own run id.
    """
    return f"Run '{run_id or error.run_id}' cannot be read: {error.reason} ({error.filename})."


STOPPED = "training stopped: its process no longer runs and sent no heartbeat for a while"


def run_summaries(store: ArtifactStore | None = None) -> list[RunSummary]:
    """Return :meth:`ArtifactStore.summaries` with stale runs shown as they are: failed.

    A run still ``running`` whose trainer is gone (:meth:`Run.is_stale`: an old heartbeat
    and no live process) is listed ``failed`` with :data:`STOPPED` as its error. Display
    only: a page view writes nothing; ``dashboard.training.jobs.reap_stale`` records it on disk
    when training next starts.
    """
    store = store or get_store()
    return [_shown(store, summary) for summary in store.summaries()]


def _shown(store: ArtifactStore, summary: RunSummary) -> RunSummary:
    if summary.status is Status.RUNNING and _stale(store, summary.run_id):
        return replace(summary, manifest=summary.manifest.with_status(Status.FAILED, STOPPED))
    return summary


def _stale(store: ArtifactStore, run_id: str) -> bool:
    try:
        return store.run(run_id).is_stale()
    except (InvalidRunId, RunNotFound):
        return False  # deleted while listing


def latest_complete_run_id(store: ArtifactStore | None = None) -> str | None:
    """Return the newest complete run's id, or None when there is none."""
    for summary in (store or get_store()).summaries():
        if summary.is_complete:
            return summary.run_id
    return None


def resolve_run(run_id: Any, require_complete: bool = True, store: ArtifactStore | None = None) -> Resolved:
    """Find a run by id for a page.

    Args:
        run_id: the id from the URL or the active-run store; None or "" means
            the newest complete run.
        require_complete: refuse runs that are running, failed or cancelled
            (their artifacts may be partial).
        store: defaults to :func:`get_store`.

    Returns:
        A :class:`Resolved`; never raises for bad ids or broken runs.
    """
    store = store or get_store()
    if run_id in (None, ""):
        run_id = latest_complete_run_id(store)
        if run_id is None:
            return Resolved(error="There is no complete run yet. Train one on the Train page or with "
                            "`python -m pipeline train`.")
    if not is_valid_run_id(run_id):
        shown = str(run_id)[:40].encode("unicode_escape").decode("ascii")
        return Resolved(error=f"'{shown}' is not a valid run id.")
    try:
        run = store.run(run_id)
        info = run.info()
    except (InvalidRunId, RunNotFound):
        return Resolved(error=f"There is no run '{run_id}' in the store.")
    except ArtifactError as error:
        return Resolved(error=unreadable(error, run_id))
    if info.status is Status.RUNNING and run.is_stale():
        info = info.with_status(Status.FAILED, STOPPED)
    if require_complete and not info.is_complete:
        return Resolved(run, info, f"Run '{run_id}' is {info.status}, not complete; "
                        "its charts appear once it completes.")
    return Resolved(run, info)


def describe_architecture(manifest: Manifest | dict[str, Any]) -> str:
    """Return a one-line summary such as ``conv32-pool / conv64-pool / dense128``.

    Takes a :class:`Manifest` (or, transitionally, a manifest dict); reads the recorded config
    as JSON, so a run whose config is not valid is still described. An imported model is
    described by its recorded layers' classes after "imported: ".
    """
    raw = manifest.raw if isinstance(manifest, Manifest) else manifest
    if is_imported(raw):  # no config: its recorded layers, such as "imported: Conv2D / MaxPooling2D / Dense"
        layers = raw.get(KEY_LAYERS) if isinstance(raw.get(KEY_LAYERS), list) else []
        kinds = [str(item.get("class_name")) for item in layers if isinstance(item, dict)
                 and item.get("class_name") != "InputLayer"]
        return ("imported: " + " / ".join(kinds))[:200]
    config = manifest.raw_config if isinstance(manifest, Manifest) else manifest.get(KEY_CONFIG)
    config = config if isinstance(config, dict) else {}
    blocks = config.get("conv_blocks", [])
    parts = []
    # Any JSON may sit in a manifest's config: what is not a block is shown as '?', never raised.
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            parts.append("?")
            continue
        text = f"conv{block.get('filters')}k{block.get('kernel_size')}"
        if block.get("strides", 1) != 1:
            text += f"s{block.get('strides')}"
        if block.get("pooling", True):
            text += "-pool"
        parts.append(text)
    parts.append(f"dense{config.get('dense_units', '?')}")
    return " / ".join(parts)[:200]


def choose_run(url_run: Any, active_run: Any, store: ArtifactStore | None = None) -> Resolved:
    """Resolve the run a page shows: the URL's run wins, then the active run, then the newest complete run.

    Args:
        url_run: the ``run`` query parameter (None when the URL names none).
        active_run: the ACTIVE_RUN store's value; ignored when it no longer resolves
            (deleted, broken or not complete), so a stale choice never blocks a page.
        store: defaults to :func:`get_store`.

    Returns:
        A :class:`Resolved`; never raises.
    """
    store = store or get_store()
    if url_run not in (None, ""):
        return resolve_run(url_run, store=store)
    if active_run not in (None, ""):
        resolved = resolve_run(active_run, store=store)
        if resolved.ok:
            return resolved
    return resolve_run(None, store=store)
