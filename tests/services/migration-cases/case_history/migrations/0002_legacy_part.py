from django.db import migrations, models


class Migration(migrations.Migration):
    """Two tables the serving code (at 0001) never saw."""

    dependencies = [("case_history", "0001_initial")]

    operations = [
        migrations.CreateModel("Legacy", fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)), ("label", models.CharField(max_length=20))]),
        migrations.CreateModel("Part", fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)), ("code", models.CharField(max_length=20))]),
    ]
