from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("case_reorder", "0001_initial")]

    operations = [
        migrations.RemoveField("item", "note"),
    ]
