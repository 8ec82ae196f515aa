"""Move every django-otp TOTP device to `authn.TOTPDevice`, its key encrypted with the first key of
settings.PORTAL_TOTP_ENCRYPTION_KEYS, and delete the plaintext rows (docs/security.md). Reversible:
going back decrypts the keys into django-otp's table again."""

from binascii import hexlify, unhexlify

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import migrations

FIELDS = ("user_id", "name", "confirmed", "throttling_failure_timestamp", "throttling_failure_count",
          "last_used_at", "step", "t0", "digits", "tolerance", "drift", "last_t")


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.PORTAL_TOTP_ENCRYPTION_KEYS])


def encrypt_keys(apps, schema_editor):
    plain_model = apps.get_model("otp_totp", "TOTPDevice")
    encrypted_model = apps.get_model("authn", "TOTPDevice")
    fernet = _fernet()
    for plain in plain_model.objects.order_by("pk"):
        device = encrypted_model.objects.create(
            encrypted_key=fernet.encrypt(unhexlify(plain.key)).decode("ascii"),
            **{field: getattr(plain, field) for field in FIELDS})
        encrypted_model.objects.filter(pk=device.pk).update(created_at=plain.created_at)
        plain.delete()


def decrypt_keys(apps, schema_editor):
    plain_model = apps.get_model("otp_totp", "TOTPDevice")
    encrypted_model = apps.get_model("authn", "TOTPDevice")
    fernet = _fernet()
    for device in encrypted_model.objects.order_by("pk"):
        plain = plain_model.objects.create(
            key=hexlify(fernet.decrypt(device.encrypted_key.encode("ascii"))).decode("ascii"),
            **{field: getattr(device, field) for field in FIELDS})
        plain_model.objects.filter(pk=plain.pk).update(created_at=device.created_at)
        device.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("authn", "0001_totp_device"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(encrypt_keys, decrypt_keys)]
