from django.db import migrations, models


class Migration(migrations.Migration):
    """Django's DEFAULT_AUTO_FIELD upgrade path (AutoField to BigAutoField) and a wider integer:
    every value fits, only the rewrite's lock matters."""

    dependencies = [("case_alter_bigint", "0001_initial")]

    operations = [
        migrations.AlterField("item", "id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
        migrations.AlterField("item", "votes", models.BigIntegerField(default=0)),
    ]
