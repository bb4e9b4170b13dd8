"""The dashboard's day cells (dispatch.reports.sums): every program holding records gets its
clocks (the deployment's zone and its own), and every settled day that holds one of its records
is marked, so nothing is read from a cell before it is computed. `manage.py build_report_cells`
computes the marked days (run it after deploying); until then a marked day is read from the
records, as before."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import TruncDate
from django.utils import timezone

# dispatch.reports.engine.SETTLED_AFTER_DAYS, as it was when this migration was written.
SETTLED_AFTER_DAYS = 2


def mark_days_with_records(apps, schema_editor):
    db = schema_editor.connection.alias
    Program = apps.get_model("dispatch", "Program")
    ReportClock = apps.get_model("dispatch", "ReportClock")
    ReportMark = apps.get_model("dispatch", "ReportMark")
    dated = [
        (apps.get_model("dispatch", "Incident"), "received_at"),
        (apps.get_model("referrals", "FollowUp"), "created_at"),
        (apps.get_model("referrals", "PoliceReferral"), "created_at"),
    ]
    for program in Program.objects.using(db).order_by("pk"):
        if not any(model.objects.using(db).filter(program=program).exists() for model, _ in dated):
            continue  # a program without records gets its clocks from build_report_cells
        for name in sorted({settings.TIME_ZONE, program.time_zone}):
            zone = ZoneInfo(name)
            until = timezone.localdate(timezone=zone) - timedelta(days=SETTLED_AFTER_DAYS)
            high = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
            days = set()
            for model, moment in dated:
                days.update(
                    model.objects.using(db)
                    .filter(program=program, **{f"{moment}__lt": high})
                    .annotate(report_day=TruncDate(moment, tzinfo=zone))
                    .values_list("report_day", flat=True)
                    .distinct()
                )
            ReportClock.objects.using(db).create(program=program, zone=name, until=until)
            ReportMark.objects.using(db).bulk_create(
                [ReportMark(program=program, zone=name, day=day) for day in sorted(days)],
                batch_size=500,
                ignore_conflicts=True,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0020_program_screening_and_hours"),
        ("referrals", "0011_personaccess_listed"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReportCell",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("zone", models.CharField(max_length=64)),
                ("day", models.DateField()),
                ("source", models.CharField(max_length=20)),
                ("call_type", models.CharField(max_length=32)),
                ("unit_id", models.BigIntegerField(help_text="Not a foreign key: 0 stands for every unit.")),
                ("data", models.TextField(help_text="dispatch.reports.Totals, as compact JSON.")),
                (
                    "program",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="dispatch.program"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["program", "zone", "day"], name="report_cell_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("program", "zone", "source", "call_type", "unit_id", "day"),
                        name="report_cell_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportClock",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("zone", models.CharField(help_text="The IANA zone the days are drawn in.", max_length=64)),
                ("until", models.DateField()),
                (
                    "program",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="dispatch.program"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("program", "zone"), name="report_clock_program_zone")
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportMark",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("zone", models.CharField(max_length=64)),
                ("day", models.DateField()),
                (
                    "program",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="dispatch.program"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("program", "zone", "day"), name="report_mark_program_zone_day"
                    )
                ],
            },
        ),
        migrations.RunPython(mark_days_with_records, migrations.RunPython.noop),
    ]
