# The indexes of the people search and the people list (docs/search-and-lists.md): the list order
# (family name, given name, id) for keyset paging, and on PostgreSQL a GIN trigram index over the
# folded names (pg_trgm, unaccent) for infix, accent-insensitive name search. SQLite has neither
# extension and searches names by icontains.

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations, models

from apps.identities.models import SEARCH_FOLD_FUNCTION, person_search_name

NAME_INDEX = "person_name_trgm"

# unaccent is STABLE (its dictionary could be changed), so an index cannot use it directly; the
# wrapper names the schema and the dictionary, which makes IMMUTABLE a promise kept as long as the
# dictionary file is not edited (PostgreSQL documentation, F.48 unaccent).
CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {SEARCH_FOLD_FUNCTION}(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION)
    # The index is over the very SQL the search compiles (`person_search_name`), so the planner
    # recognises it; written out here as `OpClass` needs django.contrib.postgres installed.
    person = apps.get_model("identities", "Person")
    query = person.objects.annotate(search_name=person_search_name()).query
    expression, params = query.get_compiler(connection=schema_editor.connection).compile(
        query.annotations["search_name"])
    schema_editor.execute(
        f"CREATE INDEX {NAME_INDEX} ON {person._meta.db_table} "
        f"USING gin (({expression}) gin_trgm_ops)", params or None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME_INDEX}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {SEARCH_FOLD_FUNCTION}(text)")


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0004_reserve_id_root'),
    ]

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RemoveIndex(
            model_name='person',
            name='identities__family__dd51da_idx',
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(fields=['family_name', 'given_name', 'id'], name='person_name_order_idx'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
