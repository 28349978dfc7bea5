"""The order of an agent's inventory reports: ``seq``, and its file under ``state_path``.

Every report carries a ``seq`` larger than that of every report the host sent before, so a
conductor can tell a report delivered late or twice from a newer one and ignore it. Wall-clock
time cannot give that order (clocks jump, and an agent's clock is not the conductor's), so
``seq`` is ``generation * 2**32 + counter``: the generation is kept in
``$state_path/agent-reports-<host>.json`` and bumped, durably, once per agent process before
its first report; the counter numbers the reports within the process. A restarted agent
therefore starts above anything it sent before.

If the file is lost (a wiped state folder, a reinstalled host under the same name) the
generation starts low again, and a conductor holding a higher ``seq`` calls the report stale;
``skip_past`` moves the generation beyond the conductor's, so such an agent is refused once,
not ignored for good.
"""

from __future__ import annotations

import json
import os
import threading

from oslo_log import log as logging

from cyborg_lite.agent import jobstate

LOG = logging.getLogger(__name__)

COUNTER_BITS = 32
# The largest counter value; the generation moves on before the counter would spill into it.
MAX_COUNTER = 2**COUNTER_BITS - 1


def sequence_path(state_path: str, host: str) -> str:
    """Where ``host``'s agent keeps its report generation (host-specific, like its jobs)."""
    return os.path.join(state_path, f"agent-reports-{host}.json")


def generation_of(seq: int) -> int:
    """The generation part of ``seq``."""
    return seq >> COUNTER_BITS


class ReportSequence:
    """Hands out increasing ``seq`` values; thread-safe. The file is read at first use, not
    here, so building an agent does no I/O."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._generation: int | None = None  # this process's, once saved
        self._counter = 0

    @property
    def generation(self) -> int | None:
        """This process's generation; None until the first ``next()``."""
        return self._generation

    def next(self) -> int:
        """The next report's ``seq``.

        The first call of a process saves a new generation; OSError when it cannot be saved
        (then nothing changed, and the next call tries again).
        """
        with self._lock:
            if self._generation is None:
                self._begin(self._saved_generation() + 1)
            elif self._counter >= MAX_COUNTER:
                self._begin(self._generation + 1)
            self._counter += 1
            assert self._generation is not None
            return (self._generation << COUNTER_BITS) | self._counter

    def skip_past(self, seq: int) -> None:
        """Make every later ``seq`` larger than ``seq``, one a conductor holds (from a run whose
        generation this file does not remember, or from another agent using this host name).
        OSError when the new generation cannot be saved."""
        with self._lock:
            generation = generation_of(seq)
            if self._generation is None or self._generation <= generation:
                self._begin(max(generation, self._saved_generation()) + 1)

    def _begin(self, generation: int) -> None:
        # Saved before use: a generation handed out but not on disk could be handed out again
        # by the next process, whose reports would then look stale.
        jobstate.write_json(self.path, {"generation": generation})
        self._generation = generation
        self._counter = 0

    def _saved_generation(self) -> int:
        try:
            with open(self.path, encoding="utf-8") as f:
                saved = json.load(f)["generation"]
        except FileNotFoundError:
            return 0
        except (ValueError, KeyError, TypeError) as err:
            # Writes are atomic, so this is damage from outside; starting low is recoverable
            # (the conductor's stale answer moves us past it), refusing to report is not.
            LOG.warning("Ignoring unreadable report generation file %s (%s)", self.path, err)
            return 0
        if isinstance(saved, bool) or not isinstance(saved, int) or saved < 0:
            LOG.warning("Ignoring report generation %r in %s", saved, self.path)
            return 0
        return saved
