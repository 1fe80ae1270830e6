#!/usr/bin/env bash
# The local stack: checks that Postgres and Redis answer, and starts (or reuses) the Kafka broker.
#   bash scripts/stack.sh up|down|status
# Each missing service is named in one line with the command that starts it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/seatrush}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

# host and port of a URL such as postgres://user@host:5432/db
host_port() { # url default-port
  local rest="${1#*://}"
  rest="${rest#*@}"
  rest="${rest%%/*}"
  if [[ $rest == *:* ]]; then echo "${rest%:*} ${rest##*:}"; else echo "$rest $2"; fi
}

answers() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

check_postgres() {
  read -r host port < <(host_port "$DATABASE_URL" 5432)
  answers "$host" "$port" || {
    echo "postgres: nothing answers at $host:$port (DATABASE_URL); start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
    return 1
  }
}

check_redis() {
  read -r host port < <(host_port "$REDIS_URL" 6379)
  answers "$host" "$port" || {
    echo "redis: nothing answers at $host:$port (REDIS_URL); start it with: redis-server --daemonize yes --bind 127.0.0.1 --port $port --save \"\" --appendonly no" >&2
    return 1
  }
}

case "${1:-}" in
  up)
    failed=0
    check_postgres || failed=1
    check_redis || failed=1
    ((failed == 0)) || exit 1
    bash "$ROOT/scripts/kafka.sh" start
    ;;
  down) bash "$ROOT/scripts/kafka.sh" stop ;;
  status)
    check_postgres && echo "postgres: up"
    check_redis && echo "redis: up"
    bash "$ROOT/scripts/kafka.sh" status
    ;;
  *)
    echo "usage: bash scripts/stack.sh up|down|status" >&2
    exit 2
    ;;
esac
