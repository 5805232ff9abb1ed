#!/bin/sh
# Regenerates the README's pictures, docs/live-view.png and docs/report.png,
# from a real run of scenarios/examples/capacity-ramp.yaml against a
# Mosquitto started on a free loopback port (TestDocsScreenshots in
# cmd/m2msim). Needs mosquitto and chromium; takes about two minutes, and
# the figures are this machine's, so run it on an otherwise idle one.
#
#   docs/screenshots.sh
set -eu
cd "$(dirname "$0")/.."
exec go test -tags docs ./cmd/m2msim -run '^TestDocsScreenshots$' -count=1 -v -timeout 10m
