"""`build_report_cells`: compute the dashboard's day cells of every marked day.

Run it once after deploying the migration that brought the cells (0021, which marks every day
that holds a record), after a restore, or after changing TIME_ZONE: until a marked day is
computed, a dashboard that needs it reads it from the records, the way a filter nobody used
before was read. Safe to run while the dashboard is in use, and again: a day computed and not
changed since is not computed twice."""

import time

from django.core.management.base import BaseCommand

from dispatch.reports import sums


class Command(BaseCommand):
    help = "Compute the dashboard's day cells of every marked day of every program (after a deploy)."

    def handle(self, *args, **options):
        started = time.monotonic()
        log = self.stdout.write if options["verbosity"] >= 2 else None
        days, clocks = sums.cells_build(log=log)
        elapsed = time.monotonic() - started
        self.stdout.write(f"Computed the cells of {days} days on {clocks} program clocks in {elapsed:.0f} s.")
