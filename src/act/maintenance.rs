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
}

impl State {
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
        let host = hostname();
        let (env, _) = environment(&loaded.policy, &host, forced_env);
        let settings = Settings::of(loaded.policy.cluster.as_ref());
        Ok(Run {
            policy: loaded.policy,
            env,
            host,
            settings,
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
pub fn start(policy: Option<&Path>, env: Option<&str>, reason: Option<&str>, yes: bool) -> i32 {
    let run = match Run::new(policy, env) {
        Ok(r) => r,
        Err(code) => return code,
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
    let report = preflight::run(&preflight::Context {
        policy: &run.policy,
        env: &run.env,
        host: &run.host,
        policy_error: None,
        drill: false,
    });
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
    let mut state = State {
        since: String::new(),
        user: crate::audit::Entry::now(&run.host, &run.env.name, &[]).user,
        host: run.host.clone(),
        reason: reason.map(str::to_owned),
        adapter: report.status.as_ref().map(|s| s.adapter.to_owned()),
        role_before: report.status.as_ref().map(|s| s.role.to_string()),
        switched_to: None,
        switchover_ms: None,
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
            run.audit(
                &["maintenance", "start"],
                Outcome::MaintenanceRefused,
                &[what],
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
    if let Some(adapter) = match run.adapter() {
        Ok(a) => a,
        Err(code) => return code,
    } {
        // The health check: a cluster that just moved roles may still be restarting this
        // node; wait (up to timeout_secs) for a known role and no split brain.
        let healthy = |s: &Status| s.split_brain.is_none() && !matches!(s.role, Role::Unknown(_));
        let status = match cluster::wait_until(adapter.as_ref(), &run.settings, healthy, |_, _| {})
        {
            Ok((s, _)) => s,
            Err(why) => {
                let now = adapter.status().map(|s| {
                    s.split_brain
                        .unwrap_or_else(|| format!("{} is {}", s.node, s.role))
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
    if json {
        let c = cluster.as_ref().map(|c| match c {
            Ok(s) => serde_json::to_value(s).unwrap_or_default(),
            Err(e) => serde_json::json!({ "error": e }),
        });
        println!(
            "{}",
            serde_json::json!({ "maintenance": state, "cluster": c })
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
    }
    if state.is_some() { 0 } else { 1 }
}
