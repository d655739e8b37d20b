//! argv[0] dispatch: invoked as a guarded command's name (a shim), guard it; otherwise the CLI.

// Every guarded `apt` or `psql` starts this binary once more before the real one (a guarded
// `rm` starts `gardefou-shim`, src/bin/gardefou-shim.rs): it has its own C `main` (src/start.rs).
// (A unit-test build of this file keeps the test harness's own `main`.)
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;

use clap::Parser;
use gardefou::cli::{Cli, Command, MaintenanceCommand};
use gardefou::intent::apt::Tool;
use gardefou::intent::sql::DbTool;
use gardefou::{act, commands, install, render};

#[macro_use]
mod start;

c_main!(run);

fn run() {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_owned())
        .unwrap_or_default();
    if name == gardefou::net::HELPER {
        std::process::exit(gardefou::net::helper_main(&argv));
    }
    if name == "rm" {
        render::init_colors(std::io::stderr().is_terminal());
        std::process::exit(act::guard::rm_shim(&argv));
    }
    let db_tool = match name.to_str() {
        Some("psql") => Some(DbTool::Psql),
        Some("dropdb") => Some(DbTool::Dropdb),
        Some("pg_dropcluster") => Some(DbTool::PgDropcluster),
        Some("redis-cli") => Some(DbTool::RedisCli),
        Some("mysql" | "mariadb") => Some(DbTool::Mysql),
        Some("mysqladmin" | "mariadb-admin") => Some(DbTool::Mysqladmin),
        _ => None,
    };
    if let Some(tool) = db_tool {
        render::init_colors(std::io::stderr().is_terminal());
        std::process::exit(act::sql::shim(tool, &argv));
    }
    if let Some(host_command) = act::host::shim_name(&name) {
        render::init_colors(std::io::stderr().is_terminal());
        std::process::exit(act::host::shim(host_command, &argv));
    }
    if let Some(tool) = name.to_str().and_then(Tool::from_name) {
        render::init_colors(std::io::stderr().is_terminal());
        std::process::exit(act::apt::shim(tool, &argv));
    }
    // A login shell (`-gardefou`), or the shell sshd runs commands with (`gardefou -c LINE`,
    // `gardefou -l`).
    let login_name = name.as_encoded_bytes().starts_with(b"-");
    let first = argv.get(1).and_then(|a| a.to_str());
    if login_name || matches!(first, Some("-c" | "-l" | "--login")) {
        let args: Vec<OsString> = std::iter::once(OsString::from("gardefou"))
            .chain(std::iter::once(OsString::from("shell")))
            .chain(argv.iter().skip(1).cloned())
            .collect();
        let cli = Cli::parse_from(args);
        if let Command::Shell(s) = &cli.command {
            std::process::exit(shell(s, login_name));
        }
    }
    let cli = Cli::parse_from(argv);
    render::init_colors(std::io::stderr().is_terminal());
    let policy = cli.policy.as_deref();
    let env = cli.env.as_deref();
    let code = match &cli.command {
        Command::Check(a) => commands::check(a, policy, env),
        Command::Policy(p) => commands::policy(p, policy),
        Command::Log(l) => commands::log(l, policy),
        Command::Snapshot(s) => gardefou::snapshot::commands::run(s, policy, env),
        Command::Override(o) => act::guard::override_command(policy, env, &o.reason, &o.command),
        Command::Approve(a) => gardefou::approve::command(a, policy, env),
        Command::Run(r) => act::run::run(policy, env, &r.command),
        Command::Wire(r) => act::sql::wire(policy, env, &r.command),
        Command::Hook { agent } => gardefou::hook::hook(*agent, policy, env),
        Command::AptHook => act::apt::apt_hook(policy, env),
        Command::Shell(s) => shell(s, false),
        Command::Init { shell, install } if gardefou::hook::Agent::named(shell).is_some() => {
            gardefou::hook::Agent::named(shell)
                .map_or(2, |a| gardefou::hook::init_agent(a, *install))
        }
        Command::Init { shell, .. } => {
            let loaded = gardefou::pipeline::load_failsafe(policy);
            let host = gardefou::facts::hostname();
            let (e, _) = gardefou::pipeline::environment(&loaded.policy, &host, env);
            let bin = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "gardefou".into());
            let state = gardefou::cluster::Settings::of(loaded.policy.cluster.as_ref()).state_file;
            match gardefou::shell::init::snippet(shell, &e, &host, &bin, &state) {
                Some(text) => {
                    print!("{text}");
                    0
                }
                None => 2,
            }
        }
        Command::DpkgHook => act::apt::dpkg_hook(policy, env),
        Command::Preflight { json, drill } => commands::preflight(policy, env, *json, *drill),
        Command::Maintenance(m) => match m {
            MaintenanceCommand::Start { reason, yes } => {
                act::maintenance::start(policy, env, reason.as_deref(), *yes)
            }
            MaintenanceCommand::Finish { switch_back, yes } => {
                act::maintenance::finish(policy, env, *switch_back, *yes)
            }
            MaintenanceCommand::Status { json } => act::maintenance::status(policy, env, *json),
            MaintenanceCommand::Release { host, yes } => {
                act::maintenance::release(policy, env, host, *yes)
            }
        },
        Command::Install(i) => match install::install(i) {
            Ok(done) => {
                for d in &done {
                    println!("{d}");
                }
                if done.is_empty() {
                    println!(
                        "already installed in {} and {}",
                        i.prefix.display(),
                        i.etc.display()
                    );
                }
                // A package's maintainer script runs with dpkg's PATH, not the operators'.
                if !i.system {
                    for w in install::path_warnings(&i.prefix.join("bin")) {
                        eprintln!("gardefou: warning: {w}");
                    }
                }
                0
            }
            Err(e) => {
                eprintln!("gardefou: install: {e}");
                1
            }
        },
        Command::Uninstall(i) => match install::uninstall(i) {
            Ok(done) => {
                for d in &done {
                    println!("{d}");
                }
                0
            }
            Err(e) => {
                eprintln!("gardefou: uninstall: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}

/// `gardefou shell`: one line with -c, else the interactive loop. Never refuses to start: a
/// broken policy gives a degraded, loudly marked session.
fn shell(args: &gardefou::cli::ShellArgs, login_name: bool) -> i32 {
    let mut session = gardefou::shell::Session::new(login_name || args.login);
    match &args.command {
        Some(line) => session.run_command(line),
        None => gardefou::shell::interactive(&mut session),
    }
}
