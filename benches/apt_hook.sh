#!/usr/bin/env bash
# Benchmark: `gardefou apt-hook` on apt's protocol-3 stream with 500 package actions, against
# `cat` reading the same stream (the cost of any hook process at all).
#   1. 500 upgrades of packages installed here (the everyday `apt-get upgrade`: allowed);
#   2. 500 removals, one asked for, 499 cascading (each explained from dpkg's status file),
#      with the shipped policy (refused: the worst case, every line checked against every rule).
# Release build, shipped default policy (policies/debian.toml), audit log to a temp file.
# Needs hyperfine (apt-get install hyperfine; 1.15 as in Debian 12 is enough).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/gardefou
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^file = .*|file = \"$work/audit.jsonl\"|" policies/debian.toml > "$work/policy.toml"
chmod 644 "$work/policy.toml"
header() {
  # A real configuration dump (captured from apt 2.6), then the command line.
  sed -n '2,/^$/p' tests/fixtures/apt-hook/remove.v3 | grep -v '^CommandLine::AsString=' | grep -v '^$'
}
pkgs=$(dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' | awk 'NR <= 500')
n=$(echo "$pkgs" | wc -l)
{
  echo "VERSION 3"; header; echo "CommandLine::AsString=apt-get%20upgrade"; echo
  echo "$pkgs" | while read -r p v a; do echo "$p $v $a none < $v+1 $a none /var/cache/apt/archives/${p}_${v}+1_$a.deb"; done
} > "$work/upgrade.v3"
first=${pkgs%% *}
{
  echo "VERSION 3"; header; echo "CommandLine::AsString=apt-get%20remove%20$first"; echo
  echo "$pkgs" | while read -r p v a; do echo "$p $v $a none > - - none **REMOVE**"; done
} > "$work/remove.v3"
echo "$n package actions per stream"
for s in upgrade remove; do
  # The same `sh -c 'exec … < stream'` wrapper around both (apt runs hooks through sh too).
  hyperfine -N -w 20 -r "${RUNS:-200}" -i --export-json "$work/$s.json" \
    "sh -c 'GARDEFOU_POLICY=$work/policy.toml APT_HOOK_INFO_FD=0 exec $bin apt-hook < $work/$s.v3 2>/dev/null'" \
    "sh -c 'exec cat < $work/$s.v3 > /dev/null'" >/dev/null
  python3 - "$work/$s.json" "$s" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
g, c = r[0]["median"] * 1000, r[1]["median"] * 1000
print(f"{sys.argv[2]:8} gardefou apt-hook {g:6.2f} ms | cat {c:5.2f} ms | added {g - c:6.2f} ms (target < 50 ms)")
PY
done
