from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_add_default", "0001_initial")]

    operations = [
        migrations.AddField("item", "size", models.IntegerField(default=0)),
        # No default, but blank: Django adds the column with '' (its effective default).
        migrations.AddField("item", "label", models.CharField(max_length=20, blank=True)),
    ]
