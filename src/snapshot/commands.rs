//! `gardefou snapshot …`: list, show, take, restore, verify, prune, rm. Each returns an exit
//! status: 0 done, 1 refused or failed (a mismatch, a conflict), 2 usage or store error.

use std::path::{Path, PathBuf};

use super::fs::{conflicts, restore_target, verify_target};
use super::manifest::{Kind, Manifest, Method, State};
use super::store::{Store, valid_id};
use super::{Planned, Request, finish_id, human_size, parse_size, take};
use crate::cli::SnapshotCommand;
use crate::error::{Error, Result};
use crate::facts::fs::{lexical_normalize, show};
use crate::facts::hostname;
use crate::pipeline::{environment, load_failsafe};
use crate::policy::Policy;

pub fn run(cmd: &SnapshotCommand, policy: Option<&Path>, env: Option<&str>) -> i32 {
    let loaded = load_failsafe(policy);
    if let Some(e) = &loaded.error {
        eprintln!("gardefou: policy error: {e}; using the built-in default policy's settings");
    }
    let result = match cmd {
        SnapshotCommand::Finish { id, store } => {
            let store = match store {
                Some(root) => Ok(Store { root: root.clone() }),
                None => Store::for_caller(&loaded.policy),
            };
            store
                .and_then(|s| checked_id(id).and_then(|id| finish_id(&s, id).map(|_| 0)))
                .map_err(|e| {
                    Error::Snapshot(format!(
                        "{} finishing snapshot {id}: {e}",
                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ))
                })
        }
        _ => Store::for_caller(&loaded.policy).and_then(|store| match cmd {
            SnapshotCommand::List { json } => list(&store, *json),
            SnapshotCommand::Show { id, json } => show_one(&store, id, *json),
            SnapshotCommand::Take { paths } => take_paths(&store, &loaded.policy, env, paths),
            SnapshotCommand::Restore {
                id,
                to,
                force,
                paths,
            } => restore(&store, id, to.as_deref(), *force, paths),
            SnapshotCommand::Verify { id } => verify(&store, id),
            SnapshotCommand::Prune { yes } => prune(&store, &loaded.policy, *yes),
            SnapshotCommand::Rm { id } => remove(&store, id),
            SnapshotCommand::Finish { .. } => Ok(0),
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gardefou: {e}");
            2
        }
    }
}

fn checked_id(id: &str) -> Result<&str> {
    if valid_id(id) {
        Ok(id)
    } else {
        Err(Error::Usage(format!(
            "{id:?} is not a snapshot id (see `gardefou snapshot list`)"
        )))
    }
}

/// Opens an existing store and settles interrupted snapshots, saying so on stderr.
fn open_existing(store: &Store) -> Result<bool> {
    if !store.root.exists() {
        return Ok(false);
    }
    store.open()?;
    let _lock = store.lock_shared()?;
    for line in store.recover()? {
        eprintln!("gardefou: snapshot {line}");
    }
    Ok(true)
}

fn manifests(store: &Store) -> Result<Vec<(String, Result<Manifest>)>> {
    Ok(store
        .ids()?
        .into_iter()
        .map(|id| {
            let m = Manifest::read(&store.dir(&id));
            (id, m)
        })
        .collect())
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Preparing => "preparing",
        State::Committed => "hashing",
        State::Complete => "complete",
    }
}

fn list(store: &Store, json: bool) -> Result<i32> {
    if !open_existing(store)? {
        if json {
            println!("[]");
        } else {
            println!("no snapshots ({} does not exist)", store.root.display());
        }
        return Ok(0);
    }
    let all = manifests(store)?;
    if json {
        let items: Vec<serde_json::Value> = all
            .iter()
            .map(|(id, m)| match m {
                Ok(m) => serde_json::json!({
                    "id": id, "state": m.state, "time": m.time, "user": m.user,
                    "host": m.host, "environment": m.environment, "command": m.command,
                    "bytes": m.bytes(), "disk_bytes": m.disk_bytes(),
                    "targets": m.targets.iter().map(|t| serde_json::json!({
                        "original": t.original, "method": t.method, "entries": t.entries.len(),
                    })).collect::<Vec<_>>(),
                }),
                Err(e) => serde_json::json!({"id": id, "error": e.to_string()}),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).map_err(|e| Error::Snapshot(e.to_string()))?
        );
        return Ok(0);
    }
    if all.is_empty() {
        println!("no snapshots in {}", store.root.display());
    }
    for (id, m) in &all {
        match m {
            Ok(m) => println!(
                "{id}  {:<8}  {}  {:>10}  {}  {}",
                state_name(m.state),
                m.time,
                human_size(m.bytes()),
                m.user,
                m.command
            ),
            Err(e) => println!("{id}  unreadable: {e}"),
        }
    }
    Ok(0)
}

fn kind_letter(k: Kind) -> char {
    match k {
        Kind::File => '-',
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Fifo => 'p',
        Kind::Char => 'c',
        Kind::Block => 'b',
        Kind::Socket => 's',
    }
}

fn show_one(store: &Store, id: &str, json: bool) -> Result<i32> {
    let id = checked_id(id)?;
    open_existing(store)?;
    let m = Manifest::read(&store.dir(id))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&m).map_err(|e| Error::Snapshot(e.to_string()))?
        );
        return Ok(0);
    }
    println!("snapshot {}  ({})", m.id, state_name(m.state));
    println!(
        "  taken    {} by {} (uid {}) on {}",
        m.time, m.user, m.uid, m.host
    );
    println!("  env      {}", m.environment);
    println!("  command  {}", m.command);
    println!(
        "  size     {} ({} on disk)",
        human_size(m.bytes()),
        human_size(m.disk_bytes())
    );
    for t in &m.targets {
        println!(
            "  target {}  ({:?}, {} entries)",
            show(&t.original.0),
            t.method,
            t.entries.len()
        );
        for e in &t.entries {
            let path = if e.path.0.as_os_str().is_empty() {
                t.original.0.clone()
            } else {
                t.original.0.join(&e.path.0)
            };
            let link = e
                .link
                .as_ref()
                .map(|l| format!(" -> {}", show(&l.0)))
                .unwrap_or_default();
            println!(
                "    {}{:04o} {:>5}:{:<5} {:>12} {} {}{link}",
                kind_letter(e.kind),
                e.mode,
                e.uid,
                e.gid,
                e.size,
                e.sha256.as_deref().map_or("-", |s| &s[..16.min(s.len())]),
                show(&path)
            );
        }
    }
    Ok(0)
}

/// The entry a path names, as rm would delete it: the parent resolved, the last component not.
fn entry_path(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", e))?
            .join(p)
    };
    let abs = lexical_normalize(&abs);
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => Ok(std::fs::canonicalize(parent)
            .map_err(|e| Error::io(format!("cannot resolve {}", parent.display()), e))?
            .join(name)),
        _ => Err(Error::Usage(format!(
            "{}: cannot snapshot /",
            abs.display()
        ))),
    }
}

fn take_paths(store: &Store, policy: &Policy, env: Option<&str>, paths: &[PathBuf]) -> Result<i32> {
    let host = hostname();
    let (environment, _) = environment(policy, &host, env);
    let targets = paths
        .iter()
        .map(|p| {
            entry_path(p).map(|path| Planned {
                path,
                may_rename: false,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let command = std::env::args_os()
        .map(|a| show(Path::new(&a)))
        .collect::<Vec<_>>()
        .join(" ");
    let taken = take(
        store,
        &Request {
            targets,
            command,
            host,
            environment: environment.name,
            one_file_system: false,
        },
    )?;
    let id = taken.id.clone();
    drop(taken.lock);
    let m = finish_id(store, &id)?;
    println!("{id}");
    eprintln!(
        "gardefou: snapshot {id}: {} in {} entries, hashed",
        human_size(m.bytes()),
        m.targets.iter().map(|t| t.entries.len()).sum::<usize>()
    );
    Ok(0)
}

/// A complete manifest: waits for (or does) the hashing of a snapshot still being finished.
fn complete(store: &Store, id: &str) -> Result<Manifest> {
    open_existing(store)?;
    let dir = store.dir(id);
    if !dir.join(super::manifest::FILE).exists() {
        return Err(Error::Snapshot(format!(
            "no snapshot {id} in {}",
            store.root.display()
        )));
    }
    finish_id(store, id)
}

fn restore(
    store: &Store,
    id: &str,
    to: Option<&Path>,
    force: bool,
    paths: &[PathBuf],
) -> Result<i32> {
    let id = checked_id(id)?;
    let m = complete(store, id)?;
    // Typed in the guarded shell, a restore puts data back into the trees the read-only net
    // holds: it is deliberate, and goes through it.
    crate::net::lift_for(crate::net::Lift::All);
    let _lock = store.wait(id)?;
    let wanted: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            if p.is_absolute() {
                Ok(lexical_normalize(p))
            } else {
                std::env::current_dir()
                    .map(|c| lexical_normalize(&c.join(p)))
                    .map_err(|e| Error::io("cannot read the current directory", e))
            }
        })
        .collect::<Result<_>>()?;
    // A database snapshot is replayed into its server, after its dump is checked.
    if let Some(t) = m.targets.iter().find(|t| {
        matches!(
            t.method,
            Method::PgDump | Method::RedisDump | Method::Mysqldump
        )
    }) {
        if to.is_some() || !paths.is_empty() {
            return Err(Error::Usage(format!(
                "snapshot {id} is a database dump: it is restored into its database, without --to or paths"
            )));
        }
        let bad = verify_target(t, &store.dir(id));
        if !bad.is_empty() {
            return Err(Error::Snapshot(format!(
                "snapshot {id}: the dump does not match its sha256 ({}): not restored",
                bad.join("; ")
            )));
        }
        let db = t.database.as_ref().ok_or_else(|| {
            Error::Snapshot(format!("snapshot {id}: the manifest names no database"))
        })?;
        let done = match t.method {
            Method::RedisDump => super::redis::restore(db, &store.dir(id), &t.data)?,
            Method::Mysqldump => super::mysql::restore(db, &store.dir(id), &t.data)?,
            _ => super::db::restore(db, &store.dir(id), &t.data)?,
        };
        eprintln!("gardefou: snapshot {id}: {done}; the snapshot is kept");
        return Ok(0);
    }
    // (target, what under it, where it goes)
    let mut plan = Vec::new();
    for t in &m.targets {
        let original = &t.original.0;
        let only = if wanted.is_empty() {
            Some(PathBuf::new())
        } else {
            wanted.iter().find_map(|w| {
                if let Ok(rel) = w.strip_prefix(original) {
                    Some(rel.to_path_buf())
                } else if original.starts_with(w) {
                    Some(PathBuf::new())
                } else {
                    None
                }
            })
        };
        let Some(only) = only else { continue };
        let dest = match to {
            Some(dir) => dir.join(original.strip_prefix("/").unwrap_or(original)),
            None => original.clone(),
        };
        if !t.entries.iter().any(|e| e.path.0.starts_with(&only)) {
            return Err(Error::Usage(format!(
                "{} is not in snapshot {id}",
                show(&original.join(&only))
            )));
        }
        plan.push((t, only, dest));
    }
    if plan.is_empty() {
        return Err(Error::Usage(format!(
            "none of the given paths is in snapshot {id} (see `gardefou snapshot show {id}`)"
        )));
    }
    if !force {
        let taken: Vec<PathBuf> = plan
            .iter()
            .flat_map(|(t, only, dest)| conflicts(t, dest, only))
            .collect();
        if !taken.is_empty() {
            eprintln!(
                "gardefou: restore refused: {} path(s) exist and would be overwritten:",
                taken.len()
            );
            for p in taken.iter().take(10) {
                eprintln!("  {}", show(p));
            }
            eprintln!(
                "gardefou: move them away, restore elsewhere with --to DIR, or overwrite with --force. Nothing was restored."
            );
            return Ok(1);
        }
    }
    let total: u64 = plan.iter().map(|(t, _, _)| t.bytes).sum();
    let mut progress = super::Progress::new(total);
    let mut entries = 0;
    for (t, only, dest) in &plan {
        let done = restore_target(t, &store.dir(id), dest, only, &mut |n| progress.tick(n))?;
        for note in &done.notes {
            eprintln!("gardefou: {note}");
        }
        entries += done.entries;
        let place = if only.as_os_str().is_empty() {
            dest.clone()
        } else {
            dest.join(only)
        };
        eprintln!(
            "gardefou: restored {} ({} entries)",
            show(&place),
            done.entries
        );
    }
    eprintln!("gardefou: snapshot {id}: {entries} entries restored; the snapshot is kept");
    Ok(0)
}

fn verify(store: &Store, id: &str) -> Result<i32> {
    let id = checked_id(id)?;
    let m = complete(store, id)?;
    let _lock = store.wait(id)?;
    let mut problems = Vec::new();
    let mut entries = 0;
    for t in &m.targets {
        entries += t.entries.len();
        problems.extend(verify_target(t, &store.dir(id)));
    }
    for p in &problems {
        println!("MISMATCH {p}");
    }
    if problems.is_empty() {
        println!("snapshot {id}: {entries} entries verified, every file matches its sha256");
        Ok(0)
    } else {
        println!(
            "snapshot {id}: {} problem(s) in {entries} entries",
            problems.len()
        );
        Ok(1)
    }
}

/// Which snapshots a prune removes, by index into `snaps` (oldest first): those older than
/// `keep_days`, then the oldest while the total is over `max_bytes`; never the newest
/// `keep_newest`.
pub fn plan_prune(
    snaps: &[(chrono::DateTime<chrono::Utc>, u64)],
    now: chrono::DateTime<chrono::Utc>,
    keep_days: Option<u32>,
    max_bytes: Option<u64>,
    keep_newest: usize,
) -> Vec<usize> {
    let candidates = snaps.len().saturating_sub(keep_newest);
    let mut gone: Vec<usize> = (0..candidates)
        .filter(|&i| {
            keep_days.is_some_and(|d| now - snaps[i].0 > chrono::Duration::days(i64::from(d)))
        })
        .collect();
    if let Some(max) = max_bytes {
        let mut total: u64 = (0..snaps.len())
            .filter(|i| !gone.contains(i))
            .map(|i| snaps[i].1)
            .sum();
        for (i, snap) in snaps.iter().enumerate().take(candidates) {
            if total <= max {
                break;
            }
            if !gone.contains(&i) {
                gone.push(i);
                total -= snap.1;
            }
        }
    }
    gone.sort_unstable();
    gone
}

fn prune(store: &Store, policy: &Policy, yes: bool) -> Result<i32> {
    if !open_existing(store)? {
        println!("no snapshots ({} does not exist)", store.root.display());
        return Ok(0);
    }
    let s = &policy.snapshot;
    let max_bytes = match &s.max_bytes {
        Some(text) => Some(parse_size(text).ok_or_else(|| {
            Error::Snapshot(format!(
                "[snapshot] max_bytes = {text:?} is not a size (e.g. \"20G\")"
            ))
        })?),
        None => None,
    };
    let keep_newest = s.keep_newest.unwrap_or(3) as usize;
    let _lock = if yes {
        Some(store.lock_exclusive()?)
    } else {
        None
    };
    let mut complete = Vec::new();
    for (id, m) in manifests(store)? {
        match m {
            Ok(m) if m.state == State::Complete => {
                match chrono::DateTime::parse_from_rfc3339(&m.time) {
                    Ok(t) => complete.push((id, t.with_timezone(&chrono::Utc), m.disk_bytes())),
                    Err(_) => eprintln!(
                        "gardefou: snapshot {id}: unreadable time {:?}: kept",
                        m.time
                    ),
                }
            }
            Ok(m) => eprintln!("gardefou: snapshot {id}: {}: kept", state_name(m.state)),
            Err(e) => eprintln!("gardefou: snapshot {id}: {e}: kept"),
        }
    }
    let sizes: Vec<_> = complete.iter().map(|(_, t, b)| (*t, *b)).collect();
    let gone = plan_prune(
        &sizes,
        chrono::Utc::now(),
        s.keep_days,
        max_bytes,
        keep_newest,
    );
    let freed: u64 = gone.iter().map(|&i| complete[i].2).sum();
    for &i in &gone {
        let (id, time, bytes) = &complete[i];
        if yes {
            super::fs::remove_tree(&store.dir(id))?;
            println!(
                "removed {id}  ({}, {})",
                time.to_rfc3339(),
                human_size(*bytes)
            );
        } else {
            println!(
                "would remove {id}  ({}, {})",
                time.to_rfc3339(),
                human_size(*bytes)
            );
        }
    }
    let verb = if yes { "freed" } else { "would free" };
    println!(
        "{} of {} snapshot(s) {}, {verb} {} (keep_days {}, max_bytes {}, keep_newest {keep_newest})",
        gone.len(),
        complete.len(),
        if yes { "removed" } else { "to remove" },
        human_size(freed),
        s.keep_days.map_or("unset".into(), |d| d.to_string()),
        s.max_bytes.as_deref().unwrap_or("unset"),
    );
    if !yes && !gone.is_empty() {
        println!("run `gardefou snapshot prune --yes` to remove them");
    }
    Ok(0)
}

fn remove(store: &Store, id: &str) -> Result<i32> {
    let id = checked_id(id)?;
    open_existing(store)?;
    if !store.dir(id).exists() {
        return Err(Error::Snapshot(format!(
            "no snapshot {id} in {}",
            store.root.display()
        )));
    }
    let _lock = store.lock_exclusive()?;
    store.remove(id)?;
    println!("removed snapshot {id}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn prune_removes_old_then_oldest_over_budget_but_never_the_newest() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let day = |d: i64| now - Duration::days(d);
        let snaps = [
            (day(30), 10),
            (day(10), 10),
            (day(5), 50),
            (day(2), 50),
            (day(1), 50),
        ];
        assert_eq!(plan_prune(&snaps, now, Some(7), None, 3), vec![0, 1]);
        assert_eq!(plan_prune(&snaps, now, None, Some(110), 3), vec![0, 1]);
        assert_eq!(plan_prune(&snaps, now, None, Some(100), 3), vec![0, 1]);
        assert_eq!(plan_prune(&snaps, now, None, Some(0), 2), vec![0, 1, 2]);
        assert_eq!(
            plan_prune(&snaps, now, Some(0), Some(0), 5),
            Vec::<usize>::new()
        );
        assert_eq!(plan_prune(&snaps, now, None, None, 0), Vec::<usize>::new());
    }
}
