//! `redis-cli`, pure: which server and database, and which commands it would send (from its
//! arguments, or one per line on standard input as redis-cli reads them), classified into the
//! destructive kinds that `[[protect.sql]]` rules with `engine = "redis"` name.
//!
//! redis-cli stops reading options at the first argument that is not one: the rest is the
//! command. Modes that only read (`--scan`, `--bigkeys`, `--stat`, `--rdb`…) send no command of
//! the operator's; `--pipe` (raw protocol), `--eval` and `--cluster` run what this check cannot
//! read and are of unknown effect.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use super::sql::{Classified, DbTool, Found, Source, SqlIntent};
use crate::policy::schema::SqlStatement;

/// Options of redis-cli 7 that take a value.
const WITH_VALUE: &[&str] = &[
    "-h",
    "-p",
    "-s",
    "-a",
    "-u",
    "-r",
    "-i",
    "-n",
    "-d",
    "-D",
    "-t",
    "-X",
    "--user",
    "--pass",
    "--sni",
    "--cacert",
    "--cacertdir",
    "--tls-ciphers",
    "--tls-ciphersuites",
    "--cert",
    "--key",
    "--show-pushes",
    "--lru-test",
    "--rdb",
    "--functions-rdb",
    "--pipe-timeout",
    "--memkeys-samples",
    "--pattern",
    "--quoted-pattern",
    "--count",
    "--intrinsic-latency",
    "--eval",
];

/// What redis-cli does besides sending one command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisMode {
    /// `-x` / `-X TAG`: an argument of the command comes from standard input (data, not
    /// commands).
    pub stdin_argument: bool,
    /// `--pipe`: raw protocol on standard input.
    pub pipe: bool,
    /// `--eval FILE`: a Lua script.
    pub eval: Option<String>,
    /// `--cluster …`: cluster management, which can run commands on every node.
    pub cluster: bool,
    /// `--scan`, `--bigkeys`, `--stat`, `--latency`, `--rdb`…: reads only.
    pub read_only_mode: bool,
}

fn s(a: &OsString) -> String {
    String::from_utf8_lossy(a.as_bytes()).into_owned()
}

/// `redis://[user[:password]@]host[:port][/db]` (also `rediss://`).
fn parse_uri(uri: &str, i: &mut SqlIntent) {
    let Some(rest) = uri
        .strip_prefix("redis://")
        .or_else(|| uri.strip_prefix("rediss://"))
    else {
        return;
    };
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, h)) => {
            let (u, p) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            if !u.is_empty() {
                i.user = Some(u.to_owned());
            }
            if !p.is_empty() {
                i.password = Some(p.to_owned());
            }
            h
        }
        None => authority,
    };
    match hostport.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => {
            i.host = Some(h.to_owned());
            i.port = Some(p.to_owned());
        }
        _ if !hostport.is_empty() => i.host = Some(hostport.to_owned()),
        _ => {}
    }
    let db = db.split('?').next().unwrap_or("");
    if !db.is_empty() {
        i.database = Some(db.to_owned());
    }
}

/// Whether a redis-cli option takes the next argument as its value.
pub fn takes_value(option: &str) -> bool {
    WITH_VALUE.contains(&option)
}

/// Parses `redis-cli [OPTIONS] [cmd [arg…]]`. The command words are in `redis`; without them
/// the commands come from standard input (`Source::Stdin`). A password is kept out of `text`.
pub fn parse_redis_cli(args: &[OsString]) -> SqlIntent {
    let mut i = super::sql::parse_psql(&[]);
    i.tool = DbTool::RedisCli;
    i.sources.clear();
    let mut mode = RedisMode::default();
    let mut k = 0;
    while k < args.len() {
        let a = s(&args[k]);
        if !a.starts_with('-') || a == "-" {
            break;
        }
        k += 1;
        if !WITH_VALUE.contains(&a.as_str()) {
            match a.as_str() {
                "-x" => mode.stdin_argument = true,
                "--pipe" => mode.pipe = true,
                "--cluster" => {
                    // `--cluster SUBCOMMAND ARGS…` takes the rest of the line.
                    mode.cluster = true;
                    k = args.len();
                }
                "--scan" | "--bigkeys" | "--memkeys" | "--hotkeys" | "--stat" | "--latency"
                | "--latency-history" | "--latency-dist" | "--replica" => {
                    mode.read_only_mode = true
                }
                "--help" | "--version" | "-v" => i.info_only = true,
                _ => {}
            }
            continue;
        }
        let v = args.get(k).map(s).unwrap_or_default();
        k += 1;
        match a.as_str() {
            "-h" => i.host = Some(v),
            "-p" => i.port = Some(v),
            "-s" => i.socket = Some(v),
            "-n" => i.database = Some(v),
            "-a" | "--pass" => i.password = Some(v),
            "--user" => i.user = Some(v),
            "-u" => parse_uri(&v, &mut i),
            "-X" => mode.stdin_argument = true,
            "--eval" => mode.eval = Some(v),
            "--rdb" | "--functions-rdb" | "--lru-test" | "--intrinsic-latency" => {
                mode.read_only_mode = true
            }
            _ => {}
        }
    }
    let words: Vec<String> = args[k..].iter().map(s).collect();
    i.text = super::sql::shown("redis-cli", args);
    if mode.eval.is_some() {
        // `--eval FILE keys , args`: the words are the script's keys and arguments.
        i.sources.push(Source::Command(words.join(" ")));
    } else if !words.is_empty() {
        i.sources.push(Source::Command(words.join(" ")));
        i.words = vec![words];
    } else if !mode.read_only_mode && !mode.cluster && !i.info_only {
        i.sources.push(Source::Stdin);
    }
    if mode.pipe && !i.sources.contains(&Source::Stdin) {
        i.sources.push(Source::Stdin);
    }
    i.redis_mode = mode;
    i
}

/// Splits a line into words as redis-cli does (its `sdssplitargs`): blanks separate words;
/// `"…"` understands `\n \r \t \b \a \\ \"` and `\xHH`; `'…'` understands `\'`. `None` for
/// unbalanced quotes (redis-cli refuses the line too).
pub fn split_line(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        if p >= b.len() {
            return Some(out);
        }
        let mut word = Vec::new();
        // The quote a word is inside, if any.
        let mut quote: Option<u8> = None;
        loop {
            let Some(q) = quote else {
                match b.get(p) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(&c @ (b'"' | b'\'')) => quote = Some(c),
                    Some(c) => word.push(*c),
                }
                p += 1;
                continue;
            };
            let c = *b.get(p)?;
            let next = b.get(p + 1).copied();
            let hex = |i: usize| b.get(i).and_then(|h| (*h as char).to_digit(16));
            if c == q {
                // The closing quote must be followed by a blank or the end.
                if next.is_some_and(|n| !n.is_ascii_whitespace()) {
                    return None;
                }
                p += 1;
                break;
            }
            let (byte, used) = match (q, c, next) {
                (b'"', b'\\', Some(b'x')) if hex(p + 2).is_some() && hex(p + 3).is_some() => {
                    ((hex(p + 2)? * 16 + hex(p + 3)?) as u8, 4)
                }
                (b'"', b'\\', Some(e)) => (
                    match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    },
                    2,
                ),
                (b'\'', b'\\', Some(b'\'')) => (b'\'', 2),
                _ => (c, 1),
            };
            word.push(byte);
            p += used;
        }
        out.push(String::from_utf8_lossy(&word).into_owned());
    }
}

/// The destructive kind of one redis command, if any.
pub fn classify_words(words: &[String], line: usize) -> Option<Found> {
    let first = words.first()?.to_ascii_uppercase();
    let second = words.get(1).map(|w| w.to_ascii_uppercase());
    let found = |kind, object: Option<String>| {
        Some(Found {
            kind,
            object,
            line,
            cascade: false,
            by_keywords: false,
            database: None,
            statement: None,
            count_from: None,
        })
    };
    match first.as_str() {
        "FLUSHALL" => found(SqlStatement::Flushall, None),
        "FLUSHDB" => found(SqlStatement::Flushdb, None),
        "DEL" | "UNLINK" => found(SqlStatement::Del, Some(words[1..].join(" "))),
        "CONFIG" if second.as_deref() == Some("SET") => found(
            SqlStatement::ConfigSet,
            Some(
                words[2..]
                    .iter()
                    .step_by(2)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        "SHUTDOWN" => found(SqlStatement::Shutdown, None),
        // A server made a replica drops its own data for its new primary's.
        "REPLICAOF" | "SLAVEOF" if second.as_deref() != Some("NO") => found(
            SqlStatement::Replicaof,
            Some(words[1..].join(" ")).filter(|o| !o.is_empty()),
        ),
        // Scripts and functions can run any command; SWAPDB, MIGRATE and DEBUG move or drop
        // whole data sets.
        "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" | "SWAPDB"
        | "MIGRATE" | "DEBUG" | "MODULE" => found(SqlStatement::Unknown, Some(first.clone())),
        "FUNCTION" if matches!(second.as_deref(), Some("FLUSH" | "DELETE" | "RESTORE")) => {
            found(SqlStatement::Unknown, Some(format!("FUNCTION {}", second?)))
        }
        _ => None,
    }
}

/// Classifies the commands redis-cli reads on standard input, one per line.
pub fn classify_lines(text: &str, origin: &str) -> Classified {
    let mut out = Classified::default();
    for (n, line) in text.lines().enumerate() {
        match split_line(line) {
            Some(words) if words.is_empty() => {}
            Some(words) => {
                out.statements += 1;
                out.found.extend(classify_words(&words, n + 1));
            }
            None => {
                out.statements += 1;
                out.notes.push(format!(
                    "{origin} line {}: unbalanced quotes (redis-cli refuses such a line)",
                    n + 1
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_stop_at_the_command_and_the_password_is_not_shown() {
        let i = parse_redis_cli(&os(&[
            "-h", "db1", "-p", "6380", "-n", "3", "-a", "s3cret", "del", "-h", "k",
        ]));
        assert_eq!(i.host.as_deref(), Some("db1"));
        assert_eq!(i.port.as_deref(), Some("6380"));
        assert_eq!(i.database.as_deref(), Some("3"));
        assert_eq!(i.password.as_deref(), Some("s3cret"));
        assert_eq!(i.words, vec![vec!["del", "-h", "k"]]);
        assert_eq!(i.text, "redis-cli -h db1 -p 6380 -n 3 -a *** del -h k");
        assert!(!i.text.contains("s3cret"));
    }

    #[test]
    fn uri_gives_host_port_database_and_password() {
        let i = parse_redis_cli(&os(&["-u", "redis://app:pw@cache:6390/2", "flushdb"]));
        assert_eq!(
            (i.host.as_deref(), i.port.as_deref(), i.database.as_deref()),
            (Some("cache"), Some("6390"), Some("2"))
        );
        assert_eq!(i.user.as_deref(), Some("app"));
        assert_eq!(i.password.as_deref(), Some("pw"));
        assert!(!i.text.contains("pw@"));
    }

    #[test]
    fn no_command_reads_commands_from_stdin_but_modes_do_not() {
        let i = parse_redis_cli(&os(&["-s", "/run/redis.sock"]));
        assert_eq!(i.sources, vec![Source::Stdin]);
        assert_eq!(i.socket.as_deref(), Some("/run/redis.sock"));
        let i = parse_redis_cli(&os(&["--scan", "--pattern", "user:*"]));
        assert!(i.sources.is_empty() && i.redis_mode.read_only_mode);
        let i = parse_redis_cli(&os(&["-x", "set", "k"]));
        assert!(i.redis_mode.stdin_argument);
        assert_eq!(i.words, vec![vec!["set", "k"]]);
        let i = parse_redis_cli(&os(&["--pipe"]));
        assert!(i.redis_mode.pipe);
    }

    #[test]
    fn destructive_commands_are_classified() {
        let k =
            |line: &str| classify_words(&split_line(line).unwrap(), 1).map(|f| (f.kind, f.object));
        assert_eq!(k("flushall async"), Some((SqlStatement::Flushall, None)));
        assert_eq!(k("FlushDB"), Some((SqlStatement::Flushdb, None)));
        assert_eq!(
            k("del a 'b c'"),
            Some((SqlStatement::Del, Some("a b c".into())))
        );
        assert_eq!(k("unlink x"), Some((SqlStatement::Del, Some("x".into()))));
        assert_eq!(
            k("config set dir /tmp dbfilename x.rdb"),
            Some((SqlStatement::ConfigSet, Some("dir dbfilename".into())))
        );
        assert_eq!(k("config get dir"), None);
        assert_eq!(k("replicaof no one"), None);
        assert_eq!(
            k("replicaof 10.0.0.1 6379"),
            Some((SqlStatement::Replicaof, Some("10.0.0.1 6379".into())))
        );
        assert_eq!(
            k("eval \"return 1\" 0").map(|f| f.0),
            Some(SqlStatement::Unknown)
        );
        assert_eq!(k("get k"), None);
        assert_eq!(k("set k v"), None);
    }

    #[test]
    fn lines_split_like_redis_cli() {
        assert_eq!(
            split_line(r#"set "a b" 'c\'d' "\x41\n""#).unwrap(),
            vec!["set", "a b", "c'd", "A\n"]
        );
        assert_eq!(split_line("  ").unwrap(), Vec::<String>::new());
        assert!(split_line("set \"open").is_none());
        let c = classify_lines("get a\n\nFLUSHDB\nset \"x\n", "stdin");
        assert_eq!(c.statements, 3);
        assert_eq!(c.found.len(), 1);
        assert_eq!(c.found[0].line, 3);
        assert_eq!(c.notes.len(), 1);
    }
}
