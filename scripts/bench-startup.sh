#!/usr/bin/env bash
# Start-up: `airgate verify` of a tiny signed bundle and `airgate scan` of a tiny file, median
# of RUNS runs (default 21) of wall time and of CPU time (user + system), beside the baseline
# `minisign -V` of the same tiny file measured in the same rounds (runs interleaved, so
# drift in a shared machine's speed touches all three alike). Target: airgate under 20 ms.
# Called by scripts/bench.sh; BIN may point at another build to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/airgate}
RUNS=${RUNS_STARTUP:-21}
B=target/bench/startup
command -v minisign >/dev/null || { echo "start-up bench needs minisign (apt-get install minisign)"; exit 2; }
[ -x "$BIN" ] || cargo build --release --quiet

if [ ! -f "$B/tiny.tar.zst.sig.done" ]; then
  rm -rf "$B"; mkdir -p "$B/tree"
  printf '{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000}\n' > "$B/tree/config.json"
  printf 'tiny model card\n' > "$B/tree/README.md"
  "$BIN" keygen --out "$B/keys" --name bench >/dev/null
  SOURCE_DATE_EPOCH=0 "$BIN" pack "$B/tree" --kind weights --name tiny --version 1 -o "$B/tiny.tar.zst" >/dev/null
  "$BIN" sign "$B/tiny.tar.zst" --key "$B/keys/bench.key" >/dev/null
  minisign -G -W -p "$B/mini.pub" -s "$B/mini.key" >/dev/null
  minisign -S -s "$B/mini.key" -m "$B/tree/config.json" -x "$B/config.json.minisig" </dev/null >/dev/null
  touch "$B/tiny.tar.zst.sig.done"
fi

# interleaved runs; wall time and the child's CPU time (user + system, from getrusage: the
# kernel's accounting, finer than GNU time's 10 ms)
python3 - "$RUNS" "$BIN" "$B" <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, binary, b = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cmds = [
    ("baseline minisign -V (same file)",
     ["minisign", "-V", "-q", "-p", f"{b}/mini.pub", "-m", f"{b}/tree/config.json", "-x", f"{b}/config.json.minisig"]),
    ("airgate verify tiny bundle", [binary, "verify", f"{b}/tiny.tar.zst", "--key", f"{b}/keys/bench.pub"]),
    ("airgate scan tiny file", [binary, "scan", f"{b}/tree/config.json"]),
]
res = {name: ([], []) for name, _ in cmds}
for _ in range(runs):
    for name, cmd in cmds:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res[name][0].append((t1 - t0) * 1000)
        res[name][1].append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
print("start-up (tiny inputs):")
med = {}
for name, _ in cmds:
    w, c = statistics.median(res[name][0]), statistics.median(res[name][1])
    med[name] = (w, c)
    print(f"{name:34}: {w:7.1f} ms wall {c:7.1f} ms cpu (median of {runs})")
m = med[cmds[0][0]]
for name, _ in cmds[1:]:
    print(f"{name} / minisign: {med[name][0] / m[0]:.1f}x wall, {med[name][1] / max(m[1], 0.01):.1f}x cpu")
print("target: airgate under 20 ms")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (a shared machine: compare within one run)"
