from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from dispatch.events import events_prune


class Command(BaseCommand):
    help = (
        "Delete events older than EVENT_RETENTION_HOURS (at least 24) from the event log, and the "
        "background worker's finished tasks older than a day. Run it from cron, e.g. hourly; "
        "tablets further behind than that reload over HTTP."
    )

    def handle(self, *args, **options):
        try:
            deleted = events_prune()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Deleted {deleted} events older than {settings.EVENT_RETENTION_HOURS} hours.")
        # The periodic chain alone finishes a task every few seconds.
        call_command("prune_db_task_results", min_age_days=1, verbosity=0)
