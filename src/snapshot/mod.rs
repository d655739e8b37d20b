//! Snapshots: what a destructive command would delete, saved before it runs, so that an allowed
//! mistake still loses nothing.
//!
//! Order of operations, which is what makes a snapshot crash-safe:
//! 1. a new snapshot directory and a `preparing` manifest naming every target;
//! 2. copies (reflink, else a streaming copy hashed on the way), flushed with syncfs;
//! 3. renames (same filesystem, O(1)): the target leaves its place for the store;
//! 4. the manifest becomes `committed`; only now may the command run;
//! 5. hashing of what was renamed or cloned, then `complete` (possibly in a background process).
//!
//! A `kill -9` before 4 leaves a `preparing` snapshot, rolled back by the next run; after 4, a
//! `committed` one, finished by the next run. The original is never deleted before its copy is
//! complete, because the command runs only after 4.

pub mod commands;
pub mod db;
pub mod fs;
pub mod manifest;
pub mod mysql;
pub mod redis;
pub mod store;

use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Error, Result};
use manifest::{DbTarget, Manifest, Method, PathBytes, State, Target};
use store::{Lock, Store};

/// One path to save.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The absolute path of the entry the command would delete (not followed if a symlink).
    pub path: PathBuf,
    /// The command deletes this entry whole and silently, so it may be moved into the store
    /// instead of copied (it then no longer exists when the command runs).
    pub may_rename: bool,
}

/// Who and what a snapshot is for.
pub struct Request {
    pub targets: Vec<Planned>,
    pub command: String,
    pub host: String,
    pub environment: String,
    pub one_file_system: bool,
}

/// A snapshot whose targets are saved (`committed` or `complete`).
pub struct Taken {
    pub id: String,
    pub dir: PathBuf,
    /// Per planned target: whether it was moved into the store.
    pub renamed: Vec<bool>,
    /// Hashing is still to do (`committed`): `finish` it, here or in the background.
    pub pending: bool,
    pub manifest: Manifest,
    /// Held until the snapshot is complete or handed over (dropped, or released by exec).
    pub lock: Lock,
}

/// A progress bar on stderr for copies that take longer than a second, and only on a terminal.
pub struct Progress {
    start: Instant,
    total: u64,
    done: u64,
    bar: Option<ProgressBar>,
    enabled: bool,
}

impl Progress {
    pub fn new(total: u64) -> Progress {
        Progress {
            start: Instant::now(),
            total,
            done: 0,
            bar: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    pub fn tick(&mut self, n: u64) {
        self.done += n;
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.start.elapsed() > Duration::from_secs(1) {
            let bar = ProgressBar::new(self.total.max(self.done));
            if let Ok(style) = ProgressStyle::with_template(
                "gardefou: snapshot {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ) {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Whether a mount point lies at or under `path` (a rename would carry another filesystem
/// into the store, or fail).
fn mounts_under(path: &Path) -> bool {
    let Ok(text) = std::fs::read("/proc/self/mountinfo") else {
        return true;
    };
    let root = path.as_os_str().as_bytes();
    text.split(|&b| b == b'\n').any(|line| {
        let Some(field) = line.split(|&b| b == b' ').nth(4) else {
            return false;
        };
        let mount = unescape_mountinfo(field);
        mount == root || (mount.starts_with(root) && mount.get(root.len()) == Some(&b'/'))
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && let Some(oct) = field.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(oct), 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

pub fn human_size(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

/// Free space for the caller on the store's filesystem.
pub fn available(dir: &Path) -> Result<u64> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(|e| {
        Error::io(
            format!("cannot statvfs {}", dir.display()),
            std::io::Error::from(e),
        )
    })?;
    let blocks = if nix::unistd::geteuid().is_root() {
        st.blocks_free()
    } else {
        st.blocks_available()
    };
    Ok(blocks as u64 * st.fragment_size() as u64)
}

/// A new manifest in state `preparing`, for the calling user, with no target yet.
fn preparing(id: &str, host: &str, environment: &str, command: &str) -> Manifest {
    let (user, uid) = who();
    Manifest {
        version: 1,
        id: id.to_owned(),
        state: State::Preparing,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        user,
        uid,
        host: host.to_owned(),
        environment: environment.to_owned(),
        command: command.to_owned(),
        targets: Vec::new(),
    }
}

fn who() -> (String, u32) {
    (crate::facts::user_name(), nix::unistd::getuid().as_raw())
}

/// Saves every planned target into a new snapshot of `store`. On error, whatever was saved is
/// rolled back (renamed targets are put back) and nothing of the snapshot is left.
pub fn take(store: &Store, req: &Request) -> Result<Taken> {
    store.open()?;
    let _store_lock = store.lock_shared()?;
    // Settle what earlier runs left behind before adding to it.
    for line in store.recover()? {
        eprintln!("gardefou: snapshot {line}");
    }
    let (id, dir, lock) = store.create()?;
    let store_dev = std::fs::metadata(&dir)
        .map_err(|e| Error::io(format!("cannot stat {}", dir.display()), e))?
        .dev();
    let mut m = preparing(&id, &req.host, &req.environment, &req.command);
    let mut copy_bytes = 0;
    let result = (|| {
        for (n, p) in req.targets.iter().enumerate() {
            let root = fs::stat_entry(&p.path, PathBuf::new())?;
            let same_fs = p
                .path
                .parent()
                .and_then(|parent| std::fs::metadata(parent).ok())
                .is_some_and(|m| m.dev() == store_dev);
            let rename = p.may_rename && same_fs && !mounts_under(&p.path);
            if !rename {
                copy_bytes += fs::measure(&p.path, req.one_file_system)?.1;
            }
            m.targets.push(Target {
                original: PathBytes(p.path.clone()),
                data: format!("data/{n}"),
                method: if rename { Method::Rename } else { Method::Copy },
                root: Some(root),
                entries: Vec::new(),
                bytes: 0,
                disk_bytes: 0,
                database: None,
            });
        }
        let free = available(&dir)?;
        if copy_bytes > free {
            return Err(Error::Snapshot(format!(
                "{} must be copied and {} has only {} free",
                human_size(copy_bytes),
                store.root.display(),
                human_size(free)
            )));
        }
        m.write(&dir)?;
        save_all(&mut m, &dir, req.one_file_system, copy_bytes)
    })();
    match result {
        Ok(renamed) => {
            m.state = State::Committed;
            m.write(&dir)?;
            let pending = m
                .targets
                .iter()
                .any(|t| t.entries.is_empty() || t.method == Method::Reflink);
            if !pending {
                store::mark_complete(&mut m, &dir)?;
            }
            Ok(Taken {
                id,
                dir,
                renamed,
                pending,
                manifest: m,
                lock,
            })
        }
        Err(e) => {
            let undo = rollback(&m, &dir);
            drop(lock);
            match undo {
                Ok(()) => Err(e),
                Err(u) => Err(Error::Snapshot(format!(
                    "{e}; and rolling back failed: {u} (snapshot {id} kept: see `gardefou snapshot list`)"
                ))),
            }
        }
    }
}

/// Copies first (the originals stay), then renames; returns which targets were renamed.
fn save_all(m: &mut Manifest, dir: &Path, one_fs: bool, copy_bytes: u64) -> Result<Vec<bool>> {
    let mut progress = Progress::new(copy_bytes);
    let mut copied_any = false;
    for t in m.targets.iter_mut().filter(|t| t.method != Method::Rename) {
        let c = fs::copy_tree(&t.original.0, &dir.join(&t.data), one_fs, &mut |n| {
            progress.tick(n)
        })?;
        t.entries = c.entries;
        t.method = c.method;
        t.bytes = c.bytes;
        t.disk_bytes = c.disk_bytes;
        copied_any = true;
    }
    drop(progress);
    if copied_any {
        let d = std::fs::File::open(dir)
            .map_err(|e| Error::io(format!("cannot open {}", dir.display()), e))?;
        nix::unistd::syncfs(&d).map_err(|e| {
            Error::io(
                format!("cannot sync {}", dir.display()),
                std::io::Error::from(e),
            )
        })?;
    }
    let mut renamed = Vec::new();
    for i in 0..m.targets.len() {
        if m.targets[i].method != Method::Rename {
            renamed.push(false);
            continue;
        }
        let t = &m.targets[i];
        let data = dir.join(&t.data);
        match std::fs::rename(&t.original.0, &data) {
            Ok(()) => {
                if let Some(parent) = t.original.0.parent() {
                    manifest::sync_dir(parent)?;
                }
                renamed.push(true);
            }
            Err(_) => {
                // Busy, a mount point, no permission to move it: copy it instead.
                let t = &mut m.targets[i];
                t.method = Method::Copy;
                m.write(dir)?;
                let t = &mut m.targets[i];
                let c = fs::copy_tree(&t.original.0, &data, one_fs, &mut |_| {})?;
                t.entries = c.entries;
                t.method = c.method;
                t.bytes = c.bytes;
                t.disk_bytes = c.disk_bytes;
                renamed.push(false);
            }
        }
    }
    manifest::sync_dir(&dir.join("data"))?;
    Ok(renamed)
}

/// Undoes a snapshot that failed before being committed: renamed targets go back, copies go.
fn rollback(m: &Manifest, dir: &Path) -> Result<()> {
    for t in &m.targets {
        let data = dir.join(&t.data);
        if t.method == Method::Rename && std::fs::symlink_metadata(&data).is_ok() {
            std::fs::rename(&data, &t.original.0).map_err(|e| {
                Error::io(format!("cannot move {} back", t.original.0.display()), e)
            })?;
        }
    }
    fs::remove_tree(dir)
}

/// Completes a snapshot whose hashing is pending: used in the foreground by `snapshot take`
/// and in the background (`gardefou snapshot finish`) after a guarded command.
pub fn finish_id(store: &Store, id: &str) -> Result<Manifest> {
    let _lock = store.wait(id)?;
    let dir = store.dir(id);
    let mut m = Manifest::read(&dir)?;
    if m.state != State::Complete {
        store::finish(&mut m, &dir)?;
    }
    Ok(m)
}

/// Where a database snapshot comes from and what it is for.
pub(crate) struct DbSnapshot<'a> {
    pub host: &'a str,
    pub environment: &'a str,
    pub command: &'a str,
    /// What `snapshot list` shows as the original: `postgresql:DB`, `redis:SERVER/DB`.
    pub original: String,
    pub method: Method,
    pub target: DbTarget,
}

/// Takes a database snapshot: `save` writes the dump into `data/0` (it exists, empty); the
/// files are then hashed into the manifest and the snapshot completed. On any failure the
/// snapshot is rolled back and the error returned.
pub(crate) fn take_database(
    store: &Store,
    what: DbSnapshot,
    save: impl FnOnce(&Path) -> Result<()>,
) -> Result<String> {
    store.open()?;
    let _store_lock = store.lock_shared()?;
    for line in store.recover()? {
        eprintln!("gardefou: snapshot {line}");
    }
    let (id, dir, lock) = store.create()?;
    let mut m = preparing(&id, what.host, what.environment, what.command);
    m.targets = vec![Target {
        original: PathBytes(what.original.into()),
        data: "data/0".into(),
        method: what.method,
        root: None,
        entries: Vec::new(),
        bytes: 0,
        disk_bytes: 0,
        database: Some(what.target),
    }];
    let result = (|| {
        m.write(&dir)?;
        let data = dir.join("data/0");
        std::fs::create_dir_all(&data)
            .map_err(|e| Error::io(format!("cannot create {}", data.display()), e))?;
        save(&data)?;
        let (entries, bytes, disk) = fs::record(&data)?;
        let t = &mut m.targets[0];
        (t.entries, t.bytes, t.disk_bytes) = (entries, bytes, disk);
        m.state = State::Committed;
        m.write(&dir)?;
        store::mark_complete(&mut m, &dir)
    })();
    if let Err(e) = result {
        let _ = rollback(&m, &dir);
        drop(lock);
        return Err(e);
    }
    drop(lock);
    Ok(id)
}

/// Parses a size such as `20G`, `512M`, `1.5T` or `1000` (bytes); powers of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit
        .trim()
        .trim_end_matches(['B', 'b'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 1,
        "K" | "KI" => 1 << 10,
        "M" | "MI" => 1 << 20,
        "G" | "GI" => 1 << 30,
        "T" | "TI" => 1 << 40,
        _ => return None,
    };
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("20G"), Some(20 << 30));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1.5K"), Some(1536));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("3X"), None);
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(br"/mnt/a\040b"), b"/mnt/a b".to_vec());
        assert_eq!(unescape_mountinfo(b"/plain"), b"/plain".to_vec());
    }
}
