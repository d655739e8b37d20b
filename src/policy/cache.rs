//! A pre-parsed copy of the merged policy, so that a shim does not parse TOML on every command.
//!
//! Parsing the shipped policy is most of what a guarded `rm` costs beyond starting a process
//! (BENCHMARKS.md). The merged [`Policy`] is kept in one file, `/run/gardefou/policy.cache`
//! for root (tmpfs: gone at reboot), with a key that names everything it was made from: the
//! build (a fingerprint of the sources, shared by `gardefou` and `gardefou-shim` of one build, so
//! that each reads what the other wrote) and each source file (path, device, inode, size, mode,
//! owner, mtime and ctime to the nanosecond). Any difference, and the files are parsed again.
//!
//! Trust: the cache is read only from a directory and a file owned by root or by the caller
//! and writable by no one else (the policy files' own owner check, without its leeway for
//! root's group). It is written only from files whose last change is at least
//! [`SETTLE_SECS`] old, so that a second edit within the same timestamp tick cannot leave a
//! cache that looks current and is not. Errors are never cached: a broken file is parsed, and
//! reported, every time. Anything wrong with the cache itself (missing, unreadable, foreign,
//! corrupt) means "parse"; it never fails a command.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Policy;
use super::load::{Source, check_owner, environment_untrusted};
use crate::error::Result;

/// Where root's cache lives.
pub const DEFAULT_DIR: &str = "/run/gardefou";
/// The cache file in its directory.
pub const FILE: &str = "policy.cache";
/// How old a file's last change must be before its parse is cached.
pub const SETTLE_SECS: i64 = 2;
/// Bumped whenever the cached layout changes meaning without the binary changing.
const FORMAT: u32 = 3;
/// A cache larger than this is not read.
const MAX_BYTES: u64 = 8 << 20;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Key {
    format: u32,
    version: String,
    /// build.rs's fingerprint of the sources: binaries of another build never share a cache.
    build: String,
    /// Each source's path (empty for the embedded default) and stamp.
    sources: Vec<(Vec<u8>, Option<Stamp>)>,
}

/// The cache directory: `$GARDEFOU_CACHE_DIR` when the environment may choose (not under sudo
/// or setuid; empty turns the cache off), else [`DEFAULT_DIR`] for root, else none.
pub fn dir() -> Option<PathBuf> {
    if !environment_untrusted()
        && let Some(d) = std::env::var_os("GARDEFOU_CACHE_DIR")
    {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    nix::unistd::geteuid()
        .is_root()
        .then(|| PathBuf::from(DEFAULT_DIR))
}

/// The policy from `sources`: from the cache when it is current, else `parse(sources)` (whose
/// result is then cached when it succeeded and the files have settled).
pub fn load(sources: &[Source], parse: impl FnOnce(&[Source]) -> Result<Policy>) -> Result<Policy> {
    let Some(dir) = dir() else {
        return parse(sources);
    };
    let Some((key, settled)) = key(sources) else {
        return parse(sources);
    };
    if let Some(policy) = read(&dir, &key) {
        return Ok(policy);
    }
    let policy = parse(sources)?;
    if settled {
        // Best effort: a cache that cannot be written only costs the next command a parse.
        let _ = write(&dir, &key, &policy);
    }
    Ok(policy)
}

/// The key of `sources` now, and whether all of them have settled; None when a file cannot be
/// examined or would be refused (the parse reports why).
fn key(sources: &[Source]) -> Option<(Key, bool)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    let mut settled = true;
    let mut stamps = Vec::with_capacity(sources.len());
    for source in sources {
        match source {
            Source::Embedded => stamps.push((Vec::new(), None)),
            Source::File(path) => {
                let meta = std::fs::metadata(path).ok()?;
                check_owner(path, &meta).ok()?;
                settled &= meta.ctime() <= now - SETTLE_SECS;
                stamps.push((
                    path.as_os_str().as_encoded_bytes().to_vec(),
                    Some(Stamp::of(&meta)),
                ));
            }
        }
    }
    Some((
        Key {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            build: env!("GARDEFOU_BUILD_ID").to_owned(),
            sources: stamps,
        },
        settled,
    ))
}

/// True when `path` passes the policy files' own owner check and, stricter, not even root's
/// group can write it.
fn trusted(path: &Path, meta: &std::fs::Metadata) -> bool {
    check_owner(path, meta).is_ok() && meta.mode() & 0o020 == 0
}

fn trusted_dir(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && trusted(dir, &m))
}

fn read(dir: &Path, key: &Key) -> Option<Policy> {
    if !trusted_dir(dir) {
        return None;
    }
    let path = dir.join(FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !trusted(&path, &meta) || meta.len() > MAX_BYTES {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    let (cached, rest) = postcard::take_from_bytes::<Key>(&bytes).ok()?;
    if cached != *key {
        return None;
    }
    postcard::from_bytes(rest).ok()
}

fn write(dir: &Path, key: &Key, policy: &Policy) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if !trusted_dir(dir) {
        return Err(std::io::Error::other("untrusted cache directory"));
    }
    let mut bytes = postcard::to_stdvec(key).map_err(std::io::Error::other)?;
    bytes.extend(postcard::to_stdvec(policy).map_err(std::io::Error::other)?);
    // A new file renamed over the old one: a reader sees the old cache or the new, never half.
    let mut tmp = tempfile::Builder::new()
        .prefix(".policy.cache.")
        .tempfile_in(dir)?;
    tmp.write_all(&bytes)?;
    tmp.persist(dir.join(FILE)).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::load;

    #[test]
    fn the_merged_policy_survives_the_cache_format_whole() {
        let dir = tempfile::tempdir().unwrap();
        let extra = dir.path().join("extra.toml");
        std::fs::write(
            &extra,
            r#"version = 1
[host]
environment = "staging"
[[host.detect]]
hostname = "^db-"
environment = "production"
[environments.staging]
color = "cyan"
[[protect.package]]
name = "postgresql-*"
on = ["remove", "purge"]
action = "confirm"
data = ["/var/lib/postgresql"]
[[protect.sql]]
engine = "postgresql"
database = "shop*"
statements = ["drop_table", "truncate"]
action = "snapshot"
[snapshot]
store = "/srv/snapshots"
max_bytes = "10G"
[cluster]
adapter = "patroni"
max_lag = "1M"
[cluster.patroni]
url = "http://127.0.0.1:8008"
[preflight]
backup = "/srv/backup/*.dump"
[[preflight.check]]
name = "disk"
command = "df /"
[[notify]]
command = "cat >/dev/null"
on = ["deny"]
[audit]
syslog = false
"#,
        )
        .unwrap();
        let policy =
            load::parse(&[Source::Embedded, Source::File(extra.clone())]).expect("the test policy");
        let bytes = postcard::to_stdvec(&policy).unwrap();
        let back: Policy = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&policy).unwrap()
        );
        assert!(policy.cluster.is_some() && !policy.notify.is_empty());
    }

    #[test]
    fn a_changed_file_changes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.toml");
        std::fs::write(&f, "version = 1\n").unwrap();
        let sources = [Source::File(f.clone())];
        let (a, settled) = key(&sources).unwrap();
        assert!(!settled, "a file written just now has not settled");
        assert_eq!(a, key(&sources).unwrap().0);
        std::fs::write(&f, "version = 1\n#\n").unwrap();
        assert_ne!(a, key(&sources).unwrap().0);
    }
}
