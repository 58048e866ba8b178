# Paceline: one image for every process (serve, ingest, scoring, api, migrate, keys).
#
#   docker build -t paceline:local .
#   docker run --rm -p 127.0.0.1:8000:8000 -v paceline-data:/var/lib/paceline paceline:local serve --demo
#
# The distributed stack (PostgreSQL + Kafka, one container per service) is docker-compose.yml;
# docs/OPERATIONS.md describes both.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the package and its pinned dependencies in a virtualenv -------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/paceline
ENV PATH=/opt/paceline/bin:$PATH

WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
# They are the exact pins of [project.dependencies]; every one ships a manylinux wheel for
# amd64 and arm64, so no compiler is needed (--only-binary makes a missing wheel fail loudly
# instead of silently needing build tools).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --only-binary=:all: -r /tmp/requirements.txt

# The package itself: a regular (non-editable) wheel install. Package data (the Alembic
# migrations, script.py.mako, the KPI data files) must be inside the wheel; the smoke test
# below proves it for the migrations by migrating a throw-away SQLite database from the
# installed package alone, outside /src.
COPY README.md ./
COPY services ./services
COPY shared ./shared
COPY migrations ./migrations
RUN pip install --no-deps . \
    && pip check
WORKDIR /tmp
RUN paceline --version \
    && PACELINE_DATA_DIR=/tmp/paceline-smoke paceline migrate \
    && rm -rf /tmp/paceline-smoke

# --- runtime: the virtualenv on a clean slim image, no build tools, non-root --------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="paceline" \
      org.opencontainers.image.description="Sales-KPI engine: CRM webhooks in, live KPI progress, pace, scorecards and alerts out." \
      org.opencontainers.image.licenses="Apache-2.0"

# 10001: a fixed, unprivileged uid/gid so volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 paceline \
    && useradd --system --uid 10001 --gid paceline --home-dir /var/lib/paceline \
        --no-create-home --shell /usr/sbin/nologin paceline \
    && install -d -o paceline -g paceline -m 0750 /var/lib/paceline

COPY --from=builder /opt/paceline /opt/paceline

# A container must bind all interfaces (the default 127.0.0.1 would be unreachable through
# a published port). The embedded mode keeps its SQLite database and event log in
# /var/lib/paceline: mount a volume there to keep them.
ENV PATH=/opt/paceline/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PACELINE_HOST=0.0.0.0 \
    PACELINE_PORT=8000 \
    PACELINE_DATA_DIR=/var/lib/paceline \
    PACELINE_LOG_FORMAT=json

USER 10001:10001
WORKDIR /var/lib/paceline
EXPOSE 8000

# Liveness only (/healthz answers while the process runs); docker-compose.yml checks /readyz,
# which also needs the database and the event log. No curl in slim images: python's urllib.
# A command that overrides the port (--port) should override this check too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PACELINE_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["paceline"]
CMD ["serve"]
