"""The hash ring that assigns hosts to the live conductors (issue 18).

``tooz.hashring.HashRing``, as ironic uses it to share nodes among conductors: a consistent
ring with 2^``[conductor] hash_partition_exponent`` points per conductor, so that a
conductor joining or leaving moves only about 1/N of the hosts, and every conductor, given
the same members, computes the same owner for every host without talking to the others.
tooz is chosen over a ring of our own because it is OpenStack's well-kept one (the module
ironic relies on), small (the ring is one pure-Python class), and the mission names it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tooz import hashring

# The default of [conductor] hash_partition_exponent (ironic's is 5: see the option's help).
PARTITION_EXPONENT = 10


class Ring:
    """The owner of each host among ``members`` (conductor names); empty: nobody owns."""

    def __init__(self, members: Iterable[str], *, exponent: int = PARTITION_EXPONENT) -> None:
        self.members = frozenset(members)
        self._ring = hashring.HashRing(set(self.members), partitions=2**exponent)

    def owner(self, hostname: str) -> str | None:
        """The conductor that owns ``hostname``; None while no conductor is live."""
        if not self.members:
            return None
        [found] = self._ring.get_nodes(hostname.encode("utf-8"))
        return str(found)

    def owns(self, member: str, hostname: str) -> bool:
        """True when ``member`` owns ``hostname``."""
        return self.owner(hostname) == member

    def share(self, member: str, hostnames: Iterable[str]) -> list[str]:
        """The hosts of ``hostnames`` that ``member`` owns, sorted."""
        return sorted(h for h in set(hostnames) if self.owns(member, h))
