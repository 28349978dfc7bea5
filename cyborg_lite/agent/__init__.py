"""The agent: one per host, runs vendor drivers, reports inventory, carries out firmware jobs."""
