"""The hash ring that shares hosts among conductors (issue 18): one owner per host, the same
on every conductor, shares near even, and a conductor leaving moves only its own hosts."""

from __future__ import annotations

import collections

from cyborg_lite.cluster.ring import Ring

HOSTS = [f"compute{i:05d}.example.org" for i in range(10_000)]
NAMES = ["ctl-a:101:1f2e3d4c", "ctl-b:202:5b6a7988", "ctl-c:303:9c8d7e6f"]


def test_nobody_owns_while_no_conductor_is_live():
    assert Ring([]).owner("compute1") is None
    assert Ring([]).share("x", ["compute1"]) == []


def test_every_host_has_one_owner_the_same_on_every_conductor():
    mine, theirs = Ring(NAMES), Ring(reversed(NAMES))
    owners = [mine.owner(h) for h in HOSTS[:500]]
    assert owners == [theirs.owner(h) for h in HOSTS[:500]]
    shares = [set(mine.share(n, HOSTS[:500])) for n in NAMES]
    assert sum(len(s) for s in shares) == 500
    assert set().union(*shares) == set(HOSTS[:500])


def test_three_conductors_share_10000_hosts_within_10_percent_of_even():
    ring = Ring(NAMES)
    counts = collections.Counter(ring.owner(h) for h in HOSTS)
    even = len(HOSTS) / len(NAMES)
    assert set(counts) == set(NAMES)
    assert all(abs(c - even) / even <= 0.10 for c in counts.values()), counts


def test_a_conductor_leaving_moves_only_its_own_hosts():
    three, two = Ring(NAMES), Ring(NAMES[:2])
    for host in HOSTS[:2000]:
        before = three.owner(host)
        if before != NAMES[2]:
            assert two.owner(host) == before
        else:
            assert two.owner(host) in NAMES[:2]
