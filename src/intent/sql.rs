//! Database commands, pure: `psql` (which SQL, from where, against which database), `dropdb`,
//! `pg_dropcluster`; and the classification of SQL text into the destructive statement kinds
//! that `[[protect.sql]]` rules name.
//!
//! PostgreSQL's SQL is read by PostgreSQL's own parser (`pg`, libpg_query), after psql's own
//! syntax around it (meta-commands, variables) is taken out here. MySQL's is split into
//! statements with sqlparser's MySQL tokenizer (quotes and comments respected) and each
//! statement is parsed on its own, so one statement the parser cannot read does not hide the
//! others. A statement a parser cannot read is never passed silently: a keyword scan looks at
//! it, and the result says so.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use sqlparser::ast::{
    AlterTableOperation, FromTable, ObjectName, ObjectType, Query, SetExpr, Statement, TableFactor,
    Use,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::policy::schema::SqlStatement;

/// Where psql's SQL comes from, in the order psql runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Command(String),
    File(PathBuf),
    /// Standard input: `-f -`, or no `-c`/`-f` at all.
    Stdin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbTool {
    Psql,
    Dropdb,
    PgDropcluster,
    RedisCli,
    /// `mysql`, `mariadb`.
    Mysql,
    /// `mysqladmin`, `mariadb-admin`.
    Mysqladmin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlIntent {
    pub tool: DbTool,
    /// The database named on the command line (`-d`, `--dbname`, a URI, the first non-option
    /// argument); the environment and the user name come in as facts.
    pub database: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
    pub user: Option<String>,
    /// redis-cli `-s`: a Unix socket.
    pub socket: Option<String>,
    pub sources: Vec<Source>,
    /// Commands given as argument words: redis-cli's command (one), mysqladmin's commands.
    pub words: Vec<Vec<String>>,
    /// The password given on the command line (never logged or stored; used to snapshot).
    pub password: Option<String>,
    /// MySQL: the connection options (host, port, socket, user, TLS, option files), as
    /// `--name=value`, for mysqldump and mysql at snapshot and restore; never the password.
    pub connection: Vec<String>,
    /// MySQL: the statement delimiter at start (`--delimiter`).
    pub delimiter: Option<String>,
    /// redis-cli: its modes and password.
    pub redis_mode: super::redis::RedisMode,
    /// `pg_dropcluster VERSION NAME`: the cluster.
    pub cluster: Option<(String, String)>,
    /// psql would only print help or its version.
    pub info_only: bool,
    /// psql `-o`/`--output`: the file its results replace, or `|CMD`, a shell command they are
    /// piped to.
    pub output: Option<String>,
    /// psql `-v NAME=VALUE` (`--set`, `--variable`), in order.
    pub variables: Vec<String>,
    pub text: String,
}

/// A destructive statement found in SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: SqlStatement,
    /// The object it touches (table, schema, database), as written.
    pub object: Option<String>,
    /// Line in its source, from 1.
    pub line: usize,
    pub cascade: bool,
    /// Found by the keyword scan because the parser could not read the statement.
    pub by_keywords: bool,
    /// The database the object is in when the SQL says so (MySQL: `db.table`, or after
    /// `USE db`); else the one the command connects to.
    pub database: Option<String>,
    /// The statement (for the server's `EXPLAIN`): PostgreSQL's as written, or, inside
    /// another statement and for MySQL, as the parser prints it back.
    pub statement: Option<String>,
    /// What the statement touches, as the FROM and WHERE of a count: `orders WHERE id < 10`
    /// (a single table, no USING or FROM of its own).
    pub count_from: Option<String>,
}

impl Found {
    /// Code whose effect cannot be known before it runs (`by_keywords`: seen by the keyword
    /// scan, or not read at all).
    pub fn unknown(line: usize, object: Option<String>, by_keywords: bool) -> Found {
        Found {
            kind: SqlStatement::Unknown,
            object,
            line,
            cascade: false,
            by_keywords,
            database: None,
            statement: None,
            count_from: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classified {
    pub found: Vec<Found>,
    pub statements: usize,
    /// What the reader should know: statements read by keywords only, psql meta-commands that
    /// run SQL this check cannot see.
    pub notes: Vec<String>,
    /// MySQL `USE db`: from `found[index]` on, unqualified objects are in `db`.
    pub uses: Vec<(usize, String)>,
    /// Functions called, with their line (PostgreSQL: every function call the parser reads,
    /// `schema.name` when qualified, lowercase unless quoted; MySQL: names called like
    /// functions, `wipe(`): the server says which are volatile functions of the database's
    /// own (their effect cannot be known).
    pub calls: Vec<(usize, String)>,
    /// Functions and procedures the text itself creates (`CREATE FUNCTION app.wipe()`).
    pub created: Vec<String>,
    /// psql: what its meta-commands do on the client's host, as shell lines (`\! CMD`, `\o
    /// |CMD`, `\o FILE` as `: > FILE`…), for the line check to judge.
    pub client: Vec<String>,
    /// psql: what its meta-commands have set so far (`\cd`, variables), for the next ones.
    pub psql: super::psql_client::State,
}

/// Which SQL a text is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Postgresql,
    /// MySQL and MariaDB: `SCHEMA` is a synonym of `DATABASE`, `db.table` names a database.
    Mysql,
}

fn s(a: &OsString) -> String {
    String::from_utf8_lossy(a.as_bytes()).into_owned()
}

/// A command line as it may be shown, logged and kept in a manifest: passwords (`-a`/`--pass` values, the password
/// of a `scheme://user:password@host` URI, `password=` in a connection string) become `***`.
///
/// `argv[0]` names the program: for the mysql family, `-pSECRET` (also in a bundle) too.
pub fn redacted(argv: &[OsString]) -> Vec<OsString> {
    let program = argv
        .first()
        .map(|a| {
            let b = a.as_bytes();
            String::from_utf8_lossy(b.rsplit(|&c| c == b'/').next().unwrap_or(b)).into_owned()
        })
        .unwrap_or_default();
    let mysql = match program.as_str() {
        "mysql" | "mariadb" | "mysqldump" | "mariadb-dump" => Some(false),
        "mysqladmin" | "mariadb-admin" => Some(true),
        _ => None,
    };
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for (n, a) in argv.iter().enumerate() {
        let text = String::from_utf8_lossy(a.as_bytes());
        if hide_next {
            out.push("***".into());
            hide_next = false;
            continue;
        }
        hide_next = mysql.is_none() && (text == "-a" || text == "--pass");
        if n > 0
            && let Some(admin) = mysql
            && let Some(hidden) = super::mysql::redact_short_password(admin, &text)
        {
            out.push(hidden.into());
            continue;
        }
        let mut t = text.into_owned();
        if let Some(scheme_end) = t.find("://")
            && let Some(at) = t[scheme_end + 3..].find('@').map(|x| x + scheme_end + 3)
            && let Some(colon) = t[scheme_end + 3..at].find(':').map(|x| x + scheme_end + 3)
        {
            t.replace_range(colon + 1..at, "***");
        }
        if let Some(p) = t.find("password=") {
            let end = t[p..].find(' ').map_or(t.len(), |e| e + p);
            t.replace_range(p + "password=".len()..end, "***");
        }
        out.push(if t == String::from_utf8_lossy(a.as_bytes()) {
            a.clone()
        } else {
            t.into()
        });
    }
    out
}

/// `NAME ARGS…` as text, passwords hidden.
pub fn shown(name: &str, args: &[OsString]) -> String {
    let argv: Vec<OsString> = std::iter::once(OsString::from(name))
        .chain(args.iter().cloned())
        .collect();
    redacted(&argv).iter().map(s).collect::<Vec<_>>().join(" ")
}

/// `postgresql://user@host:port/dbname?…` → (user, host, port, dbname).
fn parse_uri(
    uri: &str,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let rest = uri
        .strip_prefix("postgresql://")
        .or_else(|| uri.strip_prefix("postgres://"))
        .unwrap_or("");
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut user = userinfo
        .map(|u| percent_decoded(u.split(':').next().unwrap_or("")))
        .filter(|u| !u.is_empty());
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p.to_owned())),
        _ => (hostport, None),
    };
    let nonempty = |x: String| (!x.is_empty()).then_some(x);
    let (mut host, mut port, mut db) = (
        nonempty(percent_decoded(host)),
        port.map(|p| percent_decoded(&p)).and_then(nonempty),
        nonempty(percent_decoded(db)),
    );
    // libpq: a parameter in the query string overrides the same part of the URI.
    for (key, value) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        let value = Some(percent_decoded(value));
        match percent_decoded(key).as_str() {
            "dbname" => db = value,
            "host" => host = value,
            "port" => port = value,
            "user" => user = value,
            _ => {}
        }
    }
    (user, host, port, db)
}

/// `%XX` sequences decoded, as libpq decodes every part of a URI.
fn percent_decoded(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut k = 0;
    while k < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[k],
            b.get(k + 1).copied().and_then(hex),
            b.get(k + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                k += 3;
            }
            (c, ..) => {
                out.push(c);
                k += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `dbname=… host=…` connection string's values.
fn parse_conninfo(text: &str) -> Vec<(String, String)> {
    text.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// Short options of psql that take a value.
pub(crate) const PSQL_SHORT_WITH_VALUE: &[u8] = b"cdfhpUvPFLoRT";

/// psql's long options (its getopt_long table), which may be abbreviated to any unambiguous
/// prefix, as getopt_long reads them.
const PSQL_LONG: &[&str] = &[
    "echo-all",
    "no-align",
    "command",
    "dbname",
    "echo-queries",
    "echo-errors",
    "echo-hidden",
    "file",
    "field-separator",
    "field-separator-zero",
    "host",
    "html",
    "list",
    "log-file",
    "no-readline",
    "single-transaction",
    "output",
    "port",
    "pset",
    "quiet",
    "record-separator",
    "record-separator-zero",
    "single-step",
    "single-line",
    "tuples-only",
    "table-attr",
    "username",
    "set",
    "variable",
    "version",
    "no-password",
    "password",
    "expanded",
    "no-psqlrc",
    "help",
    "csv",
];

/// The long option `name` stands for: itself, or the one option it is a prefix of; `None` when
/// none or several (psql then stops with a usage error and runs nothing).
pub(crate) fn psql_long(name: &str) -> Option<&'static str> {
    if let Some(exact) = PSQL_LONG.iter().find(|o| **o == name) {
        return Some(exact);
    }
    let mut matching = PSQL_LONG.iter().filter(|o| o.starts_with(name));
    match (matching.next(), matching.next()) {
        (Some(one), None) if !name.is_empty() => Some(one),
        _ => None,
    }
}

/// Long options of psql that take a value.
pub(crate) fn psql_long_takes_value(name: &str) -> bool {
    matches!(
        name,
        "command"
            | "dbname"
            | "file"
            | "host"
            | "port"
            | "username"
            | "set"
            | "variable"
            | "pset"
            | "field-separator"
            | "log-file"
            | "output"
            | "record-separator"
            | "table-attr"
    )
}

pub fn parse_psql(args: &[OsString]) -> SqlIntent {
    let mut i = SqlIntent {
        tool: DbTool::Psql,
        database: None,
        host: None,
        port: None,
        user: None,
        socket: None,
        sources: Vec::new(),
        words: Vec::new(),
        password: None,
        connection: Vec::new(),
        delimiter: None,
        redis_mode: Default::default(),
        cluster: None,
        info_only: false,
        output: None,
        variables: Vec::new(),
        text: shown("psql", args),
    };
    let mut positional = Vec::new();
    let mut k = 0;
    let set_db = |i: &mut SqlIntent, v: String| {
        if v.starts_with("postgres://") || v.starts_with("postgresql://") {
            let (u, h, p, d) = parse_uri(&v);
            i.user = u.or(i.user.take());
            i.host = h.or(i.host.take());
            i.port = p.or(i.port.take());
            i.database = d.or(i.database.take());
        } else if v.contains('=') {
            for (key, val) in parse_conninfo(&v) {
                match key.as_str() {
                    "dbname" => i.database = Some(val),
                    "host" => i.host = Some(val),
                    "port" => i.port = Some(val),
                    "user" => i.user = Some(val),
                    _ => {}
                }
            }
        } else {
            i.database = Some(v);
        }
    };
    while k < args.len() {
        let a = s(&args[k]);
        k += 1;
        let (opt, inline): (String, Option<String>) = if a == "--" {
            positional.extend(args[k..].iter().map(s));
            break;
        } else if let Some(long) = a.strip_prefix("--") {
            let (n, v) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            (psql_long(n).unwrap_or(n).to_owned(), v)
        } else if a.len() > 1 && a.starts_with('-') {
            // getopt: flags written together; the first that takes a value takes the rest of
            // the word, or the next word (`-Xc SQL`, `-XcSQL`, `-Atd shop`).
            let cluster = &a.as_bytes()[1..];
            let with_value = cluster
                .iter()
                .position(|c| PSQL_SHORT_WITH_VALUE.contains(c));
            let flags = &cluster[..with_value.unwrap_or(cluster.len())];
            if flags.iter().any(|c| matches!(c, b'?' | b'V')) {
                i.info_only = true;
            }
            match with_value {
                Some(p) => {
                    let rest = &a[2 + p..];
                    (
                        (cluster[p] as char).to_string(),
                        (!rest.is_empty()).then(|| rest.to_owned()),
                    )
                }
                None => continue,
            }
        } else {
            positional.push(a);
            continue;
        };
        let takes_value = if opt.len() == 1 {
            PSQL_SHORT_WITH_VALUE.contains(&opt.as_bytes()[0])
        } else {
            psql_long_takes_value(&opt)
        };
        let value = if takes_value {
            inline.or_else(|| {
                let v = args.get(k).map(s);
                k += 1;
                v
            })
        } else {
            None
        };
        let value = value.unwrap_or_default();
        match opt.as_str() {
            "c" | "command" => i.sources.push(Source::Command(value)),
            "f" | "file" if value == "-" => i.sources.push(Source::Stdin),
            "f" | "file" => i.sources.push(Source::File(PathBuf::from(value))),
            "d" | "dbname" => set_db(&mut i, value),
            "h" | "host" => i.host = Some(value),
            "p" | "port" => i.port = Some(value),
            "U" | "username" => i.user = Some(value),
            "o" | "output" => i.output = Some(value),
            "v" | "set" | "variable" => i.variables.push(value),
            "help" | "version" => i.info_only = true,
            _ => {}
        }
    }
    // psql [OPTION]... [DBNAME [USERNAME]]
    let mut positional = positional.into_iter();
    if let Some(db) = positional.next()
        && i.database.is_none()
    {
        set_db(&mut i, db);
    }
    if let Some(user) = positional.next()
        && i.user.is_none()
    {
        i.user = Some(user);
    }
    if i.sources.is_empty() {
        i.sources.push(Source::Stdin);
    }
    i
}

/// What psql or mysql itself would do on the client's host, besides sending SQL: the shell
/// commands psql's meta-commands and `-o |CMD` run, and the files they replace (as `: >
/// FILE`), mysql's `system`, `pager` and `tee`, as shell lines for the line check to judge by
/// their effects. The texts are those of `-c`/`-e`, of the `-f` files `read` returns, and
/// `stdin` (what it will read there, when known). Not psqlrc or option files.
pub fn client_lines(
    intent: &SqlIntent,
    stdin: Option<&str>,
    read: impl Fn(&std::path::Path) -> Option<String>,
) -> Vec<String> {
    if intent.tool == DbTool::Mysql {
        let mut out = Vec::new();
        for src in &intent.sources {
            let text = match src {
                Source::Command(t) => Some(t.as_str()),
                Source::Stdin => stdin,
                // mysql reads no file named on its command line.
                Source::File(_) => None,
            };
            if let Some(t) = text {
                let c = super::mysql::classify_mysql(t, "", intent.delimiter.as_deref());
                out.extend(c.client);
            }
        }
        return out;
    }
    if intent.tool != DbTool::Psql {
        return Vec::new();
    }
    let mut lines = ClientLines::new(intent);
    for src in &intent.sources {
        match src {
            Source::Command(t) => lines.script(t, None, &read),
            Source::File(p) => {
                if let Some(t) = read(p) {
                    lines.script(&t, p.parent(), &read);
                }
            }
            Source::Stdin => {
                if let Some(t) = stdin {
                    lines.script(t, None, &read);
                }
            }
        }
    }
    lines.finish()
}

/// psql's client lines, read one script after another with the state psql carries between
/// them (`-v`, `\set`, `\cd`): for a caller that has read the scripts already.
pub struct ClientLines {
    c: Classified,
    /// How many more files `\i` and `\ir` may include.
    budget: usize,
}

impl ClientLines {
    pub fn new(intent: &SqlIntent) -> Self {
        let mut c = Classified::default();
        for v in &intent.variables {
            super::psql_client::variable(v, &mut c);
        }
        if let Some(o) = &intent.output {
            super::psql_client::output(o, &mut c);
        }
        ClientLines { c, budget: 64 }
    }

    /// One script, whose directory is `dir` (for `\ir`), and what it includes, read by `read`.
    pub fn script(
        &mut self,
        text: &str,
        dir: Option<&std::path::Path>,
        read: &impl Fn(&std::path::Path) -> Option<String>,
    ) {
        // Most scripts (a dump: `\connect`, `\.`) hold none of the commands read here: one
        // scan of the bytes spares them a second reading.
        if !super::psql_client::may_act_on_host(text) {
            return;
        }
        super::psql::server_sql(text, "", &mut self.c);
        for (file, relative) in std::mem::take(&mut self.c.psql.includes) {
            if self.budget == 0 {
                return;
            }
            self.budget -= 1;
            let path = match dir {
                Some(d) if relative && !file.starts_with('/') => d.join(&file),
                _ => PathBuf::from(&file),
            };
            if let Some(t) = read(&path) {
                self.script(&t, path.parent(), read);
            }
        }
    }

    pub fn finish(self) -> Vec<String> {
        self.c.client
    }
}

/// `dropdb [OPTION]... DBNAME` and `pg_dropcluster [--stop] VERSION NAME`.
pub fn parse_drop(tool: DbTool, args: &[OsString]) -> SqlIntent {
    let name = if tool == DbTool::Dropdb {
        "dropdb"
    } else {
        "pg_dropcluster"
    };
    let mut i = parse_psql(&[]);
    i.tool = tool;
    i.sources.clear();
    i.text = shown(name, args);
    let mut positional = Vec::new();
    let mut k = 0;
    while k < args.len() {
        let a = s(&args[k]);
        k += 1;
        let mut value = |inline: Option<&str>| {
            inline.map(str::to_owned).or_else(|| {
                let v = args.get(k).map(s);
                k += 1;
                v
            })
        };
        match a.as_str() {
            "-h" | "--host" => i.host = value(None),
            "-p" | "--port" => i.port = value(None),
            "-U" | "--username" => i.user = value(None),
            "--maintenance-db" => {
                value(None);
            }
            "--help" | "-?" | "--version" | "-V" => i.info_only = true,
            _ if a.starts_with("--host=") => i.host = value(a.strip_prefix("--host=")),
            _ if a.starts_with("--port=") => i.port = value(a.strip_prefix("--port=")),
            _ if a.starts_with("--username=") => i.user = value(a.strip_prefix("--username=")),
            _ if a.starts_with('-') => {}
            _ => positional.push(a),
        }
    }
    match tool {
        DbTool::PgDropcluster => {
            if let [v, n, ..] = positional.as_slice() {
                i.cluster = Some((v.clone(), n.clone()));
            }
        }
        _ => i.database = positional.first().cloned(),
    }
    i
}

/// How a MySQL object name is reported: the object's own name, with the database of a
/// `db.table` apart.
fn name_of(name: &ObjectName) -> (String, Option<String>) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p.as_ident() {
            Some(i) => i.value.clone(),
            None => p.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [db, object] => (object.clone(), Some(db.clone())),
        [.., last] => (last.clone(), None),
        [] => (name.to_string(), None),
    }
}

fn table_of(f: &TableFactor) -> Option<(String, Option<String>)> {
    match f {
        TableFactor::Table { name, .. } => Some(name_of(name)),
        _ => None,
    }
}

/// The data-modifying statements of a query: in its CTEs and its body.
fn classify_query(q: &Query, line: usize, out: &mut Vec<Found>) {
    for cte in q.with.iter().flat_map(|w| &w.cte_tables) {
        classify_query(&cte.query, line, out);
    }
    match q.body.as_ref() {
        SetExpr::Delete(st) | SetExpr::Update(st) => {
            classify_statement(st, line, out);
        }
        SetExpr::Query(inner) => classify_query(inner, line, out),
        _ => {}
    }
}

/// The statement and the rows it touches, on the last found: for the server's estimate and count.
fn rows_of(
    out: &mut [Found],
    st: &Statement,
    t: &sqlparser::ast::TableWithJoins,
    selection: Option<&sqlparser::ast::Expr>,
) {
    let Some(f) = out.last_mut() else {
        return;
    };
    f.statement = Some(st.to_string());
    if t.joins.is_empty() {
        f.count_from = Some(match selection {
            Some(w) => format!("{} WHERE {w}", t.relation),
            None => t.relation.to_string(),
        });
    }
}

/// The destructive kinds in one parsed MySQL statement; a `USE` is returned.
fn classify_statement(st: &Statement, line: usize, out: &mut Vec<Found>) -> Option<String> {
    let mut push = |kind, named: Option<(String, Option<String>)>, cascade| {
        let (object, database) = match named {
            Some((o, d)) => (Some(o), d),
            None => (None, None),
        };
        out.push(Found {
            kind,
            object,
            line,
            cascade,
            by_keywords: false,
            database,
            statement: None,
            count_from: None,
        })
    };
    match st {
        Statement::Drop {
            object_type,
            names,
            cascade,
            ..
        } => {
            let kind = match object_type {
                ObjectType::Table | ObjectType::View | ObjectType::MaterializedView => {
                    Some(SqlStatement::DropTable)
                }
                // SCHEMA is a synonym of DATABASE.
                ObjectType::Schema | ObjectType::Database => Some(SqlStatement::DropDatabase),
                _ => None,
            };
            if let Some(kind) = kind {
                for n in names {
                    let named = if kind == SqlStatement::DropDatabase {
                        // The database is the object itself.
                        let (o, _) = name_of(n);
                        (o.clone(), Some(o))
                    } else {
                        name_of(n)
                    };
                    push(kind, Some(named), *cascade);
                }
            }
        }
        // MariaDB's `CREATE OR REPLACE TABLE` drops the table and its rows first.
        Statement::CreateTable(c) if c.or_replace => {
            push(SqlStatement::DropTable, Some(name_of(&c.name)), false);
        }
        Statement::Truncate(t) => {
            for n in &t.table_names {
                push(SqlStatement::Truncate, Some(name_of(&n.name)), false);
            }
        }
        Statement::Delete(d) if d.selection.is_none() => {
            if !d.tables.is_empty() {
                // The multi-table form: `DELETE t1, t2 FROM t1 JOIN t2 …`.
                for n in &d.tables {
                    push(SqlStatement::DeleteWithoutWhere, Some(name_of(n)), false);
                }
                return None;
            }
            let tables = match &d.from {
                FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
            };
            for t in tables {
                push(
                    SqlStatement::DeleteWithoutWhere,
                    table_of(&t.relation),
                    false,
                );
            }
            if let [t] = tables.as_slice() {
                rows_of(out, st, t, None);
            }
        }
        Statement::Update(u) if u.selection.is_none() => {
            push(
                SqlStatement::UpdateWithoutWhere,
                table_of(&u.table.relation),
                false,
            );
            rows_of(out, st, &u.table, None);
        }
        Statement::Delete(d) if d.tables.is_empty() => {
            let tables = match &d.from {
                FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
            };
            for t in tables {
                push(SqlStatement::Delete, table_of(&t.relation), false);
            }
            if let ([t], None) = (tables.as_slice(), &d.using) {
                rows_of(out, st, t, d.selection.as_ref());
            }
        }
        Statement::Update(u) => {
            push(SqlStatement::Update, table_of(&u.table.relation), false);
            if u.from.is_none() {
                rows_of(out, st, &u.table, u.selection.as_ref());
            }
        }
        Statement::AlterTable(a)
            if a.operations
                .iter()
                .any(|op| matches!(op, AlterTableOperation::DropColumn { .. })) =>
        {
            push(SqlStatement::AlterDropColumn, Some(name_of(&a.name)), false);
        }
        Statement::Query(q) => classify_query(q, line, out),
        // A procedure or a prepared statement may do anything.
        Statement::Call(_) | Statement::Execute { .. } => push(SqlStatement::Unknown, None, false),
        // EXPLAIN ANALYZE runs the statement it explains.
        Statement::Explain {
            analyze,
            options,
            statement,
            ..
        } if *analyze
            || options.as_ref().is_some_and(|o| {
                o.iter()
                    .any(|x| x.name.value.eq_ignore_ascii_case("analyze"))
            }) =>
        {
            return classify_statement(statement, line, out);
        }
        Statement::Use(Use::Object(n) | Use::Database(n) | Use::Schema(n)) => {
            return Some(name_of(n).0);
        }
        _ => {}
    }
    None
}

/// A statement that `classify_statement` would find nothing in, told from its tokens without
/// parsing it (most of a long script): one that begins with a keyword whose statements are
/// never among the destructive kinds. Anything else (DELETE and UPDATE, whose rows the server
/// may be asked about; WITH, which may hold a DELETE; EXPLAIN, which may run one; MariaDB's
/// `CREATE OR REPLACE TABLE`, which drops one…) is parsed.
fn cannot_be_destructive(tokens: &[TokenWithSpan]) -> bool {
    use sqlparser::keywords::Keyword;
    let Some(Token::Word(first)) = tokens.first().map(|t| &t.token) else {
        return false;
    };
    if first.keyword == Keyword::CREATE
        && matches!(tokens.get(1).map(|t| &t.token), Some(Token::Word(w)) if w.keyword == Keyword::OR)
    {
        return false;
    }
    matches!(
        first.keyword,
        Keyword::SELECT
            | Keyword::INSERT
            | Keyword::VALUES
            | Keyword::CREATE
            | Keyword::GRANT
            | Keyword::REVOKE
            | Keyword::SET
            | Keyword::SHOW
            | Keyword::BEGIN
            | Keyword::START
            | Keyword::COMMIT
            | Keyword::ROLLBACK
            | Keyword::SAVEPOINT
            | Keyword::RELEASE
            | Keyword::COMMENT
            | Keyword::ANALYZE
            | Keyword::LISTEN
            | Keyword::NOTIFY
            | Keyword::PREPARE
    )
}

/// The keyword scan for a statement the parser could not read.
pub(super) fn scan_keywords(flavor: Flavor, text: &str, line: usize, out: &mut Vec<Found>) {
    let upper = text.to_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '"'))
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let after = |w: &str| {
        words
            .iter()
            .position(|x| *x == w)
            .and_then(|p| words.get(p + 1))
            .map(|s| s.to_lowercase())
    };
    let mut push = |kind, object| {
        out.push(Found {
            kind,
            object,
            line,
            cascade: has("CASCADE"),
            by_keywords: true,
            database: None,
            statement: None,
            count_from: None,
        })
    };
    let first = words.first().copied().unwrap_or("");
    if first == "DO" || first == "CALL" || has("EXECUTE") || has("PERFORM") {
        push(SqlStatement::Unknown, None);
    }
    if flavor == Flavor::Mysql && first == "SHUTDOWN" {
        push(SqlStatement::Shutdown, None);
    }
    if has("DROP") {
        match after("DROP").as_deref() {
            Some("database") => push(SqlStatement::DropDatabase, after("DATABASE")),
            Some("schema") if flavor == Flavor::Mysql => {
                push(SqlStatement::DropDatabase, after("SCHEMA"))
            }
            Some("schema") => push(SqlStatement::DropSchema, after("SCHEMA")),
            Some("table") => push(SqlStatement::DropTable, after("TABLE")),
            Some("column") => push(SqlStatement::AlterDropColumn, after("TABLE")),
            _ => push(SqlStatement::Unknown, None),
        }
    }
    // A column's values rewritten by an expression, as dropping it.
    if first == "ALTER" && has("TYPE") && has("USING") {
        push(SqlStatement::AlterDropColumn, after("TABLE"));
    }
    // MariaDB replaces the table, and its rows go.
    if flavor == Flavor::Mysql
        && first == "CREATE"
        && has("OR")
        && has("REPLACE")
        && let Some(table) = after("TABLE")
    {
        push(SqlStatement::DropTable, Some(table));
    }
    if has("TRUNCATE") {
        push(SqlStatement::Truncate, after("TRUNCATE"));
    }
    if has("DELETE") && !has("WHERE") {
        push(SqlStatement::DeleteWithoutWhere, after("FROM"));
    }
    if has("UPDATE") && !has("WHERE") && has("SET") {
        push(SqlStatement::UpdateWithoutWhere, after("UPDATE"));
    }
}

/// The text between two tokenizer locations (lines from 1, columns in characters from 1).
fn slice(text: &str, from: Location, to: Location) -> String {
    let offset = |at: Location| -> usize {
        let mut start = 0;
        for (n, line) in text.split_inclusive('\n').enumerate() {
            if n + 1 == at.line as usize {
                return start
                    + line
                        .char_indices()
                        .nth((at.column as usize).saturating_sub(1))
                        .map_or(line.len(), |(i, _)| i);
            }
            start += line.len();
        }
        text.len()
    };
    let (a, b) = (offset(from), offset(to));
    text.get(a..b.max(a)).unwrap_or("").to_owned()
}

/// How a psql meta-command that runs SQL of its making is named as the object of its
/// `unknown` (`\i`, `\gexec`).
pub(crate) const PSQL_META: &str = "\\";

/// How a statement made by a psql variable is named as the object of its `unknown` (`:x`).
pub(crate) const PSQL_VARIABLE: &str = ":";

/// Whether a found statement is a client's command that runs SQL this reading cannot see
/// (psql's `\\i`, `\\gexec`, a statement made by a `:variable`; mysql's `source`): the wire
/// guard sees that SQL.
pub fn is_client_meta(f: &Found) -> bool {
    f.kind == SqlStatement::Unknown
        && f.by_keywords
        && f.object
            .as_deref()
            .is_some_and(|o| o.starts_with(PSQL_META) || o.starts_with(PSQL_VARIABLE))
}

/// A function's own name, without its schema.
fn bare(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Classifies SQL text as psql would send it. `origin` names the source in notes.
pub fn classify(sql: &str, origin: &str) -> Classified {
    // A panic in reading psql's syntax loses nothing silently: the text is then of unknown
    // effect.
    let read = std::panic::catch_unwind(|| {
        let mut psql = Classified::default();
        let text = super::psql::server_sql(sql, origin, &mut psql);
        (text, psql)
    });
    let Ok((text, mut out)) = read else {
        return failed_parser(origin);
    };
    classify_text(Flavor::Postgresql, &text, origin, 1, &mut out);
    // A function the same SQL creates, then calls: its body is code of unknown effect. By
    // its own name: a call without the schema finds it on the search path.
    let created = std::mem::take(&mut out.created);
    let mut calls = std::mem::take(&mut out.calls);
    calls.retain(|(line, name)| {
        if created.iter().any(|c| bare(c) == bare(name)) {
            out.found.push(Found::unknown(
                *line,
                Some(format!("{name}() (a function this SQL creates)")),
                false,
            ));
            false
        } else {
            true
        }
    });
    out.calls = calls;
    out.created = created;
    out
}

/// Classifies plain SQL (statements separated by `;`, client commands already taken out) whose
/// first line is line `first_line` of its source, adding to `out`.
pub(crate) fn classify_text(
    flavor: Flavor,
    text: &str,
    origin: &str,
    first_line: usize,
    out: &mut Classified,
) {
    if flavor == Flavor::Postgresql {
        return super::pg::classify_text(text, origin, first_line, out);
    }
    let tokens = match Tokenizer::new(&MySqlDialect {}, text).tokenize_with_location() {
        Ok(t) => t,
        Err(e) => {
            out.notes.push(format!(
                "{origin}: the SQL could not be tokenized ({e}): checked by keywords only"
            ));
            scan_keywords(flavor, text, first_line, &mut out.found);
            out.statements += 1;
            return;
        }
    };
    // One statement's tokens at a time (whitespace and comments left out), parsed without
    // tokenizing again; the text is cut out only for a statement the parser cannot read.
    let mut groups: Vec<Vec<TokenWithSpan>> = Vec::new();
    let mut group = Vec::new();
    for t in tokens {
        match t.token {
            Token::SemiColon if !group.is_empty() => groups.push(std::mem::take(&mut group)),
            Token::SemiColon | Token::Whitespace(_) => {}
            _ => group.push(t),
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    out.statements += groups.len();
    let one = |tokens: Vec<TokenWithSpan>, part: &mut Classified| {
        let line = tokens[0].span.start.line as usize + first_line - 1;
        calls_and_creations(&tokens, line, part);
        if cannot_be_destructive(&tokens) {
            return;
        }
        let from = tokens[0].span.start;
        let to = tokens[tokens.len() - 1].span.end;
        match Parser::new(&MySqlDialect {})
            .with_tokens_with_locations(tokens)
            .parse_statements()
        {
            Ok(stmts) => {
                for st in &stmts {
                    if let Some(db) = classify_statement(st, line, &mut part.found) {
                        part.uses.push((part.found.len(), db));
                    }
                }
            }
            Err(_) => {
                let before = part.found.len();
                scan_keywords(flavor, &slice(text, from, to), line, &mut part.found);
                let what = if part.found.len() > before {
                    "found by keywords"
                } else {
                    "nothing destructive found by keywords"
                };
                part.notes.push(format!(
                    "{origin} line {line}: a statement the SQL parser cannot read: {what}"
                ));
            }
        }
    };
    // Long scripts are parsed on every core, in order-preserving chunks; a short one (a
    // statement on the wire) here, without a thread or a look at the cores.
    const CHUNK: usize = 512;
    if groups.len() <= CHUNK {
        let part = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut part = Classified::default();
            for g in groups {
                one(g, &mut part);
            }
            part
        }));
        merge(out, part.unwrap_or_else(|_| failed_parser(origin)));
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let per = groups.len().div_ceil(cores).max(CHUNK);
    let mut chunks: Vec<Vec<Vec<TokenWithSpan>>> = Vec::new();
    let mut groups = groups.into_iter().peekable();
    while groups.peek().is_some() {
        chunks.push(groups.by_ref().take(per).collect());
    }
    let parts: Vec<Classified> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(|| {
                    let mut part = Classified::default();
                    for g in chunk {
                        one(g, &mut part);
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                // A parser that panicked read nothing: its statements are of unknown effect.
                h.join().unwrap_or_else(|_| failed_parser(origin))
            })
            .collect()
    });
    for p in parts {
        merge(out, p);
    }
}

/// What a part the parser panicked on holds: statements of unknown effect.
pub(super) fn failed_parser(origin: &str) -> Classified {
    Classified {
        found: vec![Found::unknown(0, None, true)],
        notes: vec![format!("{origin}: the SQL parser failed on part of it")],
        ..Classified::default()
    }
}

/// Adds what one part of a text holds to the whole, in order.
pub(super) fn merge(out: &mut Classified, p: Classified) {
    let base = out.found.len();
    out.uses
        .extend(p.uses.into_iter().map(|(at, db)| (at + base, db)));
    out.found.extend(p.found);
    out.statements += p.statements;
    out.notes.extend(p.notes);
    out.calls.extend(p.calls);
    out.created.extend(p.created);
}

/// The names a statement calls like functions (a word, then `(`), and the function or procedure
/// it creates.
fn calls_and_creations(tokens: &[TokenWithSpan], line: usize, part: &mut Classified) {
    use sqlparser::keywords::Keyword;
    let name = |w: &sqlparser::tokenizer::Word| {
        if w.quote_style.is_some() {
            w.value.clone()
        } else {
            w.value.to_lowercase()
        }
    };
    for pair in tokens.windows(2) {
        // Any word: function names are often keywords to the tokenizer (`purge`, `format`);
        // the server tells which are functions.
        if let (Token::Word(w), Token::LParen) = (&pair[0].token, &pair[1].token) {
            let n = name(w);
            if !part.calls.iter().any(|(_, c)| *c == n) {
                part.calls.push((line, n));
            }
        }
    }
    let words: Vec<&sqlparser::tokenizer::Word> = tokens
        .iter()
        .take(8)
        .filter_map(|t| match &t.token {
            Token::Word(w) => Some(w),
            _ => None,
        })
        .collect();
    if words.first().is_some_and(|w| w.keyword == Keyword::CREATE)
        && let Some(at) = words
            .iter()
            .position(|w| matches!(w.keyword, Keyword::FUNCTION | Keyword::PROCEDURE))
        && let Some(pos) = tokens.iter().position(|t| matches!(t.token, Token::LParen))
        && let Some(Token::Word(w)) = tokens[..pos].last().map(|t| &t.token)
        && pos > at
    {
        part.created.push(name(w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_logged() {
        let argv: Vec<OsString> = [
            "redis-cli",
            "-a",
            "s3cret",
            "-u",
            "redis://app:pw@h:1/0",
            "psql",
            "host=x password=pw2 dbname=y",
            "flushall",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let got: Vec<String> = redacted(&argv)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got,
            [
                "redis-cli",
                "-a",
                "***",
                "-u",
                "redis://app:***@h:1/0",
                "psql",
                "host=x password=*** dbname=y",
                "flushall"
            ]
        );
    }

    fn kinds(sql: &str) -> Vec<(SqlStatement, Option<String>, usize)> {
        classify(sql, "-c")
            .found
            .into_iter()
            .map(|f| (f.kind, f.object, f.line))
            .collect()
    }

    fn first(sql: &str) -> Found {
        let c = classify(sql, "-c");
        c.found
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{sql}: nothing found"))
    }

    #[test]
    fn destructive_statements_are_found_and_harmless_ones_pass() {
        use SqlStatement::*;
        assert_eq!(kinds("DROP TABLE t"), [(DropTable, Some("t".into()), 1)]);
        assert_eq!(
            kinds("drop schema app cascade; drop database prod"),
            [
                (DropSchema, Some("app".into()), 1),
                (DropDatabase, Some("prod".into()), 1)
            ]
        );
        assert!(first("DROP SCHEMA app CASCADE").cascade);
        assert!(!first("DROP SCHEMA app").cascade);
        for drop in [
            "DROP VIEW v",
            "DROP MATERIALIZED VIEW v",
            "DROP FOREIGN TABLE v",
            "DROP TABLE IF EXISTS v",
        ] {
            assert_eq!(kinds(drop), [(DropTable, Some("v".into()), 1)], "{drop}");
        }
        assert_eq!(
            kinds("TRUNCATE a, shop.b"),
            [
                (Truncate, Some("a".into()), 1),
                (Truncate, Some("shop.b".into()), 1)
            ]
        );
        assert_eq!(
            kinds("DELETE FROM t")[0],
            (DeleteWithoutWhere, Some("t".into()), 1)
        );
        assert_eq!(kinds("DELETE FROM t WHERE id = 3")[0].0, Delete);
        assert_eq!(kinds("UPDATE t SET x = 1")[0].0, UpdateWithoutWhere);
        assert_eq!(kinds("UPDATE t SET x = 1 WHERE id = 2")[0].0, Update);
        assert_eq!(
            kinds("ALTER TABLE t DROP COLUMN c"),
            [(AlterDropColumn, Some("t".into()), 1)]
        );
        // A new type with USING rewrites every value (USING NULL empties the column); without
        // it, the values are cast and kept.
        assert_eq!(
            kinds("ALTER TABLE users ALTER COLUMN email TYPE int USING NULL"),
            [(AlterDropColumn, Some("users".into()), 1)]
        );
        assert!(kinds("ALTER TABLE users ALTER COLUMN id TYPE bigint").is_empty());
        assert_eq!(
            kinds("ALTER TABLE ONLY shop.users ALTER email SET DATA TYPE text USING lower(email)"),
            [(AlterDropColumn, Some("shop.users".into()), 1)]
        );
        // Also when the parser cannot read the rest: found by keywords.
        assert!(
            kinds("ALTER TABLE users ALTER COLUMN email TYPE int USING NULL garbage").contains(&(
                AlterDropColumn,
                Some("users".into()),
                1
            ))
        );
        // A WHERE inside parentheses is not the statement's.
        assert_eq!(
            kinds("UPDATE t SET x = (SELECT y FROM u WHERE u.id = 1)")[0].0,
            UpdateWithoutWhere
        );
        // Data-modifying statements inside others run with them.
        for (sql, kind) in [
            (
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                DeleteWithoutWhere,
            ),
            (
                "WITH s AS (SELECT 1) UPDATE t SET x = 2",
                UpdateWithoutWhere,
            ),
            (
                "WITH a AS (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d) SELECT * FROM a",
                DeleteWithoutWhere,
            ),
            (
                "WITH d AS (DELETE FROM t RETURNING *) INSERT INTO archive SELECT * FROM d",
                DeleteWithoutWhere,
            ),
            ("EXPLAIN ANALYZE DELETE FROM t", DeleteWithoutWhere),
            (
                "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t",
                DeleteWithoutWhere,
            ),
            (
                "EXPLAIN (ANALYZE true) UPDATE t SET x = 1",
                UpdateWithoutWhere,
            ),
            (
                "CREATE TABLE x AS WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                DeleteWithoutWhere,
            ),
            (
                "COPY (DELETE FROM t RETURNING *) TO STDOUT",
                DeleteWithoutWhere,
            ),
            (
                "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
                Delete,
            ),
        ] {
            assert_eq!(kinds(sql), [(kind, Some("t".into()), 1)], "{sql}");
        }
        // Code whose effect cannot be known.
        for sql in [
            "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$",
            "CALL purge_all()",
            "EXECUTE wipe(1)",
            "EXPLAIN ANALYZE EXECUTE wipe(1)",
            "COPY t FROM PROGRAM 'rm -rf /srv'",
            "DROP OWNED BY app",
            "DROP TYPE mood CASCADE",
            "DROP EXTENSION postgis CASCADE",
        ] {
            let f = first(sql);
            assert_eq!((f.kind, f.by_keywords), (Unknown, false), "{sql}");
        }
        for ok in [
            "SELECT * FROM t",
            "INSERT INTO t VALUES (1)",
            "CREATE INDEX i ON t (x)",
            "CREATE TABLE t2 (id int)",
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END",
            "PREPARE p AS DELETE FROM t",
            "SELECT 'DROP TABLE t; DELETE FROM t'",
            "-- DROP TABLE t\nSELECT 1",
            "/* DROP TABLE t; /* nested */ */ SELECT 1",
            "SELECT $$ DROP TABLE t $$",
            "SELECT $x$ DELETE FROM t; $x$",
            "EXPLAIN DELETE FROM t",
            "EXPLAIN (ANALYZE false) DELETE FROM t",
            "DELETE FROM t WHERE id IN (SELECT id FROM u)",
            "BEGIN; SET search_path = app; COMMIT",
            // The server refuses a data-modifying WITH below the top of a statement.
            "SELECT 1 UNION ALL (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d)",
            "INSERT INTO a WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "VACUUM ANALYZE",
            "DROP TYPE mood",
            "DROP FUNCTION f(int)",
            "",
            "-- only a comment",
        ] {
            // A qualified DELETE/UPDATE is found as such (a rule may ask how many rows).
            let destructive: Vec<_> = kinds(ok)
                .into_iter()
                .filter(|k| !matches!(k.0, Delete | Update))
                .collect();
            assert!(destructive.is_empty(), "{ok}: {destructive:?}");
        }
    }

    #[test]
    fn objects_are_named_as_sql_names_them() {
        let names: Vec<Option<String>> = classify(
            "DROP TABLE \"Odd\".\"T\", public.Foo, \"user\", \"a\"\"b\", _x1",
            "-c",
        )
        .found
        .into_iter()
        .map(|f| f.object)
        .collect();
        assert_eq!(
            names,
            [
                Some("\"Odd\".\"T\"".into()),
                Some("public.foo".into()),
                Some("\"user\"".into()),
                Some("\"a\"\"b\"".into()),
                Some("_x1".into()),
            ]
        );
        // A database by its own name, as dropdb and pg_dump take it.
        assert_eq!(
            first("DROP DATABASE \"Shop\"").object.as_deref(),
            Some("Shop")
        );
        // An alias or ONLY is not the table's name.
        assert_eq!(
            first("DELETE FROM ONLY shop.orders o WHERE o.id < 3")
                .object
                .as_deref(),
            Some("shop.orders")
        );
    }

    #[test]
    fn calls_are_collected_and_a_function_created_then_called_is_unknown() {
        let c = classify(
            "CREATE OR REPLACE FUNCTION app.wipe() RETURNS void LANGUAGE sql AS 'DELETE FROM t';\nSELECT app.wipe();",
            "-c",
        );
        assert_eq!(c.found.len(), 1, "{:?}", c.found);
        assert_eq!(c.found[0].kind, SqlStatement::Unknown);
        // The call's own line.
        assert_eq!(c.found[0].line, 2);
        assert_eq!(
            c.found[0].object.as_deref(),
            Some("app.wipe() (a function this SQL creates)")
        );
        // Without its schema, on the search path: the same function.
        let c = classify(
            "CREATE FUNCTION app.wipe() RETURNS int LANGUAGE sql AS 'SELECT 1'; SELECT wipe()",
            "-c",
        );
        assert_eq!(c.found.len(), 1, "{:?}", c.found);
        let c = classify("SELECT purge(), format('%s', \"Odd\"(1)) FROM t", "-c");
        let names: Vec<&str> = c.calls.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["purge", "format", "Odd"]);
        assert!(c.found.is_empty());
        // Everywhere in the statement, each once, with its line.
        let c = classify(
            "INSERT INTO t VALUES (1, upper('a'))\n  RETURNING app.audit(id), upper(v);",
            "-c",
        );
        assert_eq!(c.calls, [(1, "upper".into()), (2, "app.audit".into())]);
        // Function names in strings and comments are not calls.
        let c = classify("SELECT 'wipe()' -- purge()\n", "-c");
        assert!(c.calls.is_empty(), "{:?}", c.calls);
        // Objects named before their columns or arguments are not calls; a call in a WHERE
        // or after a schema is, keywords that name functions too.
        let c = classify(
            "INSERT INTO app.t (a) VALUES (1); DROP FUNCTION wipe(int); CREATE TABLE u (id int REFERENCES t (id));\nDELETE FROM t WHERE \"Odd\".left(x, 1) = app.ok(2)",
            "-c",
        );
        assert_eq!(c.calls, [(2, "Odd.left".into()), (2, "app.ok".into())]);
    }

    #[test]
    fn statements_end_where_psql_ends_them() {
        use SqlStatement::*;
        // A `;` inside a BEGIN ATOMIC body (CASE … END inside it) does not end the CREATE.
        let c = classify(
            "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC\n  DELETE FROM t;\n  SELECT CASE WHEN true THEN 1 END;\nEND;\nDROP TABLE x;",
            "-c",
        );
        assert_eq!(
            c.found.iter().map(|f| (f.kind, f.line)).collect::<Vec<_>>(),
            [(DropTable, 5)]
        );
        assert_eq!(c.statements, 2);
        // Elsewhere BEGIN starts a transaction, and a `)` too many ends nothing.
        let k: Vec<_> = kinds("BEGIN; DELETE FROM t; END; SELECT 1); TRUNCATE u")
            .into_iter()
            .map(|k| k.0)
            .collect();
        assert_eq!(k, [DeleteWithoutWhere, Truncate]);
        // A NUL byte: the C parser cannot be given it; of unknown effect.
        let c = classify("DELETE FROM t WHERE id = 1;\0", "-c");
        assert_eq!(c.found[0].kind, Unknown);
    }

    #[test]
    fn qualified_deletes_and_updates_carry_what_to_count() {
        use SqlStatement::*;
        let c = classify("DELETE FROM shop.orders WHERE 1=1", "-c");
        assert_eq!(c.found[0].kind, Delete);
        assert_eq!(c.found[0].object.as_deref(), Some("shop.orders"));
        assert_eq!(
            c.found[0].count_from.as_deref(),
            Some("shop.orders WHERE 1 = 1")
        );
        // The statement as written, for the server's EXPLAIN.
        assert_eq!(
            c.found[0].statement.as_deref(),
            Some("DELETE FROM shop.orders WHERE 1=1")
        );
        let t = classify("DELETE FROM users WHERE 1=1;\n", "-c");
        assert_eq!(
            (t.found[0].kind, t.found[0].count_from.as_deref()),
            (Delete, Some("users WHERE 1 = 1"))
        );
        assert_eq!(
            t.found[0].statement.as_deref(),
            Some("DELETE FROM users WHERE 1=1")
        );
        let u = classify("UPDATE users SET email = NULL WHERE true", "-c");
        assert_eq!(u.found[0].kind, Update);
        assert_eq!(u.found[0].count_from.as_deref(), Some("users WHERE true"));
        // USING or FROM of its own: estimated, not counted.
        let j = classify("DELETE FROM t USING u WHERE t.id = u.id", "-c");
        assert_eq!(
            (j.found[0].kind, j.found[0].count_from.clone()),
            (Delete, None)
        );
        let j = classify("UPDATE t SET x = u.x FROM u WHERE t.id = u.id", "-c");
        assert_eq!(j.found[0].count_from, None);
        let w = classify("DELETE FROM t", "-c");
        assert_eq!(w.found[0].kind, DeleteWithoutWhere);
        assert_eq!(w.found[0].count_from.as_deref(), Some("t"));
        // The alias and ONLY are kept: the count reads the same rows.
        let o = classify(
            "DELETE FROM ONLY orders o WHERE o.id < 10 AND o.note <> 'a;b'",
            "-c",
        );
        assert_eq!(
            o.found[0].count_from.as_deref(),
            Some("ONLY orders o WHERE o.id < 10 AND o.note <> 'a;b'")
        );
        // Inside another statement: the DELETE itself, as the parser prints it.
        let n = classify(
            "WITH d AS (DELETE FROM t WHERE x > 1 RETURNING *) SELECT * FROM d",
            "-c",
        );
        assert_eq!(
            n.found[0].statement.as_deref(),
            Some("DELETE FROM t WHERE x > 1 RETURNING *")
        );
        assert_eq!(n.found[0].count_from.as_deref(), Some("t WHERE x > 1"));
        // A WHERE that reads a CTE cannot be counted without it.
        let r = classify(
            "WITH a AS (SELECT 1 AS id) DELETE FROM t WHERE id IN (SELECT id FROM a)",
            "-c",
        );
        assert_eq!(
            (r.found[0].kind, r.found[0].count_from.clone()),
            (Delete, None)
        );
        assert_eq!(
            classify("WITH s AS (SELECT 1) UPDATE t SET x = 2", "-c").found[0]
                .count_from
                .as_deref(),
            Some("t")
        );
    }

    #[test]
    fn inside_transactions_and_on_the_right_line() {
        let mut script = String::from("BEGIN;\n");
        for n in 2..40 {
            script.push_str(&format!("INSERT INTO t VALUES ({n});\n"));
        }
        script.push_str("DROP TABLE accounts;\nCOMMIT;\n");
        assert_eq!(
            kinds(&script),
            [(SqlStatement::DropTable, Some("accounts".into()), 40)]
        );
        // After comments and blank lines, and in a long script read statement by statement.
        let mut long =
            String::from("SELECT 1;\n-- a comment\n\n/* and\nanother */ DELETE FROM t;\n");
        for n in 0..2000 {
            long.push_str(&format!("INSERT INTO t VALUES ({n});\n"));
        }
        long.push_str("SELEC broken;\nTRUNCATE big;\n");
        let c = classify(&long, "-f x");
        let got: Vec<_> = c.found.iter().map(|f| (f.kind, f.line)).collect();
        assert_eq!(
            got,
            [
                (SqlStatement::DeleteWithoutWhere, 5),
                (SqlStatement::Unknown, 2006),
                (SqlStatement::Truncate, 2007)
            ]
        );
        assert_eq!(c.statements, 2004);
    }

    #[test]
    fn what_the_parser_cannot_read_is_unknown_scanned_and_reported() {
        let c = classify(
            "SELECT 1;\nDO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$;\nDELET FROM t;\nDROP TABLE x garbage;",
            "script.sql",
        );
        let got: Vec<_> = c
            .found
            .iter()
            .map(|f| (f.kind, f.object.as_deref(), f.line, f.by_keywords))
            .collect();
        assert_eq!(
            got,
            [
                // The parser reads DO: code of unknown effect.
                (SqlStatement::Unknown, None, 2, false),
                // It cannot read the others: unknown, and scanned.
                (SqlStatement::Unknown, None, 3, true),
                (SqlStatement::Unknown, None, 4, true),
                (SqlStatement::DropTable, Some("x"), 4, true),
            ]
        );
        assert!(
            c.notes.iter().any(|n| n.contains("line 3")
                && n.contains("cannot read")
                && n.contains("nothing destructive")),
            "{:?}",
            c.notes
        );
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("line 4") && n.contains("found by keywords"))
        );
        // A statement with no keyword, which the scanner's splitter leaves out, is read too.
        let c = classify("SELECT 1; wipe_all; SELECT 2", "-c");
        assert_eq!(c.found.len(), 1, "{:?}", c.found);
        assert_eq!(
            (c.found[0].kind, c.found[0].by_keywords),
            (SqlStatement::Unknown, true)
        );
        // Text the lexer cannot read at all.
        for bad in [
            "SELECT 'unterminated; DROP TABLE t",
            "SELECT 1; /* open",
            "SELECT \0 1",
        ] {
            let c = classify(bad, "-c");
            assert_eq!(c.found[0].kind, SqlStatement::Unknown, "{bad}");
            assert!(c.found[0].by_keywords, "{bad}");
        }
        // EXPLAIN ANALYZE of a TRUNCATE is not PostgreSQL: unknown, and the TRUNCATE found by
        // keywords.
        let k: Vec<_> = kinds("EXPLAIN (ANALYZE, BUFFERS) TRUNCATE t")
            .into_iter()
            .map(|k| k.0)
            .collect();
        assert_eq!(k, [SqlStatement::Unknown, SqlStatement::Truncate]);
    }

    #[test]
    fn psql_meta_commands_and_variables_are_not_sql() {
        use SqlStatement::*;
        let c = classify("\\i other.sql\nSELECT 1;", "-f x");
        assert_eq!(c.found[0].kind, Unknown);
        assert!(is_client_meta(&c.found[0]));
        // Later on a line: the meta-command sends the buffer; its arguments are not SQL.
        let c = classify(
            "SELECT format('DROP TABLE %I', 't') \\gexec\nSELECT 1;",
            "-f x",
        );
        let got: Vec<_> = c
            .found
            .iter()
            .map(|f| (f.kind, f.object.clone(), is_client_meta(f)))
            .collect();
        assert_eq!(got, [(Unknown, Some("\\gexec".into()), true)]);
        assert_eq!(
            kinds("SELECT 1 \\g out's.txt\nDROP TABLE t\n\\g\nSELECT 2 \\x \\\\ ; DELETE FROM u;"),
            [
                (DropTable, Some("t".into()), 2),
                (DeleteWithoutWhere, Some("u".into()), 4)
            ]
        );
        assert!(kinds("SELECT 1; \\echo it's done\nSELECT 2;").is_empty());
        // The data of a COPY from standard input is not SQL, up to its `\.`.
        assert_eq!(
            kinds("COPY t (id, v) FROM STDIN;\n1\tit's\n\\N\tDROP TABLE x;\n\\.\nTRUNCATE t;"),
            [(Truncate, Some("t".into()), 5)]
        );
        assert_eq!(
            kinds("\\copy t from stdin\n1\t2;\n\\.\nDELETE FROM t;"),
            [(DeleteWithoutWhere, Some("t".into()), 4)]
        );
        assert!(kinds("COPY t TO STDOUT;\nSELECT 1;").is_empty());
        // A backslash inside a string is the string's.
        assert!(kinds("SELECT E'\\\\x', '\\gexec';").is_empty());
        // A statement made by a variable: psql's making, judged where psql sends it.
        for sql in [
            "\\set x 'DROP TABLE t'\n:x;",
            "DELETE FROM t WHERE id = :id;",
            "SELECT 1; :\"cmd\"",
        ] {
            let c = classify(sql, "-f x");
            assert_eq!(c.found.len(), 1, "{sql}: {:?}", c.found);
            assert!(is_client_meta(&c.found[0]), "{sql}: {:?}", c.found);
            assert!(c.notes.iter().any(|n| n.contains("psql variable")), "{sql}");
        }
        // What the parser reads as it is written is SQL: an array slice, a cast, `:=`.
        for ok in [
            "SELECT a[1:n] FROM t",
            "SELECT x::int FROM t",
            "SELECT f(a := 1)",
            "SELECT ':x'",
        ] {
            let c = classify(ok, "-c");
            assert!(c.found.is_empty(), "{ok}: {:?}", c.found);
        }
    }

    #[test]
    fn psql_arguments() {
        let a = |l: &str| -> Vec<OsString> { l.split(' ').map(Into::into).collect() };
        let i = parse_psql(&a("-h db1 -p 5433 -U app -c SELECT -c DROP -d shop"));
        assert_eq!(i.database.as_deref(), Some("shop"));
        assert_eq!(
            (i.host.as_deref(), i.port.as_deref()),
            (Some("db1"), Some("5433"))
        );
        assert_eq!(i.sources.len(), 2);
        let i = parse_psql(&a("postgresql://u@h:6000/sales?sslmode=require -f -"));
        assert_eq!(i.database.as_deref(), Some("sales"));
        assert_eq!(i.user.as_deref(), Some("u"));
        assert_eq!(i.sources, [Source::Stdin]);
        let i = parse_psql(&a("--dbname=dbname=inv --file=x.sql mydb"));
        assert_eq!(i.database.as_deref(), Some("inv"));
        assert_eq!(i.sources, [Source::File("x.sql".into())]);
        let i = parse_psql(&a("mydb someone"));
        assert_eq!(i.user.as_deref(), Some("someone"));
        assert_eq!(i.sources, [Source::Stdin]);
        let d = parse_drop(DbTool::Dropdb, &a("-h x --if-exists shop"));
        assert_eq!(d.database.as_deref(), Some("shop"));
        let c = parse_drop(DbTool::PgDropcluster, &a("--stop 15 main"));
        assert_eq!(c.cluster, Some(("15".into(), "main".into())));
    }
}
