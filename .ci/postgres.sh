#!/usr/bin/env bash
# CI helper: install and start a PostgreSQL server on loopback (Debian package), create a role and
# a database for the tests, and print the URL to export as DISPATCHER_TEST_PG_URL.
#   export DISPATCHER_TEST_PG_URL=$(.ci/postgres.sh)
# Run as root. Idempotent: an installed package, a running cluster, an existing role or database
# are reused. Only the URL goes to stdout; progress goes to stderr.
set -euo pipefail
PG_USER=${PG_USER:-dispatcher}
PG_PASSWORD=${PG_PASSWORD:-dispatcher}
PG_DB=${PG_DB:-dispatcher_test}

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "+ apt-get install -y postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

# The newest installed major version and its first cluster (create 'main' if there is none).
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
cluster=$(pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v {print $2; exit}')
if [ -z "$cluster" ]; then
  cluster=main
  echo "+ pg_createcluster $version $cluster" >&2
  pg_createcluster "$version" "$cluster" >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')
status=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $4}')
if [ "$status" != "online" ]; then
  echo "+ pg_ctlcluster $version $cluster start" >&2
  pg_ctlcluster "$version" "$cluster" start >&2 || service postgresql start >&2
fi
for _ in $(seq 1 30); do
  if su postgres -c "pg_isready -q -h 127.0.0.1 -p $port"; then break; fi
  sleep 1
done
su postgres -c "pg_isready -h 127.0.0.1 -p $port" >&2

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -q -p $port -tAc \"$1\""; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]; then
  echo "+ create role $PG_USER" >&2
  psql_admin "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD' CREATEDB"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
  echo "+ create database $PG_DB" >&2
  psql_admin "CREATE DATABASE $PG_DB OWNER $PG_USER"
fi
echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB"
