//! Cluster coordination: gardefou never implements a cluster, it drives the one the host runs.
//!
//! One trait, [`Cluster`], and one file per adapter (Patroni's REST API, Pacemaker's tools,
//! SafeKit's command, keepalived's notify state, the operator's own commands). Adapters report
//! what the daemon says — this node's role, its peers' health and lag, a lost quorum — and pass
//! requests on; the decision whether a switchover may go ahead is [`plan`], a pure function,
//! so that "never fail over to a lagging standby" is tested without a cluster.

pub mod command;
pub mod keepalived;
pub mod lock;
pub mod pacemaker;
pub mod patroni;
pub mod run;
pub mod safekit;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::schema::{Adapter, ClusterSection, OnPrimary};

/// The role of a node, as gardefou needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "role", content = "detail")]
pub enum Role {
    /// Holds the primary role (leader, promoted instance, PRIM, MASTER).
    Primary,
    /// A standby, or a node that holds nothing.
    Secondary,
    /// Primary with no peer to take over (SafeKit ALONE, a one-member cluster).
    Alone,
    /// The daemon's answer does not say (starting, stopped, WAIT); why.
    Unknown(String),
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Primary => write!(f, "primary"),
            Role::Secondary => write!(f, "secondary"),
            Role::Alone => write!(f, "alone (primary without a peer)"),
            Role::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

/// A peer's replication lag behind the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "bytes")]
pub enum Lag {
    Bytes(u64),
    /// The daemon reports lag, but not for this member (it is not streaming).
    Unknown,
    /// The daemon has no notion of lag (Pacemaker, SafeKit, keepalived): its own rules decide
    /// which standby may take over.
    NotReported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub name: String,
    pub role: Role,
    /// Running, reachable, allowed to take over.
    pub healthy: bool,
    pub lag: Lag,
    pub detail: String,
}

/// What the cluster daemon says, read once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub adapter: &'static str,
    /// This node's name in the cluster.
    pub node: String,
    pub role: Role,
    pub peers: Vec<Peer>,
    /// Whether the daemon shows its peers at all (keepalived does not).
    pub peers_visible: bool,
    /// No quorum, two primaries, WAIT: the cluster cannot be trusted to move anything.
    pub split_brain: Option<String>,
}

/// What `maintenance start` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// This node is not primary: nothing to move.
    NothingToMove,
    /// Ask for a switchover to this peer (None: the daemon picks, its peers being invisible).
    SwitchTo(Option<String>),
}

/// One line of a check: passed, a warning, or a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub name: String,
    pub mark: Mark,
    pub detail: String,
}

impl Item {
    pub fn new(name: &str, mark: Mark, detail: impl Into<String>) -> Item {
        Item {
            name: name.to_owned(),
            mark,
            detail: detail.into(),
        }
    }
}

/// One cluster daemon.
pub trait Cluster {
    /// This node's role and what the daemon knows of its peers.
    fn status(&self) -> Result<Status>;
    /// Asks the daemon to move the primary role away from this node (to `to` when named).
    /// Returns what the daemon answered.
    fn switchover(&self, status: &Status, to: Option<&str>) -> Result<String>;
    /// After maintenance: lets this node take the primary role again (leave standby, …).
    fn release(&self, status: &Status) -> Result<String>;
    /// Moves the primary role back to this node. `Error::Usage` when the daemon has no such
    /// request; `Error::Cluster` when it refused this time.
    fn switch_back(&self, status: &Status) -> Result<String>;
    /// Rehearses the failover path without changing anything: every API and command a
    /// switchover would use is reached.
    fn drill(&self, status: Option<&Status>) -> Vec<Item>;
    /// What must hold for a switchover to `candidate` to lose nothing, as repmgr's `standby
    /// switchover --dry-run` checks it: one item each (the candidate's timeline, synchronous
    /// replication, paused replay…). Empty when the daemon tells none of it.
    fn switchover_checks(&self, _status: &Status, _candidate: &str) -> Vec<Item> {
        Vec::new()
    }
    /// The cluster's own name (Patroni's scope), the maintenance lock's default group.
    /// Ok(None): this daemon has no name to give; Err: it has one but did not answer.
    fn name(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Whether an HTTP request certainly never reached the server: no address, no connection.
/// A timeout after connecting, or a broken answer, may have followed a request that was acted on.
pub fn never_sent(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed | ureq::Error::BadUri(_) => true,
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::NotFound
                | std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::NetworkUnreachable
                | std::io::ErrorKind::HostUnreachable
        ),
        _ => false,
    }
}

/// The settings every adapter shares, with defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_lag: u64,
    pub timeout: Duration,
    pub poll: Duration,
    pub on_primary: OnPrimary,
    pub state_file: PathBuf,
}

pub const DEFAULT_STATE_FILE: &str = "/var/lib/gardefou/maintenance.json";
/// gardefou's own share of a switchover's time must stay negligible: never poll slower.
pub const MAX_POLL: Duration = Duration::from_millis(250);

impl Settings {
    pub fn of(c: Option<&ClusterSection>) -> Settings {
        let max_lag = c
            .and_then(|c| c.max_lag.as_deref())
            .and_then(crate::snapshot::parse_size)
            .unwrap_or(1 << 20);
        Settings {
            max_lag,
            timeout: Duration::from_secs(c.and_then(|c| c.timeout_secs).unwrap_or(120)),
            poll: Duration::from_millis(c.and_then(|c| c.poll_ms).unwrap_or(250).max(10))
                .min(MAX_POLL),
            on_primary: c.and_then(|c| c.on_primary).unwrap_or(OnPrimary::Confirm),
            state_file: c
                .and_then(|c| c.state_file.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_FILE)),
        }
    }
}

/// The adapter the policy names; None for `adapter = "none"` or no `[cluster]`.
pub fn from_policy(c: Option<&ClusterSection>, host: &str) -> Result<Option<Box<dyn Cluster>>> {
    let Some(c) = c else { return Ok(None) };
    let settings = Settings::of(Some(c));
    let missing = |section: &str| {
        Error::Usage(format!(
            "[cluster] adapter = \"{section}\" needs a [cluster.{section}] section"
        ))
    };
    Ok(match c.adapter {
        Adapter::None => None,
        Adapter::Patroni => Some(Box::new(patroni::Patroni::new(
            c.patroni.clone().unwrap_or_default(),
            settings.max_lag,
        ))),
        Adapter::Pacemaker => Some(Box::new(pacemaker::Pacemaker::new(
            c.pacemaker.clone().ok_or_else(|| missing("pacemaker"))?,
            host,
        ))),
        Adapter::Safekit => Some(Box::new(safekit::Safekit::new(
            c.safekit.clone().ok_or_else(|| missing("safekit"))?,
        ))),
        Adapter::Keepalived => Some(Box::new(keepalived::Keepalived::new(
            c.keepalived.clone().ok_or_else(|| missing("keepalived"))?,
        ))),
        Adapter::Command => Some(Box::new(command::Commands::new(
            c.command.clone().ok_or_else(|| missing("command"))?,
        ))),
    })
}

/// Problems in a `[cluster]` section, for `policy check`.
pub fn lint(c: &ClusterSection) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(lag) = &c.max_lag
        && crate::snapshot::parse_size(lag).is_none()
    {
        problems.push(format!(
            "[cluster] max_lag = {lag:?} is not a size such as \"1M\""
        ));
    }
    if c.poll_ms
        .is_some_and(|p| p == 0 || p > MAX_POLL.as_millis() as u64)
    {
        problems.push("[cluster] poll_ms must be between 1 and 250".into());
    }
    if let Err(e) = from_policy(Some(c), "lint") {
        problems.push(e.to_string());
    }
    if let Some(p) = &c.patroni {
        problems.extend(patroni::lint(p));
    }
    problems
}

fn show_lag(lag: Lag) -> String {
    match lag {
        Lag::Bytes(b) => crate::snapshot::human_size(b),
        Lag::Unknown => "unknown".into(),
        Lag::NotReported => "not reported".into(),
    }
}

/// Why `peer` may not take over, or None when it may.
fn unfit(peer: &Peer, max_lag: u64) -> Option<String> {
    if !peer.healthy {
        return Some(format!("not healthy ({})", peer.detail));
    }
    if peer.role != Role::Secondary {
        return Some(format!("role {}", peer.role));
    }
    match peer.lag {
        Lag::Bytes(b) if b > max_lag => Some(format!(
            "lags {} behind (max_lag {})",
            crate::snapshot::human_size(b),
            crate::snapshot::human_size(max_lag)
        )),
        Lag::Unknown => Some("its lag is unknown (not streaming?)".into()),
        _ => None,
    }
}

/// What keeps the cluster from being healthy after maintenance, member by member: one not
/// running or reachable, a standby beyond `max_lag` or not streaming. Empty: healthy. Pure.
pub fn unhealthy_members(s: &Status, max_lag: u64) -> Vec<String> {
    let mut out = Vec::new();
    for p in &s.peers {
        if !p.healthy {
            out.push(format!("{} is not healthy ({})", p.name, p.detail));
            continue;
        }
        if p.role == Role::Primary {
            continue;
        }
        match p.lag {
            Lag::Bytes(b) if b > max_lag => out.push(format!(
                "{} lags {} behind (max_lag {})",
                p.name,
                crate::snapshot::human_size(b),
                crate::snapshot::human_size(max_lag)
            )),
            Lag::Unknown => out.push(format!("{}: its lag is unknown (not streaming?)", p.name)),
            _ => {}
        }
    }
    out
}

/// Decides whether this node's primary role may be moved, and where: never while the cluster
/// reports a split brain or lost quorum, never to an unhealthy or lagging standby. `wanted`:
/// the candidate the policy names. Pure.
pub fn plan(s: &Status, max_lag: u64, wanted: Option<&str>) -> std::result::Result<Plan, String> {
    if let Some(why) = &s.split_brain {
        return Err(format!(
            "the {} cluster cannot be trusted to move anything: {why}",
            s.adapter
        ));
    }
    match &s.role {
        Role::Secondary => return Ok(Plan::NothingToMove),
        Role::Alone => {
            return Err(format!(
                "{} is primary with no peer to take over: maintenance here is an outage",
                s.node
            ));
        }
        Role::Unknown(why) => {
            return Err(format!("the role of {} is unknown: {why}", s.node));
        }
        Role::Primary => {}
    }
    if !s.peers_visible {
        return Ok(Plan::SwitchTo(None));
    }
    let mut refused = Vec::new();
    let mut best: Option<&Peer> = None;
    for p in &s.peers {
        if wanted.is_some_and(|w| w != p.name) {
            continue;
        }
        match unfit(p, max_lag) {
            Some(why) => refused.push(format!("{}: {why}", p.name)),
            None => {
                let lag = |p: &Peer| match p.lag {
                    Lag::Bytes(b) => b,
                    _ => 0,
                };
                if best.is_none_or(|b| lag(p) < lag(b)) {
                    best = Some(p);
                }
            }
        }
    }
    match best {
        Some(p) => Ok(Plan::SwitchTo(Some(p.name.clone()))),
        None if refused.is_empty() => Err(match wanted {
            Some(w) => format!("the candidate {w} is not a member of the cluster"),
            None => "no standby to take over".into(),
        }),
        None => Err(format!(
            "no standby fit to take over: {}",
            refused.join("; ")
        )),
    }
}

/// The rule named in a verdict when a risky command meets a primary not in maintenance.
pub const ON_PRIMARY_RULE: &str = "[cluster] on_primary";

/// What a risky command (one that a rule fired on) becomes on this node: a primary that is not
/// in maintenance gets a reason — and with `on_primary` confirm or deny, that decision at least.
/// Pure.
pub fn on_primary(status: &Status, on: OnPrimary) -> Option<(crate::policy::Decision, String)> {
    use crate::policy::Decision;
    if !matches!(status.role, Role::Primary | Role::Alone) {
        return None;
    }
    let decision = match on {
        OnPrimary::Warn => Decision::Allow,
        OnPrimary::Confirm => Decision::Confirm,
        OnPrimary::Deny => Decision::Deny,
    };
    Some((
        decision,
        format!(
            "{} is the PRIMARY of the {} cluster and not in maintenance: run `gardefou maintenance start` first (it moves the primary role to a healthy standby)",
            status.node, status.adapter
        ),
    ))
}

/// One line per peer, for the checklist and messages.
pub fn describe_peers(s: &Status, max_lag: u64) -> Vec<Item> {
    s.peers
        .iter()
        .map(|p| {
            // The current primary is not a candidate, and nothing to worry about.
            let mark = if unfit(p, max_lag).is_none() || p.role == Role::Primary {
                Mark::Pass
            } else {
                Mark::Warn
            };
            Item::new(
                &format!("peer {}", p.name),
                mark,
                format!(
                    "{}, {}, lag {}{}",
                    p.role,
                    if p.healthy { "healthy" } else { "NOT healthy" },
                    show_lag(p.lag),
                    if p.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", p.detail)
                    }
                ),
            )
        })
        .collect()
}

/// Asks for `status` every `poll` until `done` says so or `timeout` passes; `tick` sees each
/// answer (for a progress line). Errors from the daemon while it moves roles are expected and
/// retried.
pub fn wait_until(
    cluster: &dyn Cluster,
    settings: &Settings,
    done: impl Fn(&Status) -> bool,
    mut tick: impl FnMut(&std::result::Result<Status, String>, Duration),
) -> std::result::Result<(Status, Duration), String> {
    let start = Instant::now();
    loop {
        let answer = cluster.status().map_err(|e| e.to_string());
        tick(&answer, start.elapsed());
        if let Ok(s) = &answer
            && done(s)
        {
            return Ok((s.clone(), start.elapsed()));
        }
        if start.elapsed() >= settings.timeout {
            return Err(match answer {
                Ok(s) => format!(
                    "after {} s this node is still {}",
                    settings.timeout.as_secs(),
                    s.role
                ),
                Err(e) => format!("after {} s: {e}", settings.timeout.as_secs()),
            });
        }
        std::thread::sleep(settings.poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, healthy: bool, lag: Lag) -> Peer {
        Peer {
            name: name.into(),
            role: Role::Secondary,
            healthy,
            lag,
            detail: String::new(),
        }
    }

    fn status(role: Role, peers: Vec<Peer>) -> Status {
        Status {
            adapter: "patroni",
            node: "pg0".into(),
            role,
            peers,
            peers_visible: true,
            split_brain: None,
        }
    }

    const MB: u64 = 1 << 20;

    #[test]
    fn a_secondary_has_nothing_to_move() {
        let s = status(Role::Secondary, vec![]);
        assert_eq!(plan(&s, MB, None), Ok(Plan::NothingToMove));
    }

    #[test]
    fn the_least_lagging_healthy_standby_is_chosen() {
        let s = status(
            Role::Primary,
            vec![
                peer("a", true, Lag::Bytes(5000)),
                peer("b", true, Lag::Bytes(10)),
                peer("c", false, Lag::Bytes(0)),
            ],
        );
        assert_eq!(plan(&s, MB, None), Ok(Plan::SwitchTo(Some("b".into()))));
    }

    #[test]
    fn a_standby_lagging_beyond_max_lag_is_never_chosen() {
        let s = status(Role::Primary, vec![peer("b", true, Lag::Bytes(2 * MB))]);
        let e = plan(&s, MB, None).unwrap_err();
        assert!(
            e.contains("b: lags 2.00 MiB behind (max_lag 1.00 MiB)"),
            "{e}"
        );
        let s = status(Role::Primary, vec![peer("b", true, Lag::Unknown)]);
        assert!(plan(&s, MB, None).unwrap_err().contains("lag is unknown"));
        // Daemons that do not report lag decide themselves.
        let s = status(Role::Primary, vec![peer("b", true, Lag::NotReported)]);
        assert_eq!(plan(&s, MB, None), Ok(Plan::SwitchTo(Some("b".into()))));
    }

    #[test]
    fn a_named_candidate_must_itself_be_fit() {
        let s = status(
            Role::Primary,
            vec![
                peer("a", true, Lag::Bytes(0)),
                peer("b", false, Lag::Bytes(0)),
            ],
        );
        assert!(
            plan(&s, MB, Some("b"))
                .unwrap_err()
                .contains("b: not healthy")
        );
        assert!(
            plan(&s, MB, Some("zz"))
                .unwrap_err()
                .contains("not a member")
        );
        assert_eq!(
            plan(&s, MB, Some("a")),
            Ok(Plan::SwitchTo(Some("a".into())))
        );
    }

    #[test]
    fn split_brain_alone_and_unknown_refuse() {
        let mut s = status(Role::Primary, vec![peer("b", true, Lag::Bytes(0))]);
        s.split_brain = Some("no quorum".into());
        assert!(plan(&s, MB, None).unwrap_err().contains("no quorum"));
        let s = status(Role::Alone, vec![]);
        assert!(plan(&s, MB, None).unwrap_err().contains("outage"));
        let s = status(Role::Unknown("WAIT".into()), vec![]);
        assert!(plan(&s, MB, None).unwrap_err().contains("WAIT"));
        let s = status(Role::Primary, vec![]);
        assert!(plan(&s, MB, None).unwrap_err().contains("no standby"));
    }

    #[test]
    fn on_a_primary_a_risky_command_gets_the_policys_decision() {
        use crate::policy::Decision;
        let s = status(Role::Primary, vec![]);
        let (d, why) = on_primary(&s, OnPrimary::Deny).unwrap();
        assert_eq!(d, Decision::Deny);
        assert!(why.contains("gardefou maintenance start"), "{why}");
        assert_eq!(
            on_primary(&s, OnPrimary::Confirm).unwrap().0,
            Decision::Confirm
        );
        assert_eq!(on_primary(&s, OnPrimary::Warn).unwrap().0, Decision::Allow);
        assert_eq!(
            on_primary(&status(Role::Alone, vec![]), OnPrimary::Deny)
                .unwrap()
                .0,
            Decision::Deny
        );
        assert_eq!(
            on_primary(&status(Role::Secondary, vec![]), OnPrimary::Deny),
            None
        );
        assert_eq!(
            on_primary(&status(Role::Unknown("x".into()), vec![]), OnPrimary::Deny),
            None
        );
    }

    #[test]
    fn invisible_peers_leave_the_choice_to_the_daemon() {
        let mut s = status(Role::Primary, vec![]);
        s.peers_visible = false;
        assert_eq!(plan(&s, MB, None), Ok(Plan::SwitchTo(None)));
    }

    #[test]
    fn patroni_credentials_are_linted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "secret\n").unwrap();
        let section = |user: Option<&str>, pw: Option<&std::path::Path>| -> ClusterSection {
            let mut text = "adapter = \"patroni\"\n[patroni]\n".to_owned();
            if let Some(u) = user {
                text.push_str(&format!("username = \"{u}\"\n"));
            }
            if let Some(p) = pw {
                text.push_str(&format!("password_file = \"{}\"\n", p.display()));
            }
            toml::from_str(&text).unwrap()
        };
        let problems = |c: &ClusterSection| lint(c).join("\n");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(problems(&section(Some("u"), Some(&file))), "");
        assert_eq!(problems(&section(None, None)), "");
        assert!(problems(&section(Some("u"), None)).contains("go together"));
        assert!(problems(&section(None, Some(&file))).contains("go together"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(problems(&section(Some("u"), Some(&file))).contains("make it 0600"));
        let missing = dir.path().join("none");
        assert!(problems(&section(Some("u"), Some(&missing))).contains("password_file"));
    }
}
