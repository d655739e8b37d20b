//! The pre-maintenance checklist: everything an operator should know before risky work on this
//! host, each item passed (✔), a warning (!) or a stop (✘) with its detail. It only reads:
//! the cluster daemon, the backup files, the snapshot store, `apt-get -s upgrade`, `who`, and
//! the host's own `[[preflight.check]]` commands. `--drill` also rehearses the failover path.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cluster::{self, Item, Mark, Plan, Settings, Status};
use crate::policy::{Environment, PackageMatchers, Policy};

/// What the checklist found, and the cluster status it read (for `maintenance start`).
#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub items: Vec<Item>,
    #[serde(skip)]
    pub status: Option<Status>,
    #[serde(skip)]
    pub plan: Option<Result<Plan, String>>,
}

/// Inputs the checklist needs that the caller already has.
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub env: &'a Environment,
    pub host: &'a str,
    pub policy_error: Option<&'a str>,
    pub drill: bool,
}

pub fn run(cx: &Context) -> Report {
    let mut items = Vec::new();
    items.push(Item::new(
        "environment",
        Mark::Pass,
        format!("{} ({})", cx.env.name, cx.env.because),
    ));
    items.push(policy_item(cx));
    items.push(net_item(cx));
    let settings = Settings::of(cx.policy.cluster.as_ref());
    items.push(maintenance_item(&settings.state_file));
    let (status, plan) = cluster_items(cx, &settings, &mut items);
    if let Some(item) = lock_item(cx) {
        items.push(item);
    }
    items.push(backup_item(cx.policy));
    items.extend(store_items(cx.policy));
    if cx.policy.preflight.pending_packages != Some(false) {
        items.push(packages_item(cx.policy));
    }
    items.push(users_item());
    for c in &cx.policy.preflight.check {
        items.push(custom_item(c));
    }
    let ok = items.iter().all(|i| i.mark != Mark::Fail);
    Report {
        ok,
        items,
        status,
        plan,
    }
}

/// The read-only net under guarded lines: on (and over what), off, or unavailable and why.
fn net_item(cx: &Context) -> Item {
    let state = crate::net::state(cx.policy, cx.env);
    let mark = match state {
        crate::net::State::Unavailable(_) => Mark::Warn,
        _ => Mark::Pass,
    };
    Item::new("net", mark, state.describe())
}

/// The maintenance lock's slots: a stop when another host of the group holds the last one
/// (or etcd cannot tell), since `maintenance start` would be refused.
fn lock_item(cx: &Context) -> Option<Item> {
    let recorded = crate::act::maintenance::recorded_group(cx.policy);
    let lock = match crate::cluster::lock::of_policy(cx.policy, cx.host, recorded.as_deref())? {
        Ok(l) => l,
        Err(e) => return Some(Item::new("maintenance lock", Mark::Fail, e.to_string())),
    };
    Some(match lock.read() {
        Ok(s) if !s.free_for(cx.host) => Item::new(
            "maintenance lock",
            Mark::Fail,
            format!(
                "{}: another host holds the last slot, maintenance here must wait",
                s.describe()
            ),
        ),
        Ok(s) if s.held_by(cx.host).is_some() => Item::new(
            "maintenance lock",
            Mark::Warn,
            format!("{} (this host holds one)", s.describe()),
        ),
        Ok(s) => Item::new("maintenance lock", Mark::Pass, s.describe()),
        Err(e) => Item::new("maintenance lock", Mark::Fail, e.to_string()),
    })
}

fn policy_item(cx: &Context) -> Item {
    if let Some(e) = cx.policy_error {
        return Item::new(
            "policy",
            Mark::Fail,
            format!("broken, built-in default in use: {e}"),
        );
    }
    let problems = crate::policy::load::lint(cx.policy);
    if problems.is_empty() {
        Item::new(
            "policy",
            Mark::Pass,
            format!("loaded: {}", cx.policy.sources.join(", ")),
        )
    } else {
        Item::new("policy", Mark::Fail, problems.join("; "))
    }
}

fn maintenance_item(state_file: &Path) -> Item {
    match crate::act::maintenance::current(state_file) {
        Ok(None) => Item::new("maintenance", Mark::Pass, "this host is not in maintenance"),
        Ok(Some(s)) => Item::new("maintenance", Mark::Warn, s.describe()),
        Err(e) => Item::new("maintenance", Mark::Fail, e.to_string()),
    }
}

type Read = (Option<Status>, Option<Result<Plan, String>>);

fn cluster_items(cx: &Context, settings: &Settings, items: &mut Vec<Item>) -> Read {
    let c = cx.policy.cluster.as_ref();
    let adapter = match cluster::from_policy(c, cx.host) {
        Ok(Some(a)) => a,
        Ok(None) => {
            items.push(Item::new(
                "cluster",
                Mark::Warn,
                "no [cluster] adapter: gardefou cannot move a primary role away from this host",
            ));
            return (None, None);
        }
        Err(e) => {
            items.push(Item::new("cluster", Mark::Fail, e.to_string()));
            return (None, None);
        }
    };
    let status = match adapter.status() {
        Ok(s) => s,
        Err(e) => {
            items.push(Item::new("cluster role", Mark::Fail, e.to_string()));
            if cx.drill {
                items.extend(adapter.drill(None).into_iter().map(drilled));
            }
            return (None, None);
        }
    };
    items.push(Item::new(
        "cluster role",
        match status.role {
            cluster::Role::Primary | cluster::Role::Secondary => Mark::Pass,
            _ => Mark::Fail,
        },
        format!("{} is {} ({})", status.node, status.role, status.adapter),
    ));
    if let Some(why) = &status.split_brain {
        items.push(Item::new("quorum", Mark::Fail, why.clone()));
    }
    if status.peers_visible {
        if status.peers.is_empty() {
            items.push(Item::new("peers", Mark::Fail, "no peer in the cluster"));
        }
        items.extend(cluster::describe_peers(&status, settings.max_lag));
    } else {
        items.push(Item::new(
            "peers",
            Mark::Warn,
            format!(
                "{} does not show its peers: check the standby by hand",
                status.adapter
            ),
        ));
    }
    let wanted = c
        .and_then(|c| c.patroni.as_ref())
        .and_then(|p| p.candidate.as_deref());
    let plan = cluster::plan(&status, settings.max_lag, wanted);
    items.push(match &plan {
        Ok(Plan::NothingToMove) => Item::new(
            "switchover",
            Mark::Pass,
            "not primary: nothing to move before maintenance",
        ),
        Ok(Plan::SwitchTo(Some(to))) => Item::new(
            "switchover",
            Mark::Pass,
            format!("`gardefou maintenance start` would switch over to {to}"),
        ),
        Ok(Plan::SwitchTo(None)) => Item::new(
            "switchover",
            Mark::Warn,
            format!("`gardefou maintenance start` would ask {} to move the primary role; it picks the peer", status.adapter),
        ),
        Err(why) => Item::new("switchover", Mark::Fail, why.clone()),
    });
    if let Ok(Plan::SwitchTo(Some(to))) = &plan {
        items.extend(adapter.switchover_checks(&status, to));
    }
    if cx.drill {
        items.extend(adapter.drill(Some(&status)).into_iter().map(drilled));
    }
    (Some(status), Some(plan))
}

fn drilled(mut i: Item) -> Item {
    i.name = format!("drill: {}", i.name);
    i
}

/// The newest file matching `pattern` and its modification time.
fn newest(pattern: &str) -> Option<(PathBuf, SystemTime)> {
    glob::glob(pattern)
        .ok()?
        .filter_map(|p| p.ok())
        .filter_map(|p| {
            std::fs::metadata(&p)
                .ok()
                .and_then(|m| m.modified().ok())
                .map(|t| (p, t))
        })
        .max_by_key(|(_, t)| *t)
}

fn backup_item(policy: &Policy) -> Item {
    let Some(pattern) = &policy.preflight.backup else {
        return Item::new(
            "backup",
            Mark::Warn,
            "no [preflight] backup glob: the age of the last backup is not checked",
        );
    };
    let max = Duration::from_secs(policy.preflight.max_backup_age_hours.unwrap_or(26) * 3600);
    match newest(pattern) {
        None => Item::new("backup", Mark::Fail, format!("no file matches {pattern}")),
        Some((path, time)) => {
            let age = SystemTime::now().duration_since(time).unwrap_or_default();
            let hours = age.as_secs_f64() / 3600.0;
            Item::new(
                "backup",
                if age <= max { Mark::Pass } else { Mark::Fail },
                format!(
                    "newest {} is {hours:.1} h old (max {} h)",
                    path.display(),
                    max.as_secs() / 3600
                ),
            )
        }
    }
}

fn store_items(policy: &Policy) -> Vec<Item> {
    let store = match crate::snapshot::store::Store::for_caller(policy) {
        Ok(s) => s,
        Err(e) => return vec![Item::new("snapshot store", Mark::Fail, e.to_string())],
    };
    let mut items = vec![match store.open() {
        Ok(()) => Item::new(
            "snapshot store",
            Mark::Pass,
            format!("{} is private to this user", store.root.display()),
        ),
        Err(e) => Item::new("snapshot store", Mark::Fail, e.to_string()),
    }];
    let min = policy
        .preflight
        .min_snapshot_free
        .as_deref()
        .and_then(crate::snapshot::parse_size)
        .unwrap_or(1 << 30);
    let existing = store
        .root
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    items.push(match crate::snapshot::available(existing) {
        Ok(free) => Item::new(
            "snapshot space",
            if free >= min { Mark::Pass } else { Mark::Fail },
            format!(
                "{} free for snapshots on {} (min {})",
                crate::snapshot::human_size(free),
                existing.display(),
                crate::snapshot::human_size(min)
            ),
        ),
        Err(e) => Item::new("snapshot space", Mark::Fail, e.to_string()),
    });
    items
}

fn packages_item(policy: &Policy) -> Item {
    let ran = cluster::run::run(
        "apt-get".as_ref(),
        &["-s", "-q", "upgrade"],
        &[("LC_ALL", "C")],
        Duration::from_secs(60),
    );
    let text = match ran {
        Ok(r) if r.code == Some(0) => r.stdout,
        Ok(r) => {
            return Item::new(
                "pending packages",
                Mark::Warn,
                format!("apt-get -s upgrade: {}", r.last_line()),
            );
        }
        Err(e) => return Item::new("pending packages", Mark::Warn, e.to_string()),
    };
    let changes = crate::facts::apt::parse_simulation(&text);
    let matchers = PackageMatchers::new(policy);
    let protected: Vec<String> = changes
        .iter()
        .filter(|c| {
            policy
                .packages
                .iter()
                .enumerate()
                .any(|(i, r)| matchers.matches(i, &c.package) && c.change.matches(&r.on))
        })
        .map(|c| format!("{} ({})", c.package, c.change.word().to_lowercase()))
        .collect();
    if changes.is_empty() {
        Item::new(
            "pending packages",
            Mark::Pass,
            "apt-get -s upgrade: nothing to upgrade",
        )
    } else if protected.is_empty() {
        Item::new(
            "pending packages",
            Mark::Pass,
            format!("{} package(s) would change, none protected", changes.len()),
        )
    } else {
        Item::new(
            "pending packages",
            Mark::Warn,
            format!(
                "{} package(s) would change; protected: {}",
                changes.len(),
                protected.join(", ")
            ),
        )
    }
}

fn users_item() -> Item {
    let me = crate::facts::stdin_tty();
    match cluster::run::run("who".as_ref(), &[], &[], Duration::from_secs(5)) {
        Ok(r) => {
            let others: Vec<String> = r
                .stdout
                .lines()
                .filter(|l| {
                    let tty = l.split_whitespace().nth(1).unwrap_or("");
                    me.as_deref() != Some(&format!("/dev/{tty}"))
                })
                .map(|l| {
                    l.split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" on ")
                })
                .collect();
            if others.is_empty() {
                Item::new("users", Mark::Pass, "no one else is logged in")
            } else {
                Item::new(
                    "users",
                    Mark::Warn,
                    format!("also logged in: {}", others.join(", ")),
                )
            }
        }
        Err(e) => Item::new("users", Mark::Warn, e.to_string()),
    }
}

fn custom_item(c: &crate::policy::schema::PreflightCheck) -> Item {
    let limit = Duration::from_secs(c.timeout_secs.unwrap_or(10));
    let failed = if c.warn_only { Mark::Warn } else { Mark::Fail };
    match cluster::run::shell(&c.command, limit) {
        Ok(r) if r.code == Some(0) => Item::new(&c.name, Mark::Pass, r.last_line()),
        Ok(r) => Item::new(
            &c.name,
            failed,
            format!("{}: {}", r.exit_text(), r.last_line()),
        ),
        Err(e) => Item::new(&c.name, failed, e.to_string()),
    }
}

/// The checklist as the operator reads it: one line per item.
pub fn render(items: &[Item]) -> String {
    use crate::policy::schema::Color;
    let mut out = String::new();
    for i in items {
        let mark = match i.mark {
            Mark::Pass => crate::render::paint("✔", Color::Green),
            Mark::Warn => crate::render::paint("!", Color::Yellow),
            Mark::Fail => crate::render::paint("✘", Color::Red),
        };
        out.push_str(&format!("{mark} {}: {}\n", i.name, i.detail));
    }
    out
}
