# One image for every process: `ai-implement operator`, `ai-implement api`, `ai-implement dev`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
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
