#!/usr/bin/env bash
# npm start: everything from a fresh clone to all functions running, in one command:
# install, the stack (Postgres and Redis checked, Kafka started), migrations, demo data, functions.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A development stack: the only mode, with test, that accepts the public development JWT_SECRET
# (unset, NODE_ENV is production and the functions refuse to start without a secret of their own).
export NODE_ENV="${NODE_ENV:-development}"

if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  echo "install: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/stack.sh up
npx tsx scripts/migrate.ts
npx tsx scripts/seed.ts
exec npx tsx bin/run.ts
