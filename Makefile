# The two commands of the README, and the pieces they are made of. CI runs `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/zamio
export REDIS_URL_TEST ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: demo test venv lint format migrations-check serve worker beat capture clean

venv: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The demo's radio station streams from 127.0.0.1, it closes the month it captures in,
# its "phone" is the SMS file gateway, its payout number has no cooling-off, and a
# withdrawal may be as small as GHS 1 (plays in the off-peak band, midnight to 6 am,
# pay half). Emails go to files under var/mail and logs say only what goes wrong, so the
# demo's own progress is readable.
DEMO_ENV := env -u DATABASE_URL -u REDIS_URL STREAM_CAPTURE_ALLOW_LOOPBACK=1 \
	ROYALTIES_ALLOW_EARLY_CLOSE=1 SMS_BACKEND=file WALLETS_PAYOUT_COOLING_OFF_HOURS=0 \
	WALLETS_MIN_WITHDRAWAL=1.00 \
	EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend LOG_LEVEL=WARNING

## make demo: the whole job on the embedded default (SQLite, eager Celery, in-memory channels),
## on a fresh demo database each time.
demo: venv
	rm -f var/zamio.sqlite3 var/sms.log
	$(DEMO_ENV) $(PY) manage.py migrate --noinput --verbosity 0
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(DEMO_ENV) $(PY) manage.py demo

## make test: ruff, migrations check and pytest on real PostgreSQL and Redis.
test: venv
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} \
		$(PY) -m zamio.preflight
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} \
		$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py collectstatic --noinput --verbosity 0
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} \
		$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Production-shaped processes (docker-compose.yml runs these same commands).
serve: venv
	$(VENV)/bin/daphne -b 0.0.0.0 -p 8000 zamio.asgi:application

worker: venv
	$(VENV)/bin/celery -A zamio worker -l info -Q default,capture,fingerprint,royalties,payouts

beat: venv
	$(VENV)/bin/celery -A zamio beat -l info

capture: venv
	$(PY) manage.py capture --all

clean:
	rm -rf var/ .pytest_cache
