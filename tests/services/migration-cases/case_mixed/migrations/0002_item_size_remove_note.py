from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_mixed", "0001_initial")]

    operations = [
        migrations.AddField("item", "size", models.IntegerField(null=True)), migrations.RemoveField("item", "note"),
    ]
