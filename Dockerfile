# The service as a deployable image: dependencies from the lock file, hashes checked, in a build
# stage; the final stage holds the installed service and Python only, and runs as a non-root user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/disclosure
COPY requirements.lock /src/requirements.lock
RUN /opt/disclosure/bin/pip install --require-hashes --no-deps -r /src/requirements.lock
COPY pyproject.toml README.md LICENSE /src/
COPY statemachines /src/statemachines
COPY disclosure /src/disclosure
COPY api /src/api
# The web pages' front-end packages (GOV.UK Frontend, htmx, Chart.js), pinned by the npm lock
# file; the app serves them itself (DISCLOSURE_NODE_MODULES).
COPY package.json package-lock.json /src/
RUN apt-get update && apt-get install --yes --no-install-recommends nodejs npm \
    && cd /src && npm ci --omit=dev --no-audit --no-fund \
    && mv /src/node_modules /opt/disclosure/node_modules
# A wheel, not an editable install: the migrations, templates and web assets are package data.
RUN /opt/disclosure/bin/pip install --no-deps /src \
    && /opt/disclosure/bin/pip uninstall --yes pip

FROM python:3.11-slim
# No package installer, compiler or build backend at run time.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/disclosure disclosure
COPY --from=build /opt/disclosure /opt/disclosure
ENV PATH=/opt/disclosure/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DISCLOSURE_DATABASE_URL=sqlite+aiosqlite:////var/lib/disclosure/disclosure.db \
    DISCLOSURE_NODE_MODULES=/opt/disclosure/node_modules
USER disclosure
WORKDIR /var/lib/disclosure
VOLUME /var/lib/disclosure
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["disclosure", "serve", "--host", "0.0.0.0", "--port", "8000"]
