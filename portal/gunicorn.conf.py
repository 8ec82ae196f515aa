"""gunicorn's configuration for the portal in production (docs/deployment.md):

    gunicorn -c portal/gunicorn.conf.py portal.wsgi:application

Every value can be changed by its environment variable (shown beside it) without editing this
file. gunicorn reads this file itself (https://docs.gunicorn.org/en/stable/settings.html).
"""

import multiprocessing
import os

from portal.logging_json import formatters, log_format

#: Where to listen: behind the reverse proxy, on loopback or a private address
#: (GUNICORN_BIND, e.g. "127.0.0.1:8000" or "unix:/run/iam-portal/gunicorn.sock").
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
#: Worker processes (GUNICORN_WORKERS): by default two per CPU. Each holds its own PostgreSQL
#: connection per thread (CONN_MAX_AGE), so workers x threads connections in all.
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() * 2)))
#: Threads per worker (GUNICORN_THREADS): the gthread worker keeps HTTP connections alive,
#: so a proxy or a busy client does not open a TCP connection per request.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
#: A request that takes longer than this (seconds) has its worker restarted
#: (GUNICORN_TIMEOUT); the portal's pages and endpoints answer in well under a second.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
#: Idle keep-alive connections from the proxy are closed after this many seconds.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
#: Restart each worker after about this many requests (jittered so they do not restart at once),
#: which bounds the growth of any leak (GUNICORN_MAX_REQUESTS; 0 turns it off).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
#: The proxy's address, whose X-Forwarded-* headers gunicorn believes (FORWARDED_ALLOW_IPS).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
#: Logs to standard error/output (the service manager collects them); no request bodies or
#: query strings beyond the path's own, so no token or code is logged by gunicorn
#: (access_log_format below leaves out the query string).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
#: gunicorn's own lines in the portal's format (PORTAL_LOG_FORMAT, portal.logging_json): with
#: JSON, an access line holds its method, path, status, bytes, duration and the answer's
#: X-Request-ID as fields (never the query string).
_format = log_format()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": formatters(),
    "handlers": {
        "error": {"class": "logging.StreamHandler", "formatter": _format,
                  "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "formatter": _format,
                   "stream": "ext://sys.stdout"},
    },
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["access"] if accesslog else [], "level": "INFO",
                            "propagate": False},
    },
} if _format == "json" else {}
#: GUNICORN_PRELOAD=true loads the application in the master before forking the workers: they
#: share its pages (copy-on-write) instead of each holding its own copy of the code, which
#: lowers the memory each worker adds (docs/deployment.md, "Memory"); a new release then needs
#: a restart, not a HUP. By default each worker loads the application itself.
preload_app = os.environ.get("GUNICORN_PRELOAD", "false").lower() in ("true", "1", "yes", "on")
