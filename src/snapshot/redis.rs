//! Redis snapshots: the keys a command deletes, saved with `DUMP` and `PTTL` (every key of the
//! database for `FLUSHDB`, of every database for `FLUSHALL`, `REPLICAOF` or a script), and the
//! configuration a `CONFIG SET` changes, as it was. Restored with `RESTORE … REPLACE` and
//! `CONFIG SET`, while the server runs: nothing else in the data set is touched.
//!
//! `data/0/keys.dump` holds, after the line `gardefou-redis-dump 1`, one record per key:
//! database (u32), key length (u32), key, time to live in ms (i64, -1: none), payload length
//! (u32), payload (the server's DUMP format); integers little-endian.
//!
//! Why not `BGSAVE` and a copy of the RDB file: putting an RDB back means stopping the server
//! and replacing its whole data set (losing every write since), and the file is only reachable
//! on the server's own host. DUMP/RESTORE restores just what the command removed, online.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

use super::manifest::{DbTarget, Method};
use super::store::Store;
use super::{DbSnapshot, take_database};
use crate::error::{Error, Result};
use crate::facts::db::SqlFacts;
use crate::intent::sql::SqlIntent;
use crate::policy::schema::{Engine, SqlStatement};

const MAGIC: &[u8] = b"gardefou-redis-dump 1\n";
const FILE: &str = "keys.dump";
/// Keys per pipelined round trip.
const BATCH: usize = 500;

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Snapshot(format!("redis: {what}: {e}"))
}

/// What to save before a redis command runs.
pub fn target(intent: &SqlIntent, facts: &SqlFacts) -> Result<DbTarget> {
    let mut t = DbTarget {
        engine: Engine::Redis,
        database: facts.database.clone(),
        host: intent.host.clone(),
        port: intent.port.clone(),
        user: intent.user.clone(),
        socket: intent.socket.clone(),
        ..DbTarget::default()
    };
    for f in &facts.found {
        match f.kind {
            SqlStatement::Del => match &f.object {
                Some(keys) if !intent.redis_mode.stdin_argument => {
                    t.keys.extend(keys.split(' ').map(str::to_owned))
                }
                // Keys read from standard input: the whole database.
                _ => t.whole = true,
            },
            SqlStatement::Flushdb => t.whole = true,
            SqlStatement::ConfigSet => {
                if let Some(params) = &f.object {
                    t.config
                        .extend(params.split(' ').map(|p| (p.to_owned(), String::new())));
                }
            }
            _ => {
                t.whole = true;
                t.database = "*".into();
            }
        }
    }
    t.keys.sort();
    t.keys.dedup();
    Ok(t)
}

/// How to reach the server: its socket, else host and port (redis-cli's defaults), with the
/// password from `-a`/the URI or `REDISCLI_AUTH`, as redis-cli takes it.
fn connect(t: &DbTarget, password: Option<&str>) -> Result<redis::Connection> {
    let addr = match &t.socket {
        Some(s) => ConnectionAddr::Unix(PathBuf::from(s)),
        None => ConnectionAddr::Tcp(
            t.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
            t.port
                .as_deref()
                .unwrap_or("6379")
                .parse()
                .map_err(|e| err("port", e))?,
        ),
    };
    let mut settings = RedisConnectionInfo::default().set_skip_set_lib_name();
    let env_password = std::env::var("REDISCLI_AUTH").ok();
    if let Some(p) = password.or(env_password.as_deref()) {
        settings = settings.set_password(p);
        if let Some(u) = &t.user {
            settings = settings.set_username(u);
        }
    }
    let info: ConnectionInfo = addr
        .into_connection_info()
        .map_err(|e| err("address", e))?
        .set_redis_settings(settings);
    let client = redis::Client::open(info).map_err(|e| err("client", e))?;
    let con = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .map_err(|e| err("cannot connect", e))?;
    con.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| err("timeout", e))?;
    Ok(con)
}

fn select(con: &mut redis::Connection, db: u32) -> Result<()> {
    redis::cmd("SELECT")
        .arg(db)
        .query::<()>(con)
        .map_err(|e| err(&format!("SELECT {db}"), e))
}

/// The databases holding keys, from `INFO keyspace` (`db0:keys=…`).
fn databases(con: &mut redis::Connection) -> Result<Vec<u32>> {
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query(con)
        .map_err(|e| err("INFO keyspace", e))?;
    Ok(info
        .lines()
        .filter_map(|l| l.strip_prefix("db")?.split(':').next()?.parse().ok())
        .collect())
}

fn all_keys(con: &mut redis::Connection) -> Result<Vec<Vec<u8>>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .map_err(|e| err("SCAN", e))?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// Writes every key of `keys` that exists, with its TTL and DUMP payload. Returns how many.
fn dump_keys(
    con: &mut redis::Connection,
    db: u32,
    keys: &[Vec<u8>],
    out: &mut impl Write,
) -> Result<usize> {
    let mut saved = 0;
    for chunk in keys.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("PTTL").arg(k).cmd("DUMP").arg(k);
        }
        let replies: Vec<redis::Value> = pipe.query(con).map_err(|e| err("DUMP", e))?;
        for (k, pair) in chunk.iter().zip(replies.chunks(2)) {
            let ttl: i64 = redis::from_redis_value_ref(&pair[0]).map_err(|e| err("PTTL", e))?;
            let payload: Option<Vec<u8>> =
                redis::from_redis_value_ref(&pair[1]).map_err(|e| err("DUMP", e))?;
            let Some(payload) = payload else { continue };
            let w = |out: &mut dyn Write, b: &[u8]| {
                out.write_all(b)
                    .map_err(|e| Error::io("cannot write the redis dump", e))
            };
            w(out, &db.to_le_bytes())?;
            w(out, &(k.len() as u32).to_le_bytes())?;
            w(out, k)?;
            w(out, &ttl.to_le_bytes())?;
            w(out, &(payload.len() as u32).to_le_bytes())?;
            w(out, &payload)?;
            saved += 1;
        }
    }
    Ok(saved)
}

/// Saves what `target` names into a new snapshot; returns its id once complete. On failure the
/// snapshot is rolled back and the error returned (the policy decides whether to go on).
pub fn take(
    store: &Store,
    mut target: DbTarget,
    intent: &SqlIntent,
    host: &str,
    environment: &str,
) -> Result<String> {
    let mut con = connect(&target, intent.password.as_deref())?;
    for (param, value) in &mut target.config {
        let got: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(&*param)
            .query(&mut con)
            .map_err(|e| err(&format!("CONFIG GET {param}"), e))?;
        *value = got.get(1).cloned().unwrap_or_default();
    }
    let server = target.socket.clone().unwrap_or_else(|| {
        format!(
            "{}:{}",
            target.host.as_deref().unwrap_or("127.0.0.1"),
            target.port.as_deref().unwrap_or("6379")
        )
    });
    let what = DbSnapshot {
        host,
        environment,
        command: &intent.text,
        original: format!("redis:{server}/{}", target.database),
        method: Method::RedisDump,
        target: target.clone(),
    };
    take_database(store, what, |data| {
        let path = data.join(FILE);
        let file = std::fs::File::create(&path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        let mut out = BufWriter::new(file);
        out.write_all(MAGIC)
            .map_err(|e| Error::io("cannot write the redis dump", e))?;
        let current: u32 = target.database.parse().unwrap_or(0);
        if target.whole {
            let dbs = if target.database == "*" {
                databases(&mut con)?
            } else {
                vec![current]
            };
            for db in dbs {
                select(&mut con, db)?;
                let keys = all_keys(&mut con)?;
                dump_keys(&mut con, db, &keys, &mut out)?;
            }
        } else if !target.keys.is_empty() {
            select(&mut con, current)?;
            let keys: Vec<Vec<u8>> = target.keys.iter().map(|k| k.as_bytes().to_vec()).collect();
            dump_keys(&mut con, current, &keys, &mut out)?;
        }
        let file = out
            .into_inner()
            .map_err(|e| Error::io("cannot write the redis dump", e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io("cannot sync the redis dump", e))
    })
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_bytes(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let n = read_u32(r)? as usize;
    let mut v = vec![0; n];
    r.read_exact(&mut v)?;
    Ok(v)
}

/// One saved key.
struct Record {
    db: u32,
    key: Vec<u8>,
    ttl: i64,
    payload: Vec<u8>,
}

fn next_record(r: &mut impl Read) -> std::io::Result<Option<Record>> {
    let mut b = [0; 4];
    match r.read_exact(&mut b) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let db = u32::from_le_bytes(b);
    let key = read_bytes(r)?;
    let mut t = [0; 8];
    r.read_exact(&mut t)?;
    let payload = read_bytes(r)?;
    Ok(Some(Record {
        db,
        key,
        ttl: i64::from_le_bytes(t),
        payload,
    }))
}

/// Puts a redis snapshot back into its server: every saved key with `RESTORE … REPLACE` (a key
/// that had a time to live gets what was left of it), then the saved configuration.
pub fn restore(t: &DbTarget, snapshot_dir: &Path, data: &str) -> Result<String> {
    let path = snapshot_dir.join(data).join(FILE);
    let file = std::fs::File::open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    let mut r = BufReader::new(file);
    let mut magic = vec![0; MAGIC.len()];
    r.read_exact(&mut magic)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    if magic != MAGIC {
        return Err(Error::Snapshot(format!(
            "{}: not a gardefou redis dump",
            path.display()
        )));
    }
    let mut con = connect(t, None)?;
    let mut restored = 0usize;
    let mut dbs = std::collections::BTreeSet::new();
    let mut current = None;
    let mut pipe = redis::pipe();
    let mut queued = 0;
    let flush = |con: &mut redis::Connection, pipe: &mut redis::Pipeline, queued: &mut usize| {
        if *queued > 0 {
            pipe.query::<()>(con).map_err(|e| err("RESTORE", e))?;
            pipe.clear();
            *queued = 0;
        }
        Ok::<(), Error>(())
    };
    while let Some(rec) =
        next_record(&mut r).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?
    {
        if current != Some(rec.db) {
            flush(&mut con, &mut pipe, &mut queued)?;
            select(&mut con, rec.db)?;
            current = Some(rec.db);
        }
        pipe.cmd("RESTORE")
            .arg(&rec.key)
            .arg(rec.ttl.max(0))
            .arg(&rec.payload)
            .arg("REPLACE")
            .ignore();
        queued += 1;
        restored += 1;
        dbs.insert(rec.db);
        if queued >= BATCH {
            flush(&mut con, &mut pipe, &mut queued)?;
        }
    }
    flush(&mut con, &mut pipe, &mut queued)?;
    for (param, value) in &t.config {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(param)
            .arg(value)
            .query::<()>(&mut con)
            .map_err(|e| err(&format!("CONFIG SET {param}"), e))?;
    }
    let mut said = format!(
        "{restored} key(s) restored in database(s) {}",
        dbs.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if restored == 0 {
        said = "no key was saved".into();
    }
    if !t.config.is_empty() {
        said.push_str(&format!(
            "; configuration put back: {}",
            t.config
                .iter()
                .map(|(k, v)| format!("{k} = {v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(said)
}
