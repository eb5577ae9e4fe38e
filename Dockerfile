# syntax=docker/dockerfile:1
# One image for the whole local stack (docker-compose.yml): the two APIs run
# under uvicorn, the scheduler calls the job handlers, the one-shot jobs use
# the recsys CLI (python -m devtools).  Each service picks its process with `command:`.
#
# Why not the Lambda base image with its runtime interface emulator?  The RIE
# only exposes Lambda's invoke API (POST /2015-03-31/functions/function/
# invocations with a JSON event), so the page could not call :5000/:5001
# without a proxy that turns HTTP into function-URL events.  uvicorn serves the
# very FastAPI `app` that Mangum wraps on Lambda; the Lambda path itself
# (Mangum + real events) is covered by tests/deploy/test_lambda_handlers.py.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first, so this layer is rebuilt only when they change.  The
# file is generated from pyproject.toml (python -m devtools requirements): the
# core, the api, train and local extras.
COPY deploy/requirements-docker.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

RUN useradd --create-home --uid 10001 app \
    && mkdir -p /app/data \
    && chown app:app /app/data

COPY recsys/ ./recsys/
COPY functions/ ./functions/
COPY devtools/ ./devtools/
COPY frontend_static/ ./frontend_static/

USER app
ENV RECSYS_DATA_DIR=/app/data \
    MPLCONFIGDIR=/tmp/matplotlib

EXPOSE 5000 5001 8000
CMD ["python", "-m", "uvicorn", "functions.interact.app:app", "--host", "0.0.0.0", "--port", "5000"]
