#!/usr/bin/env bash
# Benchmark: snapshots vs `cp -a`, on one tree of 10,000 files and 1 GiB of random data.
#   1. same filesystem: `rm -rf TREE` through the shim with a snapshot rule (a rename) vs
#      `cp -a TREE COPY`;
#   2. another filesystem (TREE on a tmpfs, store on disk): `gardefou snapshot take TREE`
#      (copy + sha256 + syncfs) vs `cp -a` and vs `cp -a` followed by `sync -f` (the same
#      durability as the snapshot, which must be on disk before rm may delete the original);
#   3. restore (`gardefou snapshot restore ID --to DIR`, which checks every sha256) vs `cp -a`.
# Warm page cache for every contender; median of RUNS runs (default 3). Needs root (mount).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (mounts a tmpfs)" >&2; exit 1; }
cargo build --release -q
bin=$PWD/target/release/gardefou
work=$(mktemp -d /var/tmp/gardefou-bench.XXXXXX)
mnt="$work/tmpfs"
cleanup() { umount -l "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
runs=${RUNS:-3}
mkdir -p "$work/shim" "$mnt"
ln -s "$bin" "$work/shim/rm"
cat > "$work/policy.toml" <<EOF
version = 1
[host]
environment = "production"
[[protect.path]]
path = "$work/tree"
action = "snapshot"
[[protect.path]]
path = "$mnt/tree"
action = "snapshot"
[snapshot]
store = "$work/store"
[audit]
file = "$work/audit.jsonl"
EOF
chmod 644 "$work/policy.toml"
export GARDEFOU_POLICY="$work/policy.toml"

# 10,000 files of 107,374 bytes (1 GiB in all) in 100 directories.
mkdir -p "$work/master"
head -c $((1 << 30)) /dev/urandom > "$work/random"
split -a 4 -d -n 10000 "$work/random" "$work/master/f"
rm "$work/random"
for d in $(seq -w 0 99); do mkdir "$work/master/d$d"; mv "$work/master/f$d"?? "$work/master/d$d/"; done

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
elapsed() { echo "$2 - $1" | bc -l; }

same_rm=() same_cp=() cross_snap=() cross_cp=() cross_cpsync=() restore=() restore_cp=() hashed=()
for _ in $(seq "$runs"); do
  # 1. same filesystem
  cp -a "$work/master" "$work/tree"; sync
  t0=$(now); PATH="$work/shim:/usr/bin:/bin" rm -rf "$work/tree" </dev/null 2>/dev/null; t1=$(now)
  same_rm+=("$(elapsed "$t0" "$t1")")
  id=$("$bin" snapshot list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
  t2=$(now); "$bin" snapshot verify "$id" >/dev/null; t3=$(now)   # waits for the background hash
  hashed+=("$(elapsed "$t1" "$t3")")
  sync; t0=$(now); cp -a "$work/master" "$work/copy"; t1=$(now)
  same_cp+=("$(elapsed "$t0" "$t1")")
  rm -rf "$work/copy"; sync
  # 3. restore
  t0=$(now); "$bin" snapshot restore "$id" --to "$work/restored" 2>/dev/null; t1=$(now)
  restore+=("$(elapsed "$t0" "$t1")")
  sync; t0=$(now); cp -a "$work/store/$id/data/0" "$work/copy"; t1=$(now)
  restore_cp+=("$(elapsed "$t0" "$t1")")
  rm -rf "$work/copy" "$work/restored"; sync
  "$bin" snapshot rm "$id" >/dev/null
  # 2. another filesystem
  mount -t tmpfs -o size=2500M tmpfs "$mnt"
  cp -a "$work/master" "$mnt/tree"; sync
  t0=$(now); id=$("$bin" snapshot take "$mnt/tree" 2>/dev/null); t1=$(now)
  cross_snap+=("$(elapsed "$t0" "$t1")")
  "$bin" snapshot rm "$id" >/dev/null; sync
  t0=$(now); cp -a "$mnt/tree" "$work/copy"; t1=$(now)
  cross_cp+=("$(elapsed "$t0" "$t1")")
  rm -rf "$work/copy"; sync
  t0=$(now); cp -a "$mnt/tree" "$work/copy"; sync -f "$work/copy"; t1=$(now)
  cross_cpsync+=("$(elapsed "$t0" "$t1")")
  rm -rf "$work/copy"; sync
  umount "$mnt"
done

m() { printf '%s\n' "$@" | median; }
sr=$(m "${same_rm[@]}") sc=$(m "${same_cp[@]}") hs=$(m "${hashed[@]}")
xs=$(m "${cross_snap[@]}") xc=$(m "${cross_cp[@]}") xcs=$(m "${cross_cpsync[@]}")
rs=$(m "${restore[@]}") rc=$(m "${restore_cp[@]}")
printf 'medians over %s runs, 10,000 files, 1 GiB\n' "$runs"
printf 'same fs:  rm -rf via shim (snapshot) %.3f s | cp -a %.3f s | ratio %.4f (target <= 0.02)\n' "$sr" "$sc" "$(echo "$sr / $sc" | bc -l)"
printf '          background hash done %.3f s after rm returned\n' "$hs"
printf 'cross fs: snapshot take %.3f s (%.0f MiB/s) | cp -a %.3f s (%.0f MiB/s) | cp -a + sync %.3f s (%.0f MiB/s)\n' \
  "$xs" "$(echo "1024 / $xs" | bc -l)" "$xc" "$(echo "1024 / $xc" | bc -l)" "$xcs" "$(echo "1024 / $xcs" | bc -l)"
printf '          throughput vs cp -a %.2fx, vs cp -a + sync %.2fx (target >= 0.9)\n' "$(echo "$xc / $xs" | bc -l)" "$(echo "$xcs / $xs" | bc -l)"
printf 'restore:  %.3f s | cp -a %.3f s | ratio %.2f\n' "$rs" "$rc" "$(echo "$rs / $rc" | bc -l)"
