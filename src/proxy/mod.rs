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

pub mod mysql;
pub mod pg;
pub mod redis;

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::facts::db;
use crate::intent::sql::{DbTool, Found, Source, SqlIntent};
use crate::pipeline::Loaded;
use crate::policy::Decision;
use crate::policy::Environment;
use crate::policy::schema::{Engine, SqlStatement};

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The server's socket file.
    Unix(PathBuf),
    Tcp(String, u16),
}

/// A server over TCP on this host, or why the guard does not go there.
pub(crate) fn this_host(host: String, port_text: &str) -> Result<Target, String> {
    let port: u16 = port_text
        .trim()
        .parse()
        .map_err(|_| format!("the port {port_text:?} is not a number"))?;
    if !pg::loopback(&host) {
        return Err(format!(
            "{host} is another host: the guard proxies only this host's servers (TLS is not terminated)"
        ));
    }
    Ok(Target::Tcp(host, port))
}

/// Passes what the server sends to the client as it comes, each chunk shown to `heard` first;
/// at the end, the client's socket is shut (its reader wakes).
pub(crate) fn copy_heard(from: &mut Stream, to: &mut UnixStream, mut heard: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        heard(&buf[..n]);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// A connection to the server.
pub(crate) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    pub(crate) fn connect(t: &Target) -> io::Result<Stream> {
        match t {
            Target::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
            Target::Tcp(h, port) => {
                let s = TcpStream::connect((h.as_str(), *port))?;
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
        }
    }

    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
        }
    }

    /// No more is written to the server.
    pub(crate) fn shutdown_write(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(b),
            Stream::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(b),
            Stream::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

/// The private socket: a directory only this user can enter, gone when the session ends.
pub struct Listening {
    pub dir: tempfile::TempDir,
    listener: UnixListener,
}

impl Listening {
    /// A socket named `name` in a new private directory.
    pub fn new(name: &str) -> io::Result<Listening> {
        let dir = tempfile::Builder::new().prefix("gardefou-db-").tempdir()?;
        let listener = UnixListener::bind(dir.path().join(name))?;
        Ok(Listening { dir, listener })
    }

    /// The socket's path.
    pub fn socket(&self) -> PathBuf {
        self.listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_path_buf))
            .unwrap_or_default()
    }

    /// Serves every connection the client opens (its session, a reconnection, a cancel
    /// request) with `relay`, on a thread of its own, for as long as the process lives.
    pub fn serve<F>(self, relay: F) -> tempfile::TempDir
    where
        F: Fn(UnixStream) -> io::Result<()> + Send + Sync + 'static,
    {
        let Listening { dir, listener } = self;
        let relay = std::sync::Arc::new(relay);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let relay = relay.clone();
                std::thread::spawn(move || {
                    if let Err(e) = relay(client) {
                        eprintln!("gardefou: the session's connection ended: {e}");
                    }
                });
            }
        });
        dir
    }
}

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
    /// Statements the command's text was already judged for (confirmed, or allowed): each lets
    /// one statement of its kind on its object (the same statement, when the parser read both)
    /// through without a second question, a second snapshot or a second audit entry.
    approved: Mutex<Vec<Approved>>,
    /// One question at a time on the terminal.
    asking: Mutex<()>,
}

/// A statement the command's text was judged for: its kind, object, text as read back, and
/// the database it acts in.
type Approved = (SqlStatement, Option<String>, Option<String>, Option<String>);

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
                    .map(|f| {
                        (
                            f.kind,
                            f.object.clone(),
                            f.statement.clone(),
                            f.database.clone(),
                        )
                    })
                    .collect(),
            ),
            asking: Mutex::new(()),
        }
    }

    /// Whether any rule of this environment reads the engine's statements: without one, a
    /// session has nothing to guard.
    pub fn needed(loaded: &Loaded, env: &Environment, engine: Engine) -> bool {
        loaded.error.is_some()
            || loaded.policy.sql.iter().any(|r| {
                r.engine == engine && crate::policy::applies_in(&r.environments, &env.name)
            })
    }

    /// The engine of the guarded client.
    fn mysql(&self) -> bool {
        matches!(self.intent.tool, DbTool::Mysql | DbTool::Mysqladmin)
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
            let c = if self.mysql() {
                crate::intent::mysql::classify_mysql(sql, "the statement", None)
            } else {
                crate::intent::sql::classify(sql, "the statement")
            };
            if c.found.is_empty() && c.calls.is_empty() {
                return Ok(());
            }
        }
        let mut intent = self.intent.clone();
        intent.sources = vec![Source::Command(sql.to_owned())];
        intent.database = Some(database.to_owned());
        intent.user = Some(user.to_owned());
        // The wire carries statements: no client's delimiter, no client's commands.
        intent.delimiter = None;
        intent.text = shown_statement(sql);
        let mut facts = db::probe(&intent, None);
        if let Some(why) = doubt {
            facts
                .found
                .push(Found::unknown(1, Some(why.to_owned()), true));
        }
        self.verdict(&intent, facts, sql, server)
    }

    /// Judges what the guard cannot read as a statement but knows may destroy data (`what`,
    /// as the verdict names it): code of unknown effect.
    pub fn judge_unknown(
        &self,
        what: &str,
        database: &str,
        user: &str,
        server: &mut dyn crate::facts::stake::Server,
    ) -> Result<(), Refusal> {
        let mut intent = self.intent.clone();
        intent.sources = vec![Source::Command(what.to_owned())];
        intent.database = Some(database.to_owned());
        intent.user = Some(user.to_owned());
        intent.text = what.to_owned();
        let facts = db::SqlFacts {
            database: database.to_owned(),
            found: vec![Found::unknown(1, Some(what.to_owned()), false)],
            ..db::SqlFacts::default()
        };
        self.verdict(&intent, facts, what, server)
    }

    /// Judges one command of a Redis session (its words, as the server gets them) in database
    /// `database`. Ok: it goes to the server.
    pub fn judge_words(&self, words: &[String], database: &str) -> Result<(), Refusal> {
        if self.loaded.error.is_none() && crate::intent::redis::classify_words(words, 1).is_none() {
            return Ok(());
        }
        let mut intent = self.intent.clone();
        let text = words.join(" ");
        intent.sources = vec![Source::Command(text.clone())];
        intent.words = vec![words.to_vec()];
        intent.database = Some(database.to_owned());
        intent.redis_mode = Default::default();
        intent.text = shown_statement(&text);
        let facts = db::probe(&intent, None);
        self.verdict(&intent, facts, &text, &mut NotAsked)
    }

    /// The verdict on what one statement or command was found to do: what the command's text
    /// was judged for passes once, the rows at stake are asked of `server`, and the pipeline
    /// decides (the question on the terminal, the snapshot, the audit entry).
    fn verdict(
        &self,
        intent: &SqlIntent,
        mut facts: db::SqlFacts,
        sql: &str,
        server: &mut dyn crate::facts::stake::Server,
    ) -> Result<(), Refusal> {
        if facts.found.is_empty() && facts.calls.is_empty() && self.loaded.error.is_none() {
            return Ok(());
        }
        // What the command's own text was already judged for passes once.
        if !facts.found.is_empty() {
            let mut approved = self.approved.lock().unwrap_or_else(|p| p.into_inner());
            let mut left = Vec::new();
            for f in facts.found.drain(..) {
                let db = f.database.as_deref().unwrap_or(&facts.database);
                match approved.iter().position(|(k, o, text, d)| {
                    *k == f.kind
                        && same_object(o.as_deref(), f.object.as_deref())
                        && (text.is_none() || f.statement.is_none() || *text == f.statement)
                        && d.as_deref().is_none_or(|d| {
                            d.is_empty() || db.is_empty() || d.eq_ignore_ascii_case(db)
                        })
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
            self.intent.tool,
            intent,
            facts,
            &crate::act::sql::Judging {
                policy: &self.loaded.policy,
                env: &self.env,
                error,
                host: &self.host,
                audit_argv: &argv,
                quiet_allow: true,
            },
        );
        if decided.run {
            return Ok(());
        }
        let v = decided.verdict;
        let what = if self.intent.tool == DbTool::RedisCli {
            "command"
        } else {
            "statement"
        };
        let first = v
            .reasons
            .iter()
            .find(|r| r.decision == v.decision)
            .or(v.reasons.first());
        let message = match first {
            Some(r) => format!("gardefou refused this {what}: {}", r.message),
            None => format!("gardefou refused this {what}"),
        };
        let detail = v
            .reasons
            .iter()
            .map(|r| format!("rule {}", r.rule))
            .collect::<Vec<_>>()
            .join("; ");
        let hint = match v.decision {
            Decision::Deny if self.intent.tool == DbTool::RedisCli => format!(
                "if this is really intended: gardefou override --reason '…' -- redis-cli {} (typed confirmation, audited), or change the rule named above",
                sql.trim()
            ),
            Decision::Deny => format!(
                "if this is really intended: gardefou override --reason '…' -- {} {} '{}' (typed confirmation, audited), or change the rule named above",
                if self.mysql() { "mysql" } else { "psql" },
                if self.mysql() { "-e" } else { "-c" },
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

/// Where nothing is asked (Redis: no rows at stake).
struct NotAsked;

impl crate::facts::stake::Server for NotAsked {
    fn answers(&mut self, _database: &str, _queries: &[String]) -> Result<Vec<String>, String> {
        Err("not asked".into())
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
