# syntax=docker/dockerfile:1.7
# One Dockerfile, one set of layers, three tags (see docs/deployment.md, "Images"):
#   docker build --target connector -t ssmd-connector:dev .
#   docker build --target archiver  -t ssmd-archiver:dev .
#   docker build --target agent     -t ssmd-agent:dev .
# The three final stages differ only in ENTRYPOINT, so registries and nodes store the layers once, while the
# deployment guide's manifests (which pass only `args`) work unchanged. `docker build .` gives the plain `ssmd` CLI.

ARG PYTHON_VERSION=3.11

# ---- build: resolve and install every dependency into a venv (wheels only; no compiler needed or shipped) ----
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ONLY_BINARY=:all:
RUN python -m venv /opt/ssmd
WORKDIR /src
# Dependencies first: this layer is reused until pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir -p src/ssmd && touch src/ssmd/__init__.py \
 && /opt/ssmd/bin/pip install --no-binary=ssmd ".[sync]" \
 && /opt/ssmd/bin/pip uninstall --yes ssmd
COPY src ./src
# Not editable: the final image must not depend on /src. Bytecode is compiled here because the root filesystem is
# read-only at run time (Kubernetes securityContext), so Python could not cache it later.
RUN /opt/ssmd/bin/pip install --no-deps --no-binary=ssmd . \
 && /opt/ssmd/bin/python -m compileall -q /opt/ssmd/lib

# ---- runtime: the slim base plus the venv; non-root; no compilers, no build tools, no sources ----
FROM python:${PYTHON_VERSION}-slim AS runtime
LABEL org.opencontainers.image.source="https://github.com/your-org/ssmd" \
      org.opencontainers.image.description="ssmd: Kalshi WebSocket -> NATS JetStream -> verified .jsonl.gz archives" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/ssmd/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PORT=8080
RUN groupadd --system --gid 10001 ssmd \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ssmd \
 && mkdir -p /data/ssmd /config \
 && chown 10001:10001 /data/ssmd
COPY --from=build /opt/ssmd /opt/ssmd
USER 10001:10001
WORKDIR /data
EXPOSE 8080
STOPSIGNAL SIGTERM
# Every service serves /health on 8080 (connector/archiver --health-addr, agent $PORT). Kubernetes ignores this and
# uses the Deployment's probes; plain `docker run` and compose use it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/health', timeout=4)"]

FROM runtime AS connector
ENTRYPOINT ["ssmd-connector"]

FROM runtime AS archiver
ENTRYPOINT ["ssmd-archiver"]

FROM runtime AS agent
ENTRYPOINT ["ssmd-agent"]

# Default target (last stage): the full CLI, used by the stream Job and the archive-sync CronJob via `command:`.
FROM runtime AS ssmd
ENTRYPOINT ["ssmd"]
CMD ["--help"]
