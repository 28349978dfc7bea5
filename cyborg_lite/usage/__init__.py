"""Accelerator usage as pure rules: what an interval's samples sum up to, and when a device is
busy or idle (issue 16). Nothing of the service: the agent and the conductor both import it."""
