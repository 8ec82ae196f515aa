"""The seals of the audit log's hash chains (docs/audit-log.md, "Tamper evidence"): one signed
row per chunk of a day's chain. On PostgreSQL a trigger refuses UPDATE and DELETE of seals, as for
the audit rows (migration 0002); TRUNCATE is left to the database owner."""

import django.utils.timezone
from django.db import migrations, models


FORWARD = """
CREATE OR REPLACE FUNCTION audit_seal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditseal is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_seal_append_only
    BEFORE UPDATE OR DELETE ON audit_auditseal
    FOR EACH ROW EXECUTE FUNCTION audit_seal_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;
DROP FUNCTION IF EXISTS audit_seal_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0005_partitioned_digest'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditSeal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('chunk', models.PositiveIntegerField()),
                ('count', models.PositiveIntegerField()),
                ('day_count', models.PositiveIntegerField()),
                ('event_ids', models.BinaryField()),
                ('chain', models.BinaryField()),
                ('prev_head', models.BinaryField()),
                ('head', models.BinaryField()),
                ('key_id', models.CharField(max_length=64)),
                ('signature', models.BinaryField()),
                ('sealed_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['day', 'chunk'],
                'constraints': [models.UniqueConstraint(fields=('day', 'chunk'), name='audit_seal_day_chunk_unique')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
