from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_alter_longer", "0001_initial")]

    operations = [
        migrations.AlterField("item", "name", models.CharField(max_length=200)),
    ]
