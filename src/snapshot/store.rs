//! The snapshot store: one directory per snapshot, private to its owner, with locks so that
//! concurrent guards never collide and an interrupted snapshot is found and settled.
//!
//! Layout: `STORE/.lock` (shared while a snapshot is taken, exclusive while pruning) and
//! `STORE/ID/{manifest.json, .lock, data/N}`; a snapshot's own `.lock` is held by whoever is
//! writing it, so an unlocked snapshot that is not complete was interrupted.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{AT_FDCWD, Flock, FlockArg, RenameFlags, renameat2};

use super::fs::{hash_missing, record, remove_tree};
use super::manifest::{Manifest, Method, State, sync_dir};
use crate::error::{Error, Result};
use crate::policy::Policy;

pub const DEFAULT_STORE: &str = "/var/lib/gardefou/snapshots";

/// Present in a snapshot directory until its manifest is complete: recovery looks only at
/// those, so a guard does not read every manifest of a large store.
const INCOMPLETE: &str = ".incomplete";

pub struct Store {
    pub root: PathBuf,
}

/// A held lock; released when dropped (or when the process ends or execs).
pub struct Lock(#[allow(dead_code)] Flock<File>);

fn lock_file(path: &Path, arg: FlockArg) -> Result<Option<Lock>> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    match Flock::lock(f, arg) {
        Ok(l) => Ok(Some(Lock(l))),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(Error::io(
            format!("cannot lock {}", path.display()),
            std::io::Error::from(e),
        )),
    }
}

/// Takes a lock, saying on stderr what it waits for when someone else holds it, so that an
/// operator never stares at a silent terminal.
fn lock_or_wait(path: &Path, shared: bool, what: &str) -> Result<Lock> {
    let (now, block) = if shared {
        (FlockArg::LockSharedNonblock, FlockArg::LockShared)
    } else {
        (FlockArg::LockExclusiveNonblock, FlockArg::LockExclusive)
    };
    if let Some(l) = lock_file(path, now)? {
        return Ok(l);
    }
    eprintln!(
        "gardefou: waiting for {what} ({} is locked)",
        path.display()
    );
    lock_file(path, block)?.ok_or_else(|| Error::Snapshot(format!("{}: locked", path.display())))
}

/// A snapshot id names a directory of the store: letters, digits and `-` only.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Store {
    /// The caller's store: the policy's (default /var/lib/gardefou/snapshots) for root; for
    /// anyone else their own `$XDG_STATE_HOME/gardefou/snapshots` (~/.local/state/…), so that
    /// no user can read another's snapshots.
    pub fn for_caller(policy: &Policy) -> Result<Store> {
        if nix::unistd::geteuid().is_root() {
            let root = policy
                .snapshot
                .store
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE));
            if !root.is_absolute() {
                return Err(Error::Snapshot(format!(
                    "[snapshot] store = {:?} is not an absolute path",
                    root.display()
                )));
            }
            return Ok(Store { root });
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::home_dir().map(|h| h.join(".local/state")))
            .ok_or_else(|| Error::Snapshot("no home directory for a snapshot store".into()))?;
        Ok(Store {
            root: state.join("gardefou/snapshots"),
        })
    }

    /// Creates the store if needed and checks it is private: owned by the caller, and neither
    /// readable nor writable by anyone else.
    pub fn open(&self) -> Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| Error::io(format!("cannot create {}", self.root.display()), e))?;
        let meta = std::fs::symlink_metadata(&self.root)
            .map_err(|e| Error::io(format!("cannot stat {}", self.root.display()), e))?;
        let uid = nix::unistd::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != uid {
            return Err(Error::Snapshot(format!(
                "{}: not a directory owned by uid {uid}: refused as a snapshot store",
                self.root.display()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(Error::Snapshot(format!(
                "{}: mode {:o} lets other users in: refused as a snapshot store (chmod 700 it)",
                self.root.display(),
                meta.mode() & 0o7777
            )));
        }
        Ok(())
    }

    /// Held while a snapshot is being created: many at once, but never during a prune.
    pub fn lock_shared(&self) -> Result<Lock> {
        lock_or_wait(
            &self.root.join(".lock"),
            true,
            "a prune or removal of snapshots to end",
        )
    }

    /// Held while pruning or removing snapshots.
    pub fn lock_exclusive(&self) -> Result<Lock> {
        lock_or_wait(
            &self.root.join(".lock"),
            false,
            "the snapshots being taken to complete",
        )
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Creates a new snapshot directory with a unique id (UTC time, pid, and a counter should two
    /// guards of one pid race), locked for the caller. It is built under a hidden name and
    /// renamed into view already locked, so that recovery never mistakes it for an abandoned one.
    pub fn create(&self) -> Result<(String, PathBuf, Lock)> {
        let pid = std::process::id();
        let hidden = self.root.join(format!(".new-{pid}"));
        let _ = remove_tree(&hidden);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&hidden)
            .map_err(|e| Error::io(format!("cannot create {}", hidden.display()), e))?;
        let lock = lock_file(&hidden.join(".lock"), FlockArg::LockExclusiveNonblock)?
            .ok_or_else(|| Error::Snapshot(format!("{}: locked", hidden.display())))?;
        std::fs::File::create(hidden.join(INCOMPLETE))
            .map_err(|e| Error::io(format!("cannot create {}", hidden.display()), e))?;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(hidden.join("data"))
            .map_err(|e| Error::io(format!("cannot create {}/data", hidden.display()), e))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        for n in 0..1000 {
            let id = if n == 0 {
                format!("{stamp}-{pid}")
            } else {
                format!("{stamp}-{pid}-{n}")
            };
            let dir = self.dir(&id);
            match renameat2(
                AT_FDCWD,
                &hidden,
                AT_FDCWD,
                &dir,
                RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => return Ok((id, dir, lock)),
                Err(nix::errno::Errno::EEXIST) => continue,
                Err(e) => {
                    let _ = remove_tree(&hidden);
                    return Err(Error::io(
                        format!("cannot create {}", dir.display()),
                        std::io::Error::from(e),
                    ));
                }
            }
        }
        let _ = remove_tree(&hidden);
        Err(Error::Snapshot("could not find a free snapshot id".into()))
    }

    /// Every snapshot id in the store, oldest first.
    pub fn ids(&self) -> Result<Vec<String>> {
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("cannot read {}", self.root.display()), e)),
        };
        let mut ids: Vec<String> = rd
            .flatten()
            .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|d| d.file_name().into_string().ok())
            .filter(|id| valid_id(id))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Waits until nobody is writing snapshot `id`, and returns its lock.
    pub fn wait(&self, id: &str) -> Result<Lock> {
        let dir = self.dir(id);
        if !dir.join(".lock").exists() {
            return Err(Error::Snapshot(format!(
                "no snapshot {id} in {}",
                self.root.display()
            )));
        }
        lock_or_wait(
            &dir.join(".lock"),
            false,
            &format!("snapshot {id} to be written"),
        )
    }

    /// Settles snapshots that are not complete and that nobody is writing: an interrupted
    /// `preparing` snapshot is rolled back (targets renamed into it go back to their place; if
    /// that place was taken meanwhile it is kept and finished instead), a `committed` one is
    /// finished (hashed). Returns one line per snapshot settled.
    pub fn recover(&self) -> Result<Vec<String>> {
        let mut said = Vec::new();
        for d in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = d.file_name();
            // `.new-PID`: a snapshot directory being set up, abandoned once PID is gone.
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix(".new-"))
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                remove_tree(&d.path())?;
            }
        }
        for id in self.ids()? {
            let dir = self.dir(&id);
            if !dir.join(INCOMPLETE).exists() {
                continue;
            }
            let Some(lock) = lock_file(&dir.join(".lock"), FlockArg::LockExclusiveNonblock)? else {
                continue;
            };
            let manifest = match Manifest::read(&dir) {
                Ok(m) if m.state == State::Complete => {
                    mark_complete(&mut m.clone(), &dir)?;
                    continue;
                }
                Ok(m) => m,
                Err(_) if !dir.join(super::manifest::FILE).exists() => {
                    // Interrupted before anything was saved: nothing but empty directories.
                    let moved = std::fs::read_dir(dir.join("data"))
                        .map(|mut d| d.next().is_some())
                        .unwrap_or(false);
                    if moved {
                        said.push(format!(
                            "{id}: interrupted with data but no manifest: kept for inspection"
                        ));
                        continue;
                    }
                    remove_tree(&dir)?;
                    said.push(format!("{id}: interrupted before saving anything: removed"));
                    continue;
                }
                Err(e) => {
                    said.push(format!("{id}: {e}"));
                    continue;
                }
            };
            said.push(self.settle(&id, &dir, manifest, &lock)?);
        }
        Ok(said)
    }

    fn settle(&self, id: &str, dir: &Path, mut m: Manifest, _lock: &Lock) -> Result<String> {
        if m.state == State::Preparing {
            let mut kept = false;
            for t in &m.targets {
                let data = dir.join(&t.data);
                if std::fs::symlink_metadata(&data).is_err() {
                    continue;
                }
                if t.method == Method::Rename {
                    if std::fs::symlink_metadata(&t.original.0).is_err() {
                        std::fs::rename(&data, &t.original.0).map_err(|e| {
                            Error::io(format!("cannot move {} back", t.original.0.display()), e)
                        })?;
                        if let Some(parent) = t.original.0.parent() {
                            sync_dir(parent)?;
                        }
                    } else {
                        kept = true;
                    }
                }
            }
            if !kept {
                remove_tree(dir)?;
                return Ok(format!(
                    "{id}: interrupted before the command ran: rolled back, every target is back in its place"
                ));
            }
            // A renamed target whose place was taken meanwhile stays here; partial copies go.
            for t in m.targets.iter().filter(|t| t.method != Method::Rename) {
                let data = dir.join(&t.data);
                if data.exists() {
                    remove_tree(&data)?;
                }
            }
            m.targets
                .retain(|t| t.method == Method::Rename && dir.join(&t.data).exists());
        }
        finish(&mut m, dir)?;
        Ok(format!(
            "{id}: interrupted after its targets were saved: finished (hashed)"
        ))
    }

    /// Removes a snapshot for good.
    pub fn remove(&self, id: &str) -> Result<()> {
        let _lock = self.wait(id)?;
        remove_tree(&self.dir(id))
    }
}

/// Records what is not recorded yet (entries of renamed targets, hashes of cloned files) and
/// marks the manifest complete.
pub fn finish(m: &mut Manifest, dir: &Path) -> Result<()> {
    for t in &mut m.targets {
        if t.entries.is_empty() {
            let (mut entries, bytes, disk) = record(&dir.join(&t.data))?;
            if let (Some(root), Some(first)) = (&t.root, entries.first_mut()) {
                first.mtime = root.mtime;
                first.mtime_nsec = root.mtime_nsec;
            }
            t.entries = entries;
            t.bytes = bytes;
            t.disk_bytes = disk;
        } else {
            hash_missing(t, dir)?;
        }
    }
    mark_complete(m, dir)
}

/// Writes the manifest as complete, then drops the incomplete marker.
pub fn mark_complete(m: &mut Manifest, dir: &Path) -> Result<()> {
    m.state = State::Complete;
    m.write(dir)?;
    match std::fs::remove_file(dir.join(INCOMPLETE)) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(
            format!("cannot remove {}/{INCOMPLETE}", dir.display()),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::manifest::{PathBytes, Target};

    fn manifest(id: &str, original: &Path) -> Manifest {
        Manifest {
            version: 1,
            id: id.into(),
            state: State::Preparing,
            time: "2026-11-25T00:00:00Z".into(),
            user: "root".into(),
            uid: 0,
            host: "h".into(),
            environment: "production".into(),
            command: "rm -rf x".into(),
            targets: vec![Target {
                original: PathBytes(original.to_path_buf()),
                data: "data/0".into(),
                method: Method::Rename,
                root: None,
                entries: Vec::new(),
                bytes: 0,
                disk_bytes: 0,
                database: None,
            }],
        }
    }

    /// The state a `kill -9` between a rename and the commit leaves behind.
    fn interrupted_after_rename(tmp: &Path) -> (Store, String, PathBuf) {
        let store = Store {
            root: tmp.join("store"),
        };
        store.open().unwrap();
        let original = tmp.join("victim");
        std::fs::create_dir_all(original.join("d")).unwrap();
        std::fs::write(original.join("d/f"), b"bytes").unwrap();
        let (id, dir, lock) = store.create().unwrap();
        manifest(&id, &original).write(&dir).unwrap();
        std::fs::rename(&original, dir.join("data/0")).unwrap();
        drop(lock);
        (store, id, original)
    }

    #[test]
    fn an_interrupted_rename_is_moved_back_by_recovery() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, id, original) = interrupted_after_rename(tmp.path());
        let said = store.recover().unwrap();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("rolled back"), "{said:?}");
        assert_eq!(std::fs::read(original.join("d/f")).unwrap(), b"bytes");
        assert!(!store.dir(&id).exists());
    }

    #[test]
    fn an_interrupted_rename_whose_place_was_taken_is_kept_and_finished() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, id, original) = interrupted_after_rename(tmp.path());
        std::fs::write(&original, b"something new").unwrap();
        let said = store.recover().unwrap();
        assert!(said[0].contains("finished"), "{said:?}");
        let m = Manifest::read(&store.dir(&id)).unwrap();
        assert_eq!(m.state, State::Complete);
        assert!(m.targets[0].entries.iter().any(|e| e.sha256.is_some()));
        assert_eq!(std::fs::read(&original).unwrap(), b"something new");
    }

    #[test]
    fn a_snapshot_being_written_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store {
            root: tmp.path().join("store"),
        };
        store.open().unwrap();
        let (id, dir, _lock) = store.create().unwrap();
        manifest(&id, &tmp.path().join("x")).write(&dir).unwrap();
        assert!(store.recover().unwrap().is_empty());
        assert!(dir.exists());
    }
}
