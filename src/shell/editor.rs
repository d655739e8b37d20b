//! The line editor (rustyline): Emacs keys, Ctrl-R search, persistent history (per user,
//! 0600), completion of commands on PATH, files and gardefou's subcommands, hints from history,
//! and multi-line input while a quote is open or a line ends with `\`.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Context, EditMode, Helper};

use super::Session;

pub struct LineHelper {
    files: FilenameCompleter,
    hints: HistoryHinter,
    /// Commands on PATH and the builtins, read when the session starts.
    commands: BTreeSet<String>,
}

impl Helper for LineHelper {}

impl Completer for LineHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | '(' | '`'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let command_position = before[..start]
            .trim_end()
            .chars()
            .last()
            .is_none_or(|c| matches!(c, ';' | '|' | '&' | '(' | '`'));
        // `gardefou <TAB>`: its subcommands.
        if before.trim_start().starts_with("gardefou ") && !before[..start].trim().contains(' ') {
            use clap::CommandFactory;
            let cmd = crate::cli::Cli::command();
            let subs = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_owned())
                .filter(|n| n.starts_with(word))
                .map(|n| Pair {
                    display: n.clone(),
                    replacement: format!("{n} "),
                })
                .collect();
            return Ok((start, subs));
        }
        if command_position && !word.contains('/') && !word.is_empty() {
            let found = self
                .commands
                .range(word.to_owned()..)
                .take_while(|c| c.starts_with(word))
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: format!("{c} "),
                })
                .collect();
            return Ok((start, found));
        }
        self.files.complete(line, pos, ctx)
    }
}

impl Hinter for LineHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hints.hint(line, pos, ctx)
    }
}

impl Highlighter for LineHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if colored::control::SHOULD_COLORIZE.should_colorize() {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

/// A line bash would not run yet: a quote still open, a trailing `\`, an operator waiting for
/// its right side.
pub fn incomplete(text: &str) -> bool {
    use crate::intent::lex::{LexError, lex};
    let t = text.trim_end();
    if t.ends_with('\\') && !t.ends_with("\\\\") {
        return true;
    }
    if t.ends_with("&&") || t.ends_with("||") || (t.ends_with('|') && !t.ends_with("||")) {
        return true;
    }
    matches!(lex(text.as_bytes()), Err(LexError::Unterminated(_)))
}

impl Validator for LineHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

/// The commands a first word can complete to: executables on PATH and the builtins.
fn commands(s: &Session) -> BTreeSet<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out: BTreeSet<String> = [
        "cd", "export", "unset", "exit", "logout", "umask", "alias", "unalias", "source", "echo",
        "pwd", "type",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Some(path) = s.vars.get(std::ffi::OsStr::new("PATH")) {
        for dir in std::env::split_paths(path) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                let executable = e
                    .metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
                if executable && let Ok(name) = e.file_name().into_string() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// Where this user's history is kept: `$XDG_STATE_HOME/gardefou/history`, else
/// `~/.local/state/gardefou/history`.
pub fn history_file(s: &Session) -> Option<PathBuf> {
    let base = s
        .vars
        .get(std::ffi::OsStr::new("XDG_STATE_HOME"))
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            s.vars
                .get(std::ffi::OsStr::new("HOME"))
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("gardefou/history"))
}

pub enum Read {
    Line(String),
    Interrupted,
    Eof,
}

pub struct Editor {
    ed: rustyline::Editor<LineHelper, DefaultHistory>,
    history: Option<PathBuf>,
}

impl Editor {
    pub fn new(s: &Session) -> rustyline::Result<Editor> {
        let config = Config::builder()
            .edit_mode(EditMode::Emacs)
            .completion_type(CompletionType::List)
            .history_ignore_space(true)
            .auto_add_history(false)
            .max_history_size(10_000)?
            .build();
        let mut ed = rustyline::Editor::with_config(config)?;
        ed.set_helper(Some(LineHelper {
            files: FilenameCompleter::new(),
            hints: HistoryHinter::new(),
            commands: commands(s),
        }));
        let history = history_file(s);
        if let Some(h) = &history {
            let _ = ed.load_history(h);
        }
        Ok(Editor { ed, history })
    }

    /// Reads one (possibly multi-line) line; adds it to the history.
    pub fn read(&mut self, prompt: &str, s: &Session) -> Read {
        // The process follows the session's directory, for file completion.
        let _ = std::env::set_current_dir(&s.cwd);
        let raw = strip_ansi(prompt);
        match self.ed.readline(&(raw.as_str(), prompt)) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = self.ed.add_history_entry(line.as_str());
                    self.save();
                }
                Read::Line(line)
            }
            Err(rustyline::error::ReadlineError::Interrupted) => Read::Interrupted,
            Err(_) => Read::Eof,
        }
    }

    /// Writes the history (0600, in a 0700 directory).
    pub fn save(&mut self) {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let Some(h) = &self.history else { return };
        if let Some(dir) = h.parent() {
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir);
        }
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(h);
        if self.ed.history().len() > 0 && self.ed.save_history(h).is_err() {
            // Not fatal: the session goes on without a saved history.
            self.history = None;
        }
    }
}

/// The prompt without its colors (what rustyline measures).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}
