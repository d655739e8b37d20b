//! Shell lines to intents: `sudo rm -rf a b; cd /x && find . -delete | tee log`.
//!
//! Tracks what the shell itself would track while the line runs (the current directory through
//! `cd`, variables set by assignments and `export`), expands words as the shell would (variables,
//! `~`, globs against the filesystem), and sees through wrappers (`sudo`, `env`, `nice`, `xargs`,
//! `find -exec`, `sh -c`, …). It runs nothing; the only I/O is reading directories for globs and
//! the user database for `~user`.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::lex::{self, LexError, Op, Part, Token, Word};
use super::{Arg, FileEffect, FileOp, FilesIntent, FindIntent, Intent, RmIntent, Via, rm};

/// What the shell knows while a line runs.
#[derive(Debug, Clone, Default)]
pub struct Shell {
    pub cwd: Option<PathBuf>,
    pub vars: HashMap<OsString, OsString>,
    /// Variables whose value only the running line knows (`read x`, `x=$(cmd)`, a loop over
    /// computed words).
    pub unknown: HashSet<OsString>,
    /// Functions defined earlier in the line: their bodies, run where they are called.
    functions: HashMap<Vec<u8>, Vec<Token>>,
    /// `pushd`'s stack.
    dirs: Vec<Option<PathBuf>>,
    /// What the command being classified reads on its standard input, when the line gives it
    /// (a here-document or here-string).
    stdin: Option<Vec<u8>>,
    /// The command's standard input comes from a pipe.
    piped: bool,
    /// How deep functions, sourced files and nested lines go.
    depth: usize,
    /// A variable this shell does not know is taken as known only when the line runs, not as
    /// empty: for the host commands, where an empty word is the harmless case
    /// (`systemctl stop $SVC` from a shell that set SVC without exporting it).
    unset_unknown: bool,
}

impl Shell {
    /// The state of the calling process: its directory and environment.
    pub fn from_process() -> Self {
        Shell {
            cwd: std::env::current_dir().ok(),
            vars: std::env::vars_os().collect(),
            ..Shell::default()
        }
    }

    /// A shell in `cwd` with `vars`.
    pub fn with(cwd: Option<PathBuf>, vars: HashMap<OsString, OsString>) -> Self {
        Shell {
            cwd,
            vars,
            ..Shell::default()
        }
    }

    fn var(&self, name: &str) -> Option<&OsString> {
        self.vars.get(OsStr::new(name))
    }

    fn set(&mut self, name: OsString, value: Option<OsString>) {
        match value {
            Some(v) => {
                self.unknown.remove(&name);
                self.vars.insert(name, v);
            }
            None => {
                self.vars.remove(&name);
                self.unknown.insert(name);
            }
        }
    }
}

/// How deep functions, loops, sourced files and nested lines may go before the rest is left
/// to the shims at run time.
const MAX_DEPTH: usize = 12;
/// How many values of a `for` loop are followed one by one.
const MAX_LOOP_VALUES: usize = 64;

/// Parses a whole line into the intents of every command it would run.
pub fn parse_line(line: &[u8], shell: &mut Shell) -> Result<Vec<Intent>, LexError> {
    let tokens = lex::lex(line)?;
    let mut out = Vec::new();
    run_tokens(&tokens, shell, &mut out);
    // A write to /proc/sysrq-trigger can reboot (`b`), power off (`o`) or crash (`c`) the
    // host at once, with no shutdown: judged as a reboot.
    let sysrq = out.iter().find_map(|i| match i {
        Intent::Files(f)
            if f.effects.iter().any(|e| {
                matches!(e.op, FileOp::Overwrite | FileOp::Append)
                    && e.target.known().is_some_and(|t| t == "/proc/sysrq-trigger")
            }) =>
        {
            Some(f.text.clone())
        }
        _ => None,
    });
    if let Some(text) = sysrq {
        out.push(Intent::Host(super::host::HostIntent {
            power: Some(super::host::PowerOp::Reboot),
            services: Vec::new(),
            remote: false,
            text,
        }));
    }
    Ok(out)
}

fn word_is(t: Option<&Token>, text: &[u8]) -> bool {
    matches!(t, Some(Token::Word(w)) if w.literal().as_deref() == Some(text))
}

fn is_name(b: &[u8]) -> bool {
    !b.is_empty()
        && (b[0] == b'_' || b[0].is_ascii_alphabetic())
        && b.iter().all(|&c| c == b'_' || c.is_ascii_alphanumeric())
}

/// Whether the token after `prev` starts a command (where `do`, `done`, `{`, `}` are words of
/// the grammar rather than arguments).
fn at_command_start(prev: Option<&Token>) -> bool {
    match prev {
        None | Some(Token::Op(_)) => true,
        Some(Token::Word(w)) => matches!(
            w.literal().as_deref(),
            Some(b"do" | b"then" | b"else" | b"elif" | b"{" | b"!" | b"if" | b"while" | b"until")
        ),
        Some(Token::Redirect { .. }) => false,
    }
}

/// The index of the word closing the construct opened just before `from` (`done` for `do`,
/// `}` for `{`), counting nested openings at command starts; the end when it does not close.
fn closing(tokens: &[Token], from: usize, open: &[u8], close: &[u8]) -> usize {
    let mut depth = 1;
    for i in from..tokens.len() {
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        if !at_command_start(prev) {
            continue;
        }
        if word_is(tokens.get(i), open) {
            depth += 1;
        } else if word_is(tokens.get(i), close) {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    tokens.len()
}

/// `for NAME [in WORDS…]; do BODY; done` at `at`: runs the body once per value and returns
/// the index after `done`; None when it is not a well-formed for loop.
fn for_loop(
    tokens: &[Token],
    at: usize,
    shell: &mut Shell,
    out: &mut Vec<Intent>,
) -> Option<usize> {
    let Some(Token::Word(name)) = tokens.get(at + 1) else {
        return None;
    };
    let name = name.literal().filter(|n| is_name(n))?;
    let mut i = at + 2;
    let mut values: Option<Vec<Arg>> = None;
    if word_is(tokens.get(i), b"in") {
        i += 1;
        let mut vals = Vec::new();
        let mut subs = Vec::new();
        while let Some(Token::Word(w)) = tokens.get(i) {
            if w.literal().as_deref() == Some(b"do") {
                break;
            }
            vals.extend(expand_word(shell, w, &mut subs));
            i += 1;
        }
        for sub in subs {
            out.extend(parse_line(&sub, &mut shell.clone()).unwrap_or_default());
        }
        values = Some(vals);
    }
    while matches!(tokens.get(i), Some(Token::Op(Op::Semi | Op::Newline))) {
        i += 1;
    }
    if !word_is(tokens.get(i), b"do") {
        return None;
    }
    let end = closing(tokens, i + 1, b"do", b"done");
    let body = &tokens[i + 1..end];
    let name = OsString::from_vec(name);
    let values = values.unwrap_or_else(|| vec![Arg::Unknown("the positional parameters".into())]);
    if values.len() > MAX_LOOP_VALUES || shell.depth >= MAX_DEPTH {
        shell.set(name.clone(), None);
        run_nested(body, shell, out);
    } else {
        for v in values {
            shell.set(name.clone(), v.known().cloned());
            run_nested(body, shell, out);
        }
    }
    Some(end + 1)
}

fn run_nested(tokens: &[Token], shell: &mut Shell, out: &mut Vec<Intent>) {
    shell.depth += 1;
    run_tokens(tokens, shell, out);
    shell.depth -= 1;
}

/// `NAME () BODY` or `function NAME [()] BODY` at `at`: records the body and returns the index
/// after it.
fn function_definition(tokens: &[Token], at: usize, shell: &mut Shell) -> Option<usize> {
    let (name, mut i) = if word_is(tokens.get(at), b"function") {
        let Some(Token::Word(n)) = tokens.get(at + 1) else {
            return None;
        };
        let mut i = at + 2;
        if matches!(tokens.get(i), Some(Token::Op(Op::Open)))
            && matches!(tokens.get(i + 1), Some(Token::Op(Op::Close)))
        {
            i += 2;
        }
        (n.literal()?, i)
    } else {
        let Some(Token::Word(n)) = tokens.get(at) else {
            return None;
        };
        if !(matches!(tokens.get(at + 1), Some(Token::Op(Op::Open)))
            && matches!(tokens.get(at + 2), Some(Token::Op(Op::Close))))
        {
            return None;
        }
        (n.literal()?, at + 3)
    };
    while matches!(tokens.get(i), Some(Token::Op(Op::Newline))) {
        i += 1;
    }
    let (body, next) = if word_is(tokens.get(i), b"{") {
        let end = closing(tokens, i + 1, b"{", b"}");
        (tokens[i + 1..end].to_vec(), end + 1)
    } else if matches!(tokens.get(i), Some(Token::Op(Op::Open))) {
        let mut depth = 0;
        let mut end = tokens.len();
        for (k, t) in tokens.iter().enumerate().skip(i) {
            match t {
                Token::Op(Op::Open) => depth += 1,
                Token::Op(Op::Close) => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        (tokens[i + 1..end].to_vec(), end + 1)
    } else {
        return None;
    };
    shell.functions.insert(name, body);
    Some(next)
}

/// Runs the tokens of a line (or of a body) as the shell would: command by command, with
/// compound commands and functions followed.
fn run_tokens(tokens: &[Token], shell: &mut Shell, out: &mut Vec<Intent>) {
    let mut words: Vec<&Word> = Vec::new();
    let mut saved: Vec<(Option<PathBuf>, HashMap<OsString, OsString>)> = Vec::new();
    let mut producer: Option<Vec<Arg>> = None;
    let mut piped = false;
    let mut redirect_subs = Vec::new();
    let mut stdin: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        if words.is_empty() && at_command_start(prev) {
            if word_is(Some(t), b"for")
                && let Some(next) = for_loop(tokens, i, shell, out)
            {
                i = next;
                continue;
            }
            if let Some(next) = function_definition(tokens, i, shell) {
                i = next;
                continue;
            }
        }
        i += 1;
        match t {
            Token::Word(w) => words.push(w),
            Token::Redirect { op, target, body } => {
                // The target is expanded by the shell: a command substitution there runs too.
                let mut subs = Vec::new();
                let expanded = expand_word(shell, target, &mut subs);
                redirect_subs.extend(subs);
                match op.as_str() {
                    "<<" | "<<-" => stdin = body.clone(),
                    "<<<" => {
                        stdin = match expanded.as_slice() {
                            [Arg::Known(s)] => Some([s.as_bytes(), b"\n"].concat()),
                            _ => None,
                        }
                    }
                    _ => {}
                }
                if let Some(intent) = redirection(shell, op, &expanded) {
                    out.push(intent);
                }
            }
            Token::Op(op) => {
                shell.stdin = stdin.take();
                shell.piped = piped;
                let roots = run_command(shell, &words, producer.as_deref(), out);
                shell.stdin = None;
                shell.piped = false;
                words.clear();
                piped = *op == Op::Pipe;
                producer = if piped { roots } else { None };
                match op {
                    Op::Open => saved.push((shell.cwd.clone(), shell.vars.clone())),
                    Op::Close => {
                        if let Some((cwd, vars)) = saved.pop() {
                            shell.cwd = cwd;
                            shell.vars = vars;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    shell.stdin = stdin.take();
    shell.piped = piped;
    run_command(shell, &words, producer.as_deref(), out);
    shell.stdin = None;
    shell.piped = false;
    for sub in redirect_subs {
        nested_line(&sub, &mut shell.clone(), out, "a command substitution");
    }
}

/// A line inside the line (a command substitution, `bash -c`, a sourced file): its intents, or
/// an opaque intent when it cannot be read.
fn nested_line(text: &[u8], shell: &mut Shell, out: &mut Vec<Intent>, what: &str) {
    if shell.depth >= MAX_DEPTH {
        out.push(Intent::Opaque {
            text: super::display_bytes(text),
            why: format!("{what} nested too deep to follow"),
        });
        return;
    }
    shell.depth += 1;
    match parse_line(text, shell) {
        Ok(intents) => out.extend(intents),
        Err(e) => out.push(Intent::Opaque {
            text: super::display_bytes(text),
            why: format!("{what} that cannot be parsed: {e}"),
        }),
    }
    shell.depth -= 1;
}

/// The file effect of a redirection: `>`, `>|`, `<>`, `&>` and `>&FILE` replace their target
/// (`>>`, `&>>` append, `<`… read; `2>&1`, `>&-` duplicate or close a descriptor).
fn redirection(shell: &Shell, op: &str, target: &[Arg]) -> Option<Intent> {
    let file_op = match op {
        ">" | ">|" | "<>" | "&>" => FileOp::Overwrite,
        ">&" if !target.first().is_some_and(|t| {
            let b = bytes_of(t);
            b == b"-" || (!b.is_empty() && b.iter().all(u8::is_ascii_digit))
        }) =>
        {
            FileOp::Overwrite
        }
        ">>" | "&>>" => FileOp::Append,
        _ => return None,
    };
    let target = match target {
        [one] => one.clone(),
        _ => Arg::Unknown(
            "a redirection target that is not one word (bash: ambiguous redirect)".into(),
        ),
    };
    let text = format!("{op} {}", target.display());
    Some(Intent::Files(FilesIntent {
        program: op.to_owned(),
        effects: vec![FileEffect {
            follow: true,
            ..FileEffect::new(file_op, target)
        }],
        cwd: shell.cwd.clone(),
        text,
    }))
}

/// Whether a command given as words (`rm -f {}`, `truncate -s0 {}`) changes files: what a
/// find dry run may stand in for.
pub fn changes_files(words: &[OsString]) -> bool {
    parse_argv(words, &mut Shell::default())
        .iter()
        .any(|i| matches!(i, Intent::Rm(_) | Intent::Files(_)))
}

/// Intents of a command given as an argument vector (`gardefou check -- CMD…`): no shell
/// expansion happens, the words are what the program receives.
pub fn parse_argv(args: &[OsString], shell: &mut Shell) -> Vec<Intent> {
    let args: Vec<Arg> = args.iter().cloned().map(Arg::Known).collect();
    let mut out = Vec::new();
    if !args.is_empty() {
        classify(shell, &args, None, &mut out);
    }
    out
}

/// Expands and classifies one simple command; returns `find`'s roots when it is a find, for an
/// `xargs` it pipes into.
fn run_command(
    shell: &mut Shell,
    words: &[&Word],
    stdin_roots: Option<&[Arg]>,
    out: &mut Vec<Intent>,
) -> Option<Vec<Arg>> {
    if words.is_empty() {
        return None;
    }
    let mut subs = Vec::new();
    // `NAME=VALUE` words before the command (or alone, or after export/local/declare): the
    // value is expanded without splitting, and one known only at run time makes NAME unknown.
    let declares = words.first().and_then(|w| w.literal()).is_some_and(|l| {
        matches!(
            l.as_slice(),
            b"export" | b"local" | b"declare" | b"typeset" | b"readonly"
        )
    });
    let mut assigned = Vec::new();
    let mut k = usize::from(declares);
    while let Some(w) = words.get(k) {
        match assignment_word(w) {
            Some((name, value)) => {
                let v = expand_unsplit(shell, &value, &mut subs);
                assigned.push((name, v));
            }
            // `export -n X`, `declare -a list`: options and plain names.
            None if declares => {}
            None => break,
        }
        k += 1;
    }
    for sub in std::mem::take(&mut subs) {
        nested_line(&sub, &mut shell.clone(), out, "a command substitution");
    }
    let rest = &words[k..];
    if declares || rest.is_empty() {
        for (name, v) in assigned {
            shell.set(name, v);
        }
        return None;
    }
    // Assignments before a command are that command's environment only.
    let mut inner;
    let shell = if assigned.is_empty() {
        shell
    } else {
        inner = shell.clone();
        for (name, v) in assigned {
            inner.set(name, v);
        }
        &mut inner
    };
    let mut args = Vec::new();
    let host_command = rest.iter().any(|w| {
        w.literal().is_some_and(|l| {
            let name = l.rsplit(|&b| b == b'/').next().unwrap_or(&l);
            std::str::from_utf8(name).is_ok_and(super::host::is_host_command)
        })
    });
    let strict;
    let expanding: &Shell = if host_command && !shell.unset_unknown {
        let mut s = shell.clone();
        s.unset_unknown = true;
        strict = s;
        &strict
    } else {
        shell
    };
    for w in rest {
        args.extend(expand_word(expanding, w, &mut subs));
    }
    for sub in subs {
        nested_line(&sub, &mut shell.clone(), out, "a command substitution");
    }
    classify(shell, &args, stdin_roots, out)
}

/// `NAME=VALUE` as the shell recognises it: an unquoted name and `=` at the start of the word.
fn assignment_word(w: &Word) -> Option<(OsString, Word)> {
    let Some(Part::Lit {
        bytes,
        quoted: false,
    }) = w.parts.first()
    else {
        return None;
    };
    let eq = bytes.iter().position(|&c| c == b'=')?;
    let name = bytes[..eq].strip_suffix(b"+").unwrap_or(&bytes[..eq]);
    if !is_name(name) {
        return None;
    }
    let mut value = Word {
        parts: vec![Part::Lit {
            bytes: bytes[eq + 1..].to_vec(),
            quoted: true,
        }],
    };
    value.parts.extend(w.parts[1..].iter().cloned());
    Some((OsStr::from_bytes(name).to_owned(), value))
}

/// A word expanded as the value of an assignment: no field splitting, no globbing.
fn expand_unsplit(shell: &Shell, w: &Word, subs: &mut Vec<Vec<u8>>) -> Option<OsString> {
    let quoted = Word {
        parts: w
            .parts
            .iter()
            .map(|p| match p {
                Part::Lit { bytes, .. } => Part::Lit {
                    bytes: bytes.clone(),
                    quoted: true,
                },
                Part::Var { name, .. } => Part::Var {
                    name: name.clone(),
                    quoted: true,
                },
                Part::VarDefault {
                    name,
                    default,
                    colon,
                    ..
                } => Part::VarDefault {
                    name: name.clone(),
                    default: default.clone(),
                    colon: *colon,
                    quoted: true,
                },
                Part::VarOp { name, op, arg, .. } => Part::VarOp {
                    name: name.clone(),
                    op: op.clone(),
                    arg: arg.clone(),
                    quoted: true,
                },
                other => other.clone(),
            })
            .collect(),
    };
    let fields = expand_word(shell, &quoted, subs);
    match fields.as_slice() {
        [] => Some(OsString::new()),
        [Arg::Known(v)] => Some(v.clone()),
        _ => None,
    }
}

const RESERVED: &[&str] = &[
    "if", "then", "elif", "else", "fi", "do", "done", "while", "until", "!", "{", "}", "esac",
];

fn is_assignment(a: &Arg) -> Option<(OsString, OsString)> {
    let b = a.known()?.as_bytes();
    let eq = b.iter().position(|&c| c == b'=')?;
    let name = &b[..eq];
    let ok = !name.is_empty()
        && (name[0] == b'_' || name[0].is_ascii_alphabetic())
        && name.iter().all(|&c| c == b'_' || c.is_ascii_alphanumeric());
    ok.then(|| {
        (
            OsStr::from_bytes(name).to_owned(),
            OsStr::from_bytes(&b[eq + 1..]).to_owned(),
        )
    })
}

fn text_of(args: &[Arg]) -> String {
    args.iter().map(Arg::display).collect::<Vec<_>>().join(" ")
}

fn bytes_of(a: &Arg) -> &[u8] {
    a.known().map_or(b"", |s| s.as_bytes())
}

/// Index of the first argument after a wrapper's own options. `short_val` are single-letter
/// options that take a value, `long_val` long ones.
fn skip_options(args: &[Arg], from: usize, short_val: &[u8], long_val: &[&str]) -> usize {
    let mut i = from;
    while let Some(a) = args.get(i) {
        let b = bytes_of(a);
        if b == b"--" {
            return i + 1;
        }
        if let Some(long) = b.strip_prefix(b"--") {
            let takes = !long.contains(&b'=') && long_val.iter().any(|l| l.as_bytes() == long);
            i += if takes { 2 } else { 1 };
            continue;
        }
        if b.len() < 2 || b[0] != b'-' {
            return i;
        }
        i += 1;
        if let Some(p) = b[1..].iter().position(|c| short_val.contains(c))
            && p + 2 == b.len()
        {
            i += 1;
        }
    }
    i
}

fn has_short(args: &[Arg], from: usize, to: usize, flag: u8) -> bool {
    args[from..to.min(args.len())].iter().any(|a| {
        let b = bytes_of(a);
        b.len() > 1 && b[0] == b'-' && b[1] != b'-' && b[1..].contains(&flag)
    })
}

fn classify(
    shell: &mut Shell,
    args: &[Arg],
    stdin_roots: Option<&[Arg]>,
    out: &mut Vec<Intent>,
) -> Option<Vec<Arg>> {
    let mut start = 0;
    while args
        .get(start)
        .and_then(Arg::known)
        .is_some_and(|a| RESERVED.iter().any(|r| OsStr::new(r) == a.as_os_str()))
    {
        start += 1;
    }
    let assignments = args[start..]
        .iter()
        .take_while(|a| is_assignment(a).is_some())
        .count();
    let args = &args[start..];
    if assignments == args.len() {
        for a in args {
            if let Some((k, v)) = is_assignment(a) {
                shell.vars.insert(k, v);
            }
        }
        return None;
    }
    let args = &args[assignments..];
    let program = match &args[0] {
        Arg::Known(p) => p,
        Arg::Unknown(why) => {
            out.push(Intent::Opaque {
                text: text_of(args),
                why: format!("the command name comes from a {why}"),
            });
            return None;
        }
    };
    let name_bytes = program
        .as_bytes()
        .rsplit(|&c| c == b'/')
        .next()
        .unwrap_or(b"");
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let rest = |i: usize| args.get(i..).unwrap_or(&[]);
    if !program.as_bytes().contains(&b'/')
        && let Some(body) = shell.functions.get(program.as_bytes()).cloned()
    {
        // A function runs in this shell with its own positional parameters.
        if shell.depth >= MAX_DEPTH {
            out.push(Intent::Opaque {
                text: text_of(args),
                why: "a function called too deep to follow".into(),
            });
            return None;
        }
        let saved: Vec<(OsString, Option<OsString>, bool)> = (1..10)
            .map(|k| k.to_string())
            .chain(["@".to_owned(), "*".to_owned()])
            .map(|k| {
                let k = OsString::from(k);
                let v = shell.vars.get(&k).cloned();
                let u = shell.unknown.contains(&k);
                (k, v, u)
            })
            .collect();
        let params: Vec<&Arg> = std::iter::once(&args[0]).chain(rest(1)).collect();
        set_positionals(shell, &params);
        run_nested(&body, shell, out);
        for (k, v, u) in saved {
            shell.unknown.remove(&k);
            match v {
                Some(v) => {
                    shell.vars.insert(k, v);
                }
                None => {
                    shell.vars.remove(&k);
                    if u {
                        shell.unknown.insert(k);
                    }
                }
            }
        }
        return None;
    }
    // A SysV init script: `service NAME ACTION` by another name.
    if program.as_bytes().starts_with(b"/etc/init.d/") && !name.is_empty() {
        let mut words = vec![
            Arg::Known("service".into()),
            Arg::Known(name.clone().into()),
        ];
        words.extend_from_slice(rest(1));
        if let Some(h) = super::host::parse("service", &words, text_of(args)) {
            out.push(Intent::Host(h));
            return None;
        }
    }
    match name.as_str() {
        "rm" => out.push(Intent::Rm(rm_intent(shell, args, Via::Rm))),
        // Wrappers that run their command on this host (as a transient unit, in the host's
        // namespaces, as another user): the command is judged.
        "systemd-run" | "nsenter" | "runuser" => {
            let i = match name.as_str() {
                "systemd-run" => skip_options(
                    args,
                    1,
                    b"pEuHM",
                    &[
                        "property",
                        "unit",
                        "description",
                        "slice",
                        "setenv",
                        "uid",
                        "gid",
                        "nice",
                        "working-directory",
                        "on-active",
                        "on-boot",
                        "on-startup",
                        "on-unit-active",
                        "on-unit-inactive",
                        "on-calendar",
                        "on-clock-change",
                        "on-timezone-change",
                        "timer-property",
                        "path-property",
                        "socket-property",
                        "service-type",
                        "host",
                        "machine",
                        "expand-environment",
                    ],
                ),
                "nsenter" => skip_options(
                    args,
                    1,
                    b"tSGw",
                    &["target", "setuid", "setgid", "wd", "wdns", "env"],
                ),
                _ => skip_options(
                    args,
                    1,
                    b"ugGcsw",
                    &[
                        "user",
                        "group",
                        "supp-group",
                        "command",
                        "shell",
                        "whitelist-environment",
                    ],
                ),
            };
            if name == "runuser"
                && let Some(c) = option_value(&args[1..], b"-c", b"--command")
            {
                nested_line(c.as_bytes(), &mut shell.clone(), out, "runuser's command");
                return None;
            }
            // runuser -l USER: the user is its first operand.
            let from = if name == "runuser"
                && args[1..i.min(args.len())]
                    .iter()
                    .any(|a| matches!(bytes_of(a), b"-l" | b"--login" | b"-"))
            {
                i + 1
            } else {
                i
            };
            if from < args.len() {
                return classify(shell, rest(from), stdin_roots, out);
            }
            out.push(Intent::Other { program: name });
        }
        // `at`/`batch` run what they read later: from a here-document, judged now; from a pipe
        // or a file, unknown.
        "at" | "batch" => {
            let lists = args[1..].iter().any(|a| {
                matches!(
                    bytes_of(a),
                    b"-l" | b"-d" | b"-r" | b"-c" | b"-V" | b"--help"
                )
            });
            if lists {
                out.push(Intent::Other { program: name });
            } else if let Some(text) = shell.stdin.clone() {
                nested_line(&text, &mut shell.clone(), out, "at's commands");
            } else {
                out.push(Intent::Opaque {
                    text: text_of(args),
                    why: "at runs the commands it reads later".into(),
                });
            }
        }
        "psql" | "dropdb" | "pg_dropcluster" | "mysql" | "mariadb" | "mysqladmin"
        | "mariadb-admin" => {
            let known: Option<Vec<OsString>> = rest(1).iter().map(|a| a.known().cloned()).collect();
            match known {
                Some(known) => {
                    let mut intent = match name.as_str() {
                        "psql" => super::sql::parse_psql(&known),
                        "mysql" | "mariadb" => super::mysql::parse_mysql(&name, &known),
                        "mysqladmin" | "mariadb-admin" => {
                            super::mysql::parse_mysqladmin(&name, &known)
                        }
                        "dropdb" => super::sql::parse_drop(super::sql::DbTool::Dropdb, &known),
                        _ => super::sql::parse_drop(super::sql::DbTool::PgDropcluster, &known),
                    };
                    // A here-document or here-string is the SQL it reads on standard input.
                    if let Some(text) = &shell.stdin {
                        for src in &mut intent.sources {
                            if *src == super::sql::Source::Stdin {
                                *src = super::sql::Source::Command(
                                    String::from_utf8_lossy(text).into_owned(),
                                );
                            }
                        }
                    }
                    // What psql runs or writes on this host itself (`\! CMD`, `-o |CMD`,
                    // `\o FILE`): judged as lines of their own, by their effects.
                    let client = super::sql::client_lines(&intent, None, |p| {
                        read_script(shell, p.as_os_str())
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                    });
                    out.push(Intent::Sql(Box::new(intent)));
                    for line in client {
                        nested_line(
                            line.as_bytes(),
                            &mut shell.clone(),
                            out,
                            "a shell command psql runs",
                        );
                    }
                }
                None => out.push(Intent::Opaque {
                    text: text_of(args),
                    why: "its arguments are computed when it runs".into(),
                }),
            }
        }
        n if super::host::is_host_command(n) => match super::host::parse(n, args, text_of(args)) {
            Some(h) => out.push(Intent::Host(h)),
            None => out.push(Intent::Other { program: name }),
        },
        "redis-cli" => {
            let words: Vec<OsString> = rest(1)
                .iter()
                .map(|a| match a {
                    Arg::Known(s) => s.clone(),
                    Arg::Unknown(what) => OsString::from(format!("<{what}>")),
                })
                .collect();
            let intent = super::redis::parse_redis_cli(&words);
            // A word computed at run time among the options or as the command name: what it
            // sends cannot be known (keys computed at run time are fine: `xargs redis-cli del`).
            let command_at = words.len() - intent.words.first().map_or(0, Vec::len);
            match rest(1).iter().position(|a| a.known().is_none()) {
                Some(u) if u <= command_at => out.push(Intent::Opaque {
                    text: text_of(args),
                    why: "the redis command is computed when it runs".into(),
                }),
                _ => out.push(Intent::Sql(Box::new(intent))),
            }
        }
        "apt" | "apt-get" | "aptitude" | "dpkg" => {
            let tool = super::apt::Tool::from_name(&name).unwrap_or(super::apt::Tool::AptGet);
            let known: Option<Vec<OsString>> = rest(1).iter().map(|a| a.known().cloned()).collect();
            match known {
                Some(known) => out.push(Intent::Apt(super::apt::parse(tool, &known))),
                None => out.push(Intent::Opaque {
                    text: text_of(args),
                    why: "its packages are computed when it runs".into(),
                }),
            }
        }
        "sudo" | "doas" => {
            let i = skip_options(
                args,
                1,
                b"CDgprRtTuUh",
                &[
                    "chdir",
                    "close-from",
                    "group",
                    "host",
                    "prompt",
                    "chroot",
                    "role",
                    "type",
                    "command-timeout",
                    "other-user",
                    "user",
                ],
            );
            let opts = &args[1..i.min(args.len())];
            let lists_only = opts.iter().any(|a| {
                let b = bytes_of(a);
                matches!(
                    b,
                    b"-l"
                        | b"-v"
                        | b"-V"
                        | b"-K"
                        | b"-e"
                        | b"--list"
                        | b"--validate"
                        | b"--version"
                        | b"--remove-timestamp"
                        | b"--edit"
                )
            });
            if lists_only {
                out.push(Intent::Other { program: name });
                return None;
            }
            let mut inner = shell.clone();
            if let Some(dir) = option_value(opts, b"-D", b"--chdir") {
                inner.cwd = change_dir(shell, Some(&dir));
            }
            let cmd = rest(i);
            let skip = cmd
                .iter()
                .take_while(|a| is_assignment(a).is_some())
                .count();
            if cmd.len() > skip {
                return classify(&mut inner, &cmd[skip..], stdin_roots, out);
            }
            out.push(Intent::Other { program: name });
        }
        "env" => {
            let i = skip_options(args, 1, b"uCS", &["unset", "chdir", "split-string"]);
            let opts = &args[1..i.min(args.len())];
            let mut inner = shell.clone();
            if let Some(dir) = option_value(opts, b"-C", b"--chdir") {
                inner.cwd = change_dir(shell, Some(&dir));
            }
            let cmd = rest(i);
            let skip = cmd
                .iter()
                .take_while(|a| is_assignment(a).is_some())
                .count();
            if let Some(split) = option_value(opts, b"-S", b"--split-string") {
                let mut words = Vec::new();
                if let Ok(tokens) = lex::lex(split.as_bytes()) {
                    for t in tokens {
                        if let Token::Word(w) = t {
                            words.extend(expand_word(&inner, &w, &mut Vec::new()));
                        }
                    }
                }
                words.extend_from_slice(&cmd[skip..]);
                return classify(&mut inner, &words, stdin_roots, out);
            }
            if cmd.len() > skip {
                return classify(&mut inner, &cmd[skip..], stdin_roots, out);
            }
        }
        "nice" | "nohup" | "exec" | "time" | "ionice" | "stdbuf" | "setsid" | "builtin"
        | "command" => {
            let i = match name.as_str() {
                "nice" => skip_options(args, 1, b"n", &["adjustment"]),
                "exec" => skip_options(args, 1, b"a", &[]),
                "time" => skip_options(args, 1, b"fo", &["format", "output"]),
                "ionice" => skip_options(args, 1, b"cnp", &["class", "classdata", "pid"]),
                "stdbuf" => skip_options(args, 1, b"ioe", &["input", "output", "error"]),
                _ => skip_options(args, 1, b"", &[]),
            };
            if name == "command" && (has_short(args, 1, i, b'v') || has_short(args, 1, i, b'V')) {
                return None;
            }
            if name == "ionice" && has_short(args, 1, i, b'p') {
                return None;
            }
            if i < args.len() {
                return classify(shell, rest(i), stdin_roots, out);
            }
        }
        "timeout" | "chrt" | "taskset" | "flock" => {
            let i = match name.as_str() {
                "timeout" => skip_options(args, 1, b"sk", &["signal", "kill-after"]),
                "chrt" => skip_options(
                    args,
                    1,
                    b"T",
                    &["sched-runtime", "sched-period", "sched-deadline"],
                ),
                "flock" => skip_options(
                    args,
                    1,
                    b"wEc",
                    &["timeout", "wait", "conflict-exit-code", "command"],
                ),
                _ => skip_options(args, 1, b"", &[]),
            };
            if name == "flock" && has_short(args, 1, i, b'c') {
                if let Some(cmd) = args.last().and_then(Arg::known) {
                    out.extend(parse_line(cmd.as_bytes(), &mut shell.clone()).unwrap_or_default());
                }
                return None;
            }
            if name == "taskset" && has_short(args, 1, i, b'p') {
                return None;
            }
            if i + 1 < args.len() {
                return classify(shell, rest(i + 1), stdin_roots, out);
            }
        }
        "busybox" if args.len() > 1 => return classify(shell, rest(1), stdin_roots, out),
        "xargs" => {
            let i = skip_options(
                args,
                1,
                b"adEILnPs",
                &[
                    "arg-file",
                    "delimiter",
                    "max-args",
                    "max-procs",
                    "max-chars",
                    "process-slot-var",
                ],
            );
            let mut cmd: Vec<Arg> = rest(i).to_vec();
            if cmd.is_empty() {
                return None;
            }
            cmd.push(Arg::Unknown("arguments xargs reads from its input".into()));
            let mut inner = Vec::new();
            classify(shell, &cmd, None, &mut inner);
            for intent in inner {
                out.push(match intent {
                    Intent::Rm(mut r) => {
                        r.via = Via::XargsRm;
                        if let Some(roots) = stdin_roots {
                            // find's tests are not evaluated: anything under its roots may come.
                            r.operands.retain(|o| matches!(o, Arg::Known(_)));
                            r.operands.extend(roots.iter().cloned());
                            r.options.recursive = true;
                        }
                        Intent::Rm(r)
                    }
                    other => other,
                });
            }
        }
        "find" => return find(shell, args, out),
        "su" => match option_value(&args[1..], b"-c", b"--command") {
            Some(c) => nested_line(c.as_bytes(), &mut shell.clone(), out, "su's command"),
            None => out.push(Intent::Other { program: name }),
        },
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "posh" => {
            let i = skip_options(args, 1, b"oO", &["rcfile", "init-file"]);
            let reads_stdin = has_short(args, 1, i, b's');
            let mut inner = shell.clone();
            inner.stdin = None;
            inner.piped = false;
            // The words after the command string or script: $0, $1…
            let positionals = |inner: &mut Shell, from: usize| {
                let params: Vec<&Arg> = args.iter().skip(from).collect();
                set_positionals(inner, &params);
            };
            if has_short(args, 1, i, b'c') {
                match args.get(i) {
                    Some(Arg::Known(c)) => {
                        positionals(&mut inner, i + 2);
                        nested_line(c.as_bytes(), &mut inner, out, "its command string");
                    }
                    Some(Arg::Unknown(why)) => out.push(Intent::Opaque {
                        text: text_of(args),
                        why: format!("its command string is known only when it runs ({why})"),
                    }),
                    None => out.push(Intent::Other { program: name }),
                }
            } else if let (Some(script), false) = (args.get(i), reads_stdin) {
                // A script: read and followed like a line of its own (in a new shell).
                positionals(&mut inner, i + 1);
                match script {
                    Arg::Known(f) => match read_script(shell, f) {
                        Some(text) => nested_line(&text, &mut inner, out, "the script"),
                        None => out.push(Intent::Other { program: name }),
                    },
                    Arg::Unknown(why) => out.push(Intent::Opaque {
                        text: text_of(args),
                        why: format!("the script it runs is known only then ({why})"),
                    }),
                }
            } else if let Some(text) = shell.stdin.clone() {
                positionals(&mut inner, i);
                nested_line(&text, &mut inner, out, "the here-document it reads");
            } else if shell.piped {
                out.push(Intent::Opaque {
                    text: text_of(args),
                    why: "it runs commands read from a pipe".into(),
                });
            } else {
                out.push(Intent::Other { program: name });
            }
        }
        "eval" => {
            if args[1..].iter().any(|a| matches!(a, Arg::Unknown(_))) {
                out.push(Intent::Opaque {
                    text: text_of(args),
                    why: "eval of text computed at run time".into(),
                });
                return None;
            }
            let joined: Vec<&[u8]> = args[1..].iter().map(bytes_of).collect();
            match parse_line(&joined.join(&b' '), shell) {
                Ok(intents) => out.extend(intents),
                Err(e) => out.push(Intent::Opaque {
                    text: text_of(args),
                    why: format!("eval text cannot be parsed: {e}"),
                }),
            }
        }
        "cd" | "pushd" => {
            let i = skip_options(args, 1, b"", &[]);
            let target = args.get(i);
            let old = shell.cwd.clone();
            if name == "pushd" {
                shell.dirs.push(old.clone());
            }
            shell.cwd = match target {
                None => change_dir(shell, shell.var("HOME").cloned().as_ref()),
                Some(Arg::Known(d)) if d == "-" => {
                    change_dir(shell, shell.var("OLDPWD").cloned().as_ref())
                }
                Some(Arg::Known(d)) => change_dir(shell, Some(d)),
                Some(Arg::Unknown(_)) => None,
            };
            if let Some(old) = old {
                shell.vars.insert("OLDPWD".into(), old.into_os_string());
            }
        }
        "popd" => {
            if let Some(dir) = shell.dirs.pop() {
                shell.cwd = dir;
            }
        }
        "read" | "mapfile" | "readarray" => {
            // What they read is known only when the line runs.
            let names: Vec<OsString> = args[1..]
                .iter()
                .filter_map(Arg::known)
                .filter(|a| is_name(a.as_bytes()))
                .cloned()
                .collect();
            for n in names {
                shell.set(n, None);
            }
            if name == "read" && args.len() == 1 {
                shell.set("REPLY".into(), None);
            }
        }
        "printf" => {
            if let Some(v) = option_value(&args[1..], b"-v", b"--no-such-long-option") {
                let fmt = args.iter().skip_while(|a| bytes_of(a) != b"-v").nth(2);
                let literal = fmt
                    .and_then(Arg::known)
                    .filter(|f| !f.as_bytes().contains(&b'%') && !f.as_bytes().contains(&b'\\'));
                let only_format = args.len() <= 4;
                shell.set(v, literal.filter(|_| only_format).cloned());
            }
        }
        "source" | "." => match args.get(1) {
            Some(Arg::Known(file)) => {
                let path = change_dir(shell, Some(file));
                let text = path.and_then(|p| {
                    use std::io::Read;
                    let mut buf = Vec::new();
                    std::fs::File::open(p)
                        .and_then(|f| f.take(1 << 20).read_to_end(&mut buf))
                        .ok()
                        .map(|_| buf)
                });
                match text {
                    // Sourced in this shell: what it changes stays for the rest of the line.
                    Some(t) => nested_line(&t, shell, out, "a sourced file"),
                    None => out.push(Intent::Other { program: name }),
                }
            }
            Some(Arg::Unknown(why)) => out.push(Intent::Opaque {
                text: text_of(args),
                why: format!("it runs text known only when the line runs ({why})"),
            }),
            None => {}
        },
        "export" | "local" | "declare" | "typeset" | "readonly" => {
            for a in &args[1..] {
                if let Some((k, v)) = is_assignment(a) {
                    shell.vars.insert(k, v);
                }
            }
        }
        "unset" => {
            for a in &args[1..] {
                if let Some(k) = a.known() {
                    shell.vars.remove(k);
                }
            }
        }
        _ => match super::files::effects(&name, rest(1)) {
            Some(effects) if !effects.is_empty() => out.push(Intent::Files(FilesIntent {
                program: name,
                effects,
                cwd: shell.cwd.clone(),
                text: text_of(args),
            })),
            _ => out.push(Intent::Other { program: name }),
        },
    }
    None
}

/// Sets `$1`, `$2`… and `$@` (fields joined by 0x1f, which "$@" splits again).
fn set_positionals(shell: &mut Shell, params: &[&Arg]) {
    for k in 1..10 {
        shell.vars.remove(OsStr::new(&k.to_string()));
    }
    let mut all: Option<Vec<u8>> = Some(Vec::new());
    for (k, p) in params.iter().enumerate().skip(1) {
        if k < 10 {
            shell.set(k.to_string().into(), p.known().cloned());
        }
        match (p.known(), all.as_mut()) {
            (Some(v), Some(a)) => {
                if k > 1 {
                    a.push(0x1f);
                }
                a.extend_from_slice(v.as_bytes());
            }
            _ => all = None,
        }
    }
    shell.set("@".into(), all.clone().map(OsString::from_vec));
    shell.set("*".into(), all.map(OsString::from_vec));
}

/// A script's text, read whole (at most 1 MiB), or None when it cannot be read.
fn read_script(shell: &Shell, file: &OsStr) -> Option<Vec<u8>> {
    use std::io::Read;
    let path = change_dir(shell, Some(&file.to_owned()))?;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut buf))
        .ok()?;
    Some(buf)
}

/// The value of `-X VALUE`, `-XVALUE`, `--long=VALUE` or `--long VALUE` among `opts`.
fn option_value(opts: &[Arg], short: &[u8], long: &[u8]) -> Option<OsString> {
    let mut it = opts.iter();
    while let Some(a) = it.next() {
        let b = bytes_of(a);
        if b == short || b == long {
            return it.next().and_then(Arg::known).cloned();
        }
        if let Some(v) = b.strip_prefix(long).and_then(|r| r.strip_prefix(b"=")) {
            return Some(OsStr::from_bytes(v).to_owned());
        }
        if b.len() > short.len() && b.starts_with(short) && !b.starts_with(b"--") {
            return Some(OsStr::from_bytes(&b[short.len()..]).to_owned());
        }
    }
    None
}

fn change_dir(shell: &Shell, dir: Option<&OsString>) -> Option<PathBuf> {
    let dir = Path::new(dir?);
    if dir.is_absolute() {
        Some(dir.to_owned())
    } else {
        shell.cwd.as_ref().map(|c| c.join(dir))
    }
}

fn rm_intent(shell: &Shell, args: &[Arg], via: Via) -> RmIntent {
    let known: Vec<OsString> = args[1..].iter().filter_map(Arg::known).cloned().collect();
    let posix = shell.var("POSIXLY_CORRECT").is_some();
    let (options, usage_error, mut operands) = match rm::parse(&known, posix) {
        Ok(c) => (
            c.options,
            None,
            c.operands.into_iter().map(Arg::Known).collect(),
        ),
        Err(e) => (Default::default(), Some(e.to_string()), Vec::new()),
    };
    operands.extend(
        args[1..]
            .iter()
            .filter(|a| matches!(a, Arg::Unknown(_)))
            .cloned(),
    );
    RmIntent {
        via,
        options,
        operands,
        cwd: shell.cwd.clone(),
        usage_error,
        text: text_of(args),
    }
}

/// `find ROOTS… EXPR`: `-delete`, and `-exec`/`-execdir`/`-ok`/`-okdir` commands. What they
/// reach is decided later by a dry run of the real find (`facts::find`); the fallback, when
/// none can be made, is that anything under the roots may be reached.
fn find(shell: &mut Shell, args: &[Arg], out: &mut Vec<Intent>) -> Option<Vec<Arg>> {
    let mut i = 1;
    while let Some(b) = args.get(i).map(bytes_of) {
        if matches!(b, b"-H" | b"-L" | b"-P") || b.starts_with(b"-O") {
            i += 1;
        } else if b == b"-D" {
            i += 2;
        } else {
            break;
        }
    }
    let mut roots = Vec::new();
    while let Some(a) = args.get(i) {
        let b = bytes_of(a);
        if matches!(a, Arg::Known(_)) && (b.starts_with(b"-") || b == b"(" || b == b"!") {
            break;
        }
        roots.push(a.clone());
        i += 1;
    }
    if roots.is_empty() {
        roots.push(Arg::Known(".".into()));
    }
    let text = text_of(args);
    let recursive_over_roots = |via: Via, options: rm::RmOptions| RmIntent {
        via,
        options: rm::RmOptions {
            recursive: true,
            ..options
        },
        operands: roots.clone(),
        cwd: shell.cwd.clone(),
        usage_error: None,
        text: text.clone(),
    };
    let mut deletes = false;
    let mut execs = Vec::new();
    let mut fallback = Vec::new();
    while let Some(a) = args.get(i) {
        let b = bytes_of(a);
        i += 1;
        if b == b"-delete" {
            deletes = true;
            fallback.push(Intent::Rm(recursive_over_roots(
                Via::FindDelete,
                Default::default(),
            )));
        } else if matches!(b, b"-exec" | b"-execdir" | b"-ok" | b"-okdir") {
            let end = args[i..]
                .iter()
                .position(|a| matches!(bytes_of(a), b";" | b"+"))
                .map_or(args.len(), |p| i + p);
            let cmd = &args[i..end];
            i = end + 1;
            if cmd.is_empty() {
                continue;
            }
            let mut inner = Vec::new();
            classify(&mut shell.clone(), cmd, None, &mut inner);
            for intent in inner {
                match intent {
                    Intent::Rm(r) if r.operands.iter().any(has_braces) => {
                        fallback.push(Intent::Rm(recursive_over_roots(
                            Via::FindExecRm,
                            r.options.clone(),
                        )));
                        execs.push(Intent::Rm(r));
                    }
                    Intent::Files(f) if f.effects.iter().any(|e| has_braces(&e.target)) => {
                        let mut over_roots = f.clone();
                        over_roots.effects = f
                            .effects
                            .iter()
                            .flat_map(|e| {
                                let deletes =
                                    matches!(e.op, FileOp::Delete { .. } | FileOp::MoveAway);
                                let braces = has_braces(&e.target);
                                roots.iter().map(move |r| {
                                    if braces {
                                        FileEffect::new(FileOp::WriteInto { deletes }, r.clone())
                                    } else {
                                        e.clone()
                                    }
                                })
                            })
                            .collect();
                        fallback.push(Intent::Files(over_roots));
                        execs.push(Intent::Files(f));
                    }
                    other => out.push(other),
                }
            }
        }
    }
    if deletes || !execs.is_empty() {
        out.push(Intent::Find(FindIntent {
            args: args[1..].to_vec(),
            cwd: shell.cwd.clone(),
            deletes,
            execs,
            fallback,
            text,
        }));
    }
    Some(roots)
}

fn has_braces(a: &Arg) -> bool {
    bytes_of(a).windows(2).any(|w| w == b"{}")
}

/// One field being built by expansion: bytes, which of them are live glob characters, and
/// whether any part is known only at run time.
#[derive(Default)]
struct Field {
    bytes: Vec<u8>,
    glob: Vec<bool>,
    unknown: Option<String>,
    exists: bool,
}

impl Field {
    fn push(&mut self, bytes: &[u8], live: bool) {
        self.exists = true;
        for &b in bytes {
            self.bytes.push(b);
            self.glob.push(live && matches!(b, b'*' | b'?' | b'['));
        }
    }
}

fn is_ifs(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

/// Expands one word into the arguments the shell would pass. Command substitutions found on
/// the way are pushed to `subs`: they run too.
pub fn expand_word(shell: &Shell, w: &Word, subs: &mut Vec<Vec<u8>>) -> Vec<Arg> {
    let mut fields: Vec<Field> = Vec::new();
    let mut cur = Field::default();
    let unquoted_value = |cur: &mut Field, fields: &mut Vec<Field>, value: &[u8]| {
        for (n, piece) in value.split(|&b| is_ifs(b)).enumerate() {
            if n > 0 && (cur.exists || !cur.bytes.is_empty()) {
                fields.push(std::mem::take(cur));
            }
            if !piece.is_empty() {
                cur.push(piece, true);
            }
        }
    };
    if has_brace_expansion(w) {
        let words = brace_expand(w, 0);
        if words.len() > 1 || words.first().is_some_and(|x| x != w) {
            return words
                .iter()
                .flat_map(|x| expand_word(shell, x, subs))
                .collect();
        }
    }
    let unknown_var = |cur: &mut Field, name: &str| {
        cur.exists = true;
        cur.unknown
            .get_or_insert_with(|| format!("${name}, known only when the line runs"));
    };
    for part in &w.parts {
        match part {
            Part::Lit { bytes, quoted } => cur.push(bytes, !quoted),
            Part::Var { name, .. } | Part::VarDefault { name, .. } | Part::VarOp { name, .. }
                if shell.unknown.contains(OsStr::new(name)) =>
            {
                unknown_var(&mut cur, name);
            }
            Part::Var { name, .. } if shell.unset_unknown && shell.var(name).is_none() => {
                unknown_var(&mut cur, name);
            }
            Part::Var { name, quoted } if name == "@" && *quoted => {
                // "$@": each positional parameter its own field.
                let v = shell
                    .var(name)
                    .map(|v| v.as_bytes().to_vec())
                    .unwrap_or_default();
                for (n, piece) in v.split(|&b| b == 0x1f).enumerate() {
                    if n > 0 {
                        fields.push(std::mem::take(&mut cur));
                    }
                    cur.push(piece, false);
                }
            }
            Part::Var { name, quoted } => {
                let v = shell
                    .var(name)
                    .map(|v| v.as_bytes().to_vec())
                    .unwrap_or_default();
                let v: Vec<u8> = v
                    .iter()
                    .map(|&b| if b == 0x1f { b' ' } else { b })
                    .collect();
                if *quoted {
                    cur.push(&v, false);
                } else {
                    unquoted_value(&mut cur, &mut fields, &v);
                }
            }
            Part::VarOp {
                name,
                op,
                arg,
                quoted,
            } => match var_op(shell, name, op, arg) {
                Some(v) if *quoted => cur.push(&v, false),
                Some(v) => unquoted_value(&mut cur, &mut fields, &v),
                None => {
                    cur.exists = true;
                    cur.unknown.get_or_insert_with(|| {
                        format!(
                            "parameter expansion ${{{name}{op}{}}}",
                            super::display_bytes(arg)
                        )
                    });
                }
            },
            Part::VarDefault {
                name,
                default,
                colon,
                quoted,
            } => {
                let v = match shell.var(name) {
                    Some(v) if !(*colon && v.is_empty()) => v.as_bytes().to_vec(),
                    _ => default.clone(),
                };
                if *quoted {
                    cur.push(&v, false);
                } else {
                    unquoted_value(&mut cur, &mut fields, &v);
                }
            }
            Part::Tilde(user) => {
                let home = if user.is_empty() {
                    shell.var("HOME").map(|h| h.as_bytes().to_vec())
                } else {
                    nix::unistd::User::from_name(user)
                        .ok()
                        .flatten()
                        .map(|u| u.dir.into_os_string().into_vec())
                };
                match home {
                    Some(h) => cur.push(&h, false),
                    None => cur.push(format!("~{user}").as_bytes(), false),
                }
            }
            Part::Unknown { what, command } => {
                cur.exists = true;
                cur.unknown.get_or_insert_with(|| what.clone());
                if let Some(c) = command {
                    subs.push(c.clone());
                }
            }
        }
    }
    if cur.exists || !cur.bytes.is_empty() {
        fields.push(cur);
    }
    let mut out = Vec::new();
    for f in fields {
        if let Some(what) = f.unknown {
            out.push(Arg::Unknown(what));
        } else if f.glob.iter().any(|&g| g) {
            out.extend(glob(shell, &f));
        } else {
            out.push(Arg::Known(OsString::from_vec(f.bytes)));
        }
    }
    out
}

/// `${NAME OP ARG}`'s value, when it can be known without running anything.
fn var_op(shell: &Shell, name: &str, op: &str, arg: &[u8]) -> Option<Vec<u8>> {
    if arg
        .iter()
        .any(|&c| matches!(c, b'$' | b'`' | b'\\' | b'\'' | b'"'))
    {
        return None;
    }
    let value = shell.var(name).map(|v| v.as_bytes().to_vec());
    let v = value.clone().unwrap_or_default();
    Some(match op {
        "len" => v.len().to_string().into_bytes(),
        "%" | "%%" | "#" | "##" => {
            let pattern = arg;
            if pattern.contains(&b'[') {
                return None;
            }
            let n = v.len();
            // Cut points tried in order: the first match wins (shortest or longest).
            let cuts: Vec<usize> = match op {
                "%" | "##" => (0..=n).rev().collect(),
                _ => (0..=n).collect(),
            };
            let suffix = op.starts_with('%');
            cuts.into_iter()
                .find(|&c| pattern_matches(pattern, if suffix { &v[c..] } else { &v[..c] }))
                .map_or(v.clone(), |c| {
                    if suffix {
                        v[..c].to_vec()
                    } else {
                        v[c..].to_vec()
                    }
                })
        }
        ":+" if !v.is_empty() => arg.to_vec(),
        "+" if value.is_some() => arg.to_vec(),
        ":+" | "+" => Vec::new(),
        ":=" | "=" => match (&value, op) {
            (Some(x), ":=") if !x.is_empty() => v,
            (Some(_), "=") => v,
            _ => arg.to_vec(),
        },
        "/" | "//" => {
            let slash = arg.iter().position(|&c| c == b'/');
            let (pattern, rep) = match slash {
                Some(k) => (&arg[..k], &arg[k + 1..]),
                None => (arg, &b""[..]),
            };
            if pattern.is_empty() || pattern.iter().any(|c| b"*?[#%".contains(c)) {
                return None;
            }
            replace_bytes(&v, pattern, rep, op == "//")
        }
        _ => return None,
    })
}

fn replace_bytes(v: &[u8], pattern: &[u8], rep: &[u8], all: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    let mut done = false;
    while i < v.len() {
        if !done && v[i..].starts_with(pattern) {
            out.extend_from_slice(rep);
            i += pattern.len();
            done = !all;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    out
}

/// A shell pattern with `*` and `?` (no brackets) against bytes, `*` matching `/` too, as in
/// `${VAR%pattern}`.
fn pattern_matches(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|k| pattern_matches(rest, &s[k..])),
        Some((b'?', rest)) => !s.is_empty() && pattern_matches(rest, &s[1..]),
        Some((&c, rest)) => s.first() == Some(&c) && pattern_matches(rest, &s[1..]),
    }
}

/// Brace expansion of one word: `{a,b}`, `{1..3}`, `{01..10..2}`, `{a..e}`, nested, in the
/// unquoted literal parts (a brace group inside one part), as bash does it before any other
/// expansion. Bounded: past 1024 words the rest are left unexpanded.
fn brace_expand(w: &Word, depth: usize) -> Vec<Word> {
    for (pi, part) in w.parts.iter().enumerate() {
        let Part::Lit {
            bytes,
            quoted: false,
        } = part
        else {
            continue;
        };
        let Some((open, close, alts)) = brace_group(bytes) else {
            continue;
        };
        if depth > 8 {
            return vec![w.clone()];
        }
        let mut out = Vec::new();
        for alt in alts {
            let mut text = bytes[..open].to_vec();
            text.extend_from_slice(&alt);
            text.extend_from_slice(&bytes[close + 1..]);
            let mut parts = w.parts.clone();
            parts[pi] = Part::Lit {
                bytes: text,
                quoted: false,
            };
            out.extend(brace_expand(&Word { parts }, depth + 1));
            if out.len() > 1024 {
                break;
            }
        }
        return out;
    }
    vec![w.clone()]
}

/// The first brace group of `b` that expands: its `{` and `}` and the alternatives.
fn brace_group(b: &[u8]) -> Option<(usize, usize, Vec<Vec<u8>>)> {
    let mut start = 0;
    while let Some(o) = b[start..]
        .iter()
        .position(|&c| c == b'{')
        .map(|p| start + p)
    {
        // `${` is a parameter, not a brace group.
        if o > 0 && b[o - 1] == b'$' {
            start = o + 1;
            continue;
        }
        let mut depth = 0;
        let mut commas = Vec::new();
        let mut close = None;
        for (k, &c) in b.iter().enumerate().skip(o) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(k);
                        break;
                    }
                }
                b',' if depth == 1 => commas.push(k),
                _ => {}
            }
        }
        let c = close?;
        let inner = &b[o + 1..c];
        if !commas.is_empty() {
            let mut alts = Vec::new();
            let mut from = o + 1;
            for k in commas.iter().copied().chain(std::iter::once(c)) {
                alts.push(b[from..k].to_vec());
                from = k + 1;
            }
            return Some((o, c, alts));
        }
        if let Some(seq) = sequence(inner) {
            return Some((o, c, seq));
        }
        start = o + 1;
    }
    None
}

/// `{1..5}`, `{05..1..2}`, `{a..e}`: the words of a sequence expression.
fn sequence(inner: &[u8]) -> Option<Vec<Vec<u8>>> {
    let text = std::str::from_utf8(inner).ok()?;
    let parts: Vec<&str> = text.split("..").collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let step: i64 = match parts.get(2) {
        Some(s) => s.parse::<i64>().ok()?.abs().max(1),
        None => 1,
    };
    if let (Ok(a), Ok(z)) = (parts[0].parse::<i64>(), parts[1].parse::<i64>()) {
        let width = if parts[0].starts_with('0') || parts[1].starts_with('0') {
            parts[0].len().max(parts[1].len())
        } else {
            0
        };
        let count = (a - z).unsigned_abs() / step.unsigned_abs() + 1;
        if count > 1024 {
            return None;
        }
        let dir = if z >= a { 1 } else { -1 };
        return Some(
            (0..count as i64)
                .map(|n| format!("{:0width$}", a + dir * n * step).into_bytes())
                .collect(),
        );
    }
    let (a, z) = (parts[0].as_bytes(), parts[1].as_bytes());
    if a.len() == 1 && z.len() == 1 && a[0].is_ascii_alphabetic() && z[0].is_ascii_alphabetic() {
        let (a, z) = (a[0] as i64, z[0] as i64);
        let dir = if z >= a { 1 } else { -1 };
        let count = (a - z).unsigned_abs() / step.unsigned_abs() + 1;
        return Some(
            (0..count as i64)
                .map(|n| vec![(a + dir * n * step) as u8])
                .collect(),
        );
    }
    None
}

fn has_brace_expansion(w: &Word) -> bool {
    w.parts.iter().any(|p| match p {
        Part::Lit {
            bytes,
            quoted: false,
        } => {
            let open = bytes.iter().position(|&b| b == b'{');
            let close = bytes.iter().rposition(|&b| b == b'}');
            matches!((open, close), (Some(o), Some(c)) if o < c
                && (bytes[o..c].contains(&b',') || bytes[o..c].windows(2).any(|w| w == b"..")))
        }
        _ => false,
    })
}

/// Pathname expansion as bash does it by default: sorted, no leading dots, the word itself when
/// nothing matches.
fn glob(shell: &Shell, f: &Field) -> Vec<Arg> {
    super::glob::expand(&f.bytes, &f.glob, shell.cwd.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(cwd: &str) -> Shell {
        let mut vars = HashMap::new();
        vars.insert("HOME".into(), "/home/op".into());
        Shell::with(Some(PathBuf::from(cwd)), vars)
    }

    fn rms(line: &str, sh: &mut Shell) -> Vec<RmIntent> {
        parse_line(line.as_bytes(), sh)
            .unwrap()
            .into_iter()
            .flat_map(|i| match i {
                Intent::Find(f) => f.fallback,
                other => vec![other],
            })
            .filter_map(|i| if let Intent::Rm(r) = i { Some(r) } else { None })
            .collect()
    }

    fn operands(r: &RmIntent) -> Vec<String> {
        r.operands.iter().map(Arg::display).collect()
    }

    #[test]
    fn quoted_rm_inside_echo_is_not_a_deletion() {
        assert!(rms("echo \"rm -rf /\"; echo 'rm -rf /'", &mut shell("/")).is_empty());
    }

    #[test]
    fn wrappers_are_seen_through() {
        for line in [
            "sudo rm -rf /var/lib",
            "sudo -u root -E rm -rf /var/lib",
            "env -i FOO=1 rm -rf /var/lib",
            "nice -n 10 nohup rm -rf /var/lib",
            "command rm -rf /var/lib",
            "\\rm -rf /var/lib",
            "/bin/rm -rf /var/lib",
            "/usr/bin/rm -rf /var/lib",
            "timeout -s KILL 10 rm -rf /var/lib",
            "bash -c 'rm -rf /var/lib'",
            "sh -ec \"rm -rf /var/lib\"",
            "eval rm -rf /var/lib",
            "true && rm -rf /var/lib || echo no",
            "ls | rm -rf /var/lib",
            "(cd /tmp; rm -rf /var/lib)",
            "if true; then rm -rf /var/lib; fi",
            "systemd-run --unit=wipe -p Nice=5 rm -rf /var/lib",
            "nsenter -t 1 -m -u -n -- rm -rf /var/lib",
            "runuser -u postgres -- rm -rf /var/lib",
            "runuser -l postgres -c 'rm -rf /var/lib'",
            "at now <<< 'rm -rf /var/lib'",
        ] {
            let r = rms(line, &mut shell("/"));
            assert_eq!(r.len(), 1, "{line}");
            assert!(r[0].options.recursive, "{line}");
            assert_eq!(operands(&r[0]), vec!["/var/lib"], "{line}");
        }
    }

    /// The host commands of a line run in /.
    fn host(line: &str) -> Vec<crate::intent::host::HostIntent> {
        parse_line(line.as_bytes(), &mut shell("/"))
            .unwrap()
            .into_iter()
            .filter_map(|i| match i {
                Intent::Host(h) => Some(h),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn init_scripts_sysrq_and_at_from_a_pipe_are_host_commands_or_unknown() {
        let h = host("/etc/init.d/postgresql stop");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].services[0].0.display(), "postgresql");
        assert!(host("/etc/init.d/postgresql status").is_empty());
        for line in [
            "echo b > /proc/sysrq-trigger",
            "echo o | tee /proc/sysrq-trigger",
        ] {
            let h = host(line);
            assert_eq!(
                h.first().and_then(|h| h.power),
                Some(super::super::host::PowerOp::Reboot),
                "{line}"
            );
        }
        assert!(host("cat /proc/sys/kernel/sysrq").is_empty());
        let i = parse_line(b"echo reboot | at now", &mut shell("/")).unwrap();
        assert!(
            i.iter().any(|i| matches!(i, Intent::Opaque { .. })),
            "{i:?}"
        );
        let i = parse_line(b"at -l; atq", &mut shell("/")).unwrap();
        assert!(
            !i.iter().any(|i| matches!(i, Intent::Opaque { .. })),
            "{i:?}"
        );
    }

    #[test]
    fn command_v_and_sudo_l_run_nothing() {
        assert!(rms("command -v rm; sudo -l rm", &mut shell("/")).is_empty());
    }

    #[test]
    fn cd_is_tracked_across_the_line_and_undone_after_a_subshell() {
        let mut sh = shell("/");
        let r = rms("cd /var && rm -r lib; (cd /srv; rm a); rm b", &mut sh);
        assert_eq!(r[0].cwd.as_deref(), Some(Path::new("/var")));
        assert_eq!(r[1].cwd.as_deref(), Some(Path::new("/srv")));
        assert_eq!(r[2].cwd.as_deref(), Some(Path::new("/var")));
        let r = rms("cd; rm x; cd -; rm y", &mut shell("/etc"));
        assert_eq!(r[0].cwd.as_deref(), Some(Path::new("/home/op")));
        assert_eq!(r[1].cwd.as_deref(), Some(Path::new("/etc")));
    }

    #[test]
    fn a_host_command_takes_an_unset_variable_as_unknown_not_empty() {
        use crate::intent::host::{PowerOp, Unit};
        let h = host("systemctl stop $SVC");
        assert!(matches!(h[0].services[0].0, Unit::Unknown(_)), "{h:?}");
        let h = host("sudo systemctl stop postgresql$SUFFIX");
        assert!(matches!(h[0].services[0].0, Unit::Unknown(_)), "{h:?}");
        assert_eq!(host("systemctl $VERB")[0].power, Some(PowerOp::Reboot));
        let h = host("SVC=nginx; systemctl stop $SVC");
        assert_eq!(h[0].services[0].0, Unit::Named("nginx".into()));
        // rm keeps the empty expansion, its worst case.
        let r = rms("rm -rf $DIR/", &mut shell("/"));
        assert_eq!(operands(&r[0]), vec!["/"]);
    }

    #[test]
    fn unset_variable_makes_the_classic_rm_rf_slash() {
        let r = rms("rm -rf $DIR/", &mut shell("/"));
        assert_eq!(operands(&r[0]), vec!["/"]);
        let r = rms(
            "DIR=/tmp/x; rm -rf \"$DIR\"/ ${NOPE:-/srv}",
            &mut shell("/"),
        );
        assert_eq!(operands(&r[0]), vec!["/tmp/x/", "/srv"]);
        let r = rms("rm $EMPTY", &mut shell("/"));
        assert!(r[0].operands.is_empty());
    }

    #[test]
    fn unquoted_variables_split_into_fields() {
        let mut sh = shell("/");
        sh.vars.insert("L".into(), "a  b".into());
        let r = rms("rm $L \"$L\"", &mut sh);
        assert_eq!(operands(&r[0]), vec!["a", "b", "a  b"]);
    }

    #[test]
    fn command_substitution_is_unknown_and_its_command_is_checked() {
        let r = rms("rm -rf $(echo /) `rm -rf /srv`", &mut shell("/"));
        assert_eq!(r.len(), 2);
        assert!(r.iter().any(|r| operands(r) == vec!["/srv"]));
        assert!(r.iter().any(|r| matches!(r.operands[0], Arg::Unknown(_))));
    }

    #[test]
    fn xargs_and_find_are_deletions() {
        let r = rms("find /srv/a -name '*.tmp' -delete", &mut shell("/"));
        assert_eq!(
            (r[0].via, operands(&r[0])),
            (Via::FindDelete, vec!["/srv/a".to_string()])
        );
        let r = rms("find /srv/b -type f -exec rm -f {} \\;", &mut shell("/"));
        assert_eq!(
            (r[0].via, operands(&r[0])),
            (Via::FindExecRm, vec!["/srv/b".to_string()])
        );
        let r = rms("find /srv/c -print0 | xargs -0 rm -f", &mut shell("/"));
        assert_eq!(
            (r[0].via, operands(&r[0])),
            (Via::XargsRm, vec!["/srv/c".to_string()])
        );
        assert!(r[0].options.recursive);
        let r = rms("cat list | xargs rm", &mut shell("/"));
        assert!(matches!(r[0].operands[0], Arg::Unknown(_)));
        let r = rms("find . -delete", &mut shell("/srv"));
        assert_eq!(operands(&r[0]), vec!["."]);
    }

    #[test]
    fn globs_expand_against_the_filesystem_and_quoted_globs_do_not() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["a1", "a2", ".hidden", "*"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let mut sh = shell(dir.path().to_str().unwrap());
        let r = rms("rm a* '*' * nomatch*", &mut sh);
        assert_eq!(
            operands(&r[0]),
            vec!["a1", "a2", "*", "*", "a1", "a2", "nomatch*"]
        );
        let abs = format!("rm {}/a?", dir.path().display());
        let r = rms(&abs, &mut sh);
        assert_eq!(r[0].operands.len(), 2);
    }

    #[test]
    fn brace_expansion_is_done_as_bash_does_it() {
        let r = rms("rm -rf /{etc,usr}", &mut shell("/"));
        assert_eq!(operands(&r[0]), vec!["/etc", "/usr"]);
        let r = rms(
            "rm '{a,b}' x{1..3} v{09..11} {a..c}z d{a,b{c,d}} ${X}{",
            &mut shell("/"),
        );
        assert_eq!(
            operands(&r[0]),
            vec![
                "{a,b}", "x1", "x2", "x3", "v09", "v10", "v11", "az", "bz", "cz", "da", "dbc",
                "dbd", "{"
            ]
        );
        let r = rms("rm -rf /var/lib/postgresql/{15,16}/main", &mut shell("/"));
        assert_eq!(r[0].operands.len(), 2);
    }

    #[test]
    fn loops_functions_and_heredocs_are_followed() {
        let r = rms("for d in /a /b; do rm -rf \"$d\"; done", &mut shell("/"));
        assert_eq!(
            r.iter().map(|r| operands(r)[0].clone()).collect::<Vec<_>>(),
            ["/a", "/b"]
        );
        let r = rms(
            "f() { rm -rf \"$1\" \"$2\"; }; f /srv /opt; f /x",
            &mut shell("/"),
        );
        assert_eq!(operands(&r[0]), ["/srv", "/opt"]);
        assert_eq!(operands(&r[1]), ["/x", ""]);
        let r = rms("bash <<'EOF'\nrm -rf /srv/x\nEOF\n", &mut shell("/"));
        assert_eq!(operands(&r[0]), ["/srv/x"]);
        let r = rms("cat <<EOF\nrm -rf /not/run\nEOF\n", &mut shell("/"));
        assert!(r.is_empty(), "a here-document fed to cat is data");
        let r = rms("sh -s <<< 'rm /y'", &mut shell("/"));
        assert_eq!(operands(&r[0]), ["/y"]);
        let r = rms("while read f; do rm \"$f\"; done < list", &mut shell("/"));
        assert!(matches!(r[0].operands[0], Arg::Unknown(_)));
    }

    #[test]
    fn parameter_operators_and_directory_stack() {
        let mut sh = shell("/");
        let r = rms(
            "F=/etc/x.conf.bak; rm \"${F%.bak}\" ${F%%.*} ${F#*/} ${F##*/} ${F/x/y} ${#F} ${U:+no} ${F:+yes}",
            &mut sh,
        );
        assert_eq!(
            operands(&r[0]),
            [
                "/etc/x.conf",
                "/etc/x",
                "etc/x.conf.bak",
                "x.conf.bak",
                "/etc/y.conf.bak",
                "15",
                "yes"
            ]
        );
        let r = rms(
            "pushd /srv; pushd /opt; popd; rm a; popd; rm b",
            &mut shell("/"),
        );
        assert_eq!(r[0].cwd.as_deref(), Some(Path::new("/srv")));
        assert_eq!(r[1].cwd.as_deref(), Some(Path::new("/")));
        let r = rms(
            "X=$(mktemp -d); rm -rf \"$X\"; printf -v Y /opt; rm -r \"$Y\"",
            &mut shell("/"),
        );
        assert!(matches!(r[0].operands[0], Arg::Unknown(_)));
        assert_eq!(operands(&r[1]), ["/opt"]);
    }

    #[test]
    fn rm_usage_errors_are_recorded() {
        let r = rms("rm --bogus x", &mut shell("/"));
        assert!(r[0].usage_error.as_deref().unwrap().contains("--bogus"));
    }

    #[test]
    fn computed_command_name_is_opaque() {
        let i = parse_line(b"$(which rm) -rf /", &mut shell("/")).unwrap();
        assert!(i.iter().any(|i| matches!(i, Intent::Opaque { .. })));
    }
}
