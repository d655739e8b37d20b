//! The PostgreSQL side of the wire guard: where psql would connect, the private socket psql is
//! sent to instead, and one relay per connection that judges every Query and Parse message's
//! SQL before the server sees it. Messages are framed (tag, length) and passed on as they came,
//! byte for byte; pgwire decodes the startup packet, the statements, and encodes the errors.
//!
//! A refused Query is replaced by a `DO` block that raises the refusal on the server: the error
//! comes in its place in the stream, and inside a transaction it fails the transaction as any
//! error would (psql's `ON_ERROR_ROLLBACK` applies). A refused Parse gets the ErrorResponse
//! from the relay itself, and what the client sends after it up to its Sync is dropped (as the
//! server does after an error).

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use bytes::{Buf, BytesMut};
use pgwire::messages::response::ErrorResponse;
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::{ParameterStatus, Startup};
use pgwire::messages::{DecodeContext, Message};

pub use super::Target;
use super::{Guard, Refusal, Stream};
use crate::intent::sql::SqlIntent;

/// libpq's socket directory on Debian.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
/// The longest message the server accepts.
const MAX_MESSAGE: usize = 0x3fff_ffff;
const READ_SIZE: usize = 64 * 1024;
const MAX_STARTUP: usize = 10_000;
/// Client encodings in which a byte of a multibyte character can be a quote or a backslash:
/// text in them is not read by the guard.
const UNSAFE_ENCODINGS: [&str; 6] = ["SJIS", "BIG5", "GBK", "GB18030", "UHC", "JOHAB"];

/// Where psql would connect and what it is told instead: the server, the port (the socket's
/// name ends with it), and psql's arguments without their host and port.
#[derive(Debug, Clone)]
pub struct Route {
    pub target: Target,
    /// The server as psql's prompt names it (`%M`): `[local]`, `[local:/dir]`, the host.
    pub shown: String,
    /// The host as libpq matches it in a password file (`localhost` for the default socket
    /// directory).
    pub passhost: String,
    pub port: u16,
    pub args: Vec<OsString>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub(crate) fn loopback(host: &str) -> bool {
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

/// Where a psql command connects, as libpq resolves it, or why the guard does not go there.
pub fn route(intent: &SqlIntent, args: &[OsString]) -> Result<Route, String> {
    for var in ["PGSERVICE", "PGHOSTADDR", "PGSERVICEFILE"] {
        if env(var).is_some() {
            return Err(format!("{var} names the connection"));
        }
    }
    if intent
        .database
        .as_deref()
        .is_some_and(|d| d.contains('=') || d.contains("://"))
    {
        return Err("the connection is given as a connection string".into());
    }
    let args = without_host(args)?;
    let host = intent
        .host
        .clone()
        .or_else(|| env("PGHOST"))
        .unwrap_or_else(|| DEFAULT_SOCKET_DIR.to_owned());
    if host.contains(',') {
        return Err("several hosts are named".into());
    }
    let port_text = intent
        .port
        .clone()
        .or_else(|| env("PGPORT"))
        .unwrap_or_else(|| "5432".into());
    let port: u16 = port_text
        .trim()
        .parse()
        .map_err(|_| format!("the port {port_text:?} is not a number"))?;
    let shown = if host == DEFAULT_SOCKET_DIR {
        "[local]".to_owned()
    } else if host.starts_with('/') {
        format!("[local:{host}]")
    } else {
        host.clone()
    };
    let passhost = if host == DEFAULT_SOCKET_DIR {
        "localhost".to_owned()
    } else {
        host.clone()
    };
    let target = if host.starts_with('/') {
        Target::Unix(Path::new(&host).join(format!(".s.PGSQL.{port}")))
    } else if host.starts_with('@') {
        return Err("an abstract socket is named".into());
    } else if loopback(&host) {
        if let Some(mode) = env("PGSSLMODE").filter(|m| m.starts_with("verify") || m == "require") {
            return Err(format!(
                "PGSSLMODE={mode} asks for TLS, which the guard does not terminate"
            ));
        }
        if env("PGGSSENCMODE").is_some_and(|m| m == "require") {
            return Err("PGGSSENCMODE=require asks for GSSAPI encryption".into());
        }
        Target::Tcp(host, port)
    } else {
        return Err(format!(
            "{host} is another host: the guard proxies only this host's servers (TLS is not terminated)"
        ));
    };
    Ok(Route {
        target,
        shown,
        passhost,
        port,
        args,
    })
}

/// The fields of a password file's line (`host:port:database:user:password`), still escaped
/// (`\\:` and `\\\\`), or None for a comment or a line of fewer fields.
fn passfile_fields(line: &str) -> Option<Vec<&str>> {
    if line.starts_with('#') {
        return None;
    }
    let mut fields = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ':' if fields.len() < 4 => {
                fields.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(&line[start..]);
    (fields.len() == 5).then_some(fields)
}

fn unescaped(field: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in field.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// The user's password file (`PGPASSFILE`, else `~/.pgpass`) for the guard's socket: libpq
/// matches a password by the host and port it connects to, which are now the guard's. The
/// entries for the real server are written with the guard's directory and port into `dir`
/// (private, gone with the session); None when there is nothing to carry (no file, one libpq
/// would ignore for its permissions, no entry for this server, or `PGPASSWORD` set).
pub fn passfile(route: &Route, dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    if env("PGPASSWORD").is_some() {
        return None;
    }
    let source = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let meta = std::fs::metadata(&source).ok()?;
    if !meta.is_file() || meta.mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(&source).ok()?;
    let port = route.port.to_string();
    let escape = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
    let guard_host = escape(&dir.to_string_lossy());
    let mut out = String::new();
    for line in text.lines() {
        let Some(f) = passfile_fields(line) else {
            continue;
        };
        let host_ok = f[0] == "*" || unescaped(f[0]) == route.passhost;
        let port_ok = f[1] == "*" || unescaped(f[1]) == port;
        if host_ok && port_ok {
            out.push_str(&format!("{guard_host}:{port}:{}:{}:{}\n", f[2], f[3], f[4]));
        }
    }
    if out.is_empty() {
        return None;
    }
    let path = dir.join("pgpass");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .ok()?;
    file.write_all(out.as_bytes()).ok()?;
    Some(path)
}

/// psql's arguments without `-h`/`--host` and `-p`/`--port` (the guard gives its own), or why
/// they cannot be read safely.
fn without_host(args: &[OsString]) -> Result<Vec<OsString>, String> {
    use crate::intent::sql::{PSQL_SHORT_WITH_VALUE, psql_long, psql_long_takes_value};
    let mut out = Vec::new();
    let mut k = 0;
    while k < args.len() {
        let a = args[k].to_string_lossy().into_owned();
        k += 1;
        if a == "--" {
            out.extend(args[k - 1..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            // Abbreviated as getopt_long allows (`--ho`, `--po=5433`).
            let name = psql_long(name).unwrap_or(name);
            let takes = psql_long_takes_value(name);
            if name == "host" || name == "port" {
                if !inline {
                    k += 1;
                }
                continue;
            }
            out.push(args[k - 1].clone());
            if takes && !inline && k < args.len() {
                out.push(args[k].clone());
                k += 1;
            }
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let bytes = a.as_bytes();
            let c = bytes[1];
            if PSQL_SHORT_WITH_VALUE.contains(&c) {
                let inline = a.len() > 2;
                if c == b'h' || c == b'p' {
                    if !inline {
                        k += 1;
                    }
                    continue;
                }
                out.push(args[k - 1].clone());
                if !inline && k < args.len() {
                    out.push(args[k].clone());
                    k += 1;
                }
                continue;
            }
            // A cluster of flags (`-Xq`): one that takes a value inside it is not followed.
            if bytes[2..].iter().any(|b| PSQL_SHORT_WITH_VALUE.contains(b)) {
                return Err(format!("the option cluster {a} is not read by the guard"));
            }
        }
        out.push(args[k - 1].clone());
    }
    Ok(out)
}

/// The replies to the guard's own Parse and Bind (of a refusal raised in a batch) that the
/// client must not see: in the batch answered after ReadyForQuery number `batch`, the
/// `parse`-th ParseComplete and the `bind`-th BindComplete (from 0).
struct Swallow {
    batch: u64,
    parse: usize,
    bind: usize,
}

/// One connection of psql through the guard.
struct Relay<'g> {
    guard: &'g Guard,
    client: UnixStream,
    server: Stream,
    from_client: BytesMut,
    from_server: BytesMut,
    /// Bytes of a server message still to pass through as they come.
    passing: usize,
    /// The transaction state of the last ReadyForQuery (`I`, `T`, `E`).
    status: u8,
    /// ReadyForQuery messages the server owes for what was sent (Query, Sync, FunctionCall,
    /// the startup) and the ones it has sent.
    owed: u64,
    seen: u64,
    /// Extended-protocol messages sent since the last Sync.
    unsynced: bool,
    /// A refused Parse: what the client sends up to its Sync is dropped.
    skipping: bool,
    /// Parse and Bind messages sent in this batch (since the last Sync).
    parses: usize,
    binds: usize,
    /// ParseComplete and BindComplete replies passed in the batch the server is answering.
    parsed: usize,
    bound: usize,
    swallow: Vec<Swallow>,
    database: String,
    user: String,
    /// The session's `standard_conforming_strings` is off: a backslash in a string may end
    /// it where the guard's reading does not.
    backslash_quotes: bool,
    /// The session's `client_encoding`.
    encoding: String,
}

fn frame(buf: &mut BytesMut, tagged: bool) -> io::Result<Option<BytesMut>> {
    let off = usize::from(tagged);
    if buf.len() < off + 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
    // The startup packet is short (the server takes at most 10,000 bytes).
    let max = if tagged { MAX_MESSAGE } else { MAX_STARTUP };
    if !(4..=max).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a message of an impossible length",
        ));
    }
    if buf.len() < off + len {
        buf.reserve(off + len - buf.len());
        return Ok(None);
    }
    Ok(Some(buf.split_to(off + len)))
}

/// Reads more into `buf`; false at the end of the stream.
fn fill(s: &mut impl Read, buf: &mut BytesMut) -> io::Result<bool> {
    let at = buf.len();
    buf.resize(at + READ_SIZE, 0);
    let n = loop {
        match s.read(&mut buf[at..]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r,
        }
    };
    match n {
        Ok(n) => {
            buf.truncate(at + n);
            Ok(n > 0)
        }
        Err(e) => {
            buf.truncate(at);
            Err(e)
        }
    }
}

/// Parse, Bind and Execute of the statement that raises a refusal, on the unnamed statement
/// and portal.
fn raise_in_batch(r: &Refusal, out: &mut BytesMut) {
    use pgwire::messages::extendedquery::{Bind, Execute, Parse};
    let _ = Parse::new(None, raising(r), Vec::new()).encode(out);
    let _ = Bind::new(None, None, Vec::new(), Vec::new(), Vec::new()).encode(out);
    let _ = Execute::new(None, 0).encode(out);
}

/// A dollar-quote tag that `texts` do not contain.
fn tag(base: &str, texts: &[&str]) -> String {
    (0..)
        .map(|n| format!("${base}{n}$"))
        // Not even its start at a text's end, where the closing `$` would complete it.
        .find(|t| texts.iter().all(|x| !x.contains(&t[..t.len() - 1])))
        .unwrap_or_default()
}

/// The statement sent in place of a refused Query: it raises the refusal on the server.
fn raising(r: &Refusal) -> String {
    let texts = [r.message.as_str(), r.detail.as_str(), r.hint.as_str()];
    let t = tag("gardefou_text", &texts);
    let b = tag("gardefou_do", &texts);
    format!(
        "DO {b} BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = {t}{}{t}, DETAIL = {t}{}{t}, HINT = {t}{}{t}; END {b}",
        r.message, r.detail, r.hint
    )
}

/// The statement of a Parse message, when the message is well formed.
fn parse_statement(f: &[u8]) -> Option<String> {
    let body = f.get(5..)?;
    let name_end = body.iter().position(|&b| b == 0)?;
    let rest = &body[name_end + 1..];
    let q_end = rest.iter().position(|&b| b == 0)?;
    let tail = &rest[q_end + 1..];
    let n = u16::from_be_bytes([*tail.first()?, *tail.get(1)?]) as usize;
    if tail.len() != 2 + 4 * n {
        return None;
    }
    let mut b = BytesMut::from(f);
    pgwire::messages::extendedquery::Parse::decode(&mut b, &DecodeContext::default())
        .ok()
        .flatten()
        .map(|p| p.query)
}

fn query_statement(f: &[u8]) -> Option<String> {
    let mut b = BytesMut::from(f);
    Query::decode(&mut b, &DecodeContext::default())
        .ok()
        .flatten()
        .map(|q| q.query)
}

/// One connection: the startup exchange, then the relay both ways.
pub fn relay(mut client: UnixStream, guard: &Guard, target: &Target) -> io::Result<()> {
    let mut from_client = BytesMut::new();
    // The startup: encryption requests are declined (psql on a Unix socket does not make them),
    // a cancel request goes to the server as it came.
    let startup = loop {
        match frame(&mut from_client, false)? {
            Some(f) => {
                if f.len() < 8 {
                    return Ok(());
                }
                let code = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                match code {
                    SSL_REQUEST | GSSENC_REQUEST => client.write_all(b"N")?,
                    CANCEL_REQUEST => {
                        let mut server = Stream::connect(target)?;
                        server.write_all(&f)?;
                        let _ = io::copy(&mut server, &mut client);
                        return Ok(());
                    }
                    _ => break f,
                }
            }
            None => {
                if !fill(&mut client, &mut from_client)? {
                    return Ok(());
                }
            }
        }
    };
    let mut params = BytesMut::from(&startup[..]);
    let mut ctx = DecodeContext::default();
    ctx.awaiting_frontend_ssl = false;
    let parameters = Startup::decode(&mut params, &ctx)
        .ok()
        .flatten()
        .map(|s| s.parameters)
        .unwrap_or_default();
    let user = parameters.get("user").cloned().unwrap_or_default();
    let database = parameters
        .get("database")
        .cloned()
        .unwrap_or_else(|| user.clone());
    let mut server = match Stream::connect(target) {
        Ok(s) => s,
        Err(e) => {
            let r = Refusal {
                message: format!("gardefou cannot reach the server: {e}"),
                detail: format!("{target:?}"),
                hint: String::new(),
            };
            // FATAL: psql shows it as a failed connection.
            let mut b = BytesMut::new();
            let _ = ErrorResponse::new(vec![
                (b'S', "FATAL".into()),
                (b'V', "FATAL".into()),
                (b'C', "08006".into()),
                (b'M', r.message),
            ])
            .encode(&mut b);
            client.write_all(&b)?;
            return Ok(());
        }
    };
    server.write_all(&startup)?;
    // Never blocked on the server: it is read whenever it has something, even while the relay
    // writes to it (`Relay::send`).
    server.set_nonblocking(true)?;
    let mut r = Relay {
        guard,
        client,
        server,
        from_client,
        from_server: BytesMut::new(),
        passing: 0,
        status: b'I',
        owed: 1,
        seen: 0,
        unsynced: false,
        skipping: false,
        parses: 0,
        binds: 0,
        parsed: 0,
        bound: 0,
        swallow: Vec::new(),
        database,
        user,
        backslash_quotes: false,
        encoding: "UTF8".into(),
    };
    r.run()
}

impl Relay<'_> {
    fn run(&mut self) -> io::Result<()> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            // What the client sent while the relay was busy is handled first.
            if !self.from_client.is_empty() && self.client_messages()? {
                return Ok(());
            }
            let (c, s) = {
                let mut fds = [
                    PollFd::new(self.client.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.server.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(e.into()),
                }
                let ready = |f: &PollFd| {
                    f.revents().is_some_and(|r| {
                        r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                    })
                };
                (ready(&fds[0]), ready(&fds[1]))
            };
            if s && !self.server_input()? {
                let _ = self.client.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            if c {
                if !fill(&mut self.client, &mut self.from_client)? {
                    return Ok(());
                }
                if self.client_messages()? {
                    return Ok(());
                }
            }
        }
    }

    /// Reads what the server sent and passes it on; false at its end.
    fn server_input(&mut self) -> io::Result<bool> {
        if !self.fill_server()? {
            return Ok(false);
        }
        self.pass_server()?;
        Ok(true)
    }

    /// Reads more from the server, waiting for it; false at its end.
    fn fill_server(&mut self) -> io::Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            match fill(&mut self.server, &mut self.from_server) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut fds = [PollFd::new(self.server.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, PollTimeout::NONE) {
                        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                r => return r,
            }
        }
    }

    /// Passes the server's messages on as they come, noting each ReadyForQuery.
    fn pass_server(&mut self) -> io::Result<()> {
        let mut out = BytesMut::new();
        loop {
            if self.passing > 0 {
                let n = self.passing.min(self.from_server.len());
                out.extend_from_slice(&self.from_server.split_to(n));
                self.passing -= n;
                if self.passing > 0 {
                    break;
                }
                continue;
            }
            if self.from_server.len() < 5 {
                break;
            }
            let tag = self.from_server[0];
            let len = u32::from_be_bytes([
                self.from_server[1],
                self.from_server[2],
                self.from_server[3],
                self.from_server[4],
            ]) as usize;
            if !(4..=MAX_MESSAGE).contains(&len) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the server sent a message of an impossible length",
                ));
            }
            if !matches!(tag, b'Z' | b'S' | b'1' | b'2') {
                self.passing = len + 1;
                continue;
            }
            let Some(z) = frame(&mut self.from_server, true)? else {
                break;
            };
            match tag {
                b'S' => self.parameter(&z),
                b'1' | b'2' => {
                    let (n, batch) = (
                        if tag == b'1' { self.parsed } else { self.bound },
                        self.seen,
                    );
                    if tag == b'1' {
                        self.parsed += 1;
                    } else {
                        self.bound += 1;
                    }
                    let ours = |w: &Swallow| {
                        w.batch == batch
                            && if tag == b'1' {
                                w.parse == n
                            } else {
                                w.bind == n
                            }
                    };
                    if self.swallow.iter().any(ours) {
                        continue;
                    }
                }
                _ => {
                    self.status = z.get(5).copied().unwrap_or(b'I');
                    let batch = self.seen;
                    self.swallow.retain(|w| w.batch != batch);
                    self.seen += 1;
                    self.parsed = 0;
                    self.bound = 0;
                }
            }
            out.extend_from_slice(&z);
        }
        if !out.is_empty() {
            self.client.write_all(&out)?;
        }
        Ok(())
    }

    /// Handles every whole message the client sent; true once it has terminated.
    fn client_messages(&mut self) -> io::Result<bool> {
        let mut out = BytesMut::new();
        while let Some(f) = frame(&mut self.from_client, true)? {
            let tag = f[0];
            if self.skipping {
                // The server skips to the Sync after the refusal's error; so does the relay.
                match tag {
                    b'S' => {
                        self.skipping = false;
                        self.synced(&f, &mut out);
                    }
                    // A Flush gets the error to the client now, as the server would.
                    b'H' => out.extend_from_slice(&f),
                    b'X' => {
                        out.extend_from_slice(&f);
                        self.send(&mut out)?;
                        return Ok(true);
                    }
                    _ => {}
                }
                continue;
            }
            match tag {
                b'Q' => {
                    let sql = query_statement(&f).unwrap_or_default();
                    self.send(&mut out)?;
                    match self.judged(&sql, &f) {
                        Ok(()) => out.extend_from_slice(&f),
                        Err(refusal) => {
                            let mut q = BytesMut::new();
                            let _ = Query::new(raising(&refusal)).encode(&mut q);
                            out.extend_from_slice(&q);
                        }
                    }
                    self.owed += 1;
                }
                b'P' => {
                    let sql = parse_statement(&f);
                    self.send(&mut out)?;
                    let verdict = match &sql {
                        Some(sql) => self.judged(sql, &f),
                        None => Err(Refusal {
                            message: "gardefou refused a Parse message it cannot read".into(),
                            detail: String::new(),
                            hint: String::new(),
                        }),
                    };
                    match verdict {
                        Ok(()) => {
                            out.extend_from_slice(&f);
                            self.parses += 1;
                        }
                        Err(refusal) => {
                            // The server raises it in the batch, in its place: the batch
                            // fails as it would on the server's own error.
                            raise_in_batch(&refusal, &mut out);
                            self.swallow.push(Swallow {
                                batch: self.owed,
                                parse: self.parses,
                                bind: self.binds,
                            });
                            self.skipping = true;
                        }
                    }
                    self.unsynced = true;
                }
                b'S' => self.synced(&f, &mut out),
                b'F' => {
                    self.send(&mut out)?;
                    match self.function_call(&f) {
                        Ok(()) => out.extend_from_slice(&f),
                        Err(refusal) => {
                            let mut q = BytesMut::new();
                            let _ = Query::new(raising(&refusal)).encode(&mut q);
                            out.extend_from_slice(&q);
                        }
                    }
                    self.owed += 1;
                }
                b'B' | b'E' | b'D' | b'C' => {
                    out.extend_from_slice(&f);
                    if tag == b'B' {
                        self.binds += 1;
                    }
                    self.unsynced = true;
                }
                b'X' => {
                    out.extend_from_slice(&f);
                    self.send(&mut out)?;
                    return Ok(true);
                }
                _ => out.extend_from_slice(&f),
            }
        }
        self.send(&mut out)?;
        Ok(false)
    }

    /// Writes to the server. A server that stops reading while it has things to say (a
    /// NOTICE per row of a long COPY) is heard meanwhile, or both would wait on each other.
    fn send(&mut self, out: &mut BytesMut) -> io::Result<()> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        if out.is_empty() {
            return Ok(());
        }
        let mut at = 0;
        let result = loop {
            if at == out.len() {
                break Ok(());
            }
            match self.server.write(&out[at..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => at += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let readable = {
                        let mut fds = [PollFd::new(
                            self.server.as_fd(),
                            PollFlags::POLLOUT | PollFlags::POLLIN,
                        )];
                        match poll(&mut fds, PollTimeout::NONE) {
                            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                            Err(e) => break Err(e.into()),
                        }
                        fds[0]
                            .revents()
                            .is_some_and(|r| r.contains(PollFlags::POLLIN))
                    };
                    if readable {
                        match fill(&mut self.server, &mut self.from_server) {
                            Ok(true) => {
                                if let Err(e) = self.pass_server() {
                                    break Err(e);
                                }
                            }
                            Ok(false) => break Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => break Err(e),
                        }
                    }
                }
                Err(e) => break Err(e),
            }
        };
        out.clear();
        result
    }

    /// The client's Sync, passed on: its batch ends.
    fn synced(&mut self, f: &[u8], out: &mut BytesMut) {
        out.extend_from_slice(f);
        self.owed += 1;
        self.unsynced = false;
        self.parses = 0;
        self.binds = 0;
    }

    /// Notes the parameters that change how the server reads a statement's text.
    fn parameter(&mut self, f: &[u8]) {
        let mut b = BytesMut::from(f);
        let Ok(Some(p)) = ParameterStatus::decode(&mut b, &DecodeContext::default()) else {
            return;
        };
        match p.name.as_str() {
            "standard_conforming_strings" => self.backslash_quotes = p.value == "off",
            "client_encoding" => self.encoding = p.value.to_uppercase(),
            _ => {}
        }
    }

    /// Why the server may read this statement's bytes otherwise than the guard does, if so.
    fn doubt(&self, raw: &[u8]) -> Option<String> {
        if self.backslash_quotes && raw.contains(&b'\\') {
            return Some(
                "a statement with a backslash while standard_conforming_strings is off (it is not read)"
                    .into(),
            );
        }
        if !raw.is_ascii()
            && (UNSAFE_ENCODINGS.contains(&self.encoding.as_str())
                || (self.encoding == "UTF8" && std::str::from_utf8(raw).is_err()))
        {
            return Some(format!(
                "a statement in client_encoding {} that the guard cannot read",
                self.encoding
            ));
        }
        None
    }

    /// A FunctionCall (the fast path: psql's `\\lo_unlink`, libpq's large-object calls):
    /// the function is named by its OID, which the server is asked about. Those that destroy
    /// a large object are of unknown effect; one the server does not name is too.
    fn function_call(&mut self, f: &[u8]) -> Result<(), Refusal> {
        /// The fast-path functions that destroy what they are given.
        const DESTROY: [&str; 3] = ["lo_unlink", "lo_truncate", "lo_truncate64"];
        let oid = f
            .get(5..9)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let database = self.database.clone();
        let user = self.user.clone();
        let name = match oid {
            Some(oid) if !self.unsynced => crate::facts::stake::Server::answers(
                self,
                &database,
                &[format!("SELECT proname FROM pg_proc WHERE oid = {oid}")],
            )
            .ok()
            .and_then(|a| a.into_iter().next())
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
            _ => None,
        };
        let what = match (&name, oid) {
            (Some(n), _) if !DESTROY.contains(&n.as_str()) => return Ok(()),
            (Some(n), _) => format!("{n}() (a large object, by a fast-path function call)"),
            (None, Some(oid)) => {
                format!("a fast-path call of function {oid}, which the server did not name")
            }
            (None, None) => "a fast-path function call the guard cannot read".to_owned(),
        };
        let guard = self.guard;
        guard.judge_unknown(&what, &database, &user, self)
    }

    fn judged(&mut self, sql: &str, raw: &[u8]) -> Result<(), Refusal> {
        let database = self.database.clone();
        let user = self.user.clone();
        let doubt = self.doubt(raw);
        let guard = self.guard;
        guard.judge(sql, doubt.as_deref(), &database, &user, self)
    }

    /// Passes on what the server owes (the session must be idle to be asked).
    fn drain(&mut self) -> io::Result<()> {
        while self.seen < self.owed || self.passing > 0 {
            if !self.server_input()? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
        }
        Ok(())
    }

    /// Runs queries of the guard's own on the session; each one's rows (columns by `|`), or
    /// None when it failed.
    fn exchange(&mut self, queries: &[String]) -> io::Result<Vec<Option<String>>> {
        let mut out = BytesMut::new();
        for q in queries {
            Query::new(q.clone())
                .encode(&mut out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        }
        // The server is idle and the questions are short: written whole, nothing read.
        write_waiting(&mut self.server, &out)?;
        let mut answers = Vec::new();
        let mut rows: Vec<String> = Vec::new();
        let mut failed = false;
        let mut forward = BytesMut::new();
        while answers.len() < queries.len() {
            let Some(f) = frame(&mut self.from_server, true)? else {
                if !self.fill_server()? {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ));
                }
                continue;
            };
            match f[0] {
                b'D' => rows.push(data_row(&f[5..])),
                b'E' => {
                    failed = true;
                    // A fatal error ends the session: the client hears why.
                    let fields = String::from_utf8_lossy(&f[5..]);
                    if fields.contains("SFATAL\0") || fields.contains("SPANIC\0") {
                        forward.extend_from_slice(&f);
                    }
                }
                b'Z' => {
                    self.status = f.get(5).copied().unwrap_or(self.status);
                    let text = std::mem::take(&mut rows).join("\n");
                    answers.push((!std::mem::take(&mut failed)).then_some(text));
                }
                // Asynchronous messages are the client's.
                b'A' => forward.extend_from_slice(&f),
                b'S' => {
                    self.parameter(&f);
                    forward.extend_from_slice(&f);
                }
                _ => {}
            }
        }
        if !forward.is_empty() {
            self.client.write_all(&forward)?;
        }
        Ok(answers)
    }
}

/// Writes all of `b` to a non-blocking stream, waiting until it can take more.
fn write_waiting(s: &mut Stream, mut b: &[u8]) -> io::Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    while !b.is_empty() {
        match s.write(b) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => b = &b[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(s.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A DataRow's columns as psql's unaligned output shows them (NULL as nothing).
fn data_row(mut body: &[u8]) -> String {
    let mut cols = Vec::new();
    if body.len() < 2 {
        return String::new();
    }
    let n = body.get_u16();
    for _ in 0..n {
        if body.len() < 4 {
            break;
        }
        let len = body.get_i32();
        if len < 0 {
            cols.push(String::new());
            continue;
        }
        let len = (len as usize).min(body.len());
        cols.push(String::from_utf8_lossy(&body[..len]).into_owned());
        body.advance(len);
    }
    cols.join("|")
}

impl crate::facts::stake::Server for Relay<'_> {
    /// In the operator's own session, between two of its statements: read-only (a savepoint
    /// with `transaction_read_only` inside a transaction, else a read-only transaction of its
    /// own, rolled back), each question under a savepoint of its own, all in one round trip.
    fn answers(&mut self, _database: &str, queries: &[String]) -> Result<Vec<String>, String> {
        use crate::facts::stake::COUNT_TIMEOUT_MS;
        if self.unsynced || self.skipping {
            return Err("the session is in the middle of an extended-protocol batch".into());
        }
        self.drain().map_err(|e| e.to_string())?;
        let timeout = format!("SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}");
        let (open, close): (Vec<String>, Vec<String>) = match self.status {
            b'E' => return Err("the session's transaction has failed".into()),
            b'T' => (
                vec![
                    "SAVEPOINT gardefou_ask".into(),
                    "SET LOCAL transaction_read_only = on".into(),
                    timeout,
                ],
                vec![
                    "ROLLBACK TO SAVEPOINT gardefou_ask".into(),
                    "RELEASE SAVEPOINT gardefou_ask".into(),
                ],
            ),
            _ => (
                vec!["BEGIN READ ONLY".into(), timeout],
                vec!["ROLLBACK".into()],
            ),
        };
        let mut all = open.clone();
        for q in queries {
            all.push("SAVEPOINT gardefou_question".into());
            all.push(q.clone());
            all.push("ROLLBACK TO SAVEPOINT gardefou_question".into());
        }
        all.extend(close);
        let got = self.exchange(&all).map_err(|e| e.to_string())?;
        if got[..open.len()].iter().any(Option::is_none) {
            return Err("the session could not open a read-only transaction".into());
        }
        Ok((0..queries.len())
            .map(|i| got[open.len() + 3 * i + 1].clone().unwrap_or_default())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn psql_loses_its_host_and_port_and_keeps_the_rest() {
        let a = os(&[
            "-h",
            "localhost",
            "-p5433",
            "-c",
            "-h",
            "--port=1",
            "-X",
            "db",
        ]);
        assert_eq!(without_host(&a).unwrap(), os(&["-c", "-h", "-X", "db"]));
        let b = os(&["--host", "/tmp", "--dbname", "x", "-U", "u"]);
        assert_eq!(without_host(&b).unwrap(), os(&["--dbname", "x", "-U", "u"]));
        assert!(without_host(&os(&["-Xh", "/tmp"])).is_err());
        assert_eq!(without_host(&os(&["-Xq"])).unwrap(), os(&["-Xq"]));
    }

    #[test]
    fn a_password_file_line_is_read_as_libpq_reads_it() {
        assert_eq!(
            passfile_fields("localhost:5432:*:app:se\\:cr\\\\et").unwrap(),
            ["localhost", "5432", "*", "app", "se\\:cr\\\\et"]
        );
        assert_eq!(unescaped("se\\:cr\\\\et"), "se:cr\\et");
        assert!(passfile_fields("# localhost:5432:*:app:x").is_none());
        assert!(passfile_fields("localhost:5432:app").is_none());
        // A colon in the password needs no escape once four fields are read.
        assert_eq!(passfile_fields("h:1:d:u:a:b").unwrap()[4], "a:b");
    }

    #[test]
    fn a_refusal_is_raised_with_quotes_no_text_can_close() {
        let r = Refusal {
            message: "m $gardefou_text0$ '".into(),
            detail: "d".into(),
            hint: "h".into(),
        };
        let q = raising(&r);
        assert!(q.contains("$gardefou_text1$m $gardefou_text0$ '$gardefou_text1$"));
        assert!(q.starts_with("DO $gardefou_do0$"));
    }

    #[test]
    fn messages_are_framed_and_malformed_ones_are_not_read() {
        let mut b = BytesMut::from(&b"Q\x00\x00\x00\x0dSELECT 1\x00Z"[..]);
        let f = frame(&mut b, true).unwrap().unwrap();
        assert_eq!(query_statement(&f).as_deref(), Some("SELECT 1"));
        assert_eq!(&b[..], b"Z");
        assert!(frame(&mut BytesMut::from(&b"Q\x00\x00\x00\x01"[..]), true).is_err());
        assert_eq!(parse_statement(b"P\x00\x00\x00\x08\x00x"), None);
        let p = b"P\x00\x00\x00\x0f\x00DROP\x00\x00\x01\x00\x00";
        assert_eq!(parse_statement(p), None);
        let ok = b"P\x00\x00\x00\x0c\x00DROP\x00\x00\x00";
        assert_eq!(parse_statement(ok).as_deref(), Some("DROP"));
        assert_eq!(data_row(b"\x00\x02\x00\x00\x00\x013\xff\xff\xff\xff"), "3|");
    }
}
