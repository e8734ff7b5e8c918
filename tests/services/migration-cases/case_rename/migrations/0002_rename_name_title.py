from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_rename", "0001_initial")]

    operations = [
        migrations.RenameField("item", "name", "title"),
    ]
