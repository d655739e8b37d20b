//! Helpers shared by the integration tests: the built binary, policies in temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gardefou"))
}

/// Writes a policy file (mode 0644) and returns its path.
pub fn write_policy(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("policy.toml");
    std::fs::write(&p, format!("version = 1\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p
}

/// `gardefou check --json --policy P …` run in `cwd`: (exit code, decision, parsed JSON).
pub fn check_json(
    policy: &Path,
    cwd: &Path,
    args: &[std::ffi::OsString],
) -> (i32, String, serde_json::Value) {
    let out = Command::new(bin())
        .arg("check")
        .arg("--json")
        .arg("--policy")
        .arg(policy)
        .arg("--")
        .args(args)
        .current_dir(cwd)
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let d = v["decision"].as_str().unwrap().to_owned();
    (out.status.code().unwrap(), d, v)
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `gardefou install` options that keep every file it writes under `root` (never the host's
/// /etc/apt or /etc/dpkg).
pub fn install_dirs(root: &Path) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    for (opt, dir) in [
        ("--prefix", "prefix"),
        ("--etc", "etc/gardefou"),
        ("--apt-conf-dir", "etc/apt/apt.conf.d"),
        ("--dpkg-conf-dir", "etc/dpkg/dpkg.cfg.d"),
        ("--shells-file", "etc/shells"),
    ] {
        out.push(opt.into());
        out.push(root.join(dir).into_os_string());
    }
    out
}

/// Runs a shell command under `script` (a real pseudo-terminal, so /dev/tty works) in `cwd`
/// with `env` added, typing `answer` and Enter after a second.
pub fn on_tty(cwd: &Path, env: &[(&str, std::ffi::OsString)], cmd: &str, answer: &str) -> Output {
    let literal = answer.replace('\\', "\\\\").replace('%', "%%");
    typed_on_tty(
        Command::new("script")
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (k, v))),
        cmd,
        &[&literal],
    )
}

/// Asserts that a command succeeded (its output in the message if not), and returns its output.
pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{:?}", text(&out));
    out
}

/// A server process a test started: killed and reaped when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The audit log's entries, parsed (none when the file does not exist).
pub fn audit_lines(file: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `cmd` with `stdin` on its standard input (else /dev/null), capturing its output.
pub fn output_with_stdin(cmd: &mut Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// What `install_production` set up under a test's root.
pub struct Installed {
    /// The shims' directory (to put first on PATH).
    pub bin: PathBuf,
    pub policy: PathBuf,
    pub audit: PathBuf,
    pub store: PathBuf,
}

/// `gardefou install` under `root` (shims in `root/prefix/bin`), a snapshot store `root/store`
/// (0700) and a production policy with `rules`, that store and an audit log `root/audit.jsonl`.
pub fn install_production(root: &Path, rules: &str) -> Installed {
    use std::os::unix::fs::PermissionsExt;
    let out = Command::new(bin())
        .arg("install")
        .args(install_dirs(root))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let audit = root.join("audit.jsonl");
    let store = root.join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o700)).unwrap();
    let policy = write_policy(
        root,
        &format!(
            "[host]\nenvironment = \"production\"\n{rules}\n[snapshot]\nstore = \"{}\"\n[audit]\nfile = \"{}\"\n",
            store.display(),
            audit.display()
        ),
    );
    Installed {
        bin: root.join("prefix/bin"),
        policy,
        audit,
        store,
    }
}

/// This machine's host name, the answer to a typed confirmation.
#[allow(dead_code)]
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Runs the shell command `line` under `script` (a real pseudo-terminal) with `cmd`'s
/// environment and directory, typing `typed` a line a second (Enter is `\r`, as a terminal
/// sends it). `typed` goes through printf: a backslash is written `\\\\`.
pub fn typed_on_tty(cmd: &mut Command, line: &str, typed: &[&str]) -> Output {
    use std::process::Stdio;
    let feeder: String = typed
        .iter()
        .map(|l| format!("sleep 1; printf '{l}\\r'; "))
        .chain(["sleep 1".to_owned()])
        .collect();
    let mut feed = Command::new("sh")
        .args(["-c", &feeder])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // `script` runs the line with `$SHELL -c`: the same shell everywhere (CI has no SHELL). A
    // line that types Ctrl-C should start with `exec`: the shell left waiting in between would
    // take the SIGINT for itself and die of it once its child is done.
    let out = cmd
        .args(["-qec", line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env_remove("SUDO_USER")
        .stdin(feed.stdout.take().unwrap())
        .output()
        .unwrap();
    feed.wait().unwrap();
    out
}

/// A small deterministic generator, so a failure names a reproducible case.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// One entry of a tree as a loss of data would change it: type, mode, owner, symlink target
/// and a file's bytes. Times are left out (a copy of a tree, or a command that rewrites a file
/// with the same bytes, changes them without losing anything).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        bytes: Vec<u8>,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Symlink {
        uid: u32,
        gid: u32,
        target: Vec<u8>,
    },
    Other {
        mode: u32,
        uid: u32,
        gid: u32,
        rdev: u64,
    },
}

impl Node {
    /// What the entry is, and its mode and owner, in a few words (never a file's bytes).
    pub fn kind(&self) -> String {
        match self {
            Node::File {
                mode,
                uid,
                gid,
                bytes,
            } => {
                format!("file {mode:o} {uid}:{gid} ({} bytes)", bytes.len())
            }
            Node::Dir { mode, uid, gid } => format!("directory {mode:o} {uid}:{gid}"),
            Node::Symlink { uid, gid, target } => {
                format!("symlink {uid}:{gid} -> {}", String::from_utf8_lossy(target))
            }
            Node::Other { mode, uid, gid, .. } => format!("special {mode:o} {uid}:{gid}"),
        }
    }
}

/// Entries by their path relative to a root, as bytes (non-UTF-8 names kept). A path that does
/// not exist has no entry.
pub type Tree = std::collections::BTreeMap<Vec<u8>, Node>;

/// `root/rel` (`rel` empty: `root` itself).
pub fn rel_path(root: &Path, rel: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(std::ffi::OsStr::from_bytes(rel))
    }
}

/// The entry at `p` itself (lstat: a symlink is not followed), if any.
pub fn node_of(p: &Path) -> Option<Node> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let m = p.symlink_metadata().ok()?;
    let (mode, uid, gid) = (m.mode() & 0o7777, m.uid(), m.gid());
    let ft = m.file_type();
    Some(if ft.is_symlink() {
        Node::Symlink {
            uid,
            gid,
            target: std::fs::read_link(p)
                .map(|t| t.as_os_str().as_bytes().to_vec())
                .unwrap_or_default(),
        }
    } else if ft.is_dir() {
        Node::Dir { mode, uid, gid }
    } else if ft.is_file() {
        Node::File {
            mode,
            uid,
            gid,
            bytes: std::fs::read(p).unwrap_or_default(),
        }
    } else {
        Node::Other {
            mode: m.mode(),
            uid,
            gid,
            rdev: m.rdev(),
        }
    })
}

/// Adds `root/rel` to `tree` and, with `below`, every entry under it (walked without following
/// symlinks), leaving out the entries `skip` names (by their relative path).
pub fn record(tree: &mut Tree, root: &Path, rel: &[u8], below: bool, skip: &dyn Fn(&[u8]) -> bool) {
    use std::os::unix::ffi::OsStrExt;
    if skip(rel) {
        return;
    }
    let p = rel_path(root, rel);
    let Some(node) = node_of(&p) else {
        return;
    };
    let is_dir = matches!(node, Node::Dir { .. });
    tree.insert(rel.to_vec(), node);
    if !(below && is_dir) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(&p) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let mut child = rel.to_vec();
        if !child.is_empty() {
            child.push(b'/');
        }
        child.extend_from_slice(name.as_bytes());
        record(tree, root, &child, true, skip);
    }
}

/// Every entry of the tree at `root` (its own entry under the empty path).
pub fn whole_tree(root: &Path, skip: &dyn Fn(&[u8]) -> bool) -> Tree {
    let mut t = Tree::new();
    record(&mut t, root, b"", true, skip);
    t
}

/// How `after` differs from `before`, one line per path. With `appends_ok`, a regular file
/// that only grew (its old bytes are the start of its new ones, same mode and owner) lost
/// nothing and is not reported: `>>` is not an effect that destroys data.
pub fn tree_diff(before: &Tree, after: &Tree, appends_ok: bool) -> Vec<String> {
    let mut keys: Vec<&Vec<u8>> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let shown = String::from_utf8_lossy(if k.is_empty() { b"." } else { k });
        let what = match (before.get(k), after.get(k)) {
            (Some(b), Some(a)) if a == b => continue,
            (
                Some(Node::File {
                    mode: m0,
                    uid: u0,
                    gid: g0,
                    bytes: b0,
                }),
                Some(Node::File {
                    mode: m1,
                    uid: u1,
                    gid: g1,
                    bytes: b1,
                }),
            ) => {
                if appends_ok && (m0, u0, g0) == (m1, u1, g1) && b1.starts_with(b0) {
                    continue;
                }
                if (m0, u0, g0) != (m1, u1, g1) {
                    format!("mode/owner {m0:o} {u0}:{g0} -> {m1:o} {u1}:{g1}")
                } else {
                    format!("bytes changed ({} -> {} bytes)", b0.len(), b1.len())
                }
            }
            (
                Some(Node::Dir {
                    mode: m0,
                    uid: u0,
                    gid: g0,
                }),
                Some(Node::Dir {
                    mode: m1,
                    uid: u1,
                    gid: g1,
                }),
            ) => {
                format!("directory mode/owner {m0:o} {u0}:{g0} -> {m1:o} {u1}:{g1}")
            }
            (Some(Node::Symlink { target: t0, .. }), Some(Node::Symlink { target: t1, .. }))
                if t0 != t1 =>
            {
                format!(
                    "symlink target {} -> {}",
                    String::from_utf8_lossy(t0),
                    String::from_utf8_lossy(t1)
                )
            }
            (Some(b), Some(a)) => format!("changed: {} -> {}", b.kind(), a.kind()),
            (Some(_), None) => "gone".to_owned(),
            (None, Some(_)) => "appeared".to_owned(),
            (None, None) => continue,
        };
        out.push(format!("{shown}: {what}"));
    }
    out
}

/// A temp dir on tmpfs (/dev/shm) where there is one: tests that copy trees per case are
/// several times slower on a disk's metadata writes.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap()
}

/// The newest PostgreSQL's programs (initdb, pg_ctl, pgbench) under /usr/lib/postgresql.
pub fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (tests/run.sh installs Debian's postgresql)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}
