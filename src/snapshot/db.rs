//! Database snapshots: a `pg_dump -Fc` of just the objects at risk (the tables a statement drops,
//! empties or rewrites; the schemas it drops; the whole database for a DROP DATABASE or SQL of
//! unknown effect), kept in the snapshot store with a manifest like any other snapshot, and put
//! back with `pg_restore`.

use std::path::Path;
use std::process::{Command, Stdio};

use super::manifest::{DbTarget, Method};
use super::store::Store;
use super::{DbSnapshot, take_database};
use crate::error::{Error, Result};

/// Connection options for pg_dump, pg_restore and psql; the rest comes from the PG* environment
/// as for psql itself.
fn connection(t: &DbTarget) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, v) in [("-h", &t.host), ("-p", &t.port), ("-U", &t.user)] {
        if let Some(v) = v {
            args.push(flag.to_owned());
            args.push(v.clone());
        }
    }
    args
}

fn run(program: &str, args: &[String]) -> Result<()> {
    let real = crate::act::exec::find_real(program.as_ref(), std::env::var_os("PATH").as_deref())?;
    let out = Command::new(&real)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("cannot run {}", real.display()), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Snapshot(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Dumps `target` into a new snapshot; returns its id once complete (dump written, hashed,
/// manifest final). On any failure the snapshot is rolled back and the error returned: the
/// caller must not run the command unsaved unless the policy says so.
pub fn take(
    store: &Store,
    target: DbTarget,
    command: &str,
    host: &str,
    environment: &str,
) -> Result<String> {
    let mut args = vec!["-Fc".to_owned(), "--lock-wait-timeout=5s".to_owned()];
    args.extend(connection(&target));
    if !target.whole {
        for t in &target.tables {
            args.extend(["-t".to_owned(), t.clone()]);
        }
        for s in &target.schemas {
            args.extend(["-n".to_owned(), s.clone()]);
        }
        args.push("--strict-names".into());
    }
    let database = target.database.clone();
    let what = DbSnapshot {
        host,
        environment,
        command,
        original: format!("postgresql:{database}"),
        method: Method::PgDump,
        target,
    };
    take_database(store, what, |data| {
        args.push("-f".into());
        args.push(data.join("dump.pgc").display().to_string());
        args.push(database);
        run("pg_dump", &args)
    })
}

/// Puts a database snapshot back: the objects with `pg_restore --clean --if-exists` in one
/// transaction (a dropped table comes back, an emptied one gets its rows back); a whole
/// database with `pg_restore --create` (it must not exist any more).
pub fn restore(t: &DbTarget, snapshot_dir: &Path, data: &str) -> Result<String> {
    let dump = snapshot_dir.join(data).join("dump.pgc");
    let mut args = connection(t);
    if t.whole {
        args.extend(["--create".into(), "-d".into(), "postgres".into()]);
    } else {
        args.extend([
            "--clean".into(),
            "--if-exists".into(),
            "--single-transaction".into(),
            "-d".into(),
            t.database.clone(),
        ]);
    }
    args.push(dump.display().to_string());
    run("pg_restore", &args)?;
    Ok(if t.whole {
        format!("database {} recreated from the dump", t.database)
    } else {
        let mut what: Vec<String> = t.tables.iter().map(|x| format!("table {x}")).collect();
        what.extend(t.schemas.iter().map(|x| format!("schema {x}")));
        format!("{} restored in database {}", what.join(", "), t.database)
    })
}
