//! The guard: carry a verdict out for a command about to run (typed confirmation, snapshot),
//! audit it, and exec the real binary or refuse. Used by the argv[0] shims and by `gardefou
//! override`; the verdict itself comes from the pipeline (`crate::pipeline`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::confirm::{self, Answer};
use super::{exec, save};
use crate::audit;
use crate::facts::hostname;
use crate::intent::{Intent, RmIntent, Via, display_bytes, rm};
use crate::outcome::Outcome;
use crate::outcome::exit;
use crate::pipeline::{environment, load_failsafe, probe_all, verdict_here};
use crate::policy::eval::evaluate;
use crate::policy::schema::{ConfirmWith, NonInteractive, OnFailure};
use crate::policy::{Decision, Environment, Policy, Verdict};
use crate::render;

pub(crate) fn args_text(args: &[OsString]) -> String {
    args.iter()
        .map(|a| display_bytes(a.as_bytes()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asks for what the environment's `confirm_with` names: the target when there is one, else
/// the hostname.
pub(crate) fn ask_typed(v: &Verdict, env: &Environment, host: &str) -> Answer {
    let target = v
        .target
        .as_deref()
        .filter(|_| env.confirm_with == ConfirmWith::Target);
    let prompt = render::confirm_prompt(env, target);
    confirm::ask(&prompt, target.unwrap_or(host))
}

/// Carries a verdict out for a command about to run: asks when it must, explains refusals on
/// stderr. Returns whether to run and the audit outcome.
/// `nothing` says what a refusal spared ("Nothing was deleted.").
pub(crate) fn carry_out(
    v: &Verdict,
    env: &Environment,
    host: &str,
    text: &str,
    nothing: &str,
) -> (bool, Outcome) {
    match v.decision {
        Decision::Allow => (true, Outcome::Executed),
        Decision::Deny => {
            eprint!(
                "{}{}",
                render::verdict(v, env, host, text),
                render::next_steps(v, text, nothing)
            );
            (false, Outcome::Refused)
        }
        Decision::Confirm => {
            confirm::say(&render::verdict(v, env, host, text));
            match ask_typed(v, env, host) {
                Answer::Confirmed => (true, Outcome::Confirmed),
                Answer::Refused(_) => {
                    eprintln!("gardefou: that is not the expected answer: refused. {nothing}");
                    (false, Outcome::RefusedWrongAnswer)
                }
                Answer::NoTerminal if let Some(a) = crate::approve::for_shim(v, text) => {
                    eprintln!("gardefou: let through once by {}", a.describe());
                    (true, Outcome::Approved)
                }
                Answer::NoTerminal if env.non_interactive == NonInteractive::Allow => {
                    eprintln!(
                        "gardefou: no terminal to confirm on; allowed by non_interactive = \"allow\" in environment {}",
                        env.name
                    );
                    (true, Outcome::AllowedWithoutTerminal)
                }
                Answer::NoTerminal => {
                    eprintln!(
                        "gardefou: no terminal to confirm on: refused (non_interactive = \"deny\" in environment {}). {nothing}",
                        env.name
                    );
                    (false, Outcome::RefusedNoTerminal)
                }
            }
        }
    }
}

/// What one guarded run did, for the audit log.
pub(crate) struct Run<'a> {
    pub outcome: Outcome,
    pub override_reason: Option<&'a str>,
    pub snapshot_id: Option<&'a str>,
}

pub(crate) fn record(
    policy: &Policy,
    host: &str,
    env: &Environment,
    argv: &[OsString],
    v: &Verdict,
    out: Run,
) {
    let outcome = out.outcome;
    if v.reasons.is_empty()
        && outcome == Outcome::Executed
        && policy.audit_log_allowed == Some(false)
    {
        return;
    }
    let mut e = audit::Entry::now(host, &env.name, argv);
    e.decision = v.decision;
    e.snapshot = v.snapshot;
    e.reasons = v.reasons.clone();
    e.outcome = outcome;
    e.override_reason = out.override_reason.map(str::to_owned);
    e.snapshot_id = out.snapshot_id.map(str::to_owned);
    e.approval = crate::approve::used_here();
    if let Err(err) = audit::append(policy, &e) {
        eprintln!("gardefou: warning: {err}");
    }
    if let Err(err) = audit::to_syslog(policy, &e) {
        eprintln!("gardefou: warning: {err}");
    }
    crate::notify::send(policy, &e);
}

const DELETED_NOTHING: &str = "Nothing was deleted.";

/// `rm` invoked through the shim. Returns an exit status only when rm is not executed.
pub fn rm_shim(argv: &[OsString]) -> i32 {
    rm_guard(argv, false)
}

/// The rm shim's hot path (`gardefou-shim`, a static executable): the same pipeline, carried out
/// only for what needs nothing but the audit line and the exec — an allowed `rm` that no rule
/// fired on, by root. Everything else is handed to the full `gardefou` beside it, which judges
/// it again from the start: a confirmation, a refusal, a snapshot, the cluster, and any user
/// but root (their name is looked up through NSS, which a static binary cannot load).
pub fn rm_hot(argv: &[OsString]) -> i32 {
    if !nix::unistd::getuid().is_root() {
        return hand_over(argv, "rm");
    }
    rm_guard(argv, true)
}

/// Replaces this process with the full gardefou, as the same command (`rm`, `psql`). When it
/// is missing, nothing runs: a guard that cannot judge refuses.
pub(crate) fn hand_over(argv: &[OsString], name: &str) -> i32 {
    // The full binary is a shim only under that name (`exec -a`, or this executable called by
    // its own name, would make it the CLI).
    let argv0 = argv
        .first()
        .filter(|a| Path::new(a).file_name() == Some(OsStr::new(name)))
        .cloned()
        .unwrap_or_else(|| name.into());
    let nothing = if name == "rm" {
        DELETED_NOTHING
    } else {
        "Nothing was run."
    };
    let Some(full) = exec::beside_me(exec::FULL) else {
        eprintln!("gardefou: cannot find this executable's directory: refused. {nothing}");
        return exit::CANNOT_EXEC;
    };
    let e = exec::exec(&full, &argv0, argv.get(1..).unwrap_or(&[]));
    eprintln!("gardefou: {e}: refused. {nothing}");
    exit::CANNOT_EXEC
}

fn rm_guard(argv: &[OsString], hot: bool) -> i32 {
    let argv0 = argv.first().cloned().unwrap_or_else(|| "rm".into());
    let args = argv.get(1..).unwrap_or(&[]);
    let real = match exec::find_real(OsStr::new("rm"), std::env::var_os("PATH").as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::NOT_FOUND;
        }
    };
    let command = match rm::parse(args, std::env::var_os("POSIXLY_CORRECT").is_some()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if command.options.info_only {
        eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
        return exit::CANNOT_EXEC;
    }
    let text = format!("rm {}", args_text(args));
    let intents = [Intent::Rm(RmIntent {
        via: Via::Rm,
        options: command.options.clone(),
        operands: command
            .operands
            .iter()
            .cloned()
            .map(crate::intent::Arg::Known)
            .collect(),
        cwd: std::env::current_dir().ok(),
        usage_error: None,
        text: text.clone(),
    })];
    let loaded = load_failsafe(None);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, None);
    let mut probed = probe_all(&intents, &loaded.policy, None);
    if super::apt::in_maintainer_script() {
        // A package's maintainer script removes the files the package ships, in protected
        // trees too (/etc/ssh on an upgrade), with no terminal: the apt and dpkg hooks have
        // judged the package operation, so only what deletes a protected path itself counts.
        for p in &mut probed {
            for t in &mut p.targets {
                if let crate::facts::fs::Effect::Reaches { hits, .. } = &mut t.effect {
                    hits.retain(|h| h.relation != crate::facts::fs::Relation::Within);
                }
            }
        }
    }
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let v = verdict_here(&probed, &loaded.policy, &env, error, &host);
    if hot
        && (error.is_some() || v.decision != Decision::Allow || !v.reasons.is_empty() || v.snapshot)
    {
        return hand_over(argv, "rm");
    }
    let (mut run, mut outcome) = carry_out(&v, &env, &host, &text, DELETED_NOTHING);
    if run {
        // Under the read-only net (a guarded line), what was confirmed is carried out on the
        // host's view of its trees, snapshot first: a namespace of this rm's own.
        let touched = crate::pipeline::touched(&probed);
        crate::net::lift_for(crate::net::Lift::Touching(&touched));
    }
    let mut run_args = args.to_vec();
    let mut snapshot_id = None;
    if run && v.snapshot {
        match save::for_rm(&loaded.policy, &env, &host, &probed, &command, &text) {
            Ok(saved) => {
                eprint!("{}", saved.message);
                if !saved.drop.is_empty() {
                    run_args = command.without_operands(args, &saved.drop);
                    if saved.drop.len() == command.operands.len() {
                        run = false;
                        outcome = Outcome::ExecutedBySnapshot;
                    }
                }
                snapshot_id = Some(saved.id);
            }
            Err(e) => {
                (run, outcome) =
                    snapshot_failed(&loaded.policy, &env, &host, &v, &e, DELETED_NOTHING)
            }
        }
    }
    record(
        &loaded.policy,
        &host,
        &env,
        argv,
        &v,
        Run {
            outcome,
            override_reason: None,
            snapshot_id: snapshot_id.as_deref(),
        },
    );
    if !run {
        // Every target moved into the snapshot: rm had nothing left to do, and succeeded.
        return if outcome == Outcome::ExecutedBySnapshot {
            0
        } else {
            1
        };
    }
    eprintln!("gardefou: {}", exec::exec(&real, &argv0, &run_args));
    exit::CANNOT_EXEC
}

/// The snapshot the policy asks for could not be taken: refuse, or with `on_failure =
/// "confirm"` ask to go ahead without one.
pub(crate) fn snapshot_failed(
    policy: &Policy,
    env: &Environment,
    host: &str,
    v: &Verdict,
    e: &crate::Error,
    nothing: &str,
) -> (bool, Outcome) {
    eprintln!("gardefou: the policy asks for a snapshot first, and it failed: {e}");
    if policy.snapshot.on_failure != Some(OnFailure::Confirm) {
        eprintln!(
            "gardefou: refused (the snapshot store is [snapshot] store; on_failure = \"confirm\" would let you go ahead without one). {nothing}"
        );
        return (false, Outcome::RefusedSnapshotFailed);
    }
    eprintln!("gardefou: on_failure = \"confirm\": type the answer to go ahead WITHOUT a snapshot");
    match ask_typed(v, env, host) {
        Answer::Confirmed => (true, Outcome::ConfirmedWithoutSnapshot),
        _ => {
            eprintln!("gardefou: refused. {nothing}");
            (false, Outcome::RefusedSnapshotFailed)
        }
    }
}

/// `gardefou override --reason R -- CMD…`: a deliberate bypass, always with a typed
/// confirmation on a terminal, audited with its reason. Runs the real binary, not a shim.
pub fn override_command(
    policy: Option<&Path>,
    forced_env: Option<&str>,
    reason: &str,
    cmd: &[OsString],
) -> i32 {
    let Some(program) = cmd.first() else {
        eprintln!("gardefou: override needs a command after --");
        return 2;
    };
    if reason.trim().is_empty() {
        eprintln!("gardefou: override needs a non-empty --reason: it goes to the audit log");
        return 2;
    }
    let name = Path::new(program)
        .file_name()
        .unwrap_or(program.as_os_str());
    let real = if program.as_bytes().contains(&b'/') && !exec::is_ours(Path::new(program)) {
        Ok(Path::new(program).to_owned())
    } else {
        exec::find_real(name, std::env::var_os("PATH").as_deref())
    };
    let real = match real {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::NOT_FOUND;
        }
    };
    let loaded = load_failsafe(policy);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, forced_env);
    let mut shell = crate::intent::line::Shell::from_process();
    let intents = crate::intent::line::parse_argv(cmd, &mut shell);
    let probed = probe_all(&intents, &loaded.policy, None);
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let v = evaluate(&probed, &loaded.policy, &env, error);
    let text = args_text(cmd);
    confirm::say(&format!(
        "{}gardefou: OVERRIDE requested: {reason}\n",
        render::verdict(&v, &env, &host, &text)
    ));
    let (run, outcome) = match ask_typed(&v, &env, &host) {
        Answer::Confirmed => (true, Outcome::Override),
        Answer::Refused(_) => {
            eprintln!("gardefou: that is not the expected answer: override refused.");
            (false, Outcome::OverrideRefused)
        }
        Answer::NoTerminal => {
            eprintln!("gardefou: an override needs a terminal to confirm on: refused.");
            (false, Outcome::OverrideRefusedNoTerminal)
        }
    };
    let mut argv = vec![OsString::from("gardefou-override")];
    argv.extend(cmd.iter().cloned());
    record(
        &loaded.policy,
        &host,
        &env,
        &argv,
        &v,
        Run {
            outcome,
            override_reason: Some(reason),
            snapshot_id: None,
        },
    );
    if !run {
        return 1;
    }
    // A deliberate bypass goes through the read-only net too, for this command only.
    crate::net::lift_for(crate::net::Lift::All);
    // apt's and dpkg's hooks below this process then know it was overridden.
    let guarded = format!("{}:*", std::process::id());
    eprintln!(
        "gardefou: {}",
        exec::exec_env(&real, program, &cmd[1..], &[(super::apt::GUARDED, guarded)])
    );
    exit::CANNOT_EXEC
}
