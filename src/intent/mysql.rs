//! `mysql` / `mariadb` and `mysqladmin` / `mariadb-admin`, pure: which server and database,
//! which SQL (`-e`, `--init-command`, standard input) or admin commands, and the classification
//! of MySQL scripts as the mysql client reads them: its client commands (`USE`, `SOURCE`,
//! `DELIMITER`, `\g`, `\!` …) are handled here, the SQL between them goes to the SQL parser
//! with the MySQL dialect.
//!
//! Options are read as the clients' option parser (my_getopt) reads them: short options may be
//! bundled (`-uroot -psecret`, `-Bpsecret`), `-p` takes its value only when attached, long
//! options may be abbreviated to any unambiguous prefix and take `--loose-`, and options may
//! follow the database name.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use super::sql::{Classified, DbTool, Flavor, Found, Source, SqlIntent, classify_text, shown};
use crate::policy::schema::SqlStatement;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    No,
    Required,
    /// Only when attached (`-pX`, `--password=X`).
    Optional,
}

/// (long name, short letter, value)
type Spec = (&'static str, Option<u8>, Val);

/// The options of mysql/mariadb 10.11 that take a value, and the flags that matter here.
const MYSQL: &[Spec] = &[
    ("database", Some(b'D'), Val::Required),
    ("execute", Some(b'e'), Val::Required),
    ("host", Some(b'h'), Val::Required),
    ("port", Some(b'P'), Val::Required),
    ("socket", Some(b'S'), Val::Required),
    ("user", Some(b'u'), Val::Required),
    ("password", Some(b'p'), Val::Optional),
    ("debug", Some(b'#'), Val::Optional),
    ("pager", None, Val::Optional),
    ("help", Some(b'?'), Val::No),
    ("help", Some(b'I'), Val::No),
    ("version", Some(b'V'), Val::No),
    ("character-sets-dir", None, Val::Required),
    ("connect-timeout", None, Val::Required),
    ("default-auth", None, Val::Required),
    ("default-character-set", None, Val::Required),
    ("delimiter", None, Val::Required),
    ("init-command", None, Val::Required),
    ("max-allowed-packet", None, Val::Required),
    ("max-join-size", None, Val::Required),
    ("net-buffer-length", None, Val::Required),
    ("plugin-dir", None, Val::Required),
    ("prompt", None, Val::Required),
    ("protocol", None, Val::Required),
    ("quick-max-column-width", None, Val::Required),
    ("select-limit", None, Val::Required),
    ("server-arg", None, Val::Required),
    ("ssl-ca", None, Val::Required),
    ("ssl-capath", None, Val::Required),
    ("ssl-cert", None, Val::Required),
    ("ssl-cipher", None, Val::Required),
    ("ssl-key", None, Val::Required),
    ("ssl-crl", None, Val::Required),
    ("ssl-crlpath", None, Val::Required),
    ("tls-version", None, Val::Required),
    ("tee", None, Val::Required),
    ("defaults-file", None, Val::Required),
    ("defaults-extra-file", None, Val::Required),
    ("defaults-group-suffix", None, Val::Required),
    ("no-defaults", None, Val::No),
    ("ssl", None, Val::No),
    ("ssl-verify-server-cert", None, Val::No),
    ("compress", Some(b'C'), Val::No),
    ("batch", Some(b'B'), Val::No),
    ("skip-column-names", Some(b'N'), Val::No),
    ("comments", Some(b'c'), Val::No),
    ("debug-info", Some(b'T'), Val::No),
    ("force", Some(b'f'), Val::No),
    ("html", Some(b'H'), Val::No),
    ("ignore-spaces", Some(b'i'), Val::No),
    ("skip-line-numbers", Some(b'L'), Val::No),
    ("named-commands", Some(b'G'), Val::No),
    ("no-beep", Some(b'b'), Val::No),
    ("one-database", Some(b'o'), Val::No),
    ("quick", Some(b'q'), Val::No),
    ("raw", Some(b'r'), Val::No),
    ("safe-updates", Some(b'U'), Val::No),
    ("silent", Some(b's'), Val::No),
    ("table", Some(b't'), Val::No),
    ("unbuffered", Some(b'n'), Val::No),
    ("verbose", Some(b'v'), Val::No),
    ("vertical", Some(b'E'), Val::No),
    ("wait", Some(b'w'), Val::No),
    ("xml", Some(b'X'), Val::No),
    ("no-auto-rehash", Some(b'A'), Val::No),
];

/// mysqladmin/mariadb-admin 10.11.
const MYSQLADMIN: &[Spec] = &[
    ("count", Some(b'c'), Val::Required),
    ("host", Some(b'h'), Val::Required),
    ("port", Some(b'P'), Val::Required),
    ("socket", Some(b'S'), Val::Required),
    ("user", Some(b'u'), Val::Required),
    ("password", Some(b'p'), Val::Optional),
    ("sleep", Some(b'i'), Val::Required),
    ("wait", Some(b'w'), Val::Optional),
    ("debug", Some(b'#'), Val::Optional),
    ("help", Some(b'?'), Val::No),
    ("version", Some(b'V'), Val::No),
    ("force", Some(b'f'), Val::No),
    ("compress", Some(b'C'), Val::No),
    ("local", Some(b'l'), Val::No),
    ("no-beep", Some(b'b'), Val::No),
    ("relative", Some(b'r'), Val::No),
    ("silent", Some(b's'), Val::No),
    ("verbose", Some(b'v'), Val::No),
    ("vertical", Some(b'E'), Val::No),
    ("character-sets-dir", None, Val::Required),
    ("default-character-set", None, Val::Required),
    ("protocol", None, Val::Required),
    ("connect-timeout", None, Val::Required),
    ("shutdown-timeout", None, Val::Required),
    ("plugin-dir", None, Val::Required),
    ("default-auth", None, Val::Required),
    ("ssl-ca", None, Val::Required),
    ("ssl-capath", None, Val::Required),
    ("ssl-cert", None, Val::Required),
    ("ssl-cipher", None, Val::Required),
    ("ssl-key", None, Val::Required),
    ("ssl-crl", None, Val::Required),
    ("ssl-crlpath", None, Val::Required),
    ("tls-version", None, Val::Required),
    ("defaults-file", None, Val::Required),
    ("defaults-extra-file", None, Val::Required),
    ("defaults-group-suffix", None, Val::Required),
    ("no-defaults", None, Val::No),
    ("ssl", None, Val::No),
    ("ssl-verify-server-cert", None, Val::No),
];

/// Options that say how to reach the server (and which option files to read): passed on to
/// mysqldump and mysql when a snapshot is taken and restored.
const CONNECTION: &[&str] = &[
    "host",
    "port",
    "socket",
    "user",
    "protocol",
    "default-auth",
    "plugin-dir",
    "character-sets-dir",
    "ssl",
    "ssl-ca",
    "ssl-capath",
    "ssl-cert",
    "ssl-cipher",
    "ssl-key",
    "ssl-crl",
    "ssl-crlpath",
    "tls-version",
    "ssl-verify-server-cert",
    "defaults-file",
    "defaults-extra-file",
    "defaults-group-suffix",
    "no-defaults",
];

/// One option as the client reads it: its long name (canonical) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Opt(&'static str, Option<String>),
    Arg(String),
}

/// The long option `name` means: exact, else the one option it is a prefix of (my_getopt
/// accepts unambiguous abbreviations). Unknown or ambiguous: None (the client refuses it).
fn long(specs: &[Spec], name: &str) -> Option<Spec> {
    let name = name.strip_prefix("loose-").unwrap_or(name);
    if let Some(s) = specs.iter().find(|s| s.0 == name) {
        return Some(*s);
    }
    let mut matches = specs.iter().filter(|s| s.0.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(s), None) => Some(*s),
        (Some(a), Some(b)) if a.0 == b.0 => Some(*a),
        _ => None,
    }
}

fn read_options(specs: &[Spec], args: &[OsString]) -> Vec<Item> {
    let s = |a: &OsString| String::from_utf8_lossy(a.as_bytes()).into_owned();
    let mut out = Vec::new();
    let mut k = 0;
    let mut options_end = false;
    while k < args.len() {
        let a = s(&args[k]);
        k += 1;
        if options_end || !a.starts_with('-') || a == "-" {
            out.push(Item::Arg(a));
            continue;
        }
        if a == "--" {
            options_end = true;
            continue;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (body, None),
            };
            // Unknown options make the client stop with an error: nothing runs.
            let Some((canon, _, val)) = long(specs, name) else {
                continue;
            };
            let value = match val {
                Val::Required => inline.or_else(|| {
                    let v = args.get(k).map(s);
                    k += 1;
                    v
                }),
                Val::Optional | Val::No => inline,
            };
            out.push(Item::Opt(canon, value));
            continue;
        }
        // A bundle of short options: the first one that takes a value takes the rest.
        let bytes = a.as_bytes();
        let mut p = 1;
        while p < bytes.len() {
            let Some((canon, _, val)) = specs.iter().find(|s| s.1 == Some(bytes[p])).copied()
            else {
                break;
            };
            p += 1;
            let rest = (p < bytes.len()).then(|| a[p..].to_owned());
            match val {
                Val::No => out.push(Item::Opt(canon, None)),
                Val::Optional => {
                    out.push(Item::Opt(canon, rest));
                    break;
                }
                Val::Required => {
                    let v = rest.or_else(|| {
                        let v = args.get(k).map(s);
                        k += 1;
                        v
                    });
                    out.push(Item::Opt(canon, v));
                    break;
                }
            }
        }
    }
    out
}

fn intent(tool: DbTool, name: &str, args: &[OsString]) -> SqlIntent {
    let mut i = super::sql::parse_psql(&[]);
    i.tool = tool;
    i.sources.clear();
    i.text = shown(name, args);
    i
}

/// Applies a connection option; true when it was one.
fn connection(i: &mut SqlIntent, name: &str, value: &Option<String>) -> bool {
    match name {
        "password" => {
            match value {
                Some(v) => i.password = Some(v.clone()),
                // `-p` alone: the client asks for it on the terminal; so will mysqldump.
                None => i.connection.push("--password".into()),
            }
            return true;
        }
        "host" => i.host = value.clone(),
        "port" => i.port = value.clone(),
        "socket" => i.socket = value.clone(),
        "user" => i.user = value.clone(),
        _ => {}
    }
    if !CONNECTION.contains(&name) {
        return false;
    }
    i.connection.push(match value {
        Some(v) => format!("--{name}={v}"),
        None => format!("--{name}"),
    });
    true
}

/// Where a mysql-family client connects, as its option files' options (`files`, as
/// `--print-defaults` lists them) and then its command line say: the last of each wins.
#[derive(Debug, Default, PartialEq)]
pub struct Endpoint {
    pub host: Option<String>,
    pub port: Option<String>,
    pub socket: Option<String>,
    pub protocol: Option<String>,
    /// TLS is asked for.
    pub tls: bool,
    pub port_on_command_line: bool,
    pub socket_on_command_line: bool,
}

pub fn endpoint(files: &[OsString], args: &[OsString]) -> Endpoint {
    let mut e = Endpoint::default();
    for (given, on_line) in [(files, false), (args, true)] {
        for a in given {
            // Options the table does not know, that turn TLS off.
            let a = a.to_string_lossy();
            if matches!(a.as_ref(), "--skip-ssl" | "--disable-ssl")
                || a.strip_prefix("--ssl=").is_some_and(|v| {
                    matches!(v.to_ascii_lowercase().as_str(), "0" | "off" | "false")
                })
            {
                e.tls = false;
            }
        }
        for item in read_options(MYSQL, given) {
            let Item::Opt(name, value) = item else {
                continue;
            };
            match name {
                "host" => e.host = value,
                "port" => {
                    e.port = value;
                    e.port_on_command_line |= on_line;
                }
                "socket" => {
                    e.socket = value;
                    e.socket_on_command_line |= on_line;
                }
                "protocol" => e.protocol = value,
                "ssl" => {
                    e.tls = !value.as_deref().is_some_and(|v| {
                        matches!(v.to_ascii_lowercase().as_str(), "0" | "off" | "false")
                    })
                }
                "ssl-ca" | "ssl-capath" | "ssl-cert" | "ssl-key" | "ssl-verify-server-cert" => {
                    e.tls = true
                }
                _ => {}
            }
        }
    }
    e
}

/// Parses `mysql [OPTIONS] [DATABASE]` (also `mariadb`).
pub fn parse_mysql(name: &str, args: &[OsString]) -> SqlIntent {
    let mut i = intent(DbTool::Mysql, name, args);
    let mut positional = Vec::new();
    let mut init = Vec::new();
    for item in read_options(MYSQL, args) {
        match item {
            Item::Arg(a) => positional.push(a),
            Item::Opt(n, v) => {
                if connection(&mut i, n, &v) {
                    continue;
                }
                let v = v.unwrap_or_default();
                match n {
                    "database" => i.database = Some(v),
                    "execute" => i.sources.push(Source::Command(v)),
                    "init-command" => init.push(Source::Command(v)),
                    "delimiter" => i.delimiter = Some(v),
                    "help" | "version" => i.info_only = true,
                    _ => {}
                }
            }
        }
    }
    if i.database.is_none() {
        i.database = positional.into_iter().next();
    }
    // `-e` replaces standard input; `--init-command` runs first, on every connection.
    if i.sources.is_empty() {
        i.sources.push(Source::Stdin);
    }
    init.append(&mut i.sources);
    i.sources = init;
    i
}

/// Parses `mysqladmin [OPTIONS] COMMAND [ARG] …` (also `mariadb-admin`). The commands (which
/// may be abbreviated) are in `words`, one per command with its argument.
pub fn parse_mysqladmin(name: &str, args: &[OsString]) -> SqlIntent {
    let mut i = intent(DbTool::Mysqladmin, name, args);
    let mut words = Vec::new();
    for item in read_options(MYSQLADMIN, args) {
        match item {
            Item::Arg(a) => words.push(a),
            Item::Opt(n, v) => {
                if !connection(&mut i, n, &v) && matches!(n, "help" | "version") {
                    i.info_only = true;
                }
            }
        }
    }
    let mut w = words.into_iter().peekable();
    while let Some(cmd) = w.next() {
        let lower = cmd.to_ascii_lowercase();
        // Commands that take one argument.
        let takes = ["create", "drop", "kill", "password", "old-password"]
            .iter()
            .any(|c| lower.len() >= 2 && c.starts_with(&lower));
        let mut one = vec![cmd];
        if takes && let Some(arg) = w.next() {
            one.push(arg);
        }
        i.words.push(one);
    }
    i
}

/// What one mysqladmin command does, when destructive.
pub fn classify_admin(words: &[String]) -> Option<Found> {
    let cmd = words.first()?.to_ascii_lowercase();
    // Commands may be shortened to any unambiguous prefix: `dr` is drop, `sh` is shutdown.
    let is = |full: &str| cmd.len() >= 2 && full.starts_with(&cmd);
    let (kind, object) = if is("drop") {
        (SqlStatement::DropDatabase, words.get(1).cloned())
    } else if is("shutdown") {
        (SqlStatement::Shutdown, None)
    } else {
        return None;
    };
    Some(Found {
        kind,
        database: object.clone(),
        object,
        line: 0,
        cascade: false,
        by_keywords: false,
        statement: None,
        count_from: None,
    })
}

/// The client commands of mysql that take the rest of their line (long form at the start of a
/// line, or the `\x` short form).
fn client_command(line: &str) -> Option<(&'static str, &str)> {
    let t = line.trim_start();
    const SHORT: &[(&str, &str)] = &[
        ("\\u", "use"),
        ("\\.", "source"),
        ("\\d", "delimiter"),
        ("\\!", "system"),
        ("\\r", "connect"),
        ("\\q", "quit"),
        ("\\T", "tee"),
        ("\\t", "notee"),
        ("\\C", "charset"),
        ("\\W", "warnings"),
        ("\\w", "nowarning"),
        ("\\P", "pager"),
        ("\\n", "nopager"),
        ("\\R", "prompt"),
        ("\\s", "status"),
        ("\\#", "rehash"),
        ("\\h", "help"),
        ("\\c", "clear"),
        ("\\p", "print"),
        ("\\e", "edit"),
    ];
    for (short, long) in SHORT {
        if let Some(rest) = t.strip_prefix(short)
            && (rest.is_empty() || rest.starts_with(char::is_whitespace))
        {
            return Some((long, rest.trim()));
        }
    }
    let word_end = t.find(char::is_whitespace).unwrap_or(t.len());
    let word = t[..word_end].to_ascii_lowercase();
    const LONG: &[&str] = &[
        "use",
        "source",
        "delimiter",
        "system",
        "connect",
        "quit",
        "exit",
        "tee",
        "notee",
        "charset",
        "warnings",
        "nowarning",
        "pager",
        "nopager",
        "prompt",
        "status",
        "rehash",
        "help",
        "clear",
        "print",
        "edit",
    ];
    let word = word.trim_end_matches(';');
    LONG.iter()
        .find(|c| **c == word)
        .map(|c| (*c, t[word_end..].trim().trim_end_matches(';').trim()))
}

/// Where a scan of a line stands at one byte, for mysql's quotes and comments.
enum At {
    /// Inside a quote or comment, or opening one: the scan goes on at this byte.
    Quoted(usize),
    /// Outside them: the byte is the caller's.
    Plain,
    /// A comment to the end of the line begins.
    End,
}

/// One step of the scan at `p`, the quote state updated.
fn step(b: &[u8], p: usize, quote: &mut Option<u8>) -> At {
    if let Some(q) = *quote {
        if q == b'*' {
            if b[p..].starts_with(b"*/") {
                *quote = None;
                return At::Quoted(p + 2);
            }
        } else if b[p] == b'\\' && q != b'`' {
            return At::Quoted(p + 2);
        } else if b[p] == q {
            *quote = None;
        }
        return At::Quoted(p + 1);
    }
    match b[p] {
        c @ (b'\'' | b'"' | b'`') => {
            *quote = Some(c);
            At::Quoted(p + 1)
        }
        b'#' => At::End,
        b'-' if b[p..].starts_with(b"-- ") || &b[p..] == b"--" => At::End,
        b'/' if b[p..].starts_with(b"/*") => {
            *quote = Some(b'*');
            At::Quoted(p + 2)
        }
        _ => At::Plain,
    }
}

/// Where `delim` occurs in `line` outside quotes and comments, given the quote state at its
/// start (updated): byte offsets.
fn find_delimiters(line: &str, delim: &str, quote: &mut Option<u8>) -> Vec<usize> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        if quote.is_none() && b[p..].starts_with(delim.as_bytes()) {
            out.push(p);
            p += delim.len();
            continue;
        }
        match step(b, p, quote) {
            At::Quoted(next) => p = next,
            At::End => break,
            At::Plain => p += 1,
        }
    }
    out
}

/// Where `\!` begins in `line` outside quotes and comments, given the quote state at its start.
fn shell_escape(line: &str, mut quote: Option<u8>) -> Option<usize> {
    let b = line.as_bytes();
    let mut p = 0;
    while p < b.len() {
        match step(b, p, &mut quote) {
            At::Quoted(next) => p = next,
            At::End => return None,
            At::Plain if b[p] == b'\\' && b.get(p + 1) == Some(&b'!') => return Some(p),
            // `\X`: another command, or an escaped character.
            At::Plain if b[p] == b'\\' => p += 2,
            At::Plain => p += 1,
        }
    }
    None
}

/// Classifies a script as the mysql client runs it. `delimiter` is `--delimiter`'s, if given.
pub fn classify_mysql(sql: &str, origin: &str, delimiter: Option<&str>) -> Classified {
    // MariaDB runs what `/*M! … */` holds, as MySQL and MariaDB run `/*! … */` (which the
    // parser reads as SQL): read it as SQL too.
    let marked;
    let sql = if sql.contains("/*M!") {
        marked = sql.replace("/*M!", "/*!");
        marked.as_str()
    } else {
        sql
    };
    let mut out = Classified::default();
    let mut delim = delimiter.unwrap_or(";").to_owned();
    // SQL since the last client command, custom delimiters turned into `;`, and the line it
    // starts on.
    let mut text = String::new();
    let mut first_line = 1;
    // Inside a quote or comment, and inside an unfinished statement, at the end of the last line.
    let mut quote: Option<u8> = None;
    let mut pending = false;
    let flush = |text: &mut String, first_line: usize, out: &mut Classified| {
        if !text.trim().is_empty() {
            classify_text(Flavor::Mysql, text, origin, first_line, out);
        }
        text.clear();
    };
    for (n, line) in sql.lines().enumerate() {
        if text.is_empty() {
            first_line = n + 1;
        }
        if quote.is_none()
            && !pending
            && let Some((cmd, arg)) = client_command(line)
        {
            // `use shop; DROP TABLE t` on one line: the rest is SQL.
            let (arg, rest) = match arg.split_once(';') {
                Some((a, r)) => (a.trim(), r),
                None => (arg, ""),
            };
            flush(&mut text, first_line, &mut out);
            match cmd {
                "delimiter" if !arg.is_empty() => {
                    delim = arg.split_whitespace().next().unwrap_or(";").to_owned();
                }
                "connect" if arg.split_whitespace().nth(1).is_some() => {
                    // `connect DB HOST`: a connection of mysql's own to another server, where
                    // no guard follows it.
                    out.notes.push(format!(
                        "{origin} line {}: `connect` to another server runs what this check cannot see",
                        n + 1
                    ));
                    out.found
                        .push(Found::unknown(n + 1, Some(format!("connect {arg}")), true));
                }
                "use" | "connect" => {
                    let db = arg
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_matches('`');
                    if !db.is_empty() {
                        out.uses.push((out.found.len(), db.to_owned()));
                    }
                }
                // What the shell runs is judged by its effect, as the line it is.
                "system" | "pager" if !arg.is_empty() => out.client.push(arg.to_owned()),
                // `tee FILE` appends the session's output to FILE.
                "tee" if !arg.is_empty() => out.client.push(format!(
                    ": >> {}",
                    super::sh_quote(arg.trim_matches(|c| c == '\'' || c == '"'))
                )),
                "source" | "system" | "edit" => {
                    out.notes.push(format!(
                        "{origin} line {}: `{cmd}` runs what this check cannot see",
                        n + 1
                    ));
                    // What `source` reads is SQL the wire guard sees.
                    let object =
                        (cmd == "source").then(|| format!("{}. {arg}", super::sql::PSQL_META));
                    out.found.push(Found::unknown(n + 1, object, true));
                }
                "quit" | "exit" => return out,
                _ => {}
            }
            if rest.trim().is_empty() {
                continue;
            }
            first_line = n + 1;
            text.push_str(rest);
            text.push('\n');
            pending = !rest.trim_end().ends_with(';');
            continue;
        }
        // `\g` and `\G` end a statement like the delimiter.
        let mut l = line.to_owned();
        for end in ["\\g", "\\G"] {
            if l.trim_end().ends_with(end) {
                let cut = l.trim_end().len() - 2;
                l.replace_range(cut.., "; ");
            }
        }
        // `\!` anywhere outside quotes and comments runs the rest of the line in a shell, as
        // mysql reads it (before the statement it is in is sent).
        if l.contains("\\!")
            && let Some(p) = shell_escape(&l, quote)
        {
            let command = l[p + 2..].trim().to_owned();
            if !command.is_empty() {
                out.client.push(command);
            }
            l.truncate(p);
        }
        let at = find_delimiters(&l, &delim, &mut quote);
        if delim != ";" {
            for &p in at.iter().rev() {
                let pad = " ".repeat(delim.len().saturating_sub(1));
                l.replace_range(p..p + delim.len(), &format!(";{pad}"));
            }
        }
        let t = l.trim();
        if !(t.is_empty() || t.starts_with('#') || t.starts_with("--")) {
            pending = quote.is_some() || !t.ends_with(';');
        }
        text.push_str(&l);
        text.push('\n');
    }
    flush(&mut text, first_line, &mut out);
    out
}

/// The command line of a mysql-family tool as it may be shown: `-pSECRET` (also bundled,
/// `-Bpsecret`) hidden. `--password=` is hidden by the common redaction.
pub fn redact_short_password(tool_admin: bool, arg: &str) -> Option<String> {
    let specs = if tool_admin { MYSQLADMIN } else { MYSQL };
    let b = arg.as_bytes();
    if b.len() < 3 || b[0] != b'-' || b[1] == b'-' {
        return None;
    }
    let mut p = 1;
    while p < b.len() {
        let (_, _, val) = specs.iter().find(|s| s.1 == Some(b[p])).copied()?;
        match val {
            Val::No => p += 1,
            Val::Required => return None,
            Val::Optional if b[p] == b'p' && p + 1 < b.len() => {
                return Some(format!("{}***", &arg[..p + 1]));
            }
            Val::Optional => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn system_pager_and_tee_are_lines_for_the_line_check() {
        let c = classify_mysql(
            "system rm -f /var/lib/mysql/ibdata1\n\\! ls\npager less -S\ntee /root/out.log\nSELECT 1;",
            "-e",
            None,
        );
        assert_eq!(
            c.client,
            [
                "rm -f /var/lib/mysql/ibdata1",
                "ls",
                "less -S",
                ": >> '/root/out.log'"
            ]
        );
        assert!(c.found.is_empty(), "{:?}", c.found);
        // `\!` anywhere on a line (mysql runs it as it reads the line); not inside quotes.
        let c = classify_mysql(
            "SELECT 1; \\! rm -rf /var/lib/mysql\nSELECT '\\! no' -- \\! no\n",
            "-e",
            None,
        );
        assert_eq!(c.client, ["rm -rf /var/lib/mysql"]);
        // `system` with nothing to run starts nothing this check can read: unknown, as before.
        assert_eq!(classify_mysql("system", "-e", None).found.len(), 1);
    }

    #[test]
    fn options_as_my_getopt_reads_them() {
        let i = parse_mysql(
            "mysql",
            &os(&[
                "-uroot",
                "-psecret",
                "shop",
                "-h",
                "db1",
                "--exec=DROP TABLE t",
            ]),
        );
        assert_eq!(i.database.as_deref(), Some("shop"));
        assert_eq!(i.user.as_deref(), Some("root"));
        assert_eq!(i.host.as_deref(), Some("db1"));
        assert_eq!(i.password.as_deref(), Some("secret"));
        assert_eq!(i.sources, [Source::Command("DROP TABLE t".into())]);
        assert!(!i.text.contains("secret"), "{}", i.text);
        assert!(!i.connection.iter().any(|c| c.contains("secret")));
        // `-p` alone asks; the next word is the database, not a password.
        let i = parse_mysql("mysql", &os(&["-p", "shop"]));
        assert_eq!(i.database.as_deref(), Some("shop"));
        assert_eq!(i.password, None);
        assert_eq!(i.sources, [Source::Stdin]);
        // Bundles, -D, --init-command first.
        let i = parse_mysql(
            "mysql",
            &os(&["-BNe", "SELECT 1", "-Dinv", "--init-command", "TRUNCATE x"]),
        );
        assert_eq!(i.database.as_deref(), Some("inv"));
        assert_eq!(
            i.sources,
            [
                Source::Command("TRUNCATE x".into()),
                Source::Command("SELECT 1".into())
            ]
        );
        let i = parse_mysql("mysql", &os(&["--loose-database=a", "-S", "/run/m.sock"]));
        assert_eq!(i.database.as_deref(), Some("a"));
        assert_eq!(i.connection, ["--socket=/run/m.sock"]);
        assert!(parse_mysql("mariadb", &os(&["--help"])).info_only);
        assert_eq!(
            redact_short_password(false, "-Bpsecret").as_deref(),
            Some("-Bp***")
        );
        assert_eq!(redact_short_password(false, "-uroot"), None);
    }

    #[test]
    fn mysqladmin_commands_and_abbreviations() {
        let i = parse_mysqladmin("mysqladmin", &os(&["-f", "dr", "shop", "status"]));
        assert_eq!(i.words, [vec!["dr", "shop"], vec!["status"]]);
        let f = classify_admin(&i.words[0]).unwrap();
        assert_eq!(
            (f.kind, f.object.as_deref()),
            (SqlStatement::DropDatabase, Some("shop"))
        );
        assert_eq!(classify_admin(&i.words[1]), None);
        assert_eq!(
            classify_admin(&["sHuT".into()]).map(|f| f.kind),
            Some(SqlStatement::Shutdown)
        );
        assert_eq!(classify_admin(&["d".into()]), None);
    }

    fn found(sql: &str) -> Vec<(SqlStatement, Option<String>, Option<String>, usize)> {
        let c = classify_mysql(sql, "-e", None);
        c.found
            .into_iter()
            .map(|f| (f.kind, f.object, f.database, f.line))
            .collect()
    }

    #[test]
    fn mysql_statements() {
        use SqlStatement::*;
        assert_eq!(
            found("DROP TABLE `shop`.`t`"),
            [(DropTable, Some("t".into()), Some("shop".into()), 1)]
        );
        assert_eq!(found("drop schema app")[0].0, DropDatabase);
        assert_eq!(found("TRUNCATE t")[0].0, Truncate);
        assert_eq!(found("DELETE FROM t LIMIT 10")[0].0, DeleteWithoutWhere);
        assert_eq!(
            found("DELETE a, b FROM a JOIN b ON a.id = b.id")
                .iter()
                .map(|f| f.1.clone().unwrap())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(found("CALL purge_all()")[0].0, Unknown);
        assert_eq!(found("SHUTDOWN")[0].0, Shutdown);
        // MariaDB replaces the table, and its rows are gone.
        assert_eq!(
            found("CREATE OR REPLACE TABLE shop.orders (id INT)"),
            [(DropTable, Some("orders".into()), Some("shop".into()), 1)]
        );
        // Also when the parser cannot read the rest: found by keywords.
        assert!(
            found("CREATE OR REPLACE TABLE orders (id INT) ENGINE = InnoDB garbage garbage")
                .iter()
                .any(|f| f.0 == DropTable && f.1.as_deref() == Some("orders"))
        );
        for ok in [
            "SELECT * FROM t",
            "CREATE TABLE IF NOT EXISTS t (id INT)",
            "CREATE OR REPLACE VIEW v AS SELECT 1",
            "DELETE FROM t WHERE id = 1",
            "SELECT 'DROP TABLE t'",
            "# DROP TABLE t\nSELECT 1",
            "INSERT INTO t VALUES (1, \"x;y\")",
        ] {
            let destructive: Vec<_> = found(ok)
                .into_iter()
                .filter(|k| !matches!(k.0, Delete | Update))
                .collect();
            assert!(destructive.is_empty(), "{ok}: {destructive:?}");
        }
    }

    #[test]
    fn what_mariadb_runs_in_a_comment_and_a_connection_elsewhere_are_seen() {
        let c = classify_mysql("SELECT 1; /*M! DROP TABLE users */", "-e", None);
        assert_eq!(c.found.len(), 1, "{c:?}");
        assert_eq!(c.found[0].kind, SqlStatement::DropTable);
        let c = classify_mysql("connect shop 127.0.0.1\nSELECT 1;\n", "-e", None);
        assert_eq!(c.found.len(), 1, "{c:?}");
        assert_eq!(c.found[0].kind, SqlStatement::Unknown);
        let c = classify_mysql("connect shop\nSELECT 1;\n", "-e", None);
        assert!(c.found.is_empty(), "{c:?}");
    }

    #[test]
    fn client_commands_delimiters_and_use() {
        let script = "USE shop\nSELECT 1;\n\\u inv\nDELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;\nDROP TABLE t;\nsource other.sql\nDELETE FROM x\\G\n";
        let c = classify_mysql(script, "script.sql", None);
        let found: Vec<_> = c
            .found
            .iter()
            .map(|f| (f.kind, f.object.clone(), f.line))
            .collect();
        assert_eq!(
            found,
            [
                (SqlStatement::DropTable, Some("t".into()), 7),
                (SqlStatement::Unknown, Some("\\. other.sql".into()), 8),
                (SqlStatement::DeleteWithoutWhere, Some("x".into()), 9),
            ],
            "{:?}",
            c.notes
        );
        assert_eq!(c.uses, [(0, "shop".to_owned()), (0, "inv".to_owned())]);
        // A delimiter inside a string does not end the statement.
        let c = classify_mysql("DELIMITER $$\nSELECT '$$'; DROP TABLE y$$\n", "-e", None);
        assert_eq!(c.found[0].kind, SqlStatement::DropTable, "{:?}", c);
    }
}
