"""Composite indexes for the audit search: (column, occurred_at, id) per filter and (occurred_at,
id) for the keyset position, replacing the single-column indexes they make redundant (each write
to this append-only table pays for every index).

On PostgreSQL the indexes are built with CREATE INDEX CONCURRENTLY, so a log of tens of millions
of rows keeps taking writes while they are built; the migration is therefore not atomic. Other
databases (SQLite in development) build them the ordinary way. The trigger of migration 0002
rejects only UPDATE and DELETE, so neither building nor dropping an index is affected by it.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex
from django.utils import timezone


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, an ordinary CREATE INDEX elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


def _index(*fields, name):
    return AddIndexConcurrentlyOnPostgres(
        model_name="auditevent", index=models.Index(fields=list(fields), name=name))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0003_actor_identifier")]

    operations = [
        # The new indexes first, so no search runs without one while the old ones are dropped.
        _index("occurred_at", "id", name="audit_time_idx"),
        _index("organisation_hsa_id", "occurred_at", "id", name="audit_organisation_time_idx"),
        _index("subject_person_id", "occurred_at", "id", name="audit_subject_time_idx"),
        _index("actor_id", "occurred_at", "id", name="audit_actor_time_idx"),
        _index("action", "occurred_at", "id", name="audit_action_time_idx"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_audit_subject_1206ae_idx"),
        migrations.AlterField(model_name="auditevent", name="action",
                              field=models.CharField(max_length=64)),
        migrations.AlterField(model_name="auditevent", name="actor_id",
                              field=models.UUIDField(blank=True, null=True)),
        migrations.AlterField(model_name="auditevent", name="occurred_at",
                              field=models.DateTimeField(default=timezone.now)),
    ]
