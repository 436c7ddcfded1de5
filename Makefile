# airgate: `make demo` runs the main job on a built-in example; `make test` runs all checks.
CARGO ?= cargo

.PHONY: build demo test fmt-check clippy bench fuzz-smoke fuzz-long clean

build:
	$(CARGO) build --release --locked

demo: build
	scripts/demo.sh

test: fmt-check clippy
	$(CARGO) test --locked --all-targets

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

bench: build
	scripts/bench.sh

fuzz-smoke:
	scripts/fuzz-smoke.sh

# minutes per target (FUZZ_MINUTES, default 4); corpus kept in fuzz/corpus/, seeds in fuzz/seeds/
fuzz-long:
	scripts/fuzz-long.sh

clean:
	$(CARGO) clean
