#!/usr/bin/env bash
# Start-up (run by make bench): `airgate verify` of a tiny signed bundle against `minisign -V`
# of the same file, in the same run, alternating, medians of RUNS_STARTUP runs each. Also
# `airgate version` (process start alone) and airgate checking the minisign signature, and the
# same rows for the static dist/ executable when `make dist` has built one.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${AIRGATE_BIN:-target/release/airgate}
N=${RUNS_STARTUP:-51}
D=target/bench/startup
command -v minisign >/dev/null || { echo "bench-startup needs minisign (apt-get install minisign)"; exit 2; }
rm -rf "$D"
mkdir -p "$D/src"
printf '{"model_type": "tiny", "hidden_size": 8}\n' > "$D/src/config.json"
"$BIN" keygen --out "$D" --name k > /dev/null
SOURCE_DATE_EPOCH=0 "$BIN" pack "$D/src" --kind weights --name tiny --version 1 -o "$D/tiny.tar.zst" > /dev/null
"$BIN" sign "$D/tiny.tar.zst" --key "$D/k.key" > /dev/null
minisign -G -W -p "$D/m.pub" -s "$D/m.key" > /dev/null
minisign -S -s "$D/m.key" -m "$D/tiny.tar.zst" -x "$D/tiny.minisig" > /dev/null
"$BIN" verify "$D/tiny.tar.zst" --key "$D/k.pub" > /dev/null
minisign -Vqm "$D/tiny.tar.zst" -p "$D/m.pub" -x "$D/tiny.minisig"
echo "tiny bundle: $(stat -c %s "$D/tiny.tar.zst") bytes"

# ms for one run of "$@" (bash's clock: no extra process in the measurement)
ms() {
  local s=$EPOCHREALTIME
  "$@" > /dev/null 2>&1 || { echo "bench-startup: failed: $*" >&2; exit 1; }
  local e=$EPOCHREALTIME
  awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f\n", (e-s)*1000}'
}
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

rows=(minisign)
declare -A cmd
cmd[minisign]="minisign -Vqm $D/tiny.tar.zst -p $D/m.pub -x $D/tiny.minisig"
add() { # add LABEL EXE
  rows+=("$1-verify" "$1-minisig" "$1-version")
  cmd[$1-verify]="$2 verify $D/tiny.tar.zst --key $D/k.pub"
  cmd[$1-minisig]="$2 verify $D/tiny.tar.zst --signature $D/tiny.minisig --key $D/m.pub"
  cmd[$1-version]="$2 version"
}
add release "$BIN"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
DIST=dist/airgate-$VERSION-x86_64-linux
[ -x "$DIST" ] && add dist "$DIST"

declare -A t
for r in "${rows[@]}"; do t[$r]=""; done
for i in $(seq "$N"); do
  for r in "${rows[@]}"; do
    # shellcheck disable=SC2086
    t[$r]+="$(ms ${cmd[$r]}) "
  done
done
declare -A med
for r in "${rows[@]}"; do med[$r]=$(printf '%s\n' ${t[$r]} | median); done
m=${med[minisign]}
printf 'start-up, median of %d alternating runs (ms):\n' "$N"
printf '  %-62s %7.2f ms\n' "minisign -V (same file)" "$m"
for label in release dist; do
  [ -n "${med[$label-verify]:-}" ] || continue
  what=$([ "$label" = dist ] && echo "dist/ static" || echo "$BIN")
  printf '  %-62s %7.2f ms  %5.2fx minisign\n' "airgate verify tiny bundle, native Ed25519 ($what)" "${med[$label-verify]}" "$(awk -v a="${med[$label-verify]}" -v b="$m" 'BEGIN{print a/b}')"
  printf '  %-62s %7.2f ms  %5.2fx minisign\n' "airgate verify, same file, minisign signature ($what)" "${med[$label-minisig]}" "$(awk -v a="${med[$label-minisig]}" -v b="$m" 'BEGIN{print a/b}')"
  printf '  %-62s %7.2f ms\n' "airgate version: process start alone ($what)" "${med[$label-version]}"
done
echo "  target: airgate verify of a tiny bundle under 20 ms"
