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
const MATCH_FORMAT: &str = "%y%p\\0";

/// How many of find's standard error bytes are kept for a message.
const STDERR_KEPT: usize = 4096;

/// At most this many independent truth values are enumerated to check that the dry run reaches
/// everything the real run could (2^18 evaluations of the expression; 2^22 in all for the
/// departures tried: tens of milliseconds for the longest expressions, microseconds for the
/// usual ones).
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
    /// Every judged action is `-delete`, which removes neither `.` nor a directory that keeps
    /// an entry.
    delete_only: bool,
    /// `run` reads each listed directory to drop those that would keep an entry. Not when a
    /// symlink is followed (a directory may be emptied under another name than the one its
    /// entries are listed under), nor when every entry find visits is listed and it visits
    /// every entry (then each listed directory is emptied).
    refine: bool,
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
    let mut follow_starts = false;
    while let Some(a) = args.get(i) {
        match a.as_bytes() {
            b"-L" => follow = true,
            // -H follows only the start points: one that is a symlink to a directory is
            // tested as that directory, which the directories' reach already covers.
            b"-H" => {
                follow = false;
                follow_starts = true;
            }
            b"-P" => {
                follow = false;
                follow_starts = false;
            }
            b"-D" => {
                let value = args.get(i + 1).ok_or("find's -D needs a debug option")?;
                if value.as_bytes().split(|&b| b == b',').any(|o| o == b"help") {
                    return Err(
                        "find -D help prints find's debug options and looks at no file".into(),
                    );
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
            refine: false,
            dedupe: false,
        });
    }
    if scan.delete && scan.prune && !scan.depth {
        return Err(
            "find refuses -prune with -delete unless -depth is given (-delete implies \
                    -depth, where -prune does nothing)"
                .into(),
        );
    }
    let judged = scan
        .atoms
        .iter()
        .filter(|a| matches!(a.kind, Kind::Judged { .. }))
        .count();
    let tree = Parser {
        toks: &scan.toks,
        atoms: &scan.atoms,
        pos: 0,
        commas: 0,
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
        Some((tree, commas)) if judged > 0 => plan(tree, *commas, &scan.atoms, depth)?,
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
    let delete_only = judged > 0 && !scan.exec;
    let everything = !scan.limits
        && tree
            .as_ref()
            .is_some_and(|(tree, commas)| always_judged(tree, *commas, &scan.atoms));
    Ok(DryRun {
        args: out,
        writes: scan.writes,
        judged,
        delete_only,
        refine: delete_only && !scan.follow && !follow_starts && !everything,
        dedupe: starts != 1 || judged > 1,
    })
}

/// Runs the dry run's `find` in `cwd` and collects what it matched: at most `limit` entries,
/// for at most `timeout` (then `truncated` says so).
pub fn run(dry: &DryRun, cwd: &Path, limit: usize, timeout: Duration) -> Result<Matches, String> {
    run_with(OsStr::new("find"), dry, cwd, limit, timeout)
}

/// `run` with the program found on PATH as `find`.
fn run_with(
    find: &OsStr,
    dry: &DryRun,
    cwd: &Path,
    limit: usize,
    timeout: Duration,
) -> Result<Matches, String> {
    if dry.judged == 0 {
        return Ok(Matches::default());
    }
    let deadline = Instant::now() + timeout;
    let mut child = Command::new(find)
        .args(&dry.args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => format!("{} is not on PATH", find.to_string_lossy()),
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
        let _ = (&mut stderr)
            .take(STDERR_KEPT as u64)
            .read_to_end(&mut kept);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        kept
    });

    // How many entries each directory `-delete` would remove holds now, counted by a second
    // thread while find walks on (find lists a directory after its entries).
    let (dirs, listed_dirs) = mpsc::channel::<(usize, PathBuf)>();
    let give_up = Arc::new(AtomicBool::new(false));
    let counter = dry.refine.then(|| {
        let give_up = Arc::clone(&give_up);
        thread::spawn(move || {
            listed_dirs
                .into_iter()
                .map(|(n, dir)| {
                    let late = give_up.load(Ordering::SeqCst) || Instant::now() > deadline;
                    (n, if late { None } else { entries_held(&dir) })
                })
                .collect::<Vec<_>>()
        })
    });
    let mut paths = Vec::new();
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
        if kind == b'd' && dry.refine {
            let _ = dirs.send((paths.len(), path.clone()));
        }
        paths.push(path);
    }
    drop(reader);
    if truncated.is_some() || read_error.is_some() {
        let _ = kill(pid, Signal::SIGKILL);
        give_up.store(true, Ordering::SeqCst);
    }
    drop(stop);
    let _ = watchdog.join();
    drop(dirs);
    let held = counter
        .map(|c| c.join().unwrap_or_default())
        .unwrap_or_default();
    let status = child.wait().map_err(|e| format!("waiting for find: {e}"))?;
    let stderr = errors.join().unwrap_or_default();
    if timed_out.load(Ordering::SeqCst) && truncated.is_none() {
        truncated = Some(format!(
            "find ran longer than {}",
            humantime::format_duration(timeout)
        ));
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
    if truncated.is_none() {
        keep_removable_dirs(&mut paths, &held);
    }
    Ok(Matches { paths, truncated })
}

/// Whether find reads `arg`, in the start point position, as the beginning of the expression
/// (GNU's `looks_like_expression` with `leading` set: `-`, `)` and `,` alone are file names).
fn looks_like_expression(arg: &[u8]) -> bool {
    matches!(arg, [b'-', _, ..] | b"!" | b"(")
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

/// `raw` as an absolute path (relative ones under `cwd`), without find's `./`, `//` and
/// trailing `/`: the same entry always gets the same bytes, and a directory's are its entries'
/// up to their last `/`.
fn absolute(cwd: &Path, raw: &[u8]) -> PathBuf {
    let base = cwd.as_os_str().as_bytes();
    let mut bytes = Vec::with_capacity(base.len() + 1 + raw.len());
    if raw.first() != Some(&b'/') {
        bytes.extend_from_slice(base);
    }
    for part in raw.split(|&b| b == b'/') {
        if part.is_empty() || part == b"." {
            continue;
        }
        if !bytes.ends_with(b"/") {
            bytes.push(b'/');
        }
        bytes.extend_from_slice(part);
    }
    if bytes.is_empty() {
        bytes.push(b'/');
    }
    PathBuf::from(OsString::from_vec(bytes))
}

/// The path of the directory holding `path` (as `absolute` writes them).
fn parent_of(path: &[u8]) -> Option<&[u8]> {
    match path.iter().rposition(|&b| b == b'/')? {
        0 if path.len() > 1 => Some(b"/"),
        0 => None,
        n => Some(&path[..n]),
    }
}

/// How many entries the directory `dir` holds; `None` when it is not one (a symlink to one),
/// or cannot be read to the end.
fn entries_held(dir: &Path) -> Option<usize> {
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    let mut held = 0;
    for entry in std::fs::read_dir(dir).ok()? {
        entry.ok()?;
        held += 1;
    }
    Some(held)
}

/// Drops the directories `-delete` could not remove: `rmdir` fails on a directory that still
/// holds an entry the run does not delete. `held`: the listed directories' indexes in `paths`
/// and how many entries each holds (`None`: unknown, it stays listed). Deepest first, so that
/// a kept subdirectory counts as deleted for its parent and a dropped one does not.
fn keep_removable_dirs(paths: &mut Vec<PathBuf>, held: &[(usize, Option<usize>)]) {
    let bytes = |n: usize| paths[n].as_os_str().as_bytes();
    let mut known: Vec<(usize, usize)> = held.iter().filter_map(|&(n, h)| Some((n, h?))).collect();
    if known.is_empty() {
        return;
    }
    let mut deleted: HashMap<&[u8], usize> = known.iter().map(|&(n, _)| (bytes(n), 0)).collect();
    for p in paths.iter() {
        if let Some(n) = parent_of(p.as_os_str().as_bytes()).and_then(|d| deleted.get_mut(d)) {
            *n += 1;
        }
    }
    known.sort_by_key(|&(n, _)| Reverse(bytes(n).iter().filter(|&&b| b == b'/').count()));
    let mut dropped = HashSet::new();
    for (n, held) in known {
        let dir = bytes(n);
        if deleted.get(dir).is_some_and(|&d| d < held) {
            dropped.insert(n);
            if let Some(d) = parent_of(dir).and_then(|p| deleted.get_mut(p)) {
                *d = d.saturating_sub(1);
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
    /// The name or path find has in hand: true or false whatever becomes of the entry.
    Name,
    /// Link target, inode, file system: nothing the run changes, but read from the entry.
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
    /// Always this value: `-true`, `-false`, options.
    Const(bool),
    /// An output (`-print`, `-fls`…), replaced by one that writes nothing: always true.
    Output,
    /// The same value in both runs.
    Test,
    /// A test whose value the real run may change before testing (on `reach` entries only).
    State {
        drift: Drift,
        reach: Reach,
    },
    /// A judged action: a match output in the dry run. `sure`: always true in the real run
    /// too (`-exec … {} +`); otherwise it may fail (`-delete` of a non-empty directory).
    Judged {
        sure: bool,
    },
    Prune,
    Quit,
}

#[derive(Debug, Clone)]
struct Atom {
    /// The words the dry run has in its place.
    words: Vec<OsString>,
    kind: Kind,
    /// An action (side effects, for find's optimiser) in the real run and the dry run alike.
    acts: bool,
    reads: Reads,
    operand: Option<OsString>,
}

impl Atom {
    fn emit(&self, bias: Option<bool>, neutral: bool) -> Vec<OsString> {
        match (self.kind, bias) {
            (Kind::Prune | Kind::Quit, _) if neutral => no_op(),
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
    /// `-maxdepth`, `-xdev` or `-mount`: find may leave a directory's entries unvisited.
    limits: bool,
    /// Some judged action is an `-exec`, `-execdir`, `-ok` or `-okdir`.
    exec: bool,
    help: bool,
}

impl Scan {
    fn atom(&mut self, words: Vec<OsString>, kind: Kind, reads: Reads, operand: Option<OsString>) {
        let acts = matches!(
            kind,
            Kind::Judged { .. } | Kind::Output | Kind::Prune | Kind::Quit
        );
        self.toks.push(Tok::Atom(self.atoms.len()));
        self.atoms.push(Atom {
            words,
            kind,
            acts,
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
                if words.is_empty() {
                    return Err(format!("find's {shown} has no command"));
                }
                if !is_effect_exec(words) {
                    let text: Vec<_> = words.iter().map(|w| w.to_string_lossy()).collect();
                    let end = if batch { "+" } else { ";" };
                    return Err(format!(
                        "its {shown} {} {end} is a test gardefou cannot evaluate without running it",
                        text.join(" ")
                    ));
                }
                self.exec = true;
                self.atom(
                    match_output(),
                    Kind::Judged { sure: batch },
                    Reads::Fixed,
                    None,
                );
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
                        b"-maxdepth" | b"-xdev" | b"-mount" => self.limits = true,
                        b"-follow" => self.follow = true,
                        b"-files0-from" if operand.as_deref() == Some(OsStr::new("-")) => {
                            return Err(
                                "find -files0-from - reads its start points from standard \
                                        input, which gardefou cannot replay"
                                    .into(),
                            );
                        }
                        _ => {}
                    }
                    self.atom(words, Kind::Const(true), Reads::Fixed, None);
                }
                Class::Output => self.atom(no_op(), Kind::Output, Reads::Fixed, None),
                Class::OutputTo => {
                    self.writes.extend(operand);
                    self.atom(no_op(), Kind::Output, Reads::Fixed, None);
                }
                Class::Delete => {
                    self.delete = true;
                    self.atom(
                        match_output(),
                        Kind::Judged { sure: false },
                        Reads::Fixed,
                        None,
                    );
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

/// An action that writes nothing and is true, as the outputs it replaces: find's optimiser
/// only reorders what has no side effects, and must see the dry run as it sees the real one.
fn no_op() -> Vec<OsString> {
    vec!["-printf".into(), "".into()]
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
        b"-true" | b"-false" => (Test(Name), 0),
        b"-name" | b"-iname" | b"-path" | b"-ipath" | b"-wholename" | b"-iwholename"
        | b"-regex" | b"-iregex" => (Test(Name), 1),
        b"-lname" | b"-ilname" | b"-inum" | b"-samefile" | b"-fstype" => (Test(Fixed), 1),
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
        b"-readable" | b"-writable" | b"-executable" | b"-nouser" | b"-nogroup" => (Test(Owner), 0),
        b"-perm" | b"-user" | b"-group" | b"-uid" | b"-gid" | b"-context" => (Test(Owner), 1),
        b"-depth"
        | b"-d"
        | b"-ignore_readdir_race"
        | b"-noignore_readdir_race"
        | b"-mount"
        | b"-xdev"
        | b"-noleaf"
        | b"-daystart"
        | b"-follow"
        | b"-warn"
        | b"-nowarn" => (Setting, 0),
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
        Reads::Name | Reads::Fixed => return None,
        Reads::Age(stamp) | Reads::Newer(stamp) => {
            match stamp {
                Stamp::Birth => return None,
                // Reading a directory may give it a new atime (relatime): the dry run's own
                // walk does, before the real run tests it. rm does not read what it removes;
                // a command may.
                Stamp::Access => {
                    reach.dirs = true;
                    reach.linked = mode.exec;
                }
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
                _ => match std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    Some(n) if n.abs() < f64::EPSILON => Drift::Up,
                    Some(_) => Drift::Down,
                    None => Drift::Both,
                },
            }
        }
        Reads::Used => {
            reach.dirs = true;
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
            if mode.exec {
                Drift::Both
            } else {
                count_drift(arg)
            }
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
    /// With the number of the choice between its sides when both are free of actions: find's
    /// optimiser may then swap them (GNU findutils 4.9 does, by cost), and the value of `,`
    /// becomes the other side's.
    Comma(Box<Node>, Box<Node>, Option<usize>),
}

impl Node {
    fn acts(&self, atoms: &[Atom]) -> bool {
        match self {
            Node::Atom(n) => atoms[*n].acts,
            Node::Not(a) => a.acts(atoms),
            Node::And(a, b) | Node::Or(a, b) | Node::Comma(a, b, _) => {
                a.acts(atoms) || b.acts(atoms)
            }
        }
    }
}

struct Parser<'a> {
    toks: &'a [Tok],
    atoms: &'a [Atom],
    pos: usize,
    /// Commas whose sides find may swap, so far.
    commas: usize,
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

    /// The whole expression, and how many of its commas find may swap; `None` when there is
    /// no expression.
    fn expression(mut self) -> Result<Option<(Node, usize)>, String> {
        if self.toks.is_empty() {
            return Ok(None);
        }
        let node = self.comma()?;
        match self.peek() {
            None => Ok(Some((node, self.commas))),
            Some(_) => Err("find's expression has an unmatched ')'".into()),
        }
    }

    fn comma(&mut self) -> Result<Node, String> {
        let mut node = self.or()?;
        while self.peek_op() == Some(Op::Comma) {
            self.pos += 1;
            let right = self.or()?;
            let swappable = !node.acts(self.atoms) && !right.acts(self.atoms);
            let choice = swappable.then(|| {
                self.commas += 1;
                self.commas - 1
            });
            node = Node::Comma(Box::new(node), Box::new(right), choice);
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
    /// `-prune` and `-quit` are made no-ops: the real run may not reach them.
    neutral: bool,
}

/// Chooses the dry run's departures, the smallest first, that make it reach every entry the
/// real run could: checked by enumerating every truth value the tests, the judged actions'
/// outcomes and the run's changes can take (the first dry run that passes is used).
fn plan(tree: &Node, commas: usize, atoms: &[Atom], depth: bool) -> Result<Plan, String> {
    let changing: Vec<usize> = (0..atoms.len())
        .filter(|&n| matches!(atoms[n].kind, Kind::State { .. }))
        .collect();
    let steer = |a: &Atom| a.kind == Kind::Quit || (a.kind == Kind::Prune && !depth);
    let steers = atoms.iter().any(steer);
    // After a -delete or a `;` command, which may fail or remove the entry at once (find
    // stats lazily: a test after it may then fail), the runs may differ; that only matters
    // to a -prune or -quit after it.
    let first_unsure = atoms
        .iter()
        .position(|a| matches!(a.kind, Kind::Judged { sure: false }));
    let steers_late = first_unsure.is_some_and(|f| atoms[f + 1..].iter().any(steer));
    let late: Vec<bool> = (0..atoms.len())
        .map(|n| {
            steers_late
                && first_unsure.is_some_and(|f| n > f)
                && matches!(atoms[n].kind, Kind::Test | Kind::State { .. })
                && atoms[n].reads != Reads::Name
        })
        .collect();
    let mut bias = vec![None; atoms.len()];
    // Up to the first judged action the two runs evaluate the same tests the same way: only
    // tests the run changes, or what follows an action that may fail, can make them differ.
    if changing.is_empty() && !steers_late {
        return Ok(Plan {
            bias,
            neutral: false,
        });
    }
    // The two runs' choices of a swappable comma's side are independent: a widened test
    // costs find's optimiser more than the test alone.
    let variables: u32 = atoms
        .iter()
        .map(|a| match a.kind {
            Kind::Test | Kind::Judged { sure: false } => 1,
            Kind::State { .. } => 3,
            _ => 0,
        })
        .sum::<u32>()
        + u32::try_from(late.iter().filter(|&&l| l).count()).unwrap_or(MAX_VARIABLES)
        + 2 * u32::try_from(commas).unwrap_or(MAX_VARIABLES);
    if variables > MAX_VARIABLES {
        if changing.is_empty() {
            // Without -prune and -quit the dry run walks everything the real one could.
            return Ok(Plan {
                bias,
                neutral: true,
            });
        }
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
            let shape = Shape {
                tree,
                commas,
                atoms,
                late: &late,
                depth,
            };
            if superset(&shape, &bias, neutral, variables) {
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
    let what = if names.is_empty() {
        "expression".to_owned()
    } else {
        names.join(", ")
    };
    format!(
        "what find's {what} match depends on what the run itself deletes first, in a way \
         gardefou cannot bound without running it"
    )
}

/// Whether every entry reaches a judged action in the dry run, whatever its tests say
/// (`find DIR -delete`, `-mindepth 1 -delete`). `false` when too long to tell.
fn always_judged(tree: &Node, commas: usize, atoms: &[Atom]) -> bool {
    let tests: Vec<usize> = (0..atoms.len())
        .filter(|&n| matches!(atoms[n].kind, Kind::Test | Kind::State { .. }))
        .collect();
    let variables = tests.len() + commas;
    if variables > MAX_VARIABLES as usize {
        return false;
    }
    let mut values = Values {
        atoms: vec![true; atoms.len()],
        late: vec![None; atoms.len()],
        commas: vec![false; commas],
    };
    (0u32..1 << variables).all(|bits| {
        for (k, &n) in tests.iter().enumerate() {
            values.atoms[n] = (bits >> k) & 1 == 1;
        }
        for c in 0..commas {
            values.commas[c] = (bits >> (tests.len() + c)) & 1 == 1;
        }
        let mut trace = Trace::default();
        eval(tree, atoms, &values, false, false, &mut trace);
        trace.judged
    })
}

/// What one evaluation of the expression did.
#[derive(Default)]
struct Trace {
    judged: bool,
    pruned: bool,
    quit: bool,
}

/// Whether, for every truth value the tests, the run's changes and the judged actions'
/// outcomes can take (and either side of a swappable comma), the dry run reaches a judged
/// action whenever the real run does, and prunes or quits only where the real run does (so
/// it walks at least the same entries).
fn superset(shape: &Shape, bias: &[Option<bool>], neutral: bool, variables: u32) -> bool {
    let Shape {
        tree,
        commas,
        atoms,
        late,
        depth,
    } = *shape;
    let mut real = Values {
        atoms: vec![false; atoms.len()],
        late: vec![None; atoms.len()],
        commas: vec![false; commas],
    };
    let mut dry = real.clone();
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
                    real.atoms[n] = next();
                    dry.atoms[n] = real.atoms[n];
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
                    real.atoms[n] = after;
                    dry.atoms[n] = match bias[n] {
                        Some(b) if changed => b,
                        _ => before,
                    };
                }
                Kind::Judged { sure } => {
                    real.atoms[n] = sure || next();
                    dry.atoms[n] = true;
                }
                _ => {}
            }
        }
        for n in (0..atoms.len()).filter(|&n| late[n]) {
            real.late[n] = Some(next());
        }
        for c in 0..commas {
            real.commas[c] = next();
            dry.commas[c] = next();
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

/// The expression as `superset` checks it.
#[derive(Clone, Copy)]
struct Shape<'a> {
    tree: &'a Node,
    /// How many commas find may swap.
    commas: usize,
    atoms: &'a [Atom],
    /// The tests that may read a removed entry (after an action that may remove it).
    late: &'a [bool],
    depth: bool,
}

/// One run's truth values: per atom, before and after a judged action (`None`: the same), and
/// per swappable comma whether find swapped its sides.
#[derive(Clone)]
struct Values {
    atoms: Vec<bool>,
    late: Vec<Option<bool>>,
    commas: Vec<bool>,
}

/// Evaluates the expression as find does (left to right, short-circuit); `None` once -quit.
fn eval(
    node: &Node,
    atoms: &[Atom],
    values: &Values,
    depth: bool,
    neutral: bool,
    trace: &mut Trace,
) -> Option<bool> {
    let go = |n: &Node, t: &mut Trace| eval(n, atoms, values, depth, neutral, t);
    match node {
        Node::Atom(n) => match atoms[*n].kind {
            Kind::Const(v) => Some(v),
            Kind::Output => Some(true),
            Kind::Test | Kind::State { .. } => Some(match values.late[*n] {
                Some(after) if trace.judged => after,
                _ => values.atoms[*n],
            }),
            Kind::Judged { .. } => {
                trace.judged = true;
                Some(values.atoms[*n])
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
        Node::Comma(a, b, choice) => {
            let left = go(a, trace)?;
            let right = go(b, trace)?;
            Some(match choice {
                Some(c) if values.commas[*c] => left,
                _ => right,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, symlink};
    use std::time::SystemTime;

    use nix::sys::stat::{UtimensatFlags, utimensat};
    use nix::sys::time::TimeSpec;

    const M: &str = MATCH_FORMAT;

    fn words(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    /// The caller's judgement of `-exec` commands in these tests: rm, shred, truncate, chmod.
    fn effect(cmd: &[OsString]) -> bool {
        matches!(
            cmd.first().map(|w| w.as_bytes()),
            Some(b"rm" | b"shred" | b"truncate" | b"chmod")
        )
    }

    fn dry(s: &[&str]) -> DryRun {
        dry_run_args(&words(s), &effect).expect("a dry run")
    }

    fn rewritten(s: &[&str]) -> Vec<String> {
        dry(s)
            .args
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    fn refusal(s: &[&str]) -> String {
        dry_run_args(&words(s), &effect).expect_err("refused")
    }

    #[test]
    fn delete_becomes_a_match_output_after_an_added_depth() {
        let d = dry(&["/var/log", "-name", "*.gz", "-mtime", "+30", "-delete"]);
        assert_eq!(
            d.args,
            words(&[
                "/var/log", "-depth", "-name", "*.gz", "-mtime", "+30", "-printf", M
            ])
        );
        assert_eq!(d.judged, 1);
        assert!(d.writes.is_empty());
        // An explicit -depth is not repeated; no start point: -depth comes first.
        assert_eq!(rewritten(&["-depth", "-delete"]), ["-depth", "-printf", M]);
        assert_eq!(rewritten(&["-delete"]), ["-depth", "-printf", M]);
    }

    #[test]
    fn directories_are_read_back_only_when_an_entry_may_stay() {
        for (args, refine) in [
            (&[".", "-delete"][..], false),
            (&[".", "-mindepth", "1", "-delete"], false),
            (&[".", "-name", "x", "-delete", "-o", "-delete"], false),
            (&[".", "-maxdepth", "3", "-delete"], true),
            (&[".", "-xdev", "-delete"], true),
            (&[".", "-name", "*.gz", "-delete"], true),
            (&[".", "-type", "d", "-empty", "-delete"], true),
            (&["-L", ".", "-type", "d", "-empty", "-delete"], false),
            (&[".", "-name", "*.gz", "-exec", "rm", "{}", "+"], false),
        ] {
            assert_eq!(dry(args).refine, refine, "{args:?}");
        }
    }

    #[test]
    fn leading_options_and_start_points_pass_through() {
        assert_eq!(
            rewritten(&[
                "-L",
                "-D",
                "stat,tree",
                "-O3",
                "-H",
                "-P",
                "a",
                "b c",
                "-",
                ")",
                "-delete"
            ]),
            [
                "-L",
                "-D",
                "stat,tree",
                "-O3",
                "-H",
                "-P",
                "a",
                "b c",
                "-",
                ")",
                "-depth",
                "-printf",
                M
            ]
        );
        assert_eq!(
            rewritten(&["--", "/srv", "(", "-name", "x", ")", "-delete"]),
            ["--", "/srv", "-depth", "(", "-name", "x", ")", "-printf", M]
        );
        assert!(refusal(&["-D", "help", ".", "-delete"]).contains("-D help"));
    }

    #[test]
    fn effect_exec_becomes_a_match_output_with_semicolon_or_plus() {
        for (exec, end) in [
            ("-exec", ";"),
            ("-exec", "+"),
            ("-execdir", ";"),
            ("-execdir", "+"),
        ] {
            assert_eq!(
                rewritten(&[
                    "/srv", "-name", "*.tmp", exec, "rm", "-f", "{}", end, "-print"
                ]),
                ["/srv", "-name", "*.tmp", "-printf", M, "-printf", ""],
                "{exec} … {end}"
            );
        }
        for ok in ["-ok", "-okdir"] {
            assert_eq!(
                rewritten(&["/srv", ok, "rm", "{}", ";"]),
                ["/srv", "-printf", M]
            );
        }
        // No -depth: only -delete implies it.
        assert_eq!(
            rewritten(&[".", "-exec", "shred", "-u", "{}", "+"]),
            [".", "-printf", M]
        );
        let seen = std::cell::RefCell::new(Vec::new());
        let judge = |cmd: &[OsString]| {
            seen.borrow_mut().push(cmd.to_vec());
            true
        };
        dry_run_args(
            &words(&[
                ".", "-exec", "rm", "{}", "+", "-exec", "rm", "-r", "{}", "x", ";",
            ]),
            &judge,
        )
        .expect("a dry run");
        assert_eq!(
            *seen.borrow(),
            [words(&["rm", "{}"]), words(&["rm", "-r", "{}", "x"])]
        );
    }

    #[test]
    fn plus_ends_an_exec_only_right_after_braces_and_never_an_ok() {
        let seen = std::cell::RefCell::new(Vec::new());
        let judge = |cmd: &[OsString]| {
            seen.borrow_mut().push(cmd.to_vec());
            true
        };
        let d = dry_run_args(
            &words(&[
                ".", "-exec", "rm", "+", "{}", ";", "-ok", "rm", "{}", "+", ";",
            ]),
            &judge,
        )
        .expect("a dry run");
        assert_eq!(
            *seen.borrow(),
            [words(&["rm", "+", "{}"]), words(&["rm", "{}", "+"])]
        );
        assert_eq!(d.judged, 2);
        assert!(refusal(&[".", "-exec", "rm", "{}", "+x"]).contains("no terminating ';'"));
    }

    #[test]
    fn operators_and_nested_parentheses_are_kept() {
        assert_eq!(
            rewritten(&[
                "/srv", "(", "(", "-name", "a", "-o", "-iname", "B", ")", "-a", "!", "-type", "d",
                ")", "-or", "-not", "-path", "*/keep/*", ",", "-size", "+1M", "-delete",
            ]),
            [
                "/srv", "-depth", "(", "(", "-name", "a", "-o", "-iname", "B", ")", "-a", "!",
                "-type", "d", ")", "-or", "-not", "-path", "*/keep/*", ",", "-size", "+1M",
                "-printf", M,
            ]
        );
        assert!(refusal(&[".", "(", "-name", "a", "-delete"]).contains("unmatched '('"));
        assert!(refusal(&[".", "-name", "a", ")", "-delete"]).contains("unmatched ')'"));
        assert!(refusal(&[".", "(", ")", "-delete"]).contains("empty parentheses"));
        assert!(refusal(&[".", "-delete", "-o"]).contains("ends where an operand"));
        assert!(refusal(&[".", "-a", "-delete"]).contains("-a where an operand"));
    }

    #[test]
    fn outputs_become_no_ops_and_output_files_are_writes() {
        let d = dry(&[
            ".", "-print", "-print0", "-printf", "%p\\n", "-ls", "-fprint", "a", "-fprint0", "b",
            "-fls", "c", "-fprintf", "d", "%s\\n", "-delete",
        ]);
        // Each an action that writes nothing (not -true: find's optimiser reorders only
        // what has no side effects, and must treat both runs alike).
        let mut expected = vec![".", "-depth"];
        for _ in 0..8 {
            expected.extend(["-printf", ""]);
        }
        expected.extend(["-printf", M]);
        assert_eq!(d.args, words(&expected));
        assert_eq!(d.writes, words(&["a", "b", "c", "d"]));
        let none = dry(&[".", "-fprint", "list"]);
        assert_eq!(none.judged, 0);
        assert_eq!(none.writes, words(&["list"]));
    }

    #[test]
    fn prune_and_quit_before_the_judged_action_pass_through() {
        assert_eq!(
            rewritten(&[
                ".", "-path", "./keep", "-prune", "-o", "-name", "*.tmp", "-exec", "rm", "{}", ";"
            ]),
            [
                ".", "-path", "./keep", "-prune", "-o", "-name", "*.tmp", "-printf", M
            ]
        );
        assert_eq!(
            rewritten(&[
                ".", "-name", "stop", "-quit", "-o", "-exec", "rm", "{}", "+"
            ]),
            [".", "-name", "stop", "-quit", "-o", "-printf", M]
        );
        // `{} +` always succeeds: the -prune after it is reached in both runs alike.
        assert_eq!(
            rewritten(&[
                ".", "-name", "cache", "-exec", "rm", "-rf", "{}", "+", "-prune"
            ]),
            [".", "-name", "cache", "-printf", M, "-prune"]
        );
    }

    #[test]
    fn prune_or_quit_after_an_action_that_may_fail_is_not_trusted() {
        // rm may fail: the real run then does not prune, and walks into the directory.
        assert_eq!(
            rewritten(&[
                ".", "-name", "cache", "-exec", "rm", "-rf", "{}", ";", "-prune"
            ]),
            [".", "-name", "cache", "-printf", M, "-printf", ""]
        );
        assert_eq!(
            rewritten(&[".", "-name", "*.gz", "-delete", "-quit"]),
            [".", "-depth", "-name", "*.gz", "-printf", M, "-printf", ""]
        );
    }

    #[test]
    fn an_exec_that_is_not_the_judged_action_is_refused() {
        assert_eq!(
            refusal(&[".", "-exec", "grep", "-q", "x", "{}", ";", "-delete"]),
            "its -exec grep -q x {} ; is a test gardefou cannot evaluate without running it"
        );
        assert!(
            refusal(&[".", "-execdir", "test", "-s", "{}", "+", "-delete"])
                .contains("-execdir test")
        );
        assert!(refusal(&[".", "-exec", ";"]).contains("-exec has no command"));
    }

    #[test]
    fn unknown_primaries_and_missing_arguments_are_refused() {
        assert!(refusal(&[".", "-fooo", "-delete"]).contains("-fooo is not a primary"));
        assert!(refusal(&[".", "-newerxm", "r", "-delete"]).contains("-newerxm"));
        assert!(refusal(&[".", "-name"]).contains("-name needs 1 argument"));
        assert!(refusal(&[".", "-fprintf", "f"]).contains("-fprintf needs 2 argument"));
        assert!(refusal(&[".", "-delete", "stray"]).contains("stray where a primary"));
        assert!(refusal(&[".", "-exec", "rm", "{}"]).contains("no terminating"));
        for known in [
            "-newermt",
            "-newerBa",
            "-newerct",
            "-regextype",
            "-maxdepth",
            "-mindepth",
            "-used",
            "-context",
        ] {
            assert!(
                dry_run_args(&words(&[".", known, "1", "-delete"]), &effect).is_ok(),
                "{known}"
            );
        }
    }

    #[test]
    fn a_find_that_judges_nothing_has_no_run() {
        for s in [&[".", "-name", "x"][..], &[".", "-print"], &["/"], &[]] {
            let d = dry(s);
            assert_eq!(d.judged, 0, "{s:?}");
            let m = run(&d, Path::new("/"), 10, Duration::from_secs(1)).expect("no run");
            assert_eq!(m, Matches::default());
        }
        // -help and -version print and exit before find looks at a file.
        assert_eq!(dry(&[".", "-delete", "-help"]).judged, 0);
        assert_eq!(dry(&["-version", "-delete"]).judged, 0);
    }

    #[test]
    fn empty_under_delete_counts_every_directory_as_possibly_empty() {
        // Deleting a directory's entries empties it before find tests it (-delete walks depth
        // first): the dry run cannot see that, so every directory may be; `run` then keeps
        // only those whose every entry is deleted.
        assert_eq!(
            rewritten(&["/tmp/x", "-type", "d", "-empty", "-delete"]),
            [
                "/tmp/x", "-depth", "-type", "d", "(", "-empty", "-o", "-type", "d", ")",
                "-printf", M
            ]
        );
        // A plain walk tests a directory before its entries: nothing changes under it first.
        // But a command may change a file (truncate) whose other hard link comes later.
        assert_eq!(
            rewritten(&["/tmp/x", "-empty", "-exec", "rm", "-r", "{}", "+"]),
            [
                "/tmp/x", "(", "-empty", "-o", "(", "!", "-type", "d", "-links", "+1", ")", ")",
                "-printf", M,
            ]
        );
        assert_eq!(
            rewritten(&[
                "/tmp/x", "-type", "d", "-empty", "-delete", "-o", "-empty", "-delete"
            ]),
            [
                "/tmp/x", "-depth", "-type", "d", "(", "-empty", "-o", "-type", "d", ")",
                "-printf", M, "-o", "(", "-empty", "-o", "-type", "d", ")", "-printf", M,
            ]
        );
    }

    #[test]
    fn age_tests_the_run_can_only_make_false_are_kept() {
        // A directory whose entries are deleted gets a new mtime: "older than 30 days" can only
        // become false, "newer than the reference" only true.
        for s in [
            &["-mtime", "+30"][..],
            &["-mmin", "+60"],
            &["-mtime", "3"],
            &["!", "-newer", "ref"],
            &["!", "-mtime", "-2"],
            &["-cmin", "+5"],
            &["-atime", "+1"],
            &["-newerBt", "2020-01-01"],
        ] {
            let mut input = vec!["."];
            input.extend(s);
            input.push("-delete");
            let mut expected = vec![".", "-depth"];
            expected.extend(s);
            expected.extend(["-printf", M]);
            assert_eq!(rewritten(&input), expected, "{s:?}");
        }
    }

    #[test]
    fn age_tests_the_run_can_make_true_count_directories_as_matching() {
        assert_eq!(
            rewritten(&[".", "!", "-mtime", "+30", "-delete"]),
            [
                ".", "-depth", "!", "(", "-mtime", "+30", "!", "-type", "d", ")", "-printf", M
            ]
        );
        assert_eq!(
            rewritten(&[".", "-newer", "ref", "-delete"]),
            [
                ".", "-depth", "(", "-newer", "ref", "-o", "-type", "d", ")", "-printf", M
            ]
        );
        // Even without a deletion: the dry run's own walk may give a directory a new atime.
        assert_eq!(
            rewritten(&[".", "-atime", "-1", "-exec", "rm", "{}", "+"]),
            [
                ".", "(", "-atime", "-1", "-o", "(", "-type", "d", "-o", "(", "!", "-type", "d",
                "-links", "+1", ")", ")", ")", "-printf", M,
            ]
        );
        // A hard link removed changes the other links' ctime and count.
        assert_eq!(
            rewritten(&[".", "-links", "1", "-exec", "rm", "{}", "+"]),
            [
                ".", "(", "-links", "1", "-o", "(", "!", "-type", "d", "-links", "+1", ")", ")",
                "-printf", M
            ]
        );
        // With -L any entry may lead to a changed one.
        assert_eq!(
            rewritten(&["-L", ".", "-cmin", "-5", "-delete"]),
            ["-L", ".", "-depth", "-true", "-printf", M]
        );
    }

    #[test]
    fn delete_with_prune_without_depth_is_refused_like_find_does() {
        assert!(refusal(&[".", "-path", "./k", "-prune", "-o", "-delete"]).contains("-prune"));
        assert_eq!(
            rewritten(&[".", "-depth", "-path", "./k", "-prune", "-o", "-delete"]),
            [".", "-depth", "-path", "./k", "-prune", "-o", "-printf", M]
        );
    }

    #[test]
    fn start_points_from_a_file_pass_but_not_from_standard_input() {
        assert_eq!(
            rewritten(&["-files0-from", "list", "-delete"]),
            ["-depth", "-files0-from", "list", "-printf", M]
        );
        assert!(refusal(&["-files0-from", "-", "-delete"]).contains("standard input"));
    }

    #[test]
    fn printed_paths_become_absolute_and_the_unremovable_are_known() {
        let cwd = Path::new("/srv/app");
        assert_eq!(absolute(cwd, b"./a/b"), Path::new("/srv/app/a/b"));
        assert_eq!(absolute(cwd, b"."), cwd);
        assert_eq!(absolute(cwd, b"./"), cwd);
        assert_eq!(absolute(cwd, b"-rf"), Path::new("/srv/app/-rf"));
        assert_eq!(
            absolute(cwd, b"/x/\xff\n"),
            Path::new(OsStr::from_bytes(b"/x/\xff\n"))
        );
        assert_eq!(absolute(Path::new("/"), b"a"), Path::new("/a"));
        assert_eq!(absolute(cwd, b"a//b/./c/").as_os_str(), "/srv/app/a/b/c");
        assert_eq!(absolute(cwd, b"//").as_os_str(), "/");
        assert_eq!(parent_of(b"/srv/app/a"), Some(&b"/srv/app"[..]));
        assert_eq!(parent_of(b"/srv"), Some(&b"/"[..]));
        assert_eq!(parent_of(b"/"), None);
        for raw in [&b"."[..], b"./", b"/", b"//", b"a/.", b"a/..", b".."] {
            assert!(!removable(raw), "{raw:?}");
        }
        for raw in [&b"a"[..], b"./a", b"a/", b"/a", b"..a", b".a"] {
            assert!(removable(raw), "{raw:?}");
        }
    }

    fn set_age(path: &Path, days: i64) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let t = TimeSpec::new(now - days * 86_400, 0);
        utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .expect("utimensat");
    }

    /// A small tree with awkward names: old and new files, nested empty directories, old
    /// directories holding only old files or only new ones, symlinks that loop or dangle.
    fn build(root: &Path) {
        let p = |rel: &[u8]| root.join(OsStr::from_bytes(rel));
        for d in [&b"sub"[..], b"olddir", b"olddir_new", b"empty", b"nest/a/b"] {
            fs::create_dir_all(p(d)).expect("mkdir");
        }
        let files: &[(&[u8], &[u8], i64)] = &[
            (b"old.gz", b"x", 60),
            (b"new.gz", b"x", 0),
            (b"old.txt", b"x", 60),
            (b"caf\xe9.gz", b"x", 60),
            (b"a\nb.gz", b"x", 60),
            (b"-rf.gz", b"x", 60),
            (b"-delete", b"x", 60),
            (b"empty.log", b"", 60),
            (b"sub/old.gz", b"x", 60),
            (b"sub/new.txt", b"x", 0),
            (b"olddir/old.gz", b"x", 60),
            (b"olddir_new/new.txt", b"x", 0),
            (b"hard1", b"x", 60),
        ];
        for (rel, content, days) in files {
            fs::write(p(rel), content).expect("write");
            set_age(&p(rel), *days);
        }
        fs::hard_link(p(b"hard1"), p(b"hard2")).expect("link");
        symlink("loop.gz", p(b"loop.gz")).expect("symlink");
        symlink("nowhere", p(b"dangling.gz")).expect("symlink");
        symlink("..", p(b"sub/back")).expect("symlink");
        for l in [&b"loop.gz"[..], b"dangling.gz", b"sub/back"] {
            set_age(&p(l), 60);
        }
        for d in [
            &b"nest/a/b"[..],
            b"nest/a",
            b"nest",
            b"sub",
            b"olddir",
            b"olddir_new",
            b"empty",
        ] {
            set_age(&p(d), 60);
        }
    }

    /// Every entry under `root` (not following symlinks), relative, with what a deletion or a
    /// write would change.
    fn snapshot(root: &Path) -> BTreeSet<(PathBuf, u64, i64, i64)> {
        walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|e| {
                let e = e.expect("walk");
                let m = e.metadata().expect("lstat");
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .expect("under root")
                    .to_path_buf();
                (rel, m.len(), m.mtime(), m.mtime_nsec())
            })
            .collect()
    }

    fn relative(root: &Path, m: &Matches) -> BTreeSet<PathBuf> {
        m.paths
            .iter()
            .map(|p| p.strip_prefix(root).expect("under the tree").to_path_buf())
            .collect()
    }

    fn set(rels: &[&[u8]]) -> BTreeSet<PathBuf> {
        rels.iter()
            .map(|r| PathBuf::from(OsStr::from_bytes(r)))
            .collect()
    }

    /// The differential test: the dry run in one tree, the real find in an identical one;
    /// what the real find removed must be listed (and, for `exact`, nothing else), and the
    /// dry run's tree must be untouched.
    #[test]
    fn dry_run_lists_what_the_real_find_deletes_and_deletes_nothing() {
        let cases: &[(&[&str], bool)] = &[
            (&[".", "-name", "*.gz", "-mtime", "+30", "-delete"], true),
            (&[".", "-type", "d", "-empty", "-delete"], true),
            (&[".", "-empty", "-delete"], true),
            (
                &[
                    ".", "-name", "*.gz", "-mtime", "+30", "-exec", "rm", "-f", "{}", "+",
                ],
                true,
            ),
            (
                &[".", "-name", "*.gz", "-exec", "rm", "-f", "{}", ";"],
                true,
            ),
            (&[".", "-name", "*.txt", "-execdir", "rm", "{}", "+"], true),
            (&[".", "-links", "2", "-exec", "rm", "{}", ";"], false),
            (&[".", "-links", "1", "-delete"], false),
            // -size after -delete reads a removed file: false, and the real run does not quit
            // (the `,` makes the value of -delete's outcome irrelevant).
            (
                &[
                    ".", "-name", "o*", "(", "-delete", ",", "-name", "o*", ")", "-size", "+0",
                    "-quit",
                ],
                false,
            ),
            // find swaps the sides of a `,` free of actions: -print must stay an action.
            (
                &[
                    ".", "-depth", "(", "(", "-newer", "new.gz", "-name", "*.gz", ")", ",", "(",
                    "-print", ",", "-type", "l", ")", ")", "!", "-exec", "rm", "-f", "{}", ";",
                ],
                true,
            ),
            (&[".", "-newer", "new.gz", "-delete"], false),
            (&[".", "-mindepth", "1", "-delete"], true),
            (&["./", "-empty", "-delete"], true),
            (&[".//nest/", "sub", "-delete"], true),
            (
                &["-L", ".", "-name", "*.gz", "-mtime", "+30", "-delete"],
                true,
            ),
            (&[".", "-name", "*.gz", "-delete", "-quit"], false),
            (
                &[
                    ".", "-name", "new.gz", "-quit", "-o", "-name", "*.gz", "-delete",
                ],
                true,
            ),
            (
                &[
                    ".", "-type", "d", "-name", "b", "-exec", "rm", "-r", "{}", ";", "-prune",
                ],
                true,
            ),
            (&[".", "-mtime", "+30", "-delete"], false),
            (&[".", "!", "-mtime", "+30", "-delete"], false),
            (
                &[
                    ".", "-path", "./sub", "-prune", "-o", "-name", "*.gz", "-exec", "rm", "{}",
                    "+",
                ],
                true,
            ),
        ];
        for (args, exact) in cases {
            let base = tempfile::tempdir().expect("tempdir");
            let (a, b) = (base.path().join("a"), base.path().join("b"));
            for t in [&a, &b] {
                fs::create_dir(t).expect("mkdir");
                build(t);
            }
            let before = snapshot(&a);
            let d = dry(args);
            let m = run(&d, &a, 10_000, Duration::from_secs(20)).expect("dry run");
            assert_eq!(m.truncated, None, "{args:?}");
            assert_eq!(
                snapshot(&a),
                before,
                "the dry run of {args:?} changed the tree"
            );
            // Its exit status is of no interest: some of these runs fail on purpose (rmdir of
            // a directory that keeps an entry), and what they removed is what counts.
            Command::new("find")
                .args(words(args))
                .current_dir(&b)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("real find");
            let gone: BTreeSet<PathBuf> = before
                .iter()
                .map(|e| e.0.clone())
                .filter(|rel| b.join(rel).symlink_metadata().is_err())
                .collect();
            let listed = relative(&a, &m);
            assert_eq!(m.paths.len(), listed.len(), "{args:?} lists an entry twice");
            if *exact {
                assert_eq!(listed, gone, "{args:?}");
            } else {
                assert!(listed.is_superset(&gone), "{args:?}: {listed:?} ⊉ {gone:?}");
            }
        }
    }

    /// A small deterministic generator of find expressions for the random differential test.
    struct Expressions(u64);

    impl Expressions {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a [&'a str]]) -> &'a [&'a str] {
            from[self.below(from.len())]
        }

        fn expression(&mut self, depth: u32, out: &mut Vec<&'static str>) {
            const TESTS: &[&[&str]] = &[
                &["-name", "*.gz"],
                &["-name", "o*"],
                &["-type", "d"],
                &["-type", "f"],
                &["-type", "l"],
                &["-empty"],
                &["-mtime", "+30"],
                &["-mtime", "-30"],
                &["-newer", "new.gz"],
                &["-links", "1"],
                &["-links", "+1"],
                &["-size", "-1"],
                &["-path", "./sub*"],
                &["-true"],
                &["-false"],
                &["-xtype", "l"],
                &["-size", "+0"],
                &["-mindepth", "1"],
                &["-maxdepth", "2"],
            ];
            const ACTIONS: &[&[&str]] = &[
                &["-delete"],
                &["-exec", "rm", "-f", "{}", ";"],
                &["-exec", "rm", "-rf", "{}", "+"],
                &["-exec", "rmdir", "{}", ";"],
                &["-execdir", "rm", "-f", "{}", "+"],
                &["-print"],
                &["-prune"],
                &["-quit"],
            ];
            match if depth == 0 {
                self.below(2)
            } else {
                self.below(6)
            } {
                0 => out.extend(self.pick(TESTS)),
                1 => out.extend(self.pick(ACTIONS)),
                2 => {
                    out.push("!");
                    self.expression(depth - 1, out);
                }
                n => {
                    out.push("(");
                    self.expression(depth - 1, out);
                    out.extend([&[][..], &["-o"], &[","]][n - 3]);
                    self.expression(depth - 1, out);
                    out.push(")");
                }
            }
        }
    }

    /// Random expressions (fixed seed), each dry-run in one tree and run for real in an
    /// identical one: the dry run must list everything the real find removed.
    #[test]
    fn random_expressions_never_list_less_than_the_real_find_removes() {
        let judged =
            |cmd: &[OsString]| matches!(cmd.first().map(|w| w.as_bytes()), Some(b"rm" | b"rmdir"));
        let mut random = Expressions(0x5eed);
        let (mut checked, mut refused) = (0, 0);
        for _ in 0..150 {
            let mut args = vec!["."];
            if random.below(3) == 0 {
                args.push("-depth");
            }
            random.expression(3, &mut args);
            let args: Vec<OsString> = words(&args);
            let Ok(d) = dry_run_args(&args, &judged) else {
                refused += 1;
                continue;
            };
            let base = tempfile::tempdir().expect("tempdir");
            let (a, b) = (base.path().join("a"), base.path().join("b"));
            for t in [&a, &b] {
                fs::create_dir(t).expect("mkdir");
                build(t);
            }
            let before = snapshot(&a);
            let listed = run(&d, &a, 10_000, Duration::from_secs(20));
            assert_eq!(
                snapshot(&a),
                before,
                "the dry run of {args:?} changed the tree"
            );
            Command::new("find")
                .args(&args)
                .current_dir(&b)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("real find");
            let gone: BTreeSet<PathBuf> = before
                .iter()
                .map(|e| e.0.clone())
                .filter(|rel| b.join(rel).symlink_metadata().is_err())
                .collect();
            match listed {
                Ok(m) => {
                    assert_eq!(m.truncated, None);
                    // A listed directory given to `rm -rf` takes its subtree with it: the
                    // caller judges that command on the listed directory.
                    let listed = relative(&a, &m);
                    let missed: Vec<_> = gone
                        .iter()
                        .filter(|rel| !rel.ancestors().any(|p| listed.contains(p)))
                        .collect();
                    assert!(
                        missed.is_empty(),
                        "{args:?}: the real find removed {missed:?}, not listed"
                    );
                }
                Err(e) => assert!(gone.is_empty(), "{args:?}: {e}, yet {gone:?} removed"),
            }
            checked += 1;
        }
        println!("{checked} random expressions checked against the real find, {refused} refused");
        assert!(checked > 100, "{refused} refused");
    }

    #[test]
    fn old_gz_files_are_matched_whatever_their_names() {
        let t = tempfile::tempdir().expect("tempdir");
        build(t.path());
        let d = dry(&[".", "-name", "*.gz", "-mtime", "+30", "-delete"]);
        let m = run(&d, t.path(), 100, Duration::from_secs(20)).expect("dry run");
        let expected = set(&[
            b"old.gz",
            b"caf\xe9.gz",
            b"a\nb.gz",
            b"-rf.gz",
            b"sub/old.gz",
            b"olddir/old.gz",
            b"loop.gz",
            b"dangling.gz",
        ]);
        assert_eq!(relative(t.path(), &m), expected);
        assert!(m.paths.iter().all(|p| p.is_absolute()));
        // An absolute start point lists the same entries; -L follows sub/back into a loop and
        // cannot stat loop.gz, which find reports (exit status 1) while listing the rest.
        let root = t.path().as_os_str().to_str().expect("a UTF-8 temp dir");
        for args in [
            &[root, "-name", "*.gz", "-mtime", "+30", "-delete"][..],
            &["-L", root, "-name", "*.gz", "-mtime", "+30", "-delete"],
        ] {
            let m = run(&dry(args), Path::new("/"), 100, Duration::from_secs(20)).expect("dry run");
            let mut expected = expected.clone();
            if args[0] == "-L" {
                expected.remove(Path::new("loop.gz"));
            }
            assert_eq!(relative(t.path(), &m), expected, "{args:?}");
        }
    }

    #[test]
    fn directories_the_run_would_empty_are_matched_and_no_other() {
        let t = tempfile::tempdir().expect("tempdir");
        build(t.path());
        let m = run(
            &dry(&[".", "-empty", "-delete"]),
            t.path(),
            100,
            Duration::from_secs(20),
        )
        .expect("dry run");
        assert_eq!(
            relative(t.path(), &m),
            set(&[b"empty.log", b"empty", b"nest/a/b", b"nest/a", b"nest"])
        );
        // Not "." itself, which find never deletes; a directory's new files are deleted
        // first, then it is young enough.
        let m = run(
            &dry(&[".", "!", "-mtime", "+30", "-delete"]),
            t.path(),
            100,
            Duration::from_secs(20),
        )
        .expect("dry run");
        let listed = relative(t.path(), &m);
        assert!(listed.contains(Path::new("olddir_new")), "{listed:?}");
        assert!(!listed.contains(Path::new("sub")) && !listed.contains(Path::new("")));
    }

    #[test]
    fn output_files_are_reported_and_not_written() {
        let t = tempfile::tempdir().expect("tempdir");
        build(t.path());
        let before = snapshot(t.path());
        let d = dry(&[
            ".", "-fprint", "list.txt", "-path", "./old.gz", "-fprintf", "other", "%p", "-delete",
        ]);
        assert_eq!(d.writes, words(&["list.txt", "other"]));
        let m = run(&d, t.path(), 100, Duration::from_secs(20)).expect("dry run");
        assert_eq!(relative(t.path(), &m), set(&[b"old.gz"]));
        assert_eq!(snapshot(t.path()), before);
    }

    #[test]
    fn a_find_that_fails_and_matches_nothing_is_an_error() {
        let t = tempfile::tempdir().expect("tempdir");
        let e = run(
            &dry(&["missing", "-delete"]),
            t.path(),
            10,
            Duration::from_secs(5),
        )
        .expect_err("no such start point");
        assert!(
            e.contains("matched nothing") && e.contains("missing"),
            "{e}"
        );
        let e = run_with(
            OsStr::new("gardefou-no-such-find"),
            &dry(&[".", "-delete"]),
            t.path(),
            10,
            Duration::from_secs(5),
        )
        .expect_err("no find");
        assert!(e.contains("not on PATH"), "{e}");
        // A find that matches nothing and succeeds: no match, no error.
        let m = run(
            &dry(&[".", "-name", "nothing", "-delete"]),
            t.path(),
            10,
            Duration::from_secs(5),
        )
        .expect("dry run");
        assert_eq!(m, Matches::default());
    }

    /// One tree of 100,000 files in 10 directories (half of them old `.gz` files) for the
    /// bounds and the cost, against the plain find that prints the same entries.
    #[test]
    fn a_100k_tree_is_bounded_by_limit_and_timeout_and_costs_about_a_plain_find() {
        // On a tmpfs when there is one: 100,000 files take half a minute on a busy ext4.
        let t = tempfile::Builder::new()
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("tempdir");
        for d in 0..10 {
            let dir = t.path().join(format!("d{d}"));
            fs::create_dir(&dir).expect("mkdir");
            for f in 0..5_000 {
                let old = dir.join(format!("f{f}.gz"));
                fs::File::create(&old).expect("create");
                set_age(&old, 60);
                fs::File::create(dir.join(format!("f{f}.log"))).expect("create");
            }
        }
        let root = t
            .path()
            .as_os_str()
            .to_str()
            .expect("a UTF-8 temp dir")
            .to_owned();
        let everything = dry(&[&root, "-delete"]);
        let m = run(&everything, Path::new("/"), 1000, Duration::from_secs(60)).expect("dry run");
        assert_eq!(m.paths.len(), 1000);
        assert!(
            m.truncated
                .as_deref()
                .is_some_and(|w| w.contains("more than 1000")),
            "{m:?}"
        );
        let m = run(
            &everything,
            Path::new("/"),
            1_000_000,
            Duration::from_millis(1),
        )
        .expect("dry run");
        assert!(
            m.truncated
                .as_deref()
                .is_some_and(|w| w.contains("longer than")),
            "{m:?}"
        );

        let best = |f: &dyn Fn()| {
            f();
            (0..5)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed()
                })
                .min()
                .expect("five runs")
        };
        let old_gz = ["-name", "*.gz", "-mtime", "+30"];
        for (test, expected) in [(&[][..], 100_011), (&old_gz[..], 50_000)] {
            let mut args = vec![root.as_str()];
            args.extend(test);
            let plain = best(&|| {
                let out = Command::new("find")
                    .args(&args)
                    .arg("-print")
                    .output()
                    .expect("find");
                assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), expected);
            });
            let mut judged = args.clone();
            judged.push("-delete");
            let d = dry(&judged);
            let dry_run = best(&|| {
                let m = run(&d, Path::new("/"), 200_000, Duration::from_secs(60)).expect("dry run");
                assert_eq!((m.paths.len(), m.truncated), (expected, None));
            });
            println!(
                "100k entries, {test:?}: find -print {plain:?}, dry run of -delete {dry_run:?} \
                 ({:.2}x)",
                dry_run.as_secs_f64() / plain.as_secs_f64()
            );
            assert!(dry_run < plain * 3 + Duration::from_millis(500), "{test:?}");
        }
    }
}
