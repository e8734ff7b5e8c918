from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_safemigrate", "0001_initial")]
    safe = "before_deploy"

    operations = [
        migrations.RemoveField("item", "note"),
    ]
