"""`manage.py oidc_keys_rotate`: make new signing keys current and drop the retired public keys
whose tokens have all expired (apps.federation.oidc.keys; docs/identity-provider.md)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.federation.oidc import keys


class Command(BaseCommand):
    help = ("Rotate the OpenID Connect signing keys (old public keys stay in the JWKS until their "
            "tokens have expired) and prune retired keys past that time.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--algorithm", choices=sorted(keys.FILES), action="append",
                            help="Rotate only this algorithm's key (default: all).")
        parser.add_argument("--prune-only", action="store_true",
                            help="Rotate nothing; only drop retired keys past their retention.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["prune_only"]:
            for algorithm in options["algorithm"] or list(keys.FILES):
                old, new = keys.rotate(algorithm)
                self.stdout.write(f"{algorithm}: new key {new}"
                                  + (f", {old} retired" if old else "") + ".")
        for kid in keys.prune():
            self.stdout.write(f"Dropped retired key {kid} from the JWKS.")
        self.stdout.write(f"Retired keys are published for {keys.retention_seconds()} s.")
