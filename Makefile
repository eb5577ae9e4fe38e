# The two commands:   make run    (the whole service, locally)
#                     make test   (every test, on the real services)
# Everything they need is installed by the targets below; nothing by hand.

VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help install services localstack system tools run test test-fast lint evaluate bench \
        deploy-frontend sam-build sizes clean bench-scale bench-queues

help:
	@echo "make run        run interact :5000, recs :5001, the page :8000 and the scheduled jobs"
	@echo "make test       install what is missing, start services, lint, run every test"
	@echo "make test-fast  unit tests only (no services needed)"
	@echo "make lint       ruff + mypy"
	@echo "make evaluate   train and evaluate on MovieLens-100K; tables -> docs/figures/evaluation.md"
	@echo "make bench      API throughput / latency / memory vs a bare endpoint -> docs/figures/bench.md"
	@echo "make bench-scale  jobs' time / memory / output at 100k and 1M events (SIZES=...)"
	@echo "make bench-queues RabbitMQ confirm latency by queue kind -> docs/figures/bench-queues.md"

install:
	@scripts/setup.sh

services:
	@scripts/services.sh

localstack:
	@scripts/setup_localstack.sh
	@scripts/localstack.sh

system:
	@scripts/setup_system.sh

tools:
	@scripts/setup_sam.sh

run: install services
	$(PY) -m devtools run

test: install services localstack system tools lint
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy recsys functions devtools tests benchmarks scripts

evaluate: install
	$(PY) -m devtools evaluate --write-figures

bench: install services system
	$(PY) -m benchmarks.api --write-figures

# Confirm latency of persistent messages by RabbitMQ queue kind (why the event
# queue uses the version 2 index); writes docs/figures/bench-queues.{md,json}.
bench-queues: install services
	$(PY) -m benchmarks.queue_versions --write-figures

# Jobs' wall time, peak RSS, output and Redis memory at growing synthetic logs;
# writes docs/figures/bench-scale.{md,json,png}.  10M is opt-in:
# make bench-scale SIZES=10000000   (sizes measured earlier stay in the report)
SIZES ?= 100000,1000000
BENCH_SCALE_ARGS ?=
bench-scale: install services
	$(PY) -m benchmarks.scale --sizes $(SIZES) $(BENCH_SCALE_ARGS)

# Upload the page to a bucket with website hosting and write its config.js.
# LocalStack: make deploy-frontend BUCKET=recsys-site ENDPOINT=http://127.0.0.1:4566
# The API URLs default to RECSYS_INTERACT_URL / RECSYS_RECS_URL (recsys/settings.py).
BUCKET ?= recsys-site
ENDPOINT ?=
deploy-frontend: install
	$(PY) -m devtools deploy-page --bucket $(BUCKET) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) \
		$(if $(INTERACT_URL),--interact-url $(INTERACT_URL)) $(if $(RECS_URL),--recs-url $(RECS_URL))

sam-build: tools
	PATH="$(CURDIR)/.venv-tools/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam build

sizes: sam-build install
	$(PY) -m scripts.function_sizes --write-figures

clean:
	rm -rf build .aws-sam test-artifacts .pytest_cache .mypy_cache .ruff_cache
