from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_alter_not_null", "0001_initial")]

    operations = [
        migrations.AlterField("item", "note", models.CharField(max_length=100)),
    ]
