"""How fast the supervisor dashboard renders on years of history (issues 6 and 17).

    flock /tmp/bench.lock python bench/dashboard.py [--incidents 1000000] [--total 5000000]
        [--programs 20] [--runs 5] [--no-statewide]

On PostgreSQL: the database cr_dashboard_bench (or BENCH_DATABASE_URL) is created if missing,
migrated, and the deployment's first program filled with `generate_history --incidents N`
unless it already holds N incidents (later runs reuse it). Then `build_report_cells` computes
the day cells of every marked day (what ops runs after deploying), and is timed.

1. **Cold view per filter** (issue 17): for each filter the dashboard form offers (none, each
   source, a call type, a unit), with no kept sums of any facet (ReportSums emptied before each
   one: "a filter nobody used before"), the first render of the dashboard for one year of the
   first program (1M incidents), signed in as its supervisor through Django's test Client.
   Target: <= 1.5 s each.
2. **Warm year / month** renders of the same program, p50/p95 (issue 6: year p95 <= 500 ms).
3. **Programs side by side** (issue 17): 20 programs holding --total incidents together (the
   first program's and 19 more filled with generate_history --program), rendered warm by a
   statewide supervisor for one month and one year. Target: <= 2 s warm.

Each line prints its target as met or missed.
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cr_dashboard_bench"
COLD_TARGET_MS = 1500
SIDE_BY_SIDE_TARGET_MS = 2000
YEAR_P95_TARGET_MS = 500


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def pct(values: list[float], fraction: float) -> float:
    values = sorted(values)
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def verdict(ms: float, target: float) -> str:
    return "met" if ms <= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=1_000_000, help="the first program's incidents")
    parser.add_argument("--total", type=int, default=5_000_000, help="incidents of all programs together")
    parser.add_argument("--programs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5, help="timed warm renders per line")
    parser.add_argument("--no-statewide", action="store_true", help="skip the programs side by side")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The bench signs its supervisors in with force_login, which passes no second factor.
    os.environ.setdefault("OTP_REQUIRED_ROLES", "")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from dispatch.models import Incident, Membership, Program, ReportCell, ReportSums, Unit
    from dispatch.programs import first_program
    from dispatch.reports.engine import ReportFilters

    call_command("migrate", verbosity=0)
    first = first_program()

    def fill(program, wanted: int, seed: int) -> None:
        have = Incident.objects.filter(program=program).count()
        if have >= wanted:
            return
        print(f"filling {program.slug}: {have:,} incidents, generating {wanted - have:,} ...", flush=True)
        started = time.perf_counter()
        call_command(
            "generate_history", incidents=wanted - have, seed=seed, program=program.slug, verbosity=0
        )
        print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)

    fill(first, args.incidents, 1)
    programs = [first]
    if not args.no_statewide:
        others = args.programs - 1
        each = (args.total - args.incidents) // others
        for n in range(2, args.programs + 1):
            program, _ = Program.objects.get_or_create(
                slug=f"p{n:02d}-bench", defaults={"name": f"Bench program {n}", "time_zone": first.time_zone}
            )
            fill(program, each, 1000 + n)
            programs.append(program)

    started = time.perf_counter()
    call_command("build_report_cells", verbosity=1)
    print(f"build_report_cells: {time.perf_counter() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('dispatch_reportcell'))")
        cells_size = cursor.fetchone()[0]
    print(
        f"data: {Incident.objects.count():,} incidents in {Program.objects.count()} programs "
        f"({Incident.objects.filter(program=first).count():,} in {first.slug}); "
        f"{ReportCell.objects.count():,} cells, {cells_size} (PostgreSQL {connection.pg_version // 10000})",
        flush=True,
    )

    User = get_user_model()
    supervisor, _ = User.objects.get_or_create(username="bench-supervisor")
    Membership.objects.get_or_create(user=supervisor, program=first, defaults={"role": "supervisor"})
    client = Client()
    client.force_login(supervisor)
    dashboard = reverse("reports:dashboard")

    today = ReportFilters.default(first).end
    year = {"start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()}
    unit = Unit.objects.filter(program=first).order_by("callsign").first()
    filters = [("none", {})]
    filters += [(f"source {value}", {"source": value}) for value in Incident.Source.values]
    filters += [("call type WELFARE", {"call_type": "WELFARE"}), (f"unit {unit.callsign}", {"unit": unit.pk})]

    print(f"\n1. cold view, one year of {first.slug}, no kept sums (target <= {COLD_TARGET_MS} ms)")
    print(f"{'filter':<28} {'first ms':>9} {'queries':>8}  target")
    cold = []
    for label, narrow in filters:
        ReportSums.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            assert client.get(dashboard, {**year, **narrow}).status_code == 200
            ms = (time.perf_counter() - started) * 1000
        cold.append(ms)
        print(f"{label:<28} {ms:9.0f} {len(captured):8d}  {verdict(ms, COLD_TARGET_MS)}", flush=True)
    print(f"{'worst':<28} {max(cold):9.0f} {'':>8}  {verdict(max(cold), COLD_TARGET_MS)}")

    print(f"\n2. warm renders of {first.slug} ({args.runs} after the first)")
    print(f"{'range':<28} {'p50 ms':>9} {'p95 ms':>8}  target")
    for label, start in (
        ("one year", today - timedelta(days=364)),
        ("one month", today - timedelta(days=29)),
    ):
        params = {"start": start.isoformat(), "end": today.isoformat()}
        client.get(dashboard, params)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            assert client.get(dashboard, params).status_code == 200
            times.append((time.perf_counter() - started) * 1000)
        target = (
            f"p95 <= {YEAR_P95_TARGET_MS}: {verdict(pct(times, 0.95), YEAR_P95_TARGET_MS)}"
            if label == "one year"
            else ""
        )
        print(f"{label:<28} {pct(times, 0.5):9.0f} {pct(times, 0.95):8.0f}  {target}", flush=True)

    if args.no_statewide:
        return
    state, _ = User.objects.get_or_create(username="bench-state-supervisor")
    Membership.objects.get_or_create(user=state, program=None, defaults={"role": "supervisor"})
    client.force_login(state)
    side = reverse("reports:programs")
    print(
        f"\n3. programs side by side, {len(programs)} programs, {Incident.objects.count():,} incidents, warm "
        f"(target <= {SIDE_BY_SIDE_TARGET_MS} ms)"
    )
    print(f"{'range':<28} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  target")
    for label, start in (
        ("one month", today - timedelta(days=29)),
        ("one year", today - timedelta(days=364)),
    ):
        params = {"start": start.isoformat(), "end": today.isoformat()}
        started = time.perf_counter()
        assert client.get(side, params).status_code == 200
        first_ms = (time.perf_counter() - started) * 1000
        times, queries = [], 0
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                assert client.get(side, params).status_code == 200
                times.append((time.perf_counter() - started) * 1000)
            queries = len(captured)
        p95 = pct(times, 0.95)
        print(
            f"{label:<28} {first_ms:9.0f} {pct(times, 0.5):8.0f} {p95:8.0f} {queries:8d}  "
            f"p95 {verdict(p95, SIDE_BY_SIDE_TARGET_MS)}",
            flush=True,
        )
    print(
        "(Django test Client, one process. 'first': the first render of that page and range; on the"
        " side by side it adds up each program's kept sums from its cells.)"
    )


if __name__ == "__main__":
    main()
