from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_add_not_null", "0001_initial")]

    operations = [
        migrations.AddField("item", "size", models.IntegerField()),
    ]
