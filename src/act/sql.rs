//! The database shims: `psql`, `dropdb` and `pg_dropcluster`. psql's SQL is read before it runs
//! (`-c`, `-f FILE`, and standard input when it is not a terminal: read whole, checked, then
//! handed to the real psql through a pipe). An interactive psql session on a terminal is not
//! intercepted statement by statement.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::process::{Command, Stdio};

use super::guard::{Outcome, carry_out, environment, load_failsafe, record, snapshot_failed};
use super::{exec, hostname};
use crate::facts::db;
use crate::intent::Intent;
use crate::intent::sql::{self, DbTool, Source};
use crate::policy::eval::{Probed, evaluate};

const CHANGED_NOTHING: &str = "Nothing was run.";

/// A database command through its shim. Returns only when it does not exec.
pub fn shim(tool: DbTool, argv: &[OsString]) -> i32 {
    let name = match tool {
        DbTool::Psql => "psql",
        DbTool::Dropdb => "dropdb",
        DbTool::PgDropcluster => "pg_dropcluster",
    };
    let argv0 = argv.first().cloned().unwrap_or_else(|| name.into());
    let args = argv.get(1..).unwrap_or(&[]);
    let real = match exec::find_real(name.as_ref(), std::env::var_os("PATH").as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return 127;
        }
    };
    let intent = match tool {
        DbTool::Psql => sql::parse_psql(args),
        _ => sql::parse_drop(tool, args),
    };
    let reads_stdin = intent.sources.contains(&Source::Stdin);
    if intent.info_only || (reads_stdin && std::io::stdin().is_terminal()) {
        // Help, or an interactive session typed on a terminal.
        eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
        return 126;
    }
    let mut input = Vec::new();
    if reads_stdin && let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("gardefou: cannot read the SQL on standard input: {e}");
        return 1;
    }
    let stdin_text = String::from_utf8_lossy(&input).into_owned();
    let facts = db::probe(&intent, reads_stdin.then_some(stdin_text.as_str()));
    let loaded = load_failsafe(None);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, None);
    let wrapped = Intent::Sql(intent.clone());
    let probed = [Probed {
        intent: &wrapped,
        targets: Vec::new(),
        packages: None,
        sql: Some(facts),
    }];
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let v = evaluate(&probed, &loaded.policy, &env, error);
    let (mut run, mut outcome) = carry_out(&v, &env, &host, &intent.text, CHANGED_NOTHING);
    if run && v.snapshot {
        // Database snapshots (a targeted pg_dump) are not built yet: say so, and let
        // `[snapshot] on_failure` decide, as for any snapshot that cannot be taken.
        let e = crate::Error::Snapshot(
            "database snapshots (pg_dump of the objects at risk) are not implemented yet".into(),
        );
        (run, outcome) = snapshot_failed(&loaded.policy, &env, &host, &v, &e);
    }
    record(
        &loaded.policy,
        &host,
        &env,
        argv,
        &v,
        Outcome {
            what: &outcome,
            override_reason: None,
            snapshot_id: None,
        },
    );
    if !run {
        return 1;
    }
    if !reads_stdin {
        eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
        return 126;
    }
    // The SQL was read to be checked: hand exactly those bytes to the real psql.
    let child = Command::new(&real)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            if let Some(mut pipe) = c.stdin.take() {
                // psql may stop reading early (ON_ERROR_STOP): a broken pipe is its business.
                let _ = pipe.write_all(&input);
            }
            c.wait()
        });
    match child {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
        }
        Err(e) => {
            eprintln!("gardefou: cannot run {}: {e}", real.display());
            126
        }
    }
}
