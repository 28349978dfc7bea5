"""Accelerator requests as domain rules: their states and what may move them (pure)."""
