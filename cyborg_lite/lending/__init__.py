"""Lending idle accelerators as pure rules (issue 17): lending windows in a pool's time zone,
a pool's fields and traits, which devices are offered, and a loan's states, reclaim and
account. Nothing of the service: the tables, the API and the conductor's engine build on it."""
