"""The two ways a driver reaches the host: a sysfs/procfs reader and a vendor-command runner.

Both are injected into drivers, so tests hand them a fixture tree under a temp dir and a PATH of
fake vendor tools; nothing here patches or is patched.

The runner never uses a shell: commands are argument lists, run with ``LANG=C`` (vendor tools
translate their messages otherwise), stdin closed (a tool that prompts reads EOF instead of
hanging), stdout and stderr read separately up to a byte limit, and a timeout that ends the
tool's whole process group, SIGTERM first and SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

# Output beyond this is dropped (a wedged tool printing forever must not eat the agent's memory).
DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024


class ToolError(Exception):
    """A vendor command could not be run, failed, hung, or printed something unparseable.

    ``code`` is the flash error code it maps to (one of ``base.FLASH_ERRORS``); the message
    always names the tool.
    """

    code = "unknown"

    def __init__(self, tool: str, message: str, *, output: str = "") -> None:
        super().__init__(f"{tool}: {message}")
        self.tool = tool
        self.output = output


class ToolMissing(ToolError):
    """The tool is not installed (not on the search path, or the configured path is absent)."""

    code = "tool-missing"


class ToolPermission(ToolError):
    """The tool exists but may not be executed."""

    code = "permission"


class ToolTimeout(ToolError):
    """The tool ran past its timeout and was killed."""

    code = "timeout"


class ToolFailed(ToolError):
    """The tool exited non-zero."""

    code = "hw-error"

    def __init__(self, tool: str, message: str, *, output: str = "", returncode: int = 1) -> None:
        super().__init__(tool, message, output=output)
        self.returncode = returncode


class ToolOutputError(ToolError):
    """The tool succeeded but its output could not be parsed."""

    code = "unknown"


def tail(text: str, limit: int = 2000) -> str:
    """The last ``limit`` characters of ``text`` (for log tails and error messages)."""
    return text if len(text) <= limit else "..." + text[-limit:]


class SysfsReader:
    """Reads files under ``root`` (``/`` in production), given paths relative to it.

    Every read is forgiving: a missing, unreadable or non-UTF-8 file reads as ``None`` or
    with replacement characters, because sysfs attributes come and go with kernel versions and
    device states, and one odd file must not hide a device.
    """

    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root)

    def path(self, rel: str) -> str:
        """The absolute path of ``rel`` (relative to the root; a leading ``/`` is ignored)."""
        return os.path.join(self.root, rel.lstrip("/"))

    def read(self, rel: str) -> str | None:
        """The stripped text of a file, or None when it is missing or unreadable."""
        try:
            with open(self.path(rel), "rb") as f:
                data = f.read(1024 * 1024)
        except OSError:
            return None
        return data.decode("utf-8", errors="replace").strip()

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` exists (a dangling link does not)."""
        return os.path.exists(self.path(rel))

    def isdir(self, rel: str) -> bool:
        """Whether ``rel`` is a directory (following links)."""
        return os.path.isdir(self.path(rel))

    def listdir(self, rel: str) -> list[str]:
        """Sorted entries of a directory; empty when it is missing or unreadable."""
        try:
            return sorted(os.listdir(self.path(rel)))
        except OSError:
            return []

    def link_name(self, rel: str) -> str | None:
        """The last component of a symlink's target (a driver or IOMMU group name), or None."""
        try:
            target = os.readlink(self.path(rel))
        except OSError:
            return None
        return os.path.basename(target.rstrip("/")) or None

    def find(self, rel: str, filename: str, max_depth: int = 8) -> list[str]:
        """Files named ``filename`` below directory ``rel``, relative to the root, sorted.

        Symlinks below ``rel`` are not followed (sysfs links back up the tree), and the walk
        stops ``max_depth`` levels down.
        """
        top = self.path(rel)
        found = []
        for here, dirs, files in os.walk(top):
            if here[len(top) :].count(os.sep) >= max_depth:
                dirs[:] = []
            if filename in files:
                found.append(os.path.relpath(os.path.join(here, filename), self.root))
        return sorted(found)

    def glob(self, pattern: str) -> list[str]:
        """Paths relative to the root matching a glob ``pattern`` (itself relative), sorted."""
        base = self.path(pattern)
        found = glob.glob(base)
        return sorted(os.path.relpath(p, self.root) for p in found)


@dataclasses.dataclass(frozen=True)
class CommandResult:
    """What a finished command printed and returned."""

    tool: str
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    truncated: bool = False


class _Collector(threading.Thread):
    """Drains one pipe, keeping at most ``limit`` bytes (the rest is read and dropped)."""

    def __init__(self, pipe: object, limit: int) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def run(self) -> None:
        read = getattr(self.pipe, "read", None)
        if read is None:
            return
        while True:
            try:
                chunk = read(65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            room = self.limit - len(self.data)
            if len(chunk) > room:
                self.truncated = True
            if room > 0:
                self.data += chunk[:room]


class CommandRunner:
    """Runs vendor commands as argument lists with a timeout; see the module docstring.

    ``path`` is the executable search path (default: this process's ``PATH``); ``env`` adds or
    overrides variables; ``kill_grace`` is how long a timed-out tool gets between SIGTERM and
    SIGKILL.
    """

    def __init__(
        self,
        *,
        path: str | None = None,
        env: Mapping[str, str] | None = None,
        kill_grace: float = 3.0,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        self.search_path = path if path is not None else os.environ.get("PATH", os.defpath)
        self.env = dict(env or {})
        self.kill_grace = kill_grace
        self.output_limit = output_limit

    def which(self, program: str) -> str | None:
        """The executable ``program`` resolves to, or None when it is not installed."""
        if os.sep in program:
            return program if os.access(program, os.X_OK) and os.path.isfile(program) else None
        return shutil.which(program, path=self.search_path)

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = self.search_path
        env.update(self.env)
        # Untranslated messages: the parsers match English text.
        env["LANG"] = "C"
        env["LC_ALL"] = "C"
        return env

    def run(self, argv: Sequence[str], *, timeout: float, check: bool = True) -> CommandResult:
        """Run ``argv``; raise ``ToolError`` subclasses for missing, hung or (``check``) failed.

        A non-zero exit raises ``ToolFailed`` when ``check`` is true; otherwise the result is
        returned for the caller to interpret (flash tools say why they failed in their output).
        """
        if not argv:
            raise ValueError("empty command")
        tool = os.path.basename(argv[0])
        exe = self.which(argv[0])
        if exe is None and os.sep in argv[0] and os.path.isfile(argv[0]):
            raise ToolPermission(tool, f"{argv[0]} is not executable by this user")
        if exe is None:
            raise ToolMissing(tool, f"{argv[0]} is not installed (searched {self.search_path!r})")
        try:
            proc = subprocess.Popen(
                [exe, *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environment(),
                # Its own process group, so a timeout kills the tool and whatever it started.
                start_new_session=True,
            )
        except FileNotFoundError as err:
            raise ToolMissing(tool, f"{argv[0]} is not installed: {err}") from err
        except PermissionError as err:
            raise ToolPermission(tool, f"cannot execute {exe}: {err}") from err
        except OSError as err:
            raise ToolFailed(tool, f"cannot start {exe}: {err}") from err
        out = _Collector(proc.stdout, self.output_limit)
        err_ = _Collector(proc.stderr, self.output_limit)
        out.start()
        err_.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill_group(proc)
        # The group is gone, so the pipes reach EOF; the bound covers a child that escaped it.
        out.join(self.kill_grace + 1.0)
        err_.join(self.kill_grace + 1.0)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        result = CommandResult(
            tool=tool,
            argv=tuple(argv),
            returncode=proc.returncode if proc.returncode is not None else -9,
            stdout=out.data.decode("utf-8", errors="replace"),
            stderr=err_.data.decode("utf-8", errors="replace"),
            truncated=out.truncated or err_.truncated,
        )
        if timed_out:
            raise ToolTimeout(
                tool,
                f"no result after {timeout:g}s; killed",
                output=tail(result.stdout + result.stderr),
            )
        if check and result.returncode != 0:
            raise ToolFailed(
                tool,
                f"exited with status {result.returncode}: "
                f"{tail(result.stderr or result.stdout, 300)}",
                output=tail(result.stdout + result.stderr),
                returncode=result.returncode,
            )
        return result

    def _kill_group(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the process group, then SIGKILL it if it is still there after the grace."""
        for sig, wait in ((signal.SIGTERM, self.kill_grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; members that ignored SIGTERM may linger, so finish them.
            if sig == signal.SIGTERM:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
