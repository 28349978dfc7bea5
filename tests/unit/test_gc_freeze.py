"""Services keep their start-up objects out of later garbage collections (``gc.freeze``):
a full collection over them was the API's p99 latency."""

from __future__ import annotations

import gc

import pytest

from cyborg_lite.cmd import api, serve


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_freeze_moves_existing_objects_out_of_collections(unfrozen):
    assert gc.get_freeze_count() == 0
    serve.freeze_startup_objects()
    assert gc.get_freeze_count() > 1000


def test_gunicorn_workers_freeze_after_building_the_app(unfrozen):
    seen = []

    def load():
        seen.append(gc.get_freeze_count())  # nothing frozen while the app is built
        return "the app"

    server = api.GunicornServer(load, {"workers": 1})
    assert server.load() == "the app"
    assert seen == [0]
    assert gc.get_freeze_count() > 0
