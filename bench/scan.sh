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

bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s}'; }
files_of() { find "$1" -type f | wc -l; }

median3() { sort -n | sed -n 2p; }

time_cmd() { # prints "wall cpu" seconds for one run of "$@" (cpu = user + system)
  local t
  t=$(mktemp)
  /usr/bin/time -f "%e %U %S" -o "$t" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$t" | awk '{printf "%s %.2f\n", $1, $2 + $3}'
  rm -f "$t"
}

# median of 3 by wall time; prints "wall cpu"
run3() { for _ in 1 2 3; do time_cmd "$@"; done | sort -n | sed -n 2p; }

cat "$WEIGHTS" > /dev/null   # warm the page cache
find "$TREE" -type f -exec cat {} + > /dev/null

printf '%-8s %-11s %11s %6s %8s %9s %8s\n' input tool bytes files wall_s MB/s cpu_s
report() { # name tool path "wall cpu"
  local b f w c
  b=$(bytes_of "$3"); f=$(files_of "$3"); w=${4% *}; c=${4#* }
  printf '%-8s %-11s %11s %6s %8.3f %9.1f %8.2f\n' "$1" "$2" "$b" "$f" "$w" "$(echo "$b / $w / 1000000" | bc -l)" "$c"
}
wall() { echo "${1% *}"; }

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
  printf 'speed-up over kingfisher (wall): weights %.1fx, text %.1fx\n' \
    "$(echo "$(wall "$W_KF") / $(wall "$W_AG")" | bc -l)" "$(echo "$(wall "$T_KF") / $(wall "$T_AG")" | bc -l)"
else
  echo "kingfisher not on PATH (pip install kingfisher-bin): comparison skipped"
fi
echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: wall figures are noisy; cpu_s is user+system)"
