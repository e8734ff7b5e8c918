from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_unique_constraint", "0001_initial")]

    operations = [
        migrations.AddConstraint("item", models.UniqueConstraint(fields=["name"], name="item_name_unique")),
    ]
