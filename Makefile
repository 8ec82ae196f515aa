# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
export DJANGO_SETTINGS_MODULE ?= portal.settings.base

.PHONY: run test setup lint bench bench-scale mail totp messages xmlsec1

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed (found %s)." % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

## xmlsec1 signs and verifies SAML messages (pysaml2). Installed here when running as root (the
## package lists are refreshed first if the install fails); otherwise one line says how.
xmlsec1:
	@command -v xmlsec1 >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing xmlsec1: apt-get install -y xmlsec1"; \
	    apt-get install -y -q xmlsec1 >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q xmlsec1 >/dev/null; } \
	      || { echo "Could not install xmlsec1; run: apt-get update && apt-get install -y xmlsec1" >&2; exit 1; }; \
	  else echo "xmlsec1 is missing (SAML signatures need it): run sudo apt-get install xmlsec1" >&2; exit 1; fi; }

## make run: set up, migrate, create the CA, the OIDC, audit seal and test IdP's keys, load
## demo data, serve on localhost:8000 with a worker, the beat scheduler, the local test IdP on
## 127.0.0.1:8001, the demo e-service on 127.0.0.1:8002 and the local SCIM target on 127.0.0.1:8003
## (manage.py runportal supervises them all).
run: export DJANGO_DEBUG ?= true
run: xmlsec1 $(STAMP)
	@test -f .env || { cp .env.example .env; echo "Created .env from .env.example (development settings)."; }
	$(PY) manage.py migrate --noinput
	$(PY) manage.py issuance_ca_init
	$(PY) manage.py saml_sp_init
	$(PY) manage.py oidc_keys_init
	$(PY) manage.py audit_seal_key_init
	$(PY) manage.py testidp_init
	$(PY) manage.py demo_data
	@echo "Serving http://localhost:8000/ with a Celery worker and beat, the test IdP on http://127.0.0.1:8001/ and the local SCIM target on http://127.0.0.1:8003/v2 (Ctrl-C stops all). E-mails: make mail"
	$(PY) manage.py runportal localhost:8000

## make test: ruff, mypy, import-linter, migrations check and pytest (PostgreSQL when DATABASE_URL is set).
test: export DJANGO_SETTINGS_MODULE = portal.settings.test
test: xmlsec1 $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy . && $(VENV)/bin/lint-imports

## make bench: benchmarks that print figures (never part of the tests). With DATABASE_URL on
## PostgreSQL also the rules service and provisioning at scale; BENCH_RULES_PEOPLE=1000000 and
## BENCH_PROVISIONING_USERS=100000 for the goals' scale (docs/benchmarks.md).
bench: export DJANGO_SETTINGS_MODULE = portal.settings.test
bench: $(STAMP)
	$(PY) -m benchmarks.run

## make bench-scale: the portal at national scale (not part of make test or make bench; PostgreSQL
## only: DATABASE_URL). Seeds 1,000,000 staff, 10,000,000 patients and 20,000,000 audit rows by
## COPY into a database of its own (<name>_scale) and prints the pages' p50/p95 and SQL statements.
## BENCH_SCALE=0.01 for a quick run, BENCH_SCALE_KEEP=1 keeps the database (docs/benchmarks.md).
bench-scale: export DJANGO_SETTINGS_MODULE = portal.settings.test
bench-scale: $(STAMP)
	$(PY) -m benchmarks.scale

## make mail: print the e-mails the portal sent in development (var/mail).
mail: export DJANGO_DEBUG ?= true
mail: $(STAMP)
	@$(PY) manage.py demo_mail

## make totp ACCOUNT=anna.admin: print the current second-factor code of a demo account.
totp: export DJANGO_DEBUG ?= true
totp: $(STAMP)
	@$(PY) manage.py demo_totp $(ACCOUNT)

## make messages: refresh the Swedish catalogue locale/sv (needs GNU gettext) and compile it.
## Translate the new empty or fuzzy entries in django.po, run it again, commit .po and .mo.
messages: export DJANGO_SETTINGS_MODULE = portal.settings.test
messages: $(STAMP)
	$(PY) manage.py makemessages -l sv --no-obsolete --ignore=.venv --ignore=var --ignore=tests \
	  --ignore=benchmarks --ignore=clients --ignore=docs
	$(PY) manage.py compilemessages --ignore=.venv
