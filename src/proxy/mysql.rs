//! The MySQL/MariaDB side of the wire guard: where mysql would connect, and one relay per
//! connection that judges the SQL of every COM_QUERY and COM_STMT_PREPARE before the server
//! sees it. Packets pass as they came, byte for byte, except the server's greeting, whose
//! capabilities lose TLS, compression, query attributes and MariaDB's COM_MULTI (so that every
//! statement crosses as plain text, one command at a time). The protocol is strictly one
//! command, then its answer: a refused command gets an ERR packet from the relay in the
//! server's place (error 1644, SQLSTATE 45000, the code of a SIGNAL), and the session goes on.
//!
//! The packets are framed here (3-byte length, sequence id): the relay reads four fields of
//! them, and mysql_common's typed packets would re-encode what they read and bring codecs
//! (compression, binary rows, big numbers) into the binary every shim loads.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::{Guard, Refusal, Stream, Target};

/// The socket's name in the guard's directory.
pub const SOCKET_NAME: &str = "mysqld.sock";
/// The client's compiled-in socket on Debian.
const DEFAULT_SOCKET: &str = "/run/mysqld/mysqld.sock";
/// A payload this long continues in the next packet.
const MAX_PAYLOAD: usize = 0xff_ffff;
/// The most of one command the relay reads before judging it.
const MAX_COMMAND: usize = 256 * 1024 * 1024;

const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_SHUTDOWN: u8 = 0x08;
const COM_CHANGE_USER: u8 = 0x11;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_MULTI: u8 = 0xfe;

const CLIENT_LONG_PASSWORD: u32 = 1;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_COMPRESS: u32 = 0x20;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_SSL: u32 = 0x800;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x20_0000;
const CLIENT_ZSTD_COMPRESSION: u32 = 1 << 26;
const CLIENT_QUERY_ATTRIBUTES: u32 = 1 << 27;
/// MariaDB's extended capabilities (bits 32 and up): COM_MULTI.
const MARIADB_CLIENT_COM_MULTI: u32 = 1 << 1;
/// The server status flag of `sql_mode` NO_BACKSLASH_ESCAPES.
const SERVER_STATUS_NO_BACKSLASH_ESCAPES: u16 = 0x200;
/// Collations (handshake ids) of character sets whose multibyte characters may hold a quote
/// or a backslash byte: big5, sjis, gbk, cp932, gb18030.
const UNSAFE_COLLATIONS: [u8; 11] = [1, 84, 13, 88, 28, 87, 95, 96, 248, 249, 250];
const UNSAFE_CHARSETS: [&str; 5] = ["big5", "sjis", "gbk", "cp932", "gb18030"];

/// Where mysql would connect.
#[derive(Debug, Clone)]
pub struct Route {
    pub target: Target,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The options mysql reads from its option files, as `--print-defaults` lists them (the
/// command's own `--no-defaults`, `--defaults-file=`… first, as mysql wants them).
fn option_files(real: &Path, args: &[OsString]) -> Result<Vec<OsString>, String> {
    let leading: Vec<&OsString> = args
        .iter()
        .take_while(|a| {
            let a = a.to_string_lossy();
            a.starts_with("--defaults") || a == "--no-defaults" || a.starts_with("--login-path")
        })
        .collect();
    let out = std::process::Command::new(real)
        .args(leading)
        .arg("--print-defaults")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} --print-defaults: {e}", real.display()))?;
    if !out.status.success() {
        return Err("the client cannot read its option files".into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // "mysql would have been started with the following arguments:\n--socket=… --user=…"
    Ok(text
        .lines()
        .skip(1)
        .flat_map(str::split_whitespace)
        .filter(|w| w.starts_with("--"))
        .map(OsString::from)
        .collect())
}

/// Where a mysql command connects, as the client resolves it (its option files, then its
/// command line, then `MYSQL_HOST`, `MYSQL_TCP_PORT`, `MYSQL_UNIX_PORT`), or why the guard
/// does not go there.
pub fn route(real: &Path, args: &[OsString]) -> Result<Route, String> {
    let files = option_files(real, args)?;
    let e = crate::intent::mysql::endpoint(&files, args);
    if e.tls {
        return Err("TLS is asked for (--ssl…), which the guard does not terminate".into());
    }
    let host = e
        .host
        .clone()
        .or_else(|| env("MYSQL_HOST"))
        .unwrap_or_else(|| "localhost".into());
    let tcp = match e
        .protocol
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("tcp") => true,
        Some("socket") => false,
        Some(p) => return Err(format!("--protocol={p} is not followed by the guard")),
        // MariaDB's client: a port or a host other than localhost on the command line, and
        // no socket there, means TCP.
        None => host != "localhost" || (e.port_on_command_line && !e.socket_on_command_line),
    };
    if !tcp {
        let socket = e
            .socket
            .or_else(|| env("MYSQL_UNIX_PORT"))
            .unwrap_or_else(|| DEFAULT_SOCKET.into());
        return Ok(Route {
            target: Target::Unix(socket.into()),
        });
    }
    let port_text = e
        .port
        .or_else(|| env("MYSQL_TCP_PORT"))
        .unwrap_or_else(|| "3306".into());
    Ok(Route {
        target: super::this_host(host, &port_text)?,
    })
}

/// Whether mysql given `args` connects to the guard's `socket`, as its options read (an
/// option left without its value at the end would take the guard's first as its value).
pub fn reaches(args: &[OsString], socket: &Path) -> bool {
    let e = crate::intent::mysql::endpoint(&[], args);
    e.socket.as_deref().map(Path::new) == Some(socket)
        && e.host.as_deref() == Some("localhost")
        && e.protocol.as_deref() == Some("socket")
        && !e.tls
}

/// The options that send mysql to the guard's socket: given last, they win over the
/// command's own (and before a `--` that ends the options).
pub fn pointed(args: &[OsString], socket: &Path) -> Vec<OsString> {
    let ours = [
        OsString::from("--protocol=socket"),
        OsString::from("--host=localhost"),
        {
            let mut s = OsString::from("--socket=");
            s.push(socket);
            s
        },
    ];
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut out = args[..end].to_vec();
    out.extend(ours);
    out.extend_from_slice(&args[end..]);
    out
}

/// Reads one packet: its sequence id and payload; None at the end of the stream.
fn read_packet(s: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match s.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut payload = vec![0; len];
    s.read_exact(&mut payload)?;
    Ok(Some((head[3], payload)))
}

fn write_packet(s: &mut impl Write, seq: u8, payload: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    let len = (payload.len().min(MAX_PAYLOAD) as u32).to_le_bytes();
    out.extend_from_slice(&[len[0], len[1], len[2], seq]);
    out.extend_from_slice(payload);
    s.write_all(&out)
}

/// An ERR packet (protocol 4.1).
fn err_packet(code: u16, state: &str, message: &str) -> Vec<u8> {
    let mut p = vec![0xff];
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    p.extend_from_slice(state.as_bytes());
    // Long enough to read, short enough for one packet.
    let m: String = message.chars().take(4000).collect();
    p.extend_from_slice(m.as_bytes());
    p
}

/// A refusal as the client shows it: `ERROR 1644 (45000): …`.
fn refusal_packet(r: &Refusal) -> Vec<u8> {
    err_packet(
        1644,
        "45000",
        &format!("{} ({}); {}", r.message, r.detail, r.hint),
    )
}

/// The greeting with the capabilities the relay does not follow taken out; the server's
/// status flags. None: not a greeting of protocol 10 (an ERR packet, say).
fn cleared(g: &mut [u8]) -> Option<u16> {
    if g.first() != Some(&10) {
        return None;
    }
    let version_end = 1 + g.get(1..)?.iter().position(|&b| b == 0)?;
    // Connection id (4), scramble (8), filler (1).
    let low = version_end + 1 + 4 + 8 + 1;
    let mut caps = u32::from(u16::from_le_bytes([*g.get(low)?, *g.get(low + 1)?]));
    // Character set (1), status (2), then the high half.
    let status = u16::from_le_bytes([*g.get(low + 3)?, *g.get(low + 4)?]);
    let high = low + 5;
    if g.len() >= high + 2 {
        caps |= u32::from(u16::from_le_bytes([g[high], g[high + 1]])) << 16;
    }
    let mariadb = caps & CLIENT_LONG_PASSWORD == 0;
    caps &= !(CLIENT_COMPRESS | CLIENT_SSL | CLIENT_ZSTD_COMPRESSION | CLIENT_QUERY_ATTRIBUTES);
    g[low..low + 2].copy_from_slice(&(caps as u16).to_le_bytes());
    if g.len() >= high + 2 {
        g[high..high + 2].copy_from_slice(&((caps >> 16) as u16).to_le_bytes());
    }
    // Auth data length (1), reserved (6), MariaDB's extended capabilities (4).
    let ext = high + 2 + 1 + 6;
    if mariadb && g.len() >= ext + 4 {
        let mut x = u32::from_le_bytes([g[ext], g[ext + 1], g[ext + 2], g[ext + 3]]);
        x &= !MARIADB_CLIENT_COM_MULTI;
        g[ext..ext + 4].copy_from_slice(&x.to_le_bytes());
    }
    Some(status)
}

/// A NUL-terminated string at the start of `b`, and what follows it.
fn nul_string(b: &[u8]) -> Option<(String, &[u8])> {
    let end = b.iter().position(|&c| c == 0)?;
    Some((
        String::from_utf8_lossy(&b[..end]).into_owned(),
        &b[end + 1..],
    ))
}

/// A length-encoded integer at the start of `b`, and what follows it.
fn lenenc(b: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = b.split_first()?;
    let n = match first {
        0..=0xfa => return Some((usize::from(first), rest)),
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let bytes = rest.get(..n)?;
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(bytes);
    Some((usize::try_from(u64::from_le_bytes(v)).ok()?, &rest[n..]))
}

/// What the client's handshake response says: its capabilities, user, database, collation.
#[derive(Debug, Default, PartialEq)]
struct Hello {
    caps: u32,
    user: String,
    database: Option<String>,
    collation: u8,
}

fn hello(p: &[u8]) -> Hello {
    let mut h = Hello::default();
    if p.len() < 32 {
        return h;
    }
    h.caps = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
    if h.caps & CLIENT_PROTOCOL_41 == 0 {
        return h;
    }
    h.collation = p[8];
    let Some((user, rest)) = nul_string(&p[32..]) else {
        return h;
    };
    h.user = user;
    let rest = if h.caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        lenenc(rest).and_then(|(n, r)| r.get(n..))
    } else if h.caps & CLIENT_SECURE_CONNECTION != 0 {
        rest.split_first()
            .and_then(|(&n, r)| r.get(usize::from(n)..))
    } else {
        nul_string(rest).map(|(_, r)| r)
    };
    if h.caps & CLIENT_CONNECT_WITH_DB != 0 {
        h.database = rest
            .and_then(nul_string)
            .map(|(d, _)| d)
            .filter(|d| !d.is_empty());
    }
    h
}

/// COM_CHANGE_USER's user and database.
fn changed_user(caps: u32, p: &[u8]) -> Option<(String, Option<String>)> {
    let (user, rest) = nul_string(p)?;
    let rest = if caps & CLIENT_SECURE_CONNECTION != 0 {
        rest.split_first()
            .and_then(|(&n, r)| r.get(usize::from(n)..))?
    } else {
        nul_string(rest)?.1
    };
    let db = nul_string(rest).map(|(d, _)| d).filter(|d| !d.is_empty());
    Some((user, db))
}

/// The database a `USE db` statement selects.
fn used_database(sql: &str) -> Option<String> {
    let t = sql.trim_start();
    if !t.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("use ")) {
        return None;
    }
    let name = t[4..].trim().trim_end_matches(';').trim();
    let name = name.trim_matches('`');
    (!name.is_empty() && !name.contains(char::is_whitespace)).then(|| name.to_owned())
}

/// One client connection through the guard.
struct Session {
    caps: u32,
    user: String,
    database: String,
    /// The session's character set may hide quotes in multibyte characters.
    unsafe_charset: bool,
    /// A backslash may not escape in the session's strings (`NO_BACKSLASH_ESCAPES`).
    plain_backslash: bool,
}

impl Session {
    /// Why the guard's reading of a statement may not be the server's. What the statement
    /// itself sets (`SET sql_mode`, `SET NAMES`) counts already: the server reads the
    /// statements after it under it.
    fn doubt(&mut self, raw: &[u8]) -> Option<String> {
        let Ok(sql) = std::str::from_utf8(raw) else {
            return Some("the statement is not UTF-8 text: the guard cannot read it".into());
        };
        self.sets(sql);
        if self.unsafe_charset && !raw.is_ascii() {
            return Some(
                "the session's character set may hide quotes in multibyte characters".into(),
            );
        }
        // In big5, sjis, gbk, cp932 and gb18030 a byte above 0x7f and a backslash after it are
        // one character, whatever the session says its character set is.
        if raw.windows(2).any(|w| w[0] > 0x7f && w[1] == b'\\') {
            return Some(
                "a multibyte character before a backslash: in some character sets they are one character, and the quote after it ends a string".into(),
            );
        }
        if raw.contains(&b'\\') && (self.plain_backslash || raw.contains(&b'"')) {
            return Some(
                "a backslash where sql_mode NO_BACKSLASH_ESCAPES or ANSI_QUOTES may be on: it may end a string or a name where the guard's reading does not".into(),
            );
        }
        None
    }

    /// What a statement sets that changes how the server reads the next ones (sticky: once
    /// it may be on, it is taken as on).
    fn sets(&mut self, sql: &str) {
        let lower = sql.to_ascii_lowercase();
        if lower.contains("no_backslash_escapes") || lower.contains("sql_mode") {
            self.plain_backslash = true;
        }
        if (lower.contains("names") || lower.contains("character") || lower.contains("charset"))
            && UNSAFE_CHARSETS.iter().any(|c| lower.contains(c))
        {
            self.unsafe_charset = true;
        }
    }
}

/// A command as the client sent it.
struct Command {
    /// The first packet's sequence id.
    seq: u8,
    /// The payload, its packets joined.
    whole: Vec<u8>,
    /// The packets' bytes as they came.
    raw: Vec<u8>,
}

/// A command sent, whose answer the relay listens for: the database it selects when the
/// server says OK, and the first bytes of the answer heard so far.
#[derive(Debug, Default)]
struct Pending {
    database: Option<String>,
    head: Vec<u8>,
}

/// What the server's answers told the relay.
#[derive(Debug, Default)]
struct Heard {
    /// The session's database, as the server accepted it.
    database: String,
    pending: Option<Pending>,
    /// The server asked for a local file (LOAD DATA LOCAL): the client sends it next.
    infile: bool,
}

impl Heard {
    /// A chunk of what the server sends, before the client gets it.
    fn reply(&mut self, chunk: &[u8]) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let want = 5usize.saturating_sub(p.head.len());
        p.head.extend_from_slice(&chunk[..want.min(chunk.len())]);
        if p.head.len() < 5 {
            return;
        }
        // The answer's first byte: 0x00 OK, 0xfb a local file wanted, 0xff an error.
        match p.head[4] {
            0x00 => {
                if let Some(db) = p.database.take() {
                    self.database = db;
                }
            }
            0xfb => self.infile = true,
            _ => {}
        }
        self.pending = None;
    }
}

fn lock(h: &std::sync::Mutex<Heard>) -> std::sync::MutexGuard<'_, Heard> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads a command (its packets: a payload of 16 MiB or more continues in the next).
fn read_command(s: &mut impl Read) -> io::Result<Option<Command>> {
    let Some((seq, first)) = read_packet(s)? else {
        return Ok(None);
    };
    let mut raw = Vec::with_capacity(first.len() + 4);
    let mut whole = Vec::new();
    let mut last = (seq, first);
    loop {
        let (q, p) = last;
        let len = (p.len() as u32).to_le_bytes();
        raw.extend_from_slice(&[len[0], len[1], len[2], q]);
        raw.extend_from_slice(&p);
        let more = p.len() == MAX_PAYLOAD;
        whole.extend_from_slice(&p);
        if !more {
            break;
        }
        if whole.len() > MAX_COMMAND {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a command longer than the guard reads",
            ));
        }
        last = read_packet(s)?.ok_or(io::ErrorKind::UnexpectedEof)?;
    }
    Ok(Some(Command { seq, whole, raw }))
}

/// One connection of mysql through the guard.
pub fn relay(mut client: UnixStream, guard: &Guard, target: &Target) -> io::Result<()> {
    let mut server = match Stream::connect(target) {
        Ok(s) => s,
        Err(e) => {
            let at = match target {
                Target::Unix(p) => p.display().to_string(),
                Target::Tcp(h, p) => format!("{h}:{p}"),
            };
            let msg = format!("gardefou: cannot connect to the server at {at}: {e}");
            return write_packet(&mut client, 0, &err_packet(2002, "HY000", &msg));
        }
    };
    let Some((seq, mut greeting)) = read_packet(&mut server)? else {
        return Ok(());
    };
    let status = cleared(&mut greeting);
    write_packet(&mut client, seq, &greeting)?;
    if status.is_none() {
        return Ok(());
    }
    let Some((seq, response)) = read_packet(&mut client)? else {
        return Ok(());
    };
    let h = hello(&response);
    // What the greeting did not offer, a client may still ask for: the frames would then not
    // be read.
    let unread = CLIENT_SSL | CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION | CLIENT_QUERY_ATTRIBUTES;
    if h.caps & unread != 0 {
        let msg = "gardefou: the client asks for TLS, compression or query attributes, which the guard does not read";
        return write_packet(
            &mut client,
            seq.wrapping_add(1),
            &err_packet(1644, "45000", msg),
        );
    }
    write_packet(&mut server, seq, &response)?;
    let mut session = Session {
        caps: h.caps,
        user: h.user,
        database: h.database.unwrap_or_default(),
        unsafe_charset: UNSAFE_COLLATIONS.contains(&h.collation),
        plain_backslash: status.is_some_and(|s| s & SERVER_STATUS_NO_BACKSLASH_ESCAPES != 0),
    };
    // The server's side passes as it comes; what the client sends is read command by command.
    let mut from_server = server.try_clone()?;
    let mut to_client = client.try_clone()?;
    // What the server answers to a command that changes the database, or to a query that
    // asks for a local file, is heard before the client gets it.
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Heard {
        database: session.database.clone(),
        ..Heard::default()
    }));
    let copier = {
        let heard = heard.clone();
        std::thread::spawn(move || {
            super::copy_heard(&mut from_server, &mut to_client, |chunk| {
                lock(&heard).reply(chunk)
            })
        })
    };
    let ended = loop {
        let Command { seq, whole, raw } = match read_command(&mut client) {
            Ok(Some(c)) => c,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        // LOAD DATA LOCAL: the file, in packets up to an empty one (their sequence ids wrap
        // to 0 on a long file: they are not commands).
        {
            let mut h = lock(&heard);
            if h.infile {
                h.infile = !whole.is_empty();
                drop(h);
                if let Err(e) = server.write_all(&raw) {
                    break Err(e);
                }
                continue;
            }
            session.database.clone_from(&h.database);
        }
        // A command opens with sequence id 0; the rest (authentication, LOAD DATA LOCAL's
        // file) is data.
        let command = if seq == 0 {
            whole.first().copied()
        } else {
            None
        };
        let verdict = match command {
            Some(COM_QUERY | COM_STMT_PREPARE) => {
                let sql = String::from_utf8_lossy(&whole[1..]).into_owned();
                let doubt = session.doubt(&whole[1..]);
                guard
                    .judge(
                        &sql,
                        doubt.as_deref(),
                        &session.database,
                        &session.user,
                        // The rows at stake are asked on a connection of the guard's own, with
                        // the command's options: a question in the operator's session would end
                        // its open transaction (START TRANSACTION commits).
                        &mut crate::facts::stake::Mysql(&guard.intent),
                    )
                    .map(|()| {
                        Some(Pending {
                            database: (whole[0] == COM_QUERY)
                                .then(|| used_database(&sql))
                                .flatten(),
                            head: Vec::new(),
                        })
                    })
            }
            Some(COM_SHUTDOWN) => guard
                .judge(
                    "SHUTDOWN",
                    None,
                    &session.database,
                    &session.user,
                    &mut crate::facts::stake::Mysql(&guard.intent),
                )
                .map(|()| None),
            Some(COM_MULTI) => Err(Refusal {
                message: "gardefou refused this command: COM_MULTI bundles commands the guard does not read".into(),
                detail: "the wire guard".into(),
                hint: "send the statements one by one".into(),
            }),
            Some(COM_INIT_DB) => Ok(Some(Pending {
                database: Some(String::from_utf8_lossy(&whole[1..]).into_owned()),
                head: Vec::new(),
            })),
            Some(COM_CHANGE_USER) => {
                if let Some((user, db)) = changed_user(session.caps, &whole[1..]) {
                    // A failed change of user ends the connection.
                    session.user = user;
                    lock(&heard).database = db.unwrap_or_default();
                }
                Ok(None)
            }
            _ => Ok(None),
        };
        match verdict {
            Ok(pending) => {
                // Armed before the server can answer.
                if pending.is_some() {
                    lock(&heard).pending = pending;
                }
                if let Err(e) = server.write_all(&raw) {
                    break Err(e);
                }
            }
            Err(r) => {
                let last = seq.wrapping_add((raw.len() / (MAX_PAYLOAD + 4)) as u8);
                if let Err(e) = write_packet(&mut client, last.wrapping_add(1), &refusal_packet(&r))
                {
                    break Err(e);
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

    fn greeting(caps: u32, ext: u32) -> Vec<u8> {
        let mut g = vec![10];
        g.extend_from_slice(b"5.5.5-10.11.6-MariaDB\0");
        g.extend_from_slice(&7u32.to_le_bytes());
        g.extend_from_slice(b"abcdefgh\0");
        g.extend_from_slice(&(caps as u16).to_le_bytes());
        g.push(45);
        g.extend_from_slice(&0x0202u16.to_le_bytes());
        g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        g.push(21);
        g.extend_from_slice(&[0; 6]);
        g.extend_from_slice(&ext.to_le_bytes());
        g.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
        g
    }

    #[test]
    fn the_greeting_loses_tls_compression_and_com_multi_and_keeps_the_rest() {
        let caps = 0x0000_a000 | CLIENT_SSL | CLIENT_COMPRESS | CLIENT_PROTOCOL_41 | 1 << 16;
        let mut g = greeting(caps, 0b111);
        let status = cleared(&mut g);
        assert_eq!(status, Some(0x0202));
        assert_eq!(g, greeting(caps & !(CLIENT_SSL | CLIENT_COMPRESS), 0b101));
        // Not a greeting: left alone.
        let mut e = err_packet(1040, "08004", "Too many connections");
        let before = e.clone();
        assert_eq!(cleared(&mut e), None);
        assert_eq!(e, before);
        // Cut short: no panic.
        for n in 0..g.len() {
            let _ = cleared(&mut g.clone()[..n]);
        }
    }

    #[test]
    fn the_handshake_response_names_its_user_and_database() {
        let caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_CONNECT_WITH_DB;
        let mut p = caps.to_le_bytes().to_vec();
        p.extend_from_slice(&[0, 0, 0, 1, 13]);
        p.extend_from_slice(&[0; 23]);
        p.extend_from_slice(b"app\0");
        p.push(20);
        p.extend_from_slice(&[0x5a; 20]);
        p.extend_from_slice(b"shop\0mysql_native_password\0");
        let h = hello(&p);
        assert_eq!(h.user, "app");
        assert_eq!(h.database.as_deref(), Some("shop"));
        assert_eq!(h.collation, 13);
        for n in 0..p.len() {
            let _ = hello(&p[..n]);
        }
        assert_eq!(used_database("use `inv`;").as_deref(), Some("inv"));
        assert_eq!(used_database("USE shop").as_deref(), Some("shop"));
        assert_eq!(used_database("update t set v = 1"), None);
    }

    #[test]
    fn what_the_server_may_read_otherwise_is_doubted() {
        let mut s = Session {
            caps: 0,
            user: String::new(),
            database: String::new(),
            unsafe_charset: false,
            plain_backslash: false,
        };
        assert_eq!(s.doubt(b"DELETE FROM t WHERE v = 'it''s'"), None);
        assert_eq!(s.doubt(b"SELECT 'a\\'' FROM t"), None);
        // The mode set by the statement itself counts for what follows it.
        assert!(
            s.doubt(b"SET sql_mode='NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; DROP TABLE t; SELECT '")
                .is_some()
        );
        let mut s = Session {
            plain_backslash: false,
            ..s
        };
        // ANSI_QUOTES may be on server-wide: a backslash in a double-quoted text.
        assert!(
            s.doubt(b"SELECT 1 AS \"a\\\"; DROP TABLE t; SELECT \"")
                .is_some()
        );
        // A multibyte character, then a backslash: one character in gbk.
        assert!(
            s.doubt("SELECT 'é\\' ; DROP TABLE t; -- '".as_bytes())
                .is_some()
        );
        assert!(s.doubt(&[b'S', 0xbf, 0x5c]).is_some());
    }

    #[test]
    fn a_long_command_is_read_whole_and_passed_as_it_came() {
        let mut bytes = Vec::new();
        let big = vec![b'x'; MAX_PAYLOAD];
        write_packet(&mut bytes, 0, &big).unwrap();
        write_packet(&mut bytes, 1, b"tail").unwrap();
        let Command { seq, whole, raw } = read_command(&mut &bytes[..]).unwrap().unwrap();
        assert_eq!(seq, 0);
        assert_eq!(whole.len(), MAX_PAYLOAD + 4);
        assert_eq!(raw, bytes);
        // Cut short: an error, not a panic.
        assert!(read_command(&mut &bytes[..100]).is_err());
    }

    #[test]
    fn mysql_is_pointed_at_the_guard_before_a_double_dash() {
        let args: Vec<OsString> = ["-uapp", "--socket=/x", "--", "shop"]
            .iter()
            .map(OsString::from)
            .collect();
        let p = pointed(&args, Path::new("/tmp/g/mysqld.sock"));
        let p: Vec<String> = p.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            p,
            [
                "-uapp",
                "--socket=/x",
                "--protocol=socket",
                "--host=localhost",
                "--socket=/tmp/g/mysqld.sock",
                "--",
                "shop"
            ]
        );
    }
}
