from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_run_python", "0001_initial")]

    operations = [
        migrations.RunPython(lambda apps, editor: None),
    ]
