"""A bounded load test on loopback: 20 clients for 30 s on the explorer's and metrics' callbacks."""

from __future__ import annotations

import pytest

from tests.support.dashclient import DashClient, run_load

CLIENTS = 20
SECONDS = 30


def load_targets(client: DashClient) -> list[tuple[dict, dict]]:
    """The server callbacks the activation explorer and metrics pages fire on load, with their values."""
    targets = []
    for path in ("/activations", "/metrics"):
        _, layout = client.render_page(path, "?run=tiny")
        targets.extend(client.page_callbacks(layout))
    return targets


@pytest.mark.slow
def test_twenty_clients_for_thirty_seconds_without_errors(web_server, tiny_store):
    base = web_server(tiny_store)
    targets = load_targets(DashClient(base))
    assert len(targets) >= 2
    result = run_load(base, targets, clients=CLIENTS, seconds=SECONDS)
    assert result.requests > 100, result
    assert result.errors == 0, result.error_samples
