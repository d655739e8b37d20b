//! Typed errors of the library; `main` reports them with context and maps them to exit codes.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read policy: {source}")]
    PolicyRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    PolicyParse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: refused: {why} (a policy file must be owned by root or by you, and writable by no one else)"
    )]
    PolicyPermissions { path: PathBuf, why: String },
    #[error("rm: {0}\nTry 'rm --help' for more information.")]
    RmUsage(String),
    #[error("{0}: command not found on PATH (after skipping gardefou shims)")]
    RealBinaryNotFound(String),
    #[error("cannot execute {path}: {source}")]
    Exec {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("cluster: {0}")]
    Cluster(String),
    /// The cluster daemon certainly did not act on the request: it could not be reached, or it
    /// answered no (HTTP 4xx). Any other failure may have moved roles.
    #[error("cluster: {0}")]
    ClusterRefused(String),
    #[error("maintenance lock: {0}")]
    Lock(String),
    #[error("approval: {0}")]
    Approval(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
