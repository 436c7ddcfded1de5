#!/usr/bin/env bash
# make bench, packages row: `airgate scan` of a patch set of Debian packages (xz) and RPMs
# (zstd payloads), >= 500 MB on disk, against the floor measured in the same rounds: `xz -d`
# of every .deb's data and control members and `zstd -d` of every .rpm's payload, two at a
# time (airgate also uses both cores). Medians of RUNS; peak RSS of airgate.
# The packages hold files copied from this machine (/usr/lib, /usr/share: real ELF objects
# and text) plus already-compressed assets (random bytes), built by dpkg-deb -Zxz -z1 and
# rpmbuild w3.zstdio (the level changes how fast they are written, hardly how fast they
# decode). They are kept in target/bench-packages between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/airgate
P=target/bench-packages
RUNS=${RUNS:-3}
PKGS=${PKGS:-7}         # of each kind
PKG_MB=${PKG_MB:-64}    # uncompressed MB per package
command -v /usr/bin/time >/dev/null || { echo "bench needs GNU time"; exit 2; }
for t in dpkg-deb rpmbuild xz zstd ar; do
  command -v $t >/dev/null || { echo "packages bench needs $t (.ci/run installs it)"; exit 2; }
done
mkdir -p "$P"

# a list of real files to fill packages from (deterministic order)
if [ ! -f "$P/.built-$PKGS-$PKG_MB" ]; then
  rm -rf "$P"/*
  echo "generating $PKGS .deb (xz) and $PKGS .rpm (zstd) of ~$PKG_MB MB each..."
  find /usr/lib /usr/share -xdev -type f -size +4k -size -8M -readable -printf '%s %p\n' 2>/dev/null \
    | sort -k2 > "$P/files.txt"
  mkdir -p "$P/out"
  start=0
  for kind in deb rpm; do
    for n in $(seq "$PKGS"); do
      root="$P/root-$kind-$n"
      rm -rf "$root"; mkdir -p "$root/usr/lib/app$n" "$root/usr/share/app$n/assets"
      # half real files (taken in turn from the list), half compressed assets
      awk -v want=$(( PKG_MB * 1024 * 1024 / 2 )) -v start="$start" '
        { size[NR] = $1; $1 = ""; path[NR] = substr($0, 2) }
        END { got = 0; for (i = 0; got < want && i < NR; i++) { j = (start + i) % NR + 1;
              got += size[j]; print path[j] } }' "$P/files.txt" > "$P/pick.txt"
      start=$(( start + $(wc -l < "$P/pick.txt") ))
      k=0
      while IFS= read -r f; do
        cp "$f" "$root/usr/lib/app$n/f$k" 2>/dev/null || true; k=$((k + 1))
      done < "$P/pick.txt"
      for a in $(seq 8); do
        head -c $(( PKG_MB * 1024 * 1024 / 16 )) /dev/urandom > "$root/usr/share/app$n/assets/a$a.png"
      done
      printf '[app]\nlog_level = info\n' > "$root/usr/share/app$n/app.conf"
      if [ "$kind" = deb ]; then
        mkdir -p "$root/DEBIAN"
        printf 'Package: app%s\nVersion: 1.0\nArchitecture: all\nMaintainer: Bench <b@example.org>\nDescription: bench\n' "$n" > "$root/DEBIAN/control"
        printf '#!/bin/sh\nset -e\nldconfig\n' > "$root/DEBIAN/postinst"; chmod 755 "$root/DEBIAN/postinst"
        dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$P/out/app$n.deb" >/dev/null
      else
        top="$P/rpm-$n"; mkdir -p "$top"
        printf 'Name: app%s\nVersion: 1.0\nRelease: 1\nSummary: bench\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n%%description\nbench\n%%install\nmkdir -p %%{buildroot}\ncp -a %s/usr %%{buildroot}/\n%%files\n/usr/lib/app%s\n/usr/share/app%s\n%%post\nldconfig\n' \
          "$n" "$(realpath "$root")" "$n" "$n" > "$top/app.spec"
        rpmbuild --define "_topdir $(realpath "$top")" --define "_binary_payload w3.zstdio" \
          --define "__os_install_post %{nil}" --quiet -bb "$top/app.spec" >/dev/null 2>&1
        mv "$top"/RPMS/noarch/*.rpm "$P/out/app$n.rpm"; rm -rf "$top"
      fi
      rm -rf "$root"
    done
  done
  # the floor's input: each package's compressed payloads, cut out of the packages
  mkdir -p "$P/payloads"
  for d in "$P"/out/*.deb; do
    b=$(basename "$d" .deb)
    ar p "$d" data.tar.xz > "$P/payloads/$b.data.xz"
    ar p "$d" control.tar.xz > "$P/payloads/$b.control.xz"
  done
  for r in "$P"/out/*.rpm; do
    # the payload starts after the lead, the signature header (padded to 8) and the header
    python3 - "$r" "$P/payloads/$(basename "$r" .rpm).zst" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
off = 96
for pad in (True, False):
    n, size = struct.unpack('>II', d[off + 8:off + 16])
    off += 16 + 16 * n + size
    if pad:
        off += (8 - off % 8) % 8
open(sys.argv[2], 'wb').write(d[off:])
PY
  done
  touch "$P/.built-$PKGS-$PKG_MB"
fi

disk=$(du -cb "$P"/out/* | tail -1 | cut -f1)
cat "$P"/out/* "$P"/payloads/* > /dev/null   # warm the page cache for both contenders
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
floor_t=(); ag_t=(); rss=()
for i in $(seq "$RUNS"); do
  s=$(now)
  ls "$P"/payloads/* | xargs -P 2 -I{} sh -c 'case "{}" in *.zst) zstd -dcq "{}";; *) xz -dc "{}";; esac > /dev/null'
  e=$(now); floor_t+=("$(awk -v s="$s" -v e="$e" 'BEGIN{print e-s}')")
  s=$(now)
  /usr/bin/time -f %M -o "$P/rss" "$BIN" scan "$P/out" --format json > "$P/scan.json" || true
  e=$(now); ag_t+=("$(awk -v s="$s" -v e="$e" 'BEGIN{print e-s}')")
  rss+=("$(tail -1 "$P/rss")")
done
decoded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["coverage"]["bytes_decoded"])' "$P/scan.json")
python3 - "$P/scan.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [f for f in r["findings"] if f["severity"] in ("medium", "high", "critical")]
c = r["coverage"]
print(f"packages scanned: {c['formats'].get('deb', {}).get('files', 0)} deb, {c['formats'].get('rpm', {}).get('files', 0)} rpm, "
      f"{c['members']} members, not inspected: {c['not_inspected_total']}, findings >= medium: {len(bad)}")
PY
ft=$(printf '%s\n' "${floor_t[@]}" | median)
at=$(printf '%s\n' "${ag_t[@]}" | median)
rk=$(printf '%s\n' "${rss[@]}" | median)
awk -v d="$disk" -v x="$decoded" -v ft="$ft" -v at="$at" -v rk="$rk" -v n="$RUNS" 'BEGIN{
  printf "patch set: %.0f MB of packages on disk, %.0f MB decoded\n", d/1e6, x/1e6;
  printf "floor  xz -d / zstd -d of the payloads (2 at a time): %6.2f s  %6.0f MB/s decoded (median of %d)\n", ft, x/ft/1e6, n;
  printf "airgate scan of the packages                      : %6.2f s  %6.0f MB/s decoded (median of %d)\n", at, x/at/1e6, n;
  printf "ratio floor/airgate                               : %6.2fx (target >= 0.80x)\n", ft/at;
  printf "airgate peak RSS                                  : %6.1f MB (target < 128 MB)\n", rk/1024;
}'
