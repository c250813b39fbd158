# The two commands of the README are `make run` and `make test`; both set up what they need.
.PHONY: setup run test lint kafka-up kafka-down lock

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/fraudstream demo

test: setup
	@bash scripts/test.sh

lint: setup
	@.venv/bin/ruff check streams models tests && .venv/bin/mypy && .venv/bin/lint-imports

kafka-up: setup
	@.venv/bin/fraudstream kafka up

kafka-down:
	@.venv/bin/fraudstream kafka down

lock:
	@bash scripts/lock.sh
