#!/usr/bin/env bash
# Builds the Debian package from this checkout's tracked files:
#   bash packaging/build-deb.sh [OUTDIR]      (default: ./deb-out)
# leaves OUTDIR/datumfs_<version>_<arch>.deb. dpkg-buildpackage wants debian/ at the top of
# the source tree, so the tree is copied to OUTDIR/datumfs-<version> with packaging/debian
# as its debian/. Needs the build dependencies (.ci/install-deps installs them).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-deb-out}" && cd "${1:-deb-out}" && pwd)"
version="$(sed -n "s/^project('datumfs', 'cpp', version: '\([^']*\)'.*/\1/p" "$src/meson.build")"
tree="$out/datumfs-$version"
rm -rf "$tree"
mkdir -p "$tree"
git -C "$src" ls-files -z | (cd "$src" && xargs -0 cp --parents -t "$tree")
cp -r "$src/packaging/debian" "$tree/debian"
(cd "$tree" && dpkg-buildpackage -b -us -uc)
ls "$out/datumfs_${version}_$(dpkg --print-architecture).deb"
