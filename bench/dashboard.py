"""How fast the supervisor dashboard renders on years of history (issue 6).

    python bench/dashboard.py [--incidents 1000000] [--runs 12]

On PostgreSQL: the database cr_dashboard_bench (or BENCH_DATABASE_URL) is created if missing,
migrated, and filled with `generate_history --incidents N` unless it already holds N incidents
(a first fill of a million takes several minutes; later runs reuse it). Then, signed in as a
supervisor through Django's test Client, it renders the dashboard (and the call-type analysis)
for one year, for one month and for a range ten times smaller than a month, several times
each, and prints p50/p95 of the wall time per page and the number of SQL queries per page.

Targets (issue 6): one year p95 <= 500 ms, one month p95 <= 150 ms, and a number of queries per
page that does not grow with the range or the data.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cr_dashboard_bench"


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=12, help="timed renders per page (after one warm-up)")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The bench signs its supervisor in with force_login, which passes no second factor.
    os.environ.setdefault("OTP_REQUIRED_ROLES", "")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from dispatch.models import Assignment, Incident, ReportSums
    from dispatch.reports.engine import ReportFilters

    call_command("migrate", verbosity=0)
    have = Incident.objects.count()
    if have < args.incidents:
        print(f"filling: {have} incidents present, generating {args.incidents - have} ...", flush=True)
        started = time.perf_counter()
        call_command("generate_history", incidents=args.incidents - have, seed=have + 1, verbosity=1)
        print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)
    # Fresh statistics and visibility map, as a database that has been running for a while has.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"data: {Incident.objects.count():,} incidents, {Assignment.objects.count():,} assignments "
        f"(PostgreSQL {connection.pg_version // 10000})"
    )

    user, _ = get_user_model().objects.get_or_create(username="bench-supervisor")
    user.groups.add(Group.objects.get_or_create(name="supervisor")[0])
    client = Client()
    client.force_login(user)

    today = ReportFilters.default().end
    ranges = [
        ("one year", today - timedelta(days=364), {}),
        ("one month", today - timedelta(days=29), {}),
        ("3 days (month / 10)", today - timedelta(days=2), {}),
        # A filter reads the range whole from the records: no kept days.
        ("one year, source 911", today - timedelta(days=364), {"source": "911"}),
        ("one month, source 911", today - timedelta(days=29), {"source": "911"}),
    ]
    pages = [
        ("dashboard", reverse("reports:dashboard")),
        ("call types", reverse("reports:call_type_analysis")),
    ]
    # Start with no kept day, so the first render of the year reads every record (cold).
    kept, _ = ReportSums.objects.all().delete()
    print(f"cleared {kept} kept days and months")
    print(f"{'page':<11} {'range':<22} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for page, path in pages:
        for label, start, narrow in ranges:
            params = {"start": start.isoformat(), "end": today.isoformat(), **narrow}
            started = time.perf_counter()
            assert client.get(path, params).status_code == 200  # the first render keeps settled days
            first = (time.perf_counter() - started) * 1000
            times, queries = [], set()
            for _ in range(args.runs):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(path, params)
                    times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
                queries.add(len(captured))
            shown = "/".join(str(q) for q in sorted(queries))
            print(
                f"{page:<11} {label:<22} {first:9.0f} {pct(times, 0.5):8.0f} {pct(times, 0.95):8.0f} "
                f"{shown:>8}",
                flush=True,
            )
    # A live program: between renders a case manager updates a follow-up from some day of the
    # past year, so that day and its month must be added up again (the day from its records).
    from referrals.models import FollowUp

    rng = random.Random(1)
    path = reverse("reports:dashboard")
    params = {"start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()}
    times = []
    for _ in range(args.runs):
        day = today - timedelta(days=rng.randint(3, 360))
        follow_up = FollowUp.objects.filter(created_at__date=day).order_by("pk").first()
        follow_up.save(update_fields=["updated_at"])
        started = time.perf_counter()
        assert client.get(path, params).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    label = "one year, a day changed"
    print(f"{'dashboard':<11} {label:<22} {'':>9} {pct(times, 0.5):8.0f} {pct(times, 0.95):8.0f}")
    print(
        f"({args.runs} timed renders per line after the first; Django test Client, one process. "
        "'first': the first render of that page and range, which reads and keeps the settled days "
        "nothing kept yet covers; the dashboard's one-year line is fully cold.)"
    )


if __name__ == "__main__":
    main()
