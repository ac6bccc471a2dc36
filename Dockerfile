# syntax=docker/dockerfile:1.7
# One Dockerfile, one set of layers, four images (see docs/deployment.md, "Images"). ALWAYS name the target:
#   docker build --target connector -t ssmd-connector:latest .
#   docker build --target archiver  -t ssmd-archiver:latest .
#   docker build --target agent     -t ssmd-agent:latest .
#   docker build --target ssmd      -t ssmd:latest .          (the CLI: stream Job, archive-sync CronJob)
# The final stages differ only in ENTRYPOINT, so registries and nodes store the layers once, while the
# deployment guide's manifests (which pass only `args`) work unchanged. A plain `docker build .` (the guide's
# `docker build -t ssmd-connector:latest .`) FAILS on purpose, naming these commands: it would otherwise tag one
# image as another and fail later in the cluster with "No such option: --feed".

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
# curl and nc: the deployment guide runs `curl -s localhost:8080/health` and `nc -zv nats... 4222` inside the pods.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends curl netcat-openbsd \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ssmd \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ssmd \
 && mkdir -p /data/ssmd /config \
 && chown 10001:10001 /data/ssmd
COPY --from=build /opt/ssmd /opt/ssmd
USER 10001:10001
WORKDIR /data
EXPOSE 8080
STOPSIGNAL SIGTERM
# Every service serves /health on 8080 (connector/archiver --health-addr, agent $PORT). Kubernetes ignores this and
# uses the Deployment's probes; plain `docker run` and compose use it. Python rather than curl: exec form, no shell.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/health', timeout=4)"]

FROM runtime AS connector
ENTRYPOINT ["ssmd-connector"]

FROM runtime AS archiver
ENTRYPOINT ["ssmd-archiver"]

FROM runtime AS agent
ENTRYPOINT ["ssmd-agent"]

# The full CLI, used by the stream Job and the archive-sync CronJob (`command: [ssmd, ...]`).
FROM runtime AS ssmd
ENTRYPOINT ["ssmd"]
CMD ["--help"]

# Default target (the last stage): refuse to build an image without a --target. BuildKit builds only the stages the
# chosen target needs, and the legacy builder stops at the target, so a named target never reaches this stage.
FROM python:${PYTHON_VERSION}-slim AS choose-a-target
RUN echo "ssmd: this Dockerfile builds four images; name one with --target:" >&2 \
 && echo "  docker build --target connector -t ssmd-connector:latest ." >&2 \
 && echo "  docker build --target archiver  -t ssmd-archiver:latest ." >&2 \
 && echo "  docker build --target agent     -t ssmd-agent:latest ." >&2 \
 && echo "  docker build --target ssmd      -t ssmd:latest ." >&2 \
 && exit 1
