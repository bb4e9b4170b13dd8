"""Real servers for tests: Daphne processes on the test database, and headless Chromium."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL naming the database the tests are using right now."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class DaphneProcess:
    def __init__(self, port: int, proc: subprocess.Popen, log_path: Path, env: dict):
        self.port = port
        self.proc = proc
        self.log_path = log_path
        self.env = env
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    def stop(self):
        # A test server holds nothing worth a graceful shutdown (its log is unbuffered, its
        # writes committed), and a graceful one waits out the close of every open socket, up to
        # seconds a test on a loaded machine: it is killed at once.
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_healthy(self, healthy=(200,)) -> "DaphneProcess":
        """Wait until /healthz answers 200 (or another of `healthy`: 503 for a server started
        with a service down on purpose)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status in healthy:
                        return self
            except urllib.error.HTTPError as answer:
                if answer.code in healthy:
                    return self
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"daphne did not become healthy:\n{self.log()}")


def daphne_env(**env_overrides) -> dict:
    """The environment of a Daphne process on the test database: this process's, as it is now."""
    env = os.environ.copy()
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "SECRET_KEY": "test-only-secret-key-not-for-production",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_COOKIES": "0",
            "DEBUG": "0",
            "EVENT_CATCHUP_SECONDS": "1",
            # No tile server: the console's map draws on a plain background, offline.
            "MAP_TILE_URL": "",
            # Browser tests sign in with a session cookie (force_login): no second factor, unless
            # a test asks for it (OTP_REQUIRED_ROLES=...).
            "OTP_REQUIRED_ROLES": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
        env["CHANNEL_PREFIX"] = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
        env["CACHE_PREFIX"] = settings.CACHES["default"].get("KEY_PREFIX", "")
    env.update({k: str(v) for k, v in env_overrides.items()})
    return env


def spawn_daphne(log_dir: Path, env: dict) -> DaphneProcess:
    """Start `daphne config.asgi:application` on a free port with `env`, without waiting."""
    port = free_port()
    log_path = log_dir / f"daphne-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed by the process's end
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=BASE_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return DaphneProcess(port, proc, log_path, env)


def start_daphne(log_dir: Path, healthy=(200,), **env_overrides) -> DaphneProcess:
    """Start Daphne against the test database and wait until it is healthy."""
    return spawn_daphne(log_dir, daphne_env(**env_overrides)).wait_healthy(healthy)


def _same_env(a: dict, b: dict) -> bool:
    # pytest names the running test in the environment; Daphne reads nothing of it.
    a, b = dict(a), dict(b)
    a.pop("PYTEST_CURRENT_TEST", None)
    b.pop("PYTEST_CURRENT_TEST", None)
    return a == b


class DaphneSpare:
    """One Daphne process started ahead, booting (Django, the app: about 1.5 s) while a test
    runs, for the next test that asks for one: a test still gets a process of its own that no
    test used before, and waits only for its health check. A spare whose environment is not the
    one asked for (another setting, or this process's environment changed since) is stopped and
    a process started as asked. A booting process reads nothing of the database (the health
    check, in the test that takes it, is its first query)."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.spare: DaphneProcess | None = None
        # A test may start two at once, from two threads (tests/test_multiprocess.py).
        self._lock = threading.Lock()

    def start(self, healthy=(200,), **env_overrides) -> DaphneProcess:
        env = daphne_env(**env_overrides)
        with self._lock:
            server, self.spare = self.spare, None
        if server is not None and (not _same_env(server.env, env) or server.proc.poll() is not None):
            server.stop()
            server = None
        if server is None:
            server = spawn_daphne(self.log_dir, env)
        try:
            server.wait_healthy(healthy)
        finally:
            # The next test's, with no setting of its own (as most ask).
            with self._lock:
                if self.spare is None:
                    self.spare = spawn_daphne(self.log_dir, daphne_env())
        return server

    def stop(self):
        with self._lock:
            if self.spare is not None:
                self.spare.stop()
                self.spare = None


def session_cookie_for(user) -> dict:
    """A signed-in session for `user`, as a cookie a browser or websocket client can send."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
