"""How pages get at runs: the store from the settings and safe lookups of the active run.

Pages never see a traceback from the store: every lookup returns either a run or
a plain-English message for an error card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from artifacts import ArtifactError, ArtifactStore, InvalidRunId, Run, RunNotFound
from artifacts.format import STATUS_COMPLETE, is_valid_run_id
from dashboard.settings import get_settings


def get_store() -> ArtifactStore:
    """Return the store named by the settings (``CNNVIZ_STORE``)."""
    return ArtifactStore(get_settings().store_root)


@dataclass
class Resolved:
    """A lookup's outcome: ``run`` and its ``manifest``, or a user-facing ``error``."""

    run: Run | None = None
    manifest: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run was found and its manifest read."""
        return self.run is not None and self.error is None


def latest_complete_run_id(store: ArtifactStore | None = None) -> str | None:
    """Return the newest complete run's id, or None when there is none."""
    for summary in (store or get_store()).list_runs():
        if summary.get("status") == STATUS_COMPLETE:
            return summary["run_id"]
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
        manifest = run.manifest()
    except (InvalidRunId, RunNotFound):
        return Resolved(error=f"There is no run '{run_id}' in the store.")
    except ArtifactError as error:
        return Resolved(error=f"Run '{run_id}' cannot be read: {error.reason} ({error.filename}).")
    if require_complete and manifest["status"] != STATUS_COMPLETE:
        return Resolved(run, manifest, f"Run '{run_id}' is {manifest['status']}, not complete; "
                        "its charts appear once it completes.")
    return Resolved(run, manifest)


def describe_architecture(manifest: dict[str, Any]) -> str:
    """Return a one-line summary such as ``conv32-pool / conv64-pool / dense128``."""
    parts = []
    for block in (manifest.get("config") or {}).get("conv_blocks", []):
        text = f"conv{block.get('filters')}k{block.get('kernel_size')}"
        if block.get("strides", 1) != 1:
            text += f"s{block['strides']}"
        if block.get("pooling", True):
            text += "-pool"
        parts.append(text)
    parts.append(f"dense{(manifest.get('config') or {}).get('dense_units', '?')}")
    return " / ".join(parts)


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
