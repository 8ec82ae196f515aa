#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys

#: Commands that only read the models, never secrets, data or the network: they run without a
#: configured deployment (a fresh clone's `manage.py makemigrations --check`), on the test
#: settings, unless DJANGO_SETTINGS_MODULE says otherwise.
MODEL_ONLY_COMMANDS = {"makemigrations"}


def main() -> None:
    model_only = len(sys.argv) > 1 and sys.argv[1] in MODEL_ONLY_COMMANDS
    os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                          "portal.settings.test" if model_only else "portal.settings.base")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load the settings: a missing one is said plainly
    except ImproperlyConfigured as exc:
        sys.exit(f"Configuration error: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
