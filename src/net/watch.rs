//! Telling the operator that the net refused something: the line's standard error passes
//! through gardefou (a pseudo-terminal when it is a terminal, so that programs still see one;
//! a pipe otherwise), unchanged and as it comes, and the lines that report EROFS ("Read-only
//! file system", Python's "[Errno 30]") are kept. The kernel refused them; which tree it was is
//! read from the paths the message names. A program that says nothing of its failure (perl's
//! `unlink` unchecked) is refused all the same, only not reported.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::Tree;

/// What standard error reports when the kernel refused a write with EROFS.
const MARKERS: [&[u8]; 3] = [b"Read-only file system", b"[Errno 30]", b"EROFS"];
/// Kept of one line of standard error, at most.
const LINE_MAX: usize = 4096;
/// Kept lines, at most.
const KEPT_MAX: usize = 32;

enum Msg {
    Found(Vec<u8>),
    /// The marker of a session's line was seen in the stream: the end of that line.
    Mark(u64),
    Done,
}

/// A relay of a child's standard error.
pub struct Watch {
    rx: mpsc::Receiver<Msg>,
    /// The relay has reached the end of what it relays.
    done: bool,
}

/// The two ends: what the relay reads, what the child writes.
fn channel() -> std::io::Result<(File, OwnedFd)> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    if std::io::stderr().is_terminal() {
        let size = console::Term::stderr().size_checked();
        let ws = size.map(|(rows, cols)| nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        });
        let pty = nix::pty::openpty(ws.as_ref(), None).map_err(std::io::Error::from)?;
        // The bytes go to the real terminal as they are: it does its own output processing.
        if let Ok(mut t) = nix::sys::termios::tcgetattr(&pty.slave) {
            t.output_flags.remove(nix::sys::termios::OutputFlags::OPOST);
            let _ =
                nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t);
        }
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(std::io::Error::from)?;
        }
        Ok((File::from(pty.master), pty.slave))
    } else {
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
        Ok((File::from(r), w))
    }
}

fn reports_erofs(line: &[u8]) -> bool {
    MARKERS
        .iter()
        .any(|m| line.windows(m.len()).any(|w| w == *m))
}

/// Splits a stream at markers (`PREFIX` + a line's number + `\x1e`): what comes before one is
/// passed on, the marker itself is taken out, and bytes that may be the start of one are held
/// until the next read says.
struct Marks {
    prefix: Vec<u8>,
    held: Vec<u8>,
}

/// The longest a marker's number may be.
const NUMBER_MAX: usize = 20;

impl Marks {
    /// `data` in pieces: `(bytes to pass on, the number of the marker that ends them)`.
    fn split(&mut self, data: &[u8]) -> Vec<(Vec<u8>, Option<u64>)> {
        let mut rest = std::mem::take(&mut self.held);
        rest.extend_from_slice(data);
        let p = &self.prefix;
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(at) = rest[from..]
            .windows(p.len())
            .position(|w| w == p.as_slice())
        {
            let at = from + at;
            let digits = &rest[at + p.len()..];
            let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
            match digits.get(n) {
                Some(0x1e) if n > 0 => {
                    let seq = std::str::from_utf8(&digits[..n])
                        .ok()
                        .and_then(|d| d.parse().ok());
                    out.push((rest[..at].to_vec(), seq));
                    rest.drain(..at + p.len() + n + 1);
                    from = 0;
                }
                None if n <= NUMBER_MAX => {
                    // The number may go on in the next read.
                    self.held = rest.split_off(at);
                    out.push((rest, None));
                    return out;
                }
                // Not a marker after all: passed on as it is.
                _ => from = at + 1,
            }
        }
        // The longest end of `rest` that begins the prefix waits for more.
        let keep = (1..p.len().min(rest.len() + 1))
            .rev()
            .find(|&k| rest[rest.len() - k..] == p[..k])
            .unwrap_or(0);
        self.held = rest.split_off(rest.len() - keep);
        out.push((rest, None));
        out
    }
}

fn relay(mut from: File, tx: mpsc::Sender<Msg>, marker: Option<Vec<u8>>) {
    let mut out = std::io::stderr();
    let mut buf = [0u8; 8192];
    let mut line = Vec::new();
    let mut kept = 0;
    let check = |line: &mut Vec<u8>, kept: &mut usize| {
        if *kept < KEPT_MAX && reports_erofs(line) {
            *kept += 1;
            let _ = tx.send(Msg::Found(std::mem::take(line)));
        }
        line.clear();
    };
    let mut marks = marker.map(|prefix| Marks {
        prefix,
        held: Vec::new(),
    });
    loop {
        match from.read(&mut buf) {
            // EOF (a pipe), or EIO (a pseudo-terminal whose last writer is gone).
            Ok(0) => break,
            Ok(n) => {
                let pieces = match &mut marks {
                    Some(m) => m.split(&buf[..n]),
                    None => vec![(buf[..n].to_vec(), None)],
                };
                for (bytes, marked) in pieces {
                    let _ = out.write_all(&bytes);
                    for &b in &bytes {
                        if b == b'\n' {
                            check(&mut line, &mut kept);
                        } else if line.len() < LINE_MAX {
                            line.push(b);
                        }
                    }
                    if let Some(seq) = marked {
                        // A session's line has ended: what it said so far is judged with it.
                        check(&mut line, &mut kept);
                        kept = 0;
                        let _ = tx.send(Msg::Mark(seq));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if let Some(m) = &marks {
        let _ = out.write_all(&m.held);
    }
    check(&mut line, &mut kept);
    let _ = tx.send(Msg::Done);
}

impl Watch {
    /// Gives `cmd` a standard error that passes through the relay. The caller must drop `cmd`
    /// once it has spawned (it holds the writing end).
    pub fn attach(cmd: &mut Command) -> std::io::Result<Watch> {
        Watch::attach_marked(cmd, None)
    }

    /// `attach` for a child that runs many lines (the guarded shell's bash): the markers
    /// (`marker`, the line's number, `\x1e`) the child writes to its standard error at the end of
    /// each line are taken out of the stream and end what `until_mark` collects.
    pub fn attach_marked(cmd: &mut Command, marker: Option<Vec<u8>>) -> std::io::Result<Watch> {
        let (from, to) = channel()?;
        cmd.stderr(Stdio::from(to));
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("gardefou-stderr".into())
            .spawn(move || relay(from, tx, marker))?;
        Ok(Watch { rx, done: false })
    }

    /// The lines that reported EROFS up to the marker of line `seq` (or the end of the
    /// stream), waiting at most `grace` for it: the child wrote the marker before it said its
    /// line was done. What came before an earlier line's marker, late, is dropped, not blamed
    /// on this line.
    pub fn until_mark(&mut self, seq: u64, grace: Duration) -> Vec<Vec<u8>> {
        self.collect(grace, Some(seq))
    }

    /// The lines that reported EROFS, once the child is gone: everything it wrote, or what
    /// came within `grace` when something it started in the background still holds its
    /// standard error (the relay goes on for that one).
    pub fn finish(&mut self, grace: Duration) -> Vec<Vec<u8>> {
        self.collect(grace, None)
    }

    fn collect(&mut self, grace: Duration, to_mark: Option<u64>) -> Vec<Vec<u8>> {
        let mut found = Vec::new();
        let deadline = std::time::Instant::now() + grace;
        while !self.done {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Msg::Found(l)) => found.push(l),
                Ok(Msg::Mark(n)) if to_mark.is_some_and(|seq| n >= seq) => break,
                Ok(Msg::Mark(_)) if to_mark.is_some() => found.clear(),
                Ok(Msg::Mark(_)) => {}
                Ok(Msg::Done) | Err(mpsc::RecvTimeoutError::Disconnected) => self.done = true,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
            }
        }
        found
    }

    /// Waits until nothing holds the child's standard error any more (what the caller of a
    /// plain `bash -c` waits for too: cron, ssh): a process the line left in the background
    /// keeps writing to it through the relay.
    pub fn until_closed(self) {
        if self.done {
            return;
        }
        while let Ok(m) = self.rx.recv() {
            if matches!(m, Msg::Done) {
                break;
            }
        }
    }
}

/// A refusal by the net: the tree, and the message that reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// None: the message names no tree of the net (it may be another read-only filesystem).
    pub tree: Option<Tree>,
    pub message: String,
}

/// The refusals in what the relay kept: each line with the tree it names, else the one tree the
/// command itself names (`hint`: Python's rmtree says only `'b'`).
pub fn refusals(found: &[Vec<u8>], trees: &[Tree], hint: &[u8]) -> Vec<Refusal> {
    // The deepest tree named: /var/lib/postgresql/15/main over /var/lib/postgresql.
    let named_in = |text: &[u8]| {
        trees
            .iter()
            .filter(|t| {
                super::names(t)
                    .iter()
                    .any(|n| text.windows(n.len()).any(|w| w == *n))
            })
            .max_by_key(|t| t.path.as_os_str().len())
            .cloned()
    };
    found
        .iter()
        .map(|line| Refusal {
            tree: named_in(line).or_else(|| named_in(hint)),
            message: String::from_utf8_lossy(line).trim().to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn refusals_name_their_tree() {
        let trees = vec![Tree {
            path: PathBuf::from("/data/mysql"),
            spelled: PathBuf::from("/var/lib/mysql"),
            rule: "r#1".into(),
            reason: "data".into(),
        }];
        let found = vec![
            b"OSError: [Errno 30] Read-only file system: '/var/lib/mysql/ibdata1'".to_vec(),
            b"touch: cannot touch '/proc/x': Read-only file system".to_vec(),
        ];
        let r = refusals(&found, &trees, b"");
        assert_eq!(r[0].tree.as_ref().map(|t| t.rule.as_str()), Some("r#1"));
        assert_eq!(r[1].tree, None);
        let r = refusals(
            &[b"OSError: [Errno 30] Read-only file system: 'b'".to_vec()],
            &trees,
            b"rmtree('/var/lib/mysql')",
        );
        assert_eq!(r[0].tree.as_ref().map(|t| t.rule.as_str()), Some("r#1"));
        assert!(reports_erofs(
            b"rm: cannot remove 'x': Read-only file system"
        ));
        assert!(!reports_erofs(b"rm: cannot remove 'x': Permission denied"));
    }

    #[test]
    fn a_marker_split_across_reads_is_taken_out() {
        let mut m = Marks {
            prefix: b"\x1eMK:".to_vec(),
            held: Vec::new(),
        };
        let mut passed = Vec::new();
        let mut marks = Vec::new();
        for chunk in [
            &b"ab\x1e"[..],
            b"M",
            b"K:1",
            b"2\x1ecd\x1e",
            b"x\x1eMK:y",
            b"\x1eMK:7\x1e",
        ] {
            for (bytes, marked) in m.split(chunk) {
                passed.extend(bytes);
                marks.extend(marked);
            }
        }
        assert_eq!(passed, b"abcd\x1ex\x1eMK:y");
        assert_eq!(marks, [12, 7]);
        assert!(m.held.is_empty());
    }
}
