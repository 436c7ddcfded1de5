#!/usr/bin/env bash
# Benchmark `airgate scan` (release build) on (a) a 1 GB bf16-like weights file and (b) a
# text tree of at least 500 MB (copies of the Python standard library), median of RUNS runs
# (default 3), and Kingfisher on the same inputs when it is on PATH (validation off), its
# runs alternating with airgate's.
# Usage: bench/scan.sh            (inputs are kept under target/bench/ between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench
mkdir -p "$OUT"
cargo build --release --quiet
cargo build --release --quiet --example scan_floor
BIN=target/release/airgate
FLOOR=target/release/examples/scan_floor

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


time_cmd() { # prints "wall cpu" seconds for one run of "$@" (cpu = user + system)
  local t
  t=$(mktemp)
  /usr/bin/time -f "%e %U %S" -o "$t" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$t" | awk '{printf "%s %.2f\n", $1, $2 + $3}'
  rm -f "$t"
}

# median by wall time of the runs given on stdin ("wall cpu" lines); prints "wall cpu"
median() { sort -n | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}'; }
RUNS=${RUNS:-3}

sync   # earlier benches' writeback must not compete with these runs
cat "$WEIGHTS" > /dev/null   # warm the page cache
find "$TREE" -type f -exec cat {} + > /dev/null

printf '%-8s %-11s %11s %6s %8s %9s %8s\n' input tool bytes files wall_s MB/s cpu_s
report() { # name tool path "wall cpu"
  local b f w c
  b=$(bytes_of "$3"); f=$(files_of "$3"); w=${4% *}; c=${4#* }
  printf '%-8s %-11s %11s %6s %8.3f %9.1f %8.2f\n' "$1" "$2" "$b" "$f" "$w" "$(echo "$b / $w / 1000000" | bc -l)" "$c"
}
wall() { echo "${1% *}"; }

KF=(kingfisher scan --no-validate --quiet --no-update-check --max-file-size 4096)
have_kf=0
command -v kingfisher >/dev/null 2>&1 && have_kf=1
# The two tools' runs alternate, so drift in the shared machine's speed touches both alike.
rd=$(mktemp); kw=$(mktemp)
for input in weights text; do
  if [ "$input" = weights ]; then path=$WEIGHTS; else path=$TREE; fi
  ag=$(mktemp); kf=$(mktemp)
  for _ in $(seq "$RUNS"); do
    time_cmd "$BIN" scan "$path" --format json >> "$ag"
    if [ "$have_kf" = 1 ]; then time_cmd "${KF[@]}" "$path" >> "$kf"; fi
    if [ "$input" = text ]; then
      # the floor under the text figure, in the same rounds (see below)
      "$FLOOR" read "$TREE" | awk '{print $2}' >> "$rd"
      "$FLOOR" keywords "$TREE" | awk '{print $2}' >> "$kw"
    fi
  done
  AG=$(median < "$ag")
  report "$input" airgate "$path" "$AG"
  if [ "$have_kf" = 1 ]; then
    KFR=$(median < "$kf")
    report "$input" kingfisher "$path" "$KFR"
    printf 'speed-up over kingfisher (wall, %s): %.1fx\n' "$input" "$(echo "$(wall "$KFR") / $(wall "$AG")" | bc -l)"
  fi
  rm -f "$ag" "$kf"
done

# The floor under the text figure, on the same tree and machine, measured in the same rounds
# as the two tools: walking and reading every file with no inspection, then that plus the one
# keyword pass the design needs over text, printable spans and decoded gzip files (no
# regexes, base64, zip/tar members or model inspectors). Median of RUNS.
RD=$(sort -n "$rd" | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}')
KW=$(sort -n "$kw" | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}')
rm -f "$rd" "$kw"
TB=$(bytes_of "$TREE")
printf '%-8s %-11s %11s %6s %8.3f %9.1f\n' text floor-read "$TB" "$(files_of "$TREE")" "$RD" "$(echo "$TB / $RD / 1000000" | bc -l)"
printf '%-8s %-11s %11s %6s %8.3f %9.1f\n' text floor-kw "$TB" "$(files_of "$TREE")" "$KW" "$(echo "$TB / $KW / 1000000" | bc -l)"
if [ "$have_kf" = 1 ]; then
  printf '10x kingfisher on text means <= %.3f s wall; reading alone takes %.3f s, reading plus the keyword pass %.3f s\n' \
    "$(echo "$(wall "$KFR") / 10" | bc -l)" "$RD" "$KW"
fi
if [ "$have_kf" = 0 ]; then
  echo "kingfisher not on PATH (pip install kingfisher-bin): comparison skipped"
fi
echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: wall figures are noisy; cpu_s is user+system)"
