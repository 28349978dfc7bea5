"""The CLI plugin's pure parts: progress rendering and the watch loop, transfers, parsing;
and ``deployable program`` against a scripted sequence of HTTP answers."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import types

import pytest
import requests
from osc_lib import exceptions

from cyborg_lite.cli import client, inventory, plugin, progress, scheduling, transfer


def rollout(state="running", **extra):
    body = {
        "uuid": "r1",
        "component": "vbios",
        "target_version": "2.0",
        "state": state,
        "message": None,
        "current_wave": 1,
        "wave_count": 2,
        "total": 4,
        "strategy": {"canary": 1},
        "counts": {"succeeded": 1, "flashing": 1, "pending": 2, "failed": 0},
        "waves": [
            {"wave": 0, "size": 1, "counts": {"succeeded": 1}},
            {"wave": 1, "size": 3, "counts": {"flashing": 1, "pending": 2}},
        ],
        "eta_seconds": 65,
    }
    return {**body, **extra}


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_render_draws_a_bar_per_wave_and_overall():
    lines = progress.render(rollout())
    assert lines[0] == "Rollout r1 vbios -> 2.0: running, wave 1 of 0-1, ETA 1m05s"
    assert lines[1] == f"  wave 0 canary {transfer.bar(1.0)} 1/1  succeeded 1"
    assert lines[2] == f"  wave 1        {transfer.bar(0.0)} 0/3  flashing 1, pending 2"
    assert (
        lines[3] == f"  overall       {transfer.bar(0.25)} 1/4  succeeded 1, flashing 1, pending 2"
    )


def test_summary_names_the_message_and_hides_eta_once_ended():
    line = progress.summary(rollout("halted", message="Wave 1 reached its failure budget."))
    assert line.startswith("Rollout r1 vbios -> 2.0: halted, wave 1 of 0-1; 1/4 done")
    assert "ETA" not in line
    assert line.endswith("; Wave 1 reached its failure budget.")


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "-"), (0, "0s"), (59, "59s"), (61, "1m01s"), (7325, "2h02m")]
)
def test_eta_text(seconds, text):
    assert progress.eta_text(seconds) == text


def test_watch_prints_a_line_per_change_when_not_a_terminal():
    states = iter(
        [
            rollout(eta_seconds=10),
            rollout(eta_seconds=8),  # only the ETA moved: no new line
            rollout("completed", counts={"succeeded": 4}),
        ]
    )
    out, slept = io.StringIO(), []
    last = progress.watch(lambda: next(states), out, interval=0.5, sleep=slept.append)
    assert last["state"] == "completed"
    assert slept == [0.5, 0.5]
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "ETA 10s" in lines[0]
    assert lines[1].startswith("Rollout r1 vbios -> 2.0: completed")


def test_watch_redraws_in_place_on_a_terminal_and_stops_when_halted():
    states = iter([rollout(), rollout("halted", message="stop")])
    out = Tty()
    last = progress.watch(lambda: next(states), out, sleep=lambda _: None)
    assert last["state"] == "halted"
    text = out.getvalue()
    assert text.startswith("\x1b[J")  # nothing to go back over the first time
    assert text.count("\x1b[4F\x1b[J") == 1  # back over the four lines drawn before
    assert text.rstrip().endswith("  stop")


def test_transfer_bar_only_on_a_terminal_for_large_files():
    quiet = io.StringIO()
    bar = transfer.TransferBar("upload", transfer.BAR_THRESHOLD, quiet)
    bar.update(10)
    bar.close()
    assert quiet.getvalue() == ""
    assert not transfer.TransferBar("upload", 100, Tty()).enabled
    now = [0.0]
    tty = Tty()
    bar = transfer.TransferBar("upload", 8 << 20, tty, clock=lambda: now[0], every=1.0)
    bar.update(1 << 20)
    bar.update(2 << 20)  # throttled: same instant
    now[0] = 2.0
    bar.update(4 << 20)
    bar.close()
    draws = tty.getvalue().split("\r")[1:]
    assert len(draws) == 3
    assert draws[0].startswith(f"upload {transfer.bar(0.125)}  12% 1.0 MiB/8.0 MiB")
    assert draws[-1].endswith("4.0 MiB/8.0 MiB\n")


def test_file_body_streams_chunks_with_a_length(tmp_path):
    path = tmp_path / "image.bin"
    path.write_bytes(b"x" * (transfer.CHUNK + 10))
    seen = []
    body = transfer.FileBody(path, path.stat().st_size, seen.append)
    assert len(body) == transfer.CHUNK + 10
    assert [len(c) for c in body] == [transfer.CHUNK, 10]
    assert seen == [transfer.CHUNK, transfer.CHUNK + 10]
    assert str(body) == f"<{transfer.CHUNK + 10} bytes from {path}>"
    assert transfer.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_keeps_nothing_when_the_digest_differs(tmp_path):
    target = tmp_path / "out.bin"
    good = hashlib.sha256(b"abcdef").hexdigest()
    assert transfer.save([b"abc", b"def"], target, good.upper()) == (6, good)
    assert target.read_bytes() == b"abcdef"
    with pytest.raises(ValueError, match="hash to"):
        transfer.save([b"abc"], tmp_path / "bad.bin", good)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    sink = io.BytesIO()
    with pytest.raises(ValueError, match="not the image's"):
        transfer.copy([b"abc"], sink, good)
    assert sink.getvalue() == b"abc"


def response(status, body, content_type="application/json"):
    resp = requests.Response()
    resp.status_code = status
    resp.reason = "Reason"
    resp.headers["Content-Type"] = content_type
    resp._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return resp


@pytest.mark.parametrize(
    ("resp", "message"),
    [
        (
            response(404, {"error_message": json.dumps({"faultstring": "Device not found"})}),
            "Device not found",
        ),
        (
            response(406, {"error_message": "Version 2.9 was requested"}),
            "Version 2.9 was requested",
        ),
        (
            response(404, {"error_message": json.dumps({"code": 404, "description": "No route"})}),
            "No route",
        ),
        (response(401, {"error": {"code": 401, "message": "Authenticate."}}), "Authenticate."),
        (response(502, "Bad gateway\n", "text/html"), "Bad gateway"),
        (response(500, ""), "500 Reason"),
    ],
)
def test_error_message_reads_every_envelope(resp, message):
    assert client.error_message(resp) == message


def test_api_error_names_status_and_request_id():
    err = client.ApiError(409, "In use.", "req-1")
    assert str(err) == "In use. (HTTP 409) (Request-ID: req-1)"
    assert isinstance(err, exceptions.CommandError)


def test_versions():
    assert client.parse_version("2.3") == (2, 3)
    assert client.parse_version("2") is None
    for bad in ("3.0", "latest", "2.x"):
        with pytest.raises(exceptions.CommandError, match="Invalid accelerator API version"):
            client.parse_version(bad)
    api = client.Client.__new__(client.Client)
    api.version = (2, 3)
    assert api.microversion((2, 2)) == "2.3"
    with pytest.raises(exceptions.CommandError, match=r"needs accelerator API microversion 2\.4"):
        api.microversion((2, 4))
    api.version = None
    assert api.microversion((2, 4)) == "2.7"


def test_option_is_added_once_whoever_adds_it_first():
    parser = argparse.ArgumentParser()
    plugin.build_option_parser(parser)
    plugin.build_option_parser(parser)  # as if OSC's in-tree module had added it first
    assert parser.parse_args(["--os-accelerator-api-version", "2.2"]).os_accelerator_api_version


def test_parse_group():
    assert scheduling.parse_group("resources:FPGA=1, trait:CUSTOM_X=required") == {
        "resources:FPGA": "1",
        "trait:CUSTOM_X": "required",
    }
    with pytest.raises(exceptions.CommandError, match="KEY=VALUE"):
        scheduling.parse_group("resources:FPGA")


DEP = "7b0f3f5e-3c5b-4f59-8d3f-2d1c0a9e8b71"
IMAGE = "c1f8a0d2-6a47-4b1e-9a53-0f2e4b7d9c10"
JOB = "0e2d4c6b-8a19-4f3e-b5d7-c9a1e3f5b7d9"
ROLLOUT = "5a7c9e1b-3d5f-4a8c-9e0b-2c4d6f8a0b1c"
PROGRAM = f"/deployables/{DEP}/program"
JOBS = f"/firmware_rollouts/{ROLLOUT}/jobs"


def deployable(**extra):
    return {"uuid": DEP, "name": "sim-host-01_intel-n6001-0", "links": [{"href": "x"}], **extra}


def job(state, **extra):
    return {"uuid": JOB, "state": state, "error_code": None, "error": None, **extra}


class Adapter:
    """keystoneauth's adapter as the client calls it, answering from a script of
    ``(method, path, response)`` and recording what was sent."""

    def __init__(self, script):
        self.script = list(script)
        self.sent = []
        self.params = []

    def request(self, url, method, **kwargs):
        method_, url_, resp = self.script.pop(0)
        assert (method, url) == (method_, url_)
        self.sent.append((method, url, kwargs.get("json"), kwargs["headers"]))
        self.params.append(kwargs.get("params"))
        return resp


def program(script, *argv, monkeypatch=None):
    """Run ``deployable program`` with ``argv``; (result, adapter, sleeps)."""
    api = client.Client.__new__(client.Client)
    api.version = None
    api._adapter = Adapter(script)
    app = types.SimpleNamespace(client_manager=types.SimpleNamespace(cyborg_lite=api))
    cmd = inventory.ProgramDeployable(app, None)
    parsed = cmd.get_parser("openstack accelerator deployable program").parse_args(list(argv))
    slept = []
    if monkeypatch is not None:
        monkeypatch.setattr(inventory.time, "sleep", slept.append)
    return cmd.take_action(parsed), api._adapter, slept


def test_program_sends_the_patch_and_shows_the_deployable_on_200():
    script = [
        ("GET", "/deployables", response(200, {"deployables": [deployable(), {"uuid": "o"}]})),
        ("GET", "/firmware_images", response(200, {"firmware_images": [{"uuid": IMAGE}]})),
        ("PATCH", PROGRAM, response(200, deployable(bitstream_id=IMAGE))),
    ]
    (names, values), sent, _ = program(script, "sim-host-01_intel-n6001-0", "nlb-afu")
    assert sent.script == []
    _, _, body, headers = sent.sent[-1]
    assert sent.params[1] == {"name": "nlb-afu", "limit": client.PAGE_SIZE}  # images by name
    assert body == [{"path": "/program", "op": "replace", "value": [{"image_uuid": IMAGE}]}]
    assert headers["OpenStack-API-Version"] == "accelerator 2.7"
    assert dict(zip(names, values, strict=True)) == {
        "uuid": DEP,
        "name": "sim-host-01_intel-n6001-0",
        "bitstream_id": IMAGE,
    }


def test_program_follows_the_job_after_202_until_it_succeeds(monkeypatch, capsys):
    accepted = {"job_uuid": JOB, "rollout_uuid": ROLLOUT, "links": []}
    script = [
        ("PATCH", PROGRAM, response(202, accepted)),
        ("GET", JOBS, response(200, {"jobs": [job("dispatched")]})),
        ("GET", JOBS, response(200, {"jobs": [job("flashing")]})),
        ("GET", JOBS, response(200, {"jobs": [job("flashing")]})),  # no change: no new line
        ("GET", JOBS, response(200, {"jobs": [job("succeeded")]})),
        ("GET", f"/deployables/{DEP}", response(200, deployable(bitstream_id=IMAGE))),
    ]
    (names, values), sent, slept = program(
        script, DEP, IMAGE, "--interval", "0.5", monkeypatch=monkeypatch
    )
    assert sent.script == []
    assert slept == [0.5, 0.5, 0.5]
    # The jobs list (2.4) is asked at the client's microversion, the newest it knows.
    assert {h["OpenStack-API-Version"] for m, u, _, h in sent.sent if u == JOBS} == {
        "accelerator 2.7"
    }
    err = capsys.readouterr()
    assert err.out == ""
    lines = err.err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"Programming {DEP}: dispatched",
        f"Programming {DEP}: flashing",
        f"Programming {DEP}: succeeded",
    ]
    assert all(line.endswith("s") for line in lines)  # with the seconds elapsed
    assert dict(zip(names, values, strict=True))["bitstream_id"] == IMAGE


def test_program_exits_with_the_jobs_error_when_the_load_fails(monkeypatch):
    failed = job("failed", error_code="incompatible-image", error="PR interface id mismatch")
    script = [
        ("PATCH", PROGRAM, response(202, {"job_uuid": JOB, "rollout_uuid": ROLLOUT})),
        ("GET", JOBS, response(200, {"jobs": [job("flashing"), job("x", uuid="other")]})),
        ("GET", JOBS, response(200, {"jobs": [failed]})),
    ]
    with pytest.raises(exceptions.CommandError) as err:
        program(script, DEP, IMAGE, monkeypatch=monkeypatch)
    text = str(err.value)
    assert "ended failed: incompatible-image: PR interface id mismatch" in text
    assert JOB in text
    assert ROLLOUT in text


def test_program_no_wait_prints_the_job_and_rollout():
    script = [("PATCH", PROGRAM, response(202, {"job_uuid": JOB, "rollout_uuid": ROLLOUT}))]
    (names, values), sent, _ = program(script, DEP, IMAGE, "--no-wait")
    assert (names, values) == (("job_uuid", "rollout_uuid"), (JOB, ROLLOUT))
    assert len(sent.sent) == 1


def test_program_refusal_carries_the_apis_message():
    refusal = {"error_message": json.dumps({"faultstring": "Load failed: hw-error"})}
    script = [("PATCH", PROGRAM, response(409, refusal))]
    with pytest.raises(client.ApiError) as err:
        program(script, DEP, IMAGE)
    assert (err.value.status, err.value.api_message) == (409, "Load failed: hw-error")


@pytest.mark.parametrize(
    ("listed", "message"),
    [([], "No deployable is named 'fpga0'"), ([{"name": "fpga0", "uuid": DEP}] * 2, "2 deploy")],
)
def test_program_deployable_name_must_name_exactly_one(listed, message):
    listed = [*listed, {"name": "fpga1", "uuid": "u1"}]
    script = [("GET", "/deployables", response(200, {"deployables": listed}))]
    with pytest.raises(exceptions.CommandError, match=message):
        program(script, "fpga0", IMAGE)


def test_program_refuses_a_non_positive_interval_before_sending_anything():
    with pytest.raises(exceptions.CommandError, match="--interval"):
        program([], DEP, IMAGE, "--interval", "0")


def test_follow_job_redraws_one_line_on_a_terminal():
    jobs = iter([job("draining"), job("failed", error_code="hw-error")])
    now = iter([10.0, 13.4, 16.9])
    out = Tty()
    last = progress.follow_job(
        lambda: next(jobs), out, "Programming d", sleep=lambda _: None, clock=lambda: next(now)
    )
    assert last["state"] == "failed"
    assert out.getvalue() == (
        "\r\x1b[KProgramming d: draining, 3s\r\x1b[KProgramming d: failed, 6s (hw-error)\n"
    )
