//! The policy file format (DESIGN.md, "Policy files — contract"), as serde types.
//!
//! Every struct denies unknown fields, so a typo in a key is an error, not a silent no-op.
//! This module only describes data: it never reads files and never decides anything.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyFile {
    pub version: Option<Spanned<u32>>,
    pub host: HostSection,
    pub environments: BTreeMap<String, EnvironmentSpec>,
    pub protect: ProtectSection,
    pub snapshot: Option<SnapshotSection>,
    pub cluster: Option<ClusterSection>,
    pub audit: Option<AuditSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostSection {
    pub environment: Option<String>,
    pub detect: Vec<Spanned<DetectSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectSpec {
    pub hostname: String,
    pub environment: String,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentSpec {
    pub color: Option<Color>,
    pub confirm_with: Option<ConfirmWith>,
    pub non_interactive: Option<NonInteractive>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Red,
    Yellow,
    Green,
    Blue,
    Magenta,
    Cyan,
    White,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmWith {
    Hostname,
    Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NonInteractive {
    Deny,
    Allow,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtectSection {
    pub path: Vec<Spanned<PathRuleSpec>>,
    pub package: Vec<Spanned<PackageRuleSpec>>,
    pub sql: Vec<Spanned<SqlRuleSpec>>,
}

/// What a rule asks for when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deny,
    Confirm,
    /// Allow, after a snapshot of what would be lost.
    Snapshot,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRuleSpec {
    pub path: Spanned<String>,
    pub action: Action,
    /// Beside `confirm`: also snapshot what would be lost, once confirmed.
    #[serde(default)]
    pub snapshot: bool,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageOp {
    Install,
    Remove,
    Purge,
    Upgrade,
    Downgrade,
}

fn default_package_ops() -> Vec<PackageOp> {
    vec![PackageOp::Remove, PackageOp::Purge]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageRuleSpec {
    pub name: Spanned<String>,
    #[serde(default = "default_package_ops")]
    pub on: Vec<PackageOp>,
    pub action: Action,
    /// Directories a purge of the package deletes (besides what its postrm visibly deletes):
    /// a purge is then checked as a recursive deletion of each, against the path rules.
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    #[default]
    Postgresql,
    Mysql,
    Redis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlStatement {
    DropDatabase,
    DropTable,
    DropSchema,
    Truncate,
    DeleteWithoutWhere,
    UpdateWithoutWhere,
    AlterDropColumn,
    /// Redis: every key of every database.
    Flushall,
    /// Redis: every key of one database.
    Flushdb,
    /// Redis: `DEL`/`UNLINK` of keys.
    Del,
    /// Redis: `CONFIG SET` (persistence, memory limits, the data directory).
    ConfigSet,
    /// Redis: `SHUTDOWN`.
    Shutdown,
    /// Redis: `REPLICAOF host port` (the server drops its data for the primary's).
    Replicaof,
    /// SQL whose effect cannot be known before it runs: `DO` blocks, `EXECUTE`, psql's `\i`.
    Unknown,
}

fn default_database() -> String {
    "*".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRuleSpec {
    pub engine: Engine,
    #[serde(default = "default_database")]
    pub database: String,
    pub statements: Vec<SqlStatement>,
    pub action: Action,
    #[serde(default)]
    pub snapshot: bool,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotSection {
    /// Where root's snapshots go (other users keep theirs in their own state directory).
    pub store: Option<PathBuf>,
    /// `gardefou snapshot prune` removes snapshots older than this.
    pub keep_days: Option<u32>,
    /// `gardefou snapshot prune` removes the oldest snapshots while the store holds more.
    pub max_bytes: Option<String>,
    /// Prune never removes the newest N snapshots (default 3).
    pub keep_newest: Option<u32>,
    /// What happens when a snapshot the policy asks for cannot be taken (default: refuse).
    pub on_failure: Option<OnFailure>,
}

/// What a command whose snapshot failed becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Refuse the command: nothing runs unsaved.
    Refuse,
    /// Ask for the typed confirmation to run it without a snapshot.
    Confirm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Adapter {
    None,
    Patroni,
    Pacemaker,
    Safekit,
    Keepalived,
    Command,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    pub adapter: Adapter,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    /// JSON-lines file the audit log is appended to.
    pub file: Option<PathBuf>,
    /// Also log commands that were allowed without any rule firing (default true).
    pub log_allowed: Option<bool>,
}
