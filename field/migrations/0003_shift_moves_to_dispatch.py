# The Shift model now lives in dispatch (dispatch/migrations/0007_shift.py); its table stays.
# Only Django's state changes here, and the content type (with its permissions) follows the model.

from django.db import migrations


def content_type_to_dispatch(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    old = ContentType.objects.filter(app_label="field", model="shift")
    if ContentType.objects.filter(app_label="dispatch", model="shift").exists():
        old.delete()
    else:
        old.update(app_label="dispatch")


def content_type_to_field(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="dispatch", model="shift").update(app_label="field")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("field", "0002_backuprequest_outcome"),
        ("dispatch", "0007_shift"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Shift")],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_dispatch, content_type_to_field),
    ]
