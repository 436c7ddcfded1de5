# airgate: `make demo` runs the main job on a built-in example; `make test` runs all checks.
CARGO ?= cargo

.PHONY: build demo test fmt-check clippy bench fuzz-smoke fuzz-long clean dist repro-check

build:
	$(CARGO) build --release --locked

demo: build
	scripts/demo.sh

test: fmt-check clippy
	$(CARGO) test --locked --all-targets
	$(CARGO) test --locked --doc  # doc tests (compile_fail: unverified bytes cannot be staged)

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

bench: build
	scripts/bench.sh

fuzz-smoke:
	scripts/fuzz-smoke.sh

# The release in dist/: static executable, completions, man pages, SBOM, signed bundle,
# minisign signature, SHA256SUMS (RELEASE_KEY=path/NAME.key signs; else a throw-away key).
dist:
	scripts/dist.sh

# Two `make dist` from clones at different paths must give byte-identical executables.
repro-check:
	scripts/repro-check.sh

# minutes per target (FUZZ_MINUTES, default 4); corpus kept in fuzz/corpus/, seeds in fuzz/seeds/
fuzz-long:
	scripts/fuzz-long.sh

clean:
	$(CARGO) clean
