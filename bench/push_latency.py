"""Push latency: from the start of an assign request to every tablet of the unit holding it.

    .venv/bin/python bench/push_latency.py [--tablets 500] [--incidents 200] [--rate 5]
                                           [--mode embedded|production|both] [--no-floor]

For each mode it builds its own database, starts Daphne, signs N tablets in (two responders
on shift per unit), connects them to /ws/field/, and posts M incidents and their assigns to
the API at a steady rate, as a CAD would. Each tablet records when it receives the
`assignment.created` of each assignment; 10% of the tablets drop their connection during the
run and come back with `resume`. Then the same clients, rate and drops run against the floor
(bench/floor_server.py: a bare `websockets` server that pushes from memory), and one table
prints both, with the ratio. See bench/README.md. This is a benchmark, not a test: pytest does
not collect it and it asserts nothing; it reports.

Everything it starts listens on 127.0.0.1 and is stopped on the way out, whatever happens.
"""

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tablets import Counts, Fleet, call_location, cause_details, cause_rows, now

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Fixed so a kept work directory (--keep) can be served again by hand; its databases are throwaway.
BENCH_SECRET_KEY = "bench-only-secret-key-for-throwaway-databases-0123456789"


# --- processes -------------------------------------------------------------------------------------
class Processes:
    """Every subprocess the benchmark starts, stopped in reverse order on the way out."""

    def __init__(self):
        self.running: list[tuple[str, subprocess.Popen, object]] = []

    def start(self, name: str, argv: list[str], env: dict, log_path: Path) -> subprocess.Popen:
        log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.running.append((name, proc, log))
        return proc

    def stop(self, proc: subprocess.Popen | None = None) -> None:
        for entry in list(reversed(self.running)):
            _name, p, log = entry
            if proc is not None and p is not proc:
                continue
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
            log.close()
            self.running.remove(entry)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{url} exited early; its log:\n{log_path.read_text(errors='replace')[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(
        f"{url} did not become healthy; its log:\n{log_path.read_text(errors='replace')[-4000:]}"
    )


def require_local(url: str, what: str) -> None:
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOCAL_HOSTS:
        raise SystemExit(
            f"{what} must point at 127.0.0.1, not {host!r}: the benchmark only talks to this machine."
        )


# --- one measured run --------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    http_urls: list[str]
    ws_urls: list[str]
    spec: dict
    pids: list[int] = field(default_factory=list)
    span_files: list[Path] = field(default_factory=list)  # config/spans.py, one per server


@dataclass
class Made:
    number: int
    unit: int
    assignment_id: str
    started: float
    answered: float


@dataclass
class Result:
    name: str
    made: list[Made] = field(default_factory=list)
    live_ms: list[float] = field(default_factory=list)
    reconnect_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    expected: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    tablets: Counts = field(default_factory=Counts)  # duplicates, drops and their causes, resyncs
    unit_waits: int = 0
    connect_seconds: float = 0.0
    cleared: bool = False
    load_average: float = 0.0
    note: str = ""
    # The server's timing spans (config/spans.py): stage label -> milliseconds per assign.
    stages: dict[str, list[float]] = field(default_factory=dict)
    queries: list[int] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    # CPU the server processes used while the assigns were posted (user + system).
    server_cpu_s: float = 0.0
    # The garbage collector's full passes in the servers while the assigns ran (ms each): every
    # socket of a process waits while one runs (config/collector.py).
    gc_passes: list[float] = field(default_factory=list)


class Measure:
    def __init__(self, target: Target, args, rng_seed: int):
        self.t = target
        self.args = args
        self.rng = random.Random(rng_seed)
        self.units = target.spec["units"]
        self.fleet = Fleet(target.spec, target.ws_urls, rng_seed)
        self.by_unit = self.fleet.by_unit
        self.free: deque[int] = deque(sorted(self.by_unit))
        self.want_replay: deque[int] = deque()
        clear = args.clear
        if clear == "auto":
            # Spare units cover the tablets that are away; past that, units must be reused.
            clear = "always" if args.incidents > 0.8 * len(self.free) else "never"
        self.clear = clear == "always"
        self.result = Result(target.name, cleared=self.clear)

    def _pick_unit(self) -> int | None:
        while self.want_replay:
            unit = self.want_replay.popleft()
            tablets = self.by_unit[unit]
            if unit in self.free and any(not t.live for t in tablets) and any(t.live for t in tablets):
                self.free.remove(unit)
                return unit
        for _ in range(len(self.free)):
            unit = self.free.popleft()
            if self.fleet.unit_live(unit):
                return unit
            self.free.append(unit)
        return None

    async def _call(self, number: int, http: httpx.AsyncClient) -> None:
        body = {
            "external_id": f"bench-{self.t.name}-{number}",
            "source": "911",
            "call_type": self.t.spec["call_type"],
            "priority": 3,
            "received_at": datetime.now(UTC).isoformat(),
            "location": call_location(number),
            "caller": {"name": "Bench Caller", "phone": "555-0100"},
            "narrative": "Person sitting on the sidewalk, appears confused, asking for help. " * 3,
            "screening": {
                "weapons": False,
                "violence": False,
                "medical_emergency": False,
                "police_only": False,
            },
        }
        try:
            answer = await http.post("/api/v1/incidents/", json=body)
        except httpx.HTTPError as exc:
            self.result.errors.append(f"incident {number}: {type(exc).__name__}")
            return
        if answer.status_code != 201:
            self.result.errors.append(f"incident {number}: {answer.status_code} {answer.text[:200]}")
            return
        incident_id = answer.json()["id"]
        unit = self._pick_unit()
        waited_until = now() + 10
        if unit is None:
            self.result.unit_waits += 1
        while unit is None and now() < waited_until:
            await asyncio.sleep(0.01)
            unit = self._pick_unit()
        if unit is None:
            self.result.errors.append(f"assign {number}: no free unit with its tablets connected")
            return
        callsign = self.units[unit]["callsign"]
        started = now()
        try:
            answer = await http.post(f"/api/v1/incidents/{incident_id}/assign", json={"unit": callsign})
        except httpx.HTTPError as exc:
            self.result.errors.append(f"assign {number}: {type(exc).__name__}")
            self.free.append(unit)
            return
        answered = now()
        if answer.status_code != 201:
            self.result.errors.append(f"assign {number}: {answer.status_code} {answer.text[:200]}")
            self.free.append(unit)
            return
        made = Made(number, unit, answer.json()["id"], started, answered)
        self.result.made.append(made)
        if self.clear:
            await self._clear(made, http)

    async def _clear(self, made: Made, http: httpx.AsyncClient) -> None:
        """The team works the call and clears, so the unit can take another."""
        deadline = now() + 30
        while now() < deadline and not all(made.assignment_id in t.received for t in self.by_unit[made.unit]):
            await asyncio.sleep(0.05)
        for step in ("en_route", "on_scene", "cleared"):
            try:
                answer = await http.post(
                    f"/api/v1/assignments/{made.assignment_id}/status", json={"status": step}
                )
            except httpx.HTTPError as exc:
                self.result.errors.append(f"status {made.number} {step}: {type(exc).__name__}")
                return
            if answer.status_code != 200:
                self.result.errors.append(
                    f"status {made.number} {step}: {answer.status_code} {answer.text[:200]}"
                )
                return
        self.free.append(made.unit)

    async def _drops(self, duration: float) -> None:
        def replay_next(tablet) -> None:
            # The next assign goes to this unit while one of its tablets is away.
            self.want_replay.append(tablet.unit)

        await self.fleet.drop_some(
            self.rng, self.args.drop_fraction, duration, (0.1, 0.8), tuple(self.args.outage), replay_next
        )

    def _profile(self, duration: float) -> list[subprocess.Popen]:
        """With --py-spy, sample each server process for the measured phase (for analysis only)."""
        if not self.args.py_spy:
            return []
        profilers = []
        for n, pid in enumerate(self.t.pids):
            out = self.args.workdir / f"{self.t.name}-{n + 1}.py-spy.txt"
            argv = [self.args.py_spy, "record", "-p", str(pid), "-d", str(math.ceil(duration)), "-r", "100"]
            argv += ["--nonblocking", "-f", "raw", "-o", str(out)]
            profilers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return profilers

    async def run(self) -> Result:
        args = self.args
        async with self.fleet:
            self.result.connect_seconds, ready = await self.fleet.connect(
                args.connect_concurrency, args.connect_timeout
            )
            tablets = len(self.fleet.tablets)
            if ready < tablets:
                self.result.note = (
                    f"only {ready} of {tablets} tablets connected "
                    f"within {args.connect_timeout:.0f} s "
                    f"({', '.join(self.fleet.refusals()) or 'no error seen'}); not measured"
                )
                return self.result
            await asyncio.sleep(args.settle)
            # Other work on the machine skews every figure; the table shows how busy it was.
            self.result.load_average = os.getloadavg()[0]
            self.fleet.measure()
            duration = args.incidents / args.rate
            profilers = self._profile(duration)
            cpu_before = cpu_seconds(self.t.pids)
            clients = [
                httpx.AsyncClient(
                    base_url=url,
                    headers={"Authorization": f"Token {self.t.spec['api_key']}"},
                    timeout=30,
                    limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
                )
                for url in self.t.http_urls
            ]
            try:
                drops = asyncio.create_task(self._drops(duration))
                calls = []
                start = now()
                for number in range(args.incidents):
                    await asyncio.sleep(max(0.0, start + number / args.rate - now()))
                    http = clients[number % len(clients)]
                    calls.append(asyncio.create_task(self._call(number, http)))
                await asyncio.gather(*calls)
                self.result.server_cpu_s = cpu_seconds(self.t.pids) - cpu_before
                await drops
                for p in profilers:
                    await asyncio.to_thread(p.wait, 60)
                deadline = now() + args.grace
                while now() < deadline and not self.fleet.has_all(self.result.made):
                    await asyncio.sleep(0.1)
            finally:
                for c in clients:
                    await c.aclose()
        self._tally()
        self._stages()
        return self.result

    def _stages(self) -> None:
        """One assign's time, stage by stage, from the spans the servers recorded during this
        run (config/spans.py) set beside the benchmark's own times: all of them are
        time.perf_counter, the machine's monotonic clock."""
        assigns, sockets = {}, {}
        r = self.result
        began = min((made.started for made in r.made), default=0.0)
        ended = max((made.answered for made in r.made), default=0.0) + 1.0
        for path in self.t.span_files:
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                span = json.loads(line)
                if span["kind"] == "assign" and "assignment" in span:
                    assigns[span["assignment"]] = span
                elif span["kind"] == "socket":
                    sockets.setdefault(span["event"], []).append(span)
                elif span["kind"] == "gc" and began <= span["start"] <= ended:
                    r.gc_passes.append((span["end"] - span["start"]) * 1000)
        if not assigns:
            return
        stages: dict[str, list[float]] = {label: [] for label, *_ in STAGES}
        for made in r.made:
            span = assigns.get(made.assignment_id)
            if span is None or not all(key in span for key in SPAN_KEYS):
                continue
            span = dict(span, started=made.started, answered=made.answered)
            tablets = self.by_unit[made.unit]
            live = [
                t.received[made.assignment_id]
                for t in tablets
                if made.assignment_id in t.received
                and not t.away_between(made.started, t.received[made.assignment_id])
            ]
            # The unit's sockets, in the order they sent, against its tablets in the order they
            # received (two tablets: each socket's frame is the next one a tablet gets).
            sent = sorted(
                (s for event in span["events"] for s in sockets.get(event, [])), key=lambda s: s["sent"]
            )
            if len(sent) == len(tablets) == len(live):
                for socket_span, got in zip(sent, sorted(live), strict=True):
                    span_d = dict(span, got=socket_span["got"], sent=socket_span["sent"], received=got)
                    for label, begin, end in STAGES:
                        if begin in ("push", "got", "sent"):
                            stages[label].append((span_d[end] - span_d[begin]) * 1000)
            for label, begin, end in STAGES:
                if begin not in ("push", "got", "sent"):
                    stages[label].append((span[end] - span[begin]) * 1000)
            r.queries.append(span["queries"])
            r.query_ms.append(span["query_s"] * 1000)
        r.stages = stages

    def _tally(self) -> None:
        r = self.result
        r.answer_ms = [(made.answered - made.started) * 1000 for made in r.made]
        d = self.fleet.tally(r.made)
        r.expected, r.lost, r.live_ms, r.reconnect_ms = d.expected, d.lost, d.live_ms, d.replay_ms
        r.tablets = self.fleet.counts()


# What the breakdown shows: a label, and the span times (config/spans.py, and the benchmark's
# `started`, `answered`, `received`) it runs between.
STAGES = [
    ("HTTP: request sent -> Daphne hands it to the app", "started", "app"),
    ("Django: middleware, thread hop -> the view", "app", "view"),
    ("authentication (API token)", "auth", "auth_end"),
    ("permission, body parsed -> the service", "auth_end", "service"),
    ("the service's queries, up to COMMIT", "service", "commit"),
    ("COMMIT", "commit", "hooks"),
    ("push to the channel layer (awaited)", "push", "push_end"),
    ("the answer: serialised, back out through Daphne", "hooks_end", "answer"),
    ("HTTP: the answer -> the benchmark has it", "answer", "answered"),
    ("socket: push began -> the socket has the event", "push", "got"),
    ("socket: send (under the socket's lock)", "got", "sent"),
    ("socket: sent -> the tablet has it", "sent", "received"),
]
SPAN_KEYS = (
    "app",
    "view",
    "auth",
    "auth_end",
    "service",
    "commit",
    "hooks",
    "hooks_end",
    "push",
    "push_end",
    "answer",
)


# --- the modes ---------------------------------------------------------------------------------------
def server_env(args, database_url: str, redis_url: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": BENCH_SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_COOKIES": "0",
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    if redis_url:
        env.update({"REDIS_URL": redis_url, "CHANNEL_PREFIX": args.channel_prefix})
    if database_url.startswith("postgres"):
        env["DATABASE_POOL"] = "1"
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def postgres_reset(url: str, drop_only: bool = False) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def redis_clear(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


def prepare_database(env: dict, tablets: int, workdir: Path, label: str) -> dict:
    step = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if step.returncode:
        raise RuntimeError(f"migrate failed ({label}):\n{step.stdout}\n{step.stderr}")
    step = subprocess.run(
        [PYTHON, "bench/fixture.py", str(tablets)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if step.returncode:
        raise RuntimeError(f"fixture failed ({label}):\n{step.stdout}\n{step.stderr}")
    spec = json.loads(step.stdout.strip().splitlines()[-1])
    (workdir / f"{label}-tablets.json").write_text(json.dumps(spec))
    return spec


def start_daphnes(
    procs: Processes, env: dict, count: int, workdir: Path, label: str, spans: bool = True
) -> list:
    """Start `count` Daphne processes; with `spans`, each records its timing spans
    (config/spans.py) in the work directory."""
    urls = []
    started = []
    for n in range(count):
        port = free_port()
        log_path = workdir / f"{label}-daphne-{n + 1}.log"
        argv = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        proc_env = dict(env)
        if spans:
            proc_env["BENCH_SPANS"] = str(workdir / f"{label}-spans-{n + 1}.jsonl")
        started.append(
            (f"http://127.0.0.1:{port}", procs.start(f"daphne-{n}", argv, proc_env, log_path), log_path)
        )
    for url, proc, log_path in started:
        wait_healthy(url, proc, log_path)
        urls.append((url, proc.pid))
    return urls


def run_app(mode: str, args, procs: Processes, workdir: Path) -> Result:
    print(f"[{mode}] preparing the database ...", flush=True)
    if mode == "embedded":
        database_url = f"sqlite:///{workdir / 'embedded.sqlite3'}"
        env = server_env(args, database_url)
        servers = 1
    else:
        require_local(args.postgres_url, "--postgres-url")
        require_local(args.redis_url, "--redis-url")
        postgres_reset(args.postgres_url)
        redis_clear(args.redis_url, args.channel_prefix)
        env = server_env(args, args.postgres_url, args.redis_url)
        servers = 2
    try:
        spec = prepare_database(env, args.tablets, workdir, mode)
        print(f"[{mode}] starting {servers} Daphne process(es) ...", flush=True)
        started = start_daphnes(procs, env, servers, workdir, mode, spans=not args.no_spans)
        urls = [url for url, _pid in started]
        ws_urls = [u.replace("http://", "ws://") + "/ws/field/" for u in urls]
        span_files = (
            [] if args.no_spans else [workdir / f"{mode}-spans-{n + 1}.jsonl" for n in range(servers)]
        )
        target = Target(mode, urls, ws_urls, spec, [pid for _url, pid in started], span_files)
        print(
            f"[{mode}] connecting {args.tablets} tablets, then {args.incidents} assigns at {args.rate}/s ...",
            flush=True,
        )
        result = asyncio.run(Measure(target, args, args.seed).run())
    finally:
        procs.stop()
        if mode == "production" and not args.keep:
            postgres_reset(args.postgres_url, drop_only=True)
            redis_clear(args.redis_url, args.channel_prefix)
    return result


def floor_spec(tablets: int) -> dict:
    units = [{"id": f"BENCH-{n + 1}", "callsign": f"BENCH-{n + 1}"} for n in range((tablets + 1) // 2)]
    return {
        "api_key": "floor",
        "call_type": "BENCHWELFARE",
        "session_cookie": "sessionid",
        "latest_event_id": 0,
        "units": units,
        "tablets": [{"session": secrets.token_urlsafe(24), "unit": n // 2} for n in range(tablets)],
    }


def run_floor(args, procs: Processes, workdir: Path) -> Result:
    spec = floor_spec(args.tablets)
    spec_path = workdir / "floor-tablets.json"
    spec_path.write_text(json.dumps(spec))
    http_port, ws_port = free_port(), free_port()
    log_path = workdir / "floor.log"
    argv = [
        PYTHON,
        "bench/floor_server.py",
        "--http-port",
        str(http_port),
        "--ws-port",
        str(ws_port),
        "--tablets",
        str(spec_path),
    ]
    try:
        print("[floor] starting the websockets floor server ...", flush=True)
        proc = procs.start("floor", argv, dict(os.environ, PYTHONUNBUFFERED="1"), log_path)
        wait_healthy(f"http://127.0.0.1:{http_port}", proc, log_path)
        target = Target(
            "floor",
            [f"http://127.0.0.1:{http_port}"],
            [f"ws://127.0.0.1:{ws_port}/ws/field/"],
            spec,
            [proc.pid],
        )
        print(
            f"[floor] connecting {args.tablets} tablets, then {args.incidents} assigns at {args.rate}/s ...",
            flush=True,
        )
        return asyncio.run(Measure(target, args, args.seed).run())
    finally:
        procs.stop()


# --- the table ---------------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


# Push latency targets per mode (issue 17): p50, p99 in ms. Embedded keeps issue 5's p99.
TARGETS = {"embedded": (18.0, 100.0), "production": (20.0, 60.0)}


def table(results: list[Result], floor: Result | None, args) -> str:
    clearing = any(r.cleared for r in results + ([floor] if floor else []))
    columns = results + ([floor] if floor else [])
    rows: list[tuple[str, list, bool]] = [  # label, values per column, show ratio
        ("assignments made", [len(r.made) for r in columns], False),
        ("deliveries expected (2 tablets/unit)", [r.expected for r in columns], False),
        ("live deliveries", [len(r.live_ms) for r in columns], False),
        ("  p50 ms", [percentile(r.live_ms, 50) for r in columns], True),
        ("  p95 ms", [percentile(r.live_ms, 95) for r in columns], True),
        ("  p99 ms", [percentile(r.live_ms, 99) for r in columns], True),
        ("  max ms", [max(r.live_ms) if r.live_ms else None for r in columns], True),
        ("deliveries across a reconnect (replay)", [len(r.reconnect_ms) for r in columns], False),
        ("  p50 ms (includes the outage)", [percentile(r.reconnect_ms, 50) for r in columns], True),
        (
            "  max ms (includes the outage)",
            [max(r.reconnect_ms) if r.reconnect_ms else None for r in columns],
            True,
        ),
        ("lost", [r.lost for r in columns], False),
        ("duplicated assignment.created", [r.tablets.duplicated_assignments for r in columns], False),
        ("duplicated events (any type)", [r.tablets.duplicated_events for r in columns], False),
        ("assign HTTP answer p50 ms", [percentile(r.answer_ms, 50) for r in columns], True),
        ("assign HTTP answer p99 ms", [percentile(r.answer_ms, 99) for r in columns], True),
        ("request errors", [len(r.errors) for r in columns], False),
        (
            "planned drops / unplanned drops",
            [f"{r.tablets.planned_drops}/{r.tablets.unplanned_drops}" for r in columns],
            False,
        ),
        *(
            (f"  unplanned: {label}", values, False)
            for label, values in cause_rows([r.tablets.causes for r in columns])
        ),
        ("resyncs", [r.tablets.resyncs for r in columns], False),
        ("seconds to connect all tablets", [r.connect_seconds for r in columns], False),
        ("  failed or timed-out handshakes meanwhile", [r.tablets.connect_failures for r in columns], False),
        (
            "server CPU ms per incident (post + assign)",
            [1000 * r.server_cpu_s / len(r.made) if r.made else None for r in columns],
            True,
        ),
        ("1-min load average before assigning", [r.load_average for r in columns], False),
    ]
    heads = [r.name for r in columns] + ([f"{r.name[:4]}/floor" for r in results] if floor else [])
    width = max(len(label) for label, _, _ in rows) + 2
    lines = [
        f"Push latency: {args.tablets} tablets ({(args.tablets + 1) // 2} units), {args.incidents} incidents "
        f"assigned at {args.rate:g}/s, {args.drop_fraction:.0%} of tablets dropped for "
        f"{args.outage[0]:g}-{args.outage[1]:g} s and resumed"
        + ("; each assignment cleared (en_route, on_scene, cleared) once delivered" if clearing else ""),
        "latency = from the start of the assign request to the tablet having assignment.created",
        "".ljust(width) + "".join(h.rjust(16) for h in heads),
    ]
    for label, values, ratio in rows:
        cells = [fmt(v) for v in values]
        if floor:
            for i in range(len(results)):
                ours, base = values[i], values[-1]
                if ratio and isinstance(ours, float) and isinstance(base, float) and base > 0:
                    cells.append(f"{ours / base:.1f}x")
                else:
                    cells.append("")
        lines.append(label.ljust(width) + "".join(c.rjust(16) for c in cells))
    lines.append("")
    lines.append(
        "Targets (2 cores): 500 tablets, 0 lost, 0 duplicated; "
        + "; ".join(f"{mode} p50 <= {p50:g} ms, p99 <= {p99:g} ms" for mode, (p50, p99) in TARGETS.items())
    )
    for r in results:
        misses = []
        if r.note:
            misses.append(r.note)
        if args.tablets < 500:
            misses.append(f"ran {args.tablets} tablets, not 500")
        if r.lost:
            misses.append(f"{r.lost} lost")
        if r.tablets.duplicated_assignments or r.tablets.duplicated_events:
            misses.append(f"{r.tablets.duplicated_events} duplicated")
        p50, p99 = percentile(r.live_ms, 50), percentile(r.live_ms, 99)
        want_p50, want_p99 = TARGETS[r.name]
        if p50 is None or p50 > want_p50:
            misses.append(f"p50 {fmt(p50)} ms > {want_p50:g}")
        if p99 is None or p99 > want_p99:
            misses.append(f"p99 {fmt(p99)} ms > {want_p99:g}")
        if r.errors:
            misses.append(f"{len(r.errors)} request errors")
        lines.append(f"  {r.name}: " + ("met" if not misses else "MISSED: " + "; ".join(misses)))
    for r in columns:
        for error in r.errors[:5]:
            lines.append(f"  {r.name} error: {error}")
        if r.tablets.unplanned_drops:
            lines.append(f"  {r.name} unplanned drops: {cause_details(r.tablets.causes)}")
    return "\n".join(lines)


def breakdown(results: list[Result]) -> str:
    """Where one assign's time goes, per stage: the p50 and the mean over the run's assigns."""
    shown = [r for r in results if r.stages]
    if not shown:
        return ""
    width = max(len(label) for label, *_ in STAGES) + 4
    counts = ", ".join(f"{r.name}: {len(next(iter(r.stages.values())))} assigns" for r in shown)
    lines = [
        "Where one assign's time goes: each stage's p50 / mean in ms over the run's assigns "
        f"({counts}), from the spans the servers recorded during the run (config/spans.py)",
        "".ljust(width) + "".join(r.name.rjust(22) for r in shown),
    ]

    def cell(values: list[float]) -> str:
        if not values:
            return "-"
        return f"{percentile(values, 50):.1f} / {sum(values) / len(values):.1f}"

    for label, _begin, _end in STAGES:
        lines.append(label.ljust(width) + "".join(cell(r.stages[label]).rjust(22) for r in shown))
    answer_stages = [label for label, begin, _ in STAGES if not label.startswith("socket")]
    lines.append(
        "  the answer's stages, means added up".ljust(width)
        + "".join(
            f"{sum(sum(r.stages[s]) / max(1, len(r.stages[s])) for s in answer_stages):.1f}".rjust(22)
            for r in shown
        )
    )
    lines.append(
        "  assign HTTP answer, measured (p50 / mean)".ljust(width)
        + "".join(cell(r.answer_ms).rjust(22) for r in shown)
    )
    lines.append(
        "SQL statements per assign (p50), ms in them (p50 / mean)".ljust(width)
        + "".join(
            f"{percentile(r.queries, 50)}, {cell(r.query_ms)}".rjust(22) if r.queries else "-".rjust(22)
            for r in shown
        )
    )
    lines.append(
        "collector's full passes while assigning: count, max ms".ljust(width)
        + "".join(
            (f"{len(r.gc_passes)}, {max(r.gc_passes):.1f}" if r.gc_passes else "0, -").rjust(22)
            for r in shown
        )
    )
    lines.append(
        "(the stages between them are not shown: the unit's and incident's events built, the "
        "service's return; a socket's stages count each live delivery)"
    )
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Push latency of assignments to tablets, against the floor.")
    parser.add_argument("--tablets", type=int, default=500, help="tablets connected (two per unit)")
    parser.add_argument("--incidents", type=int, default=200, help="incidents posted and assigned")
    parser.add_argument("--rate", type=float, default=5.0, help="incidents assigned per second")
    parser.add_argument("--mode", choices=["embedded", "production", "both"], default="both")
    parser.add_argument("--no-floor", action="store_true", help="skip the websockets floor")
    parser.add_argument(
        "--no-spans",
        action="store_true",
        help="do not record the servers' timing spans (the breakdown of one assign)",
    )
    parser.add_argument("--drop-fraction", type=float, default=0.10, help="share of tablets that drop once")
    parser.add_argument(
        "--outage",
        type=float,
        nargs=2,
        default=[1.0, 3.0],
        metavar=("MIN", "MAX"),
        help="seconds a dropped tablet stays away",
    )
    parser.add_argument(
        "--grace", type=float, default=15.0, help="seconds to wait after the last assign for late deliveries"
    )
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between connecting and assigning")
    parser.add_argument(
        "--clear",
        choices=["auto", "always", "never"],
        default="auto",
        help="clear each assignment once delivered so the unit can be reused "
        "(auto: only when incidents exceed 80%% of the units)",
    )
    parser.add_argument("--connect-concurrency", type=int, default=10, help="tablets handshaking at once")
    parser.add_argument("--connect-timeout", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cr_bench"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"))
    parser.add_argument("--channel-prefix", default="bench")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra setting for the Daphne processes, e.g. EVENT_CATCHUP_SECONDS=5",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory and the PostgreSQL database"
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        default="",
        help="a py-spy binary: sample every server during the measured phase, for analysis "
        "(keeps the work directory; raw flamegraph text is written there)",
    )
    args = parser.parse_args(argv)
    if args.tablets < 2 or args.incidents < 1 or args.rate <= 0:
        parser.error("need at least 2 tablets, 1 incident and a positive rate")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cr-bench-"))
    args.workdir = workdir
    if args.py_spy:
        args.keep = True
    procs = Processes()

    def stop_on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop_on_signal)
    modes = ["embedded", "production"] if args.mode == "both" else [args.mode]
    results = []
    floor = None
    try:
        for mode in modes:
            results.append(run_app(mode, args, procs, workdir))
        if not args.no_floor:
            floor = run_floor(args, procs, workdir)
    finally:
        procs.stop()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(results, floor, args))
    if any(r.stages for r in results):
        print()
        print(breakdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
