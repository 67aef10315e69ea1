#!/usr/bin/env bash
# Rebuilds examples/dashboard/web/dist, which the Go server embeds.
# Deterministic: the same package-lock.json and sources give the same bytes.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
