//! argv[0] dispatch: invoked as a guarded command's name (a shim), guard it; otherwise the CLI.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;

use clap::Parser;
use gardefou::cli::{Cli, Command};
use gardefou::intent::apt::Tool;
use gardefou::intent::sql::DbTool;
use gardefou::{act, commands, install, render};

fn main() {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_owned())
        .unwrap_or_default();
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
    if let Some(tool) = name.to_str().and_then(Tool::from_name) {
        render::init_colors(std::io::stderr().is_terminal());
        std::process::exit(act::apt::shim(tool, &argv));
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
        Command::AptHook => act::apt::apt_hook(policy, env),
        Command::DpkgHook => act::apt::dpkg_hook(policy, env),
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
                for w in install::path_warnings(&i.prefix.join("bin")) {
                    eprintln!("gardefou: warning: {w}");
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
