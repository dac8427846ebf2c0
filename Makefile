# Aduan — one entry point for people and CI. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION ?= 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: help deps up down restart status demo test test-unit lint fmt logs topics bench chaos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## install uv (pinned), every Python dependency from uv.lock, the bench's load generator (vegeta, pinned)
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@uv sync --frozen --quiet
	@deploy/scripts/assets.sh
	@deploy/scripts/vegeta.sh >/dev/null

up: deps ## start Kafka, PostgreSQL, Redis and the five services, seed demo data (DEMO=0 skips); print URLs
	@deploy/scripts/infra.sh up
	@uv run --frozen python -m aduan_kit.topics
	@deploy/scripts/services.sh start
	@if [ "$(DEMO)" != "0" ]; then uv run --frozen python deploy/demo/seed.py; fi
	@echo "Portal: http://127.0.0.1:8080/   Console: http://127.0.0.1:8080/console/ (demo users: README)   Web form: http://127.0.0.1:8001/v1/channels/web   Outgoing messages (local sinks): http://127.0.0.1:8090/"

down: ## stop the services and the infrastructure this project started
	@deploy/scripts/services.sh stop
	@deploy/scripts/infra.sh down

restart: ## restart the five services only
	@deploy/scripts/services.sh stop
	@deploy/scripts/services.sh start

status: ## health of every service
	@deploy/scripts/services.sh status

demo: ## (re)seed the demo agencies, users and complaints into a running platform (idempotent)
	@uv run --frozen python deploy/demo/seed.py

topics: deps ## create the Kafka topics from libs/contracts (idempotent)
	@uv run --frozen python -m aduan_kit.topics

test: deps ## the whole suite on real Kafka, PostgreSQL and Redis (fails if that layer is skipped)
	@deploy/scripts/infra.sh up
	@deploy/scripts/browser.sh
	ADUAN_REQUIRE_REAL=1 uv run --frozen pytest

test-unit: deps ## unit tests only (no infrastructure)
	uv run --frozen pytest -m "not integration and not e2e" -p no:cacheprovider

lint: deps ## ruff and mypy --strict over libs and services
	uv run --frozen ruff check libs services tests bench deploy
	uv run --frozen ruff format --check libs services tests bench deploy
	uv run --frozen mypy
	uv run --frozen mypy bench tests/bench

fmt: deps ## format the code
	uv run --frozen ruff format libs services tests bench deploy
	uv run --frozen ruff check --fix libs services tests bench deploy

BENCH_RATES ?= 10,20,40,80,100,160,250,320,640
BENCH_STEP_S ?= 30
BENCH_READ_RATE ?= 20
BENCH_READ_S ?= 20
BENCH_REPLAY ?= 20000
BENCH_SOAK_MIN ?= 0
BENCH_OWN_BROKER ?= 1
BENCH_OVERLOAD ?= 400
BENCH_OVERLOAD_S ?= 10
BENCH_PROFILE ?= 40
BENCH_PROFILE_S ?= 20
BENCH_BROKER_WARMUP_S ?= 60
BENCH_ARGS ?=
CHAOS_RATE ?= auto
CHAOS_REPEAT ?= 1
CHAOS_ARGS ?=

bench: deps ## open-loop step-up (vegeta), reads, ceilings, replay -> bench/results/ (BENCH_RATES, BENCH_STEP_S, BENCH_READ_RATE, BENCH_READ_S, BENCH_REPLAY: 185852 for the real year, BENCH_SOAK_MIN, BENCH_OVERLOAD: a short step past the sustained rate, BENCH_PROFILE: a py-spy step at that rate (0: none), BENCH_OWN_BROKER, BENCH_BROKER_WARMUP_S: records through its fresh broker first, so its JIT has compiled)
	@deploy/scripts/infra.sh up
	@deploy/scripts/wrk.sh >/dev/null
	uv run --frozen python -m bench.run --rates $(BENCH_RATES) --step-seconds $(BENCH_STEP_S) --read-rate $(BENCH_READ_RATE) --read-seconds $(BENCH_READ_S) --replay $(BENCH_REPLAY) --soak-minutes $(BENCH_SOAK_MIN) --overload-rate $(BENCH_OVERLOAD) --overload-seconds $(BENCH_OVERLOAD_S) --profile-rate $(BENCH_PROFILE) --profile-seconds $(BENCH_PROFILE_S) $(if $(filter 1,$(BENCH_OWN_BROKER)),--own-broker --broker-warmup-seconds $(BENCH_BROKER_WARMUP_S)) $(BENCH_ARGS)

chaos: deps ## faults at a fixed load on its own broker and PostgreSQL -> bench/results/chaos-* (CHAOS_RATE: auto = what the last bench sustained, else 8; CHAOS_REPEAT: worst of N; CHAOS_ARGS=--faults ...); run it alone
	@deploy/scripts/infra.sh up
	@deploy/scripts/kafka.sh libs
	uv run --frozen python -m bench.chaos --rate $(CHAOS_RATE) --repeat $(CHAOS_REPEAT) $(CHAOS_ARGS)

logs: ## follow every service's log
	@tail -n 20 -F .run/logs/*.log

clean: down ## stop everything and delete local data (Kafka, Redis; PostgreSQL databases stay)
	rm -rf .run
