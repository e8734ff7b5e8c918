from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("case_raw_sql_reversible", "0001_initial")]

    operations = [
        migrations.RunSQL("UPDATE case_raw_sql_reversible_item SET note = name", reverse_sql=migrations.RunSQL.noop),
    ]
