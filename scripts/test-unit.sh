#!/usr/bin/env bash
# npm run test:unit: the tests that need no stack (*.unit.test.ts: decisions, seat numbering,
# config, triggers' timing, OpenAPI, generated files), in seconds. Postgres, Redis and Kafka are
# pointed at closed ports, so a test that quietly needs one fails here instead of passing by luck.
# `npm test` runs these too, with everything else.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export NODE_ENV=test
export LOG_LEVEL="${LOG_LEVEL:-silent}"
export DATABASE_URL=postgres://postgres@127.0.0.1:1/no-stack
export REDIS_URL=redis://127.0.0.1:1/0
export KAFKA_BROKERS=127.0.0.1:1

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.unit.test.ts' | sort)
exec node --import tsx --test --test-reporter=spec "${files[@]}"
