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
role() { curl -s "http://127.0.0.1:$1/patroni" | python3 -c 'import json,sys; print(json.load(sys.stdin)["role"])'; }
now_ms() { date +%s%3N; }
runs=${RUNS:-5}
: > "$work/g"; : > "$work/gt"; : > "$work/p"
for i in $(seq "$runs"); do
  t0=$(now_ms)
  "$g" --policy "$work/policy.toml" maintenance start --yes >/dev/null 2>&1
  t1=$(now_ms)
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["switchover_ms"])' "$work/maintenance.json" >> "$work/g"
  echo $((t1 - t0)) >> "$work/gt"
  "$g" --policy "$work/policy.toml" maintenance finish --switch-back --yes >/dev/null 2>&1
  [ "$(role "$API0")" = master ] || { echo "pg0 is not leader again" >&2; exit 1; }
  sleep 2
  t0=$(now_ms)
  curl -s -X POST "http://127.0.0.1:$API0/switchover" -d '{"leader":"pg0","candidate":"pg1"}' >/dev/null
  until [ "$(role "$API0")" = replica ]; do sleep 0.02; done
  t1=$(now_ms)
  echo $((t1 - t0)) >> "$work/p"
  curl -s -X POST "http://127.0.0.1:$API0/switchover" -d '{"leader":"pg1","candidate":"pg0"}' >/dev/null
  until [ "$(role "$API0")" = master ]; do sleep 0.1; done
  sleep 2
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
g_ms=$(median "$work/g"); gt_ms=$(median "$work/gt"); p_ms=$(median "$work/p")
echo "switchover, request to old leader secondary (median of $runs): gardefou $g_ms ms | plain curl $p_ms ms | added $((g_ms - p_ms)) ms"
echo "whole 'gardefou maintenance start --yes' (checklist, switchover, mark, audit): $gt_ms ms"
