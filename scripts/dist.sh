#!/usr/bin/env bash
# make dist: build the static, stripped release executable reproducibly and write dist/:
#   airgate-V-x86_64-linux                 the executable (static, stripped)
#   airgate-V-x86_64-linux.minisig         minisign signature of it (by the release key)
#   airgate-V-x86_64-linux.bundle.tar.zst  the release as an airgate bundle (kind patch,
#                                          name airgate), signed by the release key
#   airgate-V.cdx.json                     CycloneDX SBOM of every crate compiled in
#   completions/ man/                      bash, zsh, fish completions; a page per command
#   airgate-release.pub                    release public key (SPKI PEM, for policies)
#   airgate-release.minisign.pub           the same key in minisign's format
#   SHA256SUMS                             of every file above
#
# RELEASE_KEY=path/to/NAME.key (an `airgate keygen` private key, NAME.pub beside it) signs;
# without it a THROW-AWAY key is made under target/release-key/ (demo and tests only).
#
# Options (the test suite uses them to build the parts it can without a release build):
#   --bin PATH        package this executable instead of building one (debug info stripped;
#                     no static check)
#   --sbom-tool PATH  the built `sbom` example to run (default: built with the executable)
#   --out DIR         output folder (default dist/)
# DIST_ZSTD_LEVEL (default 19) is the bundle's compression level.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

TRIPLE=x86_64-unknown-linux-gnu
OUT=dist
BIN=
SBOM_TOOL=
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --sbom-tool) SBOM_TOOL=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "dist: unknown argument $1" >&2; exit 2 ;;
  esac
done

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
NAME="airgate-$VERSION-x86_64-linux"

# Reproducibility: the build date is the commit's time, paths are remapped, nothing reads
# the clock. From a tarball without .git, give SOURCE_DATE_EPOCH and AIRGATE_GIT_COMMIT.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
fi
if [ -z "${AIRGATE_GIT_COMMIT:-}" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  AIRGATE_GIT_COMMIT=$(git rev-parse HEAD)
  git diff --quiet HEAD -- 2>/dev/null || AIRGATE_GIT_COMMIT="$AIRGATE_GIT_COMMIT-dirty"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0} AIRGATE_GIT_COMMIT=${AIRGATE_GIT_COMMIT:-unknown}
export TZ=UTC LC_ALL=C

if [ -z "$BIN" ]; then
  CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
  # Paths: this checkout becomes /build/airgate, the cargo home /cargo (the registry
  # sources), in Rust (panic locations) and in the C libraries (zstd, bzip2, aws-lc).
  export RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$ROOT=/build/airgate --remap-path-prefix=$CARGO_HOME_DIR=/cargo"
  export CFLAGS="-ffile-prefix-map=$ROOT=/build/airgate -ffile-prefix-map=$CARGO_HOME_DIR=/cargo"
  export CXXFLAGS="$CFLAGS"
  export CARGO_INCREMENTAL=0
  echo "dist: building $NAME (static, profile dist: fat LTO, one codegen unit, stripped)"
  cargo build --locked --profile dist --target "$TRIPLE" --bin airgate --example sbom
  BIN=target/$TRIPLE/dist/airgate
  SBOM_TOOL=target/$TRIPLE/dist/examples/sbom
  STATIC_CHECK=1
else
  STATIC_CHECK=0
fi
if [ -z "$SBOM_TOOL" ]; then
  echo "dist: --bin needs --sbom-tool (the built sbom example)" >&2; exit 2
fi

rm -rf "$OUT"
mkdir -p "$OUT/completions" "$OUT/man"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/airgate-dist.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

if [ "$STATIC_CHECK" = 1 ]; then
  ldd_out=$(ldd "$BIN" 2>&1 || true)
  case "$ldd_out" in
    *"not a dynamic executable"*|*"statically linked"*) echo "dist: ldd: $ldd_out" ;;
    *) echo "dist: $BIN is dynamically linked:" >&2; echo "$ldd_out" >&2; exit 1 ;;
  esac
fi
cp "$BIN" "$OUT/$NAME"
chmod 0755 "$OUT/$NAME"
# A given executable (a test's debug build) loses its debug info, as the dist profile's does.
[ "$STATIC_CHECK" = 1 ] || strip --strip-debug "$OUT/$NAME"
EXE="$OUT/$NAME"
"$EXE" --version

"$EXE" completions bash > "$OUT/completions/airgate.bash"
"$EXE" completions zsh > "$OUT/completions/_airgate"
"$EXE" completions fish > "$OUT/completions/airgate.fish"
"$EXE" man --out "$OUT/man" > /dev/null
"$SBOM_TOOL" --target "$TRIPLE" > "$OUT/airgate-$VERSION.cdx.json"

# The release key.
if [ -n "${RELEASE_KEY:-}" ]; then
  KEY=$RELEASE_KEY
  PUB=${RELEASE_KEY%.key}.pub
  [ -f "$KEY" ] && [ -f "$PUB" ] || { echo "dist: RELEASE_KEY needs $KEY and $PUB" >&2; exit 2; }
else
  KD=target/release-key
  rm -rf "$KD"
  "$EXE" keygen --out "$KD" --name airgate-release-throwaway > /dev/null
  KEY=$KD/airgate-release-throwaway.key
  PUB=$KD/airgate-release-throwaway.pub
  echo "dist: WARNING: no RELEASE_KEY; signed with a THROW-AWAY key ($KEY), for demos and tests only"
fi
cp "$PUB" "$OUT/airgate-release.pub"

# minisign signature of the executable (deterministic: Ed25519, SOURCE_DATE_EPOCH comment).
"$EXE" sign-file "$EXE" --key "$KEY" --public-key-out "$OUT/airgate-release.minisign.pub" > /dev/null

# The release bundle: the executable, completions, man pages and SBOM.
mkdir -p "$STAGE/release"
cp -r "$EXE" "$OUT/completions" "$OUT/man" "$OUT/airgate-$VERSION.cdx.json" "$STAGE/release/"
BUNDLE="$OUT/$NAME.bundle.tar.zst"
"$EXE" pack "$STAGE/release" --kind patch --name airgate --version "$VERSION" \
  --publisher "airgate release" --level "${DIST_ZSTD_LEVEL:-19}" -o "$BUNDLE" > /dev/null
"$EXE" sign "$BUNDLE" --key "$KEY" > /dev/null

(cd "$OUT" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort | xargs sha256sum > SHA256SUMS)

# Check what was written, with airgate and (when installed) the real minisign.
"$EXE" verify "$BUNDLE" --key "$OUT/airgate-release.pub" > "$STAGE/verify.txt" \
  || { cat "$STAGE/verify.txt"; echo "dist: the release bundle does not verify" >&2; exit 1; }
"$EXE" verify "$EXE" --signature "$EXE.minisig" --key "$OUT/airgate-release.minisign.pub" > /dev/null
if command -v minisign > /dev/null; then
  minisign -Vm "$EXE" -p "$OUT/airgate-release.minisign.pub" -q
  echo "dist: minisign -V: signature verified"
fi
(cd "$OUT" && sha256sum -c --quiet SHA256SUMS)
echo "dist: $(stat -c %s "$EXE") bytes  $EXE"
echo "dist: sha256 $(sha256sum "$EXE" | cut -d' ' -f1)"
echo "dist: wrote $OUT/ ($(find "$OUT" -type f | wc -l) files)"
