from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_delete_model", "0001_initial")]

    operations = [
        migrations.DeleteModel("Item"),
    ]
