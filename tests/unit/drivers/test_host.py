"""The host seams: the sysfs reader's forgiveness and the command runner's guarantees."""

from __future__ import annotations

import os
import sys
import time

import pytest

from cyborg_lite.drivers import host as h


def _script(tmp_path, name, body):
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def _dead(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] == "Z"  # a zombie no one reaped yet is dead
    except FileNotFoundError:
        return True


def _gone(pid):
    """Whether ``pid`` has died; SIGKILL is delivered asynchronously, so allow it a moment."""
    for _ in range(250):
        if _dead(pid):
            return True
        time.sleep(0.02)
    return False


def test_reader_strips_and_forgives(tmp_path):
    (tmp_path / "sys").mkdir()
    (tmp_path / "sys/a").write_text("0x10de\n")
    (tmp_path / "sys/bad").write_bytes(b"caf\xe9\n")
    os.symlink("nowhere", tmp_path / "sys/dangling")
    reader = h.SysfsReader(str(tmp_path))
    assert reader.read("/sys/a") == "0x10de"
    assert reader.read("sys/bad") == "caf\ufffd"
    assert reader.read("sys/missing") is None
    assert reader.read("sys/dangling") is None
    assert not reader.exists("sys/dangling")
    assert reader.link_name("sys/dangling") == "nowhere"
    assert reader.listdir("sys/none") == []


def test_reader_unreadable_file_is_none(tmp_path):
    # An attribute that exists but cannot be read as a file fails with an OSError whoever the
    # caller is (a chmod 000 file would not: root reads it anyway, and CI runs as root).
    (tmp_path / "secret").mkdir()
    assert h.SysfsReader(str(tmp_path)).exists("secret")
    assert h.SysfsReader(str(tmp_path)).read("secret") is None


def test_runner_output_env_and_no_shell(tmp_path):
    _script(
        tmp_path,
        "tool",
        "import os, sys\nprint(os.environ['LANG'], os.environ['LC_ALL'], sys.argv[1:])\n"
        "print('warn', file=sys.stderr)\n",
    )
    runner = h.CommandRunner(path=str(tmp_path / "bin"))
    result = runner.run(["tool", "$(touch x)", "a;b", "*"], timeout=10)
    assert result.stdout == "C C ['$(touch x)', 'a;b', '*']\n"
    assert result.stderr == "warn\n"
    assert result.returncode == 0
    assert not (tmp_path / "x").exists()


def test_runner_missing_tool_names_it(tmp_path):
    runner = h.CommandRunner(path=str(tmp_path))
    with pytest.raises(h.ToolMissing, match=r"^nvidia-smi: nvidia-smi is not installed") as err:
        runner.run(["nvidia-smi", "-q"], timeout=1)
    assert err.value.code == "tool-missing"
    with pytest.raises(h.ToolMissing):
        runner.run([str(tmp_path / "absent")], timeout=1)


def test_runner_not_executable(tmp_path):
    path = tmp_path / "bin" / "tool"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\n")
    # On PATH a non-executable file is skipped, as a shell would; named by path it is refused.
    with pytest.raises(h.ToolMissing):
        h.CommandRunner(path=str(path.parent)).run(["tool"], timeout=1)
    with pytest.raises(h.ToolPermission, match="is not executable") as err:
        h.CommandRunner().run([str(path)], timeout=1)
    assert err.value.code == "permission"


def test_runner_failure_names_tool_and_status(tmp_path):
    _script(tmp_path, "tool", "import sys\nprint('it broke', file=sys.stderr)\nsys.exit(3)\n")
    runner = h.CommandRunner(path=str(tmp_path / "bin"))
    with pytest.raises(h.ToolFailed, match=r"^tool: exited with status 3: it broke") as err:
        runner.run(["tool"], timeout=10)
    assert err.value.returncode == 3
    assert runner.run(["tool"], timeout=10, check=False).returncode == 3


def test_runner_timeout_kills_the_whole_group(tmp_path):
    state = tmp_path / "pids"
    _script(
        tmp_path,
        "hang",
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(state)!r}, 'w').write(f'{{os.getpid()}} {{c.pid}}')\n"
        "print('started', flush=True)\ntime.sleep(60)\n",
    )
    runner = h.CommandRunner(path=str(tmp_path / "bin"), kill_grace=0.2)
    with pytest.raises(h.ToolTimeout, match=r"^hang: no result after 0.5s; killed") as err:
        runner.run(["hang"], timeout=0.5)
    assert err.value.code == "timeout"
    assert "started" in err.value.output
    leader, child = map(int, state.read_text().split())
    assert _gone(leader)
    assert _gone(child)


def test_runner_output_limit(tmp_path):
    _script(tmp_path, "chatty", "import sys\nsys.stdout.write('x' * 100000)\n")
    result = h.CommandRunner(path=str(tmp_path / "bin"), output_limit=1000).run(
        ["chatty"], timeout=10
    )
    assert len(result.stdout) == 1000
    assert result.truncated


def test_runner_closes_stdin(tmp_path):
    # A tool that asks for confirmation reads EOF, and does not wait for the timeout.
    _script(tmp_path, "ask", "import sys\nprint(repr(sys.stdin.read()))\n")
    assert h.CommandRunner(path=str(tmp_path / "bin")).run(["ask"], timeout=10).stdout == "''\n"


def test_runner_extra_env(tmp_path):
    _script(tmp_path, "env", "import os\nprint(os.environ['FOO'])\n")
    runner = h.CommandRunner(path=str(tmp_path / "bin"), env={"FOO": "bar", "LANG": "de_DE"})
    assert runner.run(["env"], timeout=10).stdout == "bar\n"
