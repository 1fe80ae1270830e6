#!/usr/bin/env bash
# npm test: type-check, lint, then every test (unit and integration) with Node's own runner,
# against the real Postgres, Redis and Kafka. It starts what it needs and uses its own database,
# Redis db and topic prefix, so a running development stack is left alone. The broker is left
# running for the next run (`npm run stack:down` stops it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export NODE_ENV=test
export LOG_LEVEL="${LOG_LEVEL:-silent}"
export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/seatrush_test}"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
export KAFKA_PREFIX="${TEST_KAFKA_PREFIX:-test.}"
export KAFKAJS_NO_PARTITIONER_WARNING=1
# Every test client is 127.0.0.1: the per-address limits would throttle the load tests. The
# limiter itself is tested with its own settings (lib/platform/rate-limit.test.ts).
export RATE_LIMIT_PER_ADDRESS="${RATE_LIMIT_PER_ADDRESS:-0}"
export RATE_LIMIT_READS_PER_ADDRESS="${RATE_LIMIT_READS_PER_ADDRESS:-0}"

echo "== typecheck" >&2
npx tsc --noEmit
echo "== lint" >&2
npm run -s lint
echo "== stack" >&2
bash scripts/stack.sh up
npx tsx scripts/migrate.ts
echo "== tests" >&2
files=("$@")
if ((${#files[@]} == 0)); then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.test.ts' | sort)
fi
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
# The whole suite, not a chosen file: the chaos suite's quick run too (its own private stack).
if (($# == 0)) && [[ ${SKIP_CHAOS:-} != 1 ]]; then
  echo "== chaos (quick; SKIP_CHAOS=1 skips it)" >&2
  npm run -s chaos -- --quick
fi
