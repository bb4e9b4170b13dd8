"""Real servers for tests: Daphne processes on the test database, and headless Chromium."""

import os
import socket
import subprocess
import sys
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
    def __init__(self, port: int, proc: subprocess.Popen, log_path: Path):
        self.port = port
        self.proc = proc
        self.log_path = log_path
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


def start_daphne(log_dir: Path, healthy=(200,), **env_overrides) -> DaphneProcess:
    """Start `daphne config.asgi:application` on a free port against the test database and
    wait until /healthz answers 200 (or another of `healthy`: 503 for a server started with
    a service down on purpose)."""
    port = free_port()
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
    log_path = log_dir / f"daphne-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed by the process's end
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=BASE_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = DaphneProcess(port, proc, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:
                if response.status in healthy:
                    return server
        except urllib.error.HTTPError as answer:
            if answer.code in healthy:
                return server
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"daphne did not become healthy:\n{server.log()}")


def session_cookie_for(user) -> dict:
    """A signed-in session for `user`, as a cookie a browser or websocket client can send."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
