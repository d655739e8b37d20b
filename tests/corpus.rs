//! The shipped default policy (policies/debian.toml) against what operators type on a Debian
//! host: everyday lines (log cleanup, the package cache, build directories, editing
//! configuration, reading data, services, ordinary SQL) must all be allowed; lines that lose
//! vital data (a server's data directory and its files, /etc/passwd and friends, ssh keys,
//! destructive SQL, purging a database server) must all be refused — `deny`, or `confirm`,
//! which refuses with no terminal.
//!
//! Verdicts depend on what exists (globs, find's matches, apt's view of the packages), so the
//! lines are checked where their targets really exist, without changing the host: a bash script
//! runs in a private mount namespace (`unshare --mount`) where /etc, /var, /root, /home and /srv
//! are overlays of the host's (writes go to a tmpfs), /var/log and /tmp are fresh tmpfs, and
//! realistic files are laid out (a PostgreSQL 15 cluster, a MariaDB datadir, rotated logs with
//! old mtimes, an nginx configuration, ssh keys…). It then runs `gardefou check --json --policy
//! policies/debian.toml --line LINE` for each line, as root in /root.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Lines an operator types every week on a Debian server; every one must be allowed.
const EVERYDAY: &[&str] = &[
    // Logs.
    "find /var/log -name '*.gz' -mtime +30 -delete",
    "find /var/log -type f -name '*.gz' -mtime +14 -exec rm -f {} +",
    "find /var/log/nginx -name 'access.log.*' -mtime +14 -delete",
    "find /var/log/app -name '*.log.*' -mtime +7 -delete",
    "find /var/log -name '*.old' -delete",
    "rm /var/log/syslog.2.gz",
    "rm -f /var/log/nginx/*.gz",
    "rm -f /var/log/*.1",
    "rm -f /var/log/app/app.log.1 /var/log/app/app.log.2.gz",
    "rm /var/log/postgresql/postgresql-15-main.log.1",
    "journalctl --vacuum-time=7d",
    "journalctl --vacuum-size=500M",
    "journalctl -u nginx --since today",
    "> /var/log/nginx/access.log",
    ": > /var/log/nginx/error.log",
    "truncate -s0 /var/log/app/app.log",
    "cat /dev/null > /var/log/app/app.log",
    "mv /var/log/app/app.log /var/log/app/app.log.1",
    "gzip /var/log/app/app.log.1",
    "logrotate -f /etc/logrotate.d/nginx",
    "tail -n 100 /var/log/syslog",
    "grep -i error /var/log/nginx/error.log",
    "zcat /var/log/syslog.2.gz | grep sshd",
    "less /var/log/syslog",
    "du -sh /var/log/*",
    "echo marker | tee -a /var/log/app/app.log",
    "ls -lt /var/log | head",
    "cd /var/log && rm -f *.gz",
    "rm -rf /var/cache/nginx/*",
    // The package cache.
    "apt-get clean",
    "apt-get autoclean",
    "apt clean",
    "rm -rf /var/cache/apt/archives/*.deb",
    "rm -f /var/cache/apt/*.bin",
    "rm -rf /var/lib/apt/lists/*",
    "apt-get update",
    "apt-get install -y rsync",
    "apt list --upgradable",
    "apt-cache policy postgresql",
    "dpkg -l | grep postgres",
    "apt-get -s upgrade",
    // Build directories.
    "rm -rf /tmp/build-*",
    "rm -rf /tmp/tmp.*",
    "cd /tmp && rm -rf build-1",
    "find /tmp -maxdepth 1 -name 'build-*' -mtime +1 -exec rm -rf {} +",
    "rm -rf ~/src/app/target",
    "cd ~/src/app && make clean",
    "cd ~/src/app && rm -rf target node_modules",
    "rm -rf ~/src/app/node_modules",
    "git -C ~/src/app clean -fdx",
    "cd ~/src/app && git status",
    "rm -rf ~/.cache/pip",
    "rm -rf /var/tmp/build-*",
    // Editing configuration.
    "cp /etc/nginx/nginx.conf /etc/nginx/nginx.conf.bak",
    "cp -a /etc/nginx /root/nginx-backup",
    "rm /etc/nginx/sites-enabled/default",
    "rm -f /etc/nginx/conf.d/old.conf",
    "rm -rf /etc/nginx/sites-enabled/*",
    "mv /etc/nginx/conf.d/old.conf /etc/nginx/conf.d/old.conf.disabled",
    "ln -sf /etc/nginx/sites-available/app /etc/nginx/sites-enabled/app",
    "ln -s /etc/nginx/sites-available/app /etc/nginx/sites-enabled/",
    "tee /etc/nginx/conf.d/x.conf <<EOF\nserver {\n  listen 8080;\n}\nEOF",
    "cat > /etc/nginx/conf.d/app.conf <<'EOF'\nupstream app { server 127.0.0.1:3000; }\nEOF",
    "echo 'upstream app {}' > /etc/nginx/conf.d/up.conf",
    "cp /root/app.conf /etc/nginx/conf.d/app.conf",
    "install -m644 /root/app.conf /etc/nginx/conf.d/app.conf",
    "sed -i 's/worker_processes 1/worker_processes 4/' /etc/nginx/nginx.conf",
    "sed -n '1,20p' /etc/nginx/nginx.conf",
    "vim /etc/nginx/nginx.conf",
    "nano /etc/hosts",
    "echo '1.2.3.4 h' >> /etc/hosts",
    "echo 'vm.swappiness=10' > /etc/sysctl.d/99-swap.conf",
    "sysctl -w vm.swappiness=10",
    "echo 3 > /proc/sys/vm/drop_caches",
    "cp /etc/ssh/sshd_config /root/sshd_config.bak",
    "diff /etc/nginx/nginx.conf /etc/nginx/nginx.conf.bak",
    "chmod 644 /etc/nginx/conf.d/old.conf",
    "cp /etc/logrotate.d/nginx /root/",
    "cd /etc/nginx/sites-enabled && rm default",
    "> /etc/motd",
    "echo 'options snd slots=1' > /etc/modprobe.d/x.conf",
    "cp /etc/postgresql/15/main/postgresql.conf /root/pg.conf.bak",
    "echo \"listen_addresses = '*'\" >> /etc/postgresql/15/main/postgresql.conf",
    "vim /etc/postgresql/15/main/pg_hba.conf",
    "dpkg --configure -a",
    "passwd ana",
    "crontab -l",
    "cat /etc/crontab",
    // Reading data, taking copies.
    "ls -la /var/lib/postgresql/15/main",
    "du -sh /var/lib/mysql",
    "du -sh /var/lib/postgresql/15/main/pg_wal",
    "ls /var/lib/postgresql/15/main/pg_wal | wc -l",
    "cat /var/lib/postgresql/15/main/PG_VERSION",
    "cat /etc/passwd",
    "grep root /etc/shadow",
    "getent passwd root",
    "ls -la /root/.ssh",
    "cat /root/.ssh/authorized_keys",
    "ssh-keygen -lf /root/.ssh/authorized_keys",
    "echo 'ssh-ed25519 AAAAC3Nza ana@laptop' >> /root/.ssh/authorized_keys",
    "ssh-keygen -R oldhost",
    "printf 'Host db\\n  User ana\\n' >> ~/.ssh/config",
    "chmod 600 /root/.ssh/authorized_keys",
    "chown root:root /root/.ssh/authorized_keys",
    "tar czf /tmp/etc.tgz /etc",
    "tar czf /root/pg-backup.tgz /var/lib/postgresql/15/main",
    "rsync -a /var/lib/postgresql/ /srv/backups/pg/",
    "cp /var/lib/mysql/ibdata1 /srv/backups/",
    "pg_dump shop > /root/shop.sql",
    "mysqldump shop > /root/shop-mysql.sql",
    // Services.
    "systemctl status postgresql",
    "systemctl restart nginx",
    "systemctl reload nginx > /dev/null 2>&1",
    "nginx -t",
    "pg_lsclusters",
    "ps aux | grep postgres",
    "df -h",
    "free -m",
    "pg_ctlcluster 15 main restart",
    "systemctl restart postgresql@15-main",
    "systemctl reload postgresql",
    "systemctl is-active postgresql",
    "systemctl list-units --failed",
    "systemctl daemon-reload",
    "service nginx restart",
    "pg_ctlcluster 15 main reload",
    "kill -HUP $(cat /run/nginx.pid)",
    "kill 12345",
    "pkill -HUP rsyslogd",
    "pkill -f /opt/etl/run.py",
    "killall -USR1 postgres",
    "kexec -l /boot/vmlinuz-6.1.0-28-amd64 --initrd=/boot/initrd.img-6.1.0-28-amd64 --reuse-cmdline",
    "echo 1 > /proc/sys/vm/drop_caches",
    "at -l",
    "/etc/init.d/nginx reload",
    "systemd-run --on-calendar=daily /usr/local/bin/backup.sh",
    "runuser -u postgres -- psql -c 'SELECT 1'",
    "shutdown -c",
    "docker system prune -f",
    "ls /nonexistent 2>/dev/null || true",
    "command -v psql >/dev/null && echo ok",
    // The operator's own files.
    "rm ~/notes.txt",
    "mv ~/a ~/b",
    "cp ~/a ~/a.bak",
    "rm -f /root/shop.sql",
    "mkdir -p ~/tmp && cd ~/tmp && touch x",
    "tar xzf /root/site.tgz -C /tmp",
    "mv /tmp/build-1 /tmp/build-old",
    // Web content and deploys.
    "rm -f /srv/www/site/cache/*.html",
    "find /srv/www/site/cache -type f -mmin +60 -delete",
    "rm -rf /srv/www/site/cache",
    "rm -rf /srv/www/site/* && cp -r /root/site-build/* /srv/www/site/",
    "rsync -a --delete /root/site-build/ /srv/www/site/",
    "tar xzf /root/site.tgz -C /srv/www",
    "chown -R www-data:www-data /var/www/html",
    "rm -rf /var/www/html/old-release",
    "cp /srv/app/db.sqlite /srv/backups/db.sqlite.bak",
    // Ordinary SQL.
    "psql -c 'SELECT 1'",
    "psql -d shop -c \"INSERT INTO t VALUES (1)\"",
    "psql -d shop -c 'UPDATE t SET x = 1 WHERE id = 3'",
    "psql -d shop -c 'DELETE FROM t WHERE id = 3'",
    "psql -d shop -c 'CREATE INDEX i ON t (x)'",
    "sudo -u postgres psql -c 'SELECT count(*) FROM pg_stat_activity'",
    "mysql -e 'SELECT 1'",
    "redis-cli INFO",
    "redis-cli GET k",
    "psql -c 'VACUUM ANALYZE'",
    "psql -d shop -f /root/migrate.sql",
    "psql -d shop -At -o /root/report.txt -c 'SELECT count(*) FROM t'",
    "psql -d shop -c '\\copy t to /root/t.csv csv header'",
    "psql -d shop -c '\\! ls -la /var/lib/postgresql/15/main'",
    "psql -d shop -o '|gzip > /root/t.sql.gz' -c 'SELECT * FROM t'",
    "psql -d shop -c 'SELECT * FROM t \\g /tmp/t.txt'",
    "mysql shop -e 'system ls -la /var/lib/mysql'",
    "mysql shop -e 'SELECT count(*) FROM orders'",
    "redis-cli DBSIZE",
];

/// Lines that lose vital data; every one must be refused (deny, or confirm).
const VITAL: &[&str] = &[
    // The host, or its database server, down.
    "reboot",
    "shutdown -r now",
    "sudo shutdown -h +5 'disk swap'",
    "systemctl poweroff",
    "init 6",
    "systemctl stop postgresql",
    "sudo systemctl disable --now mariadb",
    "service redis-server stop",
    "systemctl kill -s SIGKILL patroni",
    "killall postgres",
    "pkill -9 patroni",
    "pg_ctlcluster 15 main stop",
    "pg_ctl -D /var/lib/postgresql/15/main stop -m immediate",
    "/etc/init.d/postgresql stop",
    "invoke-rc.d mariadb stop",
    "echo b > /proc/sysrq-trigger",
    "kill -INT 1",
    "kexec -e",
    "systemd-run systemctl stop postgresql",
    "nsenter -t 1 -m -u -i -n -p -- reboot",
    // A PostgreSQL cluster.
    "rm -rf /var/lib/postgresql/15/main/*",
    "rm -f /var/lib/postgresql/15/main/pg_wal/*",
    "cd /var/lib/postgresql/15/main && rm -rf ./*",
    "sudo -u postgres rm -rf /var/lib/postgresql/15/main/pg_wal",
    "rm -rf /var/lib/postgresql",
    "rm -rf /var/lib/postgresql/15/main/base",
    "rmdir /var/lib/postgresql/15/main/pg_tblspc",
    "mv /var/lib/postgresql/15/main /tmp/main-old",
    "rsync -a --delete /tmp/empty/ /var/lib/postgresql/",
    "find /var/lib/postgresql/15/main/pg_wal -name '0000*' -delete",
    "find /var/lib/postgresql -type f -delete",
    "chown -R nobody /var/lib/postgresql",
    "chmod -R 777 /var/lib/postgresql",
    "cat /dev/null > /var/lib/postgresql/15/main/global/pg_control",
    "tar --remove-files -cf /tmp/pg.tar /var/lib/postgresql/15/main",
    "rm -rf /var/lib/postgresql/15/main/pg_xact",
    "rm /var/lib/postgresql/15/main/global/pg_control",
    "> /var/lib/postgresql/15/main/PG_VERSION",
    "truncate -s0 /var/lib/postgresql/15/main/base/5/16384",
    "rm -rf /var/lib/postgresql/15/main/pg_wal/archive_status",
    "rm -rf /etc/postgresql",
    "psql -c 'DROP TABLE t'",
    "psql -d shop -c 'TRUNCATE orders'",
    "psql -d shop -c 'DELETE FROM orders'",
    "dropdb shop",
    "psql -c 'DROP DATABASE shop'",
    "psql -d shop -c 'UPDATE orders SET total = 0'",
    "psql -d shop <<< 'DROP TABLE orders'",
    "psql -d shop -c '\\! rm -rf /var/lib/postgresql/15/main'",
    "psql -d shop -c '\\! truncate -s0 /var/lib/postgresql/15/main/PG_VERSION'",
    "psql -d shop -o /etc/passwd -c 'SELECT 1'",
    "psql -d shop -c '\\o |tee /etc/shadow'",
    "mysql shop -e 'system rm -rf /var/lib/mysql'",
    "psql -d shop -c \"\\\\copy t from program 'rm -rf /root/.ssh'\"",
    "psql -d shop <<'EOF'\nBEGIN;\nDROP SCHEMA public CASCADE;\nCOMMIT;\nEOF",
    "pg_dropcluster 15 main",
    "apt-get purge postgresql-15",
    "apt-get remove postgresql-client-15",
    "dpkg -P postgresql-15",
    "apt-get purge postgresql-common",
    "apt-get purge -y 'postgresql*'",
    // A MariaDB datadir.
    "mv /var/lib/mysql /tmp/old",
    "rm -rf /var/lib/mysql/*",
    "truncate -s0 /var/lib/mysql/ibdata1",
    "shred -u /var/lib/mysql/ibdata1",
    "find /var/lib/mysql -name '*.ibd' -exec truncate -s0 {} +",
    "rsync -a --remove-source-files /var/lib/mysql/ /tmp/mysql-moved/",
    "mysql -e 'DROP DATABASE shop'",
    "mysql -e 'DELETE FROM shop.orders'",
    "chown -R www-data /var/lib/mysql",
    "find /var/lib -name ibdata1 -delete",
    "dd if=/dev/zero of=/var/lib/mysql/ibdata1 bs=1M count=1 conv=notrunc",
    "xargs rm -rf < /root/paths.txt",
    "rm -rf $(cat /root/paths.txt)",
    "ls /var/lib/mysql | xargs -I{} rm -rf /var/lib/mysql/{}",
    "for d in /var/lib/postgresql /var/lib/mysql; do rm -rf \"$d\"; done",
    "bash -c 'rm -rf /var/lib/mysql'",
    "redis-cli FLUSHALL",
    "redis-cli FLUSHDB",
    // Logging in, booting.
    "rm /etc/passwd",
    ": > /etc/shadow",
    "cp /dev/null /etc/passwd",
    "tee /etc/group </dev/null",
    "unlink /etc/shadow",
    "mv /etc/shadow /tmp/",
    "cp /root/notes.txt /etc/shadow",
    "chmod -R 000 /etc/ssh",
    "rm -rf /var/lib/dpkg/info",
    "mv /etc/passwd /etc/passwd.old",
    "echo > /etc/fstab",
    "dd if=/dev/zero of=/etc/fstab",
    "ln -sf /dev/null /etc/hosts",
    "rm -rf /etc/ssh",
    "> /etc/ssh/sshd_config",
    "git -C /etc clean -fdx",
    "rm -rf /etc",
    "rm -rf /boot",
    "rm -rf /var/lib/dpkg",
    "rm /var/lib/dpkg/status",
    "rm -rf /",
    "rm -rf /var/lib",
    // SSH keys.
    "find ~/.ssh -type f -delete",
    "rm -rf ~/.ssh",
    "rm -rf /root/.ssh",
    "> /root/.ssh/authorized_keys",
    "install -m600 /dev/null /root/.ssh/authorized_keys",
    "shred -n3 -z /root/.ssh/id_ed25519",
    "> ~/.ssh/authorized_keys",
    "mv ~/.ssh ~/.ssh.bak",
    "rm -rf /root",
    "rm -rf ~",
    "rm -rf /home/*",
    "rm -rf /home/ana/.ssh",
    "rm -rf /home/ana",
    // SQLite databases under /srv.
    "rm -f /srv/app/db.sqlite",
    ": > /srv/app/db.sqlite",
];

/// Lays out the files the corpus needs in a private mount namespace, checks each line read
/// (NUL-separated) from standard input, and prints `CODE\tJSON\0` for each. $1: a directory of
/// the test's own to mount a tmpfs on; $2: gardefou; $3: the policy.
const SCRIPT: &str = r##"
set -euo pipefail
S=$1 G=$2 P=$3
# The checkout (and so gardefou and the policy) may live under /tmp, which a tmpfs hides
# below: keep both open, and copy them in once it is mounted.
exec 7<"$G" 8<"$P"
mount -t tmpfs tmpfs "$S"
ov() {
  local n; n=$(printf %s "$1" | tr / _)
  mkdir -p "$S/u$n" "$S/w$n"
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$S/u$n,workdir=$S/w$n" "$1"
}
for d in /etc /var /root /home /srv; do ov "$d"; done
mount -t tmpfs tmpfs /var/log
mount -t tmpfs tmpfs /tmp
mkdir -m 700 /tmp/.corpus
cat <&7 > /tmp/.corpus/gardefou && chmod 755 /tmp/.corpus/gardefou && G=/tmp/.corpus/gardefou
cat <&8 > /tmp/.corpus/policy.toml && chmod 644 /tmp/.corpus/policy.toml && P=/tmp/.corpus/policy.toml
exec 7<&- 8<&-
touch /etc/.gardefou-corpus-marker
old() { touch -d '40 days ago' "$@"; }

# A PostgreSQL 15 cluster.
M=/var/lib/postgresql/15/main
rm -rf /var/lib/postgresql
mkdir -p $M/base/1 $M/base/5 $M/global $M/pg_wal/archive_status $M/pg_tblspc $M/pg_xact
echo 15 > $M/PG_VERSION
head -c 8192 /dev/urandom > $M/base/1/1259
head -c 8192 /dev/urandom > $M/base/5/16384
head -c 8192 /dev/urandom > $M/global/pg_control
head -c 65536 /dev/urandom > $M/pg_wal/000000010000000000000001
head -c 65536 /dev/urandom > $M/pg_wal/000000010000000000000002
head -c 8192 /dev/urandom > $M/pg_xact/0000
chmod -R go-rwx /var/lib/postgresql/15
chown -R postgres:postgres /var/lib/postgresql 2>/dev/null || true
mkdir -p /etc/postgresql/15/main
echo "data_directory = '$M'" > /etc/postgresql/15/main/postgresql.conf
echo 'local all postgres peer' > /etc/postgresql/15/main/pg_hba.conf

# A MariaDB datadir.
rm -rf /var/lib/mysql
mkdir -p /var/lib/mysql/mysql /var/lib/mysql/shop
head -c 65536 /dev/urandom > /var/lib/mysql/ibdata1
head -c 65536 /dev/urandom > /var/lib/mysql/ib_logfile0
head -c 16384 /dev/urandom > /var/lib/mysql/shop/orders.ibd
head -c 16384 /dev/urandom > /var/lib/mysql/mysql/user.MAD

# Logs, rotated; the old rotations 40 days old.
mkdir -p /var/log/nginx /var/log/app /var/log/postgresql /var/log/apt /var/log/journal /var/log/gardefou
for f in syslog syslog.1 auth.log dpkg.log kern.log.1 nginx/access.log nginx/error.log \
         nginx/access.log.1 app/app.log app/app.log.1 postgresql/postgresql-15-main.log \
         postgresql/postgresql-15-main.log.1 apt/history.log; do
  echo "$f line" > /var/log/$f
done
for f in syslog.2 syslog.3 nginx/access.log.2 nginx/error.log.3 app/app.log.2; do
  echo "$f line" | gzip -n > /var/log/$f.gz
  old /var/log/$f.gz
done
echo recent | gzip -n > /var/log/syslog.recent.gz

# The package cache (apt's own caches and lists are the host's: apt-get -s reads them).
mkdir -p /var/cache/apt/archives/partial /var/lib/apt/lists
echo deb > /var/cache/apt/archives/foo_1.0_amd64.deb
echo deb > /var/cache/apt/archives/bar_2.0_all.deb
mkdir -p /var/cache/nginx/proxy && echo cached > /var/cache/nginx/proxy/0a1b

# An nginx configuration, a logrotate entry, the files login needs.
mkdir -p /etc/nginx/sites-available /etc/nginx/sites-enabled /etc/nginx/conf.d /etc/logrotate.d /etc/sysctl.d /etc/ssh
echo 'worker_processes 1;' > /etc/nginx/nginx.conf
echo 'server { listen 80; }' > /etc/nginx/sites-available/default
echo 'server { listen 81; }' > /etc/nginx/sites-available/app
ln -sfn ../sites-available/default /etc/nginx/sites-enabled/default
echo '# old' > /etc/nginx/conf.d/old.conf
echo '/var/log/nginx/*.log { daily }' > /etc/logrotate.d/nginx
[ -e /etc/ssh/sshd_config ] || echo 'PermitRootLogin no' > /etc/ssh/sshd_config
for f in passwd shadow group gshadow fstab hosts; do [ -e /etc/$f ] || echo "# $f" > /etc/$f; done
# /etc under git as etckeeper keeps it, with only nginx's files committed.
git -C /etc init -q --template= 2>/dev/null
git -C /etc add nginx
git -C /etc -c user.name=t -c user.email=t@example.invalid commit -qm nginx || true

# root's home: keys, notes, a project with a build directory, a site to deploy.
mkdir -p /root/.ssh /root/src/app/target/debug /root/src/app/node_modules/x /root/.cache/pip /root/site-build /root/tmp
chmod 700 /root/.ssh
echo 'ssh-ed25519 AAAA ops@laptop' > /root/.ssh/authorized_keys
echo 'PRIVATE KEY' > /root/.ssh/id_ed25519
chmod 600 /root/.ssh/*
echo notes > /root/notes.txt
echo a > /root/a
echo 'upstream app {}' > /root/app.conf
echo 'pg dump' > /root/shop.sql
echo 'ALTER TABLE t ADD COLUMN y int;' > /root/migrate.sql
echo /var/lib/mysql > /root/paths.txt
echo '<h1>new</h1>' > /root/site-build/index.html
tar czf /root/site.tgz -C /root site-build
echo ELF > /root/src/app/target/debug/app
echo js > /root/src/app/node_modules/x/index.js
echo wheel > /root/.cache/pip/x.whl
printf 'clean:\n\trm -rf target\n' > /root/src/app/Makefile
echo 'fn main() {}' > /root/src/app/main.rs
git -C /root/src/app init -q --template=
git -C /root/src/app add Makefile main.rs
git -C /root/src/app -c user.name=t -c user.email=t@example.invalid commit -qm app

# A user's home.
mkdir -p /home/ana/.ssh /home/ana/tmp
echo 'ssh-ed25519 BBBB ana' > /home/ana/.ssh/authorized_keys
echo x > /home/ana/tmp/x.txt

# Web content, an SQLite database, backups.
mkdir -p /srv/www/site/cache /srv/app /srv/backups /var/www/html/old-release
echo '<h1>site</h1>' > /srv/www/site/index.html
echo cached > /srv/www/site/cache/a.html
old /srv/www/site/cache/a.html
echo 'SQLite format 3' > /srv/app/db.sqlite
echo '<h1>html</h1>' > /var/www/html/index.html
echo old > /var/www/html/old-release/index.html

# Build and scratch directories.
mkdir -p /tmp/empty /tmp/build-1 /tmp/build-2 /tmp/tmp.abc123 /var/tmp/build-3
echo o > /tmp/build-1/obj.o
echo o > /tmp/build-2/obj.o
echo t > /tmp/tmp.abc123/t
echo o > /var/tmp/build-3/obj.o
old /tmp/build-1 /tmp/build-2

E=/tmp/.corpus-stderr
cd /root
while IFS= read -r -d '' line; do
  code=0
  out=$("$G" check --json --policy "$P" --line "$line" </dev/null 2>"$E") || code=$?
  [ -n "$out" ] || out=$(tr '\n\t\0' '   ' < "$E")
  printf '%s\t%s\0' "$code" "$out"
done
"##;

/// One line's verdict: the exit status and the JSON (or what stood instead of it).
struct Checked {
    code: i32,
    decision: String,
    json: String,
}

/// Runs the corpus in a private mount namespace; one verdict per line, in order.
fn check_all(lines: &[&str]) -> Vec<Checked> {
    let dir = tempfile::tempdir().unwrap();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/debian.toml");
    let mut child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
            SCRIPT,
            "corpus",
        ])
        .arg(dir.path())
        .arg(common::bin())
        .arg(&policy)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("USER", "root")
        .env("LOGNAME", "root")
        .env("LC_ALL", "C")
        .env("GARDEFOU_CACHE_DIR", "")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) runs the corpus in a private mount namespace");
    let mut input = Vec::new();
    for l in lines {
        input.extend_from_slice(l.as_bytes());
        input.push(0);
    }
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().ok();
    let (_, err) = common::text(&out);
    assert!(
        out.status.success(),
        "the corpus script failed ({:?}): {err}",
        out.status
    );
    let verdicts: Vec<Checked> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let r = String::from_utf8_lossy(r);
            let (code, json) = r.split_once('\t').unwrap_or(("?", &r));
            let decision = serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v["decision"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "no verdict".to_owned());
            Checked {
                code: code.parse().unwrap_or(-1),
                decision,
                json: json.to_owned(),
            }
        })
        .collect();
    assert_eq!(verdicts.len(), lines.len(), "one verdict per line: {err}");
    verdicts
}

/// The reasons of a verdict, one line each.
fn reasons(c: &Checked) -> String {
    let v: serde_json::Value = serde_json::from_str(&c.json).unwrap_or(serde_json::Value::Null);
    match v["reasons"].as_array() {
        Some(rs) if !rs.is_empty() => rs
            .iter()
            .map(|r| {
                format!(
                    "      {} ({})",
                    r["message"].as_str().unwrap_or("?"),
                    r["rule"].as_str().unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => format!("      {}", c.json),
    }
}

#[test]
fn the_default_policy_allows_everyday_work_and_refuses_vital_data_losses() {
    assert!(EVERYDAY.len() >= 100 && VITAL.len() >= 40);
    let host_before = ["/var/lib/mysql", "/etc/nginx", "/root/.ssh", "/home/ana"]
        .map(|p| Path::new(p).symlink_metadata().is_ok());
    let started = std::time::Instant::now();
    let lines: Vec<&str> = EVERYDAY.iter().chain(VITAL).copied().collect();
    let verdicts = check_all(&lines);
    // The namespace's files never reached the host.
    assert!(
        !Path::new("/etc/.gardefou-corpus-marker").exists(),
        "the corpus changed the host's /etc"
    );
    let host_after = ["/var/lib/mysql", "/etc/nginx", "/root/.ssh", "/home/ana"]
        .map(|p| Path::new(p).symlink_metadata().is_ok());
    assert_eq!(host_before, host_after, "the corpus changed the host");

    let mut failures = Vec::new();
    let mut contract = Vec::new();
    let (mut allowed, mut refused) = (0, 0);
    for (i, (line, c)) in lines.iter().zip(&verdicts).enumerate() {
        let expected_code = match c.decision.as_str() {
            "allow" => 0,
            "confirm" => 3,
            "deny" => 4,
            _ => -1,
        };
        if c.code != expected_code {
            contract.push(format!("{line:?}: exit {} for {}", c.code, c.json));
        }
        let everyday = i < EVERYDAY.len();
        match (everyday, c.decision == "allow") {
            (true, true) => allowed += 1,
            (false, false) if expected_code > 0 => refused += 1,
            (true, false) => failures.push(format!(
                "EVERYDAY line not allowed ({}): {line:?}\n{}",
                c.decision,
                reasons(c)
            )),
            (false, _) => failures.push(format!(
                "VITAL line not refused ({}): {line:?}\n{}",
                c.decision,
                reasons(c)
            )),
        }
    }
    println!(
        "default policy corpus: {} everyday lines, {allowed} allowed; {} vital lines, {refused} refused; {:.1?}",
        EVERYDAY.len(),
        VITAL.len(),
        started.elapsed()
    );
    for f in &failures {
        println!("{f}");
    }
    assert!(
        contract.is_empty(),
        "exit status and decision disagree:\n{}",
        contract.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {} lines got the wrong verdict:\n{}",
        failures.len(),
        lines.len(),
        failures.join("\n")
    );
}
