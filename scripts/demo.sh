#!/usr/bin/env bash
# make demo: build airgate, make throw-away keys, pack the demo model, sign it 2-of-3,
# verify it, then show a tampered copy and an under-signed copy rejected.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${AIRGATE_BIN:-target/release/airgate}
D=target/demo
rm -rf "$D"
mkdir -p "$D/keys"

# Bold headings only on a terminal, and never when NO_COLOR is set (https://no-color.org).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
step() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
expect() { # expect CODE cmd...: run, show output, check the exit code
  local want=$1; shift
  set +e; "$@"; local got=$?; set -e
  if [ "$got" != "$want" ]; then echo "demo: expected exit $want, got $got: $*" >&2; exit 1; fi
  echo "(exit $got, as expected)"
}

step "three publisher keys (2-of-3 policy)"
for k in alice bob carol; do "$BIN" keygen --out "$D/keys" --name "$k" | sed -n 3p; done

cat > "$D/policy.toml" <<POL
[[keys]]
name = "alice"
path = "keys/alice.pub"
[[keys]]
name = "bob"
path = "keys/bob.pub"
[[keys]]
name = "carol"
path = "keys/carol.pub"

[trust.weights]
keys = ["alice", "bob", "carol"]
threshold = 2
POL

step "pack the demo model (safetensors + config.json + tokenizer.json)"
SOURCE_DATE_EPOCH=1767225600 "$BIN" pack testdata/demo-model --kind weights --name demo-llm \
  --version 1.0.0 --publisher "Demo Labs" -o "$D/demo-llm.tar.zst"
"$BIN" inspect "$D/demo-llm.tar.zst"

step "sign with alice and bob"
"$BIN" sign "$D/demo-llm.tar.zst" --key "$D/keys/alice.key"
"$BIN" sign "$D/demo-llm.tar.zst" --key "$D/keys/bob.key"

step "verify: accepted"
expect 0 "$BIN" verify "$D/demo-llm.tar.zst" --policy "$D/policy.toml"

step "a tampered copy (one payload byte changed): rejected"
# Re-pack as plain tar so one byte of model.safetensors can be flipped without breaking zstd.
zstd -dcq "$D/demo-llm.tar.zst" > "$D/tampered.tar"
off=$(( $(stat -c %s "$D/tampered.tar") - 4096 ))
printf '\x42' | dd of="$D/tampered.tar" bs=1 seek="$off" conv=notrunc status=none
expect 1 "$BIN" verify "$D/tampered.tar" --policy "$D/policy.toml"

step "an under-signed copy (alice only): rejected"
SOURCE_DATE_EPOCH=1767225600 "$BIN" pack testdata/demo-model --kind weights --name demo-llm \
  --version 1.0.0 --publisher "Demo Labs" -o "$D/undersigned.tar.zst" >/dev/null
"$BIN" sign "$D/undersigned.tar.zst" --key "$D/keys/alice.key" >/dev/null
expect 1 "$BIN" verify "$D/undersigned.tar.zst" --policy "$D/policy.toml"

if [ -x scripts/demo-gate.sh ]; then
  step "the gate: stage, quarantine, audit"
  AIRGATE_BIN="$BIN" DEMO_DIR="$D" scripts/demo-gate.sh
fi
printf '\ndemo finished: all outcomes as expected\n'
