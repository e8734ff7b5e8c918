from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_alter_text", "0001_initial")]

    operations = [
        migrations.AlterField("item", "name", models.TextField()),
    ]
