from django.db import migrations, models


class Migration(migrations.Migration):
    """Locking operations on the renamed table, a NOT NULL column without a default on it, and
    additions with a removal in one migration (like a real app's history)."""

    dependencies = [("case_history", "0003_rename_part_piece")]

    operations = [
        migrations.AlterField("piece", "ref", models.CharField(max_length=20, unique=True)),
        migrations.AddIndex("piece", models.Index(fields=["ref"], name="piece_ref_idx")),
        migrations.AddField("piece", "weight", models.IntegerField()),
        migrations.DeleteModel("Legacy"),
        migrations.AddField("item", "note", models.CharField(max_length=20, null=True)),
    ]
