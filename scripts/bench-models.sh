#!/usr/bin/env bash
# Throughput of the model inspectors alone (no I/O): a 1 GB bf16 safetensors file and a 1 GB
# PyTorch-style zip fed in 1 MiB chunks, median of 3. Called by scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example models_bench
