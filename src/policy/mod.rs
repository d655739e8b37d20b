//! Policies: the schema, loading and merging of policy files, and the pure evaluation that turns
//! an intent and its facts into a verdict.

pub mod cache;
pub mod eval;
pub mod load;
pub mod schema;

use std::collections::BTreeMap;
use std::path::PathBuf;

use regex_lite::Regex;

pub use eval::{Decision, Reason, Verdict};
use serde::{Deserialize, Serialize};

use schema::{
    Action, Color, ConfirmWith, EnvironmentSpec, NonInteractive, PackageOp, SnapshotSection,
};

/// Where a rule or setting came from: a file path, or `<embedded>/NAME` for the built-in default.
pub type Origin = String;

/// A `[[protect.path]]` rule after loading, named `origin:protect.path#N` (N counts from 1 in
/// each file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathRule {
    pub id: String,
    pub line: usize,
    pub path: String,
    pub action: Action,
    /// Snapshot before a confirmed deletion (always true in effect for `action = "snapshot"`).
    pub snapshot: bool,
    /// What a change inside the protected tree gets (the rule's `action` unless set).
    pub contents: schema::Contents,
    /// Whether the read-only net covers the tree (`net`, default true).
    #[serde(default = "yes")]
    pub net: bool,
    pub reason: Option<String>,
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageRule {
    pub id: String,
    pub line: usize,
    pub name: String,
    pub on: Vec<PackageOp>,
    pub action: Action,
    pub data: Vec<String>,
    pub reason: Option<String>,
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SqlRule {
    pub id: String,
    pub line: usize,
    pub engine: schema::Engine,
    pub database: String,
    pub statements: Vec<schema::SqlStatement>,
    pub action: Action,
    pub snapshot: bool,
    /// For `delete`/`update`: fire only above this many rows, or this fraction of the table.
    #[serde(default)]
    pub max_rows: Option<u64>,
    #[serde(default)]
    pub max_fraction: Option<f64>,
    pub reason: Option<String>,
    pub environments: Option<Vec<String>>,
}

/// A `[[protect.service]]` rule after loading (`origin:protect.service#N`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceRule {
    pub id: String,
    pub line: usize,
    pub unit: String,
    pub on: Vec<crate::intent::host::ServiceOp>,
    pub action: Action,
    pub reason: Option<String>,
    pub environments: Option<Vec<String>>,
}

impl ServiceRule {
    /// Whether the rule names `unit`. A glob that does not compile (`policy check` says so)
    /// names every unit: fail safe.
    pub fn names(&self, unit: &crate::intent::host::Unit) -> bool {
        globset::Glob::new(&self.unit).map_or(true, |g| {
            crate::intent::host::unit_matches(&g.compile_matcher(), &self.unit, unit)
        })
    }
}

/// A `[[protect.power]]` rule after loading (`origin:protect.power#N`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PowerRule {
    pub id: String,
    pub line: usize,
    pub on: Vec<crate::intent::host::PowerOp>,
    pub action: Action,
    pub reason: Option<String>,
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectRule {
    pub id: String,
    pub hostname: String,
    pub environment: String,
}

/// The effective policy: every loaded file merged in order. Rules accumulate; for settings the
/// last file that sets a key wins.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Policy {
    pub sources: Vec<Origin>,
    pub environment: Option<(String, Origin)>,
    pub detect: Vec<DetectRule>,
    pub environments: BTreeMap<String, EnvironmentSpec>,
    pub paths: Vec<PathRule>,
    pub packages: Vec<PackageRule>,
    pub sql: Vec<SqlRule>,
    #[serde(default)]
    pub services: Vec<ServiceRule>,
    #[serde(default)]
    pub power: Vec<PowerRule>,
    /// `[host] name`, when a file sets it.
    #[serde(default)]
    pub host_name: Option<String>,
    /// The last `[maintenance.lock]` loaded.
    #[serde(default)]
    pub lock: Option<schema::LockSpec>,
    pub snapshot: SnapshotSection,
    /// The last `[cluster]` section loaded, whole.
    pub cluster: Option<schema::ClusterSection>,
    /// The last `[preflight]` section's settings; checks accumulate from every file.
    pub preflight: schema::PreflightSection,
    pub audit_file: Option<PathBuf>,
    /// `[[notify]]` commands from every file, in order.
    pub notify: Vec<schema::NotifySpec>,
    pub audit_log_allowed: Option<bool>,
    pub audit_syslog: Option<bool>,
    pub audit_syslog_socket: Option<PathBuf>,
    /// `[net] enabled`, when a file sets it.
    #[serde(default)]
    pub net_enabled: Option<bool>,
}

fn yes() -> bool {
    true
}

/// The environment this host is in, with everything a confirmation and a prompt need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    pub color: Color,
    pub confirm_with: ConfirmWith,
    pub non_interactive: NonInteractive,
    /// Why this environment: `--env`, the policy key that set it, or the fallback.
    pub because: String,
}

/// The environment a host gets when nothing names one: the strictest.
pub const FALLBACK_ENVIRONMENT: &str = "production";

fn builtin_environment(name: &str) -> EnvironmentSpec {
    let (color, confirm_with) = match name {
        "staging" | "preprod" | "uat" => (Color::Yellow, ConfirmWith::Hostname),
        "dev" | "development" | "test" | "lab" => (Color::Green, ConfirmWith::Target),
        "production" | "prod" => (Color::Red, ConfirmWith::Hostname),
        _ => (Color::Magenta, ConfirmWith::Hostname),
    };
    EnvironmentSpec {
        color: Some(color),
        confirm_with: Some(confirm_with),
        non_interactive: Some(NonInteractive::Deny),
    }
}

impl Policy {
    /// Resolves the environment: `forced` (from `--env`), else `[host] environment`, else the
    /// first `[[host.detect]]` whose regex matches the hostname, else production. A detect regex
    /// that does not compile is an error (the caller treats the host as production).
    pub fn environment(
        &self,
        hostname: &str,
        forced: Option<&str>,
    ) -> Result<Environment, crate::Error> {
        let (name, because) = if let Some(name) = forced {
            (name.to_owned(), "--env".to_owned())
        } else if let Some((name, origin)) = &self.environment {
            (name.clone(), format!("host.environment in {origin}"))
        } else {
            let mut found = None;
            for rule in &self.detect {
                let re = Regex::new(&rule.hostname).map_err(|e| {
                    crate::Error::Usage(format!("{}: bad hostname regex: {e}", rule.id))
                })?;
                if re.is_match(hostname) {
                    found = Some((
                        rule.environment.clone(),
                        format!("{} matched {hostname}", rule.id),
                    ));
                    break;
                }
            }
            found.unwrap_or_else(|| {
                (
                    FALLBACK_ENVIRONMENT.to_owned(),
                    "no environment configured: treated as production".to_owned(),
                )
            })
        };
        let builtin = builtin_environment(&name);
        let spec = self.environments.get(&name).cloned().unwrap_or_default();
        Ok(Environment {
            color: spec.color.or(builtin.color).unwrap_or(Color::Red),
            confirm_with: spec
                .confirm_with
                .or(builtin.confirm_with)
                .unwrap_or(ConfirmWith::Hostname),
            non_interactive: spec
                .non_interactive
                .or(builtin.non_interactive)
                .unwrap_or(NonInteractive::Deny),
            name,
            because,
        })
    }

    /// The strict environment used when the policy itself could not be read.
    pub fn fallback_environment(because: &str) -> Environment {
        Environment {
            name: FALLBACK_ENVIRONMENT.to_owned(),
            color: Color::Red,
            confirm_with: ConfirmWith::Hostname,
            non_interactive: NonInteractive::Deny,
            because: because.to_owned(),
        }
    }
}

/// The package rules' name globs, compiled once, in rule order. A glob that does not compile
/// matches every package (None): a broken rule must not let through what it was written to
/// stop (`policy check` reports it).
pub struct PackageMatchers(Vec<Option<globset::GlobMatcher>>);

impl PackageMatchers {
    pub fn new(policy: &Policy) -> Self {
        PackageMatchers(
            policy
                .packages
                .iter()
                .map(|r| {
                    globset::Glob::new(&r.name)
                        .ok()
                        .map(|g| g.compile_matcher())
                })
                .collect(),
        )
    }

    /// Whether rule number `rule` names `package`.
    pub fn matches(&self, rule: usize, package: &str) -> bool {
        self.0
            .get(rule)
            .is_none_or(|m| m.as_ref().is_none_or(|m| m.is_match(package)))
    }
}

/// Whether a rule limited to `environments` applies in `env`.
impl Policy {
    /// This host's identity for the maintenance lock and messages: `[host] name`, else the
    /// hostname.
    pub fn host_name(&self) -> String {
        self.host_name
            .clone()
            .unwrap_or_else(crate::facts::hostname)
    }
}

pub fn applies_in(environments: &Option<Vec<String>>, env: &str) -> bool {
    environments
        .as_ref()
        .is_none_or(|list| list.iter().any(|e| e == env))
}
