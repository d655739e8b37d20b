//! The end-to-end differential oracle: whole shell lines, run once by plain `bash -c` and once
//! by the guarded shell (`gardefou shell -c`, no terminal), each on a fresh copy of the same
//! sandbox — a server data directory, a tree whose contents need a confirmation, an /etc whose
//! contents are free but for its passwd, ssh keys, logs, scratch space, symlinks into the
//! protected trees, non-UTF-8 names, git repositories.
//!
//! The protected bytes are, for each rule, the entry it names (type, mode, owner, symlink
//! target, bytes) and, unless the rule's `contents` is "allow", every entry below it (an entry
//! that appears counts as a change; a file that only grew, as `>>` makes it, lost nothing —
//! except inside a directory the read-only net holds, where the kernel refuses appends too and
//! the guarded shell asks for them before the line runs).
//! Whenever plain bash changes protected bytes, the guarded shell must leave them exactly as
//! built and exit non-zero (no terminal: confirm and deny both refuse). Whenever plain bash
//! does not, the guarded shell must have run the line with the same effect: the whole sandbox
//! (all bytes, modes, owners; not times), the exit status and the output are bash's.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use common::Tree;
use wait_timeout::ChildExt;

/// A `[[protect.path]]` rule of the sandbox's policy (`path` relative to the sandbox), with the
/// entries of the built sandbox it matches (its glob expanded by hand: the sandbox is fixed).
struct Rule {
    path: &'static str,
    action: &'static str,
    contents: Option<&'static str>,
    matches: &'static [&'static str],
    /// `net = false`: the read-only net leaves the tree to the parser (as the shipped policy
    /// does for `~/.ssh`, where ssh appends known_hosts).
    net: bool,
}

const RULES: &[Rule] = &[
    Rule {
        path: "data",
        action: "deny",
        contents: Some("deny"),
        matches: &["data"],
        net: true,
    },
    Rule {
        path: "keep",
        action: "deny",
        contents: Some("confirm"),
        matches: &["keep"],
        net: true,
    },
    Rule {
        path: "etc",
        action: "deny",
        contents: Some("allow"),
        matches: &["etc"],
        net: true,
    },
    Rule {
        path: "etc/passwd",
        action: "deny",
        contents: None,
        matches: &["etc/passwd"],
        net: true,
    },
    Rule {
        path: "home/*/.ssh",
        action: "deny",
        contents: Some("confirm"),
        matches: &["home/u1/.ssh"],
        net: false,
    },
    Rule {
        path: "logs",
        action: "deny",
        contents: Some("allow"),
        matches: &["logs"],
        net: true,
    },
    Rule {
        path: "cfg/*.conf",
        action: "confirm",
        contents: None,
        matches: &["cfg/a.conf", "cfg/b.conf"],
        net: true,
    },
    // A rule on a symlink protects what it leads to, as /var/lib/postgresql -> /srv/pg.
    Rule {
        path: "db",
        action: "deny",
        contents: None,
        matches: &["db"],
        net: true,
    },
];

const DAY: u64 = 86_400;

fn write(root: &Path, rel: &[u8], bytes: &[u8], mode: u32) {
    let p = common::rel_path(root, rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn dir(root: &Path, rel: &str, mode: u32) {
    let p = root.join(rel);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn age(root: &Path, rel: &[u8], days: u64) {
    let t = SystemTime::now() - Duration::from_secs(days * DAY);
    std::fs::File::options()
        .write(true)
        .open(common::rel_path(root, rel))
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Runs a build step of the template (git, gzip, tar) with nothing from the host's config.
fn step(root: &Path, args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .current_dir(root)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {:?}", common::text(&out));
}

fn git_repo(root: &Path, rel: &str, tracked: &[&str]) {
    let d = root.join(rel).display().to_string();
    step(
        root,
        &["git", "init", "-q", "--template=", "-b", "main", &d],
    );
    let mut add = vec!["git", "-C", &d, "add", "--"];
    add.extend_from_slice(tracked);
    step(root, &add);
    step(
        root,
        &[
            "git",
            "-C",
            &d,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-q",
            "-m",
            "init",
        ],
    );
}

/// The sandbox every line starts from (copied with `cp -a` before each run).
fn build_template(t: &Path) {
    std::fs::create_dir(t).unwrap();
    // A PostgreSQL-like data directory, the postgres user's way: 0700, files 0600.
    dir(t, "data", 0o700);
    for (f, b) in [
        ("PG_VERSION", &b"15\n"[..]),
        (
            "postgresql.auto.conf",
            b"# Do not edit this file manually!\n",
        ),
        ("base/1/1259", &[7u8; 8192][..]),
        ("base/1/1249", &[9u8; 8192][..]),
        ("base/5/16384", b"\x00\x01rows"),
        ("global/pg_control", b"pg_control bytes"),
        ("pg_wal/000000010000000000000001", &[1u8; 4096][..]),
        ("pg_wal/000000010000000000000002", &[2u8; 4096][..]),
        ("ibdata1", b"innodb system tablespace"),
        ("f", b"a data file"),
    ] {
        write(t, format!("data/{f}").as_bytes(), b, 0o600);
    }
    write(t, b"data/base/bad\xff", b"non-UTF-8 name", 0o600);
    for d in [
        "data/base",
        "data/base/1",
        "data/base/5",
        "data/global",
        "data/pg_wal",
    ] {
        dir(t, d, 0o700);
    }
    dir(t, "data/pg_wal/archive_status", 0o700);
    dir(t, "data/pg_tblspc", 0o700);
    // The data of a rule given as a symlink.
    write(t, b"dbdata/ibdata1", b"mysql tablespace", 0o640);
    write(t, b"dbdata/orders.ibd", b"orders", 0o640);
    symlink("dbdata", t.join("db")).unwrap();
    // A tree whose contents need a confirmation, under git, with local changes.
    write(t, b"keep/a", b"a\n", 0o644);
    write(t, b"keep/b", b"b\n", 0o644);
    git_repo(t, "keep", &["a", "b"]);
    write(t, b"keep/b", b"b changed\n", 0o644);
    write(t, b"keep/notes.txt", b"untracked notes\n", 0o644);
    // An /etc: the directory and its passwd protected, the rest free.
    write(
        t,
        b"etc/passwd",
        b"root:x:0:0:root:/root:/bin/bash\n",
        0o644,
    );
    write(t, b"etc/hosts", b"127.0.0.1 localhost\n", 0o644);
    write(t, b"etc/nginx/nginx.conf", b"worker_processes 1;\n", 0o644);
    write(
        t,
        b"etc/nginx/sites-available/default",
        b"server { listen 80; }\n",
        0o644,
    );
    write(
        t,
        b"etc/nginx/sites-available/app",
        b"server { listen 81; }\n",
        0o644,
    );
    write(
        t,
        b"etc/nginx/sites-enabled/default",
        b"server { listen 80; }\n",
        0o644,
    );
    write(t, b"etc/nginx/conf.d/old.conf", b"# old\n", 0o644);
    // A home with ssh keys, notes and a build directory.
    dir(t, "home/u1/.ssh", 0o700);
    write(t, b"home/u1/.ssh/id_ed25519", b"PRIVATE KEY\n", 0o600);
    write(
        t,
        b"home/u1/.ssh/id_ed25519.pub",
        b"ssh-ed25519 AAAA u1\n",
        0o644,
    );
    write(
        t,
        b"home/u1/.ssh/authorized_keys",
        b"ssh-ed25519 BBBB ops\n",
        0o600,
    );
    write(
        t,
        b"home/u1/.ssh/known_hosts",
        b"db1 ssh-ed25519 CCCC\n",
        0o644,
    );
    write(t, b"home/u1/notes.txt", b"notes\n", 0o644);
    write(t, b"home/u1/a", b"a\n", 0o644);
    write(t, b"home/u1/src/app/main.rs", b"fn main() {}\n", 0o644);
    write(t, b"home/u1/src/app/target/debug/app", b"ELF", 0o755);
    // Logs: old and new rotations, real gzip files.
    for (f, b) in [
        ("logs/app.log", &b"app line\n"[..]),
        ("logs/syslog", b"syslog line\n"),
        ("logs/syslog.1", b"syslog.1 line\n"),
        ("logs/nginx/access.log", b"GET /\n"),
    ] {
        write(t, f.as_bytes(), b, 0o644);
    }
    for (f, days) in [
        ("logs/syslog.2", 40),
        ("logs/syslog.3", 40),
        ("logs/new", 1),
        ("logs/nginx/access.log.2", 40),
        ("logs/nginx/error.log.1", 1),
    ] {
        write(t, f.as_bytes(), format!("{f} contents\n").as_bytes(), 0o644);
        step(t, &["gzip", "-n", f]);
        age(t, format!("{f}.gz").as_bytes(), days);
    }
    write(t, b"logs/weird\xff.gz", b"not really gzip", 0o644);
    age(t, b"logs/weird\xff.gz", 40);
    // Configuration files a glob rule protects, and one it does not.
    write(t, b"cfg/a.conf", b"a = 1\n", 0o644);
    write(t, b"cfg/b.conf", b"b = 2\n", 0o644);
    write(t, b"cfg/readme.txt", b"readme\n", 0o644);
    // Scratch space: no rule at all.
    for f in [
        "s1",
        "s2",
        "sub/s3",
        "sub/deep/s4",
        "build-1/obj.o",
        "build-2/obj.o",
    ] {
        write(t, format!("scratch/{f}").as_bytes(), f.as_bytes(), 0o644);
    }
    write(t, b"scratch/old.gz", b"old", 0o644);
    age(t, b"scratch/old.gz", 40);
    write(t, b"scratch/bad\xff", b"non-UTF-8 name", 0o644);
    dir(t, "scratch/dst", 0o755);
    write(t, b"scratch/repo/t.txt", b"tracked\n", 0o644);
    write(t, b"scratch/repo/m.txt", b"committed\n", 0o644);
    write(t, b"scratch/repo/.gitignore", b"out/\n", 0o644);
    git_repo(t, "scratch/repo", &["t.txt", "m.txt", ".gitignore"]);
    write(t, b"scratch/repo/m.txt", b"modified\n", 0o644);
    write(t, b"scratch/repo/u.txt", b"untracked\n", 0o644);
    write(t, b"scratch/repo/out/o.bin", b"ignored\n", 0o644);
    for (link, to) in [
        ("scratch/to-data", "../data"),
        ("scratch/to-passwd", "../etc/passwd"),
        ("scratch/to-keep-a", "../keep/a"),
        ("scratch/to-ssh", "../home/u1/.ssh"),
        ("scratch/to-s1", "s1"),
        ("scratch/dangling", "nowhere"),
    ] {
        symlink(to, t.join(link)).unwrap();
    }
    dir(t, "empty", 0o755);
    write(t, b"site/index.html", b"<h1>site</h1>\n", 0o644);
    step(t, &["tar", "-cf", "scratch/site.tar", "site"]);
    // A replacement /etc, as a tree and as an archive: what it holds overwrites etc/passwd.
    write(
        t,
        b"scratch/newetc/etc/passwd",
        b"evil:x:0:0::/:/bin/sh\n",
        0o644,
    );
    write(t, b"scratch/newetc/etc/motd", b"welcome\n", 0o644);
    step(
        t,
        &[
            "tar",
            "-cf",
            "scratch/etc.tar",
            "-C",
            "scratch/newetc",
            "etc",
        ],
    );
}

fn policy_body(root: &Path) -> String {
    let mut body = String::new();
    for rule in RULES {
        body.push_str(&format!(
            "[[protect.path]]\npath = \"{}/{}\"\naction = \"{}\"\nreason = \"oracle {}\"\n",
            root.display(),
            rule.path,
            rule.action,
            rule.path
        ));
        if let Some(c) = rule.contents {
            body.push_str(&format!("contents = \"{c}\"\n"));
        }
        if !rule.net {
            body.push_str("net = false\n");
        }
    }
    body
}

/// Left out of every comparison: git's index holds inode numbers and times.
fn skip(rel: &[u8]) -> bool {
    rel.ends_with(b"/.git/index") || rel.ends_with(b"/.git/index.lock")
}

/// The protected entries of the sandbox at `r` (see the module's header); a match that is a
/// symlink brings in the entries it resolves to, the same way.
fn protected(r: &Path) -> Tree {
    let mut tree = Tree::new();
    for rule in RULES {
        let below = rule.contents.unwrap_or(rule.action) != "allow";
        for m in rule.matches {
            common::record(&mut tree, r, m.as_bytes(), below, &skip);
            let p = r.join(m);
            if p.symlink_metadata()
                .is_ok_and(|md| md.file_type().is_symlink())
                && let Ok(real) = std::fs::canonicalize(&p)
                && let Ok(inside) = real.strip_prefix(r)
            {
                common::record(&mut tree, r, inside.as_os_str().as_bytes(), below, &skip);
            }
        }
    }
    tree
}

/// What a line was expected to do under plain bash: a check of the sandbox itself, so that an
/// oracle whose tree lacks what a line needs (a find that matches nothing) fails loudly.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Tag {
    /// Changes protected bytes.
    T,
    /// Changes the sandbox, nothing protected.
    C,
    /// Changes nothing.
    H,
    /// Generated: whatever bash does decides.
    G,
}
use Tag::{C, H, T};

/// Hand-written lines; `ROOT` is the sandbox's absolute path (the working directory too), and
/// HOME is ROOT/home/u1.
const HAND: &[(Tag, &str)] = &[
    // rm, as the issue tried it.
    (T, "rm -rf ROOT/data/*"),
    (T, "cd ROOT/data && rm -rf ./*"),
    (T, "rm -f ROOT/data/pg_wal/*"),
    (T, "rm ROOT/data/PG_VERSION"),
    (T, "rm -r ROOT/data/base"),
    (T, "rm -rf ROOT/data"),
    (T, "rm -rf ROOT/keep/a"),
    (T, "rm ROOT/etc/passwd"),
    (C, "rm ROOT/etc/nginx/sites-enabled/default"),
    (C, "rm -rf ROOT/etc/nginx/conf.d"),
    (T, "rm -rf ROOT/etc"),
    (T, "rm -rf ROOT/etc/*"),
    (C, "rm -rf ROOT/logs/*"),
    (T, "rm -rf ROOT/logs"),
    (C, "rm -rf ROOT/scratch/*"),
    (C, "rm -rf ROOT/scratch/sub ROOT/scratch/s1"),
    (T, "rm -rf ROOT/scratch/to-data/"),
    (C, "rm ROOT/scratch/to-data"),
    (T, "rm -rf ROOT/home/u1/.ssh"),
    (T, "rm -f ROOT/home/u1/.ssh/id_ed25519"),
    (T, "rm -rf ~/.ssh"),
    (T, "rm -rf \"$HOME/.ssh\""),
    (T, "cd ~ && rm -rf .ssh"),
    (C, "rm -f ~/notes.txt"),
    (T, "rm ROOT/cfg/a.conf"),
    (C, "rm ROOT/cfg/readme.txt"),
    (T, "rm -rf ROOT/cfg"),
    (T, "rm -rf ROOT/dbdata/*"),
    (T, "rm -rf ROOT/db/"),
    (T, "rm ROOT/db"),
    (T, "rm -rf ROOT/scratch/to-ssh/"),
    (T, "rm -rf ROOT"),
    (T, "rm -rf ROOT/home"),
    (C, "rm -rf ROOT/home/u1/src/app/target"),
    (C, "rm -rf ~/src/app/target"),
    (C, "cd ~/src/app && rm -rf target"),
    (C, "rm -rf ROOT/scratch/build-*"),
    (T, "rm -f ROOT/data/base/bad$'\\xff'"),
    (C, "rm -f ROOT/scratch/bad$'\\xff'"),
    (C, "rm -f ROOT/scratch/*"),
    (C, "rm -f ROOT/logs/weird*"),
    (T, "rm -rf -- ROOT/data"),
    (T, "rm -rf ROOT/scratch/../data"),
    (T, "rm -rf ROOT//data//base"),
    (T, "rm -rf ./data"),
    (H, "rm -f ROOT/data/nothing"),
    // rmdir, unlink.
    (T, "rmdir ROOT/data/pg_tblspc"),
    (T, "rmdir ROOT/data/pg_wal/archive_status"),
    (C, "rmdir ROOT/empty"),
    (C, "rmdir ROOT/scratch/dst"),
    (T, "unlink ROOT/etc/passwd"),
    (T, "unlink ROOT/data/ibdata1"),
    (C, "unlink ROOT/scratch/s1"),
    (C, "unlink ROOT/scratch/to-passwd"),
    // mv: the source leaves, the destination is overwritten.
    (T, "mv ROOT/data ROOT/scratch/pg-old"),
    (T, "mv ROOT/data/pg_wal ROOT/scratch/"),
    (T, "mv ROOT/keep/a ROOT/keep/a.old"),
    (T, "mv ROOT/etc/passwd ROOT/etc/passwd.old"),
    (
        C,
        "mv ROOT/etc/nginx/conf.d/old.conf ROOT/etc/nginx/conf.d/old.conf.disabled",
    ),
    (C, "mv ROOT/scratch/s1 ROOT/scratch/s1.old"),
    (T, "mv ROOT/scratch/s1 ROOT/etc/passwd"),
    (C, "mv ROOT/scratch/s1 ROOT/etc/nginx/sites-enabled/default"),
    (T, "mv ROOT/home/u1/.ssh ROOT/home/u1/ssh.old"),
    (C, "mv ~/a ~/b"),
    (T, "mv ROOT/logs ROOT/logs.old"),
    (C, "mv ROOT/logs/syslog.1 ROOT/scratch/"),
    (T, "mv ROOT/db ROOT/scratch/db-link"),
    // cp, install, ln onto an existing file; cp -r into a directory.
    (T, "cp /dev/null ROOT/data/ibdata1"),
    (T, "cp /dev/null ROOT/etc/passwd"),
    (
        C,
        "cp ROOT/etc/nginx/nginx.conf ROOT/etc/nginx/nginx.conf.bak",
    ),
    (C, "cp ROOT/scratch/s1 ROOT/etc/nginx/sites-enabled/default"),
    (T, "cp ROOT/scratch/s1 ROOT/scratch/to-passwd"),
    (T, "cp -r ROOT/scratch/sub/. ROOT/data/"),
    (C, "cp -r ROOT/scratch/sub/. ROOT/scratch/dst/"),
    (C, "cp -a ROOT/etc/nginx ROOT/scratch/nginx-backup"),
    (C, "cp ROOT/data/PG_VERSION ROOT/scratch/pgv"),
    (T, "cp -f ROOT/scratch/s1 ROOT/keep/a"),
    (H, "cp ROOT/data/PG_VERSION /dev/null"),
    (
        T,
        "install -m600 /dev/null ROOT/home/u1/.ssh/authorized_keys",
    ),
    (
        C,
        "install -m644 ROOT/scratch/s1 ROOT/etc/nginx/conf.d/new.conf",
    ),
    (T, "ln -sf /dev/null ROOT/etc/passwd"),
    (T, "ln -sf /dev/null ROOT/data/PG_VERSION"),
    (
        C,
        "ln -sf ROOT/etc/nginx/sites-available/app ROOT/etc/nginx/sites-enabled/app",
    ),
    (C, "ln -sf /dev/null ROOT/scratch/to-passwd"),
    (C, "ln -s ROOT/data ROOT/scratch/data-link"),
    // truncate, shred, dd.
    (T, "truncate -s0 ROOT/data/ibdata1"),
    (C, "truncate -s0 ROOT/logs/app.log"),
    (T, "truncate -s0 ROOT/scratch/to-keep-a"),
    (T, "shred -u ROOT/home/u1/.ssh/id_ed25519"),
    (T, "shred -n1 ROOT/data/global/pg_control"),
    (C, "shred -u ROOT/scratch/s2"),
    (T, "dd if=/dev/zero of=ROOT/etc/passwd count=1 status=none"),
    (
        T,
        "dd if=/dev/zero of=ROOT/data/base/1/1259 bs=1 count=1 conv=notrunc status=none",
    ),
    (
        C,
        "dd if=ROOT/data/PG_VERSION of=ROOT/scratch/pgv status=none",
    ),
    (H, "dd if=ROOT/data/PG_VERSION of=/dev/null status=none"),
    // tee.
    (T, "tee ROOT/etc/passwd </dev/null"),
    (T, "echo x | tee ROOT/keep/b"),
    (
        C,
        "echo 'u2:x:1001:1001::/home/u2:/bin/sh' | tee -a ROOT/etc/passwd",
    ),
    (
        C,
        "echo 'server {}' | tee ROOT/etc/nginx/conf.d/x.conf >/dev/null",
    ),
    (
        C,
        "tee ROOT/etc/nginx/conf.d/y.conf <<'EOF'\nserver { listen 8080; }\nEOF",
    ),
    // Redirections (`>>` is not an effect).
    (T, ": > ROOT/etc/passwd"),
    (T, "> ROOT/etc/passwd"),
    (T, "echo x >| ROOT/data/PG_VERSION"),
    (T, "echo x 1<> ROOT/keep/a"),
    (T, "ls ROOT/nonexistent &> ROOT/data/f"),
    (T, "ls ROOT/nonexistent 2> ROOT/home/u1/.ssh/known_hosts"),
    (T, "exec 3> ROOT/etc/passwd"),
    (T, ": > ROOT/scratch/to-passwd"),
    (T, "cat /dev/null > ROOT/cfg/a.conf"),
    (
        C,
        "echo 'u2:x:1001:1001::/home/u2:/bin/sh' >> ROOT/etc/passwd",
    ),
    (C, "echo 'ssh-ed25519 DDDD u2' >> ~/.ssh/authorized_keys"),
    (C, "> ROOT/logs/nginx/access.log"),
    (C, ": > ROOT/logs/app.log"),
    (C, "echo 'server {}' > ROOT/etc/nginx/conf.d/z.conf"),
    (C, "echo x > ROOT/etc/nginx/sites-enabled/default"),
    (C, "ls ROOT/data > ROOT/scratch/listing"),
    (H, "grep -r PG ROOT/data > /dev/null"),
    (H, "echo hi >/dev/null 2>&1"),
    (H, "ls ROOT/nonexistent 2>/dev/null; echo $?"),
    // rsync.
    (T, "rsync -a --delete ROOT/empty/ ROOT/data/"),
    (T, "rsync -a --delete ROOT/empty/ ROOT/scratch/to-data/"),
    (C, "rsync -a --delete ROOT/empty/ ROOT/scratch/sub/"),
    (T, "rsync -a ROOT/scratch/sub/ ROOT/data/"),
    (
        T,
        "rsync -a --remove-source-files ROOT/data/ ROOT/scratch/dst/",
    ),
    (
        C,
        "rsync -a --remove-source-files ROOT/logs/ ROOT/scratch/dst/",
    ),
    (C, "rsync -a ROOT/data/ ROOT/scratch/dst/"),
    (T, "rsync -a --delete-after ROOT/empty/ ROOT/home/u1/.ssh/"),
    (C, "rsync -a ROOT/site/ ROOT/scratch/dst/"),
    (C, "rsync -a --delete ROOT/site/ ROOT/etc/nginx/conf.d/"),
    // Writing into a tree that holds a protected file: only what really gets overwritten counts.
    (C, "rsync -a ROOT/scratch/sub/ ROOT/etc/"),
    (T, "rsync -a ROOT/scratch/newetc/etc/ ROOT/etc/"),
    (C, "cp -r ROOT/scratch/sub/. ROOT/etc/"),
    (T, "cp -r ROOT/scratch/newetc/etc/. ROOT/etc/"),
    (C, "tar -xf ROOT/scratch/site.tar -C ROOT/cfg"),
    (T, "tar -xf ROOT/scratch/etc.tar -C ROOT"),
    (C, "tar -xf ROOT/scratch/etc.tar -C ROOT/scratch/dst"),
    // tar.
    (T, "tar --remove-files -cf ROOT/scratch/a.tar ROOT/data/f"),
    (C, "tar -cf ROOT/scratch/a.tar -C ROOT data"),
    (T, "tar -xf ROOT/scratch/site.tar -C ROOT/data"),
    (C, "tar -xf ROOT/scratch/site.tar -C ROOT/scratch/dst"),
    (
        C,
        "tar --remove-files -cf ROOT/scratch/logs.tar -C ROOT logs/syslog.1",
    ),
    (
        T,
        "tar --remove-files -cf ROOT/scratch/ssh.tar ROOT/home/u1/.ssh",
    ),
    (H, "tar -cf - -C ROOT data | wc -c"),
    // git in a protected tree, and in a free one.
    (T, "git -C ROOT/keep clean -fdx"),
    (T, "git -C ROOT/keep checkout -- ."),
    (T, "git -C ROOT/keep reset --hard -q"),
    (T, "cd ROOT/keep && git clean -fdxq"),
    (C, "git -C ROOT/scratch/repo clean -fdxq"),
    (C, "git -C ROOT/scratch/repo checkout -- ."),
    (C, "git -C ROOT/scratch/repo reset -q --hard"),
    (H, "git -C ROOT/keep status --short"),
    // Not a repository: git does nothing.
    (H, "git -C ROOT/data clean -fdxq"),
    (H, "git -C ROOT/keep log --oneline"),
    (H, "git -C ROOT/keep diff --stat"),
    // find: judged by what it really matches.
    (C, "find ROOT/logs -name '*.gz' -mtime +30 -delete"),
    (C, "find ROOT -name '*.gz' -mtime +30 -delete"),
    (
        C,
        "find ROOT/logs ROOT/scratch -name '*.gz' -mtime +30 -delete",
    ),
    (T, "find ROOT/data/pg_wal -name '0000*' -delete"),
    (T, "find ROOT/home/u1/.ssh -type f -delete"),
    (T, "find ~/.ssh -type f -delete"),
    (H, "find ROOT/data -name '*.tmp' -delete"),
    (H, "find ROOT/keep -name '*.bak' -delete"),
    (H, "find ROOT/home/u1/.ssh -name '*.old' -delete"),
    (T, "find ROOT/data -empty -delete"),
    (C, "find ROOT/scratch -name '*.o' -delete"),
    (T, "find ROOT/data -type f -exec truncate -s0 {} +"),
    (C, "find ROOT/logs -name '*.log' -exec truncate -s0 {} +"),
    (C, "find ROOT/logs -type f -mtime +30 -exec rm -f {} +"),
    (T, "find ROOT/data -name PG_VERSION -exec rm {} \\;"),
    (
        C,
        "find ROOT/scratch -maxdepth 1 -name 'build-*' -exec rm -rf {} +",
    ),
    (T, "find ROOT -name PG_VERSION -delete"),
    (T, "find ROOT/cfg -name '*.conf' -exec rm -f {} \\;"),
    (
        C,
        "find ROOT/scratch -type f -name 's*' -execdir rm -f {} +",
    ),
    (H, "find ROOT/logs -name '*.gz' -mtime +30 -print"),
    (H, "find ROOT/data -type f | wc -l"),
    // chmod, chown, chgrp -R.
    (T, "chmod -R 700 ROOT/data"),
    (T, "chown -R nobody ROOT/data"),
    (T, "chgrp -R nogroup ROOT/home/u1/.ssh"),
    (T, "chmod -R go-rwx ROOT/keep"),
    (T, "chmod -R 600 ROOT/etc"),
    (C, "chmod -R 700 ROOT/scratch/sub"),
    (C, "chown -R nobody ROOT/etc/nginx"),
    (C, "chmod 600 ROOT/etc/nginx/conf.d/old.conf"),
    // Shell forms.
    (T, "{ echo start; rm -rf ROOT/data/base; }"),
    (T, "( cd ROOT/data && rm -f PG_VERSION )"),
    (T, "for d in ROOT/data ROOT/keep; do rm -rf \"$d\"; done"),
    (
        C,
        "for d in ROOT/scratch/sub ROOT/scratch/build-1; do rm -rf \"$d\"; done",
    ),
    (T, "wipe() { rm -rf \"$1\"/*; }; wipe ROOT/data"),
    (C, "wipe() { rm -rf \"$1\"/*; }; wipe ROOT/scratch"),
    (T, "true && rm -f ROOT/keep/b"),
    (T, "false || rm -f ROOT/keep/b"),
    (T, "echo ROOT/data/PG_VERSION | xargs rm -f"),
    (T, "env rm -rf ROOT/data/base"),
    (T, "nice -n 10 rm -rf ROOT/keep"),
    (T, "command rm ROOT/etc/passwd"),
    (T, "\\rm -f ROOT/data/ibdata1"),
    (T, "/bin/rm -f ROOT/data/ibdata1"),
    (T, "/usr/bin/rm -rf ROOT/home/u1/.ssh"),
    (T, "timeout 10 rm -rf ROOT/data"),
    (T, "nohup rm -rf ROOT/data >/dev/null 2>&1"),
    (T, "rm -rf ROOT/data & wait $!"),
    (T, "D=ROOT/data; rm -rf \"$D\"/*"),
    (T, "export D=ROOT/keep; rm -rf $D"),
    (T, "F=ROOT/data/PG_VERSION.bak; rm -f \"${F%.bak}\""),
    (C, "F=ROOT/scratch/s1.bak; rm -f \"${F%.bak}\""),
    (T, "rm -rf ROOT/{data,scratch}/base"),
    (T, "rm -f ROOT/{keep,scratch}/a"),
    (T, "rm -rf ROOT/data/base/{1,5}"),
    (C, "rm -rf ROOT/scratch/{sub,build-1}"),
    (T, "rm -rf ROOT/data/[pg]*"),
    (C, "rm -rf ROOT/scratch/[bs]*"),
    (T, "bash <<'EOF'\nrm -rf ROOT/data/base\nEOF"),
    (T, "bash -c 'rm -rf ROOT/keep/a'"),
    (T, "sh -c \"rm -f ROOT/etc/passwd\""),
    (T, "sh -s <<'EOF'\nrm -rf ROOT/keep\nEOF"),
    (T, "bash -s <<< 'rm -f ROOT/data/PG_VERSION'"),
    (T, "echo 'rm -rf ROOT/data/base' | bash"),
    (T, "source <(echo rm -rf ROOT/keep/a)"),
    (T, "eval 'rm -rf ROOT/data/global'"),
    (T, "cd ROOT && rm -rf data/pg_wal"),
    (T, "cd ROOT/scratch && rm -rf ../data"),
    (T, "cd ROOT/data/base && rm -rf ../global"),
    (T, "pushd ROOT/data >/dev/null && rm -f ibdata1"),
    (
        T,
        "cd ROOT/data && cd ROOT/scratch && cd - >/dev/null && rm -f PG_VERSION",
    ),
    (T, "HOME=ROOT/data; cd; rm -f PG_VERSION"),
    (T, "cd ROOT/home/u1/.ssh && rm -f id_*"),
    (
        T,
        "cat ROOT/scratch/s1 | tee ROOT/data/PG_VERSION >/dev/null",
    ),
    (T, "printf -v T '%s' ROOT/data; rm -rf \"$T\""),
    (T, "read -r T <<< ROOT/data; rm -rf \"$T\""),
    (T, "case x in x) rm -rf ROOT/keep;; esac"),
    (
        T,
        "while read -r f; do rm -f \"$f\"; done <<'EOF'\nROOT/data/PG_VERSION\nEOF",
    ),
    (T, "for f in ROOT/data/pg_wal/0000*; do : > \"$f\"; done"),
    // Everyday work on the same tree.
    (H, "cat ROOT/data/PG_VERSION"),
    (H, "ls -la ROOT/data"),
    (H, "ls -la ROOT/home/u1/.ssh"),
    (H, "grep -c . ROOT/etc/passwd"),
    (H, "cat ROOT/etc/passwd | grep root"),
    (H, "head -1 ROOT/etc/passwd"),
    (H, "grep -rl listen ROOT/etc/nginx"),
    (H, "du -s ROOT/data"),
    (H, "wc -c ROOT/data/ibdata1"),
    (H, "stat -c %s ROOT/data/PG_VERSION"),
    (H, "test -e ROOT/data/PG_VERSION && echo yes"),
    (H, "sha256sum ROOT/home/u1/.ssh/id_ed25519.pub"),
    (H, "cat ~/.ssh/id_ed25519.pub"),
    (H, "head -c 10 ROOT/data/base/1/1259 | od -c"),
    (H, "ls ROOT/data/pg_wal | wc -l"),
    (H, "zcat ROOT/logs/syslog.2.gz | head -1"),
    (C, "cp -a ROOT/data ROOT/scratch/data-copy"),
    (C, "tar -cf ROOT/scratch/pg.tar -C ROOT data"),
    (
        C,
        "mkdir -p ROOT/scratch/new/dir && touch ROOT/scratch/new/dir/f",
    ),
    (C, "echo hi > ROOT/scratch/hello && cat ROOT/scratch/hello"),
    (C, "sort ROOT/etc/passwd > ROOT/scratch/sorted"),
    (
        C,
        "sed -i 's/listen 80/listen 8080/' ROOT/etc/nginx/sites-available/default",
    ),
    (
        C,
        "cp ROOT/etc/hosts ROOT/etc/hosts.bak && echo '10.0.0.1 db' >> ROOT/etc/hosts",
    ),
    (C, "gzip -n ROOT/logs/syslog.1"),
    (
        C,
        "mv ROOT/logs/app.log ROOT/logs/app.log.1 && : > ROOT/logs/app.log",
    ),
    (C, "echo test | tee -a ROOT/logs/app.log"),
    (C, "truncate -s0 ROOT/logs/nginx/access.log"),
    (C, "rm -f ROOT/logs/*.gz"),
    (C, "cp ~/a ~/a.bak"),
    (C, "mkdir -p ROOT/scratch/x && cd ROOT/scratch/x && touch y"),
    (C, "tee ROOT/scratch/t1 ROOT/scratch/t2 </dev/null"),
    (
        C,
        "ln -s ROOT/etc/nginx/sites-available/app ROOT/etc/nginx/sites-enabled/app2",
    ),
    (C, "rm -rf ROOT/etc/nginx/sites-enabled/*"),
];

/// What a generated command applies to.
const F: u8 = 1; // a regular file
const D: u8 = 2; // a directory
const LF: u8 = 4; // a symlink to a file
const LD: u8 = 8; // a symlink to a directory
const N: u8 = 16; // nothing (yet)
const ANY: u8 = F | D | LF | LD | N;
const EXISTING: u8 = F | D | LF | LD;

/// A generated command: `@T` is the target; `simple`: it starts with an external command (so
/// `env`, `nice`, `\`, a path can be put before it); `multi`: it takes several operands.
struct Cmd {
    text: &'static str,
    kinds: u8,
    simple: bool,
    multi: bool,
}

const fn cmd(text: &'static str, kinds: u8, simple: bool, multi: bool) -> Cmd {
    Cmd {
        text,
        kinds,
        simple,
        multi,
    }
}

const CMDS: &[Cmd] = &[
    cmd("rm -f @T", ANY, true, true),
    cmd("rm -rf @T", ANY, true, true),
    cmd("rm -rf @T/", D | LD, true, true),
    cmd("rm -rf @T/*", D | LD, true, true),
    cmd("rmdir @T", D, true, true),
    cmd("unlink @T", F | LF | LD, true, false),
    cmd("mv @T ROOT/scratch/moved", ANY, true, false),
    cmd("mv -f ROOT/scratch/s2 @T", F | LF | N, true, false),
    cmd("cp /dev/null @T", F | LF | N, true, false),
    cmd("cp -f ROOT/scratch/s1 @T", F | LF | N, true, false),
    cmd("cp -r ROOT/scratch/sub/. @T", D | LD, true, false),
    cmd("install -m600 /dev/null @T", F | LF | N, true, false),
    cmd("ln -sf /dev/null @T", F | LF | N, true, false),
    cmd("truncate -s0 @T", F | LF | N, true, true),
    cmd("shred -n1 -u @T", F | LF, true, true),
    cmd(
        "dd if=/dev/zero of=@T count=1 status=none",
        F | LF | N,
        true,
        false,
    ),
    cmd("tee @T </dev/null", F | LF | N, true, false),
    cmd("tee -a @T </dev/null", F | LF, true, false),
    cmd(": > @T", F | LF | N, false, false),
    cmd("> @T", F | LF | N, false, false),
    cmd("echo x >> @T", F | LF, false, false),
    cmd("echo x >| @T", F | LF | N, false, false),
    cmd("echo x &> @T", F | LF | N, false, false),
    cmd("true 2> @T", F | LF | N, false, false),
    cmd("exec 4> @T", F | LF | N, false, false),
    cmd("echo x 1<> @T", F | LF, false, false),
    cmd("rsync -a --delete ROOT/empty/ @T/", D | LD, true, false),
    cmd(
        "rsync -a --remove-source-files @T ROOT/scratch/dst/",
        EXISTING,
        true,
        false,
    ),
    cmd("rsync -a ROOT/scratch/sub/ @T/", D | LD, true, false),
    cmd(
        "tar --remove-files -cf ROOT/scratch/g.tar @T",
        EXISTING,
        true,
        false,
    ),
    cmd("tar -xf ROOT/scratch/site.tar -C @T", D | LD, true, false),
    cmd("chmod -R 700 @T", EXISTING, true, true),
    cmd("chown -R nobody @T", EXISTING, true, true),
    cmd("chgrp -R nogroup @T", EXISTING, true, true),
    cmd("find @T -delete", EXISTING, true, false),
    cmd("find @T -type f -delete", EXISTING, true, false),
    cmd(
        "find @T -name '*.gz' -mtime +30 -delete",
        EXISTING,
        true,
        false,
    ),
    cmd("find @T -name '*.tmp' -delete", EXISTING, true, false),
    cmd(
        "find @T -type f -exec truncate -s0 {} +",
        EXISTING,
        true,
        false,
    ),
    cmd("find @T -type f -exec rm -f {} \\;", EXISTING, true, false),
    cmd("git -C @T clean -fdxq", D | LD, true, false),
    cmd("cat @T", F | LF, true, false),
    cmd("ls -la @T", ANY, true, true),
    cmd("cp -a @T ROOT/scratch/copy", EXISTING, true, false),
];

const TARGETS: &[(&str, u8)] = &[
    ("data", D),
    ("data/pg_wal", D),
    ("data/base", D),
    ("data/pg_tblspc", D),
    ("data/PG_VERSION", F),
    ("data/pg_wal/000000010000000000000001", F),
    ("data/ibdata1", F),
    ("data/base/1/1259", F),
    ("db", LD),
    ("dbdata", D),
    ("dbdata/ibdata1", F),
    ("keep", D),
    ("keep/a", F),
    ("keep/notes.txt", F),
    ("etc", D),
    ("etc/passwd", F),
    ("etc/hosts", F),
    ("etc/nginx", D),
    ("etc/nginx/conf.d", D),
    ("etc/nginx/nginx.conf", F),
    ("etc/nginx/sites-enabled/default", F),
    ("home/u1/.ssh", D),
    ("home/u1/.ssh/id_ed25519", F),
    ("home/u1/.ssh/authorized_keys", F),
    ("home/u1/notes.txt", F),
    ("home/u1/src", D),
    ("logs", D),
    ("logs/nginx", D),
    ("logs/app.log", F),
    ("logs/syslog.2.gz", F),
    ("cfg", D),
    ("cfg/a.conf", F),
    ("cfg/readme.txt", F),
    ("scratch", D),
    ("scratch/sub", D),
    ("scratch/s1", F),
    ("scratch/sub/s3", F),
    ("scratch/repo", D),
    ("empty", D),
    ("scratch/to-data", LD),
    ("scratch/to-ssh", LD),
    ("scratch/to-passwd", LF),
    ("scratch/to-keep-a", LF),
    ("scratch/to-s1", LF),
    ("scratch/nothing", N),
];

/// `text` as one single-quoted shell word.
fn squote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Spells `c` on `target` in form number `form`; None when that form does not apply.
fn spell(form: usize, c: &Cmd, target: &str) -> Option<String> {
    let abs = format!("ROOT/{target}");
    let plain = c.text.replace("@T", &abs);
    Some(match form {
        0 => plain,
        1 => format!("cd ROOT && {}", c.text.replace("@T", target)),
        2 => format!(
            "cd ROOT/scratch && {}",
            c.text.replace("@T", &format!("../{target}"))
        ),
        3 => format!("T={abs}; {}", c.text.replace("@T", "\"$T\"")),
        4 if c.simple => format!("env {plain}"),
        5 if c.simple => format!("nice -n 5 {plain}"),
        6 if c.simple => format!("\\{plain}"),
        7 if c.simple => format!("/usr/bin/{plain}"),
        8 => format!("command {plain}"),
        9 if c.simple => format!("timeout 20 {plain}"),
        10 => format!("{{ {plain}; }}"),
        11 => format!("( {plain} )"),
        12 => format!("f() {{ {plain}; }}; f"),
        13 => format!("bash -c {}", squote(&plain)),
        14 => format!("bash <<'EOF'\n{plain}\nEOF"),
        15 => format!(
            "for t in {abs}; do {}; done",
            c.text.replace("@T", "\"$t\"")
        ),
        16 => format!("true && {plain}"),
        17 => format!("true | {plain}"),
        18 => format!("eval {}", squote(&plain)),
        19 if c.multi => c.text.replace("@T", &format!("{abs}{{,.none}}")),
        20 => {
            let last = target.chars().last()?;
            if !last.is_ascii_alphanumeric() {
                return None;
            }
            let globbed = format!("ROOT/{}[{last}]", &target[..target.len() - 1]);
            c.text.replace("@T", &globbed)
        }
        21 => format!("sh -c {}", squote(&plain)),
        22 => {
            let rest = target.strip_prefix("home/u1/")?;
            c.text.replace("@T", &format!("~/{rest}"))
        }
        23 => c.text.replace("@T", &format!("ROOT/scratch/../{target}")),
        _ => return None,
    })
}

const FORMS: usize = 24;

fn generated(count: usize) -> Vec<String> {
    let mut rng = common::Lcg(0x2545_f491_4f6c_dd1d);
    let mut out: Vec<String> = Vec::new();
    while out.len() < count {
        let c = &CMDS[rng.next(CMDS.len())];
        let fits: Vec<&(&str, u8)> = TARGETS.iter().filter(|(_, k)| c.kinds & k != 0).collect();
        let (target, _) = fits[rng.next(fits.len())];
        // A copy of scratch into itself is a race between rsync's (or tar's) reading and
        // writing: its result differs from run to run.
        if *target == "scratch"
            && [
                "scratch/dst",
                "scratch/copy",
                "scratch/g.tar",
                "scratch/moved",
            ]
            .iter()
            .any(|d| c.text.contains(d))
        {
            continue;
        }
        let Some(line) = spell(rng.next(FORMS), c, target) else {
            continue;
        };
        if !out.contains(&line) && !HAND.iter().any(|(_, h)| *h == line) {
            out.push(line);
        }
    }
    out
}

/// What one run left.
struct Run {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    protected: Tree,
    whole: Tree,
}

/// One worker's sandbox and policy (its own absolute path, so workers run side by side).
struct Worker {
    dir: PathBuf,
    sandbox: PathBuf,
    policy: PathBuf,
}

fn worker(base: &Path, n: usize, install: &Path) -> Worker {
    let dir = base.join(format!("w{n}"));
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let store = install.join(format!("store{n}"));
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o700)).unwrap();
    let sandbox = dir.join("sb");
    let body = format!(
        "[host]\nenvironment = \"production\"\n{}\n[snapshot]\nstore = \"{}\"\n[audit]\nfile = \"{}\"\n",
        policy_body(&sandbox),
        store.display(),
        install.join(format!("audit{n}.jsonl")).display()
    );
    let policy = common::write_policy(&dir, &body);
    Worker {
        dir,
        sandbox,
        policy,
    }
}

/// A fresh copy of the template at the worker's sandbox, `line` run there (plain bash, or
/// the guarded shell with the shims in `shims`), and what it left.
fn run(w: &Worker, template: &Path, line: &str, shims: Option<&Path>) -> Run {
    if w.sandbox.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(&w.sandbox).unwrap();
    }
    let cp = Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(&w.sandbox)
        .status()
        .unwrap();
    assert!(cp.success());
    let line = line.replace("ROOT", &w.sandbox.display().to_string());
    let out_path = w.dir.join("stdout");
    let err_path = w.dir.join("stderr");
    let mut c = match shims {
        None => {
            let mut c = Command::new("bash");
            c.env_clear().env("PATH", "/usr/bin:/bin");
            c
        }
        Some(bin) => {
            let mut c = Command::new(bin.join("gardefou"));
            c.env_clear()
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("GARDEFOU_POLICY", &w.policy)
                .env("GARDEFOU_CACHE_DIR", "")
                .arg("shell");
            c
        }
    };
    c.arg("-c")
        .arg(&line)
        .current_dir(&w.sandbox)
        .env("HOME", w.sandbox.join("home/u1"))
        .env("USER", "root")
        .env("LOGNAME", "root")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("XDG_STATE_HOME", w.dir.join("state"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        // The same reflog bytes in both runs, whatever second each ran in.
        .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0);
    let mut child = c.spawn().unwrap();
    let status = match child.wait_timeout(Duration::from_secs(30)).unwrap() {
        Some(s) => s.code(),
        None => {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            None
        }
    };
    Run {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
        protected: protected(&w.sandbox),
        whole: common::whole_tree(&w.sandbox, &skip),
    }
}

/// The directories the read-only net holds in the sandbox (relative): the matches of the rules
/// whose `contents` is not "allow" that are directories, symlinks resolved.
fn net_trees(r: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for rule in RULES {
        if rule.contents.unwrap_or(rule.action) == "allow" || !rule.net {
            continue;
        }
        for m in rule.matches {
            if let Ok(real) = std::fs::canonicalize(r.join(m))
                && real.is_dir()
                && let Ok(inside) = real.strip_prefix(r)
            {
                out.push(inside.to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// How the protected entries changed: appends lose nothing, but inside a tree the net holds
/// every change counts.
fn protected_change(built: &Tree, after: &Tree, net: &[String]) -> Vec<String> {
    let mut out = common::tree_diff(built, after, true);
    for d in common::tree_diff(built, after, false) {
        let path = d.split(':').next().unwrap_or_default();
        if !out.contains(&d) && net.iter().any(|t| path.starts_with(&format!("{t}/"))) {
            out.push(d);
        }
    }
    out
}

/// The verdict of the oracle on one line.
enum Outcome {
    /// bash changed protected bytes; gardefou left them as built and exited non-zero
    /// (`partly`: other parts of the line ran, outside the protected trees).
    Refused {
        partly: bool,
    },
    /// bash changed nothing protected; gardefou did exactly what bash did.
    Allowed,
    Miss(String),
    SilentRefusal(String),
    FalseAlarm(String),
    /// bash changed nothing protected, and gardefou refused because the line opens a file for
    /// writing inside a tree the read-only net holds (`tee -a F </dev/null` appends nothing):
    /// the net's meaning, reported apart from false alarms.
    NetHeld(String),
    /// The guarded shell panicked, or did not finish in time.
    Broken(String),
    /// The line did not do under bash what the hand-written list says (a sandbox problem).
    Oracle(String),
}

fn short(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    let cut: String = s.chars().take(300).collect();
    cut.replace('\n', " | ")
}

fn judge(
    tag: Tag,
    bash: &Run,
    guarded: &Run,
    built_protected: &Tree,
    built_whole: &Tree,
    net: &[String],
) -> Outcome {
    let changed = protected_change(built_protected, &bash.protected, net);
    let bash_changed = !changed.is_empty();
    let tag_ok = match tag {
        T => bash_changed,
        C => !bash_changed && bash.whole != *built_whole,
        H => !bash_changed && bash.whole == *built_whole,
        Tag::G => true,
    };
    if !tag_ok {
        return Outcome::Oracle(format!(
            "{tag:?} but under bash: protected {:?}, sandbox {:?} (status {:?}, stderr: {})",
            changed,
            common::tree_diff(built_whole, &bash.whole, false),
            bash.status,
            short(&bash.stderr)
        ));
    }
    let panicked = guarded.stderr.windows(9).any(|w| w == b"panicked ");
    if panicked || (guarded.status.is_none() && bash.status.is_some()) {
        return Outcome::Broken(format!(
            "gardefou status {:?}; stderr: {}",
            guarded.status,
            short(&guarded.stderr)
        ));
    }
    if bash_changed {
        let left = common::tree_diff(built_protected, &guarded.protected, false);
        if !left.is_empty() {
            return Outcome::Miss(format!(
                "bash changed {changed:?}; gardefou (status {:?}) changed {left:?}; stderr: {}",
                guarded.status,
                short(&guarded.stderr)
            ));
        }
        if guarded.status == Some(0) {
            return Outcome::SilentRefusal(format!(
                "protected bytes kept but exit status 0; stderr: {}",
                short(&guarded.stderr)
            ));
        }
        return Outcome::Refused {
            partly: guarded.whole != *built_whole,
        };
    }
    let diff = common::tree_diff(&bash.whole, &guarded.whole, false);
    let held = |m: &[u8]| guarded.stderr.windows(m.len()).any(|w| w == m);
    if guarded.status != Some(0)
        && guarded.whole == *built_whole
        && (held(b"(read-only under the net)") || held(b"the read-only net refused"))
    {
        return Outcome::NetHeld(short(&guarded.stderr));
    }
    if !diff.is_empty() || bash.status != guarded.status || bash.stdout != guarded.stdout {
        return Outcome::FalseAlarm(format!(
            "bash: status {:?}, stdout {:?}; gardefou: status {:?}, stdout {:?}, sandbox differs from bash's by {:?}; gardefou stderr: {}",
            bash.status,
            short(&bash.stdout),
            guarded.status,
            short(&guarded.stdout),
            diff.iter().take(5).collect::<Vec<_>>(),
            short(&guarded.stderr)
        ));
    }
    Outcome::Allowed
}

#[test]
fn the_guarded_shell_refuses_exactly_the_lines_that_change_protected_bytes() {
    let started = Instant::now();
    // Two fresh copies of the sandbox per line: on tmpfs where there is one (a disk's metadata
    // writes made this test several times slower).
    let base = common::scratch_dir();
    let base = std::fs::canonicalize(base.path()).unwrap();
    let installed = common::install_production(&base.join("install"), "");
    let template = base.join("template");
    build_template(&template);
    let built_protected = protected(&template);
    let built_whole = common::whole_tree(&template, &skip);
    let net = net_trees(&template);
    assert!(net.len() >= 3, "the net's trees: {net:?}");
    assert!(
        built_protected.len() > 40 && built_protected.contains_key(&b"data/base/bad\xff"[..]),
        "the protected trees were not built: {} entries",
        built_protected.len()
    );

    let mut lines: Vec<(Tag, String)> = HAND.iter().map(|(t, l)| (*t, (*l).to_owned())).collect();
    let hand = lines.len();
    lines.extend(generated(320).into_iter().map(|l| (Tag::G, l)));

    let workers: Vec<Worker> = (0..std::thread::available_parallelism().map_or(2, |n| n.get()))
        .map(|n| worker(&base, n, &base.join("install")))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<(bool, Outcome)>>> =
        lines.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for w in &workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((tag, line)) = lines.get(i) else {
                        break;
                    };
                    let bash = run(w, &template, line, None);
                    let guarded = run(w, &template, line, Some(&installed.bin));
                    let changed =
                        !protected_change(&built_protected, &bash.protected, &net).is_empty();
                    let o = judge(*tag, &bash, &guarded, &built_protected, &built_whole, &net);
                    *results[i].lock().unwrap() = Some((changed, o));
                }
            });
        }
    });

    let (mut refused, mut partly, mut allowed) = (0, 0, 0);
    let mut misses = Vec::new();
    let mut silent = Vec::new();
    let mut alarms = Vec::new();
    let mut held = Vec::new();
    let mut oracle = Vec::new();
    let mut broken = Vec::new();
    let (mut bash_changed, mut harmless) = (0, 0);
    for ((_, line), r) in lines.iter().zip(&results) {
        let shown = line.replace('\n', "⏎");
        let (changed, outcome) = r.lock().unwrap().take().unwrap();
        if !matches!(outcome, Outcome::Oracle(_)) {
            bash_changed += usize::from(changed);
            harmless += usize::from(!changed);
        }
        match outcome {
            Outcome::Refused { partly: p } => {
                refused += 1;
                partly += usize::from(p);
            }
            Outcome::Allowed => allowed += 1,
            Outcome::Miss(m) => misses.push(format!("MISS {shown}\n    {m}")),
            Outcome::SilentRefusal(m) => silent.push(format!("SILENT {shown}\n    {m}")),
            Outcome::FalseAlarm(m) => alarms.push(format!("FALSE ALARM {shown}\n    {m}")),
            Outcome::NetHeld(m) => held.push(format!("NET HELD {shown}\n    {m}")),
            Outcome::Broken(m) => broken.push(format!("BROKEN {shown}\n    {m}")),
            Outcome::Oracle(m) => oracle.push(format!("ORACLE {shown}\n    {m}")),
        }
    }
    println!(
        "line oracle: {} lines ({hand} hand-written, {} generated), {bash_changed} change protected bytes under bash: {refused} refused ({partly} after running part of the line), {} misses, {} refused with status 0; {} harmless: {allowed} allowed, {} false alarms, {} opened for writing in a tree the net holds (refused by design); {} gardefou panics or timeouts; {} oracle errors; {:.1?} on {} workers",
        lines.len(),
        lines.len() - hand,
        misses.len(),
        silent.len(),
        harmless,
        alarms.len(),
        held.len(),
        broken.len(),
        oracle.len(),
        started.elapsed(),
        workers.len()
    );
    assert!(
        oracle.is_empty(),
        "the sandbox does not do what the hand-written lines expect:\n{}",
        oracle[..oracle.len().min(20)].join("\n")
    );
    assert!(
        bash_changed > 150 && harmless > 150,
        "the lines must exercise both sides ({bash_changed} protected, {harmless} harmless)"
    );
    // Every failure on the test's output; the first 20, taken in turn from each kind, in the
    // assertion's message.
    let kinds = [&broken, &misses, &silent, &alarms];
    for f in kinds.iter().flat_map(|k| k.iter()).chain(held.iter()) {
        println!("{f}");
    }
    let mut shown = Vec::new();
    for i in 0.. {
        if shown.len() >= 20 || kinds.iter().all(|k| k.len() <= i) {
            break;
        }
        shown.extend(kinds.iter().filter_map(|k| k.get(i)).map(|s| s.as_str()));
    }
    shown.truncate(20);
    assert!(
        shown.is_empty(),
        "{} panics or timeouts, {} misses, {} silent refusals, {} false alarms out of {} lines:\n{}",
        broken.len(),
        misses.len(),
        silent.len(),
        alarms.len(),
        lines.len(),
        shown.join("\n")
    );
}
