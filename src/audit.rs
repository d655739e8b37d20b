//! The audit log: one JSON object per line, appended with O_APPEND so that concurrent writers
//! never interleave inside a line. Fit for a postmortem: who, where, what, which rule, outcome.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::policy::{Decision, Policy, Reason};

pub const DEFAULT_FILE: &str = "/var/log/gardefou/audit.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub host: String,
    pub user: String,
    pub uid: u32,
    pub sudo_user: Option<String>,
    pub tty: Option<String>,
    pub cwd: Option<String>,
    pub environment: String,
    pub argv: Vec<String>,
    pub decision: Decision,
    pub snapshot: bool,
    pub reasons: Vec<Reason>,
    /// `executed`, `confirmed`, `refused`, `override`, `no-terminal-allowed`, …
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub override_reason: Option<String>,
    /// The snapshot taken before the command ran.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub snapshot_id: Option<String>,
    /// A coding agent's tool call, judged by its hook (`gardefou hook`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agent: Option<AgentCall>,
    /// The one-time approval issued, used or revoked (`gardefou approve`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub approval: Option<ApprovalRef>,
}

/// A one-time approval, as the audit names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRef {
    pub id: String,
    pub line: String,
    pub approved_by: String,
    /// How the guard met it: `the line`, `its command`, `the sh -c line of pid N`, `a reason
    /// left for the shims below pid N`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub matched: Option<String>,
    pub expires: String,
}

/// The agent whose tool call was judged, and what it was told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentCall {
    /// `claude-code`, …
    pub name: String,
    /// The agent's session id, as its payload gave it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session: Option<String>,
    /// The reason the agent (or its human) was shown.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

impl Entry {
    /// An entry for the calling process, with who/where filled in.
    pub fn now(host: &str, environment: &str, argv: &[std::ffi::OsString]) -> Entry {
        let uid = nix::unistd::getuid();
        let user = crate::facts::user_name();
        let tty = crate::facts::stdin_tty();
        Entry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            host: host.to_owned(),
            user,
            uid: uid.as_raw(),
            sudo_user: std::env::var("SUDO_USER").ok(),
            tty,
            cwd: std::env::current_dir()
                .ok()
                .map(|p| crate::facts::fs::show(&p)),
            environment: environment.to_owned(),
            argv: argv
                .iter()
                .map(|a| {
                    crate::intent::display_bytes(std::os::unix::ffi::OsStrExt::as_bytes(
                        a.as_os_str(),
                    ))
                })
                .collect(),
            decision: Decision::Allow,
            snapshot: false,
            reasons: Vec::new(),
            outcome: Outcome::Executed,
            override_reason: None,
            snapshot_id: None,
            agent: None,
            approval: None,
        }
    }
}

/// The log file the policy names, or the per-user fallback when that one cannot be written
/// (an unprivileged user cannot write to /var/log).
pub fn path(policy: &Policy) -> PathBuf {
    policy
        .audit_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE))
}

fn user_fallback() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("gardefou/audit.jsonl"))
}

fn append_to(path: &Path, line: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(line)
}

/// Appends one entry; returns the file written.
pub fn append(policy: &Policy, entry: &Entry) -> Result<PathBuf> {
    let mut line =
        serde_json::to_vec(entry).map_err(|e| Error::io("encoding audit entry", e.into()))?;
    line.push(b'\n');
    let main = path(policy);
    match append_to(&main, &line) {
        Ok(()) => Ok(main),
        Err(first) => match user_fallback() {
            Some(alt) if alt != main => append_to(&alt, &line).map(|()| alt.clone()).map_err(|e| {
                Error::io(
                    format!(
                        "writing audit log {} (and {})",
                        main.display(),
                        alt.display()
                    ),
                    e,
                )
            }),
            _ => Err(Error::io(
                format!("writing audit log {}", main.display()),
                first,
            )),
        },
    }
}

pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// One line for syslog: what was decided, by which rule, for whom, on what command, as
/// `key=value` fields a log pipeline can parse (values with spaces quoted). Pure.
pub fn syslog_line(e: &Entry) -> String {
    let quote = |v: &str| {
        if v.is_empty() || v.contains([' ', '"', '=']) {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            v.to_owned()
        }
    };
    let decision = e.decision.as_str();
    let rules: Vec<&str> = e.reasons.iter().map(|r| r.rule.as_str()).collect();
    let mut line = format!(
        "decision={decision} outcome={} user={} uid={} environment={} rule={} command={}",
        quote(e.outcome.as_str()),
        quote(&e.user),
        e.uid,
        quote(&e.environment),
        quote(&rules.join(",")),
        quote(&e.argv.join(" "))
    );
    if let Some(s) = &e.sudo_user {
        line.push_str(&format!(" sudo_user={}", quote(s)));
    }
    if let Some(r) = &e.override_reason {
        line.push_str(&format!(" override_reason={}", quote(r)));
    }
    if let Some(id) = &e.snapshot_id {
        line.push_str(&format!(" snapshot={}", quote(id)));
    }
    line
}

/// The fields journald keeps beside the message, for `journalctl GARDEFOU_DECISION=deny`.
fn journal_fields(e: &Entry) -> Vec<(&'static str, String)> {
    let decision = e.decision.as_str();
    let mut f = vec![
        ("SYSLOG_IDENTIFIER", "gardefou".to_owned()),
        ("SYSLOG_FACILITY", "10".to_owned()),
        ("GARDEFOU_DECISION", decision.to_owned()),
        ("GARDEFOU_OUTCOME", e.outcome.as_str().to_owned()),
        ("GARDEFOU_USER", e.user.clone()),
        ("GARDEFOU_UID", e.uid.to_string()),
        ("GARDEFOU_ENVIRONMENT", e.environment.clone()),
        ("GARDEFOU_COMMAND", e.argv.join(" ")),
    ];
    for r in &e.reasons {
        f.push(("GARDEFOU_RULE", r.rule.clone()));
    }
    if let Some(s) = &e.sudo_user {
        f.push(("GARDEFOU_SUDO_USER", s.clone()));
    }
    if let Some(r) = &e.override_reason {
        f.push(("GARDEFOU_OVERRIDE_REASON", r.clone()));
    }
    if let Some(id) = &e.snapshot_id {
        f.push(("GARDEFOU_SNAPSHOT", id.clone()));
    }
    f
}

/// Sends the entry to the system log (facility authpriv, as sudo does): refusals at warning,
/// overrides and maintenance at notice, the rest at info. To journald with fields of its own
/// (GARDEFOU_DECISION, GARDEFOU_RULE, GARDEFOU_USER, GARDEFOU_COMMAND…) when it runs and no
/// `syslog_socket` is named; else to the syslog socket. No daemon, nothing sent, no error.
pub fn to_syslog(policy: &Policy, e: &Entry) -> Result<()> {
    if policy.audit_syslog == Some(false) {
        return Ok(());
    }
    let line = syslog_line(e);
    let refused = e.outcome.is_refusal();
    let notable = e.outcome == Outcome::Override || e.outcome.is_maintenance();
    if policy.audit_syslog_socket.is_none()
        && Path::new(libsystemd::logging::SD_JOURNAL_SOCK_PATH).exists()
    {
        use libsystemd::logging::Priority;
        let priority = if refused {
            Priority::Warning
        } else if notable {
            Priority::Notice
        } else {
            Priority::Info
        };
        // A journald that stopped leaves its socket behind: not worth a warning on every
        // command (the audit file is the record; this is a copy).
        let _ = libsystemd::logging::journal_send(priority, &line, journal_fields(e).into_iter());
        return Ok(());
    }
    let socket = policy
        .audit_syslog_socket
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SYSLOG_SOCKET));
    if !socket.exists() {
        return Ok(());
    }
    let formatter = syslog::Formatter3164 {
        facility: syslog::Facility::LOG_AUTHPRIV,
        hostname: None,
        process: "gardefou".into(),
        pid: std::process::id(),
    };
    let failed = |what: String| Error::Usage(format!("syslog {}: {what}", socket.display()));
    let mut logger =
        syslog::unix_custom(formatter, &socket).map_err(|err| failed(err.to_string()))?;
    let sent = if refused {
        logger.warning(line)
    } else if notable {
        logger.notice(line)
    } else {
        logger.info(line)
    };
    sent.map_err(|err| failed(err.to_string()))
}

/// Reads entries back; lines that are not entries are reported, not skipped silently.
pub fn read(path: &Path) -> Result<Vec<std::result::Result<Entry, String>>> {
    let text =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    Ok(text
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| {
            serde_json::from_slice(l).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_syslog_line_names_decision_rule_user_and_command() {
        let mut e = Entry::now(
            "h",
            "production",
            &["rm".into(), "-rf".into(), "/var/lib".into()],
        );
        e.decision = Decision::Deny;
        e.outcome = Outcome::Refused;
        e.user = "ana".into();
        e.uid = 1000;
        e.reasons = vec![Reason {
            rule: "/etc/gardefou/policy.toml:protect.path#1 (line 3)".into(),
            message: "data".into(),
            decision: Decision::Deny,
            deferred: true,
        }];
        e.sudo_user = None;
        assert_eq!(
            syslog_line(&e),
            "decision=deny outcome=refused user=ana uid=1000 environment=production rule=\"/etc/gardefou/policy.toml:protect.path#1 (line 3)\" command=\"rm -rf /var/lib\""
        );
    }
}
