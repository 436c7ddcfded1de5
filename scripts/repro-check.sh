#!/usr/bin/env bash
# make repro-check: clone the current commit into two checkouts at different paths, run
# `make dist` in both at once (each with its own cold target/) with one throw-away release
# key (made here with openssl: a PKCS#8 Ed25519 key as `airgate keygen` writes), and
# compare: the executables must be byte-identical; every other dist file is compared and
# reported too (all are deterministic given the same key). Takes two cold release builds
# (tens of minutes on 2 cores). REPRO_DIR changes the place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
COMMIT=$(git rev-parse HEAD)
git diff --quiet HEAD -- || echo "repro-check: note: uncommitted changes are not part of the check (commit $COMMIT)"
W=${REPRO_DIR:-$ROOT/target/repro}
A=$W/a/airgate
B=$W/second-checkout/at/another/path/airgate-b
rm -rf "$W"
mkdir -p "$(dirname "$A")" "$(dirname "$B")"
free_kb=$(df -Pk "$W" | awk 'NR==2 {print $4}')
if [ "${free_kb:-0}" -lt 3000000 ]; then
  echo "repro-check: only $((free_kb / 1024)) MB free under $W; two cold dist builds need about 3 GB" >&2
  exit 2
fi
for d in "$A" "$B"; do
  git clone -q --no-local "$ROOT" "$d"
  git -C "$d" checkout -q --detach "$COMMIT"
done
unset CARGO_TARGET_DIR

mkdir -p "$W/key"
openssl genpkey -algorithm ed25519 -out "$W/key/release.key"
openssl pkey -in "$W/key/release.key" -pubout -out "$W/key/release.pub"
export RELEASE_KEY=$W/key/release.key
t0=$(date +%s)
(cd "$A" && make dist) > "$W/a.log" 2>&1 &
pa=$!
(cd "$B" && make dist) > "$W/b.log" 2>&1 &
pb=$!
wait $pa || { tail -30 "$W/a.log"; exit 1; }
wait $pb || { tail -30 "$W/b.log"; exit 1; }
t1=$(date +%s)
echo "repro-check: commit $COMMIT; both builds took $((t1 - t0)) s (run side by side)"
echo "  A: $A"
echo "  B: $B"

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
EXE=airgate-$VERSION-x86_64-linux
status=0
if cmp -s "$A/dist/$EXE" "$B/dist/$EXE"; then
  echo "repro-check: executables IDENTICAL: $(stat -c %s "$A/dist/$EXE") bytes, sha256 $(sha256sum "$A/dist/$EXE" | cut -d' ' -f1)"
else
  echo "repro-check: executables DIFFER:"
  cmp -l "$A/dist/$EXE" "$B/dist/$EXE" | wc -l | sed 's/^/  bytes differing: /'
  status=1
fi
if diff -r "$A/dist" "$B/dist" > "$W/dist.diff"; then
  echo "repro-check: every dist file identical ($(find "$A/dist" -type f | wc -l) files; SHA256SUMS $(sha256sum "$A/dist/SHA256SUMS" | cut -d' ' -f1))"
else
  echo "repro-check: dist files that differ (see $W/dist.diff):"
  sed 's/^/  /' "$W/dist.diff" | head -20
  status=1
fi
exit $status
