//! `gardefou shell`: a login shell for production hosts.
//!
//! Every line goes through the same Intent → Verdict pipeline as `gardefou check --line`
//! before any of it runs: a denied line does not run at all. The others run in the system
//! shell — a subshell of one `/bin/bash` kept for the session (`worker`) — with the shim
//! directory first on PATH, so whatever they start (scripts, `xargs`, `find -exec`, aliases) is
//! still guarded, and the shims ask for confirmation and take snapshots as they do anywhere. A
//! line the shell confirmed runs in a bash of its own (`bash -c`), outside the net for what it
//! changes. What a line changes in the shell itself — the directory, exported and plain
//! variables, aliases, the umask — is read back from bash after it ran, so `cd`, `export`,
//! `x=1`, `alias` and `source env.sh` persist between lines, in compound lines too (`cd /srv &&
//! ls`); the next line starts from exactly that state, which its parser knows too.
//!
//! Not supported: job control (Ctrl-Z does nothing; `cmd &` runs in the background of its
//! line), shell functions, traps, shell options (`set -o`, `shopt`), positional parameters and
//! descriptors persisting between lines: the parser would not know them.

pub mod editor;
pub mod init;
pub mod prompt;
mod worker;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::act::guard::carry_out;
use crate::act::netted::{Netted, argv_of, trees_for, warn_server};
use crate::facts::hostname;
use crate::intent::line::Shell;
use crate::outcome::exit;
use crate::pipeline::{Loaded, environment, load_failsafe};
use crate::policy::{Decision, Environment};

const RAN_NOTHING: &str = "Nothing was run.";

/// The state of one shell session.
pub struct Session {
    pub cwd: PathBuf,
    /// Exported variables: the environment of every line.
    pub vars: BTreeMap<OsString, OsString>,
    /// Plain (not exported) variables, as `declare -- NAME="VALUE"` lines bash printed.
    pub locals: Vec<(OsString, OsString, String)>,
    /// `alias -p` as bash printed it.
    pub aliases: String,
    pub umask: Option<String>,
    pub status: i32,
    pub host: String,
    pub loaded: Loaded,
    pub env: Environment,
    /// The policy (or the environment rules) could not be read: the shell runs, loudly marked.
    pub broken: Option<String>,
    pub real_shell: PathBuf,
    /// Where the shims are (first on every line's PATH).
    pub shims: Option<PathBuf>,
    pub user: String,
    /// The read-only net as the session started: off, unavailable (and why), or on (its trees
    /// are found again for each line).
    pub net: crate::net::State,
    /// The bash that runs the lines, kept between them (None: started for the next line).
    worker: Option<worker::Worker>,
    /// A worker could not be started: each line runs in a bash of its own.
    no_worker: bool,
}

/// The directory of the shims: the one whose `rm` is this very executable — beside it after
/// `gardefou install`, or /usr/local/bin when the Debian package put the binary in /usr/bin
/// (where `rm` is the real one, which must never be put first).
pub(crate) fn shim_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    [exe.parent()?.to_path_buf(), PathBuf::from("/usr/local/bin")]
        .into_iter()
        .find(|dir| crate::act::exec::is_ours(&dir.join("rm")))
}

/// `PATH` with `dir` first (once).
pub(crate) fn path_with(dir: &Path, path: Option<&OsStr>) -> OsString {
    let mut out = dir.as_os_str().to_owned();
    if let Some(path) = path {
        for p in std::env::split_paths(path) {
            if p != dir {
                out.push(":");
                out.push(p.as_os_str());
            }
        }
    }
    out
}

impl Session {
    /// A session in this process's directory and environment. `login`: read the environment a
    /// login bash would have (`/etc/profile` and the user's profile).
    pub fn new(login: bool) -> Session {
        crate::approve::guarding_lines();
        let loaded = load_failsafe(None);
        let host = hostname();
        let (env, env_error) = environment(&loaded.policy, &host, None);
        let broken = loaded.error.clone().or(env_error);
        let real_shell = ["/bin/bash", "/usr/bin/bash", "/bin/sh"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("/bin/sh"));
        let mut vars: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
        if login && let Some(profile) = login_environment(&real_shell) {
            vars = profile;
        }
        let shims = shim_dir();
        if let Some(dir) = &shims {
            let path = path_with(dir, vars.get(OsStr::new("PATH")).map(OsString::as_os_str));
            vars.insert("PATH".into(), path);
        }
        let user = crate::facts::user_name();
        let net = crate::net::state(&loaded.policy, &env);
        let cwd = std::env::current_dir()
            .ok()
            .or_else(|| vars.get(OsStr::new("HOME")).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/"));
        Session {
            cwd,
            vars,
            locals: Vec::new(),
            aliases: String::new(),
            umask: None,
            status: 0,
            host,
            loaded,
            env,
            broken,
            real_shell,
            shims,
            user,
            net,
            worker: None,
            no_worker: false,
        }
    }

    /// Ends the session's bash (its end of input, then waited for).
    pub fn end(&mut self) {
        self.worker = None;
    }

    /// The net for the next line: its trees as they are now.
    fn net_now(&self) -> crate::net::State {
        match &self.net {
            crate::net::State::On(_) => {
                crate::net::State::On(crate::net::trees(&self.loaded.policy, &self.env))
            }
            other => other.clone(),
        }
    }

    fn netted<'a>(&'a self, argv: &'a [OsString], text: &'a str) -> Netted<'a> {
        Netted {
            policy: &self.loaded.policy,
            env: &self.env,
            host: &self.host,
            argv,
            text,
        }
    }

    /// The shell state the line parser expands words with.
    fn parser_state(&self) -> Shell {
        let mut vars: std::collections::HashMap<OsString, OsString> =
            self.vars.clone().into_iter().collect();
        for (name, value, _) in &self.locals {
            vars.insert(name.clone(), value.clone());
        }
        Shell::with(Some(self.cwd.clone()), vars)
    }

    /// Checks `line` and runs it unless refused; returns its exit status.
    pub fn run_line(&mut self, line: &str) -> i32 {
        if line.contains('\0') {
            // bash cannot hold one (and the session's bash takes its lines NUL-separated).
            eprintln!("gardefou: this line holds a NUL byte: not run");
            self.status = exit::USAGE;
            return self.status;
        }
        let status = match self.check(line) {
            Ok(exempt) => self.execute(line, &exempt),
            Err(code) => code,
        };
        self.status = status;
        status
    }

    /// The verdict on a line: Ok to run it (with the paths whose trees the net leaves writable
    /// for it: what the operator confirmed), else the exit status of the refusal.
    fn check(&self, line: &str) -> Result<Vec<PathBuf>, i32> {
        // A bug that panics while judging refuses the line and keeps the shell alive.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.judge(line))) {
            Ok(verdict) => verdict,
            Err(_) => {
                eprintln!(
                    "gardefou: internal error while checking this line (a bug: please report it): not run"
                );
                Err(exit::USAGE)
            }
        }
    }

    fn judge(&self, line: &str) -> Result<Vec<PathBuf>, i32> {
        let mut state = self.parser_state();
        let policy = &self.loaded.policy;
        let ctx = crate::pipeline::Context {
            policy,
            env: &self.env,
            host: &self.host,
            error: self.broken.as_deref(),
            net: matches!(self.net, crate::net::State::On(_)),
            // psql by its path reaches no shim: the shell asks the server itself.
            ask_db: names_guarded_by_path(line),
        };
        let (v, touched) = match crate::pipeline::judge_line(&ctx, line.as_bytes(), &mut state) {
            Ok(j) => (j.verdict, j.touched),
            Err(e) => {
                eprintln!("gardefou: cannot read this line ({e}): not run");
                return Err(exit::USAGE);
            }
        };
        let argv = [OsString::from("gardefou-shell"), "-c".into(), line.into()];
        let record = |outcome: crate::outcome::Outcome| {
            crate::act::guard::record(
                policy,
                &self.host,
                &self.env,
                &argv,
                &v,
                crate::act::guard::Run {
                    outcome,
                    override_reason: None,
                    snapshot_id: None,
                },
            )
        };
        match v.decision {
            Decision::Allow => Ok(Vec::new()),
            Decision::Deny => {
                carry_out(&v, &self.env, &self.host, line, RAN_NOTHING);
                record(crate::outcome::Outcome::Refused);
                Err(exit::REFUSED)
            }
            // A confirmation is left to the shims only when every effect that asks for one
            // reaches a shim by name when the line runs (rm, psql, apt…). A guarded command
            // given by its path (`/bin/rm`) does not reach its shim, and nothing stands behind
            // a redirection, mv or find -delete: the shell asks here (no terminal: refused).
            // The shims lift the net for what they confirm.
            // No one to ask (`ssh host 'LINE'`, ansible): the line's one-time approval, used up
            // here, lets it through, and the shims it starts redeem the same reasons.
            Decision::Confirm
                if !crate::act::confirm::terminal()
                    && let Some(a) = crate::approve::for_line(
                        &v,
                        line,
                        &self.cwd,
                        "the guarded shell",
                        false,
                    ) =>
            {
                eprintln!("gardefou: let through once by {}", a.describe());
                record(crate::outcome::Outcome::Approved);
                Ok(touched)
            }
            Decision::Confirm
                if self.shims.is_some() && v.all_deferred() && !names_guarded_by_path(line) =>
            {
                Ok(Vec::new())
            }
            Decision::Confirm => {
                let (run, outcome) = carry_out(&v, &self.env, &self.host, line, RAN_NOTHING);
                record(outcome);
                if run { Ok(touched) } else { Err(exit::REFUSED) }
            }
        }
    }

    /// The session's state as bash text, replayed first by a new bash: plain variables,
    /// aliases, the umask (the environment and directory are its process's), each made from its
    /// value, never run as bash printed it.
    fn replay(&self) -> Vec<u8> {
        let mut script = Vec::new();
        if !self.aliases.is_empty() {
            script.extend_from_slice(b"shopt -s expand_aliases\n");
        }
        script.extend(worker::assignments(
            &self.model().locals,
            &self.aliases,
            self.umask.as_deref(),
        ));
        script
    }

    /// Runs `line` with this session's state, and reads back what it changed: in the session's
    /// bash, or, for a line the operator confirmed (the net is lifted for what it changes), in
    /// a bash of its own.
    /// The session's directory removed since (or a directory of a process that is gone, such
    /// as the previous bash's /proc entry): the nearest that is still there, said, for the bash
    /// about to start and for the parser from the next line on.
    fn settle_cwd(&mut self) {
        if self.cwd.is_dir() {
            return;
        }
        let mut dir = self.cwd.clone();
        while !dir.is_dir() && dir.pop() {}
        if !dir.is_dir() {
            dir = PathBuf::from("/");
        }
        eprintln!(
            "gardefou: {} is gone: this line runs in {}",
            self.cwd.display(),
            dir.display()
        );
        self.cwd = dir;
    }

    fn execute(&mut self, line: &str, exempt: &[PathBuf]) -> i32 {
        let trees = trees_for(&self.net_now(), exempt);
        warn_server(line, &trees);
        if exempt.is_empty()
            && !self.no_worker
            && let Some(status) = self.in_worker(line, &trees)
        {
            return status;
        }
        // What this line changes is read back into the session; the worker would not have it.
        self.worker = None;
        self.settle_cwd();
        self.execute_once(line, &trees)
    }

    /// The session's state as the next line starts from it.
    fn model(&self) -> worker::Model {
        worker::Model {
            cwd: self.cwd.clone(),
            vars: self.vars.clone(),
            locals: self
                .locals
                .iter()
                .map(|(name, value, _)| (name.clone(), value.clone()))
                .collect(),
            aliases: self.aliases.clone(),
            umask: self.umask.clone(),
        }
    }

    /// `line` in the session's bash (started under `trees` when there is none, when the net's
    /// trees changed, or when its net no longer holds). None: no bash could be started for it.
    fn in_worker(&mut self, line: &str, trees: &[crate::net::Tree]) -> Option<i32> {
        let paths: Vec<PathBuf> = trees.iter().map(|t| t.path.clone()).collect();
        if self
            .worker
            .as_mut()
            .is_some_and(|w| w.trees != paths || !w.usable())
        {
            self.worker = None;
        }
        // A bash that went away before it took the line is replaced once.
        for _ in 0..2 {
            if self.worker.is_none() {
                self.settle_cwd();
            }
            let model = self.model();
            if self.worker.is_none() {
                match self.start_worker(&paths, model.clone()) {
                    Ok(w) => self.worker = Some(w),
                    Err(e) => {
                        eprintln!(
                            "gardefou: warning: {e}: from now on each line runs in a bash of its own"
                        );
                        self.no_worker = true;
                        return None;
                    }
                }
            }
            let w = self.worker.as_mut()?;
            let ran = w.run(line, self.status, &model);
            let found = w.take_found();
            if !found.is_empty() {
                let argv = argv_of("gardefou-shell", &["-c".as_ref(), line.as_ref()]);
                self.netted(&argv, line).judge_found(&found, trees);
            }
            match ran {
                worker::Ran::Done { status, state } => {
                    if let Some(state) = state {
                        self.read_state(&state);
                    }
                    return Some(status);
                }
                worker::Ran::Lost => self.worker = None,
            }
        }
        None
    }

    fn start_worker(
        &self,
        paths: &[PathBuf],
        model: worker::Model,
    ) -> Result<worker::Worker, String> {
        let mut prefix = b"shopt -s expand_aliases\n".to_vec();
        prefix.extend(self.replay());
        worker::Worker::start(&prefix, model, paths.to_vec(), |script| {
            let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
            let mut cmd =
                crate::net::session_command(&refs, &self.real_shell, &["-c".into(), script]);
            cmd.env_clear().envs(&self.vars).current_dir(&self.cwd);
            cmd
        })
    }

    /// `line` in a bash of its own, under the net of `trees`.
    fn execute_once(&mut self, line: &str, trees: &[crate::net::Tree]) -> i32 {
        let state_file = match StateFile::new() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("gardefou: {e}");
                return 1;
            }
        };
        let mut script = self.replay();
        // The status of the previous line is `$?` on the first line of this one.
        script.extend_from_slice(
            format!("__gf_status() {{ return {}; }}; __gf_status\n", self.status).as_bytes(),
        );
        script.extend_from_slice(line.as_bytes());
        script.extend_from_slice(b"\n__gf_s=$?\n");
        script.extend_from_slice(worker::DUMP.as_bytes());
        script
            .extend_from_slice(b" >| \"$GARDEFOU_STATE_FILE\" 2>/dev/null\nbuiltin exit $__gf_s\n");
        let script = OsString::from_vec(script);
        let argv = argv_of("gardefou-shell", &["-c".as_ref(), line.as_ref()]);
        let status = self.netted(&argv, line).run(
            trees,
            &self.real_shell,
            &["-c".into(), script],
            false,
            |cmd| {
                cmd.env_clear()
                    .envs(&self.vars)
                    .env("GARDEFOU_STATE_FILE", &state_file.path)
                    .current_dir(&self.cwd);
            },
        );
        if let Ok(bytes) = std::fs::read(&state_file.path)
            && bytes.ends_with(worker::END)
        {
            self.read_state(&bytes);
        }
        status
    }

    /// Takes back the directory, umask, aliases and variables (plain and exported) bash wrote.
    fn read_state(&mut self, bytes: &[u8]) {
        let bytes = bytes.strip_suffix(worker::END).unwrap_or(bytes);
        let mut parts = bytes.splitn(4, |&b| b == 0);
        let (Some(pwd), Some(mask), Some(aliases), Some(decls)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let pwd = PathBuf::from(OsString::from_vec(pwd.to_vec()));
        if pwd.is_dir() {
            self.cwd = pwd;
        }
        let mask = String::from_utf8_lossy(mask).trim().to_owned();
        if !mask.is_empty() {
            self.umask = Some(mask);
        }
        self.aliases = String::from_utf8_lossy(aliases).into_owned();
        let decls = String::from_utf8_lossy(decls);
        self.locals = plain_variables(&decls);
        let mut vars = exported_variables(&decls);
        for internal in [
            "_",
            "SHLVL",
            "GARDEFOU_STATE_FILE",
            "GARDEFOU_NET",
            "OLDPWD",
        ] {
            vars.remove(OsStr::new(internal));
        }
        // The session's bash's own, even exported by a line.
        vars.retain(|name, _| !name.as_encoded_bytes().starts_with(b"__gf"));
        if let Some(old) = self.vars.get(OsStr::new("SHLVL")) {
            vars.insert("SHLVL".into(), old.clone());
        }
        if !vars.is_empty() {
            self.vars = vars;
        }
    }

    /// `gardefou shell -c LINE`: check, then hand the line to bash (exec: its exit status and
    /// signals are bash's own).
    pub fn run_command(&mut self, line: &str) -> i32 {
        let exempt = match self.check(line) {
            Ok(exempt) => exempt,
            Err(code) => return code,
        };
        let trees = trees_for(&self.net_now(), &exempt);
        if !trees.is_empty() {
            // Under the net the line is waited for, to report what the net refused; Ctrl-C and
            // Ctrl-\\ are the line's, as they were bash's.
            catch_job_signals();
            warn_server(line, &trees);
            let argv = argv_of("gardefou-shell", &["-c".as_ref(), line.as_ref()]);
            return self.netted(&argv, line).run(
                &trees,
                &self.real_shell,
                &["-c".into(), line.into()],
                true,
                |cmd| {
                    cmd.env_clear().envs(&self.vars).current_dir(&self.cwd);
                },
            );
        }
        use std::os::unix::process::CommandExt;
        let err = Command::new(&self.real_shell)
            .arg("-c")
            .arg(line)
            .env_clear()
            .envs(&self.vars)
            .current_dir(&self.cwd)
            .exec();
        eprintln!("gardefou: cannot run {}: {err}", self.real_shell.display());
        exit::CANNOT_EXEC
    }
}

/// Ctrl-C, Ctrl-\\ and Ctrl-Z do not stop the shell itself (a handler, which the lines it runs
/// do not inherit: they get the default behaviour).
pub fn catch_job_signals() {
    use signal_hook::consts::{SIGINT, SIGQUIT, SIGTSTP};
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for s in [SIGINT, SIGQUIT, SIGTSTP] {
        if let Err(e) = signal_hook::flag::register(s, flag.clone()) {
            eprintln!("gardefou: warning: cannot catch signal {s}: {e}");
        }
    }
}

/// The environment a login bash sets up (`/etc/profile`, the user's profile), or None.
fn login_environment(shell: &Path) -> Option<BTreeMap<OsString, OsString>> {
    let out = Command::new(shell)
        .args(["-l", "-c", "command env -0"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let vars: BTreeMap<OsString, OsString> = out
        .stdout
        .split(|&b| b == 0)
        .filter_map(|e| {
            let eq = e.iter().position(|&b| b == b'=')?;
            let name = &e[..eq];
            (!matches!(name, b"_" | b"SHLVL")).then(|| {
                (
                    OsString::from_vec(name.to_vec()),
                    OsString::from_vec(e[eq + 1..].to_vec()),
                )
            })
        })
        .collect();
    (!vars.is_empty()).then_some(vars)
}

/// Bash's own variables, never carried from one line to the next.
fn is_bash_internal(name: &str) -> bool {
    name.starts_with("BASH")
        || name.starts_with("__gf")
        || name.starts_with("COMP_")
        || matches!(
            name,
            "HOSTNAME"
                | "HOSTTYPE"
                | "MACHTYPE"
                | "OSTYPE"
                | "IFS"
                | "PS4"
                | "OPTARG"
                | "OPTIND"
                | "OPTERR"
                | "COLUMNS"
                | "LINES"
                | "HISTFILE"
                | "HISTSIZE"
                | "HISTFILESIZE"
                | "_"
        )
}

/// One variable in `declare -p` output.
struct Declared {
    /// The attribute flags: `--`, `-x`, `-ir`, `-a`…
    flags: String,
    name: String,
    /// The value (None: declared without one, or an array).
    value: Option<Vec<u8>>,
    /// The entry as bash printed it, to replay.
    text: String,
}

/// A double-quoted bash value (after its `"`): the bytes, and the length through the quote.
fn double_quoted(text: &str) -> Option<(Vec<u8>, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((out, i + 1)),
            b'\\' if i + 1 < b.len() => {
                if !matches!(b[i + 1], b'\\' | b'"' | b'$' | b'`') {
                    out.push(b'\\');
                }
                out.push(b[i + 1]);
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// Every variable in `declare -p` output, read in order (values may span lines).
fn declared(text: &str) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(body) = rest.strip_prefix("declare ") {
        let Some((flags, after)) = body.split_once(' ') else {
            break;
        };
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_end];
        let tail = &after[name_end..];
        let (value, used) = if let Some(v) = tail.strip_prefix("=\"") {
            match double_quoted(v) {
                Some((bytes, n)) => (Some(bytes), 2 + n),
                None => break,
            }
        } else if let Some(v) = tail.strip_prefix("=$'") {
            match ansi_c_quoted(v) {
                Some((bytes, n)) => (Some(bytes), 3 + n),
                None => break,
            }
        } else if let Some(v) = tail.strip_prefix("=(") {
            // An array: skip its elements, quotes respected.
            let b = v.as_bytes();
            let mut i = 0;
            let mut closed = None;
            while i < b.len() {
                match b[i] {
                    b')' => {
                        closed = Some(i + 1);
                        break;
                    }
                    b'"' => i += 1 + double_quoted(&v[i + 1..]).map_or(b.len(), |(_, n)| n),
                    b'$' if b.get(i + 1) == Some(&b'\'') => {
                        i += 2 + ansi_c_quoted(&v[i + 2..]).map_or(b.len(), |(_, n)| n)
                    }
                    _ => i += 1,
                }
            }
            match closed {
                Some(n) => (None, 2 + n),
                None => break,
            }
        } else {
            (None, 0)
        };
        let end = tail[used..].find('\n').map_or(tail.len(), |n| used + n);
        let entry_len = "declare ".len() + flags.len() + 1 + name_end + end;
        out.push(Declared {
            flags: flags.to_owned(),
            name: name.to_owned(),
            value,
            text: rest[..entry_len].to_owned(),
        });
        rest = rest[entry_len..].trim_start_matches('\n');
    }
    out
}

/// The plain variables (`declare -- NAME=…`) in `declare -p` output: (name, value, the entry
/// to replay). Bash's own are left out.
fn plain_variables(decls: &str) -> Vec<(OsString, OsString, String)> {
    declared(decls)
        .into_iter()
        .filter(|d| d.flags == "--" && !is_bash_internal(&d.name))
        .filter_map(|d| {
            let v = d.value?;
            Some((d.name.into(), OsString::from_vec(v), d.text))
        })
        .collect()
}

/// The exported variables (`declare -x NAME=…`, not arrays) in `declare -p` output.
fn exported_variables(decls: &str) -> BTreeMap<OsString, OsString> {
    declared(decls)
        .into_iter()
        .filter(|d| d.flags.contains('x') && !d.flags.contains(['a', 'A']))
        .filter_map(|d| Some((OsString::from(d.name), OsString::from_vec(d.value?))))
        .collect()
}

/// Decodes the body of a bash `$'…'` string (after `$'`): its bytes, and the length of the
/// body through the closing quote. None when it does not close.
fn ansi_c_quoted(text: &str) -> Option<(Vec<u8>, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => return Some((out, i + 1)),
            b'\\' if i + 1 < b.len() => {
                i += 1;
                let c = b[i];
                let simple = match c {
                    b'n' => Some(b'\n'),
                    b't' => Some(b'\t'),
                    b'r' => Some(b'\r'),
                    b'a' => Some(7),
                    b'b' => Some(8),
                    b'e' | b'E' => Some(27),
                    b'f' => Some(12),
                    b'v' => Some(11),
                    b'\\' | b'\'' | b'"' | b'?' => Some(c),
                    _ => None,
                };
                if let Some(x) = simple {
                    out.push(x);
                    i += 1;
                } else if c.is_ascii_digit() && c < b'8' {
                    let digits = b[i..]
                        .iter()
                        .take(3)
                        .take_while(|d| (b'0'..b'8').contains(d))
                        .count();
                    let v = u32::from_str_radix(std::str::from_utf8(&b[i..i + digits]).ok()?, 8)
                        .ok()?;
                    out.push(v as u8);
                    i += digits;
                } else if c == b'x' {
                    let digits = b[i + 1..]
                        .iter()
                        .take(2)
                        .take_while(|d| d.is_ascii_hexdigit())
                        .count();
                    let v = u8::from_str_radix(
                        std::str::from_utf8(&b[i + 1..i + 1 + digits]).ok()?,
                        16,
                    )
                    .ok()?;
                    out.push(v);
                    i += 1 + digits;
                } else {
                    out.push(b'\\');
                    out.push(c);
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// Whether the line names a guarded command by a path (`/bin/rm`, `./psql`): such a command
/// does not go through its shim.
pub(crate) fn names_guarded_by_path(line: &str) -> bool {
    line.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`'))
        .filter(|w| w.contains('/'))
        .filter_map(|w| w.trim_matches(['"', '\'']).rsplit('/').next())
        .any(|name| crate::install::SHIMS.contains(&name))
}

/// A file bash writes the session's state into, removed when dropped.
struct StateFile {
    path: PathBuf,
}

impl StateFile {
    fn new() -> crate::error::Result<StateFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        for n in 0..100u32 {
            let path = dir.join(format!(".gardefou-shell-{}-{n}", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(_) => return Ok(StateFile { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(crate::Error::io(
                        format!("cannot create a state file in {}", dir.display()),
                        e,
                    ));
                }
            }
        }
        Err(crate::Error::Usage(format!(
            "cannot create a state file in {}",
            dir.display()
        )))
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The interactive loop. Returns the exit status of the shell.
pub fn interactive(session: &mut Session) -> i32 {
    catch_job_signals();
    crate::render::init_colors(std::io::stdout().is_terminal());
    if let Some(why) = &session.broken {
        eprintln!(
            "{}",
            crate::render::paint(
                &format!(
                    "gardefou: DEGRADED: the policy is broken ({why}); the built-in defaults guard this shell. Fix it: gardefou policy check"
                ),
                crate::policy::schema::Color::Red,
            )
        );
    }
    if let crate::net::State::Unavailable(why) = &session.net {
        eprintln!(
            "gardefou: the read-only net is unavailable ({why}): lines are checked as before, without it"
        );
    }
    let mut ed = match editor::Editor::new(session) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("gardefou: cannot start the line editor: {e}");
            return 1;
        }
    };
    loop {
        let p = prompt::prompt(session);
        match ed.read(&p, session) {
            editor::Read::Line(line) => {
                let trimmed = line.trim();
                if trimmed.is_empty() {
                    continue;
                }
                if matches!(trimmed, "exit" | "logout") || trimmed.starts_with("exit ") {
                    let code = trimmed
                        .strip_prefix("exit")
                        .and_then(|c| c.trim().parse().ok())
                        .unwrap_or(session.status);
                    ed.save();
                    session.end();
                    return code;
                }
                session.run_line(&line);
            }
            editor::Read::Interrupted => {
                session.status = 130;
            }
            editor::Read::Eof => {
                ed.save();
                session.end();
                return session.status;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_variables_from_declare_p() {
        let text = "declare -a A=([0]=\"x)\" [1]=$'y)')\ndeclare -x HOME=\"/root\"\ndeclare -x EMPTY\ndeclare -- n=\"5\"\ndeclare -- q=\"a\\\"b\\$c\"\ndeclare -- m=$'x\\ny\\001\\'z'\ndeclare -- BASH=\"/bin/bash\"\ndeclare -ir PPID=\"1\"\ndeclare -- multi=\"l1\nl2\"\n";
        let got: Vec<(String, Vec<u8>)> = plain_variables(text)
            .into_iter()
            .map(|(n, v, _)| (n.to_string_lossy().into_owned(), v.into_vec()))
            .collect();
        assert_eq!(
            got,
            [
                ("n".to_owned(), b"5".to_vec()),
                ("q".to_owned(), b"a\"b$c".to_vec()),
                ("m".to_owned(), b"x\ny\x01'z".to_vec()),
                ("multi".to_owned(), b"l1\nl2".to_vec()),
            ]
        );
        let env = exported_variables(text);
        assert_eq!(env.len(), 1);
        assert_eq!(env[OsStr::new("HOME")], "/root");
        assert!(names_guarded_by_path("cd /x && /bin/rm -rf y"));
        assert!(!names_guarded_by_path("rm -rf /srv/x"));
    }
}
