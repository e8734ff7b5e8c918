from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_unordered", "0002_remove_item_note")]

    operations = [
        migrations.AddField("item", "size", models.IntegerField(null=True)),
    ]
