# illdesk production image: one image for the web server, the Celery worker and Celery beat
# (docker-compose.yml picks the command). Build: docker build -t illdesk .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=illdesk.settings

WORKDIR /app

# The dependencies first, read from pyproject.toml, so this layer is rebuilt only when
# they change, not on every code edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself. It is installed in place (-e) so that the code Python imports is
# the code in /app, next to the templates/ and static/ that settings.BASE_DIR points at
# (they are not Python packages, so a wheel would leave them behind).
COPY . .
RUN pip install --no-deps -e .

# Static files are collected, hashed and compressed at build time with the production
# storage (CompressedManifestStaticFilesStorage, chosen by ILLDESK_PRODUCTION). Settings
# refuse to load in production without a SECRET_KEY, so this one step gets a throwaway key;
# it is not kept in the image (RUN-scoped variables do not persist).
RUN ILLDESK_PRODUCTION=1 SECRET_KEY=collectstatic-build-step-only-not-a-secret \
    python manage.py collectstatic --noinput

# Run as an unprivileged user. The code and the collected static files stay owned by root,
# so the running app cannot modify them.
RUN useradd --system --uid 10001 --user-group --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin illdesk
USER 10001:10001

EXPOSE 8000

# No HEALTHCHECK here: the worker and beat containers run this image too, and they serve no
# HTTP. docker-compose.yml gives the web service its healthcheck (GET /healthz).
CMD ["gunicorn", "illdesk.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm"]
# The access log (without query strings: they may hold a patron's name) is gunicorn.conf.py's.
