"""Reporting accelerators to Placement: the client (``client``), what a deployable's provider
should be (``model``), the sync that makes Placement match SQL (``sync``) and the conductor's
sync thread (``worker``).

A package of its own rather than ``conductor/placement.py``: the API uses it too (device
enable/disable sets ``reserved`` directly), and the four parts are each one concern.
"""
