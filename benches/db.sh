#!/usr/bin/env bash
# Benchmarks of the database guard, on a PostgreSQL cluster this script starts (Unix socket in
# a temp directory, run as the postgres user) and stops:
#   1. classification of a 10,000-statement script: `gardefou check -- psql -f script.sql`
#      (whole process: start, policy, tokenize, parse every statement), hyperfine;
#   2. a targeted snapshot of one ~10 MB table (what the guard dumps before `DROP TABLE`) vs a full
#      `pg_dump -Fc` of the ~1 GB database holding it.
# Needs root, PostgreSQL and hyperfine. SIZE_ROWS (default 12,000,000) sets the big table's rows;
# ONLY=classify runs part 1 alone (no cluster needed).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (runs PostgreSQL as postgres)" >&2; exit 1; }
cargo build --release -q
bin=$PWD/target/release/gardefou
pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /var/tmp/gardefou-dbbench.XXXXXX)
chown postgres:postgres "$work"
port=5498
as_pg() { runuser -u postgres -- "$@"; }
cleanup() { as_pg "$pg/pg_ctl" stop -m fast -D "$work/data" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
# 1. classification
python3 - "$work/script.sql" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("BEGIN;\n")
    for i in range(10000 - 3):
        k = i % 4
        if k == 0: f.write(f"INSERT INTO orders VALUES ({i}, 'n{i}');\n")
        elif k == 1: f.write(f"UPDATE orders SET note = 'x' WHERE id = {i};\n")
        elif k == 2: f.write(f"DELETE FROM orders WHERE id = {i} AND note <> $$a;b$$;\n")
        else: f.write(f"SELECT count(*) FROM orders o JOIN big b ON b.id = o.id WHERE o.id > {i};\n")
    f.write("DROP TABLE orders;\nCOMMIT;\n")
PY
# The worst case: 10,000 statements that must all be parsed (WITH…, ALTER TABLE…).
python3 - "$work/parsed.sql" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000 - 1):
        if i % 2: f.write(f"WITH w AS (SELECT id FROM orders WHERE id > {i}) SELECT count(*) FROM w;\n")
        else: f.write(f"ALTER TABLE orders ADD COLUMN c{i} int;\n")
    f.write("DROP TABLE orders;\n")
PY
sed "s|^file = .*|file = \"$work/audit.jsonl\"|" policies/debian.toml > "$work/policy.toml"
chmod 644 "$work/policy.toml"
hyperfine -N -w 3 -r "${RUNS:-20}" -i --export-json "$work/classify.json" \
  "$bin check --policy $work/policy.toml -- psql -d shop -f $work/script.sql" \
  "$bin check --policy $work/policy.toml -- psql -d shop -c 'SELECT 1'" \
  "$bin check --policy $work/policy.toml -- psql -d shop -f $work/parsed.sql" >/dev/null 2>&1
python3 - "$work/classify.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
s, one, parsed = r[0]["median"] * 1000, r[1]["median"] * 1000, r[2]["median"] * 1000
print(f"classify 10,000 statements (INSERT/UPDATE…WHERE/DELETE…WHERE/SELECT, one DROP): {s:.1f} ms per check (one statement: {one:.1f} ms; target < 100 ms)")
print(f"classify 10,000 statements that must all be parsed (WITH…/ALTER TABLE…): {parsed:.1f} ms per check")
PY

[ "${ONLY:-}" = classify ] && exit 0

as_pg "$pg/initdb" -A trust -U postgres -D "$work/data" >/dev/null
as_pg "$pg/pg_ctl" start -w -l "$work/log" -D "$work/data" -o "-p $port -k $work -c listen_addresses=''" >/dev/null
export PGHOST=$work PGPORT=$port PGUSER=postgres
psql -X -q -c "CREATE DATABASE shop"
rows=${SIZE_ROWS:-12000000}
psql -X -q -d shop <<SQL
CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, $rows) g;
CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 130000) g;
SQL
echo "database shop: $(psql -X -At -d shop -c "SELECT pg_size_pretty(pg_database_size('shop'))"), table orders: $(psql -X -At -d shop -c "SELECT pg_size_pretty(pg_total_relation_size('orders'))")"

# 2. targeted snapshot vs full dump
mkdir -m 700 "$work/store"
cat > "$work/snap.toml" <<EOF2
version = 1
[[protect.sql]]
engine = "postgresql"
database = "shop"
statements = ["drop_table"]
action = "snapshot"
[snapshot]
store = "$work/store"
[audit]
file = "$work/audit.jsonl"
EOF2
chmod 644 "$work/snap.toml"
mkdir -p "$work/shim"; ln -s "$bin" "$work/shim/psql"
t0=$(date +%s.%N)
GARDEFOU_POLICY=$work/snap.toml PATH=$work/shim:$PATH psql -X -q -d shop -c "DROP TABLE orders" </dev/null
t1=$(date +%s.%N)
pg_dump -Fc -f "$work/full.pgc" shop
t2=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:])
g, f = t1 - t0, t2 - t1
print(f"targeted snapshot + DROP TABLE orders via the psql shim: {g:.2f} s | full pg_dump -Fc: {f:.2f} s | ratio {g / f:.3f} (target <= 0.1)")
PY
