//! Snapshot manifests: what a snapshot holds, enough to restore and verify it byte for byte.
//!
//! A manifest is replaced atomically (temp file, fsync, rename, fsync of the directory), so a
//! reader sees either the previous state or the new one, never a torn file.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

pub const FILE: &str = "manifest.json";

/// A path stored losslessly: a JSON string when it is UTF-8, else `{"hex": "…"}` of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PathBytes(pub PathBuf);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum PathRepr {
    Text(String),
    Bytes { hex: String },
}

impl Serialize for PathBytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let bytes = self.0.as_os_str().as_bytes();
        match std::str::from_utf8(bytes) {
            Ok(text) => PathRepr::Text(text.to_owned()),
            Err(_) => PathRepr::Bytes {
                hex: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PathBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match PathRepr::deserialize(d)? {
            PathRepr::Text(t) => Ok(PathBytes(PathBuf::from(t))),
            PathRepr::Bytes { hex } => {
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| {
                        hex.get(i..i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    })
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| serde::de::Error::custom("bad hex in a path"))?;
                Ok(PathBytes(PathBuf::from(OsString::from_vec(bytes))))
            }
        }
    }
}

/// Where a snapshot is in its life. Recovery after a crash depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Saving the targets. The command has not run: an interrupted snapshot is rolled back
    /// (renamed targets go back where they were, partial copies are deleted).
    Preparing,
    /// Every target is saved; the command may have run. Hashing is all that is left: an
    /// interrupted snapshot is finished, never rolled back.
    Committed,
    /// Hashed and final.
    Complete,
}

/// How a target was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Moved into the store (same filesystem): the original path no longer exists.
    Rename,
    /// Every file cloned (copy-on-write), the original left in place.
    Reflink,
    /// Copied byte by byte (some or all files), the original left in place.
    Copy,
    /// A PostgreSQL dump (`pg_dump -Fc`) of the objects at risk: `data/N/dump.pgc`.
    #[serde(rename = "pg_dump")]
    PgDump,
    /// Redis keys saved with `DUMP` (and `PTTL`), put back with `RESTORE … REPLACE`, plus the
    /// configuration a `CONFIG SET` changes: `data/N/keys.dump`.
    #[serde(rename = "redis_dump")]
    RedisDump,
    /// MySQL/MariaDB dumps (`mysqldump`, SQL text) of the tables at risk, or of whole
    /// databases: `data/N/db-K.sql`, `data/N/tables-K.sql`, replayed with `mysql`.
    #[serde(rename = "mysqldump")]
    Mysqldump,
}

/// What a database snapshot saved, and how to reach the server again to restore it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbTarget {
    pub database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Tables (`pg_dump -t`), as the SQL named them.
    #[serde(default)]
    pub tables: Vec<String>,
    /// Schemas (`pg_dump -n`).
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The whole database (for a DROP DATABASE, or SQL of unknown effect; Redis: every key of
    /// `database`, or of every database when it is `*`).
    #[serde(default)]
    pub whole: bool,
    #[serde(default)]
    pub engine: crate::policy::schema::Engine,
    /// Redis: the Unix socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// Redis: the keys a `DEL` deletes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Redis: the configuration a `CONFIG SET` changes, as it was before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<(String, String)>,
    /// MySQL: the client's connection options (`--name=value`, never the password).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Char,
    Block,
    Socket,
}

/// One filesystem entry of a target, with the metadata restore puts back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative to the target; empty for the target itself.
    pub path: PathBytes,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<PathBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdev: Option<u64>,
    /// Hex sha256 of a file's content; None until hashed (state `committed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One saved target: a path the command would have deleted, with its whole tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Absolute path the target had.
    pub original: PathBytes,
    /// Where its data is, relative to the snapshot directory (`data/0`).
    pub data: String,
    pub method: Method,
    /// The target's own metadata, read before it was moved (renaming a directory can change it).
    pub root: Option<Entry>,
    /// Every entry, parents before children; empty until recorded.
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// Sum of the files' sizes.
    #[serde(default)]
    pub bytes: u64,
    /// Space the data takes on disk (allocated blocks).
    #[serde(default)]
    pub disk_bytes: u64,
    /// For a database snapshot: what was dumped from where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DbTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub id: String,
    pub state: State,
    /// UTC, RFC 3339.
    pub time: String,
    pub user: String,
    pub uid: u32,
    pub host: String,
    pub environment: String,
    /// The command the snapshot was taken for, as typed.
    pub command: String,
    pub targets: Vec<Target>,
}

impl Manifest {
    pub fn bytes(&self) -> u64 {
        self.targets.iter().map(|t| t.bytes).sum()
    }

    pub fn disk_bytes(&self) -> u64 {
        self.targets.iter().map(|t| t.disk_bytes).sum()
    }

    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE);
        let text = std::fs::read(&path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Snapshot(format!("{}: {e}", path.display())))
    }

    /// Replaces `dir/manifest.json` atomically and durably.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(".manifest.json.tmp");
        let ctx = |what: &str, e| Error::io(format!("{what} {}", tmp.display()), e);
        let mut f = std::fs::File::create(&tmp).map_err(|e| ctx("cannot create", e))?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Snapshot(format!("cannot encode the manifest: {e}")))?;
        f.write_all(&json).map_err(|e| ctx("cannot write", e))?;
        f.sync_all().map_err(|e| ctx("cannot sync", e))?;
        std::fs::rename(&tmp, dir.join(FILE)).map_err(|e| ctx("cannot rename", e))?;
        sync_dir(dir)
    }
}

/// fsync of a directory, so that renames and creations in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot sync directory {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_paths_round_trip_through_json() {
        let p = PathBytes(PathBuf::from(OsString::from_vec(b"a/\xff\xfeb".to_vec())));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"hex":"612fff fe62"}"#.replace(' ', ""));
        let back: PathBytes = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let text: PathBytes = serde_json::from_str(r#""plain/é""#).unwrap();
        assert_eq!(text.0, PathBuf::from("plain/é"));
    }
}
