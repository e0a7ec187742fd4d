#!/usr/bin/env bash
# Starts the services the store tests need, on 127.0.0.1 and free ports, and prints the variables to export:
#   eval "$(bash .ci/services.sh)"
# Redis comes from Debian's redis-server package; PostgreSQL 15's initdb/pg_ctl must run as the postgres user.
# Everything lives in one temporary folder; `bash .ci/services.sh stop` (with the same HOOKLINE_SERVICES_DIR) ends it.
set -euo pipefail

dir=${HOOKLINE_SERVICES_DIR:-/tmp/hookline-services}

if [ "${1:-}" = "stop" ]; then
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  [ -d "$dir/pg" ] && su postgres -s /bin/sh -c "pg_ctl -D '$dir/pg' -m fast stop" >/dev/null 2>&1 || true
  exit 0
fi

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

mkdir -p "$dir"
chmod 777 "$dir"

if ! command -v redis-server >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2
fi
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null

pg_port=$(free_port)
rm -rf "$dir/pg"
su postgres -s /bin/sh -c "initdb -D '$dir/pg' -U postgres --auth=trust --no-sync -E UTF8" >"$dir/initdb.log" 2>&1
su postgres -s /bin/sh -c "pg_ctl -D '$dir/pg' -l '$dir/pg.log' -w -o \"-p $pg_port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >&2
psql -h 127.0.0.1 -p "$pg_port" -U postgres -c 'select 1' >/dev/null

echo "export REDIS_URL=redis://127.0.0.1:${redis_port}"
echo "export DATABASE_URL=postgres://postgres@127.0.0.1:${pg_port}/postgres"
