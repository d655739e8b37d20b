//! Running a cluster tool or an operator's command with a time limit: a hung daemon must never
//! hang the operator's shell or a shim. Output is read on threads so that a chatty command
//! cannot block on a full pipe.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

use crate::error::{Error, Result};

/// What a finished command left.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The exit status; None when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// How it ended, for a message: `exit N` or `killed by a signal`.
    pub fn exit_text(&self) -> String {
        self.code
            .map_or("killed by a signal".into(), |c| format!("exit {c}"))
    }

    /// Itself when it exited 0; else an error naming `shown`, how it ended and its last line.
    pub fn succeeded(self, shown: &str) -> Result<Ran> {
        if self.code == Some(0) {
            return Ok(self);
        }
        Err(Error::Cluster(format!(
            "{shown}: {}: {}",
            self.exit_text(),
            self.last_line()
        )))
    }

    /// The last non-empty line of its output (stderr first), for a one-line message.
    pub fn last_line(&self) -> String {
        [&self.stderr, &self.stdout]
            .iter()
            .flat_map(|t| t.lines().rev())
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_owned()
    }
}

fn reader(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = from.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `program args` with standard input closed; kills it after `limit`.
pub fn run(program: &OsStr, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Result<Ran> {
    let shown = format!("{} {}", program.to_string_lossy(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("cannot run {shown}"), e))?;
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let status = match child
        .wait_timeout(limit)
        .map_err(|e| Error::io(format!("waiting for {shown}"), e))?
    {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Cluster(format!(
                "{shown}: no answer after {} s (killed)",
                limit.as_secs_f32()
            )));
        }
    };
    let join = |h: Option<std::thread::JoinHandle<String>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    Ok(Ran {
        code: status.code(),
        stdout: join(out),
        stderr: join(err),
    })
}

/// Runs an operator's command line with `sh -c`.
pub fn shell(line: &str, limit: Duration) -> Result<Ran> {
    run(OsStr::new("/bin/sh"), &["-c", line], &[], limit)
}
