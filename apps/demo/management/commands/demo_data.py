"""`manage.py demo_data`: load the synthetic demo region (idempotent) and print the demo logins."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo import eservice, rules_client, scim_target, seed
from apps.organisations.models import Organisation


class Command(BaseCommand):
    help = "Load the synthetic demo region (once) and print the URL and demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo data is for development only: set DJANGO_DEBUG=true.")
        loaded = seed.seed()
        self.stdout.write("Demo data loaded." if loaded else "Demo data already present.")
        region = Organisation.objects.get(hsa_id=seed.REGION_HSA)
        eservice.register(region)
        records = rules_client.register(region)
        self.stdout.write(f"\nPortal: {settings.PORTAL_BASE_URL}/\n")
        self.stdout.write("Log in with e-ID (level of assurance 3): Log in as staff or Log in as "
                          "patient on the start page, choose the test IdP, pick a person there.")
        self.stdout.write(f"Staff can also log in with a password (level 2; password: "
                          f"{seed.DEMO_PASSWORD}; second factor: `make totp ACCOUNT=<username>` "
                          "prints the current code):")
        for account in seed.ACCOUNTS:
            self.stdout.write(f"  {account.username:14} {account.description}")
        self.stdout.write("Patients: Tolvan Tolvansson (19121212-1212) or any demo patient, through "
                          "the test IdP's citizen e-ID.")
        self.stdout.write(f"Demo e-service (logs in through the portal with OpenID Connect): "
                          f"{settings.DEMO_ESERVICE_URL}/")
        self.stdout.write(f"Rules service (OpenID AuthZEN, {records['evaluation_endpoint']}): "
                          f"demo record system, client credentials with scope "
                          f"{records['scope']} (development only; also in "
                          f"{rules_client.config_path()}):\n"
                          f"  client_id     {records['client_id']}\n"
                          f"  client_secret {records['client_secret']}\n"
                          f"  Sara's commissions: {seed.SARA_CARDIOLOGY_COMMISSION} (Kardiologiska "
                          f"kliniken), {seed.SARA_EMERGENCY_COMMISSION} (Akutmottagningen)\n")
        target = scim_target.ensure_config()
        self.stdout.write(f"Local SCIM target (a downstream system to register under Administration; "
                          f"development only; also in {scim_target.config_path()}):\n"
                          f"  SCIM base URL {target['base_url']}\n"
                          f"  bearer token  {target['token']}\n")
