#!/usr/bin/env bash
# The whole test suite against real PostgreSQL, Redis and Kafka, starting what it needs.
# Services: KAFKA_BROKERS/DATABASE_URL/REDIS_URL if set; else testcontainers if a Docker engine
# answers; else this machine's (scripts/services.sh). Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
NODE=node_modules/.bin/node
# Some tests run the built apps as real processes (start-up, shutdown, config errors).
"$NODE" node_modules/.bin/tsc -p tsconfig.build.json
"$NODE" node_modules/.bin/tsc-alias -p tsconfig.build.json
# NestJS 12 ships ES modules only; jest loads them through require(esm), which needs the VM modules API.
export NODE_OPTIONS="--experimental-vm-modules --no-warnings ${NODE_OPTIONS:-}"
export KAFKAJS_NO_PARTITIONER_WARNING=1
mkdir -p .tally
status=0
"$NODE" node_modules/.bin/jest --ci --forceExit --json --outputFile=.tally/jest-results.json "$@" || status=$?
# One plain closing line, whatever reads the log: 'N passed, N failed'.
if [ -f .tally/jest-results.json ]; then
  "$NODE" -e 'const r=require("./.tally/jest-results.json");console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed`)'
fi
exit "$status"
