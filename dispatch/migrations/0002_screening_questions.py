from django.db import migrations

# The four disqualifiers exist in every program; supervisors edit the wording.
QUESTIONS = [
    ("weapons", "Does anyone at the scene have a weapon, or is a weapon mentioned?"),
    ("violence", "Has anyone threatened violence, or is anyone being violent now?"),
    ("medical_emergency", "Does anyone need emergency medical care right now (injury, overdose, not breathing)?"),
    ("police_only", "Is police needed now to enter a home or car without consent, or to collect evidence?"),
]


def create(apps, schema_editor):
    ScreeningQuestion = apps.get_model("dispatch", "ScreeningQuestion")
    for position, (key, prompt) in enumerate(QUESTIONS):
        ScreeningQuestion.objects.get_or_create(key=key, defaults={"prompt": prompt, "position": position})


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
