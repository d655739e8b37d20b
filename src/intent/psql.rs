//! psql's own syntax around the SQL it sends, pure: meta-commands (`\gexec`, `\i file`, `\g`)
//! and variables (`:name`) are taken out of a script, so that what remains is the SQL the
//! server is sent, at the same lines and byte offsets. What psql makes SQL of as it runs is
//! never guessed at: it is of unknown effect, named so that the wire guard, which sees the SQL
//! it makes, can take it over.

use pg_query::protobuf::{ScanToken, Token};

use super::pg;
use super::sql::{Classified, Found, PSQL_META, PSQL_VARIABLE};

/// The meta-commands that send the query buffer to the server: they end a statement.
const SENDS: &[&str] = &[
    "g",
    "gx",
    "gexec",
    "gset",
    "gdesc",
    "crosstabview",
    "watch",
    "parse",
    "sendpipeline",
    ";",
];

/// The SQL of a psql script as the server is sent it: meta-commands and statements made by
/// variables blanked out (each byte a space, newlines kept), a `;` where a meta-command sends
/// the buffer. What runs SQL this reading cannot see is noted, and found as `unknown`.
pub(crate) fn server_sql(sql: &str, origin: &str, out: &mut Classified) -> String {
    // A meta-command at the start of a line, first: its arguments are not SQL, and may hold
    // what the SQL lexer cannot read (`\echo don't`). The data of a `COPY … FROM STDIN` (to
    // a line `\.`) is not SQL either.
    let mut text = String::with_capacity(sql.len());
    if sql.contains("\\gset") {
        out.psql.server_sets_variables();
    }
    let mut copying = false;
    // Where the statement not yet ended begins.
    let mut pending = 0;
    for (n, line) in sql.lines().enumerate() {
        if copying {
            copying = line.trim_end() != "\\.";
            text.push('\n');
            pending = text.len();
            continue;
        }
        match line.trim_start().strip_prefix('\\') {
            Some(meta) => {
                let cmd = name(meta);
                client_line(cmd, &meta[cmd.len()..], out);
                if command(cmd, n + 1, origin, out) {
                    text.push(';');
                }
                copying =
                    cmd.eq_ignore_ascii_case("copy") && from_stdin(&meta.to_ascii_lowercase());
            }
            None => text.push_str(line),
        }
        text.push('\n');
        if line.contains(';') {
            let statement = text.get(pending..).unwrap_or_default();
            if from_stdin(&statement.to_ascii_lowercase()) {
                match pg::tokens(statement) {
                    Some(tokens) => copying |= copies_from_stdin(&tokens),
                    // Inside a string that goes on: the statement has not ended.
                    None => continue,
                }
            }
            pending = text.len();
        }
    }
    if text.contains('\\') {
        later_on_lines(&mut text, origin, out);
    }
    if text.contains(':') {
        variables(&mut text, origin, out);
    }
    text
}

fn from_stdin(lowercase: &str) -> bool {
    lowercase.contains("stdin")
}

/// Whether one of the statements ended among `tokens` is a `COPY … FROM STDIN`: psql then
/// sends the lines that follow as its data.
fn copies_from_stdin(tokens: &[ScanToken]) -> bool {
    let mut depth = 0usize;
    let mut statement: Vec<i32> = Vec::new();
    for t in tokens {
        let k = t.token;
        if k == Token::SqlComment as i32 || k == Token::CComment as i32 {
            continue;
        }
        if k == Token::Ascii40 as i32 {
            depth += 1;
        } else if k == Token::Ascii41 as i32 {
            depth = depth.saturating_sub(1);
        } else if k == Token::Ascii59 as i32 && depth == 0 {
            if statement.first() == Some(&(Token::Copy as i32))
                && statement
                    .windows(2)
                    .any(|w| w == [Token::From as i32, Token::Stdin as i32])
            {
                return true;
            }
            statement.clear();
            continue;
        }
        if depth == 0 {
            statement.push(k);
        }
    }
    false
}

/// What the meta-commands of a line that begins with one do on the client's host: psql runs
/// every one on the line, in a script (`\x \o FILE`).
fn client_line(cmd: &str, rest: &str, out: &mut Classified) {
    let (mut cmd, mut rest) = (cmd, rest);
    // Each command moves on along the line: a bound for the loop all the same.
    for _ in 0..rest.len() + 1 {
        let Some(at) = super::psql_client::command(cmd, rest, out) else {
            return;
        };
        let next = rest.get(at + 1..).unwrap_or_default();
        cmd = name(next);
        if cmd.is_empty() {
            return;
        }
        rest = &next[cmd.len()..];
    }
}

/// A meta-command's name: its letters, or the one character after the backslash (`\;`).
fn name(meta: &str) -> &str {
    let end = meta
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(meta.len(), |(i, _)| i);
    match end {
        0 => meta
            .get(..meta.chars().next().map_or(0, char::len_utf8))
            .unwrap_or(""),
        _ => &meta[..end],
    }
}

/// A meta-command found at line `line`: noted when it runs SQL this reading cannot see;
/// whether it sends the query buffer.
fn command(cmd: &str, line: usize, origin: &str, out: &mut Classified) -> bool {
    let copy = cmd.eq_ignore_ascii_case("copy");
    if copy || matches!(cmd, "i" | "ir" | "include" | "include_relative" | "gexec") {
        out.notes.push(format!(
            "{origin} line {line}: `\\{cmd}` runs SQL this check cannot see"
        ));
        if !copy {
            out.found.push(Found::unknown(
                line,
                Some(format!("{PSQL_META}{cmd}")),
                true,
            ));
        }
    }
    SENDS.contains(&cmd)
}

/// Replaces `range` of `text` with spaces (its newlines kept), byte for byte.
fn blank(text: &mut String, from: usize, to: usize) {
    let Some(part) = text.get(from..to) else {
        return;
    };
    let spaces: String = part
        .bytes()
        .map(|b| if b == b'\n' { '\n' } else { ' ' })
        .collect();
    text.replace_range(from..to, &spaces);
}

fn line_of(text: &str, at: usize) -> usize {
    1 + text
        .as_bytes()
        .get(..at)
        .unwrap_or_default()
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn backslash(t: &ScanToken) -> bool {
    t.token == Token::Ascii92 as i32
}

fn offset(from: usize, at: i32) -> usize {
    from.saturating_add(usize::try_from(at).unwrap_or(0))
}

/// Meta-commands later on a line, after SQL (`SELECT … \gexec`): a backslash outside quotes
/// and comments, as PostgreSQL's lexer (psql's, for SQL) reads them. A meta-command's
/// arguments run to the next backslash or the end of the line; `\\` ends them and the SQL
/// goes on.
fn later_on_lines(text: &mut String, origin: &str, out: &mut Classified) {
    // Each rereading is of what follows a meta-command whose arguments the lexer read past
    // the end of its line (an opening quote): few in any script; past the budget, the rest
    // stays as it is, and the parser will not read it either.
    let mut budget = 1000;
    let mut from = 0;
    while from < text.len() && budget > 0 {
        budget -= 1;
        from = match text.get(from..).and_then(pg::tokens) {
            Some(tokens) => match by_tokens(text, from, &tokens, origin, out) {
                Some(again) => again,
                None => return,
            },
            None => match first_meta(text, from, &mut budget) {
                Some(at) => meta(text, at, line_end(text, at), origin, out),
                None => return,
            },
        };
    }
}

fn line_end(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|rest| rest.find('\n'))
        .map_or(text.len(), |n| at + n)
}

/// The meta-command at `start`, its arguments up to `end`: noted, blanked, a `;` in its place
/// when it sends the buffer; returns `end`.
fn meta(text: &mut String, start: usize, end: usize, origin: &str, out: &mut Classified) -> usize {
    let cmd = name(text.get(start + 1..end).unwrap_or("")).to_owned();
    // A shell command or a file name runs to the end of the line, backslashes and all.
    let rest = text
        .get(start + 1 + cmd.len()..line_end(text, start))
        .unwrap_or_default()
        .to_owned();
    super::psql_client::command(&cmd, &rest, out);
    let sends = command(&cmd, line_of(text, start), origin, out);
    blank(text, start, end);
    if sends && text.is_char_boundary(start + 1) {
        text.replace_range(start..start + 1, ";");
    }
    end
}

/// The meta-commands among `tokens` (of the text from `from`); where to read again from
/// when an argument ran past the end of its line.
fn by_tokens(
    text: &mut String,
    from: usize,
    tokens: &[ScanToken],
    origin: &str,
    out: &mut Classified,
) -> Option<usize> {
    let mut i = 0;
    while i < tokens.len() {
        if !backslash(&tokens[i]) {
            i += 1;
            continue;
        }
        let start = offset(from, tokens[i].start);
        let eol = line_end(text, start);
        if let Some(next) = tokens.get(i + 1)
            && backslash(next)
            && next.start == tokens[i].end
        {
            blank(text, start, offset(from, next.end));
            i += 2;
            continue;
        }
        let mut j = i + 1;
        while j < tokens.len() && offset(from, tokens[j].start) < eol && !backslash(&tokens[j]) {
            j += 1;
        }
        let end = tokens
            .get(j)
            .map(|t| offset(from, t.start))
            .filter(|&s| s < eol)
            .unwrap_or(eol);
        meta(text, start, end, origin, out);
        if tokens[i + 1..j].iter().any(|t| offset(from, t.end) > eol) {
            return Some(eol);
        }
        i = j;
    }
    None
}

/// When the lexer cannot read the text from `from` (a meta-command's argument may be what it
/// stumbles on): the first backslash that the text before it reads up to, outside a comment.
fn first_meta(text: &str, from: usize, budget: &mut usize) -> Option<usize> {
    let rest = text.get(from..)?;
    for (n, _) in rest.match_indices('\\') {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let before = rest.get(..n)?;
        if let Some(tokens) = pg::tokens(before) {
            let in_comment = tokens
                .last()
                .is_some_and(|t| t.token == Token::SqlComment as i32 && offset(0, t.end) >= n);
            if !in_comment {
                return Some(from + n);
            }
        }
    }
    None
}

/// Statements that use a psql variable (`:name`, `:'name'`, `:"name"`) and that the parser
/// cannot read as they are written: what psql makes of them is not known here (a variable
/// may hold a whole statement).
fn variables(text: &mut String, origin: &str, out: &mut Classified) {
    let Some(tokens) = pg::tokens(text) else {
        return;
    };
    let mut depth = 0usize;
    let mut start = 0;
    let mut variable: Option<(usize, String)> = None;
    let mut statements = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.token == Token::Ascii40 as i32 {
            depth += 1;
        } else if t.token == Token::Ascii41 as i32 {
            depth = depth.saturating_sub(1);
        } else if t.token == Token::Ascii59 as i32 && depth == 0 {
            let end = offset(0, t.start);
            if let Some(v) = variable.take() {
                statements.push((start, end, v));
            }
            start = offset(0, t.end);
        } else if variable.is_none()
            && let Some(next) = tokens.get(i + 1)
            && pg::is_variable(t, next)
        {
            let name = text
                .get(offset(0, next.start)..offset(0, next.end))
                .unwrap_or_default()
                .to_owned();
            variable = Some((offset(0, t.start), name));
        }
    }
    if let Some(v) = variable {
        statements.push((start, text.len(), v));
    }
    for (from, to, (at, name)) in statements {
        if text.get(from..to).is_some_and(pg::parses) {
            continue;
        }
        let line = line_of(text, at);
        out.notes.push(format!(
            "{origin} line {line}: `:{name}` is a psql variable: the SQL psql makes of it is not seen by this check"
        ));
        out.found.push(Found::unknown(
            line,
            Some(format!("{PSQL_VARIABLE}{name}")),
            true,
        ));
        blank(text, from, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_of(sql: &str) -> Vec<String> {
        let mut c = Classified::default();
        server_sql(sql, "-c", &mut c);
        c.client
    }

    #[test]
    fn what_psql_runs_or_writes_itself_comes_out_as_shell_lines() {
        assert_eq!(
            client_of("\\! rm -rf /srv/x \\o y"),
            ["rm -rf /srv/x \\o y"]
        );
        assert_eq!(client_of("\\o |gzip > /root/a.gz"), ["gzip > /root/a.gz"]);
        assert_eq!(
            client_of("SELECT 1 \\g |tee /etc/hosts"),
            ["tee /etc/hosts"]
        );
        assert_eq!(client_of("\\o '/tmp/it''s'"), [": > '/tmp/it'\\''s'"]);
        assert_eq!(
            client_of("SELECT 1 \\g (format=csv) /etc/fstab"),
            [": > '/etc/fstab'"]
        );
        assert_eq!(client_of("\\w /etc/motd"), [": > '/etc/motd'"]);
        assert_eq!(
            client_of("\\lo_export 16403 /etc/issue"),
            [": > '/etc/issue'"]
        );
        assert_eq!(
            client_of("\\copy (SELECT a FROM t WHERE b TO c) to '/root/t.csv' csv"),
            [": > '/root/t.csv'"]
        );
        assert_eq!(
            client_of("\\copy t FROM PROGRAM 'curl -s x | sh'"),
            ["curl -s x | sh"]
        );
        assert_eq!(client_of("\\set x `rm -f /a` '`not`'"), ["rm -f /a"]);
        let mut c = Classified::default();
        super::super::psql_client::output("|cat > /etc/passwd", &mut c);
        super::super::psql_client::output("/root/my report.txt", &mut c);
        assert_eq!(c.client, ["cat > /etc/passwd", ": > '/root/my report.txt'"]);
    }

    /// Arguments read as psql 15 reads them (each case seen with the real psql by a review).
    #[test]
    fn file_names_and_commands_are_read_as_psql_reads_them() {
        let cases: &[(&str, &[&str])] = &[
            // Every command on a line, in a script.
            ("\\x \\o /etc/passwd", &[": > '/etc/passwd'"]),
            ("\\timing on \\o /etc/passwd", &[": > '/etc/passwd'"]),
            ("\\echo hi \\\\ \\o /etc/passwd", &[": > '/etc/passwd'"]),
            // \COPY, any case.
            ("\\COPY t TO /etc/passwd", &[": > '/etc/passwd'"]),
            (
                "\\Copy t to program 'tee /etc/passwd'",
                &["tee /etc/passwd"],
            ),
            // A quoted pipe.
            ("\\o '|tee /etc/passwd'", &["tee /etc/passwd"]),
            ("SELECT 1 \\g '|tee /etc/passwd'", &["tee /etc/passwd"]),
            // Backquotes in a file name: the command runs, the name is its output.
            (
                "\\o `echo /etc/passwd`",
                &["echo /etc/passwd", ": > \"$(: a name psql computes)\""],
            ),
            // Escapes in single quotes.
            ("\\o '/etc/pass\\x77d'", &[": > '/etc/passwd'"]),
            ("\\o '\\057etc\\057shadow'", &[": > '/etc/shadow'"]),
            ("\\echo 'a\\'b' `rm -f /etc/passwd`", &["rm -f /etc/passwd"]),
            // Not run: backquotes in double quotes.
            ("\\echo \"`rm -f /etc/passwd`\"", &[]),
            // A trailing semicolon is not part of the name.
            ("\\o /etc/passwd;", &[": > '/etc/passwd'"]),
            ("\\copy t to /etc/passwd;", &[": > '/etc/passwd'"]),
            // ~ and ~user.
            (
                "\\o ~/.ssh/authorized_keys",
                &[": > ~/'.ssh/authorized_keys'"],
            ),
            ("\\o ~postgres/x", &[": > ~postgres/'x'"]),
            // Variables.
            ("\\set f /etc/passwd\n\\o :f", &[": > '/etc/passwd'"]),
            ("\\set d /etc\n\\o :d/passwd", &[": > '/etc/passwd'"]),
            ("\\set f passwd\n\\o /etc/:f", &[": > '/etc/passwd'"]),
            (
                "SELECT '/etc/passwd' AS f \\gset\n\\o :f",
                &[": > \"$(: a name psql computes)\""],
            ),
            // \cd moves relative names.
            ("\\cd /etc\n\\o passwd", &["cd '/etc' && : > 'passwd'"]),
            // \g's options, quotes and all.
            (
                "SELECT 1 \\g (format=csv title='a)b') /etc/passwd",
                &[": > '/etc/passwd'"],
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(client_of(sql), *want, "{sql}");
        }
    }

    #[test]
    fn a_dump_is_not_read_twice_for_the_client() {
        use super::super::psql_client::may_act_on_host;
        let dump = "\\connect shop\nCOPY t (a) FROM stdin;\n1\n\\.\nSELECT 1;\n";
        assert!(!may_act_on_host(dump));
        for script in [
            "\\! ls",
            "SELECT 1 \\g f",
            "\\CoPy t to f",
            "\\echo `date`",
            "\\ir x",
        ] {
            assert!(may_act_on_host(script), "{script}");
        }
    }

    #[test]
    fn everyday_meta_commands_and_sql_strings_run_nothing_on_the_host() {
        for sql in [
            "\\timing on\n\\x\n\\dt+\nSELECT 1;",
            "\\copy t from '/root/t.csv' csv",
            "\\copy t to stdout csv",
            "\\copy t to pstdout",
            "\\i /root/migrate.sql",
            "\\o",
            "\\!",
            "SELECT 'a \\o /etc/passwd' AS s;",
            "SELECT $$ \\! rm -rf / $$;",
            "-- \\! rm -rf /\nSELECT 1;",
        ] {
            assert!(client_of(sql).is_empty(), "{sql}: {:?}", client_of(sql));
        }
    }
}
