#!/usr/bin/env bash
# make bench, datasets row: `airgate scan` of a Parquet dataset of >= 1 GB with zstd pages,
# against the floor `zstd -d` of exactly the same pages' compressed bytes (every page's
# data written end to end: zstd frames, one stream) measured in the same run; peak RSS.
# Medians of RUNS runs. The dataset holds one planted key pair: the scan must report it
# at its row, proof that every page was really decoded and read.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/airgate
B=target/bench
RUNS=${RUNS:-3}
DATASET_MB=${DATASET_MB:-1100}
mkdir -p "$B"
command -v /usr/bin/time >/dev/null || { echo "bench needs GNU time (apt-get install time)"; exit 2; }
[ -x "$BIN" ] || cargo build --release --locked

if [ ! -f "$B/dataset.parquet" ]; then
  echo "generating a ${DATASET_MB} MB Parquet dataset (zstd pages)..."
  cargo run --release --quiet --example gen_datasets -- bench "$B/dataset.parquet.part" "$DATASET_MB"
  mv "$B/dataset.parquet.part" "$B/dataset.parquet"
  rm -f "$B/dataset-pages.zst"
fi
if [ ! -f "$B/dataset-pages.zst" ]; then
  cargo run --release --quiet --example gen_datasets -- pages "$B/dataset.parquet" "$B/dataset-pages.zst"
fi
size=$(stat -c %s "$B/dataset.parquet")
pages=$(stat -c %s "$B/dataset-pages.zst")
decoded=$(zstd -dcq "$B/dataset-pages.zst" | wc -c)
echo "dataset: $size bytes on disk, $pages bytes of compressed pages, decoding to $decoded bytes"
cat "$B/dataset.parquet" "$B/dataset-pages.zst" > /dev/null   # warm the page cache for both

median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

floor_t=(); ag_t=(); rss=(); floor_cpu=(); ag_cpu=()
load=$(cut -d' ' -f1 /proc/loadavg)
for i in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %U %S" -o "$B/dataset-floor" zstd -dcq "$B/dataset-pages.zst" > /dev/null
  read -r w u s < "$B/dataset-floor"
  floor_t+=("$w"); floor_cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')")
  /usr/bin/time -f "%e %U %S %M" -o "$B/dataset-time" "$BIN" scan "$B/dataset.parquet" --format json > "$B/dataset-scan.json" || true
  # GNU time puts "Command exited with non-zero status 1" first (the planted secret)
  read -r w u s m < <(tail -1 "$B/dataset-time")
  ag_t+=("$w"); ag_cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')"); rss+=("$m")
done
grep -q 'dataset.parquet!rg[0-9]*/col:response/row:1234567' "$B/dataset-scan.json" \
  || { echo "the planted key pair was not reported at its row: the scan did not read the dataset"; exit 1; }
ft=$(printf '%s\n' "${floor_t[@]}" | median)
at=$(printf '%s\n' "${ag_t[@]}" | median)
fc=$(printf '%s\n' "${floor_cpu[@]}" | median)
ac=$(printf '%s\n' "${ag_cpu[@]}" | median)
rk=$(printf '%s\n' "${rss[@]}" | median)
awk -v d="$decoded" -v ft="$ft" -v at="$at" -v fc="$fc" -v ac="$ac" -v rk="$rk" -v n="$RUNS" -v load="$load" 'BEGIN{
  printf "load average at start           : %s (compare wall times only on a quiet machine)\n", load;
  printf "floor  zstd -d of the pages        : %6.2f s  %7.0f MB/s decoded, %5.2f CPU s (median of %d)\n", ft, d/ft/1e6, fc, n;
  printf "airgate scan (decode+inspect)   : %6.2f s  %7.0f MB/s decoded, %5.2f CPU s (median of %d)\n", at, d/at/1e6, ac, n;
  printf "ratio airgate/floor             : %6.2fx (target >= 0.80x)\n", ft/at;
  printf "airgate peak RSS                : %6.1f MB (target < 128 MB)\n", rk/1024;
}'
