#!/usr/bin/env bash
# Switchover wall time on a real two-member Patroni cluster (tests/cluster/patroni.sh):
#   gardefou: `maintenance start --yes` on the leader, request → this node secondary, as the
#             maintenance mark records it (switchover_ms), and the whole command's time
#             (checklist included); then `maintenance finish --switch-back --yes`;
#   plain:    `curl -X POST /switchover` then `curl /patroni` every 20 ms until the old leader
#             reports replica — the same switchover with no gardefou.
# Alternates the two RUNS times (default 5) and prints medians. Needs root, patroni, etcd-server,
# python3-etcd, postgresql, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (runs PostgreSQL as postgres)" >&2; exit 1; }
cargo build --release -q
g=$PWD/target/release/gardefou
dir=/tmp/gardefou-cluster-bench
work=$(mktemp -d)
cleanup() { bash tests/cluster/patroni.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir" "$work"; }
trap cleanup EXIT
rm -rf "$dir"
bash tests/cluster/patroni.sh start "$dir"
. "$dir/ports"
cat > "$work/policy.toml" <<EOF
version = 1
[host]
environment = "production"
[audit]
file = "$work/audit.jsonl"
[preflight]
pending_packages = false
[cluster]
adapter = "patroni"
state_file = "$work/maintenance.json"
[cluster.patroni]
url = "http://127.0.0.1:$API0"
EOF
chmod 644 "$work/policy.toml"
role() { curl -s "http://127.0.0.1:$1/patroni" | python3 -c 'import json,sys; print(json.load(sys.stdin)["role"])' 2>/dev/null || echo none; }
now_ms() { date +%s%3N; }
# Waits (at most 60 s) until the member behind API port $1 reports role $2.
wait_role() {
  for _ in $(seq 600); do [ "$(role "$1")" = "$2" ] && return 0; sleep 0.1; done
  echo "member on port $1 is not $2 after 60 s" >&2; exit 1
}
# POST /switchover until Patroni accepts it (it refuses while the candidate is still catching up).
switch() {
  for _ in $(seq 60); do
    T0=$(now_ms)   # the attempt that is accepted is the one timed
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$API0/switchover" -d "{\"leader\":\"$1\",\"candidate\":\"$2\"}")
    [ "$code" = 200 ] && return 0
    sleep 1
  done
  echo "switchover $1 -> $2 refused for 60 s" >&2; exit 1
}
# pg0 leader and pg1 a replica within 1 MB for 5 s in a row (Patroni restarts a demoted member
# once more after a switchover): ready for the next one.
settle() {
  wait_role "$API0" master
  ok=0
  for _ in $(seq 300); do
    if curl -fs "http://127.0.0.1:$API1/replica?lag=1MB" >/dev/null; then ok=$((ok + 1)); else ok=0; fi
    [ "$ok" -ge 25 ] && return 0
    sleep 0.2
  done
  echo "pg1 did not settle as a replica" >&2; exit 1
}
runs=${RUNS:-5}
: > "$work/g"; : > "$work/gt"; : > "$work/p"
for i in $(seq "$runs"); do
  settle
  t0=$(now_ms)
  "$g" --policy "$work/policy.toml" maintenance start --yes >"$work/start.log" 2>&1 || { cat "$work/start.log" >&2; echo "maintenance start failed" >&2; exit 1; }
  t1=$(now_ms)
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["switchover_ms"])' "$work/maintenance.json" >> "$work/g"
  echo $((t1 - t0)) >> "$work/gt"
  sleep 2
  "$g" --policy "$work/policy.toml" maintenance finish --switch-back --yes >"$work/finish.log" 2>&1 || { cat "$work/finish.log" >&2; echo "maintenance finish failed" >&2; exit 1; }
  settle
  switch pg0 pg1
  until [ "$(role "$API0")" = replica ]; do sleep 0.02; done
  t1=$(now_ms)
  echo $((t1 - T0)) >> "$work/p"
  sleep 2
  switch pg1 pg0
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
g_ms=$(median "$work/g"); gt_ms=$(median "$work/gt"); p_ms=$(median "$work/p")
echo "switchover, request to old leader secondary (median of $runs): gardefou $g_ms ms | plain curl $p_ms ms | added $((g_ms - p_ms)) ms"
echo "whole 'gardefou maintenance start --yes' (checklist, switchover, mark, audit): $gt_ms ms"
