"""``NovaClient.server_action`` and ``server_status`` (issue 17): the reclaim actions'
requests, the status read back, and failures as False or None, never raised; ``with_traits``
numbering the lending traits after the attributes'."""

from __future__ import annotations

from keystoneauth1 import exceptions as ks_exc

from cyborg_lite.api.views.deployables import with_traits
from cyborg_lite.nova import NovaClient


class Response:
    def __init__(self, status_code: int, body: object = None) -> None:
        self.status_code = status_code
        self.text = "answer"
        self.body = body

    def json(self):
        if self.body is None:
            raise ValueError("not JSON")
        return self.body


class Adapter:
    def __init__(
        self, status: int = 202, error: Exception | None = None, body: object = None
    ) -> None:
        self.status, self.error, self.body = status, error, body
        self.requests: list[tuple[str, str, object]] = []

    def post(self, path, json=None, **kwargs):
        self.requests.append(("POST", path, json))
        if self.error:
            raise self.error
        return Response(self.status)

    def get(self, path, **kwargs):
        self.requests.append(("GET", path, None))
        if self.error:
            raise self.error
        return Response(self.status, self.body)

    def delete(self, path, **kwargs):
        self.requests.append(("DELETE", path, None))
        if self.error:
            raise self.error
        return Response(self.status)


def test_stop_shelve_and_delete_requests():
    adapter = Adapter()
    client = NovaClient(adapter)
    assert client.server_action("i1", "stop")
    assert client.server_action("i1", "shelve")
    adapter.status = 204
    assert client.server_action("i1", "delete")
    assert adapter.requests == [
        ("POST", "/servers/i1/action", {"os-stop": None}),
        ("POST", "/servers/i1/action", {"shelve": None}),
        ("DELETE", "/servers/i1", None),
    ]


def test_a_deleted_server_counts_as_deleted_but_not_as_stopped():
    assert NovaClient(Adapter(404)).server_action("i1", "delete")
    assert not NovaClient(Adapter(404)).server_action("i1", "stop")


def test_failures_are_false_never_raised():
    assert not NovaClient(Adapter(409)).server_action("i1", "shelve")
    down = Adapter(error=ks_exc.ConnectFailure("down"))
    assert not NovaClient(down).server_action("i1", "stop")
    unknown = Adapter()
    assert not NovaClient(unknown).server_action("i1", "notify")
    assert unknown.requests == []


def test_server_status_reads_the_status_and_a_404_as_deleted():
    adapter = Adapter(200, body={"server": {"id": "i1", "status": "shutoff"}})
    assert NovaClient(adapter).server_status("i1") == "SHUTOFF"
    assert adapter.requests == [("GET", "/servers/i1", None)]
    assert NovaClient(Adapter(404)).server_status("i1") == "DELETED"


def test_server_status_failures_are_none_never_raised():
    assert NovaClient(Adapter(500)).server_status("i1") is None
    assert NovaClient(Adapter(200)).server_status("i1") is None  # not JSON
    assert NovaClient(Adapter(200, body={"servers": []})).server_status("i1") is None
    down = Adapter(error=ks_exc.ConnectFailure("down"))
    assert NovaClient(down).server_status("i1") is None


def test_lending_traits_follow_the_highest_trait_number():
    pairs = [("rc", "PGPU"), ("trait0", "OWNER_CYBORG"), ("trait3", "CUSTOM_X")]
    assert with_traits(pairs, ("CUSTOM_CYBORG_LENDABLE", "CUSTOM_CYBORG_POOL_A")) == [
        *pairs,
        ("trait4", "CUSTOM_CYBORG_LENDABLE"),
        ("trait5", "CUSTOM_CYBORG_POOL_A"),
    ]
    assert with_traits(pairs, ("CUSTOM_X",)) == pairs
    assert with_traits(pairs, ()) == pairs
