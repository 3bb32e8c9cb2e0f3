# Production image: uvicorn behind your load balancer, PostgreSQL from DATABASE_URL, non-root.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 sufrah \
 && useradd --system --uid 10001 --gid sufrah --home-dir /srv --shell /usr/sbin/nologin sufrah

WORKDIR /srv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY schema.graphql ./
RUN pip install -e '.[s3]' && chown -R sufrah:sufrah /srv

USER sufrah
ENV ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/srv/.sufrah
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"

# `sufrah serve` applies migrations (under an advisory lock, so replicas may start together), then runs uvicorn.
CMD ["sufrah", "serve"]
