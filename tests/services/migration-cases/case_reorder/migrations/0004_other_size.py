from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_reorder", "0003_alter_item_kind")]

    operations = [
        migrations.AddField("other", "size", models.IntegerField(null=True)),
    ]
