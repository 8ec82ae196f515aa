"""On PostgreSQL, every new employee HSA-id marks its person as staff (`Person.is_staff`, read by
the name search's partial trigram index, docs/search-and-lists.md), in the same INSERT, whatever
writes it (a service, a bulk load, the inbound SCIM server); the people who already have one are
marked here. The mark is never cleared: the search narrows to the scope's employee HSA-ids
anyway, so a former employee's mark only keeps them in the index."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION commissions_employee_marks_staff() RETURNS trigger AS $$
BEGIN
    UPDATE identities_person SET is_staff = true WHERE id = NEW.person_id AND NOT is_staff;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER commissions_employee_marks_staff
    AFTER INSERT OR UPDATE OF person_id ON commissions_employee
    FOR EACH ROW EXECUTE FUNCTION commissions_employee_marks_staff();
UPDATE identities_person SET is_staff = true
    WHERE NOT is_staff AND id IN (SELECT person_id FROM commissions_employee);
"""
BACKWARD = """
DROP TRIGGER IF EXISTS commissions_employee_marks_staff ON commissions_employee;
DROP FUNCTION IF EXISTS commissions_employee_marks_staff();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("commissions", "0006_enrolment"),
        ("identities", "0006_person_is_staff"),
    ]
    operations = [migrations.RunPython(forward, backward)]
