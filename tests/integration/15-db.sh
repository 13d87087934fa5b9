#!/bin/sh
# lib/db.c's result handles on a real PostgreSQL (tests/probe-db.c).
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
"$TOP/tests/probe-db" "$CONNINFO"
