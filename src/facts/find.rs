//! What `find … -delete` and `find … -exec rm {} …` would really reach: the real `find`, run
//! with the same start points and tests but with every action replaced by an output, lists
//! each entry a judged action would be applied to.
//!
//! This module never runs an `-exec`, `-execdir`, `-ok` or `-okdir` command (one that is not
//! the judged action is a test it cannot evaluate: the dry run is refused), never deletes, and
//! never writes the files `-fprint`, `-fprint0`, `-fls` and `-fprintf` name (they are reported
//! to the caller as writes). What it lists is never less than the real run would reach: where
//! the real run's own changes could make a test match more (deleting a directory's entries
//! empties it and gives it a new mtime), the dry run assumes the test matches.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The `-printf` format of one match: the entry's type letter (`d` for a directory, as in
/// `ls -l`), then its path as `-print0` writes it, NUL-terminated. The letter tells `run` which
/// matches are directories without a `stat` of its own.
pub const MATCH_FORMAT: &str = "%y%p\\0";

/// How many of find's standard error bytes are kept for a message.
const STDERR_KEPT: usize = 4096;

/// At most this many independent truth values are enumerated to check that the dry run reaches
/// everything the real run could (2^18 evaluations of the expression: a few milliseconds).
const MAX_VARIABLES: u32 = 18;

/// The argument vector of a side-effect-free run of `find`, built by `dry_run_args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// The arguments (after the word `find`) of the run that lists the matches.
    pub args: Vec<OsString>,
    /// Files the real run's `-fprint`, `-fprint0`, `-fls` and `-fprintf` would create or
    /// truncate, as written (relative ones are relative to find's working directory).
    pub writes: Vec<OsString>,
    /// How many judged actions (`-delete`, effect `-exec`s) became match outputs. None: the
    /// command deletes nothing, `run` returns no match without starting find.
    pub judged: usize,
    /// Every judged action is `-delete`, which removes a directory only once it is empty.
    delete_only: bool,
    /// The same entry may be listed twice (several start points, several judged actions).
    dedupe: bool,
}

/// The entries a dry run listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matches {
    /// Absolute (relative ones joined to the working directory), in find's order, each once.
    pub paths: Vec<PathBuf>,
    /// Why the list is incomplete (more matches than the limit, find too slow): the caller
    /// must then assume the worst.
    pub truncated: Option<String>,
}

/// The argument vector (after the word `find`) of a side-effect-free dry run, or why none can
/// be made. `is_effect_exec` gets the command words of each `-exec`, `-execdir`, `-ok` and
/// `-okdir` (without the `;` or `+`) and says whether it is the action being judged (rm,
/// shred, chmod…); any other command is a test whose outcome only running it would tell.
pub fn dry_run_args(
    args: &[OsString],
    is_effect_exec: &dyn Fn(&[OsString]) -> bool,
) -> Result<DryRun, String> {
    let mut out: Vec<OsString> = Vec::new();
    let mut i = 0;
    let mut follow = false;
    while let Some(a) = args.get(i) {
        match a.as_bytes() {
            b"-L" => follow = true,
            // -H follows only the start points, which no earlier change of the run can reach
            // before they are visited.
            b"-H" | b"-P" => follow = false,
            b"-D" => {
                let value = args.get(i + 1).ok_or("find's -D needs a debug option")?;
                if value.as_bytes().split(|&b| b == b',').any(|o| o == b"help") {
                    return Err("find -D help prints find's debug options and looks at no file".into());
                }
                out.push(a.clone());
                i += 1;
                out.push(value.clone());
                i += 1;
                continue;
            }
            b"--" => {
                out.push(a.clone());
                i += 1;
                break;
            }
            o if o.starts_with(b"-O") => {}
            _ => break,
        }
        out.push(a.clone());
        i += 1;
    }
    let mut starts = 0;
    while let Some(a) = args.get(i) {
        if looks_like_expression(a.as_bytes()) {
            break;
        }
        out.push(a.clone());
        starts += 1;
        i += 1;
    }
    let after_starts = out.len();

    let mut scan = Scan {
        follow,
        ..Scan::default()
    };
    scan.expression(&args[i..], is_effect_exec)?;
    if scan.help {
        // -help and -version print and exit while find parses its arguments: nothing runs.
        return Ok(DryRun {
            args: out,
            writes: Vec::new(),
            judged: 0,
            delete_only: false,
            dedupe: false,
        });
    }
    if scan.delete && scan.prune && !scan.depth {
        return Err("find refuses -prune with -delete unless -depth is given (-delete implies \
                    -depth, where -prune does nothing)"
            .into());
    }
    let judged = scan
        .atoms
        .iter()
        .filter(|a| matches!(a.kind, Kind::Judged { .. }))
        .count();
    let tree = Parser {
        toks: &scan.toks,
        pos: 0,
    }
    .expression()?;
    let depth = scan.depth || scan.delete;
    if judged > 0 {
        let mode = Mode {
            depth,
            follow: scan.follow,
            writes: !scan.writes.is_empty(),
            exec: scan.exec,
        };
        for atom in &mut scan.atoms {
            if let Kind::Test = atom.kind
                && let Some((drift, reach)) = moves(atom.reads, atom.operand.as_deref(), &mode)
            {
                atom.kind = Kind::State { drift, reach };
            }
        }
    }
    let plan = match &tree {
        Some(tree) if judged > 0 => plan(tree, &scan.atoms, depth)?,
        _ => Plan {
            bias: vec![None; scan.atoms.len()],
            neutral: false,
        },
    };
    if scan.delete && !scan.depth {
        out.insert(after_starts, "-depth".into());
    }
    for tok in &scan.toks {
        match tok {
            Tok::Atom(n) => out.extend(scan.atoms[*n].emit(plan.bias[*n], plan.neutral)),
            Tok::Op(word, _) => out.push(word.clone()),
        }
    }
    Ok(DryRun {
        args: out,
        writes: scan.writes,
        judged,
        delete_only: !scan.exec,
        dedupe: starts != 1 || judged > 1,
    })
}

/// Runs the dry run's `find` in `cwd` and collects what it matched: at most `limit` entries,
/// for at most `timeout` (then `truncated` says so).
pub fn run(dry: &DryRun, cwd: &Path, limit: usize, timeout: Duration) -> Result<Matches, String> {
    if dry.judged == 0 {
        return Ok(Matches::default());
    }
    let deadline = Instant::now() + timeout;
    let mut child = Command::new("find")
        .args(&dry.args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => "find is not on PATH".to_owned(),
            _ => format!("cannot start find in {}: {e}", cwd.display()),
        })?;
    let pid = Pid::from_raw(i32::try_from(child.id()).map_err(|e| format!("find's pid: {e}"))?);
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = child.wait();
        return Err("find's output pipes were not set up".into());
    };
    // The watchdog may only signal the pid while the child is unreaped, so it is joined
    // before `wait`: the pid cannot have been reused by then.
    let (stop, stopped) = mpsc::channel::<()>();
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let timed_out = Arc::clone(&timed_out);
        thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(timeout) {
                timed_out.store(true, Ordering::SeqCst);
                let _ = kill(pid, Signal::SIGKILL);
            }
        })
    };
    // Drained to the end so that find never blocks on a full pipe of "Permission denied".
    let errors = thread::spawn(move || {
        let mut kept = Vec::new();
        let _ = (&mut stderr).take(STDERR_KEPT as u64).read_to_end(&mut kept);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        kept
    });

    let mut paths = Vec::new();
    let mut dirs = Vec::new();
    let mut seen = HashSet::new();
    let mut listed = 0usize;
    let mut truncated = None;
    let mut read_error = None;
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut record = Vec::new();
    loop {
        record.clear();
        match reader.read_until(0, &mut record) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        // A record without its NUL was cut by the watchdog's kill: not a whole path.
        if record.pop() != Some(0) {
            break;
        }
        listed += 1;
        if listed > limit {
            truncated = Some(format!("find matched more than {limit} entries"));
            break;
        }
        let Some((&kind, raw)) = record.split_first() else {
            continue;
        };
        if dry.delete_only && !removable(raw) {
            continue;
        }
        let path = absolute(cwd, raw);
        if dry.dedupe && !seen.insert(path.clone()) {
            continue;
        }
        if kind == b'd' {
            dirs.push(paths.len());
        }
        paths.push(path);
    }
    drop(reader);
    if truncated.is_some() || read_error.is_some() {
        let _ = kill(pid, Signal::SIGKILL);
    }
    drop(stop);
    let _ = watchdog.join();
    let status = child.wait().map_err(|e| format!("waiting for find: {e}"))?;
    let stderr = errors.join().unwrap_or_default();
    if timed_out.load(Ordering::SeqCst) && truncated.is_none() {
        truncated = Some(format!("find ran longer than {}", humantime::format_duration(timeout)));
    }
    if let Some(e) = read_error
        && truncated.is_none()
    {
        truncated = Some(format!("reading find's output: {e}"));
    }
    if truncated.is_none() && listed == 0 && !status.success() {
        let text = String::from_utf8_lossy(&stderr);
        let why = text.lines().next().unwrap_or("no message");
        return Err(format!("find failed ({status}) and matched nothing: {why}"));
    }
    if dry.delete_only && truncated.is_none() {
        keep_removable_dirs(&mut paths, &dirs, deadline);
    }
    Ok(Matches { paths, truncated })
}

/// Whether find reads `arg`, in the start point position, as the beginning of the expression
/// (GNU's `looks_like_expression` with `leading` set: `-`, `)` and `,` alone are file names).
fn looks_like_expression(arg: &[u8]) -> bool {
    match arg {
        [b'-', _, ..] => true,
        b"!" | b"(" => true,
        _ => false,
    }
}

/// Whether `-delete` can remove the entry find printed as `raw`: find skips `.` itself, and
/// the kernel refuses to remove `/`, `x/.` and `x/..`.
fn removable(raw: &[u8]) -> bool {
    let trimmed = match raw.iter().rposition(|&b| b != b'/') {
        Some(end) => &raw[..=end],
        None => return false,
    };
    let last = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
    last != b"." && last != b".."
}

/// `raw` as an absolute path: relative ones under `cwd`, without find's leading `./`.
fn absolute(cwd: &Path, raw: &[u8]) -> PathBuf {
    if raw.first() == Some(&b'/') {
        return PathBuf::from(OsString::from_vec(raw.to_vec()));
    }
    let mut rel = raw;
    while let Some(rest) = rel.strip_prefix(b"./") {
        rel = rest;
    }
    while let Some(rest) = rel.strip_prefix(b"/") {
        rel = rest;
    }
    if rel == b"." || rel.is_empty() {
        return cwd.to_path_buf();
    }
    let base = cwd.as_os_str().as_bytes();
    let mut bytes = Vec::with_capacity(base.len() + 1 + rel.len());
    bytes.extend_from_slice(base);
    if !base.ends_with(b"/") {
        bytes.push(b'/');
    }
    bytes.extend_from_slice(rel);
    PathBuf::from(OsString::from_vec(bytes))
}

/// Drops the directories `-delete` could not remove: `rmdir` fails on a directory that still
/// holds an entry the run does not delete. Deepest first, so that a kept subdirectory counts
/// as deleted for its parent and a dropped one does not. A directory that cannot be read, or
/// is not one any more, stays listed; so does everything once the deadline has passed.
fn keep_removable_dirs(paths: &mut Vec<PathBuf>, dirs: &[usize], deadline: Instant) {
    if dirs.is_empty() {
        return;
    }
    let mut dropped = HashSet::new();
    {
        let mut deleted: HashMap<&Path, usize> =
            dirs.iter().map(|&d| (paths[d].as_path(), 0)).collect();
        for p in paths.iter() {
            if let Some(n) = p.parent().and_then(|parent| deleted.get_mut(parent)) {
                *n += 1;
            }
        }
        let mut order = dirs.to_vec();
        order.sort_by_key(|&d| Reverse(paths[d].components().count()));
        for d in order {
            if Instant::now() > deadline {
                break;
            }
            let dir = paths[d].as_path();
            if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut held = 0usize;
            if entries.into_iter().any(|e| {
                held += 1;
                e.is_err()
            }) {
                continue;
            }
            if deleted.get(dir).is_some_and(|&n| n < held) {
                dropped.insert(d);
                if let Some(n) = dir.parent().and_then(|parent| deleted.get_mut(parent)) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }
    if !dropped.is_empty() {
        let mut index = 0;
        paths.retain(|_| {
            index += 1;
            !dropped.contains(&(index - 1))
        });
    }
}

/// One element of the expression: an operator or parenthesis (kept as written) or a primary.
#[derive(Debug, Clone)]
enum Tok {
    Op(OsString, Op),
    Atom(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Open,
    Close,
    Not,
    And,
    Or,
    Comma,
}

/// What a test reads of an entry, which says whether the run's own changes can alter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// Names, inode, file system: nothing the run changes.
    Fixed,
    /// `-Xmin`/`-Xtime N`: the entry's age by one of its timestamps.
    Age(Stamp),
    /// `-newer`, `-anewer`, `-cnewer`, `-newerXY`: one of its timestamps against a reference.
    Newer(Stamp),
    Used,
    Empty,
    Links,
    Size,
    Type,
    XType,
    /// Permissions and owners: only an effect command (chmod, chown) changes them.
    Owner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Access,
    Birth,
    Change,
    Modify,
}

/// How a test's value may differ in the real run from the dry run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drift {
    /// It can only become true (`-empty` after deletions, `-newer`).
    Up,
    /// It can only become false (`-mtime +30` once the run touches the directory).
    Down,
    Both,
}

/// Which entries the run's own changes can alter before find tests them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Reach {
    /// Every entry (with -L, any symlink may lead to a changed one).
    all: bool,
    /// Directories, whose entries a depth-first run removes before it tests them.
    dirs: bool,
    /// Non-directories with more than one hard link (a link removed changes the others).
    linked: bool,
    /// Symbolic links (their target may be removed first).
    symlinks: bool,
}

impl Reach {
    fn is_empty(&self) -> bool {
        !(self.all || self.dirs || self.linked || self.symlinks)
    }

    /// The find test that selects these entries, or `None` for every entry.
    fn test(&self) -> Option<Vec<OsString>> {
        if self.all {
            return None;
        }
        let mut alternatives: Vec<&[&str]> = Vec::new();
        if self.dirs {
            alternatives.push(&["-type", "d"]);
        }
        if self.linked {
            alternatives.push(&["(", "!", "-type", "d", "-links", "+1", ")"]);
        }
        if self.symlinks {
            alternatives.push(&["-type", "l"]);
        }
        let mut words: Vec<OsString> = Vec::new();
        for (n, alternative) in alternatives.iter().enumerate() {
            if n > 0 {
                words.push("-o".into());
            }
            words.extend(alternative.iter().map(OsString::from));
        }
        if alternatives.len() > 1 {
            words.insert(0, "(".into());
            words.push(")".into());
        }
        Some(words)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Always this value: `-true`, `-false`, options, replaced outputs.
    Const(bool),
    /// The same value in both runs.
    Test,
    /// A test whose value the real run may change before testing (on `reach` entries only).
    State { drift: Drift, reach: Reach },
    /// A judged action: a match output in the dry run. `sure`: always true in the real run
    /// too (`-exec … {} +`); otherwise it may fail (`-delete` of a non-empty directory).
    Judged { sure: bool },
    Prune,
    Quit,
}

#[derive(Debug, Clone)]
struct Atom {
    /// The words the dry run has in its place.
    words: Vec<OsString>,
    kind: Kind,
    reads: Reads,
    operand: Option<OsString>,
}

impl Atom {
    fn emit(&self, bias: Option<bool>, neutral: bool) -> Vec<OsString> {
        match (self.kind, bias) {
            (Kind::Prune | Kind::Quit, _) if neutral => vec!["-true".into()],
            (Kind::State { reach, .. }, Some(value)) => {
                let Some(affected) = reach.test() else {
                    return vec![if value { "-true" } else { "-false" }.into()];
                };
                let mut words = vec![OsString::from("(")];
                words.extend(self.words.iter().cloned());
                words.push(if value { "-o" } else { "!" }.into());
                words.extend(affected);
                words.push(")".into());
                words
            }
            _ => self.words.clone(),
        }
    }
}

/// The expression as scanned, left to right.
#[derive(Default)]
struct Scan {
    toks: Vec<Tok>,
    atoms: Vec<Atom>,
    writes: Vec<OsString>,
    follow: bool,
    delete: bool,
    /// `-depth` or `-d` given.
    depth: bool,
    prune: bool,
    /// Some judged action is an `-exec`, `-execdir`, `-ok` or `-okdir`.
    exec: bool,
    help: bool,
}

impl Scan {
    fn atom(&mut self, words: Vec<OsString>, kind: Kind, reads: Reads, operand: Option<OsString>) {
        self.toks.push(Tok::Atom(self.atoms.len()));
        self.atoms.push(Atom {
            words,
            kind,
            reads,
            operand,
        });
    }

    fn expression(
        &mut self,
        args: &[OsString],
        is_effect_exec: &dyn Fn(&[OsString]) -> bool,
    ) -> Result<(), String> {
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            i += 1;
            let name = arg.as_bytes();
            let op = match name {
                b"(" => Some(Op::Open),
                b")" => Some(Op::Close),
                b"!" | b"-not" => Some(Op::Not),
                b"-a" | b"-and" => Some(Op::And),
                b"-o" | b"-or" => Some(Op::Or),
                b"," => Some(Op::Comma),
                _ => None,
            };
            if let Some(op) = op {
                self.toks.push(Tok::Op(arg.clone(), op));
                continue;
            }
            let shown = arg.to_string_lossy();
            let Some((class, arity)) = classify(name) else {
                return Err(if name.starts_with(b"-") {
                    format!("find's {shown} is not a primary gardefou knows (GNU find 4.9)")
                } else {
                    format!("find's expression has {shown} where a primary is expected")
                });
            };
            if let Class::Exec { plus } = class {
                let command = args.get(i..).unwrap_or_default();
                let Some((len, batch)) = exec_end(command, plus) else {
                    return Err(format!("find's {shown} has no terminating ';'"));
                };
                let words = &command[..len];
                i += len + 1;
                if words.is_empty() || !is_effect_exec(words) {
                    let text: Vec<_> = words.iter().map(|w| w.to_string_lossy()).collect();
                    let end = if batch { "+" } else { ";" };
                    return Err(format!(
                        "its {shown} {} {end} is a test gardefou cannot evaluate without running it",
                        text.join(" ")
                    ));
                }
                self.exec = true;
                self.atom(match_output(), Kind::Judged { sure: batch }, Reads::Fixed, None);
                continue;
            }
            let Some(operands) = args.get(i..i + arity) else {
                return Err(format!("find's {shown} needs {arity} argument(s)"));
            };
            i += arity;
            let mut words = vec![arg.clone()];
            words.extend(operands.iter().cloned());
            let operand = operands.first().cloned();
            match class {
                Class::Test(reads) => {
                    let kind = match name {
                        b"-true" => Kind::Const(true),
                        b"-false" => Kind::Const(false),
                        _ => Kind::Test,
                    };
                    self.atom(words, kind, reads, operand);
                }
                Class::Setting => {
                    match name {
                        b"-depth" | b"-d" => self.depth = true,
                        b"-follow" => self.follow = true,
                        b"-files0-from" if operand.as_deref() == Some(OsStr::new("-")) => {
                            return Err("find -files0-from - reads its start points from standard \
                                        input, which gardefou cannot replay"
                                .into());
                        }
                        _ => {}
                    }
                    self.atom(words, Kind::Const(true), Reads::Fixed, None);
                }
                Class::Output => self.atom(true_words(), Kind::Const(true), Reads::Fixed, None),
                Class::OutputTo => {
                    self.writes.extend(operand);
                    self.atom(true_words(), Kind::Const(true), Reads::Fixed, None);
                }
                Class::Delete => {
                    self.delete = true;
                    self.atom(match_output(), Kind::Judged { sure: false }, Reads::Fixed, None);
                }
                Class::Prune => {
                    self.prune = true;
                    self.atom(words, Kind::Prune, Reads::Fixed, None);
                }
                Class::Quit => self.atom(words, Kind::Quit, Reads::Fixed, None),
                Class::Help => self.help = true,
                Class::Exec { .. } => {}
            }
        }
        Ok(())
    }
}

fn match_output() -> Vec<OsString> {
    vec!["-printf".into(), MATCH_FORMAT.into()]
}

fn true_words() -> Vec<OsString> {
    vec!["-true".into()]
}

/// Where the command of an `-exec` starting at `args[0]` ends: the number of its words, and
/// whether it ends with `{} +` (GNU: a `+` ends it only right after `{}`, and not for `-ok`).
fn exec_end(args: &[OsString], plus: bool) -> Option<(usize, bool)> {
    for (n, arg) in args.iter().enumerate() {
        match arg.as_bytes() {
            b";" => return Some((n, false)),
            b"+" if plus && n > 0 && args[n - 1].as_bytes() == b"{}" => return Some((n, true)),
            _ => {}
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Test(Reads),
    /// Global and positional options: always true, they change how find walks.
    Setting,
    /// `-print`, `-print0`, `-printf`, `-ls`: always true.
    Output,
    /// `-fprint`, `-fprint0`, `-fls`, `-fprintf`: always true, write their file.
    OutputTo,
    Delete,
    Exec {
        plus: bool,
    },
    Prune,
    Quit,
    Help,
}

/// GNU find 4.9's primaries (find(1)): what each is and how many arguments it takes.
fn classify(name: &[u8]) -> Option<(Class, usize)> {
    use Class::*;
    use Reads::*;
    Some(match name {
        b"-true" | b"-false" | b"-name" | b"-iname" | b"-path" | b"-ipath" | b"-wholename"
        | b"-iwholename" | b"-regex" | b"-iregex" | b"-lname" | b"-ilname" | b"-inum"
        | b"-samefile" | b"-fstype" => (Test(Fixed), usize::from(!matches!(name, b"-true" | b"-false"))),
        b"-amin" | b"-atime" => (Test(Age(Stamp::Access)), 1),
        b"-cmin" | b"-ctime" => (Test(Age(Stamp::Change)), 1),
        b"-mmin" | b"-mtime" => (Test(Age(Stamp::Modify)), 1),
        b"-anewer" => (Test(Newer(Stamp::Access)), 1),
        b"-cnewer" => (Test(Newer(Stamp::Change)), 1),
        b"-newer" => (Test(Newer(Stamp::Modify)), 1),
        [b'-', b'n', b'e', b'w', b'e', b'r', x, y]
            if matches!(*y, b'a' | b'B' | b'c' | b'm' | b't') =>
        {
            let stamp = match *x {
                b'a' => Stamp::Access,
                b'B' => Stamp::Birth,
                b'c' => Stamp::Change,
                b'm' => Stamp::Modify,
                _ => return None,
            };
            (Test(Newer(stamp)), 1)
        }
        b"-used" => (Test(Used), 1),
        b"-empty" => (Test(Empty), 0),
        b"-links" => (Test(Links), 1),
        b"-size" => (Test(Size), 1),
        b"-type" => (Test(Type), 1),
        b"-xtype" => (Test(XType), 1),
        b"-readable" | b"-writable" | b"-executable" | b"-nouser" | b"-nogroup" => {
            (Test(Owner), 0)
        }
        b"-perm" | b"-user" | b"-group" | b"-uid" | b"-gid" | b"-context" => (Test(Owner), 1),
        b"-depth" | b"-d" | b"-ignore_readdir_race" | b"-noignore_readdir_race" | b"-mount"
        | b"-xdev" | b"-noleaf" | b"-daystart" | b"-follow" | b"-warn" | b"-nowarn" => (Setting, 0),
        b"-maxdepth" | b"-mindepth" | b"-regextype" | b"-files0-from" => (Setting, 1),
        b"-print" | b"-print0" | b"-ls" => (Output, 0),
        b"-printf" => (Output, 1),
        b"-fprint" | b"-fprint0" | b"-fls" => (OutputTo, 1),
        b"-fprintf" => (OutputTo, 2),
        b"-delete" => (Delete, 0),
        b"-exec" | b"-execdir" => (Exec { plus: true }, 0),
        b"-ok" | b"-okdir" => (Exec { plus: false }, 0),
        b"-prune" => (Prune, 0),
        b"-quit" => (Quit, 0),
        b"-help" | b"--help" | b"-version" | b"--version" => (Help, 0),
        _ => return None,
    })
}

/// What the real run does that the dry run does not, as it bears on the tests.
struct Mode {
    /// Directories are tested after their entries (`-depth`, implied by `-delete`).
    depth: bool,
    follow: bool,
    /// `-fprint` and friends create files before the walk.
    writes: bool,
    /// Some judged action is a command (chmod, truncate…), not only `-delete`.
    exec: bool,
}

/// How the real run's own changes may alter a test, and on which entries; `None`: they cannot.
fn moves(reads: Reads, operand: Option<&OsStr>, mode: &Mode) -> Option<(Drift, Reach)> {
    let arg = operand.map(OsStr::as_bytes).unwrap_or_default();
    // With -L a directory changed earlier may be tested again through a symlink, later.
    let dirs = mode.depth || mode.writes || mode.follow;
    let mut reach = Reach::default();
    let drift = match reads {
        Reads::Fixed => return None,
        Reads::Age(stamp) | Reads::Newer(stamp) => {
            match stamp {
                Stamp::Birth => return None,
                // rm does not read what it removes; a command may.
                Stamp::Access => reach.linked = mode.exec,
                Stamp::Modify => {
                    reach.dirs = dirs;
                    reach.linked = mode.exec;
                }
                Stamp::Change => {
                    reach.dirs = dirs;
                    reach.linked = true;
                }
            }
            // A changed entry's timestamp becomes the time of the run.
            match (reads, arg.first()) {
                (Reads::Newer(_), _) | (_, Some(b'-')) => Drift::Up,
                (_, Some(b'+')) => Drift::Down,
                _ => match std::str::from_utf8(arg).ok().and_then(|s| s.parse::<f64>().ok()) {
                    Some(n) if n == 0.0 => Drift::Up,
                    Some(_) => Drift::Down,
                    None => Drift::Both,
                },
            }
        }
        Reads::Used => {
            reach.dirs = dirs;
            reach.linked = true;
            Drift::Both
        }
        Reads::Empty => {
            reach.dirs = dirs;
            reach.linked = mode.exec;
            if mode.exec || mode.writes {
                Drift::Both
            } else {
                Drift::Up
            }
        }
        Reads::Links => {
            reach.dirs = mode.depth || mode.follow;
            reach.linked = true;
            if mode.exec { Drift::Both } else { count_drift(arg) }
        }
        Reads::Size => {
            reach.dirs = dirs;
            reach.linked = mode.exec;
            if mode.exec || mode.writes {
                Drift::Both
            } else {
                count_drift(arg)
            }
        }
        Reads::XType => {
            reach.symlinks = true;
            Drift::Both
        }
        // With -L, a symlink whose target is removed first becomes a dangling one (type l).
        Reads::Type => {
            reach.all = mode.follow;
            Drift::Both
        }
        Reads::Owner => {
            reach.linked = mode.exec;
            Drift::Both
        }
    };
    if reach.is_empty() {
        return None;
    }
    if mode.follow {
        reach = Reach {
            all: true,
            ..Reach::default()
        };
    }
    Some((drift, reach))
}

/// A count that the run can only lower (links, a directory's size): `+N` may become false,
/// `-N` true, `N` either.
fn count_drift(arg: &[u8]) -> Drift {
    match arg.first() {
        Some(b'+') => Drift::Down,
        Some(b'-') => Drift::Up,
        _ => Drift::Both,
    }
}

/// The expression as a tree, with find's precedence: `!`, then `-a` (also implicit), `-o`, `,`.
#[derive(Debug)]
enum Node {
    Atom(usize),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Comma(Box<Node>, Box<Node>),
}

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_op(&self) -> Option<Op> {
        match self.peek() {
            Some(Tok::Op(_, op)) => Some(*op),
            _ => None,
        }
    }

    /// The whole expression; `None` when there is none.
    fn expression(mut self) -> Result<Option<Node>, String> {
        if self.toks.is_empty() {
            return Ok(None);
        }
        let node = self.comma()?;
        match self.peek() {
            None => Ok(Some(node)),
            Some(_) => Err("find's expression has an unmatched ')'".into()),
        }
    }

    fn comma(&mut self) -> Result<Node, String> {
        let mut node = self.or()?;
        while self.peek_op() == Some(Op::Comma) {
            self.pos += 1;
            node = Node::Comma(Box::new(node), Box::new(self.or()?));
        }
        Ok(node)
    }

    fn or(&mut self) -> Result<Node, String> {
        let mut node = self.and()?;
        while self.peek_op() == Some(Op::Or) {
            self.pos += 1;
            node = Node::Or(Box::new(node), Box::new(self.and()?));
        }
        Ok(node)
    }

    fn and(&mut self) -> Result<Node, String> {
        let mut node = self.unary()?;
        loop {
            match self.peek() {
                Some(Tok::Op(_, Op::And)) => self.pos += 1,
                Some(Tok::Atom(_) | Tok::Op(_, Op::Open | Op::Not)) => {}
                _ => return Ok(node),
            }
            node = Node::And(Box::new(node), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Node, String> {
        let tok = self.peek().cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Atom(n)) => Ok(Node::Atom(n)),
            Some(Tok::Op(_, Op::Not)) => Ok(Node::Not(Box::new(self.unary()?))),
            Some(Tok::Op(_, Op::Open)) => {
                if self.peek_op() == Some(Op::Close) {
                    return Err("find's expression has empty parentheses".into());
                }
                let node = self.comma()?;
                if self.peek_op() != Some(Op::Close) {
                    return Err("find's expression has an unmatched '('".into());
                }
                self.pos += 1;
                Ok(node)
            }
            Some(Tok::Op(word, _)) => Err(format!(
                "find's expression has {} where an operand is expected",
                word.to_string_lossy()
            )),
            None => Err("find's expression ends where an operand is expected".into()),
        }
    }
}

/// How the dry run departs from a plain rewrite to stay a superset of the real run.
struct Plan {
    /// Per atom: the value a changing test is given on the entries the run may change.
    bias: Vec<Option<bool>>,
    /// `-prune` and `-quit` are made `-true`: the real run may not reach them.
    neutral: bool,
}

/// Chooses the dry run's departures, the smallest first, that make it reach every entry the
/// real run could: checked by enumerating every truth value the tests, the judged actions'
/// outcomes and the run's changes can take (the first dry run that passes is used).
fn plan(tree: &Node, atoms: &[Atom], depth: bool) -> Result<Plan, String> {
    let changing: Vec<usize> = (0..atoms.len())
        .filter(|&n| matches!(atoms[n].kind, Kind::State { .. }))
        .collect();
    let unsure = atoms
        .iter()
        .any(|a| matches!(a.kind, Kind::Judged { sure: false }));
    let steers = atoms
        .iter()
        .any(|a| a.kind == Kind::Quit || (a.kind == Kind::Prune && !depth));
    let mut bias = vec![None; atoms.len()];
    if changing.is_empty() {
        // Up to the first judged action the two runs evaluate the same tests the same way;
        // only a failed action can keep the real run from a -prune or -quit the dry run takes.
        return Ok(Plan {
            bias,
            neutral: unsure && steers,
        });
    }
    let variables: u32 = atoms
        .iter()
        .map(|a| match a.kind {
            Kind::Test | Kind::Judged { sure: false } => 1,
            Kind::State { .. } => 3,
            _ => 0,
        })
        .sum();
    if variables > MAX_VARIABLES {
        return Err(too_complex(atoms, &changing));
    }
    // Each changing test: kept, or made true or false on the entries the run may change.
    let mut choices: Vec<Vec<Option<bool>>> = vec![Vec::new()];
    if changing.len() <= 4 {
        for _ in &changing {
            choices = choices
                .into_iter()
                .flat_map(|c| {
                    [None, Some(true), Some(false)].map(|b| {
                        let mut c = c.clone();
                        c.push(b);
                        c
                    })
                })
                .collect();
        }
        choices.sort_by_key(|c| c.iter().filter(|b| b.is_some()).count());
    } else {
        choices = vec![vec![None; changing.len()]];
    }
    let mut budget: u64 = 1 << 22;
    for neutral in [false, true] {
        if neutral && !steers {
            continue;
        }
        for choice in &choices {
            let cost = 1u64 << variables;
            if cost > budget {
                return Err(too_complex(atoms, &changing));
            }
            budget -= cost;
            for (&n, &b) in changing.iter().zip(choice) {
                bias[n] = b;
            }
            if superset(tree, atoms, depth, &bias, neutral, variables) {
                return Ok(Plan { bias, neutral });
            }
        }
    }
    Err(too_complex(atoms, &changing))
}

fn too_complex(atoms: &[Atom], changing: &[usize]) -> String {
    let names: Vec<_> = changing
        .iter()
        .filter_map(|&n| atoms[n].words.first())
        .map(|w| w.to_string_lossy())
        .collect();
    format!(
        "what find's {} match depends on what the run itself deletes first, in a way gardefou \
         cannot bound without running it",
        names.join(", ")
    )
}

/// What one evaluation of the expression did.
#[derive(Default)]
struct Trace {
    judged: bool,
    pruned: bool,
    quit: bool,
}

/// Whether, for every truth value the tests, the run's changes and the judged actions'
/// outcomes can take, the dry run reaches a judged action whenever the real run does, and
/// prunes or quits only where the real run does (so it walks at least the same entries).
fn superset(
    tree: &Node,
    atoms: &[Atom],
    depth: bool,
    bias: &[Option<bool>],
    neutral: bool,
    variables: u32,
) -> bool {
    let mut real = vec![false; atoms.len()];
    let mut dry = vec![false; atoms.len()];
    'values: for values in 0u32..(1 << variables) {
        let mut bit = 0;
        let mut next = || {
            let b = (values >> bit) & 1 == 1;
            bit += 1;
            b
        };
        for (n, atom) in atoms.iter().enumerate() {
            match atom.kind {
                Kind::Test => {
                    real[n] = next();
                    dry[n] = real[n];
                }
                Kind::State { drift, .. } => {
                    let (before, changed, after) = (next(), next(), next());
                    let allowed = match drift {
                        _ if !changed => after == before,
                        Drift::Up => after || !before,
                        Drift::Down => before || !after,
                        Drift::Both => true,
                    };
                    if !allowed {
                        continue 'values;
                    }
                    real[n] = after;
                    dry[n] = match bias[n] {
                        Some(b) if changed => b,
                        _ => before,
                    };
                }
                Kind::Judged { sure } => {
                    real[n] = sure || next();
                    dry[n] = true;
                }
                _ => {}
            }
        }
        let (mut r, mut d) = (Trace::default(), Trace::default());
        eval(tree, atoms, &real, depth, false, &mut r);
        eval(tree, atoms, &dry, depth, neutral, &mut d);
        if (r.judged && !d.judged) || (d.pruned && !r.pruned && !r.quit) || (d.quit && !r.quit) {
            return false;
        }
    }
    true
}

/// Evaluates the expression as find does (left to right, short-circuit); `None` once -quit.
fn eval(
    node: &Node,
    atoms: &[Atom],
    values: &[bool],
    depth: bool,
    neutral: bool,
    trace: &mut Trace,
) -> Option<bool> {
    let go = |n: &Node, t: &mut Trace| eval(n, atoms, values, depth, neutral, t);
    match node {
        Node::Atom(n) => match atoms[*n].kind {
            Kind::Const(v) => Some(v),
            Kind::Test | Kind::State { .. } => Some(values[*n]),
            Kind::Judged { .. } => {
                trace.judged = true;
                Some(values[*n])
            }
            Kind::Prune => {
                // -prune does nothing when directories come after their entries.
                trace.pruned |= !depth && !neutral;
                Some(true)
            }
            Kind::Quit if neutral => Some(true),
            Kind::Quit => {
                trace.quit = true;
                None
            }
        },
        Node::Not(a) => go(a, trace).map(|v| !v),
        Node::And(a, b) => match go(a, trace)? {
            true => go(b, trace),
            false => Some(false),
        },
        Node::Or(a, b) => match go(a, trace)? {
            true => Some(true),
            false => go(b, trace),
        },
        Node::Comma(a, b) => {
            go(a, trace)?;
            go(b, trace)
        }
    }
}
