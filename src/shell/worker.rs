//! The bash that runs a guarded shell's lines, kept from one line to the next.
//!
//! Starting a bash for every line (and, with the read-only net on, a mount namespace for it)
//! cost more than the check itself (BENCHMARKS.md, "Guarded shell"). So a session keeps one
//! bash, started under the net once, and hands it each line that was allowed. The line runs in
//! a subshell of that bash (a fork: no exec, no namespace), exactly as a bash of its own would
//! run it: whatever it leaves behind — functions, options, traps, `IFS`, positional
//! parameters, the command hash, descriptors, limits, a changed `PWD` — ends with the subshell.
//! The kept bash itself only ever takes the session's state from the shell (`Model`: the
//! directory, exported and plain variables, aliases, umask, which the parser of the next line
//! also sees), so what runs and what was judged start from the same state.
//!
//! The protocol: the line arrives on a pipe (NUL-separated, so a line holding a NUL byte is
//! never sent), the subshell writes the session's state into one memory file and the bash
//! writes the line's number and status into another, then writes an end-of-line marker with
//! the number to its standard error (for the relay that reports what the net refused) and
//! stops itself with SIGSTOP, which `waitpid` reports to the shell: the line is over. Before
//! each line the shell checks, in the bash's own mount namespace, that every tree is still
//! read-only (a tree replaced, or a mount added below one, since the bash started): if not, a
//! new bash is started under a new net. What the shell sends the bash is made from values, each
//! quoted here — never a text a line printed (a forged state stays data) — and never sets the
//! bash's own `__gf…` variables or `PS4`; the line's subshell unsets those before the line
//! runs, and the marker's token comes on the pipe, not in the script. A stop whose status
//! file was spoiled (a line can reach the bash's descriptors through /proc) ends the line with
//! an unknown status, and that bash takes no other line. This module never decides what may
//! run: `Session::judge` did.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp};

use crate::net::watch::Watch;

/// How long the relay of standard error may take to reach the end-of-line marker.
const MARK_WAIT: Duration = Duration::from_millis(200);

/// What the state ends with when it was written whole.
pub(crate) const END: &[u8] = b"\0gf-end";

/// The snippet that writes a session's state: the directory, umask, aliases, `declare -p`,
/// NUL-separated, then [`END`]. Read back by `Session::read_state`.
pub(crate) const DUMP: &str = "{ builtin printf '%s\\0' \"$PWD\"; builtin umask; builtin printf '\\0'; builtin alias -p; builtin printf '\\0'; builtin declare -p; builtin printf '\\0gf-end'; }";

/// The session's state as the shell knows it: what a line starts from.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Model {
    pub cwd: PathBuf,
    pub vars: BTreeMap<OsString, OsString>,
    /// The plain variables: `(name, value)`.
    pub locals: Vec<(OsString, OsString)>,
    /// `alias -p` as bash printed it (read again here, never run as it is).
    pub aliases: String,
    pub umask: Option<String>,
}

/// How a line sent to the worker ended.
pub(crate) enum Ran {
    /// The line ran: its status, and the state it left (None: it ended before writing it, as
    /// `exit` does; the session's state stays as it was).
    Done { status: i32, state: Option<Vec<u8>> },
    /// The worker is gone: the line may not have run.
    Lost,
}

/// A persistent bash for a session's lines.
pub(crate) struct Worker {
    pid: Pid,
    /// The pipe the lines go down (the worker reads the other end).
    lines: Option<File>,
    /// The trees of the net it was started under.
    pub trees: Vec<PathBuf>,
    watch: Option<Watch>,
    /// What the line's subshell writes (the state) and what the worker writes (number, status).
    state: File,
    status: File,
    seq: u64,
    /// The state the worker has now.
    applied: Model,
    /// What the relay kept of the last line's standard error that reports EROFS.
    found: Vec<Vec<u8>>,
    /// What the worker writes was tampered with: it takes no other line.
    spoiled: bool,
}

/// A token that no program's output holds by chance: this process's random hash seed.
fn token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// The start of the end-of-line marker for `token`; the line's number and `\x1e` follow.
fn marker(token: &str) -> Vec<u8> {
    let mut m = vec![0x1e];
    m.extend_from_slice(b"gardefou:");
    m.extend_from_slice(token.as_bytes());
    m.push(b':');
    m
}

/// `bytes` as one bash word, whatever they hold but NUL.
fn quoted(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &b in bytes {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// Names the session's bash never takes from the model: its own (`__gf…`), and those a bash
/// does not import from its environment, or runs as code (`PS4` under `set -x`).
fn kept_out(name: &OsStr) -> bool {
    name.as_bytes().starts_with(b"__gf") || name == "IFS" || name == "PS4"
}

/// The aliases in `alias -p` output: `(name, value)`, each value read as bash quoted it. What
/// is not an alias line is skipped, so that only `alias NAME=VALUE` is ever made from it.
pub(crate) fn aliases_of(text: &str) -> Vec<(String, Vec<u8>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if !b[i..].starts_with(b"alias ") {
            // Not an alias line: to its end.
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i + b"alias ".len();
        let Some(eq) = b[start..].iter().position(|&c| c == b'=') else {
            break;
        };
        let name = &b[start..start + eq];
        i = start + eq + 1;
        let mut value = Vec::new();
        while i < b.len() && !b[i].is_ascii_whitespace() {
            match b[i] {
                b'\'' => {
                    let close = b[i + 1..].iter().position(|&c| c == b'\'');
                    let Some(close) = close else {
                        return out;
                    };
                    value.extend_from_slice(&b[i + 1..i + 1 + close]);
                    i += close + 2;
                }
                b'\\' if i + 1 < b.len() => {
                    value.push(b[i + 1]);
                    i += 2;
                }
                c => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        let name = String::from_utf8_lossy(name).into_owned();
        if !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.:+@%,-".contains(&c))
        {
            out.push((name, value));
        }
    }
    out
}

/// The bash text that sets plain variables, aliases and the umask: made from their values,
/// each quoted here (a value, or a forged state, is never run as text).
pub(crate) fn assignments(
    locals: &[(OsString, OsString)],
    aliases: &str,
    umask: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in locals {
        if is_name(name) && !kept_out(name) {
            assign(
                &mut out,
                "builtin declare --",
                name.as_bytes(),
                value.as_bytes(),
            );
        }
    }
    for (name, value) in aliases_of(aliases) {
        assign(&mut out, "builtin alias --", name.as_bytes(), &value);
    }
    if let Some(mask) =
        umask.filter(|m| !m.is_empty() && m.bytes().all(|c| (b'0'..=b'7').contains(&c)))
    {
        out.extend_from_slice(format!("builtin umask {mask}\n").as_bytes());
    }
    out
}

/// `COMMAND NAME='VALUE'` and a newline.
fn assign(out: &mut Vec<u8>, command: &str, name: &[u8], value: &[u8]) {
    out.extend_from_slice(command.as_bytes());
    out.push(b' ');
    out.extend_from_slice(name);
    out.push(b'=');
    out.extend(quoted(value));
    out.push(b'\n');
}

fn is_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The bash text that takes the worker from the state `from` to `to` (empty: nothing to do).
/// Only ever made from the shell's model, never from what a line wrote.
fn update(from: &Model, to: &Model) -> Vec<u8> {
    let mut out = Vec::new();
    if from.cwd != to.cwd {
        out.extend_from_slice(b"builtin cd -- ");
        out.extend(quoted(to.cwd.as_os_str().as_bytes()));
        // As in a bash of its own: no OLDPWD the parser does not know.
        out.extend_from_slice(b"; builtin unset -v OLDPWD\n");
    }
    if from.vars != to.vars {
        for name in from.vars.keys().filter(|n| !to.vars.contains_key(*n)) {
            if is_name(name) && !kept_out(name) {
                out.extend_from_slice(b"builtin unset -v ");
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
            }
        }
        for (name, value) in to.vars.iter().filter(|(n, v)| from.vars.get(*n) != Some(v)) {
            if is_name(name) && !kept_out(name) {
                assign(
                    &mut out,
                    "builtin export",
                    name.as_bytes(),
                    value.as_bytes(),
                );
            }
        }
    }
    if from.locals != to.locals {
        for (name, _) in &from.locals {
            if is_name(name) && !kept_out(name) {
                out.extend_from_slice(b"builtin unset -v ");
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
            }
        }
        out.extend(assignments(&to.locals, "", None));
    }
    if from.aliases != to.aliases {
        out.extend_from_slice(b"builtin unalias -a\n");
        out.extend(assignments(&[], &to.aliases, None));
    }
    if from.umask != to.umask {
        out.extend(assignments(&[], "", to.umask.as_deref()));
    }
    out
}

/// The worker's script. Its own descriptors are 60–65 (the terminal's three, the lines' pipe,
/// the state and status files), closed for what a line runs; `token`, when not empty, makes
/// the end-of-line marker written to standard error for the relay. Ctrl-C and Ctrl-\\ end a
/// line's subshell, not the worker (a handler, which subshells do not keep). A subshell also
/// starts outside any loop: `break` and `continue` in a line cannot reach the worker's.
fn script(prefix: &[u8], fds: [i32; 3], marked: bool) -> Vec<u8> {
    let [lines, state, status] = fds;
    // The token comes first on the pipe: not in this text, which `BASH_EXECUTION_STRING` holds.
    let mark = if marked {
        "builtin printf '\\036gardefou:%s:%s\\036' \"$__gf_tok\" \"$__gf_seq\" >&2; "
    } else {
        ""
    };
    let mut out = prefix.to_vec();
    out.extend_from_slice(format!(
        "
command exec 60>&1 61>&2 62<&0 63<&{lines} 64>&{state} 65>&{status} {lines}<&- {state}>&- {status}>&-
builtin trap ':' INT QUIT
IFS= builtin read -r -d '' -u 63 __gf_tok
__gf_ret() {{ return \"$1\"; }}
__gf_stop() {{ builtin printf '%s\\0' \"$__gf_s\" >&65; {mark}builtin kill -STOP \"$$\"; }}
__gf_seq=0 __gf_s=0
builtin printf '0\\0' >&65
__gf_stop
while IFS= builtin read -r -d '' -u 63 __gf_seq && IFS= builtin read -r -d '' -u 63 __gf_s && IFS= builtin read -r -d '' -u 63 __gf_up && IFS= builtin read -r -d '' -u 63 __gf_line; do
builtin printf '%s\\0' \"$__gf_seq\" >&65
builtin eval \"$__gf_up\" 2>/dev/null
(
builtin trap - INT QUIT
builtin eval \"builtin unset -v __gf_line __gf_up __gf_tok __gf_s __gf_seq __gf_x; __gf_ret $__gf_s; $__gf_line\" 60>&- 61>&- 62<&- 63<&- 64>&- 65>&-
__gf_s=$?
{DUMP} >&64 2>/dev/null
builtin exit \"$__gf_s\"
)
__gf_s=$?
__gf_stop
done
"
    ).as_bytes());
    out
}

/// An anonymous file the child inherits (ours is closed on exec once the child has it).
fn memory_file(name: &str) -> Result<OwnedFd, String> {
    nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::empty())
        .map_err(|e| format!("cannot make a memory file: {e}"))
}

fn close_on_exec(fd: &OwnedFd) -> Result<(), String> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map(drop)
        .map_err(|e| format!("cannot keep a descriptor to itself: {e}"))
}

/// The whole content of a memory file shared with the worker.
fn content(f: &mut File) -> Vec<u8> {
    let mut out = Vec::new();
    if f.rewind().is_ok() {
        let _ = f.read_to_end(&mut out);
    }
    out
}

/// Empties a memory file (the worker's offset is the same: it writes from the start again).
fn empty(f: &mut File) {
    let _ = f.set_len(0);
    let _ = f.rewind();
}

impl Worker {
    /// Starts a worker in the state `model`: `prefix` (the plain variables, aliases and umask
    /// as bash text) runs first, the environment and directory are the process's; `command`
    /// makes the process (through the net's helper) from the script it is given; `trees` are
    /// the net's (its standard error is then relayed, and what the net refused read from it).
    pub fn start(
        prefix: &[u8],
        model: Model,
        trees: Vec<PathBuf>,
        command: impl FnOnce(OsString) -> Command,
    ) -> Result<Worker, String> {
        use nix::fcntl::OFlag;
        use std::os::unix::ffi::OsStringExt;
        // The worker's ends stay open across exec; ours do not, once it has them.
        let (read, write) =
            nix::unistd::pipe2(OFlag::empty()).map_err(|e| format!("cannot make a pipe: {e}"))?;
        close_on_exec(&write)?;
        let state = memory_file("gardefou-state")?;
        let status = memory_file("gardefou-status")?;
        let token = if trees.is_empty() {
            String::new()
        } else {
            token()
        };
        let fds = [read.as_raw_fd(), state.as_raw_fd(), status.as_raw_fd()];
        if fds.iter().any(|&fd| fd >= 60) {
            return Err("too many descriptors open to start bash with its own".into());
        }
        let mut cmd = command(OsString::from_vec(script(prefix, fds, !token.is_empty())));
        let watch = if trees.is_empty() {
            None
        } else {
            match Watch::attach_marked(&mut cmd, Some(marker(&token))) {
                Ok(w) => Some(w),
                Err(e) => {
                    eprintln!(
                        "gardefou: warning: cannot watch this session's errors ({e}): a refusal by the read-only net will not be reported"
                    );
                    None
                }
            }
        };
        let spawned = cmd.spawn();
        drop(cmd);
        drop(read);
        close_on_exec(&state)?;
        close_on_exec(&status)?;
        let child = spawned.map_err(|e| format!("cannot start bash: {e}"))?;
        let mut lines = File::from(write);
        lines
            .write_all(format!("{token}\0").as_bytes())
            .map_err(|e| format!("cannot start bash: {e}"))?;
        let mut w = Worker {
            pid: Pid::from_raw(child.id() as i32),
            lines: Some(lines),
            trees,
            watch,
            state: File::from(state),
            status: File::from(status),
            seq: 0,
            applied: model,
            found: Vec::new(),
            spoiled: false,
        };
        match w.wait() {
            Ran::Done { .. } => Ok(w),
            Ran::Lost => Err("bash ended as it started".into()),
        }
    }

    /// Whether the worker is still there to take a line, under a net that still holds.
    pub fn usable(&mut self) -> bool {
        if self.lines.is_none() || self.spoiled {
            return false;
        }
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => {
                // Reaped here: nothing to wait for when it is dropped.
                self.lines = None;
                false
            }
            Ok(_) => self.trees.is_empty() || crate::net::holds_in(self.pid.as_raw(), &self.trees),
        }
    }

    /// Runs one line, in the state `model`, whose previous status was `status`.
    pub fn run(&mut self, line: &str, status: i32, model: &Model) -> Ran {
        if !self.usable() {
            return Ran::Lost;
        }
        self.seq += 1;
        empty(&mut self.state);
        empty(&mut self.status);
        let mut msg = format!("{}\0{status}\0", self.seq).into_bytes();
        msg.extend(update(&self.applied, model));
        msg.push(0);
        msg.extend_from_slice(line.as_bytes());
        msg.push(0);
        // Woken first: a message longer than the pipe holds is read as it is written.
        let _ = kill(self.pid, Signal::SIGCONT);
        let sent = self
            .lines
            .as_mut()
            .is_some_and(|p| p.write_all(&msg).is_ok());
        if !sent {
            return Ran::Lost;
        }
        self.applied = model.clone();
        self.wait()
    }

    /// Waits until the worker has stopped after the line it was sent (or is gone).
    fn wait(&mut self) -> Ran {
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Exited(_, code)) => return self.gone(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return self.gone(128 + sig as i32),
                Ok(WaitStatus::Stopped(_, Signal::SIGSTOP)) => {
                    let (seq, status) = self.progress();
                    let status = match status.filter(|_| seq == Some(self.seq)) {
                        Some(s) => s,
                        // Stopped by something else than its own end of line (a line's `kill
                        // -STOP $$`): it goes on.
                        None if self.has_child() => {
                            let _ = kill(self.pid, Signal::SIGCONT);
                            continue;
                        }
                        // Stopped after its line with what it wrote spoiled (a line can reach
                        // the worker's descriptors through /proc): the line is over, its status
                        // unknown; this worker is not trusted with another line.
                        None => {
                            eprintln!(
                                "gardefou: the session's bash lost track of this line: its status and state are not known; a new bash takes the next line"
                            );
                            self.spoiled = true;
                            return Ran::Done {
                                status: 1,
                                state: None,
                            };
                        }
                    };
                    if let Some(w) = &mut self.watch {
                        self.found = w.until_mark(self.seq, MARK_WAIT);
                    }
                    let state = content(&mut self.state);
                    return Ran::Done {
                        status,
                        state: state.ends_with(END).then_some(state),
                    };
                }
                Ok(WaitStatus::Stopped(_, _)) => {
                    // Ctrl-Z stopped the line: there is no job control here, it goes on (the
                    // whole group: the worker and what it started).
                    eprintln!("\ngardefou: this shell has no job control: the command goes on");
                    let _ = killpg(getpgrp(), Signal::SIGCONT);
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    eprintln!("gardefou: cannot wait for the line: {e}");
                    self.lines = None;
                    return Ran::Lost;
                }
            }
        }
    }

    /// Whether the worker has a child: the subshell of a line still running.
    fn has_child(&self) -> bool {
        let pid = self.pid.as_raw();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .map(|c| !c.trim().is_empty())
            // Unknown: as before, it is taken for a stop in the middle of a line.
            .unwrap_or(true)
    }

    /// The number of the line the worker took, and the status it ended with, as it wrote them.
    fn progress(&mut self) -> (Option<u64>, Option<i32>) {
        let done = content(&mut self.status);
        let mut fields = done.split(|&b| b == 0);
        let seq = fields
            .next()
            .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok());
        let status = fields
            .next()
            .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok());
        (seq, status)
    }

    /// The worker is gone (a line killed it: `kill $$`). The line it had taken ran, and ends
    /// with `code`; one it never took did not run.
    fn gone(&mut self, code: i32) -> Ran {
        self.lines = None;
        if self.seq > 0 && self.progress().0 == Some(self.seq) {
            if let Some(w) = &mut self.watch {
                self.found = w.until_mark(self.seq, MARK_WAIT);
            }
            Ran::Done {
                status: code,
                state: None,
            }
        } else {
            Ran::Lost
        }
    }

    /// The messages of the last line that reported EROFS.
    pub fn take_found(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.found)
    }
}

impl Drop for Worker {
    /// The end of its input ends the worker's loop; it is woken to see it, and waited for.
    fn drop(&mut self) {
        if self.lines.take().is_some() {
            let _ = kill(self.pid, Signal::SIGCONT);
            while let Err(nix::errno::Errno::EINTR) = waitpid(self.pid, None) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_update_comes_from_the_model_and_quotes_every_byte() {
        let mut from = Model {
            cwd: "/srv".into(),
            ..Model::default()
        };
        from.vars.insert("GONE".into(), "1".into());
        from.vars.insert("KEPT".into(), "same".into());
        let mut to = from.clone();
        to.cwd = "/tmp/it's here".into();
        to.vars.remove(OsStr::new("GONE"));
        to.vars.insert("NEW".into(), "a'b\n$(x)".into());
        to.vars.insert("IFS".into(), "x".into());
        to.vars.insert("PS4".into(), "$(x)".into());
        to.vars.insert("__gf_line".into(), "x".into());
        to.vars.insert("bad-name".into(), "1".into());
        to.locals.push(("n".into(), "1; echo x".into()));
        to.aliases =
            "alias ll='ls -l'\nalias q='it'\\''s'\nnot an alias; rm -rf x\nalias evil=x; rm\n"
                .into();
        to.umask = Some("0022; rm -rf x".into());
        let text = String::from_utf8(update(&from, &to)).unwrap();
        assert_eq!(
            text,
            "builtin cd -- '/tmp/it'\\''s here'; builtin unset -v OLDPWD\nbuiltin unset -v GONE\nbuiltin export NEW='a'\\''b\n$(x)'\nbuiltin declare -- n='1; echo x'\nbuiltin unalias -a\nbuiltin alias -- ll='ls -l'\nbuiltin alias -- q='it'\\''s'\nbuiltin alias -- evil='x;'\n"
        );
        assert!(update(&to, &to).is_empty());
    }
}
