//! The database shims: `psql`, `dropdb`, `pg_dropcluster`, `redis-cli`, `mysql`/`mariadb`
//! and `mysqladmin`/`mariadb-admin`. psql's SQL is read before it runs
//! (`-c`, `-f FILE`, and standard input when it is not a terminal: read whole, checked, then
//! handed to the real psql through a pipe). An interactive psql session on a terminal is not
//! intercepted statement by statement. A snapshot rule dumps the objects at risk first.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::process::{Command, Stdio};

use super::exec;
use super::guard::{Run, carry_out, record, snapshot_failed};
use crate::facts::db;
use crate::facts::hostname;
use crate::intent::Intent;
use crate::intent::sql::{self, DbTool, Source};
use crate::outcome::exit;
use crate::pipeline::{environment, load_failsafe};
use crate::policy::eval::Probed;
use crate::policy::schema::SqlStatement;
use crate::snapshot::manifest::DbTarget;

const CHANGED_NOTHING: &str = "Nothing was run.";

/// What to dump before the command runs: the tables and schemas its statements touch, or the
/// whole database when it drops one or runs SQL of unknown effect.
fn dump_target(intent: &sql::SqlIntent, facts: &db::SqlFacts) -> crate::error::Result<DbTarget> {
    if facts.whole_cluster {
        return Err(crate::Error::Snapshot(
            "a whole cluster is not snapshotted by gardefou (take a pg_basebackup first)".into(),
        ));
    }
    let mut t = DbTarget {
        database: facts.database.clone(),
        host: intent.host.clone(),
        port: intent.port.clone(),
        user: intent.user.clone(),
        tables: Vec::new(),
        schemas: Vec::new(),
        whole: false,
        ..DbTarget::default()
    };
    for f in &facts.found {
        match (f.kind, &f.object) {
            (SqlStatement::DropDatabase, object) => {
                t.whole = true;
                if let Some(db) = object {
                    t.database = db.clone();
                }
            }
            (SqlStatement::Unknown, _) | (_, None) => t.whole = true,
            (SqlStatement::DropSchema, Some(o)) => t.schemas.push(o.clone()),
            (_, Some(o)) => t.tables.push(o.clone()),
        }
    }
    t.tables.sort();
    t.tables.dedup();
    t.schemas.sort();
    t.schemas.dedup();
    Ok(t)
}

/// psql variables for an interactive session: a prompt that names the environment in its
/// color, and in production `AUTOCOMMIT off` (a destructive statement needs an explicit
/// COMMIT) with `ON_ERROR_ROLLBACK interactive` (a typo does not abort the transaction). Set
/// with `-v`, so a user's psqlrc, read after them, can still change them: hardening, not
/// interception.
fn psql_hardening(
    env: &crate::policy::Environment,
    no_color: bool,
    server: Option<&str>,
) -> Vec<OsString> {
    use crate::policy::schema::Color;
    let code = match env.color {
        Color::Red => "1;37;41",
        Color::Yellow => "1;30;43",
        Color::Green => "1;30;42",
        Color::Blue => "1;37;44",
        Color::Magenta => "1;37;45",
        Color::Cyan => "1;30;46",
        Color::White => "1;30;47",
    };
    let badge = format!("[{}]", env.name.to_uppercase());
    let badge = if no_color {
        badge
    } else {
        format!("%[%033[{code}m%]{badge}%[%033[0m%]")
    };
    // Through the wire guard psql's own %M would name the guard's socket: the server's name
    // as psql would show it instead.
    let at = server.map_or_else(|| "%M".to_owned(), |s| s.replace('%', "%%"));
    let mut v = vec![
        format!("PROMPT1={badge} %n@{at}/%/%R%x%# "),
        format!("PROMPT2={badge} %n@{at}/%/%R%x%# "),
    ];
    if env.name == crate::policy::FALLBACK_ENVIRONMENT {
        v.push("AUTOCOMMIT=off".into());
        v.push("ON_ERROR_ROLLBACK=interactive".into());
    }
    v.into_iter()
        .flat_map(|x| [OsString::from("-v"), OsString::from(x)])
        .collect()
}

/// mysql options for an interactive session: the environment's badge in the prompt, and in
/// production `--safe-updates` (UPDATE and DELETE must name the rows by key or LIMIT; SELECTs
/// are limited to 1000 rows, as the option documents). Placed first, so the operator's own
/// options win: hardening, not interception.
fn mysql_hardening(env: &crate::policy::Environment) -> Vec<OsString> {
    let badge = format!("[{}]", env.name.to_uppercase());
    let mut v = vec![OsString::from(format!("--prompt={badge} \\u@\\h [\\d]> "))];
    if env.name == crate::policy::FALLBACK_ENVIRONMENT {
        v.push("--safe-updates".into());
    }
    v
}

/// Where a piece of SQL is judged: the policy, the environment, and what the audit log names.
pub(crate) struct Judging<'a> {
    pub policy: &'a crate::policy::Policy,
    pub env: &'a crate::policy::Environment,
    /// Why the policy or the environment could not be read, if so (the verdict fails safe).
    pub error: Option<&'a str>,
    pub host: &'a str,
    pub audit_argv: &'a [OsString],
    /// A statement of a guarded session: allowed with no rule firing and no snapshot, it
    /// leaves no audit entry of its own (the session has one).
    pub quiet_allow: bool,
}

/// What a judged command or statement gets.
pub(crate) struct Decided {
    pub run: bool,
    pub verdict: crate::policy::Verdict,
}

/// The verdict on a database command (or one statement of a guarded session) carried out:
/// the typed confirmation when it must be asked, the snapshot the policy asks for, the audit
/// entry. The one path of every database entry point.
pub(crate) fn decide(
    tool: DbTool,
    intent: &sql::SqlIntent,
    facts: db::SqlFacts,
    j: &Judging,
) -> Decided {
    let wrapped = Intent::Sql(Box::new(intent.clone()));
    let probed = [Probed {
        intent: &wrapped,
        targets: Vec::new(),
        packages: None,
        sql: Some(facts),
    }];
    let v = crate::pipeline::verdict_here(&probed, j.policy, j.env, j.error, j.host);
    let (mut run, mut outcome) = carry_out(&v, j.env, j.host, &intent.text, CHANGED_NOTHING);
    let mut snapshot_id = None;
    if run && v.snapshot {
        let saved = probed[0]
            .sql
            .as_ref()
            .ok_or_else(|| crate::Error::Snapshot("no facts".into()))
            .and_then(|f| {
                let store = crate::snapshot::store::Store::for_caller(j.policy)?;
                if tool == DbTool::RedisCli {
                    let target = crate::snapshot::redis::target(intent, f)?;
                    crate::snapshot::redis::take(&store, target, intent, j.host, &j.env.name)
                        .map(Some)
                } else if matches!(tool, DbTool::Mysql | DbTool::Mysqladmin) {
                    let target = crate::snapshot::mysql::target(intent, f)?;
                    crate::snapshot::mysql::take(&store, target, intent, j.host, &j.env.name)
                } else {
                    let target = dump_target(intent, f)?;
                    crate::snapshot::db::take(&store, target, &intent.text, j.host, &j.env.name)
                        .map(Some)
                }
            });
        match saved {
            Ok(None) => {
                eprintln!("gardefou: nothing to snapshot: none of what this command touches exists")
            }
            Ok(Some(id)) => {
                eprintln!(
                    "gardefou: snapshot {id} saved what this command touches; undo with: gardefou snapshot restore {id}"
                );
                snapshot_id = Some(id);
            }
            Err(e) => {
                (run, outcome) = snapshot_failed(j.policy, j.env, j.host, &v, &e, CHANGED_NOTHING)
            }
        }
    }
    let quiet = j.quiet_allow
        && v.decision == crate::policy::Decision::Allow
        && v.reasons.is_empty()
        && snapshot_id.is_none();
    if quiet {
        return Decided { run, verdict: v };
    }
    record(
        j.policy,
        j.host,
        j.env,
        j.audit_argv,
        &v,
        Run {
            outcome,
            override_reason: None,
            snapshot_id: snapshot_id.as_deref(),
        },
    );
    Decided { run, verdict: v }
}

/// A psql about to run, and what its guarded session needs.
struct Session<'a> {
    intent: &'a sql::SqlIntent,
    loaded: crate::pipeline::Loaded,
    env: crate::policy::Environment,
    env_error: Option<String>,
    host: String,
    argv: &'a [OsString],
    real: &'a std::path::Path,
    argv0: &'a OsString,
    /// Where the session goes through the wire guard, or why it does not (`None`: no rule
    /// of this environment reads the engine's statements).
    wire: Option<Result<(Wire, crate::proxy::Listening), String>>,
}

/// Where a guarded client's server is.
enum Wire {
    Pg(crate::proxy::pg::Route),
    Mysql(crate::proxy::mysql::Route),
    Redis(crate::proxy::redis::Route),
}

impl<'a> Session<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        intent: &'a sql::SqlIntent,
        loaded: crate::pipeline::Loaded,
        env: crate::policy::Environment,
        env_error: Option<String>,
        host: String,
        argv: &'a [OsString],
        real: &'a std::path::Path,
        argv0: &'a OsString,
        client: Client,
    ) -> Session<'a> {
        use crate::policy::schema::Engine;
        use crate::proxy::{Guard, Listening, mysql, pg, redis};
        // The client's own connection options are read; another client's are its own business.
        let args = match client {
            Client::Other => &[],
            _ => argv.get(1..).unwrap_or(&[]),
        };
        let opened = |name: &str| {
            Listening::new(name).map_err(|e| format!("cannot open the guard's socket: {e}"))
        };
        let wire = match client {
            Client::Mysql { .. } => Guard::needed(&loaded, &env, Engine::Mysql).then(|| {
                let r = mysql::route(real, args)?;
                let l = opened(mysql::SOCKET_NAME)?;
                if !mysql::reaches(&mysql::pointed(args, &l.socket()), &l.socket()) {
                    return Err("the command's options would not let mysql reach the guard (an option without its value at the end?)".into());
                }
                Ok((Wire::Mysql(r), l))
            }),
            Client::Redis => Guard::needed(&loaded, &env, Engine::Redis).then(|| {
                let r = redis::route(intent, args)?;
                opened(redis::SOCKET_NAME).map(|l| (Wire::Redis(r), l))
            }),
            _ => Guard::needed(&loaded, &env, Engine::Postgresql).then(|| {
                let r = pg::route(intent, args)?;
                opened(&format!(".s.PGSQL.{}", r.port)).map(|l| (Wire::Pg(r), l))
            }),
        };
        Session {
            intent,
            loaded,
            env,
            env_error,
            host,
            argv,
            real,
            argv0,
            wire,
        }
    }

    /// Whether the statements will be judged on the wire.
    fn guarded(&self) -> bool {
        matches!(self.wire, Some(Ok(_)))
    }

    /// Runs psql through the wire guard (`crate::proxy`) when a rule of this environment reads
    /// PostgreSQL statements and the connection can be followed; else as it is (saying why
    /// when the session is typed at a terminal). `harden`: the environment's prompt and
    /// transactions (`psql_hardening`); `input`: the standard input already read.
    fn run(
        self,
        client: Client,
        input: Option<Vec<u8>>,
        approved: &[sql::Found],
        interactive: bool,
    ) -> i32 {
        use crate::proxy::Guard;
        let args = self.argv.get(1..).unwrap_or(&[]);
        let no_color = std::env::var_os("NO_COLOR").is_some();
        let plain: Vec<OsString> = match client {
            Client::Psql { harden: true } => {
                let mut a = psql_hardening(&self.env, no_color, None);
                a.extend(args.iter().cloned());
                a
            }
            Client::Mysql { harden: true } => mysql_hardened(&self.env, args),
            _ => args.to_vec(),
        };
        let (wire, listening) = match self.wire {
            None => return run_client(self.real, self.argv0, &plain, &[], input),
            Some(Ok(x)) => x,
            Some(Err(why)) => {
                if interactive {
                    eprintln!(
                        "gardefou: this session is not guarded statement by statement: {why}"
                    );
                }
                return run_client(self.real, self.argv0, &plain, &[], input);
            }
        };
        let guard = std::sync::Arc::new(Guard::new(
            self.intent.clone(),
            self.loaded,
            self.env.clone(),
            self.env_error,
            self.host,
            sql::redacted(self.argv),
            approved,
        ));
        let route = match wire {
            Wire::Pg(route) => route,
            Wire::Redis(route) => {
                let socket = listening.socket();
                let database = self.intent.database.clone().unwrap_or_else(|| "0".into());
                let dir = listening.serve(move |c| {
                    crate::proxy::redis::relay(c, &guard, &route.target, &database)
                });
                keep_through_ctrl_c();
                let pointed = crate::proxy::redis::pointed(&plain, &socket);
                let code = run_client(self.real, self.argv0, &pointed, &[], input);
                drop(dir);
                return code;
            }
            Wire::Mysql(route) => {
                let socket = listening.socket();
                let dir =
                    listening.serve(move |c| crate::proxy::mysql::relay(c, &guard, &route.target));
                keep_through_ctrl_c();
                let pointed = crate::proxy::mysql::pointed(&plain, &socket);
                let code = run_client(self.real, self.argv0, &pointed, &[], input);
                drop(dir);
                return code;
            }
        };
        let port = route.port;
        let front = if client == (Client::Psql { harden: true }) {
            psql_hardening(&self.env, no_color, Some(&route.shown))
        } else {
            Vec::new()
        };
        let passfile = crate::proxy::pg::passfile(&route, listening.dir.path());
        let target = route.target.clone();
        let dir = listening.serve(move |c| crate::proxy::pg::relay(c, &guard, &target));
        let socket_dir = dir.path().as_os_str().to_owned();
        let (guarded, mut env): (Vec<OsString>, Vec<(&str, Option<OsString>)>) = match client {
            Client::Other => (
                // Any other libpq client finds the guard in its environment.
                args.to_vec(),
                vec![
                    ("PGHOST", Some(socket_dir)),
                    ("PGPORT", Some(port.to_string().into())),
                    ("PGHOSTADDR", None),
                ],
            ),
            _ => {
                let mut a: Vec<OsString> = vec![
                    "-h".into(),
                    socket_dir,
                    "-p".into(),
                    port.to_string().into(),
                ];
                a.extend(front);
                a.extend(route.args);
                (a, Vec::new())
            }
        };
        if let Some(p) = passfile {
            // The user's passwords for this server, for the guard's socket.
            env.push(("PGPASSFILE", Some(p.into_os_string())));
        }
        keep_through_ctrl_c();
        let code = run_client(self.real, self.argv0, &guarded, &env, input);
        drop(dir);
        code
    }
}

/// Ctrl-C and Ctrl-\\ are the client's (psql cancels the statement, mysql kills it): the
/// guard stays.
fn keep_through_ctrl_c() {
    for s in [signal_hook::consts::SIGINT, signal_hook::consts::SIGQUIT] {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _ = signal_hook::flag::register(s, flag);
    }
}

/// mysql's arguments with the environment's hardening: after its option-file options
/// (`--no-defaults`, `--defaults-file=`…), which it wants first.
fn mysql_hardened(env: &crate::policy::Environment, args: &[OsString]) -> Vec<OsString> {
    let mut args = args.to_vec();
    let at = args
        .iter()
        .take_while(|a| {
            let a = a.to_string_lossy();
            a.starts_with("--defaults") || a == "--no-defaults" || a == "--print-defaults"
        })
        .count();
    args.splice(at..at, mysql_hardening(env));
    args
}

/// How a guarded client is pointed at the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// psql, by its options; `harden`: with the environment's prompt and transactions.
    Psql { harden: bool },
    /// mysql or mariadb, by its options; `harden`: with the environment's prompt and
    /// `--safe-updates`.
    Mysql { harden: bool },
    /// redis-cli, by `-s`.
    Redis,
    /// Any libpq client, by `PGHOST` and `PGPORT`.
    Other,
}

/// `gardefou wire -- COMMAND…`: a PostgreSQL client (pgbench, pg_restore, a script using
/// libpq) whose connections go through the wire guard, to the server its `PG*` environment
/// names. Exit status: the command's own; 126/127 when it cannot run.
pub fn wire(policy: Option<&std::path::Path>, forced_env: Option<&str>, cmd: &[OsString]) -> i32 {
    let Some(program) = cmd.first() else {
        eprintln!("gardefou: wire needs a command after --");
        return exit::USAGE;
    };
    let real = match exec::find_real(program, std::env::var_os("PATH").as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::NOT_FOUND;
        }
    };
    // The client finds the guard in PGHOST and PGPORT: one that names a server of its own
    // would go around it.
    if let Some(arg) = cmd.get(1..).unwrap_or(&[]).iter().find(|a| {
        let a = a.to_string_lossy();
        a == "-h"
            || (a.starts_with("-h") && !a.starts_with("-h="))
            || a.starts_with("--host")
            || a.contains("host=")
            || a.contains("hostaddr=")
            || a.contains("service=")
            || a.starts_with("postgres://")
            || a.starts_with("postgresql://")
    }) {
        eprintln!(
            "gardefou: {} names a server of its own, where the guard cannot follow it: give the server in PGHOST and PGPORT",
            arg.to_string_lossy()
        );
        return exit::USAGE;
    }
    let loaded = load_failsafe(policy);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, forced_env);
    let intent = sql::parse_psql(&[]);
    let session = Session::new(
        &intent,
        loaded,
        env,
        env_error,
        host,
        cmd,
        &real,
        program,
        Client::Other,
    );
    if let Some(Err(why)) = &session.wire {
        eprintln!("gardefou: the guard cannot follow this connection: {why}");
        return exit::USAGE;
    }
    session.run(Client::Other, None, &[], false)
}

/// Runs the real client and waits for it: its exit status (128 + the signal that killed it).
/// `env`: variables set (`Some`) or removed (`None`).
fn run_client(
    real: &std::path::Path,
    argv0: &OsString,
    args: &[OsString],
    env: &[(&str, Option<OsString>)],
    input: Option<Vec<u8>>,
) -> i32 {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut c = Command::new(real);
    c.arg0(argv0).args(args);
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if input.is_some() {
        c.stdin(Stdio::piped());
    }
    let child = c.spawn().and_then(|mut c| {
        if let (Some(mut pipe), Some(input)) = (c.stdin.take(), input) {
            // The tool may stop reading early (ON_ERROR_STOP): a broken pipe is its business.
            let _ = pipe.write_all(&input);
        }
        c.wait()
    });
    match child {
        Ok(status) => status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        Err(e) => {
            eprintln!("gardefou: cannot run {}: {e}", real.display());
            exit::CANNOT_EXEC
        }
    }
}

/// A database command through its shim. Returns only when it does not exec.
/// psql's options that take no value, as they may be written together (`-At`, `-qX`).
const PSQL_FLAGS: &str = "AaeEnqtxX";

/// A plain name: a database, a user, a host or socket directory, a port (no `=`, no `:`: never
/// a connection string or URI, whose parts the shim would have to read as libpq does).
fn plain_value(v: &OsString) -> bool {
    let v = v.as_encoded_bytes();
    !v.is_empty()
        && !v.starts_with(b"-")
        && v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
}

/// The `-c` texts of a psql command line made only of the plainest options — flags that take
/// no value, `-c`/`--command`, and `-d`/`-h`/`-p`/`-U` (and their long forms, and up to two
/// positional names) with plain values — and whether it has `-X`; `None` for anything else
/// (another option, an abbreviated long one, a value glued to a flag, `-f`, `-o`, `-L`, a
/// connection string, `--`).
fn plain_psql(args: &[OsString]) -> Option<(Vec<String>, bool)> {
    let mut texts = Vec::new();
    let (mut no_psqlrc, mut positional) = (false, 0);
    let mut words = args.iter();
    while let Some(a) = words.next() {
        let s = a.to_str()?;
        if let Some(text) = s.strip_prefix("--command=") {
            texts.push(text.to_owned());
            continue;
        }
        if let Some((name, value)) = s.split_once('=')
            && matches!(name, "--dbname" | "--host" | "--port" | "--username")
        {
            plain_value(&value.into()).then_some(())?;
            continue;
        }
        match s {
            "-c" | "--command" => texts.push(words.next()?.to_str()?.to_owned()),
            "-d" | "--dbname" | "-h" | "--host" | "-p" | "--port" | "-U" | "--username" => {
                plain_value(words.next()?).then_some(())?
            }
            "--no-psqlrc" => no_psqlrc = true,
            "--quiet" | "--no-align" | "--tuples-only" | "--echo-all" | "--echo-queries" => {}
            flags if flags.len() > 1 && flags.starts_with('-') && !flags.starts_with("--") => {
                flags[1..]
                    .chars()
                    .all(|c| PSQL_FLAGS.contains(c))
                    .then_some(())?;
                no_psqlrc |= flags.contains('X');
            }
            _ if plain_value(a) && positional < 2 => positional += 1,
            _ => return None,
        }
    }
    Some((texts, no_psqlrc))
}

/// `psql -c SQL…` that can run as it is, without the wire relay: the plainest options
/// (`plain_psql`), every text SQL that only reads (PostgreSQL's parser: a SELECT or SHOW calling
/// only pure built-ins), no backslash (no meta-command, nothing whose reading depends on the
/// session's `standard_conforming_strings`, which only the wire follows), no psqlrc that could
/// add statements, and no libpq service or `PGOPTIONS` that could change where and how it runs.
/// psql sends a `-c` text as it is (no variables, no meta-command in an SQL `-c`): the wire
/// would see these very texts.
fn psql_reads_only(args: &[OsString]) -> bool {
    let Some((texts, no_psqlrc)) = plain_psql(args) else {
        return false;
    };
    !texts.is_empty()
        && texts
            .iter()
            .all(|t| !t.contains('\\') && crate::intent::pg::only_reads(t))
        && ["PGSERVICE", "PGSERVICEFILE", "PGOPTIONS", "PGSYSCONFDIR"]
            .iter()
            .all(|v| std::env::var_os(v).is_none())
        && (no_psqlrc || !psqlrc_present())
}

/// Whether psql would find a startup file: `PSQLRC` set, any `psqlrc*` in Debian's system
/// directory (/etc/postgresql-common) or `.psqlrc*` in `HOME`; and when `HOME` is unknown.
fn psqlrc_present() -> bool {
    if std::env::var_os("PSQLRC").is_some() {
        return true;
    }
    let any_named = |dir: &std::path::Path, prefix: &str| match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().any(|e| {
            e.file_name()
                .as_encoded_bytes()
                .starts_with(prefix.as_bytes())
        }),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    };
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => {
            any_named("/etc/postgresql-common".as_ref(), "psqlrc")
                || any_named(home.as_ref(), ".psqlrc")
        }
        None => true,
    }
}

/// The shell lines psql would run or the files it would replace (`db::SqlFacts::client`),
/// judged as the guarded shell judges a line, and carried out as the rm shim carries out its
/// verdict: allowed, confirmed (then lifted from the read-only net, if under it) or refused
/// and audited. What a line reaches through a shim (its `rm`) is judged there again.
fn client_allowed(
    lines: &[String],
    loaded: &crate::pipeline::Loaded,
    env: &crate::policy::Environment,
    error: Option<&str>,
    host: &str,
    argv: &[OsString],
    text: &str,
) -> bool {
    let ctx = crate::pipeline::Context {
        policy: &loaded.policy,
        env,
        host,
        error,
        net: crate::net::netted(),
        ask_db: false,
    };
    let mut intents = Vec::new();
    for line in lines {
        let mut shell = crate::intent::line::Shell::from_process();
        match crate::intent::line::parse_line(line.as_bytes(), &mut shell) {
            Ok(i) => intents.extend(i),
            Err(e) => intents.push(Intent::Opaque {
                text: line.clone(),
                why: format!("a shell command psql runs that cannot be parsed: {e}"),
            }),
        }
    }
    let judged = crate::pipeline::judge(&ctx, intents, None);
    let v = &judged.verdict;
    if v.decision == crate::policy::Decision::Allow {
        return true;
    }
    // Named as the command typed: the reasons say what in it does what.
    let (go, outcome) = carry_out(v, env, host, text, CHANGED_NOTHING);
    record(
        &loaded.policy,
        host,
        env,
        &sql::redacted(argv),
        v,
        Run {
            outcome,
            override_reason: None,
            snapshot_id: None,
        },
    );
    if go {
        crate::net::lift_for(crate::net::Lift::Touching(&judged.touched));
    }
    go
}

pub fn shim(tool: DbTool, argv: &[OsString]) -> i32 {
    shim_with(tool, argv, false)
}

/// The psql shim's hot path (`gardefou-shim`, a static executable): a `psql -c` that only
/// reads (`psql_reads_only`), by root, with nothing in it for a rule and a policy that loads, is
/// judged, audited and run here; anything else is handed to the full gardefou beside it (the
/// relay, confirmations, another user's name through NSS).
pub fn psql_hot(argv: &[OsString]) -> i32 {
    if !nix::unistd::getuid().is_root() || !psql_reads_only(argv.get(1..).unwrap_or(&[])) {
        return super::guard::hand_over(argv, "psql");
    }
    shim_with(DbTool::Psql, argv, true)
}

/// The shim; `hot`: psql's hot path, whose arguments `psql_reads_only` has accepted.
fn shim_with(tool: DbTool, argv: &[OsString], hot: bool) -> i32 {
    // mysql and mariadb (mysqladmin and mariadb-admin) are one tool under two names: the real
    // one is found by the name it was called by.
    let called = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match tool {
        DbTool::Psql => "psql",
        DbTool::Dropdb => "dropdb",
        DbTool::PgDropcluster => "pg_dropcluster",
        DbTool::RedisCli => "redis-cli",
        DbTool::Mysql if called == "mariadb" => "mariadb",
        DbTool::Mysql => "mysql",
        DbTool::Mysqladmin if called == "mariadb-admin" => "mariadb-admin",
        DbTool::Mysqladmin => "mysqladmin",
    };
    let argv0 = argv.first().cloned().unwrap_or_else(|| name.into());
    let args = argv.get(1..).unwrap_or(&[]);
    let real = match exec::find_real(name.as_ref(), std::env::var_os("PATH").as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::NOT_FOUND;
        }
    };
    let intent = match tool {
        DbTool::Psql => sql::parse_psql(args),
        DbTool::RedisCli => crate::intent::redis::parse_redis_cli(args),
        DbTool::Mysql => crate::intent::mysql::parse_mysql(name, args),
        DbTool::Mysqladmin => crate::intent::mysql::parse_mysqladmin(name, args),
        _ => sql::parse_drop(tool, args),
    };
    let terminal = std::io::stdin().is_terminal();
    if intent.info_only || (intent.sources.contains(&Source::Stdin) && terminal) {
        // Help, or an interactive session typed on a terminal: psql and mysql get the
        // environment's prompt (and, in production, explicit transactions or safe updates),
        // and every statement typed is judged on the wire.
        if matches!(tool, DbTool::Psql | DbTool::Mysql | DbTool::RedisCli) && !intent.info_only {
            let loaded = load_failsafe(None);
            let host = hostname();
            let (env, env_error) = environment(&loaded.policy, &host, None);
            // Typed at the prompt: every statement judged on the wire.
            let client = match tool {
                DbTool::Psql => Client::Psql { harden: true },
                DbTool::Mysql => Client::Mysql { harden: true },
                _ => Client::Redis,
            };
            let session = Session::new(
                &intent, loaded, env, env_error, host, argv, &real, &argv0, client,
            );
            return session.run(client, None, &[], true);
        }
        eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
        return exit::CANNOT_EXEC;
    }
    // Standard input is read (to be checked, or to be handed on unchanged) unless it is a
    // terminal: commands on it, or redis-cli's `-x`/`-X` argument.
    let reads_stdin =
        !terminal && (intent.sources.contains(&Source::Stdin) || intent.redis_mode.stdin_argument);
    let mut input = Vec::new();
    if reads_stdin && let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("gardefou: cannot read standard input: {e}");
        return 1;
    }
    let stdin_text = String::from_utf8_lossy(&input).into_owned();
    let mut facts = db::probe(&intent, reads_stdin.then_some(stdin_text.as_str()));
    let loaded = load_failsafe(None);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, None);
    // `psql -c SELECT…` that only reads, nothing in it for a rule: psql runs as it is, without
    // the relay (`psql_reads_only`; BENCHMARKS.md, other shims).
    let plain_texts = tool == DbTool::Psql
        && !reads_stdin
        && facts.found.is_empty()
        && (hot || psql_reads_only(args));
    if hot && (!plain_texts || loaded.error.is_some() || env_error.is_some()) {
        return super::guard::hand_over(argv, "psql");
    }
    let client = match tool {
        DbTool::Psql if plain_texts => None,
        DbTool::Psql => Some(Client::Psql { harden: false }),
        DbTool::Mysql => Some(Client::Mysql { harden: false }),
        _ => None,
    };
    let session = client.map(|client| {
        Session::new(
            &intent,
            loaded.clone(),
            env.clone(),
            env_error.clone(),
            host.clone(),
            argv,
            &real,
            &argv0,
            client,
        )
    });
    if session.as_ref().is_some_and(Session::guarded) {
        // What psql reads or makes as it runs (`\i`, `\gexec`) is judged on the wire.
        facts.found.retain(|f| !sql::is_client_meta(f));
    }
    let error = loaded.error.as_deref().or(env_error.as_deref());
    // What psql runs or writes on this host itself (`\! CMD`, `\o |CMD`, `-o FILE`): judged
    // first, as the lines they are.
    if !facts.client.is_empty()
        && !client_allowed(
            &facts.client,
            &loaded,
            &env,
            error,
            &host,
            argv,
            &intent.text,
        )
    {
        return 1;
    }
    // How many rows are at stake: the server is asked before the verdict.
    crate::facts::stake::ask(&intent, &mut facts, &loaded.policy, &env);
    // Each in the database it acts in, to be told apart on the wire.
    let judged: Vec<sql::Found> = facts
        .found
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.database.get_or_insert_with(|| facts.database.clone());
            f
        })
        .collect();
    let decided = decide(
        tool,
        &intent,
        facts,
        &Judging {
            policy: &loaded.policy,
            env: &env,
            error,
            host: &host,
            audit_argv: &sql::redacted(argv),
            quiet_allow: false,
        },
    );
    let run = decided.run;
    if !run {
        return 1;
    }
    if tool == DbTool::PgDropcluster {
        // It deletes the cluster's directories itself: confirmed, on the host's view.
        crate::net::lift_for(crate::net::Lift::All);
    }
    if let (Some(session), Some(client)) = (session, client) {
        // What the text was confirmed for (or snapshotted before) passes the wire once; the
        // rest is judged there, with figures of the moment.
        let v = &decided.verdict;
        let approved = if v.decision == crate::policy::Decision::Allow && !v.snapshot {
            Vec::new()
        } else {
            judged
        };
        return session.run(client, reads_stdin.then_some(input), &approved, false);
    }
    if !reads_stdin {
        eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
        return exit::CANNOT_EXEC;
    }
    // Standard input was read: hand exactly those bytes to the real tool.
    let child = Command::new(&real)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            if let Some(mut pipe) = c.stdin.take() {
                // The tool may stop reading early (ON_ERROR_STOP): a broken pipe is its business.
                let _ = pipe.write_all(&input);
            }
            c.wait()
        });
    match child {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
        }
        Err(e) => {
            eprintln!("gardefou: cannot run {}: {e}", real.display());
            exit::CANNOT_EXEC
        }
    }
}
