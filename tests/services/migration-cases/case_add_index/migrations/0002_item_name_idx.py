from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_add_index", "0001_initial")]

    operations = [
        migrations.AddIndex("item", models.Index(fields=["name"], name="item_name_idx")),
    ]
