//! MySQL/MariaDB snapshots: `mysqldump` (SQL text) of just the tables a statement drops,
//! empties or rewrites, or of whole databases (DROP DATABASE, `mysqladmin drop`, SQL of unknown
//! effect), kept in the snapshot store with a manifest, and replayed with the `mysql` client.
//!
//! One dump file per database: `db-K.sql` for a whole database (`--databases`: it creates the
//! database if it is gone), `tables-K.sql` for tables of one database (each table dropped and
//! recreated with its rows). InnoDB tables are dumped in one consistent transaction
//! (`--single-transaction`). The password given on the command line goes to mysqldump in its
//! environment (`MYSQL_PWD`), never on its command line or into the manifest; a restore takes
//! it from `MYSQL_PWD` or an option file, as the mysql client does.

use std::path::Path;
use std::process::{Command, Stdio};

use super::manifest::{DbTarget, Method};
use super::store::Store;
use super::{DbSnapshot, take_database};
use crate::error::{Error, Result};
use crate::facts::db::SqlFacts;
use crate::intent::sql::SqlIntent;
use crate::policy::schema::{Engine, SqlStatement};

/// What to dump: the databases to dump whole (`schemas`) and the tables (`db.table`: a
/// database name with a dot in it is not supported) of the others.
pub fn target(intent: &SqlIntent, facts: &SqlFacts) -> Result<DbTarget> {
    let mut whole: Vec<String> = Vec::new();
    let mut tables: Vec<(String, String)> = Vec::new();
    for f in &facts.found {
        if f.kind == SqlStatement::Shutdown {
            continue;
        }
        let db = f
            .database
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| facts.database.clone());
        if db.is_empty() {
            return Err(Error::Snapshot(format!(
                "cannot tell which database {} is in: name it (-D DATABASE, or db.table) to have it snapshotted",
                f.object.as_deref().unwrap_or("the statement")
            )));
        }
        match (f.kind, &f.object) {
            (SqlStatement::DropDatabase | SqlStatement::Unknown, _) | (_, None) => whole.push(db),
            (_, Some(table)) => tables.push((db, table.clone())),
        }
    }
    whole.sort();
    whole.dedup();
    tables.retain(|(db, _)| !whole.contains(db));
    tables.sort();
    tables.dedup();
    if whole.is_empty() && tables.is_empty() {
        return Err(Error::Snapshot("nothing to snapshot".into()));
    }
    let database = if facts.database.is_empty() {
        whole
            .first()
            .or(tables.first().map(|(db, _)| db))
            .cloned()
            .unwrap_or_default()
    } else {
        facts.database.clone()
    };
    Ok(DbTarget {
        engine: Engine::Mysql,
        database,
        host: intent.host.clone(),
        port: intent.port.clone(),
        user: intent.user.clone(),
        socket: intent.socket.clone(),
        tables: tables
            .into_iter()
            .map(|(db, t)| format!("{db}.{t}"))
            .collect(),
        schemas: whole,
        whole: false,
        connection: intent.connection.clone(),
        ..DbTarget::default()
    })
}

/// The dump files of a target: (file name, database, tables; empty = the whole database).
fn plan(t: &DbTarget) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = t
        .schemas
        .iter()
        .enumerate()
        .map(|(k, db)| (format!("db-{k}.sql"), db.clone(), Vec::new()))
        .collect();
    let mut by_db: Vec<(String, Vec<String>)> = Vec::new();
    for qualified in &t.tables {
        let (db, table) = qualified.split_once('.').unwrap_or(("", qualified));
        match by_db.iter_mut().find(|(d, _)| d == db) {
            Some((_, v)) => v.push(table.to_owned()),
            None => by_db.push((db.to_owned(), vec![table.to_owned()])),
        }
    }
    for (k, (db, tables)) in by_db.into_iter().enumerate() {
        out.push((format!("tables-{k}.sql"), db, tables));
    }
    out
}

/// Connection options, option-file ones first (the clients want them first).
fn connection(t: &DbTarget) -> Vec<String> {
    let mut args: Vec<String> = t.connection.clone();
    args.sort_by_key(|a| !(a.starts_with("--defaults") || a == "--no-defaults"));
    args
}

/// Runs the first of `program` that is installed (the real one, not a shim); its output.
fn run(
    program: &[&str],
    args: &[String],
    password: Option<&str>,
    input: Option<&Path>,
) -> Result<Vec<u8>> {
    let path = std::env::var_os("PATH");
    let real = program
        .iter()
        .find_map(|p| crate::act::exec::find_real(p.as_ref(), path.as_deref()).ok())
        .ok_or_else(|| Error::Snapshot(format!("none of {} is installed", program.join(", "))))?;
    let mut cmd = Command::new(&real);
    cmd.args(args);
    if let Some(p) = password {
        cmd.env("MYSQL_PWD", p);
    }
    match input {
        Some(file) => {
            let f = std::fs::File::open(file)
                .map_err(|e| Error::io(format!("cannot open {}", file.display()), e))?;
            cmd.stdin(f);
        }
        None => {
            cmd.stdin(Stdio::null());
        }
    }
    let out = cmd
        .output()
        .map_err(|e| Error::io(format!("cannot run {}", real.display()), e))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(Error::Snapshot(format!(
            "{} failed: {}",
            real.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Leaves out of `t` the databases and tables that do not exist (`DROP TABLE IF EXISTS` of
/// nothing has nothing to save). A server that cannot be asked is an error.
fn keep_existing(t: &mut DbTarget, password: Option<&str>) -> Result<()> {
    let quote = |x: &str| format!("'{}'", x.replace('\\', "\\\\").replace('\'', "''"));
    let mut dbs: Vec<&str> = t.schemas.iter().map(String::as_str).collect();
    dbs.extend(
        t.tables
            .iter()
            .map(|q| q.split_once('.').map_or(q.as_str(), |(d, _)| d)),
    );
    let list = dbs.iter().map(|d| quote(d)).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT SCHEMA_NAME, '' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({list}) \
         UNION ALL SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({list})"
    );
    let mut args = connection(t);
    args.extend(["--batch", "--raw", "--skip-column-names", "-e"].map(String::from));
    args.push(sql);
    let out = run(&["mariadb", "mysql"], &args, password, None)?;
    let out = String::from_utf8_lossy(&out);
    let mut schemas = Vec::new();
    let mut tables = Vec::new();
    for line in out.lines() {
        match line.split_once('\t') {
            Some((db, "")) => schemas.push(db.to_owned()),
            Some((db, table)) => tables.push(format!("{db}.{table}")),
            None => {}
        }
    }
    t.schemas.retain(|d| schemas.contains(d));
    t.tables.retain(|q| tables.contains(q));
    Ok(())
}

/// Dumps `target` into a new snapshot; returns its id once complete, or None when nothing it
/// names exists. On failure the snapshot is rolled back and the error returned.
pub fn take(
    store: &Store,
    mut target: DbTarget,
    intent: &SqlIntent,
    host: &str,
    environment: &str,
) -> Result<Option<String>> {
    keep_existing(&mut target, intent.password.as_deref())?;
    if target.schemas.is_empty() && target.tables.is_empty() {
        return Ok(None);
    }
    let files = plan(&target);
    let conn = connection(&target);
    let server = target
        .socket
        .clone()
        .or_else(|| target.host.clone())
        .unwrap_or_else(|| "localhost".into());
    let what = DbSnapshot {
        host,
        environment,
        command: &intent.text,
        original: format!("mysql:{server}/{}", target.database),
        method: Method::Mysqldump,
        target,
    };
    let password = intent.password.clone();
    take_database(store, what, |data| {
        for (file, db, tables) in &files {
            let mut args = conn.clone();
            args.push("--single-transaction".into());
            args.push(format!("--result-file={}", data.join(file).display()));
            if tables.is_empty() {
                // Stored routines and events go with their database.
                args.extend(["--routines", "--events", "--databases"].map(String::from));
                args.push(db.clone());
            } else {
                args.push(db.clone());
                args.extend(tables.iter().cloned());
            }
            run(
                &["mariadb-dump", "mysqldump"],
                &args,
                password.as_deref(),
                None,
            )?;
        }
        Ok(())
    })
    .map(Some)
}

/// Replays a MySQL snapshot: each dump through the `mysql` client (a whole database is
/// created again if it is gone; tables are dropped and recreated with their rows).
pub fn restore(t: &DbTarget, snapshot_dir: &Path, data: &str) -> Result<String> {
    let conn = connection(t);
    let mut done = Vec::new();
    for (file, db, tables) in plan(t) {
        let mut args = conn.clone();
        args.push("--batch".into());
        if !tables.is_empty() {
            args.push(format!("--database={db}"));
        }
        let dump = snapshot_dir.join(data).join(&file);
        run(&["mariadb", "mysql"], &args, None, Some(&dump))?;
        done.push(if tables.is_empty() {
            format!("database {db}")
        } else {
            format!("{} in database {db}", tables.join(", "))
        });
    }
    Ok(format!("{} restored", done.join("; ")))
}
