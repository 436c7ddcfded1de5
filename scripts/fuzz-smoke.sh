#!/usr/bin/env bash
# Run every cargo-fuzz target of fuzz/ for a few seconds each (default 5, or $FUZZ_SECONDS).
# Installs cargo-fuzz if it is missing. Needs a nightly toolchain (`cargo +nightly`).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-5}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo +nightly install cargo-fuzz --locked
fi
targets=$(cargo +nightly fuzz list --fuzz-dir fuzz)
status=0
for t in $targets; do
    echo "== fuzz target $t (${secs}s)" >&2
    mkdir -p "fuzz/corpus/$t"
    # seed inputs (valid files of the format, written by the real writers) where they exist
    if [ -d "fuzz/seeds/$t" ]; then cp -n fuzz/seeds/$t/* "fuzz/corpus/$t/" 2>/dev/null || true; fi
    if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536; then
        echo "fuzz target $t FAILED (see fuzz/artifacts/$t)" >&2
        status=1
    fi
done
exit $status
