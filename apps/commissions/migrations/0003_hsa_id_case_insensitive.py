"""Employee and commission HSA-ids are one id whatever their case, like organisation HSA-ids, and
hold only the normalised form (`identifiers.normalise_hsa_id`) that the services always stored. Ids
that differ only in case, or a row written around the services, make this migration fail, naming
the constraint and the duplicated id, for the operator to correct."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('commissions', '0002_time_bound'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='commission',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('hsa_id'), name='commission_hsa_id_ci_unique', violation_error_message='This HSA-id is already in use.'),
        ),
        migrations.AddConstraint(
            model_name='commission',
            constraint=models.CheckConstraint(condition=models.Q(('hsa_id__regex', '\\ASE(?:[0-9]{12}|[0-9]{10})-[A-Za-z0-9]+\\Z')), name='commission_hsa_id_normalised'),
        ),
        migrations.AddConstraint(
            model_name='employee',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('hsa_id'), name='employee_hsa_id_ci_unique', violation_error_message='This HSA-id is already in use.'),
        ),
        migrations.AddConstraint(
            model_name='employee',
            constraint=models.CheckConstraint(condition=models.Q(('hsa_id__regex', '\\ASE(?:[0-9]{12}|[0-9]{10})-[A-Za-z0-9]+\\Z')), name='employee_hsa_id_normalised'),
        ),
    ]
