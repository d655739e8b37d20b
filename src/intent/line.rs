//! Shell lines to intents: `sudo rm -rf a b; cd /x && find . -delete | tee log`.
//!
//! Tracks what the shell itself would track while the line runs (the current directory through
//! `cd`, variables set by assignments and `export`), expands words as the shell would (variables,
//! `~`, globs against the filesystem), and sees through wrappers (`sudo`, `env`, `nice`, `xargs`,
//! `find -exec`, `sh -c`, …). It runs nothing; the only I/O is reading directories for globs and
//! the user database for `~user`.

use std::collections::HashMap;
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
}

impl Shell {
    /// The state of the calling process: its directory and environment.
    pub fn from_process() -> Self {
        Shell {
            cwd: std::env::current_dir().ok(),
            vars: std::env::vars_os().collect(),
        }
    }

    fn var(&self, name: &str) -> Option<&OsString> {
        self.vars.get(OsStr::new(name))
    }
}

/// Parses a whole line into the intents of every command it would run.
pub fn parse_line(line: &[u8], shell: &mut Shell) -> Result<Vec<Intent>, LexError> {
    let tokens = lex::lex(line)?;
    let mut out = Vec::new();
    let mut words: Vec<&Word> = Vec::new();
    let mut saved: Vec<Option<PathBuf>> = Vec::new();
    let mut producer: Option<Vec<Arg>> = None;
    let mut redirect_subs = Vec::new();
    for t in &tokens {
        match t {
            Token::Word(w) => words.push(w),
            Token::Redirect { op, target } => {
                // The target is expanded by the shell: a command substitution there runs too.
                let mut subs = Vec::new();
                let expanded = expand_word(shell, target, &mut subs);
                redirect_subs.extend(subs);
                if let Some(intent) = redirection(shell, op, &expanded) {
                    out.push(intent);
                }
            }
            Token::Op(op) => {
                let roots = run_command(shell, &words, producer.as_deref(), &mut out);
                words.clear();
                producer = if *op == Op::Pipe { roots } else { None };
                match op {
                    Op::Open => saved.push(shell.cwd.clone()),
                    Op::Close => {
                        if let Some(cwd) = saved.pop() {
                            shell.cwd = cwd;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    run_command(shell, &words, producer.as_deref(), &mut out);
    for sub in redirect_subs {
        out.extend(parse_line(&sub, &mut shell.clone())?);
    }
    Ok(out)
}

/// The file effect of a redirection: `>`, `>|`, `<>`, `&>` and `>&FILE` replace their target
/// (`>>`, `&>>` append, `<`… read; `2>&1`, `>&-` duplicate or close a descriptor).
fn redirection(shell: &Shell, op: &str, target: &[Arg]) -> Option<Intent> {
    let overwrites = match op {
        ">" | ">|" | "<>" | "&>" => true,
        ">&" => !target.first().is_some_and(|t| {
            let b = bytes_of(t);
            b == b"-" || (!b.is_empty() && b.iter().all(u8::is_ascii_digit))
        }),
        _ => false,
    };
    if !overwrites {
        return None;
    }
    let target = match target {
        [one] => one.clone(),
        _ => Arg::Unknown("a redirection target that is not one word (bash: ambiguous redirect)".into()),
    };
    let text = format!("{op} {}", target.display());
    Some(Intent::Files(FilesIntent {
        program: op.to_owned(),
        effects: vec![FileEffect {
            follow: true,
            ..FileEffect::new(FileOp::Overwrite, target)
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
    let mut args = Vec::new();
    for w in words {
        args.extend(expand_word(shell, w, &mut subs));
    }
    for sub in subs {
        if let Ok(intents) = parse_line(&sub, &mut shell.clone()) {
            out.extend(intents);
        } else {
            out.push(Intent::Opaque {
                text: super::display_bytes(&sub),
                why: "a command substitution that cannot be parsed".into(),
            });
        }
    }
    classify(shell, &args, stdin_roots, out)
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
    match name.as_str() {
        "rm" => out.push(Intent::Rm(rm_intent(shell, args, Via::Rm))),
        "psql" | "dropdb" | "pg_dropcluster" | "mysql" | "mariadb" | "mysqladmin"
        | "mariadb-admin" => {
            let known: Option<Vec<OsString>> = rest(1).iter().map(|a| a.known().cloned()).collect();
            match known {
                Some(known) => out.push(Intent::Sql(match name.as_str() {
                    "psql" => super::sql::parse_psql(&known),
                    "mysql" | "mariadb" => super::mysql::parse_mysql(&name, &known),
                    "mysqladmin" | "mariadb-admin" => super::mysql::parse_mysqladmin(&name, &known),
                    "dropdb" => super::sql::parse_drop(super::sql::DbTool::Dropdb, &known),
                    _ => super::sql::parse_drop(super::sql::DbTool::PgDropcluster, &known),
                })),
                None => out.push(Intent::Opaque {
                    text: text_of(args),
                    why: "its arguments are computed when it runs".into(),
                }),
            }
        }
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
                _ => out.push(Intent::Sql(intent)),
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
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "posh" | "su" => {
            let i = skip_options(
                args,
                1,
                b"oOsg",
                &[
                    "rcfile",
                    "init-file",
                    "shell",
                    "group",
                    "command",
                    "session-command",
                ],
            );
            let string = if name == "su" {
                option_value(&args[1..], b"-c", b"--command")
            } else if has_short(args, 1, i, b'c') {
                args.get(i).and_then(Arg::known).cloned()
            } else {
                None
            };
            match string {
                Some(s) => match parse_line(s.as_bytes(), &mut shell.clone()) {
                    Ok(intents) => out.extend(intents),
                    Err(e) => out.push(Intent::Opaque {
                        text: text_of(args),
                        why: format!("its command string cannot be parsed: {e}"),
                    }),
                },
                None => out.push(Intent::Other { program: name }),
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
        "popd" => shell.cwd = None,
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
    for part in &w.parts {
        match part {
            Part::Lit { bytes, quoted } => cur.push(bytes, !quoted),
            Part::Var { name, quoted } => {
                let v = shell
                    .var(name)
                    .map(|v| v.as_bytes().to_vec())
                    .unwrap_or_default();
                if *quoted {
                    cur.push(&v, false);
                } else {
                    unquoted_value(&mut cur, &mut fields, &v);
                }
            }
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
        } else if has_brace_expansion(w) {
            out.push(Arg::Unknown(format!(
                "brace expansion {} (not evaluated)",
                super::display_bytes(&f.bytes)
            )));
        } else if f.glob.iter().any(|&g| g) {
            out.extend(glob(shell, &f));
        } else {
            out.push(Arg::Known(OsString::from_vec(f.bytes)));
        }
    }
    out
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
        Shell {
            cwd: Some(PathBuf::from(cwd)),
            vars,
        }
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
        ] {
            let r = rms(line, &mut shell("/"));
            assert_eq!(r.len(), 1, "{line}");
            assert!(r[0].options.recursive, "{line}");
            assert_eq!(operands(&r[0]), vec!["/var/lib"], "{line}");
        }
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
    fn brace_expansion_is_reported_not_guessed() {
        let r = rms("rm -rf /{etc,usr}", &mut shell("/"));
        assert!(matches!(r[0].operands[0], Arg::Unknown(_)));
        let r = rms("rm '{a,b}'", &mut shell("/"));
        assert_eq!(operands(&r[0]), vec!["{a,b}"]);
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
