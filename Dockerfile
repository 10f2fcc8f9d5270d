# An exact tag: a rebuild gets the same Python and Debian release, not whatever 3.11 is today.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SIFT_DATA_DIR=/data
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
# Not root: the app user owns only /data (artifacts, uploads, beat's schedule); the code stays
# root-owned and read-only to it.
RUN useradd --create-home --uid 1000 sift && mkdir -p /data && chown sift:sift /data
USER sift
EXPOSE 8000
# /healthz answers 503 while the app cannot reach its database; urlopen raises on it. Compose
# sets its own checks per service (the workers and beat serve no HTTP).
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"]
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "sync", "--timeout", "120", "--graceful-timeout", "30"]
