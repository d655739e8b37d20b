//! `gardefou maintenance start|finish|status`: risky work on a primary begins with the cluster
//! daemon moving the primary role away, not with hope. `start` runs the checklist, asks for
//! the switchover (typed confirmation), waits until this node is secondary, then marks the host
//! in maintenance (state file, prompt badge, audit). `finish` releases what start did (leave
//! standby, …), optionally switches back, and clears the mark. The decisions — may the role
//! move, and where — are `cluster::plan`'s; this module carries them out.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::confirm::{self, Answer};
use super::guard::{Run as Audited, record};
use crate::cluster::lock::{self, Holder, Lock, Taken};
use crate::cluster::{self, Cluster, Plan, Role, Settings, Status};
use crate::error::{Error, Result};
use crate::facts::hostname;
use crate::outcome::Outcome;
use crate::pipeline::{environment, load_failsafe};
use crate::policy::{Decision, Environment, Policy, Verdict};
use crate::preflight;

/// The mark a host in maintenance carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub since: String,
    pub user: String,
    pub host: String,
    pub reason: Option<String>,
    pub adapter: Option<String>,
    /// This node's role when maintenance started.
    pub role_before: Option<String>,
    /// The member that took the primary role, when one was named.
    pub switched_to: Option<String>,
    /// Request → this node secondary, in milliseconds.
    pub switchover_ms: Option<u64>,
    /// The maintenance-lock slot this host holds: "group G, slot N".
    #[serde(default)]
    pub lock: Option<String>,
}

impl State {
    /// The group of the maintenance-lock slot this host holds (`lock` is "group G, slot N").
    pub fn lock_group(&self) -> Option<&str> {
        self.lock
            .as_deref()?
            .strip_prefix("group ")?
            .rsplit_once(", slot ")
            .map(|(g, _)| g)
    }

    pub fn describe(&self) -> String {
        format!(
            "in maintenance since {} by {}{}",
            self.since,
            self.user,
            self.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    }
}

/// The group of the maintenance-lock slot the policy's host holds, from its maintenance state
/// (None: not in maintenance, no slot, or the state cannot be read).
pub fn recorded_group(policy: &Policy) -> Option<String> {
    let settings = Settings::of(policy.cluster.as_ref());
    current(&settings.state_file)
        .ok()
        .flatten()
        .and_then(|s| s.lock_group().map(str::to_owned))
}

/// The maintenance mark, if the host carries one.
pub fn current(state_file: &Path) -> Result<Option<State>> {
    match std::fs::read_to_string(state_file) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::Usage(format!(
                "{}: not a maintenance state file ({e}): remove it or run `gardefou maintenance finish`",
                state_file.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {}", state_file.display()), e)),
    }
}

fn write_state(path: &Path, state: &State) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| Error::Usage(format!("cannot encode the maintenance state: {e}")))?;
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// What one run of `maintenance` needs.
struct Run {
    policy: Policy,
    env: Environment,
    host: String,
    settings: Settings,
}

impl Run {
    fn new(policy: Option<&Path>, forced_env: Option<&str>) -> std::result::Result<Run, i32> {
        let loaded = load_failsafe(policy);
        if let Some(e) = loaded.error {
            eprintln!(
                "gardefou: the policy is broken ({e}): fix it before maintenance (`gardefou policy check`)"
            );
            return Err(1);
        }
        // The host's identity: `[host] name` (two "hosts" can then share one machine in tests).
        let host = loaded.policy.host_name();
        let (env, _) = environment(&loaded.policy, &hostname(), forced_env);
        let settings = Settings::of(loaded.policy.cluster.as_ref());
        Ok(Run {
            policy: loaded.policy,
            env,
            host,
            settings,
        })
    }

    /// The maintenance lock, when the policy configures one; in the group of the slot this
    /// host holds when its state says (`recorded`).
    fn lock(&self, recorded: Option<&str>) -> std::result::Result<Option<Lock>, i32> {
        match lock::of_policy(&self.policy, &self.host, recorded) {
            None => Ok(None),
            Some(Ok(l)) => Ok(Some(match recorded {
                Some(g) if g != l.group() => {
                    eprintln!(
                        "gardefou: this host's slot is in group {g} (its maintenance state), not {}: using {g}",
                        l.group()
                    );
                    l.in_group(g)
                }
                _ => l,
            })),
            Some(Err(e)) => {
                eprintln!("gardefou: {e}");
                Err(1)
            }
        }
    }

    /// Gives this host's slot back after a start that changed nothing, saying so.
    fn give_back(&self, lock: Option<&Lock>, taken: &Option<Taken>) {
        if let (Some(lock), Some(Taken::Now(_))) = (lock, taken) {
            match lock.release(&self.host) {
                Ok(_) => eprintln!(
                    "gardefou: the maintenance slot of group {} was given back.",
                    lock.group()
                ),
                Err(e) => eprintln!(
                    "gardefou: the maintenance slot could not be given back ({e}): `gardefou maintenance release --host {}` frees it",
                    self.host
                ),
            }
        }
    }

    fn checklist(&self) -> preflight::Report {
        preflight::run(&preflight::Context {
            policy: &self.policy,
            env: &self.env,
            host: &self.host,
            policy_error: None,
            drill: false,
        })
    }

    fn adapter(&self) -> std::result::Result<Option<Box<dyn Cluster>>, i32> {
        cluster::from_policy(self.policy.cluster.as_ref(), &self.host).map_err(|e| {
            eprintln!("gardefou: {e}");
            1
        })
    }

    /// One audit line for a maintenance event.
    fn audit(&self, args: &[&str], outcome: Outcome, reasons: &[String]) {
        let argv: Vec<OsString> = std::iter::once("gardefou")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let mut v = Verdict::allow();
        for r in reasons {
            v.raise(Decision::Allow, "maintenance", r.clone());
        }
        let what = Audited {
            outcome,
            override_reason: None,
            snapshot_id: None,
        };
        record(&self.policy, &self.host, &self.env, &argv, &v, what);
    }

    /// Typed confirmation of a role change, unless `--yes`.
    fn confirmed(&self, what: &str, yes: bool) -> bool {
        if yes {
            return true;
        }
        eprintln!("gardefou: {what}");
        let prompt = format!("Type the hostname ({}) to go ahead", self.host);
        match confirm::ask(&prompt, &self.host) {
            Answer::Confirmed => true,
            Answer::Refused(_) => {
                eprintln!("gardefou: that is not the hostname: nothing was changed.");
                false
            }
            Answer::NoTerminal => {
                eprintln!(
                    "gardefou: no terminal to confirm on: nothing was changed (--yes confirms from a script)."
                );
                false
            }
        }
    }

    /// Asks to move the primary role back, again every second until `timeout_secs`: a daemon
    /// refuses while this node, just back from maintenance, is still catching up (Patroni's
    /// "candidate not healthy").
    fn switch_back(&self, adapter: &dyn Cluster, status: &Status) -> Result<String> {
        let start = std::time::Instant::now();
        let mut said = String::new();
        loop {
            match adapter.switch_back(status) {
                Ok(answer) => return Ok(answer),
                // Not something this daemon does: asking again would not help.
                Err(e @ Error::Usage(_)) => return Err(e),
                Err(e) if start.elapsed() >= self.settings.timeout => return Err(e),
                Err(e) => {
                    let text = e.to_string();
                    if text != said {
                        eprintln!("gardefou: not yet ({text}); asking again every second");
                        said = text;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    /// Waits until this node's role is `want`, showing progress on a terminal.
    fn wait_for(
        &self,
        adapter: &dyn Cluster,
        want: Role,
    ) -> std::result::Result<(Status, Duration), String> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(100));
            b
        });
        let mut last = String::new();
        let result = cluster::wait_until(
            adapter,
            &self.settings,
            |s| s.role == want,
            |answer, elapsed| {
                let now = match answer {
                    Ok(s) => format!("{} is {}", s.node, s.role),
                    Err(e) => format!("the cluster does not answer: {e}"),
                };
                match &bar {
                    Some(b) => b.set_message(format!(
                        "waiting for this node to be {want}: {now} ({:.1} s)",
                        elapsed.as_secs_f32()
                    )),
                    None if now != last => {
                        eprintln!("gardefou: {:6.1} s: {now}", elapsed.as_secs_f32())
                    }
                    None => {}
                }
                last = now;
            },
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        result
    }
}

/// `gardefou maintenance start`.
/// Held by a `maintenance start` or `finish` on this host for as long as it runs: two on the
/// same host at once would both find the slot "already held" and both move the cluster.
fn host_lock(state_file: &Path) -> std::result::Result<nix::fcntl::Flock<std::fs::File>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = state_file.with_extension("lock");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        if e == nix::errno::Errno::EWOULDBLOCK {
            format!(
                "another `gardefou maintenance start` or `finish` is running on this host ({} is locked): wait for it",
                path.display()
            )
        } else {
            format!("cannot lock {}: {e}", path.display())
        }
    })
}

pub fn start(policy: Option<&Path>, env: Option<&str>, reason: Option<&str>, yes: bool) -> i32 {
    let run = match Run::new(policy, env) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let _running = match host_lock(&run.settings.state_file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gardefou: {e}: maintenance not started, nothing was changed.");
            return 1;
        }
    };
    match current(&run.settings.state_file) {
        Ok(Some(state)) => {
            eprintln!(
                "gardefou: this host is already {} (`gardefou maintenance finish` ends it)",
                state.describe()
            );
            return 1;
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("gardefou: {e}");
            return 1;
        }
    }
    let report = run.checklist();
    eprint!("{}", preflight::render(&report.items));
    if !report.ok {
        eprintln!(
            "gardefou: the checklist has ✘ items: maintenance not started, nothing was changed."
        );
        run.audit(
            &["maintenance", "start"],
            Outcome::MaintenanceRefused,
            &failed(&report),
        );
        return 1;
    }
    let adapter = match run.adapter() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let lock = match run.lock(None) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let user = crate::audit::Entry::now(&run.host, &run.env.name, &[]).user;
    // The slot first, before anything moves: of two hosts starting at once, one goes on.
    let taken = match &lock {
        None => None,
        Some(lock) => {
            let me = Holder {
                host: run.host.clone(),
                since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                user: user.clone(),
                reason: reason.map(str::to_owned),
                slot: 0,
                revision: 0,
            };
            match lock.take(&me) {
                Ok(t) => {
                    let (Taken::Now(h) | Taken::Already(h)) = &t;
                    eprintln!(
                        "gardefou: maintenance slot {} of group {} {} for {}",
                        h.slot,
                        lock.group(),
                        if matches!(t, Taken::Now(_)) {
                            "taken"
                        } else {
                            "already held"
                        },
                        run.host
                    );
                    Some(t)
                }
                Err(e) => {
                    eprintln!(
                        "gardefou: {e}\ngardefou: maintenance not started, nothing was changed."
                    );
                    run.audit(
                        &["maintenance", "start"],
                        Outcome::MaintenanceRefused,
                        &[e.to_string()],
                    );
                    return 1;
                }
            }
        }
    };
    let mut state = State {
        since: String::new(),
        user,
        host: run.host.clone(),
        reason: reason.map(str::to_owned),
        adapter: report.status.as_ref().map(|s| s.adapter.to_owned()),
        role_before: report.status.as_ref().map(|s| s.role.to_string()),
        switched_to: None,
        switchover_ms: None,
        lock: match (&lock, &taken) {
            (Some(l), Some(Taken::Now(h) | Taken::Already(h))) => {
                Some(format!("group {}, slot {}", l.group(), h.slot))
            }
            _ => None,
        },
    };
    let mut reasons = Vec::new();
    if let (Some(adapter), Some(status), Some(Ok(Plan::SwitchTo(to)))) =
        (adapter.as_deref(), &report.status, &report.plan)
    {
        let whom = to.as_deref().unwrap_or("a standby the cluster picks");
        let what = format!(
            "{} is PRIMARY: ask {} to switch over to {whom} (a short interruption for clients)",
            status.node, status.adapter
        );
        if !run.confirmed(&what, yes) {
            run.give_back(lock.as_ref(), &taken);
            run.audit(
                &["maintenance", "start"],
                Outcome::MaintenanceRefused,
                &[what],
            );
            return 1;
        }
        // The cluster may have changed while the operator read: the checklist again, and the
        // same plan, or nothing moves.
        let again = run.checklist();
        let same = again.plan.as_ref() == report.plan.as_ref();
        if !again.ok || !same {
            eprint!("{}", preflight::render(&again.items));
            let why = if again.ok {
                format!(
                    "the cluster changed since the checklist: the plan is now {:?}",
                    again.plan
                )
            } else {
                "the checklist, run again after the confirmation, has ✘ items".to_owned()
            };
            eprintln!("gardefou: {why}: maintenance not started, nothing was changed.");
            run.give_back(lock.as_ref(), &taken);
            let mut reasons = failed(&again);
            reasons.push(why);
            run.audit(
                &["maintenance", "start"],
                Outcome::MaintenanceRefused,
                &reasons,
            );
            return 1;
        }
        let asked = std::time::Instant::now();
        let answer = match adapter.switchover(status, to.as_deref()) {
            Ok(a) => a,
            Err(e) => {
                eprintln!(
                    "gardefou: the switchover request failed: {e}\ngardefou: maintenance not started."
                );
                // The slot goes back only when the daemon certainly did nothing: a request that
                // failed half-way may still be moving roles.
                if matches!(e, Error::ClusterRefused(_) | Error::Usage(_)) {
                    run.give_back(lock.as_ref(), &taken);
                } else if taken.is_some() {
                    eprintln!(
                        "gardefou: the cluster may be moving roles: this host keeps its maintenance slot; `gardefou preflight` shows the cluster, `gardefou maintenance release --host {}` frees the slot once it is healthy.",
                        run.host
                    );
                }
                run.audit(
                    &["maintenance", "start"],
                    Outcome::MaintenanceSwitchoverFailed,
                    &[e.to_string()],
                );
                return 1;
            }
        };
        eprintln!("gardefou: {}: {answer}", status.adapter);
        match run.wait_for(adapter, Role::Secondary) {
            Ok(_) => {
                // From the request on: some daemons (Patroni) answer only once they moved.
                let took = asked.elapsed();
                eprintln!(
                    "gardefou: {} is secondary after {:.1} s",
                    status.node,
                    took.as_secs_f32()
                );
                state.switched_to = to.clone();
                state.switchover_ms = Some(took.as_millis() as u64);
                reasons.push(format!(
                    "switched over from {} to {whom} in {:.1} s",
                    status.node,
                    took.as_secs_f32()
                ));
            }
            Err(e) => {
                eprintln!(
                    "gardefou: the switchover did not complete: {e}\ngardefou: maintenance not started; the cluster may still be moving roles: see `gardefou preflight`."
                );
                if taken.is_some() {
                    eprintln!(
                        "gardefou: this host keeps its maintenance slot while the roles may be moving: `gardefou maintenance release --host {}` once the cluster is healthy.",
                        run.host
                    );
                }
                run.audit(
                    &["maintenance", "start"],
                    Outcome::MaintenanceSwitchoverTimeout,
                    &[e],
                );
                return 1;
            }
        }
    }
    state.since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Err(e) = write_state(&run.settings.state_file, &state) {
        eprintln!("gardefou: {e}");
        return 1;
    }
    reasons.push(state.describe());
    run.audit(
        &["maintenance", "start"],
        Outcome::MaintenanceStarted,
        &reasons,
    );
    println!(
        "gardefou: {} is {} ({}). `gardefou maintenance finish` ends it.",
        run.host,
        state.describe(),
        run.settings.state_file.display()
    );
    0
}

fn failed(report: &preflight::Report) -> Vec<String> {
    report
        .items
        .iter()
        .filter(|i| i.mark == cluster::Mark::Fail)
        .map(|i| format!("{}: {}", i.name, i.detail))
        .collect()
}

/// `gardefou maintenance finish`.
pub fn finish(policy: Option<&Path>, env: Option<&str>, switch_back: bool, yes: bool) -> i32 {
    let run = match Run::new(policy, env) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let _running = match host_lock(&run.settings.state_file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return 1;
        }
    };
    let state = match current(&run.settings.state_file) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!("gardefou: this host is not in maintenance.");
            return 1;
        }
        Err(e) => {
            eprintln!("gardefou: {e}");
            return 1;
        }
    };
    let mut reasons = vec![format!("was {}", state.describe())];
    let lock = match run.lock(state.lock_group()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Some(adapter) = match run.adapter() {
        Ok(a) => a,
        Err(code) => return code,
    } {
        // The health check: a cluster that just moved roles may still be restarting this
        // node; wait (up to timeout_secs) for a known role, no split brain and — with a
        // maintenance lock, which the next host may take as soon as it is given back — every
        // member running and within max_lag.
        let max_lag = run.settings.max_lag;
        let strict = lock.is_some();
        let healthy = |s: &Status| {
            s.split_brain.is_none()
                && !matches!(s.role, Role::Unknown(_))
                && (!strict || cluster::unhealthy_members(s, max_lag).is_empty())
        };
        let status = match cluster::wait_until(adapter.as_ref(), &run.settings, healthy, |_, _| {})
        {
            Ok((s, _)) => s,
            Err(why) => {
                let now = adapter.status().map(|s| {
                    s.split_brain.clone().unwrap_or_else(|| {
                        let bad = cluster::unhealthy_members(&s, max_lag);
                        if bad.is_empty() || !strict {
                            format!("{} is {}", s.node, s.role)
                        } else {
                            bad.join("; ")
                        }
                    })
                });
                eprintln!(
                    "gardefou: the cluster is not healthy ({}): still in maintenance, nothing was changed.",
                    now.unwrap_or_else(|e| format!("{why}: {e}"))
                );
                return 1;
            }
        };
        match adapter.release(&status) {
            Ok(answer) => {
                eprintln!("gardefou: {}: {answer}", status.adapter);
                reasons.push(answer);
            }
            Err(e) => {
                eprintln!("gardefou: {e}: still in maintenance.");
                return 1;
            }
        }
        if switch_back && status.role == Role::Secondary {
            let what = format!(
                "switch the primary role back to {} ({})",
                status.node, status.adapter
            );
            if !run.confirmed(&what, yes) {
                return 1;
            }
            let answer = run.switch_back(adapter.as_ref(), &status).and_then(|a| {
                eprintln!("gardefou: {}: {a}", status.adapter);
                run.wait_for(adapter.as_ref(), Role::Primary)
                    .map_err(Error::Cluster)
            });
            match answer {
                Ok((_, took)) => reasons.push(format!(
                    "switched back to {} in {:.1} s",
                    status.node,
                    took.as_secs_f32()
                )),
                Err(e) => {
                    eprintln!("gardefou: switching back failed: {e}: still in maintenance.");
                    run.audit(
                        &["maintenance", "finish"],
                        Outcome::MaintenanceSwitchBackFailed,
                        &[e.to_string()],
                    );
                    return 1;
                }
            }
        }
        // Giving the node back (standby off, a switch back) moves the cluster again: the slot
        // is given back only once it is healthy after that too.
        if strict
            && let Err(why) =
                cluster::wait_until(adapter.as_ref(), &run.settings, healthy, |_, _| {})
        {
            eprintln!(
                "gardefou: the cluster is not healthy after this node was given back ({why}): still in maintenance, the maintenance slot is kept (run finish again once it is healthy)."
            );
            return 1;
        }
    }
    if let Some(lock) = &lock {
        match lock.release(&run.host) {
            Ok(Some(h)) => {
                let said = format!(
                    "maintenance slot {} of group {} given back",
                    h.slot,
                    lock.group()
                );
                eprintln!("gardefou: {said}");
                reasons.push(said);
            }
            Ok(None) => reasons.push(format!(
                "held no maintenance slot of group {}",
                lock.group()
            )),
            Err(e) => {
                eprintln!(
                    "gardefou: {e}: still in maintenance (run finish again once etcd answers)."
                );
                return 1;
            }
        }
    }
    if let Err(e) = std::fs::remove_file(&run.settings.state_file) {
        eprintln!(
            "gardefou: cannot remove {}: {e}",
            run.settings.state_file.display()
        );
        return 1;
    }
    run.audit(
        &["maintenance", "finish"],
        Outcome::MaintenanceFinished,
        &reasons,
    );
    println!("gardefou: {} is out of maintenance.", run.host);
    0
}

/// `gardefou maintenance status`: the mark and the cluster's view. Exit 0 in maintenance, 1
/// not, 2 on error.
pub fn status(policy: Option<&Path>, env: Option<&str>, json: bool) -> i32 {
    let run = match Run::new(policy, env) {
        Ok(r) => r,
        Err(_) => return 2,
    };
    let state = match current(&run.settings.state_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return 2;
        }
    };
    let cluster = match run.adapter() {
        Ok(Some(a)) => Some(a.status().map_err(|e| e.to_string())),
        Ok(None) => None,
        Err(_) => return 2,
    };
    let recorded = state.as_ref().and_then(State::lock_group);
    let slots = match run.lock(recorded) {
        Ok(Some(l)) => Some(l.read().map_err(|e| e.to_string())),
        Ok(None) => None,
        Err(_) => return 2,
    };
    if json {
        let c = cluster.as_ref().map(|c| match c {
            Ok(s) => serde_json::to_value(s).unwrap_or_default(),
            Err(e) => serde_json::json!({ "error": e }),
        });
        let l = slots.as_ref().map(|l| match l {
            Ok(s) => serde_json::to_value(s).unwrap_or_default(),
            Err(e) => serde_json::json!({ "error": e }),
        });
        println!(
            "{}",
            serde_json::json!({ "maintenance": state, "cluster": c, "lock": l })
        );
    } else {
        match &state {
            Some(s) => println!("{}: {}", run.host, s.describe()),
            None => println!("{}: not in maintenance", run.host),
        }
        match &cluster {
            Some(Ok(s)) => println!("{} ({}): {}", s.node, s.adapter, s.role),
            Some(Err(e)) => println!("cluster: {e}"),
            None => println!("cluster: no adapter configured"),
        }
        match &slots {
            Some(Ok(s)) => println!("lock: {}", s.describe()),
            Some(Err(e)) => println!("lock: {e}"),
            None => {}
        }
    }
    if state.is_some() { 0 } else { 1 }
}

/// `gardefou maintenance release --host NAME`: frees the slot a host holds, typically one that
/// died in maintenance. The operator types NAME; audited.
pub fn release(policy: Option<&Path>, env: Option<&str>, host: &str, yes: bool) -> i32 {
    let run = match Run::new(policy, env) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // Our own slot is in the group our state names; another host's, in the policy's.
    let recorded = (host == run.host)
        .then(|| recorded_group(&run.policy))
        .flatten();
    let lock = match run.lock(recorded.as_deref()) {
        Ok(Some(l)) => l,
        Ok(None) => {
            eprintln!(
                "gardefou: no [maintenance.lock] in the policy: there is no slot to release."
            );
            return 2;
        }
        Err(code) => return code,
    };
    let slots = match lock.read() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return 1;
        }
    };
    let holder = slots.held_by(host).cloned();
    if slots.known && holder.is_none() {
        eprintln!(
            "gardefou: {host} holds no maintenance slot ({}): nothing to release.",
            slots.describe()
        );
        return 1;
    }
    let what = match &holder {
        Some(h) => format!(
            "free slot {} of group {} held by {} — the next host may then go down while {host} may still be broken",
            h.slot,
            lock.group(),
            h.describe()
        ),
        None => format!(
            "give back {host}'s slot of group {} on the FleetLock server",
            lock.group()
        ),
    };
    if !yes {
        eprintln!("gardefou: {what}");
        match confirm::ask(
            &format!("Type the host's name ({host}) to free its slot"),
            host,
        ) {
            Answer::Confirmed => {}
            Answer::Refused(_) => {
                eprintln!("gardefou: that is not the host's name: nothing was released.");
                return 1;
            }
            Answer::NoTerminal => {
                eprintln!(
                    "gardefou: no terminal to confirm on: nothing was released (--yes confirms from a script)."
                );
                return 1;
            }
        }
    }
    match lock.release(host) {
        Ok(_) => {
            run.audit(
                &["maintenance", "release", "--host", host],
                Outcome::MaintenanceLockReleased,
                &[what],
            );
            println!(
                "gardefou: {host}'s maintenance slot of group {} is free.",
                lock.group()
            );
            0
        }
        Err(e) => {
            eprintln!("gardefou: {e}");
            1
        }
    }
}
