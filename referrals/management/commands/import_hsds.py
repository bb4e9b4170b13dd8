from django.core.management.base import BaseCommand, CommandError

from referrals.hsds import PackageError, hsds_import


class Command(BaseCommand):
    help = (
        "Load an Open Referral HSDS package (a folder of CSV files, a datapackage.json, or a JSON "
        "file) into the service directory, and report what was skipped and why."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a folder of HSDS CSV files, or an HSDS .json file")

    def handle(self, *args, path, **options):
        try:
            report = hsds_import(path)
        except PackageError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
