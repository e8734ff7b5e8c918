from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_rename_model", "0001_initial")]

    operations = [
        migrations.RenameModel("Item", "Thing"),
    ]
