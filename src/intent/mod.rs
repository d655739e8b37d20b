//! Intents: what a command means, parsed without touching the system.
//!
//! This module never reads the filesystem except where the shell itself would to build the
//! command (glob expansion and `~user` in `line`), and never runs anything.

pub mod apt;
pub mod files;
pub mod glob;
pub mod host;
pub mod lex;
pub mod line;
pub mod mysql;
pub(crate) mod pg;
mod psql;
mod psql_client;
pub mod redis;
pub mod rm;
pub mod sql;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub use rm::{RmCommand, RmOptions};

/// One argument of a command as far as it can be known before the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Known(OsString),
    /// Computed at run time (command substitution, xargs input, …): the text says what.
    Unknown(String),
}

impl Arg {
    pub fn known(&self) -> Option<&OsString> {
        match self {
            Arg::Known(s) => Some(s),
            Arg::Unknown(_) => None,
        }
    }

    pub fn display(&self) -> String {
        match self {
            Arg::Known(s) => display_bytes(s.as_bytes()),
            Arg::Unknown(what) => format!("<{what}>"),
        }
    }
}

/// How an rm-like deletion was spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Rm,
    FindDelete,
    FindExecRm,
    XargsRm,
    /// A package purge deleting a data directory (its postrm, or the policy's `data`).
    Purge,
}

/// A deletion: the rm options and the operands, resolved against `cwd` (None: unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmIntent {
    pub via: Via,
    pub options: RmOptions,
    pub operands: Vec<Arg>,
    pub cwd: Option<PathBuf>,
    /// rm would refuse its own arguments (unknown option…) and delete nothing.
    pub usage_error: Option<String>,
    /// The command as typed, for messages.
    pub text: String,
}

/// What a command does to one file or tree, whatever its spelling: the effects stage's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    /// The entry is removed (and, when recursive, its tree).
    Delete { recursive: bool },
    /// The entry leaves its place with its tree (`mv SRC …`).
    MoveAway,
    /// The file's bytes are replaced or truncated, or a new entry is created in its place.
    Overwrite,
    /// Files inside the directory may be replaced, created or (`deletes`) removed; the
    /// directory itself stays (`rsync` into it, `tar -x -C`, `git clean`).
    WriteInto { deletes: bool },
    /// Owner, group or mode change over the whole tree (`chown -R`).
    ChangeMode,
    /// Bytes added at the end of a file (`>>`, `tee -a`): nothing is lost, but inside a tree the
    /// read-only net holds it fails; judged only there, and only for the lines the net is
    /// under, so that such a line is asked about before any of it runs.
    Append,
}

/// One file effect: the operation, its target, and how the target is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEffect {
    pub op: FileOp,
    pub target: Arg,
    /// Writes go through a symlink to its target (`> link`, `cp f link`); `mv`, `ln -f` and
    /// deletions act on the link itself.
    pub follow: bool,
    /// When the target is an existing directory, the effect lands on `target/NAME` for each of
    /// these names instead (`mv a b DIR`, `cp f DIR`).
    pub into: Vec<OsString>,
    /// The command never replaces an existing entry (`cp -n`, `ln` without `-f`).
    pub only_if_absent: bool,
    /// For a write into a directory: the source trees whose entries land there (rsync's
    /// `SRC/` puts SRC's contents in the target, `SRC` puts SRC itself), when they are known.
    pub from: Vec<Arg>,
    /// `from` as cp reads it: a source spelled `SRC/.`, or any source when the target is
    /// new, puts its contents in the target.
    pub from_cp: bool,
    /// For `tar -x`: the archive whose members land in the target.
    pub archive: Option<Arg>,
    /// Only inside a git work tree (elsewhere git fails and changes nothing).
    pub in_repo: bool,
}

impl FileEffect {
    pub fn new(op: FileOp, target: Arg) -> Self {
        FileEffect {
            op,
            target,
            follow: false,
            into: Vec::new(),
            only_if_absent: false,
            from: Vec::new(),
            from_cp: false,
            archive: None,
            in_repo: false,
        }
    }
}

/// A command (or a shell redirection) that changes files, with its effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesIntent {
    /// The command's name as messages show it (`mv`, `truncate`, `>`).
    pub program: String,
    pub effects: Vec<FileEffect>,
    pub cwd: Option<PathBuf>,
    /// The command as typed, for messages.
    pub text: String,
}

/// `find … -delete` or `find … -exec CMD {} …`: judged by a dry run of the real find when one
/// can be made, else by `fallback` (every file under the start points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindIntent {
    /// The arguments after `find`.
    pub args: Vec<Arg>,
    pub cwd: Option<PathBuf>,
    /// Whether the expression has `-delete`.
    pub deletes: bool,
    /// The commands of its `-exec`-like actions that change files, as classified (their `{}`
    /// stands for each match).
    pub execs: Vec<Intent>,
    pub fallback: Vec<Intent>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// A command that changes files other than through rm: mv, cp, truncate, `>`, rsync…
    Files(FilesIntent),
    /// find with actions that delete or change files.
    Find(FindIntent),
    Rm(RmIntent),
    /// apt, apt-get, aptitude or dpkg.
    Apt(apt::AptIntent),
    /// psql, dropdb, pg_dropcluster.
    Sql(Box<sql::SqlIntent>),
    /// reboot, shutdown, systemctl stop…: the host or its services go down.
    Host(host::HostIntent),
    /// A command whose name cannot be known before it runs.
    Opaque {
        text: String,
        why: String,
    },
    /// A command gardefou does not guard.
    Other {
        program: String,
    },
}

/// `text` single-quoted as one sh word.
pub(crate) fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Text for a byte string: itself when it is UTF-8, else with the bad bytes escaped (`\xff`).
pub fn display_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b.utf8_chunks().fold(String::new(), |mut out, chunk| {
            out.push_str(chunk.valid());
            for byte in chunk.invalid() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
            out
        }),
    }
}
