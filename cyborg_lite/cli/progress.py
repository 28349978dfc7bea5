"""A rollout's live progress: pure renderers and the polling loop behind ``--wait``/``--watch``.

On a terminal the view (a bar per wave and overall, counts by job state, ETA) is redrawn in
place; otherwise one summary line is printed each time the counts or the state change, so a
log file gets a readable history instead of escape codes. A single job (a deployable being
programmed) is followed the same way, as one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from cyborg_lite.cli.transfer import bar
from cyborg_lite.firmware import states

# Where --wait stops: the rollout is over, or (halted) it needs an operator to go on.
ENDED = frozenset({states.COMPLETED, states.ABORTED, states.FAILED, states.HALTED})
# Job states listed in this order, the ones still to come last.
_ORDER = (
    states.SUCCEEDED,
    states.JOB_FAILED,
    states.SKIPPED,
    states.PENDING_ACTIVATION,
    states.CANCELLED,
    states.VERIFYING,
    states.FLASHING,
    states.DISPATCHED,
    states.DRAINING,
    states.PENDING,
)


def eta_text(seconds: int | None) -> str:
    """``65`` as ``1m05s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def done(counts: Mapping[str, int]) -> int:
    """Jobs that reached a terminal state."""
    return sum(n for state, n in counts.items() if state in states.TERMINAL)


def counts_text(counts: Mapping[str, int]) -> str:
    """Non-zero counts, finished states first: ``succeeded 3, flashing 1, pending 5``."""
    known = [s for s in _ORDER if counts.get(s)]
    others = sorted(s for s in counts if s not in _ORDER and counts[s])
    return ", ".join(f"{s} {counts[s]}" for s in known + others) or "no jobs"


def headline(rollout: Mapping[str, Any]) -> str:
    """``Rollout <uuid> vbios -> 1.2: running, wave 2 of 3, ETA 1m05s``."""
    text = (
        f"Rollout {rollout['uuid']} {rollout.get('component')} -> "
        f"{rollout.get('target_version')}: {rollout['state']}"
    )
    if rollout.get("wave_count"):
        # Waves are numbered from 0 as in the API (the jobs list, the dry run).
        text += f", wave {rollout.get('current_wave', 0)} of 0-{rollout['wave_count'] - 1}"
    if rollout["state"] not in ENDED:
        text += f", ETA {eta_text(rollout.get('eta_seconds'))}"
    return text


def render(rollout: Mapping[str, Any]) -> list[str]:
    """The full view: headline, one bar per wave, the overall bar, any message."""
    lines = [headline(rollout)]
    waves = rollout.get("waves") or []
    width = len(str(rollout.get("total", 0)))
    canary = (rollout.get("strategy") or {}).get("canary", 0) > 0
    for wave in waves:
        size, finished = wave.get("size", 0), done(wave.get("counts", {}))
        label = f"wave {wave['wave']}" + (" canary" if canary and wave["wave"] == 0 else "")
        lines.append(
            f"  {label:<13} {bar(finished / size if size else 1.0)} "
            f"{finished:>{width}}/{size:<{width}}  {counts_text(wave.get('counts', {}))}"
        )
    total = rollout.get("total", 0)
    finished = done(rollout.get("counts", {}))
    lines.append(
        f"  {'overall':<13} {bar(finished / total if total else 1.0)} "
        f"{finished:>{width}}/{total:<{width}}  {counts_text(rollout.get('counts', {}))}"
    )
    if rollout.get("message"):
        lines.append(f"  {rollout['message']}")
    return lines


def summary(rollout: Mapping[str, Any]) -> str:
    """One line: state, wave, jobs done, counts, ETA."""
    counts = rollout.get("counts", {})
    return (
        f"{headline(rollout)}; {done(counts)}/{rollout.get('total', 0)} done "
        f"({counts_text(counts)})" + (f"; {rollout['message']}" if rollout.get("message") else "")
    )


def watch(
    fetch: Callable[[], dict[str, Any]],
    out: IO[str],
    *,
    interval: float = 2.0,
    tty: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll ``fetch`` every ``interval`` seconds, drawing progress on ``out``, until the
    rollout ends (:data:`ENDED`); returns its last state."""
    redraw = out.isatty() if tty is None else tty
    drawn = 0
    last = ""
    while True:
        rollout = fetch()
        if redraw:
            lines = render(rollout)
            # Back to the first line of the previous view, erase it and everything below.
            out.write((f"\x1b[{drawn}F" if drawn else "") + "\x1b[J" + "\n".join(lines) + "\n")
            drawn = len(lines)
        else:
            # ETA moves on every poll; print a line only when something else changed.
            line = summary({**rollout, "eta_seconds": None})
            if line != last:
                out.write(summary(rollout) + "\n")
                last = line
        out.flush()
        if rollout["state"] in ENDED:
            return rollout
        sleep(interval)


def job_line(label: str, job: Mapping[str, Any], elapsed: float) -> str:
    """``Programming <deployable>: flashing, 12s``, with the error code once it has one."""
    text = f"{label}: {job['state']}, {int(elapsed)}s"
    if job.get("error_code"):
        text += f" ({job['error_code']})"
    return text


def follow_job(
    fetch: Callable[[], dict[str, Any]],
    out: IO[str],
    label: str,
    *,
    interval: float = 2.0,
    started: float | None = None,
    tty: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll ``fetch`` (one job) every ``interval`` seconds until the job is terminal; returns
    it. One line of progress on ``out``, seconds counted from ``started`` (default: now):
    redrawn in place on a terminal, else printed again only when the state changes (the
    seconds alone would make a log line per poll)."""
    redraw = out.isatty() if tty is None else tty
    begin = clock() if started is None else started
    last = None
    while True:
        job = fetch()
        line = job_line(label, job, clock() - begin)
        if redraw:
            out.write("\r\x1b[K" + line)
        elif (job["state"], job.get("error_code")) != last:
            out.write(line + "\n")
            last = (job["state"], job.get("error_code"))
        finished = job["state"] in states.TERMINAL
        if redraw and finished:
            out.write("\n")  # leave the final line, and the cursor below it
        out.flush()
        if finished:
            return job
        sleep(interval)
