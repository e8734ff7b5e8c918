from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_new_table", "0002_part")]

    operations = [
        migrations.AddField("part", "weight", models.IntegerField(default=1)),
        migrations.RenameField("part", "label", "title"),
    ]
