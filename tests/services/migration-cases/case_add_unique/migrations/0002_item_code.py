from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_add_unique", "0001_initial")]

    operations = [
        migrations.AddField("item", "code", models.CharField(max_length=10, null=True, unique=True)),
    ]
