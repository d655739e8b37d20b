//! `gardefou run [--] CMD…`: a command under the read-only net, for the scripts and cron jobs
//! operators want protected (`gardefou run -- make deploy`). The command is judged as the
//! guarded shell judges a line, runs with the shims first on PATH (so the rm, apt and psql it
//! starts are guarded), and every protected tree whose changes are not allowed is read-only for
//! whatever it starts.

use std::ffi::OsString;
use std::path::Path;

use super::guard::{Run, args_text, carry_out, record};
use super::netted::{Netted, trees_for, warn_server};
use crate::facts::hostname;
use crate::outcome::exit;
use crate::pipeline::{Context, environment, judge, load_failsafe};
use crate::policy::Decision;

const RAN_NOTHING: &str = "Nothing was run.";

pub fn run(policy: Option<&Path>, forced_env: Option<&str>, cmd: &[OsString]) -> i32 {
    crate::approve::guarding_lines();
    let Some(program) = cmd.first() else {
        eprintln!("gardefou: run needs a command after --");
        return exit::USAGE;
    };
    let loaded = load_failsafe(policy);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, forced_env);
    let error = loaded.error.as_deref().or(env_error.as_deref());
    if let Some(e) = error {
        eprintln!("gardefou: DEGRADED: {e}; the built-in defaults guard this command");
    }
    let ctx = Context {
        policy: &loaded.policy,
        env: &env,
        host: &host,
        error,
        net: crate::net::enabled(&loaded.policy, &env).is_ok() && crate::net::available().is_ok(),
        ask_db: false,
    };
    let mut shell = crate::intent::line::Shell::from_process();
    let intents = crate::intent::line::parse_argv(cmd, &mut shell);
    let judged = judge(&ctx, intents, None);
    let v = &judged.verdict;
    let text = args_text(cmd);
    let mut argv = vec![OsString::from("gardefou-run")];
    argv.extend(cmd.iter().cloned());
    let audit = |outcome| {
        record(
            &loaded.policy,
            &host,
            &env,
            &argv,
            v,
            Run {
                outcome,
                override_reason: None,
                snapshot_id: None,
            },
        )
    };
    let by_path = crate::shell::names_guarded_by_path(&text);
    let shims = crate::shell::shim_dir();
    let exempt = match v.decision {
        Decision::Allow => Vec::new(),
        // Its shims ask when it reaches them, and lift the net for what they confirm.
        Decision::Confirm if shims.is_some() && v.all_deferred() && !by_path => Vec::new(),
        _ => {
            let (go, outcome) = carry_out(v, &env, &host, &text, RAN_NOTHING);
            audit(outcome);
            if !go {
                return exit::REFUSED;
            }
            judged.touched.clone()
        }
    };
    let state = crate::net::state(&loaded.policy, &env);
    if let crate::net::State::Unavailable(why) = &state {
        eprintln!("gardefou: the read-only net is unavailable ({why}): running without it");
    }
    let trees = trees_for(&state, &exempt);
    warn_server(&text, &trees);
    // Ctrl-C and Ctrl-\\ are the command's: gardefou stays to report and audit.
    crate::shell::catch_job_signals();
    let path = crate::shell::shim_dir()
        .map(|dir| crate::shell::path_with(&dir, std::env::var_os("PATH").as_deref()));
    Netted {
        policy: &loaded.policy,
        env: &env,
        host: &host,
        argv: &argv,
        text: &text,
    }
    .run(&trees, Path::new(program), &cmd[1..], true, |c| {
        if let Some(p) = &path {
            c.env("PATH", p);
        }
        // The shims the command reaches judge by the same policy.
        if let Some(p) = policy {
            c.env("GARDEFOU_POLICY", p);
        }
    })
}
