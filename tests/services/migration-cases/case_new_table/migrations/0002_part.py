from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_new_table", "0001_initial")]

    operations = [
        migrations.CreateModel("Part", [("id", models.BigAutoField(primary_key=True, serialize=False)), ("label", models.CharField(max_length=10))]),
    ]
