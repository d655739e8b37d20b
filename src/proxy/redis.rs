//! The Redis side of the wire guard: an interactive redis-cli talks to the real server through
//! the guard's socket, and every command it sends (a RESP array of bulk strings, or an inline
//! line) is judged before the server sees it, with the same words as `redis-cli CMD ARGS` on
//! the command line (`crate::intent::redis`). A refused command gets an error reply in the
//! server's place (`-ERR gardefou refused this command: …`); the session goes on. `SELECT n`
//! is followed: a command is judged in the database it acts in.
//!
//! redis-cli sends one command and waits for its reply; what the server sends on its own
//! (pub/sub messages, MONITOR) passes as it comes.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::{Guard, Stream, Target};
use crate::intent::sql::SqlIntent;

/// The socket's name in the guard's directory.
pub const SOCKET_NAME: &str = "redis.sock";
/// The longest command the relay reads (Redis's own `proto-max-bulk-len` is 512 MB).
const MAX_COMMAND: usize = 512 * 1024 * 1024;
/// The most words of one command.
const MAX_WORDS: usize = 1024 * 1024;
const READ_SIZE: usize = 64 * 1024;

/// Where redis-cli would connect.
#[derive(Debug, Clone)]
pub struct Route {
    pub target: Target,
}

/// Where a redis-cli command connects (`-s`, else `-h`/`-p`/`-u`, else 127.0.0.1:6379), or
/// why the guard does not go there.
pub fn route(intent: &SqlIntent, args: &[OsString]) -> Result<Route, String> {
    if args.iter().any(|a| a == "-c") {
        return Err(
            "-c follows cluster redirections to other servers, where the guard does not go".into(),
        );
    }
    if args.iter().any(|a| a == "--tls") {
        return Err("--tls asks for TLS, which the guard does not terminate".into());
    }
    if args
        .iter()
        .any(|a| a.to_string_lossy().starts_with("rediss://"))
    {
        return Err("a rediss:// URI asks for TLS, which the guard does not terminate".into());
    }
    if let Some(socket) = &intent.socket {
        return Ok(Route {
            target: Target::Unix(socket.into()),
        });
    }
    let host = intent.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port_text = intent.port.clone().unwrap_or_else(|| "6379".into());
    Ok(Route {
        target: super::this_host(host, &port_text)?,
    })
}

/// redis-cli's arguments with `-s GUARD` after its options (the socket wins over a host), in
/// place of its own `-s`.
pub fn pointed(args: &[OsString], socket: &Path) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut k = 0;
    while k < args.len() {
        let a = args[k].to_string_lossy();
        if !a.starts_with('-') || a == "-" {
            break;
        }
        if a == "-s" {
            k += 2;
            continue;
        }
        out.push(args[k].clone());
        if crate::intent::redis::takes_value(&a) {
            if let Some(v) = args.get(k + 1) {
                out.push(v.clone());
            }
            k += 1;
        }
        k += 1;
    }
    out.push("-s".into());
    out.push(socket.as_os_str().to_owned());
    out.extend_from_slice(args.get(k..).unwrap_or(&[]));
    out
}

/// One command read off the start of `buf`: its words and its length in bytes. `Ok(None)`:
/// not all of it is there yet.
fn command(buf: &[u8]) -> io::Result<Option<(Vec<String>, usize)>> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let line = |from: usize| -> Option<(usize, usize)> {
        let end = buf.get(from..)?.iter().position(|&b| b == b'\n')? + from;
        Some((from, end))
    };
    let number = |from: usize, end: usize| -> io::Result<i64> {
        let text = std::str::from_utf8(&buf[from..end])
            .map_err(|_| bad("a length that is not a number"))?;
        text.trim_end_matches('\r')
            .parse()
            .map_err(|_| bad("a length that is not a number"))
    };
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        // An inline command: one line, split as redis-cli splits it.
        let Some((_, end)) = line(0) else {
            if buf.len() > MAX_COMMAND {
                return Err(bad("an inline command longer than the guard reads"));
            }
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&buf[..end]);
        let words = crate::intent::redis::split_line(text.trim_end_matches('\r'))
            .ok_or_else(|| bad("an inline command with unbalanced quotes"))?;
        return Ok(Some((words, end + 1)));
    }
    let Some((_, end)) = line(1) else {
        return Ok(None);
    };
    let n = number(1, end)?;
    if !(0..=MAX_WORDS as i64).contains(&n) {
        return Err(bad("a command of an impossible number of words"));
    }
    let mut at = end + 1;
    let mut words = Vec::with_capacity(n as usize);
    for _ in 0..n {
        if at >= buf.len() {
            return Ok(None);
        }
        if buf[at] != b'$' {
            return Err(bad("a command word that is not a bulk string"));
        }
        let Some((_, end)) = line(at + 1) else {
            return Ok(None);
        };
        let len = number(at + 1, end)?;
        if !(0..=MAX_COMMAND as i64).contains(&len) {
            return Err(bad("a command word of an impossible length"));
        }
        let from = end + 1;
        let to = from + len as usize;
        if buf.len() < to + 2 {
            return Ok(None);
        }
        words.push(String::from_utf8_lossy(&buf[from..to]).into_owned());
        at = to + 2;
    }
    Ok(Some((words, at)))
}

/// An error reply: one line, no CR or LF in it.
fn error_reply(message: &str) -> Vec<u8> {
    let one: String = message
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    format!("-ERR {one}\r\n").into_bytes()
}

/// What the server's answers told the relay: the session's database, and a SELECT (or RESET)
/// sent whose answer is awaited (the database, the answer that means it took, what came).
struct Heard {
    database: String,
    pending: Option<(String, &'static [u8], Vec<u8>)>,
}

impl Heard {
    /// A chunk of what the server sends, before the client gets it.
    fn reply(&mut self, chunk: &[u8]) {
        let Some((_, ok, head)) = self.pending.as_mut() else {
            return;
        };
        let want = ok.len().saturating_sub(head.len());
        head.extend_from_slice(&chunk[..want.min(chunk.len())]);
        if head.len() < ok.len() && ok.starts_with(head) {
            return;
        }
        if let Some((db, ok, head)) = self.pending.take()
            && head == ok
        {
            self.database = db;
        }
    }
}

fn lock(h: &std::sync::Mutex<Heard>) -> std::sync::MutexGuard<'_, Heard> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

/// One connection of redis-cli through the guard.
pub fn relay(
    mut client: UnixStream,
    guard: &Guard,
    target: &Target,
    database: &str,
) -> io::Result<()> {
    let mut server = match Stream::connect(target) {
        Ok(s) => s,
        Err(e) => {
            let _ = client.write_all(&error_reply(&format!(
                "gardefou: cannot connect to the server: {e}"
            )));
            return Ok(());
        }
    };
    let mut from_server = server.try_clone()?;
    let mut to_client = client.try_clone()?;
    // The database a SELECT chose, once the server said +OK to it.
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Heard {
        database: database.to_owned(),
        pending: None,
    }));
    let copier = {
        let heard = heard.clone();
        std::thread::spawn(move || {
            super::copy_heard(&mut from_server, &mut to_client, |chunk| {
                lock(&heard).reply(chunk)
            })
        })
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_SIZE];
    let ended = 'session: loop {
        let n = match client.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let (words, len) = match command(&buf) {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => break 'session Err(e),
            };
            let raw: Vec<u8> = buf.drain(..len).collect();
            if words.is_empty() {
                continue;
            }
            let database = lock(&heard).database.clone();
            match guard.judge_words(&words, &database) {
                Ok(()) => {
                    let first = words[0].to_ascii_lowercase();
                    let pending = match (first.as_str(), words.get(1)) {
                        ("select", Some(n)) => Some((n.clone(), &b"+OK\r\n"[..])),
                        ("reset", _) => Some(("0".to_owned(), &b"+RESET\r\n"[..])),
                        _ => None,
                    };
                    if let Some((db, ok)) = pending {
                        // Armed before the server can answer.
                        lock(&heard).pending = Some((db, ok, Vec::new()));
                    }
                    if let Err(e) = server.write_all(&raw) {
                        break 'session Err(e);
                    }
                }
                Err(r) => {
                    let reply = error_reply(&format!("{} ({}); {}", r.message, r.detail, r.hint));
                    if let Err(e) = client.write_all(&reply) {
                        break 'session Err(e);
                    }
                }
            }
        }
    };
    server.shutdown_write();
    let _ = copier.join();
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_as_the_server_reads_them() {
        let c = command(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n*1\r\n").unwrap();
        assert_eq!(c, Some((vec!["SET".into(), "k".into(), "v1".into()], 28)));
        // Not all there yet.
        for n in 0..28 {
            assert_eq!(
                command(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n"[..n]).unwrap(),
                None,
                "{n}"
            );
        }
        assert_eq!(
            command(b"flushall\r\nget k\r\n").unwrap(),
            Some((vec!["flushall".into()], 10))
        );
        assert!(command(b"*-5\r\n").is_err());
        assert!(command(b"*1\r\n+OK\r\n").is_err());
        assert!(command(b"*1\r\n$99999999999\r\n").is_err());
        assert_eq!(error_reply("a\r\nb"), b"-ERR a  b\r\n");
    }

    #[test]
    fn redis_cli_is_pointed_at_the_guard_after_its_options() {
        let args: Vec<OsString> = ["-s", "/run/redis.sock", "-n", "2", "--no-raw"]
            .iter()
            .map(OsString::from)
            .collect();
        let p: Vec<String> = pointed(&args, Path::new("/tmp/g/redis.sock"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(p, ["-n", "2", "--no-raw", "-s", "/tmp/g/redis.sock"]);
    }
}
