# Two commands for a new user: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
BIN := .venv/bin
PYTEST_ARGS ?=

.PHONY: install services-up services-down services-status migrate demo test bench lint format clean

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

# Every benchmark with its default sizes (tens of minutes); each prints its table. PyVRP comes with the extra.
bench: services-up
	@CROWDSHIP_EXTRAS="sim bench" scripts/bootstrap.sh
	@$(BIN)/crowdship bench routing
	@$(BIN)/crowdship bench matcher --per-group 3
	@$(BIN)/crowdship bench simulation
	@$(BIN)/crowdship bench api
	@$(BIN)/crowdship bench rewards

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports --no-cache

format: install
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

clean: services-down
	rm -rf .local .venv
