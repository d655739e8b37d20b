//! What psql does on the client's host itself, besides sending SQL, read from its
//! meta-commands as psql 15 reads their arguments: `\! CMD`, `\o |CMD`, `\g |CMD`, `\w |CMD`
//! (quoted too: `\o '|CMD'`) and `\copy … PROGRAM 'CMD'` run CMD in a shell; `\o FILE`, `\g
//! FILE`, `\gx FILE`, `\w FILE`, `\s FILE`, `\lo_export OID FILE` and `\copy … TO 'FILE'`
//! replace FILE; a `` `CMD` `` in an argument runs CMD (and makes the argument its output).
//! Arguments are read as psql reads them: `'…'` with `''` and C escapes (`\x77`, `\057`),
//! `"…"` kept as written, `:name`, `:'name'` and `:"name"` replaced by the variable's value
//! (`\set`, `-v`), trailing `;` dropped, `~` and `~user` expanded; `\cd` moves where relative
//! names are. Each effect becomes a shell line (a file replaced is `: > FILE`) for the line
//! check to judge by its effects; a name no reading can know (a variable set by `\gset`, a
//! backquoted command's output) is a target the line check cannot resolve.

use super::sh_quote;
use super::sql::Classified;

/// What a psql script has set so far that later arguments depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// `\cd` arguments, in order, as shell words.
    cds: Vec<String>,
    /// `\set NAME VALUE` and `-v NAME=VALUE`; `None`: set to what cannot be known here.
    vars: Vec<(String, Option<String>)>,
    /// Files `\i` (false) and `\ir` (true: relative to the including file) read, not yet
    /// followed.
    pub(crate) includes: Vec<(String, bool)>,
}

impl State {
    /// The variable's value: `Some(None)` when it holds what cannot be known here (the last
    /// that set it, by name or as `PREFIX*`, decides).
    fn var(&self, name: &str) -> Option<&Option<String>> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name || n.strip_suffix('*').is_some_and(|p| name.starts_with(p)))
            .map(|(_, v)| v)
    }

    /// A script that sets variables from what the server returns (`\gset`), anywhere in it:
    /// a variable it has not set by then may hold anything.
    pub(crate) fn server_sets_variables(&mut self) {
        self.vars.push(("*".to_owned(), None));
    }

    fn set(&mut self, name: &str, value: Option<String>) {
        self.vars.push((name.to_owned(), value));
    }
}

/// Whether a script holds any of the commands read here (a quick scan of its bytes: a
/// backquote, or a backslash before one of their names, `copy` in any case).
pub(crate) fn may_act_on_host(text: &str) -> bool {
    const NAMES: &[&[u8]] = &[b"!", b"o", b"g", b"w", b"s", b"lo_export", b"cd", b"i"];
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'`'
            || (c == b'\\'
                && b.get(i + 1..).is_some_and(|rest| {
                    NAMES.iter().any(|n| rest.starts_with(n))
                        || rest
                            .get(..4)
                            .is_some_and(|w| w.eq_ignore_ascii_case(b"copy"))
                }))
    })
}

/// psql `-v NAME=VALUE` (`--set`, `--variable`).
pub(crate) fn variable(assignment: &str, out: &mut Classified) {
    if let Some((name, value)) = assignment.split_once('=') {
        out.psql.set(name, Some(value.to_owned()));
    }
}

/// psql's `-o` value: `|CMD`, or a file, the word as given (no psql quoting on the command
/// line).
pub(crate) fn output(value: &str, out: &mut Classified) {
    match value.strip_prefix('|') {
        Some(command) => push(out, command.trim().to_owned()),
        None => {
            let w = Word {
                text: value.to_owned(),
                ..Word::default()
            };
            replaced(&w, out);
        }
    }
}

/// One meta-command `cmd` whose line goes on with `rest`. Returns where in `rest` the next
/// meta-command on the line begins (psql runs them all, in a script), if it does.
pub(crate) fn command(cmd: &str, rest: &str, out: &mut Classified) -> Option<usize> {
    match cmd {
        // The rest of the line, as it is, to the shell.
        "!" => {
            if !rest.trim().is_empty() {
                push(out, rest.trim().to_owned());
            }
            None
        }
        c if c.eq_ignore_ascii_case("copy") => {
            copy(rest, out);
            None
        }
        "o" | "out" | "g" | "gx" | "w" | "write" | "s" => {
            let mut at = skip_space(rest, 0);
            if cmd.starts_with('g') && rest[at..].starts_with('(') {
                at = skip_space(rest, options_end(rest, at));
            }
            if let Some(command) = rest[at..].strip_prefix('|') {
                push(out, command.trim().to_owned());
                return None;
            }
            let (word, end) = lex(rest, at, out, true);
            if let Some(w) = word {
                match w.text.strip_prefix('|').filter(|_| w.quoted && !w.unknown) {
                    Some(command) => push(out, command.to_owned()),
                    None => replaced(&w, out),
                }
            }
            end
        }
        "lo_export" => {
            // The second word: the file.
            let first = skip_space(rest, 0);
            if rest[first..].starts_with('\\') {
                return Some(first);
            }
            let (w, end) = lex(rest, skip_space(rest, end_of_word(rest, first)), out, true);
            if let Some(w) = w {
                replaced(&w, out);
            }
            end
        }
        "i" | "include" | "ir" | "include_relative" => {
            let (word, end) = lex(rest, skip_space(rest, 0), out, true);
            if let Some(w) = word.filter(|w| !w.unknown && !w.text.is_empty()) {
                let relative = cmd.starts_with("ir") || cmd == "include_relative";
                out.psql.includes.push((w.text, relative));
            }
            end
        }
        "cd" => {
            let (word, end) = lex(rest, skip_space(rest, 0), out, true);
            out.psql.cds.push(match word {
                Some(w) if w.unknown => "\"$(: a psql variable)\"".to_owned(),
                Some(w) => shell_path(&w.text),
                None => "~".to_owned(),
            });
            end
        }
        "set" => {
            let at = skip_space(rest, 0);
            let (name, mut end) = lex(rest, at, out, false);
            let Some(name) = name else { return end };
            // The value: every further word, concatenated, up to the next meta-command.
            let mut value = String::new();
            let mut known = true;
            let mut at = skip_space(rest, end_of_word(rest, at));
            while at < rest.len() && !rest[at..].starts_with('\\') {
                let (w, e) = lex(rest, at, out, false);
                let Some(w) = w else { break };
                known &= !w.unknown;
                value.push_str(&w.text);
                end = e;
                at = skip_space(rest, end_of_word(rest, at));
            }
            out.psql.set(&name.text, known.then_some(value));
            end
        }
        // Set from what the server returns: unknown here.
        "gset" => {
            let (prefix, end) = lex(rest, skip_space(rest, 0), out, true);
            let prefix = prefix.map(|w| w.text).unwrap_or_default();
            // Every variable with the prefix may now hold anything.
            out.psql.vars.push((format!("{prefix}*"), None));
            end
        }
        // Any other command's arguments: their backquoted commands run.
        _ => {
            let mut at = skip_space(rest, 0);
            loop {
                if at >= rest.len() {
                    return None;
                }
                if rest[at..].starts_with('\\') {
                    return Some(at);
                }
                let (w, _) = lex(rest, at, out, true);
                if w.is_none() {
                    return next_meta(rest, at);
                }
                at = skip_space(rest, end_of_word(rest, at));
            }
        }
    }
}

/// `\copy`'s file written or program run: the whole rest of the line, words as psql's
/// `\copy` splits them (`;` ends a word too).
fn copy(rest: &str, out: &mut Classified) {
    let words = copy_words(rest);
    let mut i = 0;
    while i < words.len() {
        let w = words[i].to_ascii_lowercase();
        if w == "program"
            && let Some(cmd) = words.get(i + 1)
        {
            push(out, cmd.clone());
            i += 2;
            continue;
        }
        if w == "to"
            && let Some(file) = words.get(i + 1)
            && !matches!(
                file.to_ascii_lowercase().as_str(),
                "program" | "stdout" | "pstdout"
            )
        {
            let w = Word {
                text: file.clone(),
                ..Word::default()
            };
            replaced(&w, out);
        }
        i += 1;
    }
}

/// `\copy`'s words: at white space and `;` outside quotes and parentheses, `'…'` read as its
/// text (`''` a quote).
fn copy_words(arg: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    let mut chars = arg.chars().peekable();
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' if depth == 0 => {
                started = true;
                while let Some(q) = chars.next() {
                    if q == c {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            word.push(c);
                            continue;
                        }
                        break;
                    }
                    word.push(q);
                }
            }
            '(' => {
                depth += 1;
                word.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                word.push(c);
            }
            c if (c.is_whitespace() || c == ';') && depth == 0 => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            c => word.push(c),
        }
    }
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

/// One argument as psql reads it.
#[derive(Debug, Default)]
struct Word {
    text: String,
    /// Some of it was quoted.
    quoted: bool,
    /// Some of it cannot be known here: a backquoted command's output, a variable not set
    /// by this text.
    unknown: bool,
}

fn skip_space(s: &str, mut at: usize) -> usize {
    while let Some(c) = s[at..].chars().next() {
        if !c.is_whitespace() {
            break;
        }
        at += c.len_utf8();
    }
    at
}

/// Where the word starting at `at` ends (quotes followed), without reading it.
fn end_of_word(s: &str, at: usize) -> usize {
    let b = s.as_bytes();
    let mut i = at;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            q @ (b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'\\' => return i,
            c if c.is_ascii_whitespace() => return i,
            _ => i += 1,
        }
    }
    i.min(b.len())
}

/// The next unquoted backslash from `at`, if any.
fn next_meta(s: &str, at: usize) -> Option<usize> {
    let mut i = at;
    while i < s.len() {
        i = skip_space(s, i);
        if s[i..].starts_with('\\') {
            return Some(i);
        }
        let e = end_of_word(s, i);
        if e == i {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        } else {
            i = e;
        }
    }
    None
}

/// `\g`'s `(name=value …)`: the end of its last word, the first that ends with `)` outside
/// quotes.
fn options_end(s: &str, at: usize) -> usize {
    let mut i = at;
    while i < s.len() {
        let e = end_of_word(s, i);
        if e == i {
            return i;
        }
        if s[i..e].ends_with(')') {
            return e;
        }
        i = skip_space(s, e);
    }
    s.len()
}

/// Reads the word at `at`: its text, whether quoted or unknown; where the next meta-command on
/// the line begins. `file`: a file-name argument (trailing `;` dropped). Backquoted commands
/// go to `out` as lines of their own.
fn lex(s: &str, at: usize, out: &mut Classified, file: bool) -> (Option<Word>, Option<usize>) {
    let end = end_of_word(s, at);
    let next = next_meta(s, end);
    if end == at {
        return (None, next);
    }
    let raw = &s[at..end];
    let mut w = Word::default();
    let mut chars = raw.chars().peekable();
    let mut trailing_plain = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                w.quoted = true;
                trailing_plain = 0;
                while let Some(q) = chars.next() {
                    match q {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            w.text.push('\'');
                        }
                        '\'' => break,
                        '\\' => w.text.push_str(&escape(&mut chars)),
                        q => w.text.push(q),
                    }
                }
            }
            '"' => {
                trailing_plain = 0;
                w.text.push('"');
                for q in chars.by_ref() {
                    w.text.push(q);
                    if q == '"' {
                        break;
                    }
                }
            }
            '`' => {
                trailing_plain = 0;
                let cmd: String = chars.by_ref().take_while(|&q| q != '`').collect();
                push(out, cmd);
                w.unknown = true;
            }
            ':' if chars
                .peek()
                .is_some_and(|&n| n == '\'' || n == '"' || n.is_alphanumeric() || n == '_') =>
            {
                trailing_plain = 0;
                let quote = chars.next_if(|&n| n == '\'' || n == '"');
                let mut name = String::new();
                while let Some(n) = chars.next_if(|&n| n.is_alphanumeric() || n == '_') {
                    name.push(n);
                }
                if quote.is_some() {
                    chars.next_if(|&n| Some(n) == quote);
                }
                match out.psql.var(&name) {
                    Some(Some(v)) => w.text.push_str(v),
                    // Not set: psql leaves `:name` as written.
                    None => {
                        w.text.push(':');
                        w.text.push_str(&name);
                    }
                    Some(None) => w.unknown = true,
                }
            }
            c => {
                trailing_plain = if c == ';' { trailing_plain + 1 } else { 0 };
                w.text.push(c);
            }
        }
    }
    if file && trailing_plain > 0 {
        w.text.truncate(w.text.len() - trailing_plain);
    }
    (Some(w), next)
}

/// A backslash escape inside single quotes, after the backslash: `\n`, `\t`, `\b`, `\r`, `\f`,
/// octal (up to three digits), `\x` and up to two hex digits; any other character stands
/// for itself.
fn escape(chars: &mut std::iter::Peekable<std::str::Chars>) -> String {
    let Some(c) = chars.next() else {
        return String::new();
    };
    let byte = |v: u32| char::from_u32(v).map(String::from).unwrap_or_default();
    match c {
        'n' => "\n".into(),
        't' => "\t".into(),
        'b' => "\u{8}".into(),
        'r' => "\r".into(),
        'f' => "\u{c}".into(),
        'x' => {
            let mut v = 0;
            let mut n = 0;
            while n < 2
                && let Some(d) = chars.next_if(char::is_ascii_hexdigit)
            {
                v = v * 16 + d.to_digit(16).unwrap_or(0);
                n += 1;
            }
            if n == 0 { "x".into() } else { byte(v) }
        }
        '0'..='7' => {
            let mut v = c.to_digit(8).unwrap_or(0);
            let mut n = 1;
            while n < 3
                && let Some(d) = chars.next_if(|d| ('0'..='7').contains(d))
            {
                v = v * 8 + d.to_digit(8).unwrap_or(0);
                n += 1;
            }
            byte(v)
        }
        c => c.to_string(),
    }
}

/// A file psql writes anew: the line `: > FILE`, in the directory `\cd` left it in.
fn replaced(w: &Word, out: &mut Classified) {
    if w.text.is_empty() && !w.unknown {
        return;
    }
    let target = if w.unknown {
        "\"$(: a name psql computes)\"".to_owned()
    } else {
        shell_path(&w.text)
    };
    push(out, format!(": > {target}"));
}

/// A path as a shell word: quoted, with psql's `~` and `~user` left for the shell to expand.
fn shell_path(p: &str) -> String {
    if let Some(after) = p.strip_prefix('~') {
        let (user, rest) = after.split_at(after.find('/').unwrap_or(after.len()));
        if user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return match rest.strip_prefix('/') {
                Some(r) => format!("~{user}/{}", sh_quote(r)),
                None => format!("~{user}"),
            };
        }
    }
    sh_quote(p)
}

/// A line psql runs, in the directory `\cd` left it in.
fn push(out: &mut Classified, line: String) {
    if line.trim().is_empty() {
        return;
    }
    let line = if out.psql.cds.is_empty() {
        line
    } else {
        let cds: Vec<String> = out.psql.cds.iter().map(|d| format!("cd {d}")).collect();
        format!("{} && {line}", cds.join(" && "))
    };
    out.client.push(line);
}
