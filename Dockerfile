# Two images from one file:
#   docker build --target runner -t ai-implement-runner .   the session image every run starts (ai-implement-runner)
#   docker build -t ai-implement .                           the controller: `ai-implement operator`, `api`, `dev`
# Both carry custom/ at /app/custom, so runs execute what the admin panels show (docs/pipelines.md).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
COPY webui ./webui
RUN pip install --no-cache-dir --prefix=/install .

# The runner: Python and the package, git, jq and bash for the workflow's steps, and Claude Code from
# its npm package at a pinned version (it needs Node.js 22). Runs as the unprivileged `node` user.
FROM node:22-bookworm-slim AS runner
ARG CLAUDE_CODE_VERSION=2.1.332
LABEL org.opencontainers.image.title="ai-implement-runner" \
      org.opencontainers.image.description="The session image of AI-Implement: runs one Dispatch's pipeline with Claude Code" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv git jq ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && npm cache clean --force
COPY pyproject.toml README.md /src/
COPY controller /src/controller
RUN python3 -m venv /opt/ai-implement \
 && /opt/ai-implement/bin/pip install --no-cache-dir /src \
 && rm -rf /src
COPY custom /app/custom
ENV PATH=/opt/ai-implement/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AI_IMPLEMENT_CUSTOM_DIR=/app/custom \
    AI_IMPLEMENT_AGENT_COMMAND=claude
WORKDIR /home/node
USER node
ENTRYPOINT []
CMD ["ai-implement-runner"]

FROM python:3.11-slim AS controller
LABEL org.opencontainers.image.title="ai-implement" \
      org.opencontainers.image.description="Kubernetes operator that turns tickets labelled for AI work into coding-agent runs" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /install /usr/local
COPY custom /app/custom
WORKDIR /app
ENV PYTHONUNBUFFERED=1 \
    AI_IMPLEMENT_ENV=production
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["ai-implement"]
CMD ["operator"]
