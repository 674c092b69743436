# Two commands for a new user: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
BIN := .venv/bin
PYTEST_ARGS ?=

.PHONY: install services-up services-down services-status migrate demo test lint format clean

install:
	@scripts/bootstrap.sh

services-up: install
	@$(BIN)/crowdship services up

services-down:
	@if [ -x $(BIN)/crowdship ]; then $(BIN)/crowdship services down; else echo "nothing installed, nothing running"; fi

services-status: install
	@$(BIN)/crowdship services status

migrate: services-up
	@$(BIN)/crowdship db migrate

demo: migrate
	@$(BIN)/crowdship demo

test: services-up
	@$(BIN)/pytest -n auto $(PYTEST_ARGS)

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

format: install
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

clean: services-down
	rm -rf .local .venv
