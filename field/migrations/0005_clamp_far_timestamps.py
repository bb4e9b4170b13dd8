"""Stored timestamps outside 1900-2199 (let through on PostgreSQL before the forms and the API
had bounds) are brought back within them: psycopg cannot read a year-10000 row, and the queue
holding it answered 500 for everyone. One migration for the three apps, at the top of the
arrows, so it runs after each app's tables exist."""

from django.db import migrations

from dispatch.timestamps import clamp_stored


def clamp(apps, schema_editor):
    clamp_stored(apps, ["dispatch", "referrals", "field"])


class Migration(migrations.Migration):
    dependencies = [
        ("field", "0004_received_at"),
        ("dispatch", "0017_worker_chain_and_webhooks"),
        ("referrals", "0007_policereferral_officer_status"),
    ]

    # Nothing to undo: the values moved were unreadable.
    operations = [migrations.RunPython(clamp, migrations.RunPython.noop)]
