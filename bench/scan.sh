#!/usr/bin/env bash
# Benchmark `airgate scan` (release build) on (a) a 1 GB bf16-like weights file and (b) a
# text tree of at least 500 MB (copies of the Python standard library), median of 3 runs,
# and Kingfisher on the same inputs when it is on PATH (validation off).
# Usage: bench/scan.sh            (inputs are kept under target/bench/ between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench
mkdir -p "$OUT"
cargo build --release --quiet
BIN=target/release/airgate

WEIGHTS="$OUT/weights.bf16"
if [ ! -f "$WEIGHTS" ] || [ "$(stat -c %s "$WEIGHTS")" -ne 1073741824 ]; then
  echo "generating $WEIGHTS (1 GiB of bf16-like values)..." >&2
  python3 - "$WEIGHTS" <<'PY'
import os, sys
# bf16 little-endian: low byte = random mantissa bits, high byte = sign + exponent near 2^-3..2^-6
table = bytes(((b & 0x80) | (0x3c + (b & 0x03))) for b in range(256))
block = 64 << 20
with open(sys.argv[1], "wb") as f:
    for _ in range((1 << 30) // block):
        r = bytearray(os.urandom(block))
        r[1::2] = bytes(r[1::2]).translate(table)
        f.write(r)
PY
fi

TREE="$OUT/text-tree"
if [ ! -f "$TREE/.done" ]; then
  echo "building $TREE (>= 500 MB of Python stdlib copies)..." >&2
  rm -rf "$TREE"; mkdir -p "$TREE"
  STDLIB=$(python3 -c 'import sysconfig;print(sysconfig.get_paths()["stdlib"])')
  i=0
  while [ "$(du -sb "$TREE" | cut -f1)" -lt 500000000 ]; do
    i=$((i+1))
    DEST="$(pwd)/$TREE/copy$i"
    mkdir -p "$DEST"
    # the whole stdlib folder (sources, data files, compiled caches) as it is on disk
    cp -r "$STDLIB/." "$DEST/"
    rm -rf "$DEST/site-packages/kingfisher"   # the comparison tool's own binary
    if [ "$i" -gt 40 ]; then break; fi
  done
  touch "$TREE/.done"
fi

bytes_of() { du -sb --apparent-size "$1" | cut -f1; }
files_of() { find "$1" -type f | wc -l; }

median3() { sort -n | sed -n 2p; }

time_cmd() { # prints seconds for one run of "$@"
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}

run3() { for _ in 1 2 3; do time_cmd "$@"; done | median3; }

cat "$WEIGHTS" > /dev/null   # warm the page cache
find "$TREE" -type f -exec cat {} + > /dev/null

printf '%-10s %-12s %10s %8s %10s %10s\n' input tool bytes files seconds MB/s
report() { # name tool path seconds
  local b f
  b=$(bytes_of "$3"); f=$(files_of "$3")
  printf '%-10s %-12s %10s %8s %10.3f %10.1f\n' "$1" "$2" "$b" "$f" "$4" "$(echo "$b / $4 / 1000000" | bc -l)"
}

W_AG=$(run3 "$BIN" scan "$WEIGHTS" --format json)
report weights airgate "$WEIGHTS" "$W_AG"
T_AG=$(run3 "$BIN" scan "$TREE" --format json)
report text airgate "$TREE" "$T_AG"

if command -v kingfisher >/dev/null 2>&1; then
  KF=(kingfisher scan --no-validate --quiet --no-update-check --max-file-size 4096)
  W_KF=$(run3 "${KF[@]}" "$WEIGHTS")
  report weights kingfisher "$WEIGHTS" "$W_KF"
  T_KF=$(run3 "${KF[@]}" "$TREE")
  report text kingfisher "$TREE" "$T_KF"
  printf 'speed-up over kingfisher: weights %.1fx, text %.1fx\n' \
    "$(echo "$W_KF / $W_AG" | bc -l)" "$(echo "$T_KF / $T_AG" | bc -l)"
else
  echo "kingfisher not on PATH (pip install kingfisher-bin): comparison skipped"
fi
echo "cores: $(nproc); note: a shared machine, figures are noisy"
