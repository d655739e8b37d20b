//! Facts: the only I/O before acting. What a command would really touch on this system.

pub mod apt;
pub mod db;
pub mod find;
pub mod fs;
pub mod stake;

/// The host's name, for prompts, confirmations and the audit log.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// The calling user's name (real uid), or the uid as text when it has none. uid 0 is `root` on
/// Debian (base-passwd's fixed entry): no NSS round (nscd, nsswitch, passwd: ~17 system calls)
/// on each of root's guarded commands.
pub fn user_name() -> String {
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        return "root".to_owned();
    }
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// The terminal on standard input (`/dev/pts/3`, `/dev/tty1`), if it is one.
pub fn stdin_tty() -> Option<String> {
    std::fs::read_link("/proc/self/fd/0")
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("/dev/pts/") || p.starts_with("/dev/tty"))
}

/// A process's parent and start time (clock ticks since boot), from /proc/PID/stat (the
/// command name may hold spaces and parentheses).
pub fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = s[s.rfind(')')? + 1..].split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}
