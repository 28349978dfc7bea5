"""The inventory as plain values, shared by the conductor and ``db/``.

What an agent's report says and what SQL holds are compared as the frozen records of
``records``. They live here, in a domain package beside ``firmware/``, rather than in the
conductor, because both sides need them: the conductor builds them from reports and diffs
them, and ``db/`` builds them from rows and writes them back, and ``db/`` may import nothing
above it. Nothing here does I/O or imports anything of the service.
"""
