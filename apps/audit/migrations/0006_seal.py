"""The seals of the audit log's hash chains (docs/audit-log.md, "Tamper evidence"): one signed
row per chunk of a day's chain. On PostgreSQL a trigger refuses UPDATE and DELETE of seals, as for
the audit rows (migration 0002); TRUNCATE is left to the database owner.

Also on PostgreSQL: `audit_row_digest_of(row)`, the row digest of migration 0005 computed from
the row's columns instead of `to_jsonb(row)`, with the same result (tests/audit/test_integrity.py
checks it). `audit_row_digest(to_jsonb(row))` is inlined with `to_jsonb(row)` in place of each of
its 21 references, so the row is turned into JSON 21 times; from the columns it is about five
times faster, which verification of millions of rows needs. The INSERT trigger uses it too."""

import django.utils.timezone
from django.db import migrations, models


FORWARD = """
CREATE OR REPLACE FUNCTION audit_row_digest_of(a audit_auditevent) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(jsonb_build_array(
        a.id, to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        a.action, a.outcome, a.actor_id, a.actor_label, a.actor_kind, a.actor_identifier,
        a.commission_hsa_id, a.organisation_hsa_id, a.organisation_label,
        a.subject_person_id, a.subject_label, a.target_type, a.target_id, a.target_label,
        a.changes, a.reason, a.request_id, a.ip, a.loa
    )::text, 'UTF8'))
$$;
CREATE OR REPLACE FUNCTION audit_event_digest() RETURNS trigger AS $$
BEGIN
    NEW.row_hash := audit_row_digest_of(NEW);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
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
CREATE OR REPLACE FUNCTION audit_event_digest() RETURNS trigger AS $$
BEGIN
    NEW.row_hash := audit_row_digest(to_jsonb(NEW));
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP FUNCTION IF EXISTS audit_row_digest_of(audit_auditevent);
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
