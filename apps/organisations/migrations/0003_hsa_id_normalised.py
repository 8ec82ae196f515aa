"""Organisation HSA-ids hold only the normalised form (`identifiers.normalise_hsa_id`), which
`organisation_create` always stored; a row written around it makes this migration fail, naming the
constraint, for the operator to correct."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organisations', '0002_hsa_id_case_insensitive'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='organisation',
            constraint=models.CheckConstraint(condition=models.Q(('hsa_id__regex', '\\ASE(?:[0-9]{12}|[0-9]{10})-[A-Za-z0-9]+\\Z')), name='organisation_hsa_id_normalised'),
        ),
    ]
