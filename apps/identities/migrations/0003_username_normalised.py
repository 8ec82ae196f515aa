"""Usernames in their normalised form (`identifiers.normalise_username`), unique also by their
UTS #39 skeleton; names NFKC-normalised (docs/security.md, "Identifiers that look alike").

Existing usernames are rewritten to the normalised form. If one is refused by the rule, or two
accounts fold to one username or one skeleton, the migration stops and lists them, so the operator
renames them (an account's name cannot be chosen for its owner here)."""

from collections import defaultdict

import django.db.models.functions.text
from django.db import migrations, models

from apps.identities.identifiers import IdentifierError, nfkc, normalise_username
from apps.identities.models import username_skeleton


def _stop(problem: str, names: list[str]) -> None:
    raise RuntimeError(
        f"Rename these accounts before migrating ({problem}): {'; '.join(names)}. A username is now "
        "ASCII letters, digits and . - _, one name whatever its case or width, and never "
        "confusable with another (docs/security.md)."
    )


def normalise_existing(apps, schema_editor):
    User = apps.get_model("identities", "User")
    Person = apps.get_model("identities", "Person")
    refused, by_username = [], defaultdict(list)
    for user in User.objects.only("username"):
        try:
            by_username[normalise_username(user.username)].append(user)
        except IdentifierError as exc:
            refused.append(f"{user.username!r} ({exc.code})")
    if refused:
        _stop("refused", refused)
    same = [" / ".join(repr(u.username) for u in users) for users in by_username.values()
            if len(users) > 1]
    if same:
        _stop("one username", same)
    for username, (user,) in by_username.items():
        if username != user.username:
            user.username = username
            user.save(update_fields=["username"])
    skeleton = username_skeleton(models.F("username"))
    shared = (User.objects.values(shared=skeleton).annotate(n=models.Count("id"))
              .filter(n__gt=1).values("shared"))
    confusable = User.objects.alias(skeleton=skeleton).filter(skeleton__in=shared)
    if confusable.exists():
        _stop("confusable", sorted(confusable.values_list("username", flat=True)))
    for person in Person.objects.only("given_name", "family_name"):
        given, family = nfkc(person.given_name).strip(), nfkc(person.family_name).strip()
        if (given, family) != (person.given_name, person.family_name):
            person.given_name, person.family_name = given, family
            person.save(update_fields=["given_name", "family_name"])


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0002_session_epoch'),
    ]

    operations = [
        migrations.RunPython(normalise_existing, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.CheckConstraint(condition=models.Q(('username__regex', '\\A[a-z0-9]+(?:[._-][a-z0-9]+)*\\Z')), name='user_username_normalised'),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Replace(django.db.models.functions.text.Replace(models.F('username'), models.Value('1'), models.Value('l')), models.Value('m'), models.Value('rn')), name='user_username_skeleton_unique'),
        ),
    ]
