from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_remove_not_null", "0001_initial")]

    operations = [
        migrations.RemoveField("item", "name"),
        migrations.RemoveField("item", "flag"),
    ]
