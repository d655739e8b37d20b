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
    pub preflight: Option<PreflightSection>,
    pub audit: Option<AuditSection>,
    pub notify: Vec<NotifySpec>,
    pub net: Option<NetSection>,
    pub maintenance: Option<MaintenanceSection>,
}

/// `[maintenance]`: what `gardefou maintenance` coordinates beyond this host.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceSection {
    pub lock: Option<LockSpec>,
}

/// `[maintenance.lock]`: a slot in the fleet's own etcd (or an airlock server's) that a host
/// takes before maintenance and keeps until `maintenance finish` has seen the cluster healthy.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockSpec {
    /// etcd endpoints (its v3 HTTP/JSON gateway), tried in order.
    pub etcd: Vec<String>,
    /// A FleetLock server (Flatcar's airlock), instead of etcd.
    pub fleetlock: Option<String>,
    /// The hosts that must not be down together. Default: the cluster's name (Patroni's
    /// scope), else "default".
    pub group: Option<String>,
    /// How many hosts of the group may be in maintenance at once. Default 1.
    pub slots: Option<u32>,
    /// The etcd key prefix. Default "/gardefou/maintenance".
    pub prefix: Option<String>,
    /// How long one request to etcd may take, in seconds. Default 5.
    pub timeout_secs: Option<u64>,
}

/// `[net]`: the read-only safety net under guarded lines (src/net.rs).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetSection {
    /// Default: on in the production environment, off in the others.
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostSection {
    pub environment: Option<String>,
    /// The host's identity for the maintenance lock and messages. Default: the hostname.
    pub name: Option<String>,
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
    pub service: Vec<Spanned<ServiceRuleSpec>>,
    pub power: Vec<Spanned<PowerRuleSpec>>,
}

fn default_service_ops() -> Vec<crate::intent::host::ServiceOp> {
    crate::intent::host::ServiceOp::ALL.to_vec()
}

fn default_power_ops() -> Vec<crate::intent::host::PowerOp> {
    crate::intent::host::PowerOp::ALL.to_vec()
}

/// `[[protect.service]]`: `systemctl stop|restart|disable|mask|kill` (and `service UNIT stop`)
/// of the units it names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRuleSpec {
    /// Glob on the unit name; `.service` is implied for a name without a suffix.
    pub unit: Spanned<String>,
    #[serde(default = "default_service_ops")]
    pub on: Vec<crate::intent::host::ServiceOp>,
    /// `deny` or `confirm` (a service cannot be snapshotted).
    pub action: Spanned<Action>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

/// `[[protect.power]]`: reboot, poweroff, halt, kexec, rescue, emergency, however spelled.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerRuleSpec {
    #[serde(default = "default_power_ops")]
    pub on: Vec<crate::intent::host::PowerOp>,
    /// `deny` or `confirm`.
    pub action: Spanned<Action>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
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
    /// What a change *inside* the protected directory gets (default: `action`).
    #[serde(default)]
    pub contents: Option<Contents>,
    /// Whether the read-only net covers this tree when its changes are not allowed (default
    /// true); `false` leaves the tree to the parser, for trees tools write in as a matter of
    /// course (dpkg's database, `~/.ssh/known_hosts`).
    #[serde(default)]
    pub net: Option<bool>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

/// What a change inside a protected tree gets: `action`'s words, and `allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Contents {
    Deny,
    Confirm,
    /// Allow, after a snapshot of what would be lost.
    Snapshot,
    Allow,
}

impl From<Action> for Contents {
    fn from(a: Action) -> Self {
        match a {
            Action::Deny => Contents::Deny,
            Action::Confirm => Contents::Confirm,
            Action::Snapshot => Contents::Snapshot,
        }
    }
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
    /// Any DELETE, WHERE or not; with `max_rows`/`max_fraction` only one that would delete
    /// more rows than that (the server is asked how many).
    Delete,
    /// Any UPDATE, as `delete`.
    Update,
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
    /// `delete`/`update`: the rule fires only when the statement would touch more rows than
    /// this, or more than `max_fraction` of the table (either; the server is asked).
    #[serde(default)]
    pub max_rows: Option<u64>,
    #[serde(default)]
    pub max_fraction: Option<f64>,
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

/// What a risky command on a primary that is not in maintenance becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnPrimary {
    /// Only a reason in the verdict; the decision is the rules'.
    Warn,
    /// At least a typed confirmation.
    Confirm,
    /// Refused: run `gardefou maintenance start` first.
    Deny,
}

/// `[cluster]`: which cluster daemon this host runs and how gardefou talks to it. gardefou never
/// implements a cluster; it drives the one the host has.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    pub adapter: Adapter,
    /// Never switch over to a standby lagging more than this ("1M", "16MB"; default 1 MiB).
    #[serde(default)]
    pub max_lag: Option<String>,
    /// How long `maintenance start` waits for this node to become secondary (default 120 s).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// How often it asks the cluster while waiting (default and maximum 250 ms).
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// A risky command (one that a rule fired on) on a primary not in maintenance.
    #[serde(default)]
    pub on_primary: Option<OnPrimary>,
    /// The maintenance state file (default /var/lib/gardefou/maintenance.json).
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    #[serde(default)]
    pub patroni: Option<PatroniSpec>,
    #[serde(default)]
    pub pacemaker: Option<PacemakerSpec>,
    #[serde(default)]
    pub safekit: Option<SafekitSpec>,
    #[serde(default)]
    pub keepalived: Option<KeepalivedSpec>,
    #[serde(default)]
    pub command: Option<CommandSpec>,
}

/// Patroni's REST API.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatroniSpec {
    /// This member's REST API (default http://127.0.0.1:8008).
    pub url: Option<String>,
    /// This member's name (default: the one whose api_url is `url` in GET /cluster).
    pub member: Option<String>,
    /// The member to switch over to (default: the healthy replica with the least lag).
    pub candidate: Option<String>,
    /// `restapi.authentication.username`, when Patroni protects its unsafe endpoints
    /// (`POST /switchover`) with HTTP basic auth.
    pub username: Option<String>,
    /// A file (root's, mode 0600) whose first line is that user's password: never the
    /// password itself in a policy file everyone can read.
    pub password_file: Option<PathBuf>,
    /// libpq connection string to this member's PostgreSQL (e.g. "host=/var/run/postgresql
    /// user=postgres"), for the switchover checks Patroni's API does not answer: WAL archiving
    /// backlog and the logical slots the candidate lacks. Run with psql, as the caller.
    pub conninfo: Option<String>,
}

/// Pacemaker, through its command-line tools (crm_mon, crm_standby).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacemakerSpec {
    /// The resource (a promotable clone, or a plain resource) whose placement makes a primary.
    pub resource: String,
    /// This node's name in the cluster (default: the hostname).
    pub node: Option<String>,
}

/// SafeKit, through its `safekit` command.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafekitSpec {
    /// The application module (`-m AM`).
    pub module: String,
    /// The safekit command (default `safekit` on PATH, then /opt/safekit/safekit).
    pub command: Option<PathBuf>,
}

/// keepalived, which has no state command: its notify script writes the state to a file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeepalivedSpec {
    /// The VRRP instance (`VI_1`).
    pub instance: String,
    /// Where the notify script writes its last line (`INSTANCE "VI_1" MASTER 100`).
    pub state_file: PathBuf,
    /// A `track_file` of the instance (weight 0): gardefou writes 1 to demote this node (FAULT),
    /// 0 to let it take the address again.
    pub track_file: PathBuf,
}

/// A cluster driven by the operator's own commands (run with `sh -c`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandSpec {
    /// Prints this node's role as its first word: primary, secondary, alone or unknown.
    pub role: String,
    /// Exit 0 when a healthy standby in sync exists; its output is shown. Optional: then
    /// `switchover` itself must refuse an unhealthy standby.
    pub health: Option<String>,
    /// Asks the cluster to move the primary role away from this node.
    pub switchover: String,
    /// After maintenance: lets this node take the primary role again. Optional.
    pub release: Option<String>,
}

/// `[preflight]`: what the pre-maintenance checklist checks besides the cluster.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreflightSection {
    /// A glob of backup files (`/var/backups/pg/*.dump`): the newest must be recent enough.
    pub backup: Option<String>,
    /// How old the newest backup may be, in hours (default 26).
    pub max_backup_age_hours: Option<u64>,
    /// Free space the snapshot store's filesystem must have (default "1G").
    pub min_snapshot_free: Option<String>,
    /// Also list packages an upgrade would change (`apt-get -s upgrade`; default true).
    pub pending_packages: Option<bool>,
    /// The host's own checks.
    pub check: Vec<PreflightCheck>,
}

/// One `[[preflight.check]]`: a command run with `sh -c`; exit 0 passes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightCheck {
    pub name: String,
    pub command: String,
    /// A failure is only a warning (`!`), not a stop (`✘`).
    #[serde(default)]
    pub warn_only: bool,
    /// Seconds before the command is killed and the check fails (default 10).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// An event a `[[notify]]` command is run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyEvent {
    /// A command the policy refused (also for want of a terminal or a snapshot).
    Deny,
    /// `gardefou override` ran a refused command.
    Override,
    /// `gardefou maintenance start|finish`: a switchover, a refusal, the mark set or cleared.
    Maintenance,
}

/// `[[notify]]`: a command run with the event (the audit entry, JSON) on its standard input.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    pub on: Vec<NotifyEvent>,
    /// Run with `sh -c`, e.g. `curl -fsS -m 5 --data-binary @- https://…`.
    pub command: String,
    /// Killed after this many seconds (default 10). The operator's command never waits for it.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    /// JSON-lines file the audit log is appended to.
    pub file: Option<PathBuf>,
    /// Also log commands that were allowed without any rule firing (default true).
    pub log_allowed: Option<bool>,
    /// Also send each entry to the system log: journald with GARDEFOU_* fields where it runs,
    /// else syslog (authpriv). Default true; nothing is sent when no daemon listens.
    pub syslog: Option<bool>,
    /// Send syslog lines to this socket (instead of journald, or /dev/log).
    pub syslog_socket: Option<PathBuf>,
}
