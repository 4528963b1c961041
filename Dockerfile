# Two images from one file:
#   docker build --target runner -t ai-implement-runner .   the session image every run starts (ai-implement-runner)
#   docker build -t ai-implement .                           the controller: `ai-implement operator`, `api`, `dev`
# Both carry custom/ at /app/custom, so runs execute what the admin panels show (docs/pipelines.md).
#
# Both are rebuilt the same way from the same commit: each base image is pinned by the digest of its
# multi-platform index (a tag moves, a digest does not; refreshing one is in docs/releasing.md), and the
# Python packages are exactly requirements/runtime.lock, every file checked against its hash, installed
# in a layer of their own that a change to the source does not rebuild. VERSION, REVISION and SOURCE
# become the OCI labels; the release workflow passes the tag, the commit and the repository's address.
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=unknown

# The controller's virtualenv, which the controller stage copies whole: the locked dependencies first,
# then the package without them. setuptools and wheel are in the lock, so nothing unlocked builds it.
# python:3.11-slim (3.11.16); `docker buildx imagetools inspect python:3.11-slim` prints the current digest.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build
COPY requirements/runtime.lock /opt/requirements/runtime.lock
RUN python -m venv /opt/ai-implement \
 && /opt/ai-implement/bin/pip install --no-cache-dir --require-hashes -r /opt/requirements/runtime.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
COPY webui ./webui
RUN /opt/ai-implement/bin/pip install --no-cache-dir --no-deps --no-build-isolation .

# The runner: Python and the package, git, jq and bash for the workflow's steps, and Claude Code from
# its npm package at a pinned version (it needs Node.js 22). Runs as the unprivileged `node` user.
# Debian bookworm's python3 is 3.11 too, so the same lock applies.
# node:22-bookworm-slim (22.23.3); `docker buildx imagetools inspect node:22-bookworm-slim` prints the current digest.
FROM node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c AS runner
ARG CLAUDE_CODE_VERSION=2.1.332
LABEL org.opencontainers.image.title="ai-implement-runner" \
      org.opencontainers.image.description="The session image of AI-Implement: runs one Dispatch's pipeline with Claude Code" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv git jq ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && npm cache clean --force
COPY requirements/runtime.lock /opt/requirements/runtime.lock
RUN python3 -m venv /opt/ai-implement \
 && /opt/ai-implement/bin/pip install --no-cache-dir --require-hashes -r /opt/requirements/runtime.lock
COPY pyproject.toml README.md /src/
COPY controller /src/controller
RUN /opt/ai-implement/bin/pip install --no-cache-dir --no-deps --no-build-isolation /src \
 && rm -rf /src
COPY custom /app/custom
ENV PATH=/opt/ai-implement/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AI_IMPLEMENT_CUSTOM_DIR=/app/custom \
    AI_IMPLEMENT_AGENT_COMMAND=claude
# Declared last: a new version or commit changes the labels, not the layers above.
ARG VERSION
ARG REVISION
ARG SOURCE
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
WORKDIR /home/node
USER node
ENTRYPOINT []
CMD ["ai-implement-runner"]

# The same base as the build stage, so the copied virtualenv finds its interpreter at the same path.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS controller
LABEL org.opencontainers.image.title="ai-implement" \
      org.opencontainers.image.description="Kubernetes operator that turns tickets labelled for AI work into coding-agent runs" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/ai-implement /opt/ai-implement
COPY --from=build /opt/requirements /opt/requirements
COPY custom /app/custom
COPY clients /app/clients
WORKDIR /app
ENV PATH=/opt/ai-implement/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AI_IMPLEMENT_ENV=production
ARG VERSION
ARG REVISION
ARG SOURCE
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["ai-implement"]
CMD ["operator"]
