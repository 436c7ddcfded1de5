#!/usr/bin/env bash
# Long fuzzing: every cargo-fuzz target of fuzz/ (or those named in $FUZZ_TARGETS) for
# $FUZZ_MINUTES minutes each (default 4), one process per target (one core). Each target's
# corpus grows in fuzz/corpus/<target>/ (gitignored, kept between runs); the committed seeds
# of fuzz/seeds/<target>/ are read as a second, read-only corpus. Findings land in
# fuzz/artifacts/<target>/. A summary (seconds, executions, corpus size, findings) is printed
# and written to fuzz/corpus/SUMMARY.tsv. Exit status 1 if any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${FUZZ_MINUTES:-4}"
secs=$((minutes * 60))
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo +nightly install cargo-fuzz --locked
fi
targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list --fuzz-dir fuzz)}"
# Build every target once, then run the binaries: edits made while the run goes on do not
# rebuild (and so do not change) what is being fuzzed.
cargo +nightly fuzz build --fuzz-dir fuzz
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bindir="fuzz/target/$triple/release"
mkdir -p fuzz/corpus
summary=fuzz/corpus/SUMMARY.tsv
printf 'target\tseconds\texecutions\texec_per_s\tcorpus_files\tnew_findings\tcommit\n' >"$summary"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
status=0
for t in $targets; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    log="fuzz/corpus/$t.log"
    echo "== fuzz target $t (${secs}s)" >&2
    start=$(date +%s)
    # -timeout: an input that runs 30 s is a finding (a hang); -rss_limit_mb: so is 2 GiB
    if ! "$bindir/$t" -artifact_prefix="fuzz/artifacts/$t/" "$corpus" "${seeds[@]}" \
        -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1; then
        echo "fuzz target $t FAILED (see $log and fuzz/artifacts/$t)" >&2
        tail -n 30 "$log" >&2
        status=1
    fi
    took=$(($(date +%s) - start))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
    execs=${execs:-0}
    files=$(find "$corpus" -type f | wc -l)
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$took" "$execs" "$((execs / (took > 0 ? took : 1)))" \
        "$files" "$((after - before))" "$commit" >>"$summary"
done
column -t -s $'\t' "$summary" >&2 || cat "$summary" >&2
exit $status
