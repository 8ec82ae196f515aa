"""WSGI entry point.

After the application is loaded, its objects (modules, URL patterns, templates' compiled code)
are moved out of the garbage collector's reach with `gc.freeze()`: they live as long as the
process, and a full collection would otherwise walk them all again, about 100 ms every few
requests at the national-scale figures (docs/decisions.md, "Serving: the loaded application out
of the garbage collector's way")."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
application = get_wsgi_application()
gc.freeze()
