#!/usr/bin/env bash
# The wire guard's cost: `pgbench -S` (select-only, one client, simple protocol, and prepared)
# straight to the server and through `gardefou wire`, rounds interleaved in one run, on its
# own PostgreSQL cluster (as the postgres user, on a Unix socket in a temp dir). Then the time a
# DELETE that keeps nothing takes to be judged on the wire (rows at stake asked in the session)
# on a table of ROWS rows (default 10,000,000), beside the same DELETE's EXPLAIN and count run
# directly. Needs root and Debian's postgresql (pgbench).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-10000000}
secs=${SECS:-10}
rounds=${ROUNDS:-3}
cargo build --release -q
tmp=$(mktemp -d)
chown postgres:postgres "$tmp"
pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
port=5495
cleanup() { runuser -u postgres -- "$pg/pg_ctl" stop -m immediate -D "$tmp/data" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
runuser -u postgres -- "$pg/initdb" -A trust -U postgres -D "$tmp/data" >/dev/null
runuser -u postgres -- "$pg/pg_ctl" start -w -o "-p $port -k $tmp -c listen_addresses='' -c fsync=off" -l "$tmp/log" -D "$tmp/data" >/dev/null
export PGHOST="$tmp" PGPORT=$port PGUSER=postgres
"$pg/pgbench" -q -i -s 10 postgres >/dev/null 2>&1
cat > "$tmp/policy.toml" <<TOML
version = 1
[host]
environment = "production"
[[protect.sql]]
engine = "postgresql"
database = "*"
statements = ["drop_database", "drop_table", "truncate", "unknown"]
action = "confirm"
[[protect.sql]]
engine = "postgresql"
database = "*"
statements = ["delete", "update"]
max_rows = 10000
max_fraction = 0.9
action = "confirm"
[audit]
file = "$tmp/audit.jsonl"
TOML
chmod 644 "$tmp/policy.toml"
export GARDEFOU_POLICY="$tmp/policy.toml"
g=$PWD/target/release/gardefou
for mode in simple prepared; do
  d=(); w=()
  for _ in $(seq "$rounds"); do
    d+=("$("$pg/pgbench" -n -S -M $mode -c 1 -T "$secs" postgres 2>/dev/null | awk '/^tps/ {print $3}')")
    w+=("$("$g" wire -- "$pg/pgbench" -n -S -M $mode -c 1 -T "$secs" postgres 2>/dev/null | awk '/^tps/ {print $3}')")
  done
  python3 - "$mode" "${d[*]}" "${w[*]}" <<'PY'
import statistics, sys
mode, d, w = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
dm, wm = statistics.median(d), statistics.median(w)
print(f"pgbench -S -M {mode}, 1 client: direct {dm:,.0f} tps ({1000/dm:.3f} ms/statement), "
      f"through the guard {wm:,.0f} tps ({1000/wm:.3f} ms): {wm/dm:.2f}x, +{1000/wm-1000/dm:.3f} ms per statement")
PY
done
psql -X -q -c "CREATE TABLE big (id bigint primary key, v text)" postgres
psql -X -q -c "INSERT INTO big SELECT g, 'x' FROM generate_series(1, $rows) g" postgres
psql -X -q -c "VACUUM ANALYZE big" postgres
t() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
for w in "1=1" "id % 2 = 0" "id = 42"; do
  sel="SELECT 1 FROM big LIMIT 0"
  judged=$(t "$g" wire -- psql -X -q -d postgres -c "BEGIN" -c "DELETE FROM big WHERE $w" -c "ROLLBACK")
  explain=$(t psql -X -q -d postgres -c "EXPLAIN (FORMAT JSON) DELETE FROM big WHERE $w")
  count=$(t psql -X -q -d postgres -c "SELECT count(*) FROM big WHERE $w")
  plain=$(t psql -X -q -d postgres -c "$sel")
  echo "DELETE FROM big WHERE $w on $rows rows: judged on the wire (refused or run, then rolled back) ${judged} ms; direct EXPLAIN ${explain} ms, count ${count} ms, a bare psql ${plain} ms"
done
