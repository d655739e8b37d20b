#!/usr/bin/env bash
# The rows-at-stake check on a big table: its own PostgreSQL cluster (as the postgres user, on a
# Unix socket in a temp dir), a table of ROWS rows (default 10,000,000), then `gardefou check`
# of DELETEs whose WHERE keeps nothing, half, and one row — beside `psql -c 'EXPLAIN …'` and
# `psql -c 'SELECT count(*) …'` run directly, in one hyperfine run (medians). Needs root,
# hyperfine and Debian's postgresql.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine" >&2; exit 1; }
rows=${ROWS:-10000000}
cargo build --release -q
tmp=$(mktemp -d)
chown postgres:postgres "$tmp"
pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
port=5496
cleanup() { runuser -u postgres -- "$pg/pg_ctl" stop -m immediate -D "$tmp/data" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
runuser -u postgres -- "$pg/initdb" -A trust -U postgres -D "$tmp/data" >/dev/null
runuser -u postgres -- "$pg/pg_ctl" start -w -o "-p $port -k $tmp -c listen_addresses='' -c fsync=off" -l "$tmp/log" -D "$tmp/data" >/dev/null
export PGHOST="$tmp" PGPORT=$port PGUSER=postgres
psql -X -q -c "CREATE TABLE big (id bigint primary key, v text)" postgres
psql -X -q -c "INSERT INTO big SELECT g, 'x' FROM generate_series(1, $rows) g" postgres
psql -X -q -c "VACUUM ANALYZE big" postgres
cat > "$tmp/policy.toml" <<TOML
version = 1
[host]
environment = "production"
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
g=./target/release/gardefou
for w in "1=1" "id % 2 = 0" "id = 42"; do
  $g check --json --line "psql -d postgres -c 'DELETE FROM big WHERE $w'" | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["decision"], [r["message"][:160] for r in v["reasons"]])' || true
done
runs=${RUNS:-5}
hyperfine -w 1 -r "$runs" -i --export-json "$tmp/r.json" \
  -n check-all "$g check --line \"psql -d postgres -c 'DELETE FROM big WHERE 1=1'\"" \
  -n check-half "$g check --line \"psql -d postgres -c 'DELETE FROM big WHERE id % 2 = 0'\"" \
  -n check-one "$g check --line \"psql -d postgres -c 'DELETE FROM big WHERE id = 42'\"" \
  -n explain "psql -X -q -d postgres -c 'EXPLAIN (FORMAT JSON) DELETE FROM big WHERE id % 2 = 0'" \
  -n count "psql -X -q -d postgres -c 'SELECT count(*) FROM big WHERE id % 2 = 0'" >/dev/null
python3 - "$tmp/r.json" "$rows" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f"table of {int(sys.argv[2]):,} rows")
for k in ["check-all", "check-half", "check-one", "explain", "count"]:
    print(f"{k}: {r[k]:.1f} ms")
PY
