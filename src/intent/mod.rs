//! Intents: what a command means, parsed without touching the system.
//!
//! This module never reads the filesystem except where the shell itself would to build the
//! command (glob expansion and `~user` in `line`), and never runs anything.

pub mod apt;
pub mod lex;
pub mod line;
pub mod mysql;
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Rm(RmIntent),
    /// apt, apt-get, aptitude or dpkg.
    Apt(apt::AptIntent),
    /// psql, dropdb, pg_dropcluster.
    Sql(sql::SqlIntent),
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
