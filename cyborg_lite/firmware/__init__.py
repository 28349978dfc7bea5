"""Firmware: the image store, signature checks, and (later) the rollout engine's pure parts."""
