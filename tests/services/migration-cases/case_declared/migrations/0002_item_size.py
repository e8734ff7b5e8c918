from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_declared", "0001_initial")]
    fleet_safe = "after-switch"

    operations = [
        migrations.AddField("item", "size", models.IntegerField(null=True)),
    ]
