import codecs
import csv
import gzip
import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from dispatch.geocoding import NotAnAddressFile, address_points_import
from dispatch.models import AddressPoint

# Enough of the file to tell a CSV from an archive, a spreadsheet or an image.
SNIFF_BYTES = 64 * 1024


class Command(BaseCommand):
    help = (
        "Load address points into the local gazetteer from a CSV (or .csv.gz): OpenAddresses' "
        "columns (LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH) or "
        "full_address,latitude,longitude. Re-loading a file updates its points; rows without a "
        "usable address or point are counted and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file.")
        parser.add_argument("--batch-size", type=int, default=2000, help="Rows written at once.")
        parser.add_argument("--encoding", default="utf-8-sig", help="The file's text encoding.")

    def handle(self, *args, path, batch_size, encoding, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise CommandError(f"Unknown encoding {encoding!r}.") from exc
        path = Path(path)
        try:
            raw = self._open(path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        with raw:
            self._refuse_non_text(raw, path, encoding)
            # Past the first 64 KiB a stray byte is one odd character in one address, not a
            # reason to stop a million-row load.
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            try:
                counts = address_points_import(csv.reader(text), batch_size=batch_size)
            except NotAnAddressFile as exc:
                raise CommandError(f"{path} is not an address-point CSV: {exc}.") from exc
            except (csv.Error, OSError, EOFError) as exc:
                raise CommandError(f"{path} could not be read as CSV: {exc}.") from exc
        # Fresh statistics: the planner should know the table just grew by a million rows
        # (autovacuum would tell it in a minute or so).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {AddressPoint._meta.db_table}")
        skipped = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.skipped.items()))
        self.stdout.write(
            f"Loaded {counts.loaded}, updated {counts.updated}, skipped {counts.skipped_total}"
            + (f" ({skipped})" if skipped else "")
            + "."
        )

    def _open(self, path: Path) -> io.BufferedReader:
        # A buffer as large as the sniff, so that peek() sees all of it.
        with path.open("rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        source = gzip.GzipFile(path, "rb") if gzipped else io.FileIO(path, "r")
        return io.BufferedReader(source, buffer_size=SNIFF_BYTES)

    def _refuse_non_text(self, raw, path: Path, encoding: str):
        try:
            head = raw.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        except (OSError, EOFError) as exc:
            raise CommandError(f"{path} could not be read: {exc}.") from exc
        if head.startswith(b"PK\x03\x04"):
            raise CommandError(f"{path} is a ZIP archive, not a CSV: unzip it and give the CSV inside.")
        if b"\x00" in head:
            raise CommandError(f"{path} is not a CSV file: it holds binary data.")
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{path} is not {encoding} text (byte {exc.start}); if it is CSV, give its --encoding."
            ) from exc
