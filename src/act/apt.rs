//! The package guards: the `apt`, `apt-get`, `aptitude` and `dpkg` shims (preview, then exec),
//! apt's `DPkg::Pre-Install-Pkgs` hook and dpkg's `pre-invoke` hook (the safety nets for every
//! other caller: unattended-upgrades, ansible, a raw `dpkg -P`).
//!
//! A shim that let a command through passes `GARDEFOU_GUARDED=PID:pkg,pkg…` to it: the hooks
//! below that process (same PID: the shim execs) then do not ask again for what the operator
//! already saw and answered, and still judge anything else.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use colored::Colorize;

use super::exec;
use super::guard::{Run, carry_out, record, snapshot_failed};
use crate::facts::apt::{self as apt_facts, PackageFacts};
use crate::facts::fs::probe_rm;
use crate::facts::hostname;
use crate::intent::Intent;
use crate::intent::apt::{self as apt_intent, AptIntent, Tool};
use crate::outcome::exit;
use crate::pipeline::{environment, load_failsafe};
use crate::policy::eval::{Probed, snapshot_targets};
use crate::policy::{Environment, Policy};
use crate::snapshot::{self, Planned, Request, store::Store};

/// Exit status of the hooks: the policy refused (apt/dpkg stop before anything changes).
pub const HOOK_REFUSED: i32 = exit::DENIED;
/// Exit status of the hooks: the hook itself could not work (bad stream, unreadable fd).
pub const HOOK_ERROR: i32 = exit::USAGE;

/// Set by a shim (or `gardefou override`, with `*`: everything) for the process it execs.
pub const GUARDED: &str = "GARDEFOU_GUARDED";
const REMOVED_NOTHING: &str = "Nothing was removed.";

/// The packages a shim up the process tree already had confirmed, if `pid` is that shim
/// (`*`: all of them, after `gardefou override`).
fn approved_by(pid: u32) -> HashSet<String> {
    let Some(v) = std::env::var_os(GUARDED) else {
        return HashSet::new();
    };
    let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
    match v.split_once(':') {
        Some((p, list)) if p.parse() == Ok(pid) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => HashSet::new(),
    }
}

/// The parent of a process, from /proc (the command name may hold spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    crate::facts::proc_stat(pid).map(|(parent, _)| parent)
}

/// Whether this process runs in a package's maintainer script: `DPKG_MAINTSCRIPT_PACKAGE` is
/// set *and* dpkg is an ancestor (the variable alone is an `export` away in any shell).
pub(crate) fn in_maintainer_script() -> bool {
    std::env::var_os("DPKG_MAINTSCRIPT_PACKAGE").is_some() && ancestor_named("dpkg").is_some()
}

/// The nearest ancestor (up to 8 levels) whose executable is named `name`.
fn ancestor_named(name: &str) -> Option<u32> {
    let mut pid = std::process::id();
    for _ in 0..8 {
        pid = parent_of(pid)?;
        if pid <= 1 {
            return None;
        }
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        if exe
            .as_deref()
            .and_then(Path::file_name)
            .is_some_and(|n| n == name)
        {
            return Some(pid);
        }
    }
    None
}

/// A colored list of what the command would remove or purge, for the operator to read before
/// anything is asked.
fn summary(intent: &AptIntent, facts: &PackageFacts) -> Option<String> {
    let removed: Vec<String> = facts
        .changes
        .iter()
        .filter(|c| c.change.removes())
        .map(|c| {
            let not_asked = !intent.remove.contains(&c.package);
            let name = if not_asked {
                format!("{} (not asked for)", c.package)
            } else {
                c.package.clone()
            };
            format!("{} {}", c.change.word().red().bold(), name)
        })
        .collect();
    if removed.is_empty() {
        return None;
    }
    Some(format!(
        "gardefou: `{}` would change {} package(s):\n{}",
        intent.text,
        removed.len(),
        removed
            .iter()
            .map(|r| format!("  {r}\n"))
            .collect::<String>()
    ))
}

/// The whole decision for a package command whose facts are known: evaluate, ask, snapshot the
/// data a purge deletes. Returns (run, outcome, snapshot id).
fn decide(
    policy: &Policy,
    policy_error: Option<&str>,
    env: &Environment,
    host: &str,
    intent: &AptIntent,
    facts: PackageFacts,
    admindir: &Path,
) -> (
    bool,
    crate::outcome::Outcome,
    Option<String>,
    crate::policy::Verdict,
) {
    let mut intents = vec![Intent::Apt(intent.clone())];
    intents.extend(apt_facts::purge_deletions(&facts, policy, admindir));
    let mut probed: Vec<Probed> = Vec::new();
    let mut facts = Some(facts);
    for i in &intents {
        probed.push(Probed {
            intent: i,
            targets: match i {
                Intent::Rm(r) => probe_rm(r, &policy.paths),
                _ => Vec::new(),
            },
            packages: match i {
                Intent::Apt(_) => facts.take(),
                _ => None,
            },
            sql: None,
        });
    }
    let v = crate::pipeline::verdict_here(&probed, policy, env, policy_error, host);
    let (mut run, mut outcome) = carry_out(&v, env, host, &intent.text, REMOVED_NOTHING);
    let mut id = None;
    if run && v.snapshot {
        let planned: Vec<Planned> = snapshot_targets(&probed, policy, env)
            .into_iter()
            .filter_map(|(i, t)| match &probed[i].targets[t].effect {
                crate::facts::fs::Effect::Reaches { entry, .. } => Some(Planned {
                    path: entry.clone(),
                    may_rename: false,
                }),
                _ => None,
            })
            .collect();
        let taken = Store::for_caller(policy).and_then(|store| {
            snapshot::take(
                &store,
                &Request {
                    targets: planned,
                    command: intent.text.clone(),
                    host: host.to_owned(),
                    environment: env.name.clone(),
                    one_file_system: false,
                },
            )
        });
        match taken {
            Ok(t) => {
                eprintln!(
                    "gardefou: snapshot {} saved what the purge deletes; undo with: gardefou snapshot restore {}",
                    t.id, t.id
                );
                id = Some(t.id);
            }
            Err(e) => (run, outcome) = snapshot_failed(policy, env, host, &v, &e, REMOVED_NOTHING),
        }
    }
    (run, outcome, id, v)
}

/// `apt`, `apt-get`, `aptitude` or `dpkg` through the shim: preview, decide, then exec the real
/// tool with the original arguments. Returns only when it does not exec.
pub fn shim(tool: Tool, argv: &[OsString]) -> i32 {
    let argv0 = argv.first().cloned().unwrap_or_else(|| tool.name().into());
    let args = argv.get(1..).unwrap_or(&[]);
    let real = match exec::find_real(tool.name().as_ref(), std::env::var_os("PATH").as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::NOT_FOUND;
        }
    };
    let intent = apt_intent::parse(tool, args);
    if !intent.changes {
        eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
        return exit::CANNOT_EXEC;
    }
    let loaded = load_failsafe(None);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, None);
    let facts = apt_facts::probe(&intent);
    if let Some(s) = summary(&intent, &facts) {
        eprint!("{s}");
    }
    let approved: Vec<String> = facts
        .changes
        .iter()
        .filter(|c| c.change.removes())
        .map(|c| c.package.clone())
        .collect();
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let (run, outcome, id, v) = decide(
        &loaded.policy,
        error,
        &env,
        &host,
        &intent,
        facts,
        Path::new("/var/lib/dpkg"),
    );
    record(
        &loaded.policy,
        &host,
        &env,
        argv,
        &v,
        Run {
            outcome,
            override_reason: None,
            snapshot_id: id.as_deref(),
        },
    );
    if !run {
        return 1;
    }
    // The hooks judge what the package operation removes; what it writes (/etc/ssh on an
    // openssh upgrade, dpkg's database) must not meet the read-only net halfway through.
    crate::net::lift_for(crate::net::Lift::All);
    let guarded = format!("{}:{}", std::process::id(), approved.join(","));
    eprintln!(
        "gardefou: {}",
        exec::exec_env(&real, &argv0, args, &[(GUARDED, guarded)])
    );
    exit::CANNOT_EXEC
}

/// Reads the whole hook stream from `$APT_HOOK_INFO_FD` (apt's InfoFD), else standard input.
fn read_stream() -> std::io::Result<String> {
    let fd = std::env::var("APT_HOOK_INFO_FD").unwrap_or_else(|_| "0".into());
    let fd: u32 = fd.trim().parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("APT_HOOK_INFO_FD={fd:?} is not a file descriptor"),
        )
    })?;
    let mut text = Vec::new();
    std::fs::File::open(format!("/proc/self/fd/{fd}"))?.read_to_end(&mut text)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// `gardefou apt-hook`: apt's `DPkg::Pre-Install-Pkgs` hook. Exit 0 lets apt run dpkg;
/// `HOOK_REFUSED` is the policy's refusal, `HOOK_ERROR` a hook that could not read its input
/// (both stop apt before dpkg runs, so nothing is changed).
pub fn apt_hook(policy: Option<&Path>, forced_env: Option<&str>) -> i32 {
    let stream = match read_stream()
        .map_err(|e| e.to_string())
        .and_then(|t| crate::apt_hook::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "gardefou apt-hook: {e}\ngardefou apt-hook: apt stopped before dpkg ran: nothing was changed. The hook is configured in /etc/apt/apt.conf.d/05gardefou"
            );
            return HOOK_ERROR;
        }
    };
    let words: Vec<OsString> = stream
        .get("CommandLine::AsString")
        .unwrap_or("")
        .split_whitespace()
        .map(OsString::from)
        .collect();
    let frontend = words
        .first()
        .and_then(|w| Path::new(w).file_name())
        .and_then(|n| n.to_str())
        .and_then(Tool::from_name)
        .unwrap_or(Tool::AptGet);
    let mut intent = apt_intent::parse(frontend, words.get(1..).unwrap_or(&[]));
    if words.is_empty() {
        intent.text =
            "an apt front end without a command line (unattended-upgrades, python-apt…)".into();
    }
    intent.purge |= stream.purge();
    let approved = ancestor_named(frontend.name())
        .or_else(|| ancestor_named("apt-get"))
        .or_else(|| ancestor_named("apt"))
        .map(approved_by)
        .unwrap_or_default();
    let mut facts = PackageFacts {
        changes: stream
            .changes()
            .into_iter()
            .filter(|c| {
                !(approved.contains("*") || c.change.removes() && approved.contains(&c.package))
            })
            .collect(),
        ..PackageFacts::default()
    };
    apt_facts::explain(&mut facts, &intent, &stream.status_file());
    let admindir = stream
        .status_file()
        .parent()
        .map_or_else(|| PathBuf::from("/var/lib/dpkg"), Path::to_path_buf);
    let loaded = load_failsafe(policy);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, forced_env);
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let (run, outcome, id, v) = decide(
        &loaded.policy,
        error,
        &env,
        &host,
        &intent,
        facts,
        &admindir,
    );
    let mut argv = vec![OsString::from("gardefou-apt-hook")];
    argv.extend(words);
    if !v.reasons.is_empty() || !run {
        record(
            &loaded.policy,
            &host,
            &env,
            &argv,
            &v,
            Run {
                outcome,
                override_reason: None,
                snapshot_id: id.as_deref(),
            },
        );
    }
    if run { 0 } else { HOOK_REFUSED }
}

/// `gardefou dpkg-hook`: dpkg's `pre-invoke` hook, for a raw `dpkg -r/-P` from any caller.
/// dpkg gives the hook `DPKG_HOOK_ACTION`, not the packages: they come from the invoking
/// dpkg's own command line. Under an apt front end (`DPKG_FRONTEND_LOCKED`), apt's hook has
/// already judged the whole run.
pub fn dpkg_hook(policy: Option<&Path>, forced_env: Option<&str>) -> i32 {
    let action = std::env::var("DPKG_HOOK_ACTION").unwrap_or_default();
    if !matches!(action.as_str(), "remove" | "purge") {
        return 0;
    }
    if std::env::var_os("DPKG_FRONTEND_LOCKED").is_some() {
        return 0;
    }
    let Some(pid) = ancestor_named("dpkg") else {
        eprintln!(
            "gardefou dpkg-hook: cannot find the dpkg that runs this hook: refusing the {action} (nothing was changed)"
        );
        return HOOK_ERROR;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<OsString> = cmdline
        .split(|&b| b == 0)
        .skip(1)
        .filter(|a| !a.is_empty())
        .map(|a| OsString::from(std::ffi::OsStr::from_bytes(a)))
        .collect();
    let intent = apt_intent::parse(Tool::Dpkg, &args);
    let approved = approved_by(pid);
    let mut facts = apt_facts::for_dpkg(&intent);
    facts
        .changes
        .retain(|c| !approved.contains("*") && !approved.contains(&c.package));
    if facts.changes.is_empty() && !intent.pending {
        return 0;
    }
    let admindir = std::env::var_os("DPKG_ADMINDIR")
        .map_or_else(|| PathBuf::from("/var/lib/dpkg"), PathBuf::from);
    let loaded = load_failsafe(policy);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, forced_env);
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let (run, outcome, id, v) = decide(
        &loaded.policy,
        error,
        &env,
        &host,
        &intent,
        facts,
        &admindir,
    );
    let mut argv = vec![OsString::from("gardefou-dpkg-hook"), OsString::from("dpkg")];
    argv.extend(args);
    record(
        &loaded.policy,
        &host,
        &env,
        &argv,
        &v,
        Run {
            outcome,
            override_reason: None,
            snapshot_id: id.as_deref(),
        },
    );
    if run { 0 } else { HOOK_REFUSED }
}
