//! The bash that runs a guarded shell's lines, kept from one line to the next.
//!
//! Starting a bash for every line (and, with the read-only net on, a mount namespace for it)
//! cost more than the check itself (BENCHMARKS.md, "Guarded shell"). So a session keeps one
//! bash, started under the net once, and hands it each line that was allowed: the line's text
//! arrives on a pipe, is run with `eval`, and the bash then writes the session's state (the same
//! state file a one-off line writes) and stops itself with SIGSTOP, which `waitpid` reports to
//! the shell: the line is over. Nothing runs unless the shell sent it, and only what the check
//! allowed is sent.
//!
//! What a one-off bash gave for free is kept by hand: standard input, output and error are put
//! back after every line (`exec > file` stays in its line); a line that leaves functions, shell
//! options or traps behind ends this bash (they never carried over from one line to the next,
//! and a trap on EXIT runs then, as it did); the status of the previous line is `$?`.
//! A bash that died (Ctrl-C, `exit`, `exec`) is started again, with the session's state, for
//! the next line. This module never decides what may run: `Session::judge` did.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp};

use super::StateFile;
use crate::net::watch::Watch;

/// How long the relay of standard error may take to reach the end-of-line marker.
const MARK_WAIT: Duration = Duration::from_millis(200);

/// How a line sent to the worker ended.
pub(crate) enum Ran {
    /// The line ran to its end: its status, and the state the worker wrote after it.
    Done { status: i32, state: Vec<u8> },
    /// The worker is gone (its line ended it, or a signal did): the status to report.
    Ended(i32),
    /// The worker was gone before it read the line: the line did not run.
    Lost,
}

/// The snippet that writes a session's state into `$GARDEFOU_STATE_FILE`: the line's number
/// and status, the directory, umask, aliases, `declare -p`, and what must not carry over
/// (functions, options, traps). NUL-separated; read back by `Session::read_state`.
pub(crate) const DUMP: &str = "{ builtin printf '%s\\0%s\\0%s\\0' \"$__gf_seq\" \"$__gf_s\" \"$PWD\"; builtin umask; builtin printf '\\0'; builtin alias -p; builtin printf '\\0'; builtin declare -p; builtin printf '\\0'; builtin printf '%s\\n%s\\n' \"$BASHOPTS\" \"$SHELLOPTS\"; builtin declare -F; builtin trap -p; } > \"$GARDEFOU_STATE_FILE\" 2>/dev/null";

/// A persistent bash for a session's lines.
pub(crate) struct Worker {
    pid: Pid,
    /// The pipe the lines go down (the worker reads the other end).
    lines: Option<File>,
    /// The trees of the net it was started under (it keeps them for its life).
    pub trees: Vec<PathBuf>,
    watch: Option<Watch>,
    state: StateFile,
    /// The number of the last line sent.
    seq: u64,
    /// Functions, options and traps as the worker started: a line that changes them ends it.
    shape: Vec<u8>,
    /// What the relay kept of the last line's standard error that reports EROFS.
    found: Vec<Vec<u8>>,
}

/// A token that no program's output holds by chance: this process's random hash seed.
fn token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// The bytes of the end-of-line marker for `token` (what `printf '\\036gardefou:TOKEN\\036'` prints).
fn marker_bytes(token: &str) -> Vec<u8> {
    let mut m = vec![0x1e];
    m.extend_from_slice(b"gardefou:");
    m.extend_from_slice(token.as_bytes());
    m.push(0x1e);
    m
}

/// The worker's script. Its own descriptors are 60–63 (the terminal's three, the lines'
/// pipe), closed for what a line runs; `token`, when not empty, is the end-of-line marker
/// written to standard error for the relay.
fn script(prefix: &str, fd: i32, token: &str) -> String {
    let mark = if token.is_empty() {
        String::new()
    } else {
        format!("builtin printf '\\036gardefou:{token}\\036' >&2; ")
    };
    format!(
        "{prefix}
command exec 60>&1 61>&2 62<&0 63<&{fd} {fd}<&-
__gf_ret() {{ return \"$1\"; }}
__gf_end() {{ command exec 0<&62 1>&60 2>&61; {DUMP}; __gf_busy=; {mark}builtin kill -STOP $$; }}
__gf_seq=0 __gf_s=0 __gf_busy=
__gf_end
while :; do
[[ -n $__gf_busy ]] && {{ __gf_s=1; __gf_end; }}
IFS= builtin read -r -d '' -u 63 __gf_seq && IFS= builtin read -r -d '' -u 63 __gf_s && IFS= builtin read -r -d '' -u 63 __gf_line || builtin exit 0
builtin printf '%s\\0' \"$__gf_seq\" > \"$GARDEFOU_STATE_FILE\"
__gf_busy=1
for __gf_x in 1; do __gf_ret \"$__gf_s\"; builtin eval \"$__gf_line\" 60>&- 61>&- 62<&- 63<&-; done
__gf_s=$?
__gf_end
done
"
    )
}

/// The fields of a state file: number, status, then the rest.
fn fields(bytes: &[u8]) -> (Option<u64>, Option<i32>, &[u8]) {
    let mut parts = bytes.splitn(3, |&b| b == 0);
    let n = parts
        .next()
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok());
    let s = parts
        .next()
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok());
    (n, s, parts.next().unwrap_or_default())
}

/// The part of a state file that must stay as the worker started (after the fifth NUL of the
/// rest: directory, umask, aliases, declarations).
pub(crate) fn shape_of(rest: &[u8]) -> &[u8] {
    rest.splitn(5, |&b| b == 0).nth(4).unwrap_or_default()
}

impl Worker {
    /// Starts a worker: `prefix` (the session's state, as bash text) is run first; `command`
    /// makes the process (bash, or the net's helper that enters the net and then execs bash)
    /// from the script it is given; `trees` are the net's (watched: its standard error is
    /// relayed, and what the net refused is read from it).
    pub fn start(
        prefix: &str,
        trees: Vec<PathBuf>,
        command: impl FnOnce(String) -> Command,
    ) -> Result<Worker, String> {
        use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
        let state = StateFile::new().map_err(|e| e.to_string())?;
        // The reading end stays open across exec (the worker's own); ours does not.
        let (read, write) =
            nix::unistd::pipe2(OFlag::empty()).map_err(|e| format!("cannot make a pipe: {e}"))?;
        fcntl(&write, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
            .map_err(|e| format!("cannot make a pipe: {e}"))?;
        let token = if trees.is_empty() {
            String::new()
        } else {
            token()
        };
        let script = script(prefix, read.as_raw_fd(), &token);
        let mut cmd = command(script);
        cmd.env("GARDEFOU_STATE_FILE", &state.path);
        let watch = if trees.is_empty() {
            None
        } else {
            match Watch::attach_marked(&mut cmd, Some(marker_bytes(&token))) {
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
        let child = spawned.map_err(|e| format!("cannot start bash: {e}"))?;
        let mut w = Worker {
            pid: Pid::from_raw(child.id() as i32),
            lines: Some(File::from(write)),
            trees,
            watch,
            state,
            seq: 0,
            shape: Vec::new(),
            found: Vec::new(),
        };
        match w.wait() {
            Ran::Done { state, .. } => {
                let (_, _, rest) = fields(&state);
                w.shape = shape_of(rest).to_vec();
                Ok(w)
            }
            Ran::Ended(code) => Err(format!("bash ended as it started (status {code})")),
            Ran::Lost => Err("bash ended as it started".into()),
        }
    }

    /// Whether the worker is still there to take a line.
    pub fn alive(&mut self) -> bool {
        if self.lines.is_none() {
            return false;
        }
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => {
                // Reaped here: nothing to wait for when it is dropped.
                self.lines = None;
                false
            }
            Ok(_) => true,
        }
    }

    /// The messages of the last line that reported EROFS.
    pub fn take_found(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.found)
    }

    /// Runs one line whose previous status was `status`.
    pub fn run(&mut self, line: &str, status: i32) -> Ran {
        if !self.alive() {
            return Ran::Lost;
        }
        self.seq += 1;
        let _ = std::fs::write(&self.state.path, b"");
        let _ = kill(self.pid, Signal::SIGCONT);
        let msg = format!("{}\0{status}\0{line}\0", self.seq);
        let sent = self
            .lines
            .as_mut()
            .is_some_and(|p| p.write_all(msg.as_bytes()).is_ok());
        let ran = if sent { self.wait() } else { Ran::Lost };
        match ran {
            Ran::Ended(code) => {
                // Did it read the line? It writes the number first.
                let bytes = std::fs::read(&self.state.path).unwrap_or_default();
                if fields(&bytes).0 == Some(self.seq) {
                    Ran::Ended(code)
                } else {
                    Ran::Lost
                }
            }
            other => other,
        }
    }

    /// Whether the line left the worker with functions, options or traps it did not start with.
    pub fn changed_shape(&self, state: &[u8]) -> bool {
        shape_of(fields(state).2) != self.shape.as_slice()
    }

    /// Waits until the worker has stopped after a line (or is gone).
    fn wait(&mut self) -> Ran {
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Exited(_, code)) => return self.gone(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return self.gone(128 + sig as i32),
                Ok(WaitStatus::Stopped(_, Signal::SIGSTOP)) => {
                    let state = std::fs::read(&self.state.path).unwrap_or_default();
                    let (n, status, _) = fields(&state);
                    if n != Some(self.seq) || status.is_none() {
                        // Stopped by something else than its own end of line: it goes on.
                        let _ = kill(self.pid, Signal::SIGCONT);
                        continue;
                    }
                    if let Some(w) = &mut self.watch {
                        self.found = w.until_mark(MARK_WAIT);
                    }
                    return Ran::Done {
                        status: status.unwrap_or(0),
                        state,
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
                    return Ran::Ended(crate::outcome::exit::CANNOT_EXEC);
                }
            }
        }
    }

    fn gone(&mut self, code: i32) -> Ran {
        self.lines = None;
        if let Some(w) = &mut self.watch {
            self.found = w.until_mark(MARK_WAIT);
        }
        Ran::Ended(code)
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
