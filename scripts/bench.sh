#!/usr/bin/env bash
# make bench: airgate verify throughput on a >= 1 GB synthetic bundle, next to the floor
# `zstd -d | openssl dgst -sha256` measured on the same bundle in the same run; peak RSS.
# Medians of RUNS runs. Extra benches (scan, model inspectors, start-up) run if their scripts
# exist.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/airgate
B=target/bench
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-1100}
mkdir -p "$B"
command -v /usr/bin/time >/dev/null || { echo "bench needs GNU time (apt-get install time)"; exit 2; }

if [ ! -f "$B/bundle.tar.zst" ]; then
  echo "generating a ${SIZE_MB} MB synthetic tree (bf16 shards, tokenizer, JSONL, 3000 small files)..."
  rm -rf "$B/tree" "$B/keys"
  cargo run --release --quiet --example gen_bench -- "$B/tree" "$SIZE_MB"
  "$BIN" keygen --out "$B/keys" --name bench >/dev/null
  SOURCE_DATE_EPOCH=0 "$BIN" pack "$B/tree" --kind weights --name bench --version 1 -o "$B/bundle.tar.zst"
  "$BIN" sign "$B/bundle.tar.zst" --key "$B/keys/bench.key" >/dev/null
fi
payload=$(find "$B/tree" -type f -printf "%s\n" | awk "{s+=\$1} END{print s}")
compressed=$(stat -c %s "$B/bundle.tar.zst")
echo "bundle: payload $payload bytes, compressed $compressed bytes (ratio $(awk -v a="$compressed" -v b="$payload" 'BEGIN{printf "%.2f", a/b}'))"
cat "$B/bundle.tar.zst" > /dev/null   # warm the page cache for both contenders

median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN{print e-s}'; }

floor_t=(); ag_t=(); rss=()
for i in $(seq "$RUNS"); do
  floor_t+=("$(secs bash -c "zstd -dcq '$B/bundle.tar.zst' | openssl dgst -sha256")")
  s=$(date +%s.%N)
  /usr/bin/time -f %M -o "$B/rss" "$BIN" verify "$B/bundle.tar.zst" --key "$B/keys/bench.pub" --format json > "$B/verify.json"
  e=$(date +%s.%N)
  ag_t+=("$(awk -v s="$s" -v e="$e" 'BEGIN{print e-s}')")
  rss+=("$(cat "$B/rss")")
done
grep -q '"verdict": "accept"' "$B/verify.json" || { echo "bench bundle did not verify"; exit 1; }
ft=$(printf '%s\n' "${floor_t[@]}" | median)
at=$(printf '%s\n' "${ag_t[@]}" | median)
rk=$(printf '%s\n' "${rss[@]}" | median)
awk -v p="$payload" -v ft="$ft" -v at="$at" -v rk="$rk" -v n="$RUNS" 'BEGIN{
  printf "floor  zstd -d | openssl dgst -sha256 : %6.2f s  %7.0f MB/s (median of %d)\n", ft, p/ft/1e6, n;
  printf "airgate verify (hash+inspect)     : %6.2f s  %7.0f MB/s (median of %d)\n", at, p/at/1e6, n;
  printf "ratio airgate/floor               : %6.2fx (target >= 0.90x)\n", ft/at;
  printf "airgate peak RSS                  : %6.1f MB (target < 128 MB)\n", rk/1024;
}'
for extra in scripts/bench-scan.sh bench/scan.sh bench/packages.sh bench/datasets.sh scripts/bench-models.sh scripts/bench-startup.sh; do
  if [ -x "$extra" ]; then echo; echo "== $extra"; "$extra"; fi
done
