# The name search's trigram index over staff only (docs/search-and-lists.md, "Names: pg_trgm and
# unaccent"): `is_staff` marks people who have, or have had, an employee HSA-id (kept by the
# trigger of migration commissions/0007), and the index `person_name_trgm` of migration 0005 is
# made again as a partial index over them. Ten million patients no longer lengthen the posting
# lists of a common name's trigrams. SQLite has neither index nor trigger.

from django.db import migrations, models

from apps.identities.models import person_search_name

NAME_INDEX = "person_name_trgm"


def _name_index(apps, schema_editor, where):
    """Make `person_name_trgm` again over the search's expression, with `where`."""
    if schema_editor.connection.vendor != "postgresql":
        return
    person = apps.get_model("identities", "Person")
    query = person.objects.annotate(search_name=person_search_name()).query
    expression, params = query.get_compiler(connection=schema_editor.connection).compile(
        query.annotations["search_name"])
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME_INDEX}")
    schema_editor.execute(
        f"CREATE INDEX {NAME_INDEX} ON {person._meta.db_table} "
        f"USING gin (({expression}) gin_trgm_ops){where}", params or None)


def forwards(apps, schema_editor):
    _name_index(apps, schema_editor, " WHERE is_staff")


def backwards(apps, schema_editor):
    _name_index(apps, schema_editor, "")


class Migration(migrations.Migration):

    dependencies = [
        ("identities", "0005_search_indexes"),
    ]

    operations = [
        migrations.AddField(model_name="person", name="is_staff",
                            field=models.BooleanField(default=False, db_default=False,
                                                      editable=False)),
        migrations.RunPython(forwards, backwards),
    ]
