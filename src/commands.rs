//! The subcommands that report rather than act: check, policy, log, preflight. Each returns an exit status.

use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;

use crate::audit;
use crate::cli::{CheckArgs, LogArgs, PolicyCommand};
use crate::facts::hostname;
use crate::intent::display_bytes;
use crate::intent::line::{Shell, parse_argv, parse_line};
use crate::pipeline::{environment, load_failsafe};
use crate::policy::load::{self, Source};
use crate::render;

/// `gardefou check`: exit 0 allow, 3 confirm, 4 deny, 2 usage or policy error.
pub fn check(args: &CheckArgs, policy: Option<&std::path::Path>, forced_env: Option<&str>) -> i32 {
    let loaded = load_failsafe(policy);
    if let Some(e) = &loaded.error {
        eprintln!("gardefou: policy error: {e}");
        return 2;
    }
    let problems = load::lint(&loaded.policy);
    if !problems.is_empty() {
        for p in problems {
            eprintln!("gardefou: policy error: {p}");
        }
        return 2;
    }
    let mut shell = Shell::from_process();
    let (intents, text) = match &args.line {
        Some(line) => match parse_line(line.as_bytes(), &mut shell) {
            Ok(i) => (i, display_bytes(line.as_bytes())),
            Err(e) => {
                eprintln!("gardefou: cannot parse the line: {e}");
                return 2;
            }
        },
        None => (
            parse_argv(&args.command, &mut shell),
            args.command
                .iter()
                .map(|a| display_bytes(a.as_bytes()))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    let host = hostname();
    let env = match loaded.policy.environment(&host, forced_env) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("gardefou: policy error: {e}");
            return 2;
        }
    };
    let input = match &args.input {
        None => None,
        Some(p) => {
            let read = if p.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
            } else {
                std::fs::read(p)
            };
            match read {
                Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) => {
                    eprintln!("gardefou: cannot read --input {}: {e}", p.display());
                    return 2;
                }
            }
        }
    };
    let ctx = crate::pipeline::Context {
        policy: &loaded.policy,
        env: &env,
        host: &host,
        error: None,
        net: false,
        ask_db: true,
    };
    let v = crate::pipeline::judge(&ctx, intents, input.as_deref()).verdict;
    if args.ask {
        return ask_for_shell(&loaded.policy, &env, &host, &v, &text);
    }
    if args.json {
        if !print_json(&v) {
            return 2;
        }
    } else {
        render::init_colors(std::io::stdout().is_terminal());
        print!("{}", render::verdict(&v, &env, &host, &text));
        if v.decision == crate::policy::Decision::Confirm {
            let what = match env.confirm_with {
                crate::policy::schema::ConfirmWith::Target if v.target.is_some() => {
                    "the target's path"
                }
                _ => "the hostname",
            };
            println!(
                "  it would ask to type {what} (environment {}: {})",
                env.name, env.because
            );
        }
    }
    v.decision.check_exit_code()
}

/// `check --ask`: the verdict carried out for a shell that runs the line itself. Exit 0: run
/// it; 4: do not.
fn ask_for_shell(
    policy: &crate::policy::Policy,
    env: &crate::policy::Environment,
    host: &str,
    v: &crate::policy::Verdict,
    text: &str,
) -> i32 {
    use crate::policy::Decision;
    const NOT_RUN: &str = "Nothing was run.";
    crate::approve::guarding_lines();
    let deferred = v.all_deferred() && !crate::shell::names_guarded_by_path(text);
    if v.decision == Decision::Allow || (v.decision == Decision::Confirm && deferred) {
        return 0;
    }
    render::init_colors(std::io::stderr().is_terminal());
    let (run, outcome) = crate::act::guard::carry_out(v, env, host, text, NOT_RUN);
    let argv = [
        std::ffi::OsString::from("gardefou-init"),
        "--line".into(),
        text.into(),
    ];
    crate::act::guard::record(
        policy,
        host,
        env,
        &argv,
        v,
        crate::act::guard::Run {
            outcome,
            override_reason: None,
            snapshot_id: None,
        },
    );
    if run { 0 } else { crate::outcome::exit::DENIED }
}

/// `gardefou policy check|show`.
pub fn policy(cmd: &PolicyCommand, explicit: Option<&std::path::Path>) -> i32 {
    match cmd {
        PolicyCommand::Check { files } => {
            let sets: Vec<Vec<Source>> = if files.is_empty() {
                match load::sources(explicit) {
                    Ok(s) => vec![s],
                    Err(e) => {
                        eprintln!("gardefou: {e}");
                        return 1;
                    }
                }
            } else {
                files
                    .iter()
                    .map(|f| vec![Source::File(f.clone())])
                    .collect()
            };
            let mut problems = 0;
            for set in sets {
                let names: Vec<String> = set.iter().map(Source::name).collect();
                match load::load(&set) {
                    Ok(p) => {
                        let lint = load::lint(&p);
                        for l in &lint {
                            println!("{l}");
                        }
                        problems += lint.len();
                        if lint.is_empty() {
                            println!(
                                "ok: {} ({} path rules, {} package rules, {} sql rules)",
                                names.join(", "),
                                p.paths.len(),
                                p.packages.len(),
                                p.sql.len()
                            );
                        }
                    }
                    Err(e) => {
                        println!("{e}");
                        problems += 1;
                    }
                }
            }
            i32::from(problems > 0)
        }
        PolicyCommand::Show { json } => {
            let loaded = load_failsafe(explicit);
            if let Some(e) = &loaded.error {
                eprintln!("gardefou: policy error: {e}");
                return 2;
            }
            let p = &loaded.policy;
            if *json {
                match serde_json::to_string_pretty(p) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("gardefou: {e}");
                        return 1;
                    }
                }
                return 0;
            }
            println!("sources: {}", p.sources.join(", "));
            let host = hostname();
            let (env, _) = environment(p, &host, None);
            println!("environment: {} ({})", env.name, env.because);
            println!("net: {}", crate::net::state(p, &env).describe());
            for r in &p.paths {
                println!(
                    "{:?} {} (contents: {:?}{}) — {} [{}, line {}]",
                    r.action,
                    r.path,
                    r.contents,
                    if r.net { "" } else { ", net = false" },
                    r.reason.as_deref().unwrap_or(""),
                    r.id,
                    r.line
                );
            }
            0
        }
    }
}

/// `gardefou log`.
pub fn log(args: &LogArgs, explicit: Option<&std::path::Path>) -> i32 {
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| audit::path(&load_failsafe(explicit).policy));
    let entries = match audit::read(&path) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return 1;
        }
    };
    let keep: Vec<_> = entries
        .into_iter()
        .filter(|e| match (e, &args.since) {
            (Ok(entry), Some(since)) => {
                chrono::DateTime::parse_from_rfc3339(&entry.time).is_ok_and(|t| t >= *since)
            }
            _ => true,
        })
        .filter(|e| match (e, &args.decision) {
            (Ok(entry), Some(d)) => serde_json::to_value(entry.decision)
                .ok()
                .and_then(|v| v.as_str().map(|s| s == d))
                .unwrap_or(false),
            _ => true,
        })
        .collect();
    let skip = args.last.map_or(0, |n| keep.len().saturating_sub(n));
    let mut bad = 0;
    for e in keep.into_iter().skip(skip) {
        match e {
            Ok(entry) if args.json => {
                println!("{}", serde_json::to_string(&entry).unwrap_or_default())
            }
            Ok(entry) => {
                println!(
                    "{} {} {}@{} [{}] {:?} {} — {}",
                    entry.time,
                    entry.outcome.as_str(),
                    entry.user,
                    entry.host,
                    entry.environment,
                    entry.decision,
                    entry.argv.join(" "),
                    entry
                        .reasons
                        .iter()
                        .map(|r| r.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                if let Some(id) = &entry.snapshot_id {
                    println!("    snapshot {id}: gardefou snapshot restore {id}");
                }
            }
            Err(msg) => {
                bad += 1;
                eprintln!("gardefou: unreadable entry: {msg}");
            }
        }
    }
    i32::from(bad > 0)
}

/// `gardefou preflight [--json] [--drill]`: exit 0 when no item is ✘, 1 otherwise.
pub fn preflight(
    policy: Option<&std::path::Path>,
    forced_env: Option<&str>,
    json: bool,
    drill: bool,
) -> i32 {
    let loaded = load_failsafe(policy);
    let (env, env_error) = environment(&loaded.policy, &hostname(), forced_env);
    let host = loaded.policy.host_name();
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let report = crate::preflight::run(&crate::preflight::Context {
        policy: &loaded.policy,
        env: &env,
        host: &host,
        policy_error: error,
        drill,
    });
    if json {
        if !print_json(&report) {
            return 2;
        }
    } else {
        render::init_colors(std::io::stdout().is_terminal());
        print!("{}", crate::preflight::render(&report.items));
    }
    if report.ok { 0 } else { 1 }
}

/// Prints `value` as one line of JSON; false (and a message) if it cannot be encoded.
fn print_json(value: &impl serde::Serialize) -> bool {
    match serde_json::to_string(value) {
        Ok(s) => {
            println!("{s}");
            true
        }
        Err(e) => {
            eprintln!("gardefou: {e}");
            false
        }
    }
}

/// `--since`: an age (`30m`, `2h`, `7d`, `90s`, `1h 30m`: humantime's syntax) back from now, or
/// a UTC time (`2026-11-26`, `2026-11-26 14:00[:00]`, RFC 3339).
pub fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Utc};
    let t = text.trim();
    if let Ok(age) = humantime::parse_duration(t) {
        return TimeDelta::from_std(age)
            .ok()
            .and_then(|d| Utc::now().checked_sub_signed(d))
            .ok_or_else(|| format!("{t:?}: too far back"));
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!(
        "{t:?} is neither an age (30m, 2h, 7d) nor a UTC time (2026-11-26, \"2026-11-26 14:00\", RFC 3339)"
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_ages_and_utc_times() {
        let now = chrono::Utc::now();
        let two_hours = parse_since("2h").unwrap();
        assert!((now - two_hours).num_seconds().abs_diff(7200) < 5);
        assert_eq!(
            parse_since("2026-11-26 14:00").unwrap().to_rfc3339(),
            "2026-11-26T14:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-26").unwrap().to_rfc3339(),
            "2026-11-26T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-26T15:00:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-26T14:00:00+00:00"
        );
        assert!(parse_since("yesterday").is_err());
        assert!(parse_since("5x").is_err());
    }
}
