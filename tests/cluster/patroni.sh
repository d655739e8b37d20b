#!/usr/bin/env bash
# A real two-member Patroni cluster on loopback, for tests and by hand:
#   tests/cluster/patroni.sh start DIR    one etcd, two PostgreSQL clusters, two Patroni
#                                         processes (members pg0 and pg1, run as postgres);
#                                         returns once pg0 leads and pg1 streams from it
#   tests/cluster/patroni.sh stop DIR     stops every process it started (by the pid files)
# DIR is created (mode 0755, owned by postgres below it). After start, DIR/ports holds shell
# variables: ETCD_PORT, API0, API1 (Patroni REST ports), PG0, PG1 (PostgreSQL ports). The REST
# API's unsafe endpoints (POST /switchover…) want basic auth (restapi.authentication): user
# REST_USER in DIR/ports, its password (random) in DIR/rest-password (mode 0600).
# Needs Debian's patroni, etcd-server, python3-etcd and postgresql; run as root.
set -euo pipefail

cmd=${1:?usage: patroni.sh start|stop DIR}
dir=${2:?usage: patroni.sh start|stop DIR}

stop() {
  # Patroni first (it would restart PostgreSQL), then PostgreSQL, then etcd.
  for f in "$dir"/patroni-*.pid "$dir"/etcd.pid; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
  done
  for i in $(seq 50); do
    alive=0
    for f in "$dir"/patroni-*.pid "$dir"/etcd.pid; do
      [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for m in pg0 pg1; do
    if [ -f "$dir/$m/postmaster.pid" ]; then
      pid=$(head -1 "$dir/$m/postmaster.pid")
      kill -INT "$pid" 2>/dev/null || true
    fi
  done
  for f in "$dir"/patroni-*.pid "$dir"/etcd.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: patroni.sh start|stop DIR" >&2; exit 2; }

bin_dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port)
API0=$(free_port); API1=$(free_port); PG0=$(free_port); PG1=$(free_port)
mkdir -p "$dir"
chmod 0755 "$dir"
REST_USER=gardefou-test
REST_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; echo "$REST_PASSWORD" > "$dir/rest-password")
cat > "$dir/ports" <<EOF
REST_USER=$REST_USER
ETCD_PORT=$ETCD_PORT
API0=$API0
API1=$API1
PG0=$PG0
PG1=$PG1
EOF

mkdir -p "$dir/etcd"
etcd --name gftest-etcd --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "gftest-etcd=http://127.0.0.1:$ETCD_PEER" --enable-v2=true \
  > "$dir/etcd.log" 2>&1 &
echo $! > "$dir/etcd.pid"

member() { # name api_port pg_port
  cat > "$dir/$1.yml" <<EOF
scope: gftest
name: $1
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$2
  connect_address: 127.0.0.1:$2
  authentication:
    username: $REST_USER
    password: $REST_PASSWORD
etcd:
  host: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_log_hints: 'on'
        max_wal_senders: 5
        max_replication_slots: 5
  initdb:
    - encoding: UTF8
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$3
  connect_address: 127.0.0.1:$3
  data_dir: $dir/$1
  bin_dir: $bin_dir
  pgpass: $dir/$1.pgpass
  authentication:
    replication:
      username: replicator
      password: gftest
    superuser:
      username: postgres
      password: gftest
    rewind:
      username: postgres
      password: gftest
  parameters:
    unix_socket_directories: '$dir'
EOF
  chown postgres "$dir/$1.yml"
  runuser -u postgres -- patroni "$dir/$1.yml" > "$dir/$1.log" 2>&1 &
  echo $! > "$dir/patroni-$1.pid"
}

chown postgres "$dir"
for i in $(seq 50); do
  curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
member pg0 "$API0" "$PG0"
# pg1 only once pg0 leads, so that pg0 is the one that bootstraps.
for i in $(seq 120); do
  curl -fsS "http://127.0.0.1:$API0/primary" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$API0/primary" >/dev/null || {
  echo "pg0 did not become leader; logs in $dir" >&2; tail -20 "$dir/pg0.log" >&2; stop; exit 1; }
member pg1 "$API1" "$PG1"
for i in $(seq 120); do
  # GET /replica answers 200 once the replica runs and (with ?lag) is close enough to the leader.
  if curl -fsS "http://127.0.0.1:$API1/replica?lag=1MB" >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "pg1 did not start streaming; logs in $dir" >&2
tail -20 "$dir/pg1.log" >&2
stop
exit 1
