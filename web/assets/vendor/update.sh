#!/usr/bin/env bash
# Re-vendors uPlot, the live view's chart library, from the npm registry at
# a pinned version: npm pack fetches the published tarball, its sha256 is
# checked against the pin (a mismatch stops here and changes nothing), and
# only the three files the page uses are kept, next to its licence:
#   uplot/uPlot.iife.min.js  uplot/uPlot.min.css  uplot/LICENSE
# Every file's sha256 is printed so a reviewer can compare runs.
#
# To move to another version: set VERSION, run once with SHA256= to see the
# new tarball's hash, check it against `npm view uplot@VERSION dist`, pin it.
set -euo pipefail

VERSION=1.6.32
SHA256=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d

here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "uplot@$VERSION" >/dev/null)
tgz="$tmp/uplot-$VERSION.tgz"
got="$(sha256sum "$tgz" | cut -d' ' -f1)"
echo "uplot-$VERSION.tgz sha256 $got"
if [ "$got" != "$SHA256" ]; then
  echo "update.sh: sha256 mismatch: want $SHA256" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$tmp" package/LICENSE package/dist/uPlot.iife.min.js package/dist/uPlot.min.css
dst="$here/uplot"
mkdir -p "$dst"
install -m 0644 "$tmp/package/LICENSE" "$dst/LICENSE"
install -m 0644 "$tmp/package/dist/uPlot.iife.min.js" "$dst/uPlot.iife.min.js"
install -m 0644 "$tmp/package/dist/uPlot.min.css" "$dst/uPlot.min.css"
(cd "$dst" && sha256sum LICENSE uPlot.iife.min.js uPlot.min.css)
echo "vendored uplot $VERSION into $dst"
