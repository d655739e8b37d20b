//! Finding the real binary behind a shim, and replacing this process with it.
//!
//! A directory entry that is one of gardefou's executables (this one, or the other one beside
//! it: `gardefou` and the rm shim's hot path `gardefou-shim`; same device and inode, through any
//! symlink) is a shim and is skipped, so a shim can never exec itself or its twin, whatever
//! PATH says.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Used when PATH is unset or empty, as the shell would.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn identity(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The full executable's name.
pub const FULL: &str = "gardefou";
/// The hot path of the rm and psql shims, installed beside [`FULL`] (src/bin/gardefou-shim.rs).
pub const HOT: &str = "gardefou-shim";

/// `name` in the directory of this executable (where `install` and the package put both).
pub fn beside_me(name: &str) -> Option<PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join(name))
}

/// gardefou's executables as (device, inode): this one, and its twin beside it.
pub fn ours() -> Vec<(u64, u64)> {
    let me = Path::new("/proc/self/exe");
    let mut ids: Vec<(u64, u64)> = identity(me).into_iter().collect();
    let exe = std::env::current_exe().ok();
    let mine = exe.as_deref().and_then(Path::file_name);
    for twin in [FULL, HOT] {
        if mine != Some(OsStr::new(twin))
            && let Some(id) = beside_me(twin).as_deref().and_then(identity)
        {
            ids.push(id);
        }
    }
    ids
}

/// Whether `p` is one of gardefou's executables (the same file, through any symlink).
pub fn is_ours(p: &Path) -> bool {
    identity(p).is_some_and(|id| ours().contains(&id))
}

/// The first executable `name` on `path_var` that is not one of gardefou's.
pub fn find_real(name: &OsStr, path_var: Option<&OsStr>) -> Result<PathBuf, Error> {
    let ours = ours();
    let path_var = path_var
        .filter(|p| !p.is_empty())
        .unwrap_or(OsStr::new(DEFAULT_PATH));
    for dir in std::env::split_paths(path_var) {
        // An empty PATH entry means the current directory: never trust it for a guard.
        if !dir.is_absolute() {
            continue;
        }
        let candidate = dir.join(name);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            continue;
        }
        if ours.contains(&(meta.dev(), meta.ino())) {
            continue;
        }
        return Ok(candidate);
    }
    Err(Error::RealBinaryNotFound(
        name.to_string_lossy().into_owned(),
    ))
}

/// Replaces this process with `real`, keeping argv[0] and the arguments untouched, so exit
/// status, output and signals are the real tool's own. Returns only on failure.
pub fn exec(real: &Path, argv0: &OsStr, args: &[OsString]) -> Error {
    exec_env(real, argv0, args, &[])
}

/// `exec` with variables added to the environment.
pub fn exec_env(real: &Path, argv0: &OsStr, args: &[OsString], env: &[(&str, String)]) -> Error {
    let err = std::process::Command::new(real)
        .arg0(argv0)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .exec();
    Error::Exec {
        path: real.to_owned(),
        source: err,
    }
}

/// Runs a child in the foreground and returns its exit status (128 + the signal when one
/// killed it). The shell has handlers for Ctrl-C, Ctrl-\\ and Ctrl-Z (`catch_job_signals`), which
/// a child does not inherit: the child gets them, the shell stays. A child stopped by Ctrl-Z is
/// continued (no job control here), and told so.
pub(crate) fn run_foreground(mut cmd: std::process::Command) -> i32 {
    use nix::sys::signal::{Signal, kill};
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let spawned = cmd.spawn();
    // The command holds the child's ends of its pipes (a watched standard error): gone now.
    drop(cmd);
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gardefou: cannot run the line: {e}");
            return crate::outcome::exit::CANNOT_EXEC;
        }
    };
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(WaitStatus::Stopped(_, _)) => {
                eprintln!("\ngardefou: this shell has no job control: the command goes on");
                let _ = kill(pid, Signal::SIGCONT);
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                eprintln!("gardefou: cannot wait for the line: {e}");
                return crate::outcome::exit::CANNOT_EXEC;
            }
        }
    }
}
