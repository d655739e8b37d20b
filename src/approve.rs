//! One-time approvals: `gardefou approve -- 'LINE'`, typed on a terminal, lets one exact
//! command line (its text, its working directory, the user it runs as) through once, for a
//! short time, where no one can confirm it: an agent's hook, a shim under cron or ansible, the
//! guarded shell over `ssh host 'LINE'`.
//!
//! The first guard that meets the line uses the approval up (a rename: of two guards racing,
//! one wins). The shims the line then starts judge their own commands again; they may redeem,
//! each once and for a short while after, exactly the reasons the approval was given for (the
//! same rule, the same message): nothing else the line does rides on it.
//!
//! The approvals of a user live in a directory only that user can write (root's in
//! /var/lib/gardefou/approvals, anyone else's under `$XDG_STATE_HOME`), and bind that user's
//! own commands: no one can do more with them than they could at a terminal.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::policy::Verdict;

/// How long an approval lasts unless `--minutes` says otherwise.
pub const DEFAULT_MINUTES: u64 = 10;
/// The longest an approval may last.
pub const MAX_MINUTES: u64 = 60;
/// How long after its use the shims the line started may redeem its reasons.
pub const PASS_SECS: i64 = 120;
/// Root's approvals.
pub const ROOT_DIR: &str = "/var/lib/gardefou/approvals";
/// Overrides the directory (tests; a user's own processes only).
pub const DIR_ENV: &str = "GARDEFOU_APPROVALS";

/// What the approval was given for: one reason of the verdict on the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    pub rule: String,
    pub message: String,
}

/// Who used an approval, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Use {
    pub at: i64,
    /// The process whose descendants may redeem what is left for the shims: the agent that
    /// ran the hook, the guarded shell; with its start time (a reused pid is not it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<(u32, u64)>,
    /// `agent claude-code (session …)`, `shim`, `shell`.
    pub by: String,
    pub pid: u32,
}

/// One approval, as its file holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub line: String,
    pub cwd: PathBuf,
    /// The user the command runs as.
    pub uid: u32,
    /// Who typed the confirmation, and on which terminal.
    pub approved_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    pub issued: i64,
    pub expires: i64,
    pub reasons: Vec<Approved>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<Use>,
    /// After its use: the reasons the line's shims have not redeemed yet.
    #[serde(default)]
    pub remaining: Vec<Approved>,
}

impl Approval {
    /// `a1b2… for 'LINE' in DIR, by USER, until HH:MM:SS UTC`, for messages and the audit.
    pub fn describe(&self) -> String {
        let until = chrono::DateTime::from_timestamp(self.expires, 0)
            .map(|t| t.format("%H:%M:%S UTC").to_string())
            .unwrap_or_default();
        format!(
            "approval {} for '{}' in {}, by {}, until {until}",
            self.id,
            self.line,
            self.cwd.display(),
            self.approved_by
        )
    }

    /// The audit's record of it.
    pub fn audit_ref(&self) -> crate::audit::ApprovalRef {
        crate::audit::ApprovalRef {
            id: self.id.clone(),
            line: self.line.clone(),
            approved_by: self.approved_by.clone(),
            matched: None,
            expires: chrono::DateTime::from_timestamp(self.expires, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        }
    }
}

/// The reasons a verdict asks a person about.
pub fn asked(v: &Verdict) -> Vec<Approved> {
    v.reasons
        .iter()
        .filter(|r| r.decision != crate::policy::Decision::Allow)
        .map(|r| Approved {
            rule: r.rule.clone(),
            message: r.message.clone(),
        })
        .collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The caller's approvals directory.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The calling (effective) user's store.
    pub fn for_caller() -> Result<Store> {
        // Not under sudo or set-id: a caller's environment does not choose root's store.
        if !crate::policy::load::environment_untrusted()
            && let Some(d) = std::env::var_os(DIR_ENV).map(PathBuf::from)
            && d.is_absolute()
        {
            return Ok(Store { dir: d });
        }
        if nix::unistd::geteuid().is_root() {
            return Ok(Store {
                dir: PathBuf::from(ROOT_DIR),
            });
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::home_dir().map(|h| h.join(".local/state")))
            .ok_or_else(|| Error::Approval("no home directory for the approvals".into()))?;
        Ok(Store {
            dir: state.join("gardefou/approvals"),
        })
    }

    pub fn at(dir: PathBuf) -> Store {
        Store { dir }
    }

    /// Checks the directory is the caller's alone; creates it when `create`.
    fn open(&self, create: bool) -> Result<bool> {
        if create {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| Error::io(format!("cannot create {}", self.dir.display()), e))?;
        }
        let meta = match std::fs::symlink_metadata(&self.dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(format!("cannot stat {}", self.dir.display()), e)),
        };
        private(&self.dir, &meta, true)?;
        Ok(true)
    }

    fn path(&self, id: &str, used: bool) -> PathBuf {
        self.dir
            .join(format!("{id}{}", if used { ".used.json" } else { ".json" }))
    }

    /// Every approval in the store (unreadable or foreign files skipped, with a warning).
    pub fn all(&self) -> Result<Vec<Approval>> {
        if !self.open(false)? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io(format!("cannot read {}", self.dir.display()), e))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match read(&p) {
                Ok(a) => out.push(a),
                Err(err) => eprintln!("gardefou: warning: {err}: ignored"),
            }
        }
        out.sort_by_key(|a| a.issued);
        Ok(out)
    }

    /// Writes a new approval.
    pub fn issue(&self, a: &Approval) -> Result<()> {
        self.open(true)?;
        write(&self.path(&a.id, false), a)
    }

    /// Takes an approval back (used or not).
    pub fn revoke(&self, id: &str) -> Result<Approval> {
        if !valid_id(id) {
            return Err(Error::Approval(format!("{id:?} is not an approval id")));
        }
        // Both names: a guard may be renaming it while it is revoked.
        let mut found = None;
        for used in [false, true] {
            let p = self.path(id, used);
            if let Ok(a) = read(&p)
                && std::fs::remove_file(&p).is_ok()
            {
                found = Some(a);
            }
        }
        found.ok_or_else(|| Error::Approval(format!("no approval {id}")))
    }

    /// Deletes what expired more than a day ago.
    pub fn prune(&self) {
        let Ok(all) = self.all() else { return };
        let cutoff = now() - 86_400;
        for a in all {
            let used = a.used.is_some();
            let end = a
                .used
                .as_ref()
                .map_or(a.expires, |u| u.at.saturating_add(PASS_SECS));
            if end < cutoff {
                let _ = std::fs::remove_file(self.path(&a.id, used));
            }
        }
    }

    /// Uses up the approval of what `m` names run in `cwd` by this user, if there is one,
    /// unexpired and unused, given for every reason `v` asks about (the same rule, the same
    /// message: the same target). The winner of a race takes it. `anchor`: the process whose
    /// descendants (the shims the line starts) may then redeem the approval's reasons, each
    /// once; none for a shim, which carries its own command out and leaves nothing.
    pub fn consume(
        &self,
        m: &Match,
        cwd: &Path,
        v: &Verdict,
        by: &str,
        anchor: Option<(u32, u64)>,
    ) -> Option<Approval> {
        let want = asked(v);
        let uid = nix::unistd::geteuid().as_raw();
        let cwd = canonical(cwd);
        let t = now();
        let candidates = self.all().ok()?;
        for mut a in candidates {
            if a.used.is_some()
                || a.uid != uid
                || a.expires < t
                || !m.matches(&a.line)
                || canonical(&a.cwd) != cwd
                || !want.iter().all(|w| a.reasons.contains(w))
            {
                continue;
            }
            let from = self.path(&a.id, false);
            let to = self.path(&a.id, true);
            // Of two guards racing, the rename gives it to one.
            if std::fs::rename(&from, &to).is_err() {
                continue;
            }
            a.used = Some(Use {
                at: t,
                anchor,
                by: by.to_owned(),
                pid: std::process::id(),
            });
            a.remaining = if anchor.is_some() {
                a.reasons.clone()
            } else {
                Vec::new()
            };
            if let Err(e) = write(&to, &a) {
                eprintln!("gardefou: warning: {e}");
            }
            return Some(a);
        }
        None
    }

    /// A shim under a line that used its approval a moment ago: redeems the reasons `v` asks
    /// about, each once, if that approval was given for all of them.
    pub fn redeem(&self, v: &Verdict) -> Option<Approval> {
        let want = asked(v);
        if want.is_empty() {
            return None;
        }
        let uid = nix::unistd::geteuid().as_raw();
        let t = now();
        let above = ancestors();
        for a in self.all().ok()? {
            let Some(u) = &a.used else { continue };
            if a.uid != uid || u.at.saturating_add(PASS_SECS) < t {
                continue;
            }
            // Only below the process that used it: not any other process of this user.
            if !u.anchor.is_some_and(|anchor| {
                above
                    .iter()
                    .any(|p| p.pid == anchor.0 && p.start == anchor.1)
            }) {
                continue;
            }
            if !want.iter().all(|w| a.remaining.contains(w)) {
                continue;
            }
            let p = self.path(&a.id, true);
            let Ok(lock) = lock_existing(&p) else {
                continue;
            };
            // Read again under the lock: another shim may have redeemed it meanwhile.
            let Ok(mut fresh) = read(&p) else { continue };
            if !want.iter().all(|w| fresh.remaining.contains(w)) {
                continue;
            }
            fresh.remaining.retain(|r| !want.contains(r));
            let ok = write_in_place(&p, &fresh);
            drop(lock);
            if ok.is_ok() {
                return Some(fresh);
            }
        }
        None
    }
}

/// Set by the entry points that judge whole lines and start shims below them.
static LINES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// This process judges whole lines (the guarded shell, `gardefou run`), not a shim's command:
/// it never redeems what an approval left for the shims.
pub fn guarding_lines() {
    LINES.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The approval this process used, for its audit entry.
static USED: std::sync::Mutex<Option<crate::audit::ApprovalRef>> = std::sync::Mutex::new(None);

/// The approval this process used or redeemed, if any.
pub fn used_here() -> Option<crate::audit::ApprovalRef> {
    USED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn note_used(a: &Approval, how: String) {
    let mut r = a.audit_ref();
    r.matched = Some(how);
    *USED.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
}

/// What a guard compares with an approval's line.
pub enum Match<'a> {
    /// A whole line (the hook's command, the guarded shell's line, a `sh -c` above a shim):
    /// the same text, trailing blanks aside.
    Line(&'a str),
    /// A shim's own command: the approved line, read as the shell reads it, is exactly these
    /// words (a line that is not one plain command matches no shim).
    Argv(&'a [std::ffi::OsString]),
}

impl Match<'_> {
    fn matches(&self, approved: &str) -> bool {
        match self {
            Match::Line(l) => l.trim_end() == approved.trim_end(),
            Match::Argv(argv) => {
                let Some(words) = plain_words(approved) else {
                    return false;
                };
                let base =
                    |w: &[u8]| -> Vec<u8> { w.rsplit(|&b| b == b'/').next().unwrap_or(w).to_vec() };
                use std::os::unix::ffi::OsStrExt;
                words.len() == argv.len()
                    && words
                        .iter()
                        .zip(argv.iter())
                        .enumerate()
                        .all(|(i, (w, a))| {
                            if i == 0 {
                                base(w) == base(a.as_bytes())
                            } else {
                                w.as_slice() == a.as_bytes()
                            }
                        })
            }
        }
    }
}

/// The words of a line that is one plain command of literal words (quotes removed), else
/// None: no operators, redirections, variables or globs.
fn plain_words(line: &str) -> Option<Vec<Vec<u8>>> {
    use crate::intent::lex::{Token, lex};
    let tokens = lex(line.as_bytes()).ok()?;
    let mut out = Vec::new();
    for t in tokens {
        match t {
            Token::Word(w) => {
                let lit = w.literal()?;
                if lit.iter().any(|b| b"*?[".contains(b)) {
                    return None;
                }
                out.push(lit.to_vec());
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A process above this one.
struct Ancestor {
    pid: u32,
    start: u64,
    argv: Vec<Vec<u8>>,
    cwd: Option<PathBuf>,
}

/// Whether every uid of `pid` (real, effective, saved, filesystem) is this process's
/// effective uid.
fn same_user(pid: u32) -> bool {
    let me = nix::unistd::geteuid().as_raw().to_string();
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|u| u.split_whitespace().all(|x| x == me))
        })
        .unwrap_or(false)
}

/// The processes above this one, nearest first, up to the first that runs as another user
/// (what another user's process asked cannot speak for this one).
fn ancestors() -> Vec<Ancestor> {
    let mut out = Vec::new();
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..16 {
        if pid <= 1 || !same_user(pid) {
            break;
        }
        let Some((parent, start)) = crate::facts::proc_stat(pid) else {
            break;
        };
        let argv = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                c.split(|&b| b == 0)
                    .filter(|a| !a.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .unwrap_or_default();
        out.push(Ancestor {
            pid,
            start,
            argv,
            cwd: std::fs::read_link(format!("/proc/{pid}/cwd")).ok(),
        });
        pid = parent;
    }
    out
}

/// The line a shell runs when it is `SHELL -c LINE` (the flag word may carry others: `-ec`).
fn shell_line(argv: &[Vec<u8>]) -> Option<&str> {
    let name = argv.first()?;
    let base = name.rsplit(|&b| b == b'/').next()?;
    let base = base.strip_prefix(b"-").unwrap_or(base);
    if !matches!(
        base,
        b"sh" | b"bash" | b"dash" | b"zsh" | b"ksh" | b"mksh" | b"busybox"
    ) {
        return None;
    }
    let flags = argv.get(1)?;
    if !(flags.starts_with(b"-")
        && flags.contains(&b'c')
        && flags[1..].iter().all(u8::is_ascii_alphabetic))
    {
        return None;
    }
    std::str::from_utf8(argv.get(2)?).ok()
}

/// This process as an anchor: its pid and start time.
fn me_as_anchor() -> Option<(u32, u64)> {
    let pid = std::process::id();
    crate::facts::proc_stat(pid).map(|(_, start)| (pid, start))
}

/// A shim with no one to ask, about to refuse its command for what `v` asks: the approval of
/// this very command (in this directory), or of the `sh -c` line of a shell above it run by
/// the same user, is used up; failing those, a line whose hook or guarded shell above this
/// shim used its approval a moment ago redeems the same reasons once. `text`: the command
/// line (`gardefou run`'s, the guarded shell's).
pub fn for_shim(v: &Verdict, text: &str) -> Option<Approval> {
    let store = Store::for_caller().ok()?;
    let cwd = std::env::current_dir().ok()?;
    if LINES.load(std::sync::atomic::Ordering::Relaxed) {
        // A whole line (the guarded shell, `gardefou run`): only its own approval, and the
        // shims it starts redeem the reasons.
        let found = store.consume(&Match::Line(text), &cwd, v, "gardefou run", me_as_anchor())?;
        note_used(&found, "the line".into());
        return Some(found);
    }
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let by = format!("shim {}", text.split_whitespace().next().unwrap_or(""));
    if let Some(found) = store.consume(&Match::Argv(&argv), &cwd, v, &by, None) {
        note_used(&found, "its command".into());
        return Some(found);
    }
    let above = ancestors();
    for a in &above {
        if let (Some(line), Some(dir)) = (shell_line(&a.argv), &a.cwd)
            && let Some(found) = store.consume(&Match::Line(line), dir, v, &by, None)
        {
            note_used(&found, format!("the sh -c line of pid {}", a.pid));
            return Some(found);
        }
    }
    let found = store.redeem(v)?;
    let anchor = found
        .used
        .as_ref()
        .and_then(|u| u.anchor)
        .map_or(0, |a| a.0);
    note_used(
        &found,
        format!("a reason left for the shims below pid {anchor}"),
    );
    Some(found)
}

/// The hook (for the agent that runs it: `anchor`, its parent) or the guarded shell meeting
/// `line` in `cwd`, with no one to ask: its approval, used up.
pub fn for_line(v: &Verdict, line: &str, cwd: &Path, by: &str, hook: bool) -> Option<Approval> {
    let store = Store::for_caller().ok()?;
    let anchor = if hook {
        // The agent: the first process above that is not the shell it ran the hook with.
        ancestors()
            .into_iter()
            .find(|a| shell_line(&a.argv).is_none_or(|l| !l.contains(" hook ")))
            .map(|a| (a.pid, a.start))
    } else {
        me_as_anchor()
    };
    let found = store.consume(&Match::Line(line), cwd, v, by, anchor)?;
    note_used(&found, "the line".into());
    Some(found)
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

pub fn valid_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A fresh id: 16 hex digits from the kernel's random source.
pub fn new_id() -> Result<String> {
    let mut b = [0u8; 8];
    let mut f = std::fs::File::open("/dev/urandom")
        .map_err(|e| Error::io("cannot open /dev/urandom", e))?;
    std::io::Read::read_exact(&mut f, &mut b)
        .map_err(|e| Error::io("cannot read /dev/urandom", e))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Refuses a file or directory another user owns or may write.
fn private(p: &Path, meta: &std::fs::Metadata, dir: bool) -> Result<()> {
    let uid = nix::unistd::geteuid().as_raw();
    if (dir && !meta.is_dir()) || (!dir && !meta.is_file()) || meta.file_type().is_symlink() {
        return Err(Error::Approval(format!(
            "{}: not a {}",
            p.display(),
            if dir { "directory" } else { "file" }
        )));
    }
    if meta.uid() != uid {
        return Err(Error::Approval(format!(
            "{}: owned by uid {}, not {uid}: refused",
            p.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Error::Approval(format!(
            "{}: mode {:o} lets others write: refused",
            p.display(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

fn read(p: &Path) -> Result<Approval> {
    let meta = std::fs::symlink_metadata(p)
        .map_err(|e| Error::io(format!("cannot stat {}", p.display()), e))?;
    private(p, &meta, false)?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(p)
        .map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut f, 1 << 20), &mut text)
        .map_err(|e| Error::io(format!("cannot read {}", p.display()), e))?;
    let mut a: Approval = serde_json::from_slice(&text)
        .map_err(|e| Error::Approval(format!("{}: {e}", p.display())))?;
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let used_name = format!("{}.used.json", a.id);
    if !valid_id(&a.id) || (name != format!("{}.json", a.id) && name != used_name) {
        return Err(Error::Approval(format!(
            "{}: its id is not its name",
            p.display()
        )));
    }
    // Renamed by a guard that could not write its use: used all the same.
    if name == used_name && a.used.is_none() {
        a.used = Some(Use {
            at: a.issued,
            anchor: None,
            by: "a guard that could not record its use".into(),
            pid: 0,
        });
    }
    Ok(a)
}

/// Writes beside `p` and renames over it.
fn write(p: &Path, a: &Approval) -> Result<()> {
    let tmp = p.with_extension("tmp");
    let text = serde_json::to_vec_pretty(a).map_err(|e| Error::Approval(e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::io::Write::write_all(&mut f, &text)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, p).map_err(|e| Error::io(format!("cannot rename {}", tmp.display()), e))
}

/// An exclusive lock on an existing file (never creates it).
fn lock_existing(p: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| {
        Error::io(
            format!("cannot lock {}", p.display()),
            std::io::Error::from(e),
        )
    })
}

/// Rewrites `p` itself (its lock is on this inode).
fn write_in_place(p: &Path, a: &Approval) -> Result<()> {
    let text = serde_json::to_vec_pretty(a).map_err(|e| Error::Approval(e.to_string()))?;
    std::fs::write(p, text).map_err(|e| Error::io(format!("cannot write {}", p.display()), e))
}

/// `gardefou approve`: issue (on a terminal, after the typed confirmation), list or revoke.
pub fn command(
    args: &crate::cli::ApproveArgs,
    policy: Option<&Path>,
    forced_env: Option<&str>,
) -> i32 {
    use crate::outcome::exit;
    let loaded = crate::pipeline::load_failsafe(policy);
    let host = crate::facts::hostname();
    let (env, env_error) = crate::pipeline::environment(&loaded.policy, &host, forced_env);
    let store = match Store::for_caller() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::USAGE;
        }
    };
    let audit = |outcome: crate::outcome::Outcome, v: &Verdict, a: &Approval| {
        let argv: Vec<std::ffi::OsString> = vec!["gardefou-approve".into(), a.line.clone().into()];
        let mut e = crate::audit::Entry::now(&host, &env.name, &argv);
        e.decision = v.decision;
        e.reasons = v.reasons.clone();
        e.outcome = outcome;
        e.approval = Some(a.audit_ref());
        if let Err(err) = crate::audit::append(&loaded.policy, &e) {
            eprintln!("gardefou: warning: {err}");
        }
        if let Err(err) = crate::audit::to_syslog(&loaded.policy, &e) {
            eprintln!("gardefou: warning: {err}");
        }
        crate::notify::send(&loaded.policy, &e);
    };
    if let Some(id) = &args.revoke {
        return match store.revoke(id) {
            Ok(a) => {
                audit(
                    crate::outcome::Outcome::ApprovalRevoked,
                    &Verdict::allow(),
                    &a,
                );
                println!("gardefou: revoked {}", a.describe());
                0
            }
            Err(e) => {
                eprintln!("gardefou: {e}");
                exit::REFUSED
            }
        };
    }
    if args.list {
        store.prune();
        return match store.all() {
            Ok(all) if args.json => {
                println!("{}", serde_json::to_string(&all).unwrap_or_default());
                0
            }
            Ok(all) => {
                let t = now();
                if all.is_empty() {
                    println!("no approvals");
                }
                for a in all {
                    let state = match &a.used {
                        Some(u) => format!("used by {} (pid {})", u.by, u.pid),
                        None if a.expires < t => "expired".to_owned(),
                        None => "waiting".to_owned(),
                    };
                    println!("{}: {state}", a.describe());
                }
                0
            }
            Err(e) => {
                eprintln!("gardefou: {e}");
                exit::USAGE
            }
        };
    }
    let line = args.line.join(" ");
    if line.trim().is_empty() {
        eprintln!(
            "gardefou: approve needs the line after --: gardefou approve -- 'rm -rf /srv/old'"
        );
        return exit::USAGE;
    }
    let minutes = args.minutes.unwrap_or(DEFAULT_MINUTES);
    if minutes == 0 || minutes > MAX_MINUTES {
        eprintln!("gardefou: --minutes must be 1 to {MAX_MINUTES}");
        return exit::USAGE;
    }
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gardefou: no working directory: {e}");
            return exit::USAGE;
        }
    };
    if cwd.to_str().is_none() {
        eprintln!(
            "gardefou: {} is not UTF-8: an approval cannot name it, nothing approved",
            cwd.display()
        );
        return exit::USAGE;
    }
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let ctx = crate::pipeline::Context {
        policy: &loaded.policy,
        env: &env,
        host: &host,
        error,
        net: false,
        ask_db: true,
    };
    let mut shell = crate::intent::line::Shell::from_process();
    let v = match crate::pipeline::judge_line(&ctx, line.as_bytes(), &mut shell) {
        Ok(j) => j.verdict,
        Err(e) => {
            eprintln!("gardefou: cannot read the line ({e}): nothing approved");
            return exit::USAGE;
        }
    };
    let text = crate::intent::display_bytes(line.as_bytes());
    match v.decision {
        crate::policy::Decision::Allow => {
            println!("gardefou: nothing to approve: this line is allowed as it is");
            return 0;
        }
        crate::policy::Decision::Deny => {
            eprint!("{}", crate::render::verdict(&v, &env, &host, &text));
            eprintln!(
                "gardefou: the policy refuses this line: an approval cannot let it through (on a terminal: gardefou override)"
            );
            return exit::DENIED;
        }
        crate::policy::Decision::Confirm => {}
    }
    crate::act::confirm::say(&format!(
        "{}gardefou: approving this line once, for {minutes} min, in {}\n",
        crate::render::verdict(&v, &env, &host, &text),
        cwd.display()
    ));
    let mut a = Approval {
        id: String::new(),
        line,
        cwd,
        uid: nix::unistd::geteuid().as_raw(),
        approved_by: crate::facts::user_name(),
        tty: crate::facts::stdin_tty(),
        issued: now(),
        expires: now() + (minutes as i64) * 60,
        reasons: asked(&v),
        used: None,
        remaining: Vec::new(),
    };
    if let Ok(u) = std::env::var("SUDO_USER") {
        a.approved_by = format!("{} (sudo from {u})", a.approved_by);
    }
    match crate::act::guard::ask_typed(&v, &env, &host) {
        crate::act::confirm::Answer::Confirmed => {}
        crate::act::confirm::Answer::Refused(_) => {
            eprintln!("gardefou: that is not the expected answer: nothing approved");
            audit(crate::outcome::Outcome::ApprovalRefused, &v, &a);
            return exit::REFUSED;
        }
        crate::act::confirm::Answer::NoTerminal => {
            eprintln!(
                "gardefou: an approval is typed on a terminal: there is none here, nothing approved"
            );
            audit(crate::outcome::Outcome::ApprovalRefused, &v, &a);
            return exit::REFUSED;
        }
    }
    a.id = match new_id() {
        Ok(id) => id,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::USAGE;
        }
    };
    // Confirmation first, expiry from the moment it was given.
    a.issued = now();
    a.expires = a.issued + (minutes as i64) * 60;
    if let Err(e) = store.issue(&a) {
        eprintln!("gardefou: {e}: nothing approved");
        return exit::USAGE;
    }
    audit(crate::outcome::Outcome::ApprovalIssued, &v, &a);
    println!(
        "gardefou: {}: once (gardefou approve --revoke {} takes it back)",
        a.describe(),
        a.id
    );
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Decision;

    fn verdict(reasons: &[(&str, &str)]) -> Verdict {
        let mut v = Verdict::allow();
        for (rule, message) in reasons {
            v.raise(Decision::Confirm, rule, message.to_string());
        }
        v
    }

    fn approval(dir: &Path, line: &str, reasons: &[(&str, &str)], expires: i64) -> Approval {
        Approval {
            id: new_id().unwrap(),
            line: line.into(),
            cwd: dir.to_path_buf(),
            uid: nix::unistd::geteuid().as_raw(),
            approved_by: "root".into(),
            tty: None,
            issued: now(),
            expires,
            reasons: reasons
                .iter()
                .map(|(r, m)| Approved {
                    rule: r.to_string(),
                    message: m.to_string(),
                })
                .collect(),
            used: None,
            remaining: Vec::new(),
        }
    }

    /// The test process's parent, as the anchor a hook would record for its agent.
    fn parent() -> Option<(u32, u64)> {
        let p = std::os::unix::process::parent_id();
        crate::facts::proc_stat(p).map(|(_, start)| (p, start))
    }

    #[test]
    fn an_approval_lets_its_line_through_once_and_its_reasons_once_more() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::at(tmp.path().join("a"));
        let r = [("protect.path#1", "rm `/srv/x` would delete /srv/x")];
        let a = approval(tmp.path(), "rm -rf /srv/x", &r, now() + 600);
        store.issue(&a).unwrap();
        let v = verdict(&r);
        let take = |l: &str, dir: &Path, v: &Verdict| {
            store.consume(&Match::Line(l), dir, v, "t", parent())
        };
        // Another line, another directory, another reason, another spacing: not this one.
        assert!(take("rm -rf /srv/y", tmp.path(), &v).is_none());
        assert!(take("rm -rf /srv/x", Path::new("/"), &v).is_none());
        let other = verdict(&[("protect.path#1", "rm `/srv/y` would delete /srv/y")]);
        assert!(take("rm -rf /srv/x", tmp.path(), &other).is_none());
        assert!(take("rm  -rf /srv/x", tmp.path(), &v).is_none());
        let used = take("rm -rf /srv/x", tmp.path(), &v).unwrap();
        assert_eq!(used.id, a.id);
        assert!(take("rm -rf /srv/x", tmp.path(), &v).is_none());
        // The shim below the anchor redeems the same reason once, nothing else.
        assert!(store.redeem(&other).is_none());
        assert!(store.redeem(&v).is_some());
        assert!(store.redeem(&v).is_none());
    }

    #[test]
    fn a_pass_is_redeemed_only_below_the_process_that_used_the_approval() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::at(tmp.path().join("a"));
        let r = [("R", "m")];
        store
            .issue(&approval(tmp.path(), "rm x", &r, now() + 60))
            .unwrap();
        // Used by a process that is not above this one (pid 1's start time is not ours).
        let elsewhere = Some((1u32, 0u64));
        let v = verdict(&r);
        assert!(
            store
                .consume(&Match::Line("rm x"), tmp.path(), &v, "t", elsewhere)
                .is_some()
        );
        assert!(store.redeem(&v).is_none());
        // A shim's own use leaves nothing.
        store
            .issue(&approval(tmp.path(), "rm y", &r, now() + 60))
            .unwrap();
        assert!(
            store
                .consume(&Match::Line("rm y"), tmp.path(), &v, "t", None)
                .is_some()
        );
        assert!(store.redeem(&v).is_none());
    }

    #[test]
    fn a_shim_matches_the_approved_line_word_for_word_as_the_shell_reads_it() {
        let argv = |w: &[&str]| -> Vec<std::ffi::OsString> { w.iter().map(|x| x.into()).collect() };
        let m = |w: &[&str], line: &str| Match::Argv(&argv(w)).matches(line);
        assert!(m(&["rm", "-rf", "/srv/a b"], "rm -rf '/srv/a b'"));
        assert!(m(&["/usr/local/bin/rm", "-rf", "/srv/x"], "rm -rf /srv/x"));
        assert!(!m(&["rm", "-rf", "/srv/a  b"], "rm -rf '/srv/a b'"));
        assert!(!m(&["rm", "-rf", "/srv/p /srv/q"], "rm -rf /srv/p /srv/q"));
        assert!(!m(
            &["rm", "-rf", "/srv/p", "/srv/q"],
            "rm -rf '/srv/p /srv/q'"
        ));
        assert!(!m(&["rm", "-rf", "/srv/x"], "rm -rf /srv/$T"));
        assert!(!m(&["rm", "-rf", "/srv/x"], "rm -rf /srv/x; true"));
        assert!(!m(&["rm", "-rf", "/srv/x"], "rm -rf /srv/*"));
        assert!(!Match::Line("A\nB").matches("A B"));
        assert!(Match::Line("rm x\n").matches("rm x"));
    }

    #[test]
    fn of_guards_racing_for_one_approval_exactly_one_gets_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a");
        let r = [("R", "m")];
        for _ in 0..20 {
            let store = Store::at(dir.clone());
            store
                .issue(&approval(tmp.path(), "rm x", &r, now() + 60))
                .unwrap();
            let won: usize = std::thread::scope(|s| {
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            Store::at(dir.clone())
                                .consume(&Match::Line("rm x"), tmp.path(), &verdict(&r), "t", None)
                                .is_some() as usize
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(won, 1);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn an_expired_or_revoked_approval_lets_nothing_through() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::at(tmp.path().join("a"));
        let r = [("R", "m")];
        store
            .issue(&approval(tmp.path(), "rm x", &r, now() - 1))
            .unwrap();
        let live = approval(tmp.path(), "rm y", &r, now() + 60);
        store.issue(&live).unwrap();
        let v = verdict(&r);
        assert!(
            store
                .consume(&Match::Line("rm x"), tmp.path(), &v, "t", None)
                .is_none()
        );
        store.revoke(&live.id).unwrap();
        assert!(
            store
                .consume(&Match::Line("rm y"), tmp.path(), &v, "t", None)
                .is_none()
        );
        assert!(store.revoke(&live.id).is_err());
    }

    #[test]
    fn odd_store_contents_are_refused_or_skipped_without_a_hang_or_a_panic() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a");
        let store = Store::at(dir.clone());
        let r = [("R", "m")];
        let a = approval(tmp.path(), "rm x", &r, now() + 60);
        store.issue(&a).unwrap();
        // A FIFO under an approval's name, a file whose name only begins with an id, a use at
        // the end of time.
        nix::unistd::mkfifo(
            &dir.join("cccccccccccccccc.json"),
            nix::sys::stat::Mode::S_IRWXU,
        )
        .unwrap();
        let mut other = approval(tmp.path(), "rm z", &r, now() + 60);
        std::fs::write(
            dir.join(format!("{}X.json", other.id)),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        other.id = new_id().unwrap();
        other.remaining = other.reasons.clone();
        other.used = Some(Use {
            at: i64::MAX,
            anchor: parent(),
            by: "t".into(),
            pid: 1,
        });
        std::fs::write(
            dir.join(format!("{}.used.json", other.id)),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        let all = store.all().unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(store.redeem(&verdict(&r)).is_some());
        store.prune();
        // Others may write the store: refused.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(store.all().is_err());
        assert!(
            store
                .consume(&Match::Line("rm x"), tmp.path(), &verdict(&r), "t", None)
                .is_none()
        );
    }
}
