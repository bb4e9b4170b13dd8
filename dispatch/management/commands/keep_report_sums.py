from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from dispatch.reports import engine, sums


class Command(BaseCommand):
    help = (
        "Add up and keep the dashboard's sums of every settled day and calendar month of the last "
        "--days days whose kept sums are missing or out of date. The dashboard does this itself on "
        "its first view; run it after a bulk import or a restore, or nightly, so nobody waits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=730, help="How far back (default 730).")

    def handle(self, *args, days, **options):
        if days < 1:
            raise CommandError("--days must be positive.")
        today = engine.program_today()
        kept = sums.days_fill(today - timedelta(days=days - 1), today)
        self.stdout.write(f"Kept the sums of {kept} days and months.")
