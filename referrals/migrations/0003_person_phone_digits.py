import re

from django.db import migrations, models


def backfill(apps, schema_editor):
    Person = apps.get_model("referrals", "Person")
    for person in Person.objects.exclude(phone="").only("pk", "phone").iterator():
        Person.objects.filter(pk=person.pk).update(phone_digits=re.sub(r"\D", "", person.phone))


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0002_referrals_directory_history"),
    ]

    operations = [
        migrations.AddField(
            model_name="person",
            name="phone_digits",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=40),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
