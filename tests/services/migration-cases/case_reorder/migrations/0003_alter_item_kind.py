from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_reorder", "0002_remove_item_note")]

    operations = [
        migrations.AlterField("item", "kind", models.CharField(max_length=1, default="b", choices=[("a", "A"), ("b", "B")])),
    ]
