"""`manage.py db_worker`: django-tasks-db's worker, which runs dispatch.tasks, after making sure
the worker's periodic chain runs (dispatch.tasks.periodic_ensure). Every option is the library's
(`--help`); this app is listed before django_tasks_db, so this command is the one Django runs."""

import logging

from django_tasks_db.compat import TASKS_LOGGER
from django_tasks_db.management.commands.db_worker import Command as LibraryWorkerCommand

from dispatch.tasks import periodic_ensure


class Command(LibraryWorkerCommand):
    help = "Run the background worker: webhook deliveries and the periodic alerts (django-tasks-db)."

    def configure_logging(self, verbosity: int) -> None:
        super().configure_logging(verbosity)
        if verbosity == 1:
            # Each task's start and end at INFO: the periodic chain alone would print two lines
            # every few seconds. Failures still show; -v 2 shows everything.
            logging.getLogger(TASKS_LOGGER).setLevel(logging.WARNING)

    def handle(self, *args, **options):
        periodic_ensure()
        super().handle(*args, **options)
