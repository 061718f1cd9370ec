FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements.txt \
    && touch .venv/.installed
COPY . .
RUN DJANGO_ENV=development .venv/bin/python manage.py collectstatic --noinput
EXPOSE 8000
