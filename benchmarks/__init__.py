"""The benchmark suite: cyborg-lite against OpenStack Cyborg, side by side (``make bench``)."""
