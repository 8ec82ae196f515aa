# The people search's trigram index over staff only (docs/search-and-lists.md, "Names: pg_trgm and
# unaccent"): `is_staff` marks people who have, or have had, an employee HSA-id (set by the
# trigger of migration commissions/0007; the trigger here keeps any UPDATE from clearing it), and
# `person_staff_name_trgm` is a partial trigram index over them, beside `person_name_trgm` over
# everyone (migration 0005, for the audit search's person filter). Ten million patients no longer
# lengthen the posting lists of a common name's trigrams in the people search. SQLite has neither
# index nor trigger.

from django.db import migrations, models

from apps.identities.models import person_search_name

NAME_INDEX = "person_staff_name_trgm"

KEEP_MARK = """
CREATE OR REPLACE FUNCTION identities_person_keeps_staff_mark() RETURNS trigger AS $$
BEGIN
    NEW.is_staff := NEW.is_staff OR OLD.is_staff;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER identities_person_keeps_staff_mark
    BEFORE UPDATE OF is_staff ON identities_person
    FOR EACH ROW EXECUTE FUNCTION identities_person_keeps_staff_mark();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    person = apps.get_model("identities", "Person")
    query = person.objects.annotate(search_name=person_search_name()).query
    expression, params = query.get_compiler(connection=schema_editor.connection).compile(
        query.annotations["search_name"])
    schema_editor.execute(
        f"CREATE INDEX {NAME_INDEX} ON {person._meta.db_table} "
        f"USING gin (({expression}) gin_trgm_ops) WHERE is_staff", params or None)
    schema_editor.execute(KEEP_MARK)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS identities_person_keeps_staff_mark "
                          "ON identities_person")
    schema_editor.execute("DROP FUNCTION IF EXISTS identities_person_keeps_staff_mark()")
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME_INDEX}")


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
