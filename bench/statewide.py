"""Statewide: many programs' tablets on several Daphne processes, a steady hour and a burst.

    .venv/bin/python bench/statewide.py [--programs 20] [--tablets 4000] [--processes 4]
                                        [--steady 5 30] [--burst 20 30] [--no-floor]

One PostgreSQL database and one Redis shared by N Daphne processes (production mode). The
fixture shares the units out among the programs, each with its own CAD client; tablet i
connects to process i mod N. Once every tablet is connected the benchmark measures each
process's resident memory and, over an idle window, its CPU; then it assigns at a steady rate
and then in a burst, round the programs, while 10% of the tablets drop and resume. Per phase:
push latency p50/p99/max (from the start of the assign request to a tablet having
`assignment.created`), lost and duplicated. The floor (bench/floor_server.py: one bare
`websockets` process) runs the same tablets and schedule beside it. See bench/README.md.

A benchmark, not a test: it asserts nothing and prints a table whose last lines say which
targets were met. Bounded in time (--max-minutes); everything it starts is stopped.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from push_latency import (
    BASE_DIR,
    PYTHON,
    Processes,
    cpu_seconds,
    fmt,
    free_port,
    percentile,
    postgres_reset,
    redis_clear,
    require_local,
    server_env,
    start_daphnes,
    wait_healthy,
)
from tablets import PLANNED, Counts, Fleet, call_location, cause_details, cause_rows, now

# Targets on 2 cores (issue 17).
TARGET_P99_BURST_MS = 250.0
TARGET_IDLE_CPU = 0.10  # of one core, per process
TARGET_MB_PER_1000 = 100.0


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def raise_file_limit(wanted: int) -> int:
    """Raise this process's open-file limit (inherited by what it starts) towards `wanted`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Made:
    phase: str
    unit: int
    assignment_id: str
    started: float


@dataclass
class Phase:
    name: str
    rate: float
    seconds: float
    live_ms: list[float] = field(default_factory=list)
    replay_ms: list[float] = field(default_factory=list)
    made: int = 0
    expected: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    # Its window: from its first call to the next phase's first call; the last phase's CPU
    # window ends once every call is answered, its drops window at the end of the run.
    began: float = 0.0
    ended: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # process label -> CPU seconds
    drop_causes: Counter = field(default_factory=Counter)


@dataclass
class Outcome:
    name: str
    phases: list[Phase]
    processes: int = 1
    connected: int = 0
    live_at_end: int = 0
    connect_seconds: float = 0.0
    rss_before: list[float] = field(default_factory=list)
    rss_idle: list[float] = field(default_factory=list)
    sockets_per_process: list[int] = field(default_factory=list)
    idle_cpu: list[float] = field(default_factory=list)  # share of one core
    tablets: Counts = field(default_factory=Counts)  # duplicates, drops and their causes, resyncs
    load_average: float = 0.0
    note: str = ""


MACHINE = "the machine, all of it"
OTHERS = "everything else on the machine"


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy so far (Linux /proc/stat)."""
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_backends(url: str) -> list[int]:
    """The server processes of the connections to the benchmark's database (not this one)."""
    import psycopg

    name = urllib.parse.urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        ).fetchall()
    return [pid for (pid,) in rows]


def redis_pid(url: str) -> int | None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("server")["process_id"])
    except (redis.RedisError, KeyError, ValueError):
        return None
    finally:
        client.close()


class CpuMeter:
    """Where the CPU goes: each server process, the benchmark database's PostgreSQL backends,
    the Redis server, this benchmark, and the rest of the machine, read from /proc."""

    def __init__(self, servers: dict[str, int], postgres_url: str = "", redis_url: str = ""):
        self.servers = servers
        self.postgres_url = postgres_url
        self.redis = redis_pid(redis_url) if redis_url else None
        self.labels = [*servers]
        if postgres_url:
            self.labels.append("PostgreSQL backends (its database)")
        if self.redis:
            self.labels.append("Redis server (whole; shared)")
        self.labels += ["this benchmark (tablets, HTTP)", OTHERS, MACHINE]

    def _read(self) -> tuple[dict[str, float], dict[int, float]]:
        """CPU seconds so far per label, and per PostgreSQL backend (they come and go)."""
        seen = {label: cpu_seconds([pid]) for label, pid in self.servers.items()}
        backends = {}
        if self.postgres_url:
            backends = {pid: cpu_seconds([pid]) for pid in postgres_backends(self.postgres_url)}
        if self.redis:
            seen["Redis server (whole; shared)"] = cpu_seconds([self.redis])
        seen["this benchmark (tablets, HTTP)"] = cpu_seconds([os.getpid()])
        seen[MACHINE] = machine_busy_seconds()
        return seen, backends

    async def read(self):
        return await asyncio.to_thread(self._read)

    def used(self, before, after) -> dict[str, float]:
        (seen0, backends0), (seen1, backends1) = before, after
        used = {label: seen1[label] - seen0[label] for label in seen1}
        if self.postgres_url:
            # A backend that started within the window counts whole; one that ended is missed.
            used["PostgreSQL backends (its database)"] = sum(
                cpu - backends0.get(pid, 0.0) for pid, cpu in backends1.items()
            )
        used[OTHERS] = used[MACHINE] - sum(v for k, v in used.items() if k != MACHINE)
        return {label: used[label] for label in self.labels}


class Run:
    def __init__(self, name: str, http_urls, ws_urls, pids, spec, args, meter: CpuMeter):
        self.args = args
        self.http_urls, self.pids = http_urls, pids
        self.spec = spec
        self.meter = meter
        self.rng = random.Random(args.seed)
        self.fleet = Fleet(spec, ws_urls, args.seed)
        self.by_unit = self.fleet.by_unit
        programs = spec.get("programs") or [
            {"name": "all", "api_key": spec["api_key"], "units": list(self.by_unit)}
        ]
        self.programs = [(p["api_key"], deque(p["units"])) for p in programs]
        self.made: list[Made] = []
        phases = [("steady", *args.steady), ("burst", *args.burst)]
        self.outcome = Outcome(name, [Phase(n, r, s) for n, r, s in phases], processes=len(pids))
        tablets = len(self.fleet.tablets)
        self.outcome.sockets_per_process = [
            sum(1 for i in range(tablets) if i % len(ws_urls) == n) for n in range(len(ws_urls))
        ]

    def _pick(self, units: deque) -> int | None:
        for _ in range(len(units)):
            unit = units.popleft()
            if self.fleet.unit_live(unit):
                return unit
            units.append(unit)
        return None

    async def _call(self, number: int, phase: Phase, http: httpx.AsyncClient, key: str, units: deque):
        body = {
            "external_id": f"state-{number}",
            "source": "911",
            "call_type": self.spec["call_type"],
            "priority": 3,
            "received_at": datetime.now(UTC).isoformat(),
            "location": call_location(number),
            "caller": {"name": "Bench Caller", "phone": "555-0100"},
            "narrative": "Person sitting on the sidewalk, appears confused, asking for help.",
            "screening": {
                "weapons": False,
                "violence": False,
                "medical_emergency": False,
                "police_only": False,
            },
        }
        headers = {"Authorization": f"Token {key}"}
        try:
            answer = await http.post("/api/v1/incidents/", json=body, headers=headers)
            if answer.status_code != 201:
                phase.errors.append(f"incident {number}: {answer.status_code} {answer.text[:200]}")
                return
            incident_id = answer.json()["id"]
            unit, waited_until = self._pick(units), now() + 10
            while unit is None and now() < waited_until:  # its tablets may be reconnecting
                await asyncio.sleep(0.05)
                unit = self._pick(units)
            if unit is None:
                phase.errors.append(
                    f"assign {number}: no free unit of its program with its tablets connected"
                )
                return
            callsign = self.spec["units"][unit]["callsign"]
            started = now()
            answer = await http.post(
                f"/api/v1/incidents/{incident_id}/assign", json={"unit": callsign}, headers=headers
            )
        except httpx.HTTPError as exc:
            phase.errors.append(f"call {number}: {type(exc).__name__}")
            return
        if answer.status_code != 201:
            phase.errors.append(f"assign {number}: {answer.status_code} {answer.text[:200]}")
            return
        self.made.append(Made(phase.name, unit, answer.json()["id"], started))

    async def _drops(self, duration: float) -> None:
        await self.fleet.drop_some(self.rng, self.args.drop_fraction, duration, (0.05, 0.9), (1.0, 3.0))

    async def run(self) -> Outcome:
        args, out = self.args, self.outcome
        out.rss_before = [rss_mb(pid) or 0.0 for pid in self.pids]
        async with self.fleet:
            out.connect_seconds, out.connected = await self.fleet.connect(
                args.connect_concurrency, args.connect_timeout
            )
            if out.connected < len(self.fleet.tablets):
                out.note = (
                    f"only {out.connected} of {len(self.fleet.tablets)} tablets connected "
                    f"({', '.join(self.fleet.refusals())})"
                )
                return out
            # Idle: every socket open, nothing happening but their catch-up timers.
            await asyncio.sleep(args.settle)
            out.rss_idle = [rss_mb(pid) or 0.0 for pid in self.pids]
            cpu_before = [cpu_seconds([pid]) for pid in self.pids]
            idle_began = now()
            await asyncio.sleep(args.idle_seconds)
            idle_for = now() - idle_began
            out.idle_cpu = [
                (cpu_seconds([pid]) - before) / idle_for
                for pid, before in zip(self.pids, cpu_before, strict=True)
            ]
            out.load_average = os.getloadavg()[0]
            self.fleet.measure()
            clients = [
                httpx.AsyncClient(
                    base_url=url,
                    timeout=30,
                    limits=httpx.Limits(max_connections=50, max_keepalive_connections=50),
                )
                for url in self.http_urls
            ]
            try:
                total = sum(p.seconds for p in out.phases)
                drops = asyncio.create_task(self._drops(total))
                calls, number = [], 0
                readings = []
                for phase in out.phases:
                    readings.append(await self.meter.read())
                    phase.began = start = now()
                    for n in range(round(phase.rate * phase.seconds)):
                        await asyncio.sleep(max(0.0, start + n / phase.rate - now()))
                        key, units = self.programs[number % len(self.programs)]
                        http = clients[number % len(clients)]
                        calls.append(asyncio.create_task(self._call(number, phase, http, key, units)))
                        number += 1
                await asyncio.gather(*calls)
                readings.append(await self.meter.read())
                for n, phase in enumerate(out.phases):
                    phase.ended = out.phases[n + 1].began if n + 1 < len(out.phases) else now()
                    phase.cpu_s = self.meter.used(readings[n], readings[n + 1])
                await drops
                deadline = now() + args.grace
                while now() < deadline and not self.fleet.has_all(self.made):
                    await asyncio.sleep(0.1)
            finally:
                for c in clients:
                    await c.aclose()
            out.live_at_end = sum(t.live for t in self.fleet.tablets)
        self._tally()
        return out

    def _tally(self) -> None:
        out = self.outcome
        for n, phase in enumerate(out.phases):
            made = [m for m in self.made if m.phase == phase.name]
            d = self.fleet.tally(made)
            phase.made, phase.expected, phase.lost = len(made), d.expected, d.lost
            phase.live_ms, phase.replay_ms = d.live_ms, d.replay_ms
            last = n + 1 == len(out.phases)
            phase.drop_causes = self.fleet.causes(phase.began, float("inf") if last else phase.ended)
        out.tablets = self.fleet.counts()


# --- the servers ---------------------------------------------------------------------------------------
def prepare(env: dict, args, workdir: Path) -> dict:
    for argv in (
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"],
        [PYTHON, "bench/fixture.py", str(args.tablets), str(args.programs)],
    ):
        step = subprocess.run(argv, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=900)
        if step.returncode:
            raise RuntimeError(f"{argv[1]} failed:\n{step.stdout[-2000:]}\n{step.stderr[-4000:]}")
    spec = json.loads(step.stdout.strip().splitlines()[-1])
    (workdir / "statewide-tablets.json").write_text(json.dumps(spec))
    return spec


def run_ours(args, procs: Processes, workdir: Path) -> Outcome:
    require_local(args.postgres_url, "--postgres-url")
    require_local(args.redis_url, "--redis-url")
    postgres_reset(args.postgres_url)
    redis_clear(args.redis_url, args.channel_prefix)
    env = server_env(args, args.postgres_url, args.redis_url)
    # Four processes share PostgreSQL with everything else on the machine: a small pool each.
    env.setdefault("DATABASE_POOL_MAX", str(args.pool_max))
    try:
        print(
            f"[statewide] migrating, then {args.tablets} tablets in {args.programs} programs ...", flush=True
        )
        spec = prepare(env, args, workdir)
        print(f"[statewide] starting {args.processes} Daphne processes ...", flush=True)
        started = start_daphnes(procs, env, args.processes, workdir, "statewide", spans=False)
        urls = [url for url, _pid in started]
        ws_urls = [u.replace("http://", "ws://") + "/ws/field/" for u in urls]
        print(
            f"[statewide] connecting {args.tablets} tablets, idle, then the steady rate and the burst ...",
            flush=True,
        )
        pids = [pid for _u, pid in started]
        meter = CpuMeter(
            {f"daphne {n + 1}": pid for n, pid in enumerate(pids)}, args.postgres_url, args.redis_url
        )
        return asyncio.run(Run("ours", urls, ws_urls, pids, spec, args, meter).run())
    finally:
        procs.stop()
        if not args.keep:
            postgres_reset(args.postgres_url, drop_only=True)
            redis_clear(args.redis_url, args.channel_prefix)


def run_floor(args, procs: Processes, workdir: Path, spec: dict) -> Outcome:
    spec_path = workdir / "statewide-tablets.json"
    http_port, ws_port = free_port(), free_port()
    log_path = workdir / "floor.log"
    argv = [PYTHON, "bench/floor_server.py", "--http-port", str(http_port), "--ws-port", str(ws_port)]
    argv += ["--tablets", str(spec_path)]
    try:
        print("[floor] the same tablets and schedule against one bare websockets process ...", flush=True)
        proc = procs.start("floor", argv, dict(os.environ, PYTHONUNBUFFERED="1"), log_path)
        wait_healthy(f"http://127.0.0.1:{http_port}", proc, log_path)
        floor_spec = dict(spec, latest_event_id=0)
        run = Run(
            "floor",
            [f"http://127.0.0.1:{http_port}"],
            [f"ws://127.0.0.1:{ws_port}/ws/field/"],
            [proc.pid],
            floor_spec,
            args,
            CpuMeter({"floor server": proc.pid}),
        )
        return asyncio.run(run.run())
    finally:
        procs.stop()


# --- the table -------------------------------------------------------------------------------------------
def burst_context(burst: Phase) -> str:
    """How busy the machine was during the burst, and what dropped: what a missed p99 is read with."""
    unplanned = burst.drop_causes.total() - burst.drop_causes[PLANNED]
    if not burst.cpu_s:
        return f"{unplanned} unplanned drops"
    wall = burst.ended - burst.began
    ours = sum(v for k, v in burst.cpu_s.items() if k not in (OTHERS, MACHINE))
    return (
        f"in the burst the machine was busy {100 * burst.cpu_s[MACHINE] / wall:.0f}% of one core "
        f"(of {100 * (os.cpu_count() or 1)}%): this run {100 * ours / wall:.0f}%, "
        f"other work {100 * burst.cpu_s[OTHERS] / wall:.0f}%; {unplanned} unplanned drops"
    )


def cpu_table(outcome: Outcome) -> list[str]:
    """CPU seconds per assign made, and the share of one core, per process and phase."""
    phases = [p for p in outcome.phases if p.cpu_s]
    if not phases:
        return []
    lines = [
        "",
        f"CPU per assign ({outcome.name}): user + system seconds (/proc) in each phase's window, "
        "divided by the assigns it made, and as % of one core over the window",
        "".ljust(40) + "".join(f"{p.name}: {p.made} in {p.ended - p.began:.1f} s".rjust(30) for p in phases),
        "".ljust(40) + "".join(f"{'s/assign':>18}{'% of a core':>12}" for _p in phases),
    ]
    for label in phases[0].cpu_s:
        cells = ""
        for p in phases:
            used, wall = p.cpu_s[label], p.ended - p.began
            per = f"{used / p.made:.3f}" if p.made else "-"
            cells += per.rjust(18) + fmt(100 * used / wall).rjust(12)
        lines.append(f"  {label}".ljust(40) + cells)
    return lines


def report(ours: Outcome, floor: Outcome | None, args) -> str:
    cols = [ours] + ([floor] if floor else [])
    lines = [
        f"Statewide: {args.programs} programs, {args.tablets} tablets over {args.processes} Daphne processes "
        f"(PostgreSQL + Redis), {args.drop_fraction:.0%} of tablets dropped for 1-3 s and resumed; "
        f"steady {args.steady[0]:g}/s for {args.steady[1]:g} s, then a burst of {args.burst[0]:g}/s for "
        f"{args.burst[1]:g} s, round the programs",
        "latency = from the start of the assign request to the tablet having assignment.created",
    ]
    width = 46
    lines.append(
        "".ljust(width) + "".join(c.name.rjust(14) for c in cols) + ("ours/floor".rjust(14) if floor else "")
    )

    def row(label, values, ratio=False):
        cells = [fmt(v) for v in values]
        if floor:
            a, b = values[0], values[-1]
            cells.append(
                f"{a / b:.1f}x" if ratio and isinstance(a, float) and isinstance(b, float) and b else ""
            )
        lines.append(label.ljust(width) + "".join(c.rjust(14) for c in cells))

    row("tablets connected (sockets held)", [c.connected for c in cols])
    row("  seconds to connect them", [c.connect_seconds for c in cols])
    row("  still connected at the end", [c.live_at_end for c in cols])
    for n, phase in enumerate(ours.phases):
        fp = floor.phases[n] if floor else None
        both = [phase] + ([fp] if fp else [])
        lines.append(f"{phase.name}: {phase.rate:g} assigns/s for {phase.seconds:g} s")
        row("  assignments made", [p.made for p in both])
        row("  live deliveries", [len(p.live_ms) for p in both])
        row("    p50 ms", [percentile(p.live_ms, 50) for p in both], True)
        row("    p99 ms", [percentile(p.live_ms, 99) for p in both], True)
        row("    max ms", [max(p.live_ms) if p.live_ms else None for p in both], True)
        row("  deliveries across a reconnect", [len(p.replay_ms) for p in both])
        row("    max ms (includes the outage)", [max(p.replay_ms) if p.replay_ms else None for p in both])
        row("  lost", [p.lost for p in both])
        row("  request errors", [len(p.errors) for p in both])
        row(
            "  drops planned / unplanned" + (" (to the end)" if n + 1 == len(ours.phases) else ""),
            [f"{p.drop_causes[PLANNED]}/{p.drop_causes.total() - p.drop_causes[PLANNED]}" for p in both],
        )
        for label, values in cause_rows([p.drop_causes for p in both]):
            row(f"    {label}", values)
    row("duplicated events (any type)", [c.tablets.duplicated_events for c in cols])
    row("planned / unplanned drops", [f"{c.tablets.planned_drops}/{c.tablets.unplanned_drops}" for c in cols])
    row("resyncs", [c.tablets.resyncs for c in cols])
    row("1-min load average before assigning", [c.load_average for c in cols])
    for c in cols:
        if c.tablets.unplanned_drops:
            lines.append(f"  {c.name} unplanned drops: {cause_details(c.tablets.causes)}")
    lines.append("")
    lines.append(
        "per process (ours)      sockets   RSS before MB   RSS idle MB   MB per 1,000 sockets"
        "   idle CPU % of a core"
    )
    for n in range(ours.processes):
        sockets = ours.sockets_per_process[n]
        before = ours.rss_before[n] if ours.rss_before else None
        idle = ours.rss_idle[n] if ours.rss_idle else None
        per = (
            (idle - before) * 1000 / sockets if before is not None and idle is not None and sockets else None
        )
        cpu = 100 * ours.idle_cpu[n] if ours.idle_cpu else None
        lines.append(
            f"  daphne {n + 1}".ljust(24)
            + f"{sockets}".rjust(7)
            + fmt(before).rjust(16)
            + fmt(idle).rjust(14)
            + fmt(per).rjust(23)
            + fmt(cpu).rjust(23)
        )
    if floor and floor.rss_idle:
        sockets = floor.sockets_per_process[0]
        per = (floor.rss_idle[0] - floor.rss_before[0]) * 1000 / sockets
        lines.append(
            "  floor (1 process)".ljust(24)
            + f"{sockets}".rjust(7)
            + fmt(floor.rss_before[0]).rjust(16)
            + fmt(floor.rss_idle[0]).rjust(14)
            + fmt(per).rjust(23)
            + fmt(100 * floor.idle_cpu[0]).rjust(23)
        )
    for c in cols:
        lines.extend(cpu_table(c))
    lines.append("")
    lines.append(
        f"Targets (2 cores): {args.tablets} sockets held; idle < {TARGET_IDLE_CPU:.0%} of a core and "
        f"< {TARGET_MB_PER_1000:g} MB per 1,000 sockets per process; "
        f"burst p99 <= {TARGET_P99_BURST_MS:g} ms; "
        "0 lost, 0 duplicated"
    )
    checks = []
    if ours.note:
        checks.append(("sockets held", False, ours.note))
    else:
        held = ours.connected == args.tablets
        checks.append(("sockets held", held, f"{ours.connected} of {args.tablets}"))
        worst_cpu = max(ours.idle_cpu) if ours.idle_cpu else None
        checks.append(
            (
                "idle CPU",
                worst_cpu is not None and worst_cpu < TARGET_IDLE_CPU,
                f"worst process {fmt(100 * worst_cpu if worst_cpu is not None else None)}% of a core",
            )
        )
        pers = [
            (i - b) * 1000 / s
            for b, i, s in zip(ours.rss_before, ours.rss_idle, ours.sockets_per_process, strict=True)
            if s
        ]
        worst_mb = max(pers) if pers else None
        checks.append(
            (
                "memory per 1,000 sockets",
                worst_mb is not None and worst_mb < TARGET_MB_PER_1000,
                f"worst process {fmt(worst_mb)} MB",
            )
        )
        burst = ours.phases[-1]
        p99 = percentile(burst.live_ms, 99)
        checks.append(
            (
                "burst p99",
                p99 is not None and p99 <= TARGET_P99_BURST_MS,
                f"{fmt(p99)} ms; {burst_context(burst)}",
            )
        )
        lost = sum(p.lost for p in ours.phases)
        checks.append(("lost", lost == 0, str(lost)))
        checks.append(
            ("duplicated", ours.tablets.duplicated_events == 0, str(ours.tablets.duplicated_events))
        )
        errors = sum(len(p.errors) for p in ours.phases)
        checks.append(("request errors", errors == 0, str(errors)))
    for name, ok, detail in checks:
        lines.append(f"  {name}: {'met' if ok else 'MISSED'} ({detail})")
    for c in cols:
        for p in c.phases:
            for error in p.errors[:3]:
                lines.append(f"  {c.name} {p.name} error: {error}")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=20)
    parser.add_argument("--tablets", type=int, default=4000, help="tablets connected (two per unit)")
    parser.add_argument("--processes", type=int, default=4, help="Daphne processes")
    parser.add_argument("--steady", type=float, nargs=2, default=[5.0, 30.0], metavar=("RATE", "SECONDS"))
    parser.add_argument("--burst", type=float, nargs=2, default=[20.0, 30.0], metavar=("RATE", "SECONDS"))
    parser.add_argument("--drop-fraction", type=float, default=0.10)
    parser.add_argument(
        "--idle-seconds", type=float, default=10.0, help="the idle window CPU is measured over"
    )
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--grace", type=float, default=20.0)
    parser.add_argument("--connect-concurrency", type=int, default=20)
    parser.add_argument("--connect-timeout", type=float, default=300.0)
    parser.add_argument("--pool-max", type=int, default=8, help="DATABASE_POOL_MAX per process")
    parser.add_argument("--max-minutes", type=float, default=25.0, help="stop everything after this long")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cr_bench"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"))
    parser.add_argument("--channel-prefix", default="bench")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and the database")
    args = parser.parse_args(argv)
    if args.tablets < 2 * args.programs or args.processes < 1:
        parser.error("need at least one unit (two tablets) per program and one process")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # Each tablet is a socket here and one in a server, besides Redis and PostgreSQL connections.
    limit = raise_file_limit(2 * args.tablets + 4096)
    if limit < args.tablets + 1024:
        print(
            f"open-file limit {limit} is below what {args.tablets} tablets need; expect refusals", flush=True
        )
    workdir = Path(tempfile.mkdtemp(prefix="cr-statewide-"))
    procs = Processes()

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(int(args.max_minutes * 60))
    ours = floor = None
    began = time.monotonic()
    try:
        ours = run_ours(args, procs, workdir)
        if not args.no_floor:
            spec = json.loads((workdir / "statewide-tablets.json").read_text())
            floor = run_floor(args, procs, workdir, spec)
    finally:
        signal.alarm(0)
        procs.stop()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report(ours, floor, args))
    print(f"\n(took {(time.monotonic() - began) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
