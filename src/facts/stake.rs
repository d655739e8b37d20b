//! The rows at stake, asked of the PostgreSQL server before a verdict: for a DELETE or UPDATE
//! (any WHERE, tautologies included), a TRUNCATE or a DROP TABLE, the planner's estimate
//! (`EXPLAIN (FORMAT JSON)`, which plans and never runs the statement), the table's size
//! (`pg_class.reltuples`), and, when the estimate is small enough, the exact counts — all in a
//! read-only transaction with a statement timeout, through the real psql (not its shim) with
//! the command's own connection options and environment. A question the server cannot answer
//! leaves the figures unknown, and says why; it never runs the statement.

use std::process::{Command, Stdio};

use crate::intent::sql::{Found, SqlIntent};
use crate::policy::schema::{Engine, SqlStatement};
use crate::policy::{Environment, Policy, applies_in};

use super::db::SqlFacts;

/// A table estimated above this many rows is not counted whole (its estimate stands); the rows
/// a statement touches are always counted, within the timeout.
pub const COUNT_LIMIT: u64 = 5_000_000;
/// The longest a count may take on the server.
pub const COUNT_TIMEOUT_MS: u64 = 2_000;

/// What the server said a statement touches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stake {
    /// The rows the statement would delete or rewrite (the table's rows for TRUNCATE and DROP).
    pub rows: Option<u64>,
    /// `rows` is a count, not the planner's estimate.
    pub exact: bool,
    /// The table's rows.
    pub total: Option<u64>,
    /// `total` is a count, not `reltuples`.
    pub total_exact: bool,
    /// Why the figures are unknown.
    pub unknown: Option<String>,
    /// No server answers where the command connects (no socket, connection refused): the
    /// statement cannot run either. A server that wants a password is not this: psql would
    /// ask for it and run the statement.
    pub unreachable: bool,
}

impl Stake {
    /// "1,204,332 of 1,300,118 rows (93%)", or what is known of it.
    pub fn describe(&self) -> String {
        let about = if self.exact { "" } else { "about " };
        let of_about = if self.total_exact { "" } else { "about " };
        match (self.rows, self.total) {
            // The planner's estimate of a join (MERGE, DELETE … USING) can exceed the table's
            // rows; no statement touches a row of it twice.
            (Some(r), Some(t)) if t > 0 => format!(
                "{about}{} of {of_about}{} rows ({}%)",
                grouped(if self.exact { r } else { r.min(t) }),
                grouped(t),
                (r.min(t) * 100).div_ceil(t)
            ),
            (Some(r), _) => format!("{about}{} rows", grouped(r)),
            _ => format!(
                "an unknown number of rows ({})",
                self.unknown
                    .as_deref()
                    .unwrap_or("the server was not asked")
            ),
        }
    }

    /// The fraction of the table, when both figures are known.
    pub fn fraction(&self) -> Option<f64> {
        match (self.rows, self.total) {
            (Some(r), Some(t)) if t > 0 => Some(r as f64 / t as f64),
            (Some(0), _) => Some(0.0),
            _ => None,
        }
    }
}

/// `1204332` → `1,204,332`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn wants(kind: SqlStatement) -> bool {
    matches!(
        kind,
        SqlStatement::Delete
            | SqlStatement::Update
            | SqlStatement::DeleteWithoutWhere
            | SqlStatement::UpdateWithoutWhere
            | SqlStatement::Truncate
            | SqlStatement::DropTable
    )
}

/// The most statements of one command the server is asked about; the others get unknown
/// figures (and a limited rule fires for them).
pub const ASK_LIMIT: usize = 200;
/// Of those, the ones whose rows are counted exactly; the others keep the planner's estimate.
pub const COUNT_STATEMENTS: usize = 20;

/// Whether SQL text calls a function (a word, then `(`).
fn calls_a_function(text: Option<&str>) -> bool {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Some(text) = text else {
        return false;
    };
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    match Tokenizer::new(&dialect, text).tokenize() {
        Ok(tokens) => tokens
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| match (w[0], w[1]) {
                // Words that open a list or a subquery, not a call.
                (Token::Word(word), Token::LParen) => !matches!(
                    word.keyword,
                    Keyword::IN
                        | Keyword::EXISTS
                        | Keyword::ANY
                        | Keyword::ALL
                        | Keyword::SOME
                        | Keyword::AND
                        | Keyword::OR
                        | Keyword::NOT
                        | Keyword::ARRAY
                        | Keyword::ROW
                        | Keyword::WHERE
                ),
                _ => false,
            }),
        Err(_) => true,
    }
}

/// Asks the server about every statement some rule of this environment names, and records the
/// figures in `facts.stakes` (one per found statement): two psql sessions for the whole
/// command, the estimates first, then the counts. PostgreSQL only.
pub fn ask(intent: &SqlIntent, facts: &mut SqlFacts, policy: &Policy, env: &Environment) {
    if facts.engine == Engine::Mysql {
        ask_with(&mut Mysql(intent), facts, policy, env);
    } else {
        ask_with(&mut Psql(intent), facts, policy, env);
    }
}

/// Where the questions go: a psql of the command's own connection options ([`ask`]), or the
/// live session of the wire guard (`crate::proxy`), which asks inside the operator's own
/// session (same login, same search path, same transaction).
pub trait Server {
    /// Runs `queries` read-only with a statement timeout, each under a savepoint (one that
    /// fails leaves the others answered); returns each one's output (rows by line, columns by
    /// `|`), as many as ran. Every query is exactly one statement (checked by the caller).
    fn answers(&mut self, database: &str, queries: &[String]) -> Result<Vec<String>, String>;
    /// Whether an error says no server answers where the command connects.
    fn unreachable(&self, _err: &str) -> bool {
        false
    }
}

/// The questions through a psql of the command's own connection options.
struct Psql<'a>(&'a SqlIntent);

impl Server for Psql<'_> {
    fn answers(&mut self, database: &str, queries: &[String]) -> Result<Vec<String>, String> {
        ask_server(self.0, database, queries)
    }
    fn unreachable(&self, err: &str) -> bool {
        unreachable(self.0, err)
    }
}

/// Sends the questions, each exactly one statement as PostgreSQL reads it: a query gardefou
/// built from a statement's text that is not (sqlparser's printer can turn one string into
/// several statements) is never sent, and neither is one with a backslash, where an escape
/// could read differently.
fn ask_checked(
    server: &mut dyn Server,
    database: &str,
    queries: &[String],
) -> Result<Vec<String>, String> {
    checked(server, database, queries, one_statement)
}

fn checked(
    server: &mut dyn Server,
    database: &str,
    queries: &[String],
    one_statement: fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    for q in queries {
        if !one_statement(q) {
            return Err(format!(
                "a query for the server would not be one statement: {q}"
            ));
        }
    }
    server.answers(database, queries)
}

/// [`ask`] with the questions sent to `server`.
pub fn ask_with(server: &mut dyn Server, facts: &mut SqlFacts, policy: &Policy, env: &Environment) {
    let engine = facts.engine;
    if !matches!(engine, Engine::Postgresql | Engine::Mysql) {
        return;
    }
    if engine == Engine::Postgresql
        && policy
            .sql
            .iter()
            .any(|r| r.engine == engine && applies_in(&r.environments, &env.name))
    {
        volatile_calls(server, facts);
    }
    facts.stakes = vec![None; facts.found.len()];
    let asked: Vec<usize> = facts
        .found
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            wants(f.kind)
                && f.object.is_some()
                && policy.sql.iter().any(|r| {
                    r.engine == engine
                        && applies_in(&r.environments, &env.name)
                        && r.statements.contains(&f.kind)
                })
        })
        .map(|(i, _)| i)
        .collect();
    let (now, later) = asked.split_at(asked.len().min(ASK_LIMIT));
    let found: Vec<&Found> = now.iter().map(|&i| &facts.found[i]).collect();
    let figures = if engine == Engine::Mysql {
        mysql_stakes(server, &facts.database, &found)
    } else {
        stakes(server, &facts.database, &found)
    };
    for (&i, s) in now.iter().zip(figures) {
        facts.stakes[i] = Some(s);
    }
    for &i in later {
        facts.stakes[i] = Some(Stake {
            unknown: Some(format!(
                "more than {ASK_LIMIT} statements to ask the server about"
            )),
            ..Stake::default()
        });
    }
}

/// The calls of volatile functions of the database's own (not PostgreSQL's built-in ones):
/// code whose effect cannot be known, found as `unknown`. A call `schema.name` is of that
/// schema's function; a bare `name`, of any schema's (the search path is the session's). Only
/// what the server names is found; a server that cannot be asked finds nothing here (the
/// statement is judged as before).
fn volatile_calls(server: &mut dyn Server, facts: &mut SqlFacts) {
    const MAX_NAMES: usize = 500;
    if facts.calls.is_empty() {
        return;
    }
    let own = |name: &str| name.rsplit('.').next().unwrap_or(name).to_owned();
    let mut names: Vec<String> = facts
        .calls
        .iter()
        .take(MAX_NAMES)
        .map(|(_, n)| literal(&own(n)))
        .collect();
    names.sort();
    names.dedup();
    let q = format!(
        "SELECT DISTINCT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.provolatile = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND p.proname IN ({})",
        names.join(", ")
    );
    let Ok(answers) = ask_checked(server, &facts.database, &[q]) else {
        return;
    };
    let volatile: Vec<&str> = answers
        .first()
        .map(|a| a.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    for (line, name) in &facts.calls {
        let is_volatile = |v: &&str| {
            if name.contains('.') {
                v == name
            } else {
                own(v) == *name
            }
        };
        if volatile.iter().any(is_volatile) {
            facts.found.push(Found::unknown(
                *line,
                Some(format!("{name}() (a volatile function of the database)")),
                false,
            ));
        }
    }
}

/// The real psql, with the command's connection options, reading nothing from standard input,
/// never asking for a password.
fn psql(intent: &SqlIntent, database: &str) -> Result<Command, String> {
    let real = crate::act::exec::find_real("psql".as_ref(), std::env::var_os("PATH").as_deref())
        .map_err(|e| e.to_string())?;
    let mut c = Command::new(real);
    c.args(["-X", "-q", "-A", "-t", "-w"]);
    for (flag, v) in [
        ("-h", &intent.host),
        ("-p", &intent.port),
        ("-U", &intent.user),
    ] {
        if let Some(v) = v {
            c.arg(flag).arg(v);
        }
    }
    if !database.is_empty() {
        c.arg("-d").arg(database);
    }
    if let Some(pw) = &intent.password {
        c.env("PGPASSWORD", pw);
    }
    c.stdin(Stdio::null());
    Ok(c)
}

/// Runs `queries` in one read-only transaction; returns each one's output (as many as ran).
fn ask_server(
    intent: &SqlIntent,
    database: &str,
    queries: &[String],
) -> Result<Vec<String>, String> {
    let mark = marker();
    let mut c = psql(intent, database)?;
    // Read-only for the whole session, each query under a savepoint (one that fails or times
    // out leaves the others answered), and no wait on a host that does not answer.
    c.env("PGOPTIONS", "-c default_transaction_read_only=on")
        .env("PGCONNECT_TIMEOUT", "5")
        .args(["-v", "ON_ERROR_ROLLBACK=on"]);
    c.args(["-c", "BEGIN READ ONLY"]);
    c.arg("-c")
        .arg(format!("SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}"));
    for q in queries {
        c.arg("-c").arg(q);
        c.arg("-c").arg(format!("\\echo {mark}"));
    }
    c.args(["-c", "ROLLBACK"]);
    let out = c.output().map_err(|e| format!("cannot run psql: {e}"))?;
    split_answers(&out, &mark, queries.len(), "psql")
}

/// A marker no data can spell: the answers are told apart by it.
fn marker() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("@@gardefou-{:016x}@@", h.finish())
}

/// The answers a client printed, told apart by `mark` after each: exactly `n`, or the
/// client's error.
fn split_answers(
    out: &std::process::Output,
    mark: &str,
    n: usize,
    client: &str,
) -> Result<Vec<String>, String> {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts: Vec<String> = text.split(mark).map(|p| p.trim().to_owned()).collect();
    // What follows the last mark is not an answer.
    parts.pop();
    if parts.len() != n {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(if err.is_empty() {
            format!("{client} gave no answer")
        } else {
            err
        });
    }
    Ok(parts)
}

/// Whether `q` is exactly one statement, without a backslash, as PostgreSQL's lexer reads it
/// (sqlparser's tokenizer, standard strings).
fn one_statement(q: &str) -> bool {
    use sqlparser::tokenizer::{Token, Tokenizer};
    if q.contains('\\') {
        return false;
    }
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, q).tokenize() else {
        return false;
    };
    !tokens.iter().any(|t| matches!(t, Token::SemiColon))
}

/// A psql failure that means no server answers where the command connects, told by every line
/// of its error: no socket, connection refused, no such host — and nothing about a password
/// or authentication, which the real psql would ask for and then run the statement.
fn unreachable(intent: &SqlIntent, err: &str) -> bool {
    const GONE: [&str; 3] = [
        "No such file or directory",
        "Connection refused",
        "could not translate host name",
    ];
    // A connection named in a way the probe may not follow (a service, a conninfo or URI with
    // parameters, several hosts): never taken as unreachable.
    let simple = std::env::var_os("PGSERVICE").is_none()
        && std::env::var_os("PGHOSTADDR").is_none()
        && intent
            .database
            .as_deref()
            .is_none_or(|d| !d.contains('=') && !d.contains("://"))
        && intent.host.as_deref().is_none_or(|h| !h.contains(','))
        && std::env::var("PGHOST").map_or(true, |h| !h.contains(','));
    let failures: Vec<&str> = err.lines().filter(|l| l.contains("failed:")).collect();
    simple
        && !failures.is_empty()
        && failures.iter().all(|l| GONE.iter().any(|g| l.contains(g)))
        && !err.contains("password")
        && !err.contains("authentication")
}

/// A literal for `to_regclass`: the object as the SQL named it.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The planner's rows for the statement: the first plan under its ModifyTable node.
fn planned_rows(json: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let plan = v.get(0)?.get("Plan")?;
    // Under ModifyTable, the plan that feeds it rows is the "Outer" one (an InitPlan or a CTE
    // may come first).
    let node = if plan.get("Node Type")?.as_str()? == "ModifyTable" {
        let plans = plan.get("Plans")?.as_array()?;
        plans
            .iter()
            .find(|p| p.get("Parent Relationship").and_then(|r| r.as_str()) == Some("Outer"))
            .or_else(|| plans.first())?
    } else {
        plan
    };
    node.get("Plan Rows")?.as_f64().map(|r| r.max(0.0) as u64)
}

fn whole_table(f: &Found) -> bool {
    matches!(f.kind, SqlStatement::Truncate | SqlStatement::DropTable)
}

/// The figures of `n` statements when the server could not be asked (`e`).
fn not_asked(server: &dyn Server, e: &str, n: usize) -> Vec<Stake> {
    let s = Stake {
        unknown: Some(format!(
            "the server could not be asked: {}",
            e.lines().next().unwrap_or_default().trim()
        )),
        unreachable: server.unreachable(e),
        ..Stake::default()
    };
    vec![s; n]
}

/// Says why the rows a statement touches are unknown, where they are.
fn name_unknown(out: &mut [Stake], found: &[&Found]) {
    for (s, f) in out.iter_mut().zip(found) {
        if s.rows.is_none() {
            s.unknown = Some(format!(
                "the server did not say how many rows {} has",
                f.object.as_deref().unwrap_or_default()
            ));
        }
    }
}

/// The exact counts of statement `n`: its table's rows, when the estimate (`total`) says that
/// is quick (or knows nothing), and the rows it touches; `none` in place of one not asked. A
/// WHERE that calls a function would run it to count: the estimate stands. Only the first
/// statements are counted (each count may take the whole timeout).
fn count_queries(f: &Found, n: usize, total: Option<u64>, none: &str) -> [String; 2] {
    let object = f.object.as_deref().unwrap_or_default();
    let table = if total.is_none_or(|t| t <= COUNT_LIMIT) {
        format!("SELECT count(*) FROM {object}")
    } else {
        none.to_owned()
    };
    let countable = n < COUNT_STATEMENTS && !calls_a_function(f.count_from.as_deref());
    let touched = match f
        .count_from
        .as_ref()
        .filter(|_| !whole_table(f) && countable)
    {
        Some(from) => format!("SELECT count(*) FROM {from}"),
        None => none.to_owned(),
    };
    [table, touched]
}

/// The figures of each statement, in order.
fn stakes(server: &mut dyn Server, database: &str, found: &[&Found]) -> Vec<Stake> {
    if found.is_empty() {
        return Vec::new();
    }
    // The estimates: the table's reltuples, and the planner's rows.
    let mut queries = Vec::new();
    for f in found {
        queries.push(format!(
            "SELECT coalesce(reltuples, -1)::bigint FROM pg_class WHERE oid = to_regclass({})",
            literal(f.object.as_deref().unwrap_or_default())
        ));
        queries.push(match f.statement.as_ref().filter(|_| !whole_table(f)) {
            Some(st) => format!("EXPLAIN (FORMAT JSON) {st}"),
            None => "SELECT NULL".to_owned(),
        });
    }
    let answers = match ask_checked(server, database, &queries) {
        Ok(a) => a,
        Err(e) => return not_asked(server, &e, found.len()),
    };
    let mut out: Vec<Stake> = found
        .iter()
        .enumerate()
        .map(|(n, f)| {
            let total = answers
                .get(2 * n)
                .and_then(|a| a.parse::<i64>().ok())
                .and_then(|v| u64::try_from(v).ok());
            let rows = if whole_table(f) {
                total
            } else {
                answers.get(2 * n + 1).and_then(|a| planned_rows(a))
            };
            Stake {
                rows,
                total,
                ..Stake::default()
            }
        })
        .collect();
    // The exact counts: the rows each statement touches (within the timeout), and the table
    // when its estimate says that is quick (or knows nothing). A count that times out ends the
    // session: the ones after it keep their estimates.
    let mut counts = Vec::new();
    for (n, f) in found.iter().enumerate() {
        counts.extend(count_queries(f, n, out[n].total, "SELECT NULL"));
    }
    if let Ok(a) = ask_checked(server, database, &counts) {
        for (n, f) in found.iter().enumerate() {
            let get = |i: usize| a.get(i).and_then(|x| x.parse::<u64>().ok());
            if a.len() <= 2 * n {
                break;
            }
            let s = &mut out[n];
            if let Some(total) = get(2 * n) {
                s.total = Some(total);
                s.total_exact = true;
                if whole_table(f) {
                    s.rows = Some(total);
                    s.exact = true;
                }
            }
            if let Some(rows) = get(2 * n + 1) {
                s.rows = Some(rows);
                s.exact = true;
            }
        }
    }
    name_unknown(&mut out, found);
    out
}

/// The questions through the real mysql client (not its shim), with the command's own
/// connection options and password, in a read-only transaction with a statement timeout.
pub(crate) struct Mysql<'a>(pub &'a SqlIntent);

impl Server for Mysql<'_> {
    fn answers(&mut self, database: &str, queries: &[String]) -> Result<Vec<String>, String> {
        let intent = self.0;
        let path = std::env::var_os("PATH");
        let real = crate::act::exec::find_real("mysql".as_ref(), path.as_deref())
            .or_else(|_| crate::act::exec::find_real("mariadb".as_ref(), path.as_deref()))
            .map_err(|e| e.to_string())?;
        let mark = marker();
        let mut c = Command::new(real);
        // Option-file options first, as mysql wants them; never `-p` alone, which would ask.
        let (files, rest): (Vec<&String>, Vec<&String>) = intent
            .connection
            .iter()
            .filter(|o| *o != "--password")
            .partition(|o| o.starts_with("--defaults") || *o == "--no-defaults");
        c.args(files).args(rest);
        c.args([
            "--batch",
            "--skip-column-names",
            "--force",
            "--connect-timeout=5",
        ]);
        if !database.is_empty() {
            c.arg(format!("--database={database}"));
        }
        match &intent.password {
            Some(pw) => c.env("MYSQL_PWD", pw),
            None => c.env_remove("MYSQL_PWD"),
        };
        // Read-only, and no statement longer than the timeout (MariaDB's variable in seconds,
        // MySQL's in milliseconds: the other one's is an error, and --force goes on). A query
        // that fails prints nothing before its mark: its answer is empty.
        let mut script = format!(
            "SET SESSION TRANSACTION READ ONLY;\nSET SESSION max_statement_time = {};\nSET SESSION max_execution_time = {COUNT_TIMEOUT_MS};\nSTART TRANSACTION READ ONLY;\n",
            COUNT_TIMEOUT_MS as f64 / 1000.0
        );
        for q in queries {
            script.push_str(q);
            script.push_str(";\n");
            script.push_str(&format!("SELECT '{mark}';\n"));
        }
        script.push_str("ROLLBACK;\n");
        // On standard input, where --force goes on after an error (with -e it does not).
        let out = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut pipe) = child.stdin.take() {
                    use std::io::Write;
                    pipe.write_all(script.as_bytes())?;
                }
                child.wait_with_output()
            })
            .map_err(|e| format!("cannot run mysql: {e}"))?;
        split_answers(&out, &mark, queries.len(), "mysql")
    }

    fn unreachable(&self, err: &str) -> bool {
        // ERROR 2002 (no socket, refused) and 2003/2005 (no server, no such host), and
        // nothing about a login.
        let codes = ["ERROR 2002", "ERROR 2003", "ERROR 2005"];
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("ERROR")).collect();
        !lines.is_empty()
            && lines.iter().all(|l| codes.iter().any(|c| l.starts_with(c)))
            && !err.contains("Access denied")
    }
}

/// Whether `q` is exactly one statement on one line, without a backslash (an escape in
/// MySQL's strings), as MySQL's lexer reads it (sqlparser's tokenizer): the mysql client reads
/// its input by lines, and a line may be one of its own commands.
fn one_mysql_statement(q: &str) -> bool {
    use sqlparser::tokenizer::{Token, Tokenizer};
    if q.contains(['\\', '\n', '\r']) || q.contains("/*") {
        return false;
    }
    let dialect = sqlparser::dialect::MySqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, q).tokenize() else {
        return false;
    };
    !tokens.iter().any(|t| matches!(t, Token::SemiColon))
}

/// A MySQL string literal (no backslash can be in it: such queries are never sent).
fn mysql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The figures of each MySQL statement, in order: the table's rows (`information_schema`'s
/// estimate, counted when it says that is quick), and the rows the statement touches, counted
/// (`SELECT COUNT(*)` of its FROM and WHERE) within the timeout. No estimate of the rows a
/// statement touches is asked (EXPLAIN's columns differ between MySQL and MariaDB): a count that
/// does not finish leaves them unknown, and a limited rule fires.
fn mysql_stakes(server: &mut dyn Server, database: &str, found: &[&Found]) -> Vec<Stake> {
    // Each statement asked in the database it acts in (the client's `--database`: no `USE`
    // in the questions, which mysql would read as its own command up to the end of the line).
    let db_of = |f: &Found| f.database.clone().unwrap_or_else(|| database.to_owned());
    let mut out = vec![Stake::default(); found.len()];
    let mut dbs: Vec<String> = Vec::new();
    for f in found {
        let db = db_of(f);
        if !dbs.contains(&db) {
            dbs.push(db);
        }
    }
    for db in dbs {
        let at: Vec<usize> = (0..found.len())
            .filter(|&i| db_of(found[i]) == db)
            .collect();
        // A WHERE that reads a user variable (`@cut`) would read it unset on the questions'
        // own connection: not counted.
        let group: Vec<Found> = at
            .iter()
            .map(|&i| {
                let mut f = found[i].clone();
                if f.count_from.as_deref().is_some_and(|c| c.contains('@')) {
                    f.count_from = None;
                }
                f
            })
            .collect();
        let group: Vec<&Found> = group.iter().collect();
        for (&i, s) in at.iter().zip(mysql_group(server, &db, &group)) {
            out[i] = s;
        }
    }
    out
}

/// The figures of MySQL statements that act in database `database`.
fn mysql_group(server: &mut dyn Server, database: &str, found: &[&Found]) -> Vec<Stake> {
    let place = |f: &Found| -> (String, String) {
        let object = f.object.clone().unwrap_or_default();
        let unquote = |x: &str| x.trim_matches('`').to_owned();
        match object.split_once('.') {
            Some((s, t)) => (mysql_literal(&unquote(s)), unquote(t)),
            None => ("DATABASE()".to_owned(), unquote(&object)),
        }
    };
    let mut queries = Vec::new();
    for f in found {
        let (schema, table) = place(f);
        queries.push(format!(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
            mysql_literal(&table)
        ));
    }
    let answers = match checked(server, database, &queries, one_mysql_statement) {
        Ok(a) => a,
        Err(e) => return not_asked(server, &e, found.len()),
    };
    let mut out: Vec<Stake> = (0..found.len())
        .map(|n| {
            let total = answers.get(n).and_then(|a| a.parse::<u64>().ok());
            Stake {
                total,
                ..Stake::default()
            }
        })
        .collect();
    let mut counts = Vec::new();
    for (n, f) in found.iter().enumerate() {
        counts.extend(count_queries(f, n, out[n].total, "DO 0"));
    }
    if let Ok(a) = checked(server, database, &counts, one_mysql_statement) {
        for (n, f) in found.iter().enumerate() {
            let get = |i: usize| a.get(i).and_then(|x| x.parse::<u64>().ok());
            let s = &mut out[n];
            if let Some(total) = get(2 * n) {
                s.total = Some(total);
                s.total_exact = true;
            }
            if whole_table(f) {
                s.rows = s.total;
                s.exact = s.total_exact;
            } else if let Some(rows) = get(2 * n + 1) {
                s.rows = Some(rows);
                s.exact = true;
            }
        }
    }
    name_unknown(&mut out, found);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_an_operator_reads_them() {
        assert_eq!(grouped(1_204_332), "1,204,332");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        let s = Stake {
            rows: Some(1_204_332),
            exact: true,
            total: Some(1_300_118),
            total_exact: true,
            ..Stake::default()
        };
        assert_eq!(s.describe(), "1,204,332 of 1,300,118 rows (93%)");
        assert!((s.fraction().unwrap() - 0.926).abs() < 0.001);
        let e = Stake {
            rows: Some(10),
            ..Stake::default()
        };
        assert_eq!(e.describe(), "about 10 rows");
        let join = Stake {
            rows: Some(2_550),
            total: Some(1_000),
            total_exact: true,
            ..Stake::default()
        };
        assert_eq!(join.describe(), "about 1,000 of 1,000 rows (100%)");
        assert!(join.fraction().unwrap() >= 1.0);
    }

    #[test]
    fn a_query_that_is_not_one_statement_is_never_sent() {
        assert!(one_statement("SELECT count(*) FROM t WHERE a = 'x;y'"));
        // sqlparser's printer leaves `'\''` as `'\'`: PostgreSQL would then read a COMMIT.
        assert!(!one_statement(
            "EXPLAIN (FORMAT JSON) DELETE FROM t WHERE a = '\\'; COMMIT; DELETE FROM users; SELECT ''--'"
        ));
        assert!(!one_statement("SELECT 1; SELECT 2"));
        // mysql reads its input by lines: a name with a line break in it is never sent.
        assert!(one_mysql_statement(
            "SELECT COUNT(*) FROM `a;b` WHERE x = 1"
        ));
        assert!(!one_mysql_statement(
            "SELECT COUNT(*) FROM `x\nSET SESSION TRANSACTION READ WRITE;\nDROP TABLE u;\n`.t"
        ));
        assert!(!one_mysql_statement("SELECT COUNT(*) FROM t /*!, u */"));
        assert!(!one_statement("SELECT E'\\x41'"));
        assert!(calls_a_function(Some("t WHERE id < f(1)")));
        assert!(!calls_a_function(Some("t WHERE id IN (1, 2) AND (a OR b)")));
        assert!(calls_a_function(Some("t WHERE id IN (SELECT purge())")));
        assert!(!calls_a_function(Some("t WHERE id = 3")));
    }

    #[test]
    fn the_planners_rows_are_under_the_modify_node() {
        let j = r#"[{"Plan": {"Node Type": "ModifyTable", "Plan Rows": 0, "Plans": [{"Node Type": "Seq Scan", "Plan Rows": 1204332}]}}]"#;
        assert_eq!(planned_rows(j), Some(1_204_332));
        assert_eq!(planned_rows("not json"), None);
        let init = r#"[{"Plan": {"Node Type": "ModifyTable", "Plans": [{"Parent Relationship": "InitPlan", "Plan Rows": 1}, {"Parent Relationship": "Outer", "Plan Rows": 900}]}}]"#;
        assert_eq!(planned_rows(init), Some(900));
    }
}
