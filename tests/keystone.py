"""A real Keystone for the auth tests, started from the installed ``keystone`` package.

``running_keystone(folder)`` writes a ``keystone.conf`` (SQLite, fernet tokens), runs
``keystone-manage db_sync``, ``fernet_setup``, ``credential_setup`` and ``bootstrap`` (which
makes the admin, manager, member, reader and service roles, with admin -> manager -> member
-> reader implied, and gives the bootstrap admin the system-scoped admin role), serves
Keystone's WSGI app with gunicorn on a free loopback port, then creates the personas the
policy tests need: two projects with a user per role, a service user acting as Nova, and the
service user cyborg-lite's ``auth_token`` validates tokens with.
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import os
import pwd
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneauth1.service_token import ServiceTokenAuthWrapper
from keystoneclient.v3 import client as ks_client

from tests.functional.servers import executable, free_port

START_TIMEOUT = 90.0
SETUP_TIMEOUT = 180
REPO_ROOT = Path(__file__).resolve().parent.parent

PROJECT_A = "alpha"
PROJECT_B = "beta"
SERVICE_PROJECT = "service"


@dataclasses.dataclass(frozen=True)
class Persona:
    """A Keystone user and the scope its tokens are asked for."""

    username: str
    project: str | None  # project name; None for the system scope
    roles: tuple[str, ...] = ()  # roles assigned on ``project`` when the user is created

    @property
    def system(self) -> bool:
        """True for a system-scoped persona."""
        return self.project is None


# The bootstrap admin, asked for a system-scoped token ("system admin").
SYSTEM_ADMIN = Persona("admin", None)
ADMIN = Persona("alpha-admin", PROJECT_A, ("admin",))
MANAGER = Persona("alpha-manager", PROJECT_A, ("manager",))
MEMBER = Persona("alpha-member", PROJECT_A, ("member",))
READER = Persona("alpha-reader", PROJECT_A, ("reader",))
MEMBER_B = Persona("beta-member", PROJECT_B, ("member",))
ADMIN_B = Persona("beta-admin", PROJECT_B, ("admin",))
# Nova's service user: its token is the X-Service-Token on bind, unbind and delete.
NOVA = Persona("nova", SERVICE_PROJECT, ("service",))
# cyborg-lite's own service user, with which keystonemiddleware validates tokens.
CYBORG = Persona("cyborg", SERVICE_PROJECT, ("service",))

PERSONAS = (ADMIN, MANAGER, MEMBER, READER, MEMBER_B, ADMIN_B, NOVA, CYBORG)


@dataclasses.dataclass
class Keystone:
    """A running Keystone: where it is and how to get tokens from it."""

    auth_url: str  # the identity endpoint, ending in /v3
    password: str  # every persona's password
    project_ids: dict[str, str]
    _sessions: dict[Persona, ks_session.Session] = dataclasses.field(default_factory=dict)

    def auth(self, persona: Persona) -> v3.Password:
        """A keystoneauth1 password plugin for ``persona``, scoped as it says."""
        scope: dict[str, str] = (
            {"system_scope": "all"}
            if persona.system
            else {"project_name": str(persona.project), "project_domain_id": "default"}
        )
        return v3.Password(
            auth_url=self.auth_url,
            username=persona.username,
            password=self.password,
            user_domain_id="default",
            **scope,
        )

    def session(self, persona: Persona, *, service: Persona | None = None) -> ks_session.Session:
        """A keystoneauth1 session acting as ``persona``; with ``service``, every request also
        carries that persona's token as ``X-Service-Token`` (how Nova calls Cyborg)."""
        if service is None:
            if persona not in self._sessions:
                self._sessions[persona] = ks_session.Session(auth=self.auth(persona))
            return self._sessions[persona]
        wrapper = ServiceTokenAuthWrapper(self.auth(persona), self.auth(service))
        return ks_session.Session(auth=wrapper)

    def token(self, persona: Persona) -> str:
        """A token for ``persona`` (cached by its session)."""
        return str(self.session(persona).get_token())

    def authtoken_options(self) -> dict[str, object]:
        """``[keystone_authtoken]`` for a cyborg-lite API validating against this Keystone."""
        base = self.auth_url.removesuffix("/v3")
        return {
            "keystone_authtoken.www_authenticate_uri": base,
            "keystone_authtoken.auth_url": base,
            "keystone_authtoken.auth_type": "password",
            "keystone_authtoken.username": CYBORG.username,
            "keystone_authtoken.password": self.password,
            "keystone_authtoken.project_name": SERVICE_PROJECT,
            "keystone_authtoken.user_domain_id": "default",
            "keystone_authtoken.project_domain_id": "default",
            "keystone_authtoken.service_token_roles": "service",
            "keystone_authtoken.service_token_roles_required": "true",
            "keystone_authtoken.http_connect_timeout": 5,
            "keystone_authtoken.http_request_max_retries": 1,
        }


def _config(folder: Path) -> Path:
    (folder / "fernet-keys").mkdir(mode=0o700)
    (folder / "credential-keys").mkdir(mode=0o700)
    conf = folder / "keystone.conf"
    conf.write_text(
        f"""[DEFAULT]
log_file = {folder / "keystone.log"}
[database]
connection = sqlite:///{folder / "keystone.sqlite"}
[token]
provider = fernet
[fernet_tokens]
key_repository = {folder / "fernet-keys"}
[fernet_receipts]
key_repository = {folder / "fernet-keys"}
[credential]
key_repository = {folder / "credential-keys"}
[identity]
# The fewest bcrypt rounds allowed: every token request hashes a password, and strength is
# no concern for throwaway test users.
password_hash_rounds = 4
"""
    )
    return conf


def _manage(conf: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [executable("keystone-manage"), "--config-file", str(conf), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _finish(proc: subprocess.Popen[bytes], what: str) -> None:
    out, _ = proc.communicate(timeout=SETUP_TIMEOUT)
    if proc.returncode != 0:
        tail = out.decode(errors="replace")[-2000:]
        raise RuntimeError(f"keystone-manage {what} failed ({proc.returncode}):\n{tail}")


def _prepare(conf: Path, public_url: str, password: str) -> None:
    owner = ["--keystone-user", pwd.getpwuid(os.getuid()).pw_name]
    owner += ["--keystone-group", grp.getgrgid(os.getgid()).gr_name]
    # The key repositories do not touch the database: set them up while the schema is made.
    steps = [
        (_manage(conf, "db_sync"), "db_sync"),
        (_manage(conf, "fernet_setup", *owner), "fernet_setup"),
        (_manage(conf, "credential_setup", *owner), "credential_setup"),
    ]
    for proc, what in steps:
        _finish(proc, what)
    bootstrap = _manage(
        conf,
        "bootstrap",
        "--bootstrap-password",
        password,
        "--bootstrap-public-url",
        public_url,
        # keystonemiddleware looks Keystone up on the internal interface by default.
        "--bootstrap-internal-url",
        public_url,
        "--bootstrap-region-id",
        "RegionOne",
    )
    _finish(bootstrap, "bootstrap")


def _wait_up(proc: subprocess.Popen[bytes], auth_url: str, log: Path) -> None:
    probe = ks_session.Session()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"Keystone's gunicorn exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(Exception):
            if probe.get(auth_url, authenticated=False, raise_exc=False).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"Keystone did not answer on {auth_url} within {START_TIMEOUT}s")


def _populate(keystone: Keystone) -> None:
    admin = ks_client.Client(session=keystone.session(SYSTEM_ADMIN))
    roles = {r.name: r for r in admin.roles.list()}
    missing = {"admin", "manager", "member", "reader", "service"} - set(roles)
    if missing:
        raise RuntimeError(f"keystone-manage bootstrap made no {sorted(missing)} role(s)")
    for name in (PROJECT_A, PROJECT_B, SERVICE_PROJECT):
        keystone.project_ids[name] = admin.projects.create(name=name, domain="default").id
    for persona in PERSONAS:
        user = admin.users.create(
            name=persona.username, domain="default", password=keystone.password
        )
        for role in persona.roles:
            admin.roles.grant(
                roles[role], user=user, project=keystone.project_ids[str(persona.project)]
            )


@contextlib.contextmanager
def running_keystone(folder: Path) -> Iterator[Keystone]:
    """Set up and serve a Keystone under ``folder``; yields it, populated. Raises
    ``RuntimeError`` with the reason when it cannot start."""
    port = free_port()
    auth_url = f"http://127.0.0.1:{port}/v3"
    password = secrets.token_hex(12)
    conf = _config(folder)
    _prepare(conf, auth_url, password)
    log = folder / "gunicorn.log"
    env = {
        **os.environ,
        "OS_KEYSTONE_CONFIG_FILES": str(conf),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                executable("gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "8",
                "--worker-class",
                "gthread",
                "--timeout",
                "120",
                "tests.keystone_wsgi:application",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        _wait_up(proc, auth_url, log)
        keystone = Keystone(auth_url=auth_url, password=password, project_ids={})
        _populate(keystone)
        yield keystone
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
