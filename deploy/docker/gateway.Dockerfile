# syntax=docker/dockerfile:1
# Aduan privacy gateway: the API for officers, the portal and reporters (HTTP :8000).
# Build from the repository root, which is the uv workspace:
#   docker build -f deploy/docker/gateway.Dockerfile -t aduan/gateway:dev .
# Checked by tests/deploy/test_deploy_dockerfiles.py; docs/deploy.md explains the layout.

FROM python:3.11-slim AS build
# uv pinned to the Makefile's UV_VERSION; from PyPI, so the build needs no other registry.
RUN pip install --no-cache-dir uv==0.13.9
# Compile bytecode now: the runtime filesystem is read-only and the user cannot write it.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# uv needs every workspace member's pyproject.toml to read the workspace, so the whole
# workspace is copied; the lock decides what is installed (--frozen: never re-resolved).
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package aduan-gateway

FROM python:3.11-slim
# A fixed numeric uid/gid: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 aduan \
    && useradd --system --uid 10001 --gid aduan --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin aduan \
    && mkdir -p /data/blobs && chown aduan:aduan /data/blobs
WORKDIR /app
# The virtualenv holds editable (.pth) installs of the workspace packages, so exactly the
# sources of aduan-gateway and its workspace dependencies come along, at the same paths.
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/libs/contracts/src /app/libs/contracts/src
COPY --from=build /app/libs/kit/src /app/libs/kit/src
COPY --from=build /app/libs/areas/src /app/libs/areas/src
COPY --from=build /app/services/privacy-gateway/src /app/services/privacy-gateway/src
# HOST defaults to 127.0.0.1 (a laptop); in a container it must listen on every interface.
# Production refuses development secrets; photos are read from the volume intake writes.
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ADUAN_GATEWAY_ENVIRONMENT=production \
    ADUAN_GATEWAY_HOST=0.0.0.0 \
    ADUAN_GATEWAY_BLOB_ROOT=/data/blobs
USER 10001:10001
EXPOSE 8000
# slim has no curl; urlopen raises (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ADUAN_GATEWAY_PORT', '8000') + '/health', timeout=4)"]
CMD ["python", "-m", "aduan_gateway"]
