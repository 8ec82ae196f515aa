# The root of the portal's own reserve ids is a setting (docs/decisions.md, "Joiners").

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0003_username_normalised'),
    ]

    operations = [
        migrations.AlterField(
            model_name='identitynumber',
            name='root',
            field=models.CharField(choices=[('1.2.752.129.2.1.3.1', 'personal identity number'), ('1.2.752.129.2.1.3.3', 'coordination number'), (settings.PORTAL_RESERVE_ID_ROOT, 'reserve number')], max_length=64),
        ),
    ]
