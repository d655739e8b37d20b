//! The wire guard: a psql run through its shim talks to the real server through a private
//! proxy (a Unix socket in a 0700 directory of its own, gone when psql exits) that reads every
//! statement as it crosses the PostgreSQL protocol, before the server sees it. What no reading
//! of psql's input can know (`\gexec`, `:variables`, `\i`, SQL typed at the prompt) is judged
//! there, statement by statement, with the same pipeline as everything else
//! (`act::sql::decide`): a destructive statement waits while the operator is asked on the
//! terminal, and a refused one gets the server's kind of error, naming the rule; the session
//! goes on.
//!
//! Authentication passes through untouched (peer, password, SCRAM: the server talks to psql).
//! The proxy speaks to the server over its Unix socket or over TCP on this host; a remote
//! server, TLS that psql must have, a service file or a connection string are not proxied
//! (the command is judged as before, from its text, and psql is told where it stands).

pub mod pg;

use std::ffi::OsString;
use std::sync::Mutex;

use crate::facts::db;
use crate::intent::sql::{DbTool, Found, Source, SqlIntent};
use crate::pipeline::Loaded;
use crate::policy::Decision;
use crate::policy::Environment;
use crate::policy::schema::{Engine, SqlStatement};

/// What every connection of one guarded session shares.
pub struct Guard {
    /// The command as its shim read it (connection options, password for the dumps).
    pub intent: SqlIntent,
    pub loaded: Loaded,
    pub env: Environment,
    pub env_error: Option<String>,
    pub host: String,
    /// The command's arguments as the audit log names them (no password).
    pub argv: Vec<OsString>,
    /// Statements the command's text was already confirmed for (or allowed with): each lets one
    /// statement of its kind on its object through without a second question.
    approved: Mutex<Vec<(SqlStatement, Option<String>)>>,
    /// One question at a time on the terminal.
    asking: Mutex<()>,
}

/// Why a statement does not go to the server: the ErrorResponse's fields.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub message: String,
    pub detail: String,
    pub hint: String,
}

impl Guard {
    pub fn new(
        intent: SqlIntent,
        loaded: Loaded,
        env: Environment,
        env_error: Option<String>,
        host: String,
        argv: Vec<OsString>,
        approved: &[Found],
    ) -> Guard {
        Guard {
            intent,
            loaded,
            env,
            env_error,
            host,
            argv,
            approved: Mutex::new(
                approved
                    .iter()
                    .map(|f| (f.kind, f.object.clone()))
                    .collect(),
            ),
            asking: Mutex::new(()),
        }
    }

    /// Whether any rule of this environment reads PostgreSQL statements: without one, a
    /// session has nothing to guard.
    pub fn needed(loaded: &Loaded, env: &Environment) -> bool {
        loaded.error.is_some()
            || loaded.policy.sql.iter().any(|r| {
                r.engine == Engine::Postgresql
                    && crate::policy::applies_in(&r.environments, &env.name)
            })
    }

    /// Judges one statement (a Query's text, a Parse's), asking `server` for the rows at stake.
    /// Ok: it goes to the server.
    pub fn judge(
        &self,
        sql: &str,
        doubt: Option<&str>,
        database: &str,
        user: &str,
        server: &mut dyn crate::facts::stake::Server,
    ) -> Result<(), Refusal> {
        // Most statements cannot destroy anything: told from their tokens, nothing more.
        if doubt.is_none() && self.loaded.error.is_none() {
            let c = crate::intent::sql::classify(sql, "the statement");
            if c.found.is_empty() && c.calls.is_empty() {
                return Ok(());
            }
        }
        let mut intent = self.intent.clone();
        intent.sources = vec![Source::Command(sql.to_owned())];
        intent.database = Some(database.to_owned());
        intent.user = Some(user.to_owned());
        intent.text = shown_statement(sql);
        let mut facts = db::probe(&intent, None);
        if let Some(why) = doubt {
            facts
                .found
                .push(Found::unknown(1, Some(why.to_owned()), true));
        }
        if facts.found.is_empty() && facts.calls.is_empty() && self.loaded.error.is_none() {
            return Ok(());
        }
        // What the command's own text was already judged for passes once.
        if !facts.found.is_empty() {
            let mut approved = self.approved.lock().unwrap_or_else(|p| p.into_inner());
            let mut left = Vec::new();
            for f in facts.found.drain(..) {
                match approved.iter().position(|(k, o)| {
                    *k == f.kind && same_object(o.as_deref(), f.object.as_deref())
                }) {
                    Some(i) => {
                        approved.remove(i);
                    }
                    None => left.push(f),
                }
            }
            facts.found = left;
            if facts.found.is_empty() && facts.calls.is_empty() && self.loaded.error.is_none() {
                return Ok(());
            }
        }
        crate::facts::stake::ask_with(server, &mut facts, &self.loaded.policy, &self.env);
        if facts.found.is_empty() && self.loaded.error.is_none() {
            return Ok(());
        }
        let mut argv = self.argv.clone();
        argv.push(OsString::from("--wire-statement"));
        argv.push(OsString::from(sql));
        let _one = self.asking.lock().unwrap_or_else(|p| p.into_inner());
        let error = self.loaded.error.as_deref().or(self.env_error.as_deref());
        let decided = crate::act::sql::decide(
            DbTool::Psql,
            &intent,
            facts,
            &crate::act::sql::Judging {
                policy: &self.loaded.policy,
                env: &self.env,
                error,
                host: &self.host,
                audit_argv: &argv,
            },
        );
        if decided.run {
            return Ok(());
        }
        let v = decided.verdict;
        let first = v
            .reasons
            .iter()
            .find(|r| r.decision == v.decision)
            .or(v.reasons.first());
        let message = match first {
            Some(r) => format!("gardefou refused this statement: {}", r.message),
            None => "gardefou refused this statement".to_owned(),
        };
        let detail = v
            .reasons
            .iter()
            .map(|r| format!("rule {}", r.rule))
            .collect::<Vec<_>>()
            .join("; ");
        let hint = match v.decision {
            Decision::Deny => format!(
                "if this is really intended: gardefou override --reason '…' -- psql -c '{}' (typed confirmation, audited), or change the rule named above",
                sql.trim().replace('\'', "'\\''")
            ),
            _ => format!(
                "to go ahead, run it again and type this host's name ({}) when gardefou asks on the terminal (without a terminal it is refused)",
                self.host
            ),
        };
        Err(Refusal {
            message,
            detail,
            hint,
        })
    }
}

/// Tables as the command's text named them and as the session's statement names them: the
/// same when equal, or when one is the other without its schema.
fn same_object(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            let bare = |s: &str| {
                s.rsplit('.')
                    .next()
                    .unwrap_or(s)
                    .trim_matches('"')
                    .to_lowercase()
            };
            // Two schemas named: the same only when equal.
            a.eq_ignore_ascii_case(b)
                || ((!a.contains('.') || !b.contains('.')) && bare(a) == bare(b))
        }
        (None, None) => true,
        _ => false,
    }
}

/// A statement as the verdict shows it: one line, at most 200 characters.
fn shown_statement(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        format!("{}…", one.chars().take(200).collect::<String>())
    } else {
        one
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approved_table_is_the_same_with_or_without_its_schema() {
        assert!(same_object(Some("public.users"), Some("users")));
        assert!(same_object(Some("Users"), Some("users")));
        assert!(!same_object(Some("users"), Some("orders")));
        assert!(!same_object(Some("users"), None));
        assert!(!same_object(Some("s1.users"), Some("s2.users")));
        assert_eq!(shown_statement("DELETE\n  FROM t"), "DELETE FROM t");
    }
}
