//! What a database command would run, and where: the database psql would connect to (flags,
//! URI, `PGDATABASE`, else the user name, as psql resolves it) and the classified SQL of every
//! source it reads.

use crate::intent::sql::{Classified, DbTool, Found, Source, SqlIntent, classify};
use crate::policy::schema::SqlStatement;

#[derive(Debug, Clone, Default)]
pub struct SqlFacts {
    /// The database it connects to, or what a drop destroys.
    pub database: String,
    /// `pg_dropcluster`: every database of the cluster goes.
    pub whole_cluster: bool,
    pub found: Vec<Found>,
    pub notes: Vec<String>,
}

/// The user psql would connect as: `-U`, `PGUSER`, else the login name.
fn user(intent: &SqlIntent) -> String {
    intent
        .user
        .clone()
        .or_else(|| std::env::var("PGUSER").ok())
        .unwrap_or_else(|| {
            let uid = nix::unistd::getuid();
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map_or_else(|| uid.to_string(), |u| u.name)
        })
}

/// Probes a database command. `stdin` is the SQL read from standard input when the caller has
/// it (the shim reads it before deciding); without it, SQL on standard input is noted as
/// unchecked here.
pub fn probe(intent: &SqlIntent, stdin: Option<&str>) -> SqlFacts {
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
            });
        }
        DbTool::Psql => {
            for src in &intent.sources {
                let c: Classified = match src {
                    Source::Command(sql) => classify(sql, "-c"),
                    Source::File(p) => match std::fs::read_to_string(p) {
                        Ok(sql) => classify(&sql, &p.display().to_string()),
                        Err(e) => Classified {
                            found: vec![Found {
                                kind: SqlStatement::Unknown,
                                object: None,
                                line: 0,
                                cascade: false,
                                by_keywords: true,
                            }],
                            statements: 0,
                            notes: vec![format!("cannot read {}: {e}", p.display())],
                        },
                    },
                    Source::Stdin => match stdin {
                        Some(sql) => classify(sql, "standard input"),
                        None => {
                            f.notes.push(
                                "SQL from standard input is checked by the psql shim when it runs"
                                    .into(),
                            );
                            continue;
                        }
                    },
                };
                f.found.extend(c.found);
                f.notes.extend(c.notes);
            }
        }
    }
    f
}
