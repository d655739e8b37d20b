//! What a database command would run, and where: the database psql would connect to (flags,
//! URI, `PGDATABASE`, else the user name, as psql resolves it) and the classified SQL of every
//! source it reads.

use crate::intent::sql::{Classified, DbTool, Found, Source, SqlIntent, classify};
use crate::policy::schema::{Engine, SqlStatement};

#[derive(Debug, Clone, Default)]
pub struct SqlFacts {
    pub engine: Engine,
    /// The database it connects to, or what a drop destroys.
    pub database: String,
    /// `pg_dropcluster`: every database of the cluster goes.
    pub whole_cluster: bool,
    pub found: Vec<Found>,
    pub notes: Vec<String>,
    /// What the server said each found statement touches (`facts::stake`), when it was asked.
    pub stakes: Vec<Option<super::stake::Stake>>,
    /// Names the SQL calls like functions, with their line (PostgreSQL).
    pub calls: Vec<(usize, String)>,
    /// psql: what it runs or writes on the client's host itself, as shell lines
    /// (`intent::sql::ClientLines`).
    pub client: Vec<String>,
}

/// The user psql would connect as: `-U`, `PGUSER`, else the login name.
fn user(intent: &SqlIntent) -> String {
    intent
        .user
        .clone()
        .or_else(|| std::env::var("PGUSER").ok())
        .unwrap_or_else(super::user_name)
}

/// Probes a database command. `stdin` is the SQL read from standard input when the caller has
/// it (the shim reads it before deciding); without it, SQL on standard input is noted as
/// unchecked here.
pub fn probe(intent: &SqlIntent, stdin: Option<&str>) -> SqlFacts {
    match intent.tool {
        DbTool::RedisCli => return probe_redis(intent, stdin),
        DbTool::Mysql | DbTool::Mysqladmin => return probe_mysql(intent, stdin),
        _ => {}
    }
    let mut f = SqlFacts {
        database: intent
            .database
            .clone()
            .or_else(|| std::env::var("PGDATABASE").ok())
            .unwrap_or_else(|| user(intent)),
        ..SqlFacts::default()
    };
    if intent.database.is_none()
        && std::env::var_os("PGDATABASE").is_none()
        && std::env::var_os("PGSERVICE").is_some()
    {
        f.notes.push(
            "PGSERVICE names the connection: the database is assumed to be the user name".into(),
        );
    }
    match intent.tool {
        DbTool::Dropdb => f.found.push(Found {
            kind: SqlStatement::DropDatabase,
            object: intent.database.clone(),
            line: 0,
            cascade: false,
            by_keywords: false,
            database: None,
            statement: None,
            count_from: None,
        }),
        DbTool::PgDropcluster => {
            f.whole_cluster = true;
            f.database = match &intent.cluster {
                Some((v, n)) => format!("cluster {v}/{n}"),
                None => "a cluster".into(),
            };
            f.found.push(Found {
                kind: SqlStatement::DropDatabase,
                object: Some(f.database.clone()),
                line: 0,
                cascade: true,
                by_keywords: false,
                database: None,
                statement: None,
                count_from: None,
            });
        }
        DbTool::RedisCli | DbTool::Mysql | DbTool::Mysqladmin => {}
        DbTool::Psql => {
            // What psql itself runs or writes on this host, from the texts read here once.
            let mut client = crate::intent::sql::ClientLines::new(intent);
            let read = |p: &std::path::Path| std::fs::read_to_string(p).ok();
            for src in &intent.sources {
                let c: Classified = match src {
                    Source::Command(sql) => {
                        client.script(sql, None, &read);
                        classify(sql, "-c")
                    }
                    Source::File(p) => match std::fs::read_to_string(p) {
                        Ok(sql) => {
                            client.script(&sql, p.parent(), &read);
                            classify(&sql, &p.display().to_string())
                        }
                        Err(e) => Classified {
                            found: vec![Found::unknown(0, None, true)],
                            notes: vec![format!("cannot read {}: {e}", p.display())],
                            ..Classified::default()
                        },
                    },
                    Source::Stdin => match stdin {
                        Some(sql) => {
                            client.script(sql, None, &read);
                            classify(sql, "standard input")
                        }
                        None => {
                            f.notes.push(
                                "SQL from standard input is checked by the psql shim when it runs (or give it with --input)"
                                    .into(),
                            );
                            continue;
                        }
                    },
                };
                f.calls.extend(c.calls.iter().cloned());
                f.found.extend(c.found);
                f.notes.extend(c.notes);
            }
            f.client = client.finish();
        }
    }
    f
}

fn unknown(line: usize, object: Option<String>) -> Found {
    Found::unknown(line, object, false)
}

/// A redis-cli command: the database is `-n` or the URI's, else 0; FLUSHALL reaches every
/// database.
fn probe_redis(intent: &SqlIntent, stdin: Option<&str>) -> SqlFacts {
    let mode = &intent.redis_mode;
    let mut f = SqlFacts {
        engine: Engine::Redis,
        database: intent.database.clone().unwrap_or_else(|| "0".into()),
        ..SqlFacts::default()
    };
    for words in &intent.words {
        f.found
            .extend(crate::intent::redis::classify_words(words, 0));
    }
    if let Some(script) = &mode.eval {
        f.found
            .push(unknown(0, Some(format!("the Lua script {script}"))));
    }
    if mode.cluster {
        f.found.push(unknown(
            0,
            Some("redis-cli --cluster (runs on every node)".into()),
        ));
    }
    if intent.sources.contains(&Source::Stdin) {
        if mode.pipe {
            f.found.push(unknown(
                0,
                Some("raw protocol on standard input (--pipe)".into()),
            ));
        } else if let Some(text) = stdin {
            let c = crate::intent::redis::classify_lines(text, "standard input");
            f.found.extend(c.found);
            f.notes.extend(c.notes);
        } else {
            f.notes.push(
                "commands on standard input are checked by the redis-cli shim when it runs (or give them with --input)".into(),
            );
        }
    }
    if mode.stdin_argument && f.found.iter().any(|x| x.kind == SqlStatement::Del) {
        f.notes.push(
            "an argument comes from standard input (-x/-X): the keys are not all known".into(),
        );
    }
    f.whole_cluster = f.found.iter().any(|x| {
        matches!(
            x.kind,
            SqlStatement::Flushall
                | SqlStatement::Replicaof
                | SqlStatement::Shutdown
                | SqlStatement::ConfigSet
        )
    });
    f
}

/// A mysql or mysqladmin command. The database is `-D` or the argument; without one it is
/// empty (the server's default, or an option file's: every rule's `database` matches it).
/// After a `USE`, unqualified objects are in the database it names.
fn probe_mysql(intent: &SqlIntent, stdin: Option<&str>) -> SqlFacts {
    use crate::intent::mysql::{classify_admin, classify_mysql};
    let mut f = SqlFacts {
        engine: Engine::Mysql,
        database: intent.database.clone().unwrap_or_default(),
        ..SqlFacts::default()
    };
    if intent.tool == DbTool::Mysqladmin {
        f.found
            .extend(intent.words.iter().filter_map(|w| classify_admin(w)));
    }
    let delimiter = intent.delimiter.as_deref();
    let mut current: Option<String> = None;
    for src in &intent.sources {
        let c = match src {
            Source::Command(sql) => classify_mysql(sql, "-e", delimiter),
            Source::File(p) => Classified {
                found: vec![Found::unknown(0, None, true)],
                notes: vec![format!("{} is not read by mysql", p.display())],
                ..Classified::default()
            },
            Source::Stdin => match stdin {
                Some(sql) => classify_mysql(sql, "standard input", delimiter),
                None => {
                    f.notes.push(
                        "SQL from standard input is checked by the mysql shim when it runs (or give it with --input)".into(),
                    );
                    continue;
                }
            },
        };
        f.client.extend(c.client);
        let mut uses = c.uses.into_iter().peekable();
        for (n, mut found) in c.found.into_iter().enumerate() {
            while let Some((_, db)) = uses.next_if(|(at, _)| *at <= n) {
                current = Some(db);
            }
            if found.database.is_none() {
                found.database.clone_from(&current);
            }
            f.found.push(found);
        }
        if let Some((_, db)) = uses.last() {
            current = Some(db);
        }
        f.notes.extend(c.notes);
    }
    f.whole_cluster = f.found.iter().any(|x| x.kind == SqlStatement::Shutdown);
    f
}
