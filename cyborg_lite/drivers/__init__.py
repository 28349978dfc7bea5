"""Vendor drivers: discover devices and firmware, flash images."""
