from django.db import migrations


class Migration(migrations.Migration):
    """Renames a table created earlier in the same plan: it does not exist yet when classified."""

    dependencies = [("case_history", "0002_legacy_part")]

    operations = [
        migrations.RenameModel("Part", "Piece"),
        migrations.RenameField("piece", "code", "ref"),
    ]
