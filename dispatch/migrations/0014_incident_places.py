import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0013_step_receipts"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="geocoded",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="incident",
            name="address_key",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="incident",
            name="possible_duplicates",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="incident",
            name="duplicate_of",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="duplicates",
                to="dispatch.incident",
            ),
        ),
    ]
