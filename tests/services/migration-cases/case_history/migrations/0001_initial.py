from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
            ],
        ),
        migrations.RunPython(lambda apps, editor: apps.get_model(__name__.split(".")[0], "Item").objects.create(name="a row"), migrations.RunPython.noop),
    ]
