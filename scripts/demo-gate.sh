#!/usr/bin/env bash
# Gate part of `make demo`: one bundle staged, one quarantined, the audit log verifies,
# then a tampered log is caught. Exits non-zero if any step does not behave as shown.
# Usage: scripts/demo-gate.sh   (AIRGATE=path/to/airgate to pick the binary; default
# target/release/airgate, else target/debug/airgate)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
AIRGATE="${AIRGATE:-}"
if [[ -z "$AIRGATE" ]]; then
  if [[ -x "$here/target/release/airgate" ]]; then AIRGATE="$here/target/release/airgate"
  else AIRGATE="$here/target/debug/airgate"; fi
fi
[[ -x "$AIRGATE" ]] || { echo "demo-gate: build airgate first (cargo build)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/airgate-demo-gate.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
expect() { # expect CODE CMD...: run CMD, fail the demo unless it exits with CODE
  local want="$1"; shift
  set +e; "$@"; local got=$?; set -e
  if [[ "$got" != "$want" ]]; then echo "demo-gate: expected exit $want, got $got: $*" >&2; exit 1; fi
}

step "publisher key and trust policy"
"$AIRGATE" keygen --out keys --name publisher >/dev/null
cat > policy.toml <<'TOML'
[[keys]]
name = "publisher"
path = "keys/publisher.pub"

[trust.weights]
keys = ["publisher"]
threshold = 1
TOML

step "airgate init gate --policy policy.toml"
"$AIRGATE" init gate --policy policy.toml

step "a signed bundle and an unsigned one"
mkdir -p model/shards
printf '{"hidden_size": 8}\n' > model/config.json
head -c 200000 /dev/zero | tr '\0' '\7' > model/shards/w0.bin
"$AIRGATE" pack model --kind weights --name demo-model --version 1.0.0 -o good.tar.zst
"$AIRGATE" sign good.tar.zst --key keys/publisher.key
mkdir -p other && printf 'print("hi")\n' > other/run.py
"$AIRGATE" pack other --kind weights --name unsigned --version 1.0.0 -o unsigned.tar.zst

step "drop both into intake (written as .part, then renamed) and run the intake once"
for b in good.tar.zst unsigned.tar.zst; do
  cp "$b" "gate/intake/$b.part" && mv "gate/intake/$b.part" "gate/intake/$b"
done
"$AIRGATE" watch --gate gate --once
"$AIRGATE" status --gate gate
staged="gate/staging/weights/demo-model/1.0.0"
[[ -f "$staged/receipt.json" ]] || { echo "demo-gate: nothing staged" >&2; exit 1; }
[[ -n "$(ls gate/quarantine)" ]] || { echo "demo-gate: nothing quarantined" >&2; exit 1; }
ls -l "$staged" "$staged/files" gate/quarantine/*

step "airgate reverify $staged"
expect 0 "$AIRGATE" reverify "$staged"

step "airgate audit verify (clean log)"
"$AIRGATE" audit checkpoint --gate gate -o exported-checkpoint.json >/dev/null
expect 0 "$AIRGATE" audit verify --gate gate --checkpoint exported-checkpoint.json

step "tamper: rewrite the first record's outcome from staged to quarantined"
cp gate/audit/log.jsonl log.orig
sed -i '1s/"outcome":"staged"/"outcome":"quarantined"/' gate/audit/log.jsonl
expect 1 "$AIRGATE" audit verify --gate gate --checkpoint exported-checkpoint.json

step "tamper: drop the last record (truncation)"
head -n 1 log.orig > gate/audit/log.jsonl
expect 1 "$AIRGATE" audit verify --gate gate --checkpoint exported-checkpoint.json

cp log.orig gate/audit/log.jsonl
printf '\ndemo-gate: OK (staged 1, quarantined 1, audit verified, tampering detected)\n'
