#!/usr/bin/env bash
# Benchmark: `rm FILE` through the gardefou shim vs /bin/rm directly vs Debian's safe-rm.
# Prints the median of each, the time the shim adds, and ratios. Needs hyperfine and safe-rm
# (apt-get install hyperfine safe-rm). Uses the full shipped default policy.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 1; }
safe_rm=/usr/share/safe-rm/bin/rm
[ -x "$safe_rm" ] || { echo "needs safe-rm: apt-get install safe-rm" >&2; exit 1; }
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Everything install writes stays under $tmp: never the host's apt or dpkg hooks.
./target/release/gardefou install --prefix "$tmp/p" --etc "$tmp/etc" --apt-conf-dir "$tmp/apt" \
  --dpkg-conf-dir "$tmp/dpkg" --shells-file "$tmp/shells" >/dev/null 2>&1
sed "s|^file = .*|file = \"$tmp/audit.jsonl\"|" policies/debian.toml > "$tmp/policy.toml"
chmod 644 "$tmp/policy.toml"
export GARDEFOU_POLICY="$tmp/policy.toml"
# The parsed-policy cache as root has it in /run/gardefou, here under $tmp. A policy file is
# cached once its last change is 2 s old: wait, then one run writes the cache.
export GARDEFOU_CACHE_DIR="$tmp/cache"
sleep 2.2
touch "$tmp/f" && "$tmp/p/bin/rm" "$tmp/f"
[ -f "$tmp/cache/policy.cache" ] || { echo "the policy cache was not written" >&2; exit 1; }
runs=${RUNS:-500}
# The real rm the shim finds is the first on PATH after itself: a PATH with safe-rm's directory
# in front (Debian's /etc/profile.d/safe-rm.sh puts it there) would make the shim exec safe-rm,
# which forks /bin/rm. The commands run with a plain PATH.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The design's floor: a static C program that does nothing but exec /bin/rm (what any argv[0]
# shim pays for the extra process, before checking anything). Needs gcc.
floor=()
if command -v gcc >/dev/null; then
  printf '#include <unistd.h>\nint main(int c, char **v) { (void)c; execv("/bin/rm", v); return 127; }\n' > "$tmp/floor.c"
  gcc -O2 -static "$tmp/floor.c" -o "$tmp/floor" && floor=(-n floor "$tmp/floor $tmp/f")
fi
# The full binary as the rm shim (what `rm` was before the hot path, and what the hot path
# hands over to): a link named rm to it, in a directory of its own.
mkdir "$tmp/full" && ln -s "$tmp/p/bin/gardefou" "$tmp/full/rm"
hyperfine -N --warmup 50 --runs "$runs" --export-json "$tmp/r.json" \
  --prepare "touch $tmp/f" \
  -n gardefou "$tmp/p/bin/rm $tmp/f" \
  -n "full binary as rm" "$tmp/full/rm $tmp/f" \
  -n /bin/rm "/bin/rm $tmp/f" \
  -n safe-rm "$safe_rm $tmp/f" "${floor[@]}" >/dev/null
GARDEFOU_CACHE_DIR="" hyperfine -N --warmup 50 --runs "$runs" --export-json "$tmp/n.json" \
  --prepare "touch $tmp/f" -n "gardefou, no cache" "$tmp/p/bin/rm $tmp/f" >/dev/null
python3 - "$tmp/r.json" "$tmp/n.json" <<'PY'
import json, sys
r = {}
for f in sys.argv[1:]:
    r.update({x["command"]: x for x in json.load(open(f))["results"]})
med = {k: v["median"] * 1000 for k, v in r.items()}
g, n, b, s = med["gardefou"], med["gardefou, no cache"], med["/bin/rm"], med["safe-rm"]
full = med["full binary as rm"]
print(f"median rm FILE: gardefou shim {g:.3f} ms | without the policy cache {n:.3f} ms | full binary as rm {full:.3f} ms | /bin/rm {b:.3f} ms | safe-rm {s:.3f} ms")
print(f"added by gardefou: {g - b:.3f} ms ({g / b:.2f}x /bin/rm); without the cache {n - b:.3f} ms; the full binary {full - b:.3f} ms; added by safe-rm: {s - b:.3f} ms ({s / b:.2f}x)")
print(f"gardefou's added cost / safe-rm's: {(g - b) / (s - b):.2f} (target <= 0.5); the full binary's: {(full - b) / (s - b):.2f}")
if "floor" in med:
    f = med["floor"]
    print(f"floor (static C exec-only shim): {f:.3f} ms, adds {f - b:.3f} ms; gardefou's own work above it: {g - f:.3f} ms")
json.dump({"rm_added": g - b}, open(sys.argv[1] + ".added", "w"))
PY
echo "audit entries written during the run: $(wc -l < "$tmp/audit.jsonl")"
# The systemctl shim (issue 17): a command that takes nothing down, through the shim and
# straight, side by side (`--version` needs no running systemd).
if [ -x /usr/bin/systemctl ] && [ -e "$tmp/p/bin/systemctl" ]; then
  hyperfine -N --warmup 50 --runs "$runs" --export-json "$tmp/s.json" \
    -n "systemctl shim" "$tmp/p/bin/systemctl --version" \
    -n systemctl "/usr/bin/systemctl --version" >/dev/null
  python3 - "$tmp/s.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
s, d = r["systemctl shim"], r["systemctl"]
print(f"median systemctl --version: through the shim {s:.3f} ms | straight {d:.3f} ms | added {s - d:.3f} ms ({s / d:.2f}x)")
PY
fi
# The psql shim (issue 19): `psql -c 'SELECT 1'` through the shim and straight, on a cluster of
# its own (root and Debian's postgresql needed; skipped otherwise). Its added cost is compared
# with the rm shim's, measured above.
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ "$(id -u)" = 0 ] && [ -n "$pgbin" ] && [ -x /usr/bin/psql ] && id postgres >/dev/null 2>&1; then
  pgd=$(mktemp -d)
  chown postgres:postgres "$pgd"
  trap 'runuser -u postgres -- "$pgbin/pg_ctl" stop -m immediate -D "$pgd/data" >/dev/null 2>&1 || true; rm -rf "$pgd" "$tmp"' EXIT
  runuser -u postgres -- "$pgbin/initdb" -A trust -U postgres -D "$pgd/data" >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" start -w -o "-p 5496 -k $pgd -c listen_addresses=''" \
    -l "$pgd/log" -D "$pgd/data" >/dev/null
  export PGHOST=$pgd PGPORT=5496 PGUSER=postgres
  # psql itself, not Debian's Perl pg_wrapper in /usr/bin (~35 ms, whose start-up varies by a
  # few ms between batches): the shim finds it first on PATH.
  PATH="$pgbin:$PATH" hyperfine -N --warmup 20 --runs "$runs" --export-json "$tmp/p.json" \
    -n "psql shim" "$tmp/p/bin/psql -X -d postgres -c 'SELECT 1'" \
    -n psql "$pgbin/psql -X -d postgres -c 'SELECT 1'" >/dev/null
  python3 - "$tmp/p.json" "$tmp/r.json.added" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
rm_added = json.load(open(sys.argv[2]))["rm_added"]
s, d = r["psql shim"], r["psql"]
print(f"median psql -c 'SELECT 1': through the shim {s:.3f} ms | straight {d:.3f} ms | added {s - d:.3f} ms, "
      f"{(s - d) / rm_added:.2f}x the rm shim's added cost (target <= 1.5)")
PY
  # The same figure paired: psql's own time (a connection, a server backend forked) varies by
  # about a millisecond between hyperfine's blocks, more than the shim adds. Here the four
  # commands alternate within each round (the order rotated), and the medians are taken of
  # each round's differences, so that a drift of the server or the machine cancels.
  PATH="$pgbin:$PATH" python3 - "$tmp" "$pgbin" "${PAIRS:-300}" <<'PY'
import statistics, subprocess, sys, time
tmp, pgbin, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = f"{tmp}/paired"
cmds = {
    "rm shim": [f"{tmp}/p/bin/rm", f],
    "rm": ["/bin/rm", f],
    "psql shim": [f"{tmp}/p/bin/psql", "-X", "-d", "postgres", "-c", "SELECT 1"],
    "psql": [f"{pgbin}/psql", "-X", "-d", "postgres", "-c", "SELECT 1"],
}
def run(name):
    if name.startswith("rm"):
        open(f, "w").close()
    t = time.perf_counter_ns()
    subprocess.run(cmds[name], stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter_ns() - t) / 1e6
names = list(cmds)
for _ in range(10):
    for name in names:
        run(name)
d_rm, d_psql = [], []
for i in range(n):
    order = names[i % 4:] + names[:i % 4]
    t = {name: run(name) for name in order}
    d_rm.append(t["rm shim"] - t["rm"])
    d_psql.append(t["psql shim"] - t["psql"])
rm, ps = statistics.median(d_rm), statistics.median(d_psql)
print(f"paired, {n} rounds: the rm shim adds {rm:.3f} ms, the psql shim {ps:.3f} ms: "
      f"{ps / rm:.2f}x the rm shim's added cost (target <= 1.5)")
PY
fi
