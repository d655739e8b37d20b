//! The read-only net: under every line the guarded shell runs (and `gardefou run`), the
//! protected trees whose changes the policy does not allow are read-only, whatever program the
//! line runs — a python one-liner, a static binary, a script the parser never sees.
//!
//! The mechanism is the kernel's: the line runs in a private mount namespace (propagation
//! "slave": the host's later mounts still reach it, nothing of its own goes back), in which each
//! such tree is bind-mounted on itself and remounted read-only. The host and its daemons keep
//! the tree as it was; inside the line, `unlink`, `rename`, `truncate` and `open(O_WRONLY)` in
//! it fail with EROFS. It needs root (CAP_SYS_ADMIN); for anyone else it is unavailable, and the
//! shell says so (Landlock would work without root, but only after `no_new_privs`, which stops
//! sudo from working, and its allow-list model cannot leave the rest of /etc writable).
//!
//! The ways through, each deliberate: a line the shell confirmed runs without the net for the
//! trees its effects reach, and only those; a shim (rm, apt, dpkg, pg_dropcluster) or `gardefou
//! override` that got its confirmation lifts the net for exactly the command it runs (`lift`),
//! in a mount namespace of its own, so that the rest of the line keeps it.
//!
//! A guardrail against mistakes, not a sandbox: root inside the line can leave the namespace
//! (`nsenter -t 1 -m`), or mount over the tree, on purpose.

pub mod watch;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use globset::GlobBuilder;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::statvfs::{FsFlags, statvfs};

use crate::policy::schema::Contents;
use crate::policy::{Environment, Policy, applies_in};

/// argv[0] of gardefou as the helper that enters the net and then runs the line: `gardefou-net
/// TREE… -- PROGRAM ARG…`.
pub const HELPER: &str = "gardefou-net";

/// `CAP_SYS_ADMIN`'s bit in `CapEff`.
const CAP_SYS_ADMIN: u32 = 21;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot make a private mount namespace: {0}")]
    Unshare(nix::Error),
    #[error("cannot make this namespace's mounts private: {0}")]
    Propagation(nix::Error),
    #[error("{}: cannot make it read-only: {source}", path.display())]
    ReadOnly { path: PathBuf, source: nix::Error },
    #[error("{}: cannot lift the net: {source}", path.display())]
    Lift { path: PathBuf, source: nix::Error },
}

/// A protected tree the net makes read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The directory itself, every symlink resolved (what is mounted).
    pub path: PathBuf,
    /// The rule's path as it matched (a symlink's own name, say), for naming it in messages.
    pub spelled: PathBuf,
    /// The rule's id (`file:protect.path#N`) and reason.
    pub rule: String,
    pub reason: String,
}

/// What the net is for this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// On: the trees are read-only for every guarded line (none protected on this host yet:
    /// an empty list).
    On(Vec<Tree>),
    /// Off by the policy, or by default in this environment.
    Off(String),
    /// Wanted, and this host or user cannot have it: why.
    Unavailable(String),
}

impl State {
    /// One line for `policy show`, `preflight` and the shell's start.
    pub fn describe(&self) -> String {
        match self {
            State::On(trees) if trees.is_empty() => {
                "on (no protected tree whose changes are asked for exists on this host)".into()
            }
            State::On(trees) => format!(
                "on: read-only under guarded lines: {}",
                trees
                    .iter()
                    .map(|t| t.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            State::Off(why) => format!("off ({why})"),
            State::Unavailable(why) => format!("unavailable: {why}"),
        }
    }
}

/// Whether the policy wants the net in this environment: `[net] enabled`, else on in
/// production only.
pub fn enabled(policy: &Policy, env: &Environment) -> Result<(), String> {
    match policy.net_enabled {
        Some(true) => Ok(()),
        Some(false) => Err("[net] enabled = false".into()),
        None if matches!(env.name.as_str(), "production" | "prod") => Ok(()),
        None => Err(format!(
            "off by default outside production; [net] enabled = true turns it on in {}",
            env.name
        )),
    }
}

/// Whether this process can give a line the net: root with CAP_SYS_ADMIN, and mount
/// namespaces in the kernel.
pub fn available() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("it needs root (a private mount namespace); for other users Landlock would need no_new_privs, which stops sudo from working, so the net is left off and sudo works as before".into());
    }
    if !has_cap_sys_admin() {
        return Err(
            "no CAP_SYS_ADMIN (a container without it?): mount namespaces cannot be made".into(),
        );
    }
    if !Path::new("/proc/self/ns/mnt").exists() {
        return Err("this kernel has no mount namespaces".into());
    }
    Ok(())
}

fn has_cap_sys_admin() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

/// The net for this policy and environment, as of now.
pub fn state(policy: &Policy, env: &Environment) -> State {
    if let Err(why) = enabled(policy, env) {
        return State::Off(why);
    }
    if let Err(why) = available() {
        return State::Unavailable(why);
    }
    State::On(trees(policy, env))
}

/// The existing directories the policy protects in `env` whose changes it does not allow
/// (`contents` other than allow, `net` not false), each symlink resolved, sorted, without
/// duplicates. `/` never (its rule names the directory, not a tree to freeze); patterns with
/// `**` are left out (they name files anywhere below, not trees).
pub fn trees(policy: &Policy, env: &Environment) -> Vec<Tree> {
    let mut out: Vec<Tree> = Vec::new();
    for rule in &policy.paths {
        if !rule.net
            || rule.contents == Contents::Allow
            || !applies_in(&rule.environments, &env.name)
        {
            continue;
        }
        for spelled in expand(&rule.path) {
            let Ok(path) = std::fs::canonicalize(&spelled) else {
                continue;
            };
            if path == Path::new("/") || !path.is_dir() || out.iter().any(|t| t.path == path) {
                continue;
            }
            out.push(Tree {
                path,
                spelled,
                rule: rule.id.clone(),
                reason: rule.reason.clone().unwrap_or_else(|| rule.path.clone()),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// The brace alternatives of one path component (`{a,b}c` → `ac`, `bc`), nested groups too.
fn braces(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let Some(open) = s.find('{') else {
        return vec![s.to_owned()];
    };
    let mut depth = 0;
    let mut cuts = Vec::new();
    let mut close = None;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => cuts.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![s.to_owned()];
    };
    let mut alts = Vec::new();
    let mut start = open + 1;
    for cut in cuts.into_iter().chain(std::iter::once(close)) {
        alts.push(&s[start..cut]);
        start = cut + 1;
    }
    let (head, tail) = (&s[..open], &s[close + 1..]);
    alts.iter()
        .flat_map(|alt| braces(&format!("{head}{alt}{tail}")))
        .collect()
}

/// The existing paths a rule's pattern names: literal components joined, brace alternatives
/// expanded, and `*`/`?`/`[…]` matched against the directory's entries.
fn expand(pattern: &str) -> Vec<PathBuf> {
    if pattern.contains("**") {
        return Vec::new();
    }
    let mut current = vec![PathBuf::from("/")];
    for comp in pattern.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let mut next = Vec::new();
        for alt in braces(comp) {
            if alt.contains('/') {
                return Vec::new();
            }
            if !has_meta(&alt) {
                next.extend(current.iter().map(|d| d.join(&alt)));
                continue;
            }
            let Ok(glob) = GlobBuilder::new(&alt).literal_separator(true).build() else {
                continue;
            };
            let m = glob.compile_matcher();
            for dir in &current {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                for e in entries.flatten() {
                    if m.is_match(Path::new(&e.file_name())) {
                        next.push(dir.join(e.file_name()));
                    }
                }
            }
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    current.retain(|p| p.symlink_metadata().is_ok());
    current
}

/// The command that runs `program ARGS` under the net of `trees` (through the helper), or
/// plainly when there is none.
pub fn command(trees: &[&Path], program: &Path, args: &[OsString]) -> Command {
    if trees.is_empty() {
        let mut c = Command::new(program);
        c.args(args);
        return c;
    }
    use std::os::unix::process::CommandExt;
    // The forked child's /proc/self/exe is this binary, even after an upgrade replaced it.
    let mut c = Command::new("/proc/self/exe");
    c.arg0(HELPER).args(trees).arg("--").arg(program).args(args);
    c
}

/// The helper's first argument for a guarded shell's own bash (`session_command`).
const SESSION: &str = "--session";

/// The command that starts a guarded shell's bash, kept for the whole session, under the net of
/// `trees` (none: no namespace). Always through the helper, which makes it die with the shell
/// (`PR_SET_PDEATHSIG`): between lines it waits stopped, and a shell killed then must not leave
/// it behind.
pub fn session_command(trees: &[&Path], program: &Path, args: &[OsString]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new("/proc/self/exe");
    c.arg0(HELPER)
        .arg(SESSION)
        .args(trees)
        .arg("--")
        .arg(program)
        .args(args);
    c
}

/// `gardefou-net [--session] TREE… -- PROGRAM ARG…`: enter the net, then exec the program. A
/// net that cannot be set up is said loudly and the program runs without it (the parser judged
/// it already; refusing would lock the operator out of the shell).
pub fn helper_main(argv: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    let mut rest = argv.get(1..).unwrap_or(&[]);
    if rest.first().is_some_and(|a| a == SESSION) {
        rest = &rest[1..];
        if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
            eprintln!("gardefou: warning: this session's bash may outlive the shell: {e}");
        }
    }
    let Some(split) = rest.iter().position(|a| a == "--") else {
        eprintln!("gardefou: usage: {HELPER} TREE… -- PROGRAM [ARG…]");
        return crate::outcome::exit::USAGE;
    };
    let trees: Vec<&Path> = rest[..split].iter().map(Path::new).collect();
    let cmd = &rest[split + 1..];
    let Some(program) = cmd.first() else {
        eprintln!("gardefou: usage: {HELPER} TREE… -- PROGRAM [ARG…]");
        return crate::outcome::exit::USAGE;
    };
    let outer = Mounts::inherited();
    let mut run = Command::new(program);
    // No tree: a session's bash outside any net (the net is off, or there is none yet).
    let entered = (!trees.is_empty()).then(|| enter(&trees));
    match entered {
        None => {}
        Some(Ok((made, problems))) => {
            for p in problems {
                eprintln!("gardefou: warning: the read-only net is incomplete: {p}");
            }
            let mut all = outer.map(|o| o.made).unwrap_or_default();
            all.extend(made);
            if let Some(ns) = namespace() {
                run.env(ENV, Mounts { ns, made: all }.encode());
            }
        }
        Some(Err(e)) => eprintln!(
            "gardefou: WARNING: the read-only net could not be set up ({e}): this runs without it"
        ),
    }
    let err = run.args(&cmd[1..]).exec();
    eprintln!("gardefou: cannot run {}: {err}", program.to_string_lossy());
    if err.kind() == std::io::ErrorKind::NotFound {
        crate::outcome::exit::NOT_FOUND
    } else {
        crate::outcome::exit::CANNOT_EXEC
    }
}

/// Per-mount flags a bind remount would otherwise clear.
fn kept_flags(path: &Path) -> MsFlags {
    let mut f = MsFlags::empty();
    if let Ok(st) = statvfs(path) {
        let fl = st.flags();
        for (s, m) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        ] {
            if fl.contains(s) {
                f |= m;
            }
        }
    }
    f
}

fn read_only(path: &Path) -> bool {
    statvfs(path).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY))
}

fn remount_ro(path: &Path) -> nix::Result<()> {
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | kept_flags(path);
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
}

/// This process into a mount namespace of its own: a copy of the current one, whose mounts
/// receive the host's later ones and send nothing back (recursively slave).
fn private_namespace() -> Result<(), NetError> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(NetError::Unshare)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(NetError::Propagation)
}

/// `path` (and what is mounted below it, recursively) bind-mounted on itself, read-only.
fn bind_read_only(path: &Path) -> nix::Result<()> {
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    remount_ro(path)
}

/// This process into a private mount namespace in which each of `trees` (and every mount below
/// it) is read-only. Returns the trees it made read-only and what could not be (the rest still
/// is); an error when there is no namespace at all.
pub fn enter(trees: &[&Path]) -> Result<(Vec<PathBuf>, Vec<NetError>), NetError> {
    // The working directory is a reference into the mount it was entered through: a line that
    // started inside a tree must see it through the read-only bind too (entered again below).
    let cwd = std::env::current_dir().ok();
    // Already read-only: a read-only filesystem, or an outer net (`gardefou run` in a line);
    // asked before any mount, so that a tree inside another is not mistaken for one.
    let wanted: Vec<&Path> = trees.iter().copied().filter(|t| !read_only(t)).collect();
    private_namespace()?;
    let mut problems = Vec::new();
    let mut made = Vec::new();
    for &t in &wanted {
        match bind_read_only(t) {
            Ok(()) => made.push(t.to_owned()),
            Err(source) => problems.push(NetError::ReadOnly {
                path: t.to_owned(),
                source,
            }),
        }
    }
    // A filesystem mounted inside a tree came along with the recursive bind, writable.
    if !made.is_empty() {
        for m in mount_points() {
            if made.iter().any(|t| m.starts_with(t) && m != *t)
                && !read_only(&m)
                && let Err(source) = remount_ro(&m)
            {
                problems.push(NetError::ReadOnly { path: m, source });
            }
        }
    }
    if let Some(dir) = cwd {
        let _ = std::env::set_current_dir(dir);
    }
    Ok((made, problems))
}

/// The variable that tells a shim which mounts of its namespace are the net's.
pub const ENV: &str = "GARDEFOU_NET";

/// This process's mount namespace (`mnt:[4026532178]`).
fn namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/mnt")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The net's read-only mounts, and the namespace they are in: `GARDEFOU_NET=NS;HEX,HEX…` (each
/// path in hex: any byte may be in a path).
struct Mounts {
    ns: String,
    made: Vec<PathBuf>,
}

impl Mounts {
    fn encode(&self) -> String {
        let paths: Vec<String> = self
            .made
            .iter()
            .map(|p| {
                p.as_os_str()
                    .as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        format!("{};{}", self.ns, paths.join(","))
    }

    fn decode(text: &str) -> Option<Mounts> {
        use std::os::unix::ffi::OsStringExt;
        let (ns, list) = text.split_once(';')?;
        let mut made = Vec::new();
        for hex in list.split(',').filter(|h| !h.is_empty()) {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect();
            made.push(PathBuf::from(OsString::from_vec(bytes?)));
        }
        Some(Mounts {
            ns: ns.to_owned(),
            made,
        })
    }

    /// The net this process is in: the variable, when it names this very namespace.
    fn inherited() -> Option<Mounts> {
        let m = Mounts::decode(&std::env::var(ENV).ok()?)?;
        (Some(&m.ns) == namespace().as_ref()).then_some(m)
    }
}

/// The mount points of this process's namespace, from /proc/self/mountinfo.
fn mount_points() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .collect()
}

/// mountinfo's octal escapes (`\040` for a space) decoded.
fn unescape(field: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && i + 3 < field.len()
            && field[i + 1..i + 4]
                .iter()
                .all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (field[i + 1] - b'0') * 64 + (field[i + 2] - b'0') * 8 + (field[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    std::ffi::OsString::from_vec(out)
}

/// Whether `trees` are all still read-only in the mount namespace of process `pid`, with every
/// mount below them: a guarded shell's bash keeps its namespace for the whole session, and a
/// tree replaced since (removed and made again, moved away) or a filesystem mounted inside one
/// from the host is not.
pub fn holds_in(pid: i32, trees: &[PathBuf]) -> bool {
    // Paths under /proc/PID/root are walked in that process's mounts.
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    let seen = |t: &Path| root.join(t.strip_prefix("/").unwrap_or(t));
    if !trees.iter().all(|t| read_only(&seen(t))) {
        return false;
    }
    let Ok(text) = std::fs::read(format!("/proc/{pid}/mountinfo")) else {
        return false;
    };
    text.split(|&b| b == b'\n').all(|line| {
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let (Some(point), Some(options)) = (fields.get(4), fields.get(5)) else {
            return true;
        };
        let point = PathBuf::from(unescape(point));
        !trees.iter().any(|t| point.starts_with(t) && point != *t)
            || options.split(|&b| b == b',').any(|o| o == b"ro")
    })
}

/// Whether this process runs under a net (the helper's variable names its namespace).
pub fn netted() -> bool {
    Mounts::inherited().is_some_and(|m| !m.made.is_empty())
}

/// What a confirmed command may change, for `lift`.
pub enum Lift<'a> {
    /// Every tree (an override, a package operation the apt/dpkg hooks judged).
    All,
    /// The trees these paths are in, or that are in them (what the command's effects reach).
    Touching(&'a [PathBuf]),
}

/// Whether `tree` is what one of `paths` is in, or is inside one of them.
fn related(tree: &Path, paths: &[PathBuf]) -> bool {
    paths
        .iter()
        .any(|p| p.starts_with(tree) || tree.starts_with(p))
}

/// The physical path of `p`: resolved, or its parent resolved when it does not exist (or is a
/// symlink that the command acts on itself).
pub fn physical(p: &Path) -> PathBuf {
    let p = &crate::facts::fs::lexical_normalize(p);
    let symlink = p
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    if !symlink && let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or_else(|_| p.to_owned()),
        _ => p.to_owned(),
    }
}

/// For a command that got its confirmation inside a net: a mount namespace of its own in which
/// the net's read-only mounts over the trees it may change are gone, so that it acts on the
/// host's view of them; every other tree stays read-only, and the rest of the line keeps the
/// net. Returns the trees lifted. Nothing to do outside a net.
pub fn lift(what: Lift) -> Result<Vec<PathBuf>, NetError> {
    let Some(net) = Mounts::inherited() else {
        return Ok(Vec::new());
    };
    let mut ours: Vec<PathBuf> = net
        .made
        .iter()
        .filter(|t| read_only(t))
        .filter(|t| match what {
            Lift::All => true,
            Lift::Touching(paths) => related(t, paths),
        })
        .cloned()
        .collect();
    if ours.is_empty() {
        return Ok(ours);
    }
    // Trees inside a lifted one that the command does not reach: the detach takes their binds
    // along, so they are made read-only again.
    let again: Vec<PathBuf> = net
        .made
        .iter()
        .filter(|t| !ours.contains(t) && ours.iter().any(|o| t.starts_with(o)))
        .cloned()
        .collect();
    let cwd = std::env::current_dir().ok();
    private_namespace()?;
    // Innermost first: an outer tree's detach would take an inner bind with it.
    ours.sort_by_key(|t| std::cmp::Reverse(t.as_os_str().len()));
    for t in &ours {
        match umount2(
            t.as_path(),
            MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW,
        ) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
            Err(source) => {
                return Err(NetError::Lift {
                    path: t.clone(),
                    source,
                });
            }
        }
        if read_only(t) {
            return Err(NetError::Lift {
                path: t.clone(),
                source: nix::errno::Errno::EROFS,
            });
        }
    }
    for t in &again {
        bind_read_only(t).map_err(|source| NetError::ReadOnly {
            path: t.clone(),
            source,
        })?;
    }
    if let Some(dir) = cwd {
        let _ = std::env::set_current_dir(dir);
    }
    Ok(ours)
}

/// `lift` for a shim about to carry out a confirmed command: failures are said, not fatal (the
/// command then meets the read-only tree and fails, which loses nothing).
pub fn lift_for(what: Lift) {
    if let Err(e) = lift(what) {
        eprintln!(
            "gardefou: warning: {e}: the command runs with the protected tree still read-only"
        );
    }
}

/// A server of a protected tree started from a line keeps the line's read-only view: the
/// warning for such a line, when the net is on.
pub fn starts_a_server(line: &str) -> Option<&'static str> {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`'))
        .map(|w| w.trim_matches(['"', '\'']))
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .collect();
    let has = |w: &str| words.contains(&w);
    let starts = has("start") || has("restart");
    let systemd = Path::new("/run/systemd/system").is_dir();
    if has("pg_ctl") && starts || has("postgres") && has("-D") {
        return Some("a PostgreSQL server");
    }
    // Without systemd, pg_ctlcluster starts the server itself (with systemd it asks systemd).
    if has("pg_ctlcluster") && starts && !systemd {
        return Some("a PostgreSQL server");
    }
    if ["mysqld", "mysqld_safe", "mariadbd", "mariadbd-safe"]
        .iter()
        .any(|s| has(s))
    {
        return Some("a MySQL/MariaDB server");
    }
    if has("redis-server") {
        return Some("a Redis server");
    }
    None
}

/// The bytes of a tree's names, to find them in a message.
pub(crate) fn names(t: &Tree) -> [&[u8]; 2] {
    [
        t.path.as_os_str().as_bytes(),
        t.spelled.as_os_str().as_bytes(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brace_alternatives() {
        assert_eq!(braces("{a,b}"), ["a", "b"]);
        assert_eq!(braces("x{a,b{c,d}}y"), ["xay", "xbcy", "xbdy"]);
        assert_eq!(braces("plain"), ["plain"]);
        assert_eq!(braces("{open"), ["{open"]);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(b"/a\\040b"), "/a b");
        assert_eq!(unescape(b"/x\\"), "/x\\");
        assert_eq!(unescape(b"\\134"), "\\");
    }

    #[test]
    fn servers_started_from_a_line() {
        assert!(starts_a_server("sudo -u postgres pg_ctl -D /d start").is_some());
        assert!(starts_a_server("nohup /usr/sbin/mysqld &").is_some());
        assert!(starts_a_server("redis-server /etc/redis/redis.conf").is_some());
        assert!(starts_a_server("pg_ctl status").is_none());
        assert!(starts_a_server("systemctl restart postgresql").is_none());
        assert!(starts_a_server("grep -r start /etc").is_none());
    }

    #[test]
    fn mounts_round_trip() {
        let m = Mounts {
            ns: "mnt:[1]".into(),
            made: vec![PathBuf::from("/a,b;c"), PathBuf::from("/d")],
        };
        let back = Mounts::decode(&m.encode()).unwrap();
        assert_eq!(back.ns, "mnt:[1]");
        assert_eq!(back.made, m.made);
        assert!(Mounts::decode("mnt:[1];zz").is_none());
    }

    #[test]
    fn related_trees() {
        let t = Path::new("/var/lib/postgresql");
        assert!(related(
            t,
            &[PathBuf::from("/var/lib/postgresql/15/main/x")]
        ));
        assert!(related(t, &[PathBuf::from("/var/lib")]));
        assert!(!related(t, &[PathBuf::from("/var/lib/postgresql-old")]));
        assert!(!related(t, &[PathBuf::from("/var/lib/mysql")]));
    }
}
