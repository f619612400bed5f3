# Roundtable: the same bot as `scripts/run`, in a container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ROUNDTABLE_DB=/app/data/roundtable.db \
    ROUNDTABLE_CONFIG=/app/config/config.yaml

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY bot ./bot
COPY cogs ./cogs
# The bot runs from /app's sources: compile them once here, since PYTHONDONTWRITEBYTECODE (and a tree
# the bot's user cannot write) would otherwise mean compiling them on every start.
RUN pip install -c requirements.lock . && python -m compileall -q bot cogs
COPY config ./config

RUN useradd --create-home --uid 10001 roundtable \
    && mkdir -p /app/data \
    && chown roundtable:roundtable /app/data
USER roundtable
VOLUME ["/app/data"]

# Healthy while the bot's gateway heartbeat file (written every 30 s once connected) is fresh.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]

CMD ["python", "-m", "bot"]
