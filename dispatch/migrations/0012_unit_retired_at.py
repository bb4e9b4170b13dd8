from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("dispatch", "0011_addresspoint"),
    ]

    operations = [
        migrations.AddField(
            model_name="unit",
            name="retired_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
