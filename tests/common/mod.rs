//! Helpers shared by the integration tests: the built binary, policies in temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gardefou"))
}

/// Writes a policy file (mode 0644) and returns its path.
pub fn write_policy(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("policy.toml");
    std::fs::write(&p, format!("version = 1\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p
}

/// `gardefou check --json --policy P …` run in `cwd`: (exit code, decision, parsed JSON).
pub fn check_json(
    policy: &Path,
    cwd: &Path,
    args: &[std::ffi::OsString],
) -> (i32, String, serde_json::Value) {
    let out = Command::new(bin())
        .arg("check")
        .arg("--json")
        .arg("--policy")
        .arg(policy)
        .arg("--")
        .args(args)
        .current_dir(cwd)
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let d = v["decision"].as_str().unwrap().to_owned();
    (out.status.code().unwrap(), d, v)
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `gardefou install` options that keep every file it writes under `root` (never the host's
/// /etc/apt or /etc/dpkg).
pub fn install_dirs(root: &Path) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    for (opt, dir) in [
        ("--prefix", "prefix"),
        ("--etc", "etc/gardefou"),
        ("--apt-conf-dir", "etc/apt/apt.conf.d"),
        ("--dpkg-conf-dir", "etc/dpkg/dpkg.cfg.d"),
    ] {
        out.push(opt.into());
        out.push(root.join(dir).into_os_string());
    }
    out
}

/// Runs a shell command under `script` (a real pseudo-terminal, so /dev/tty works) in `cwd`
/// with `env` added, typing `answer` and Enter after a second.
pub fn on_tty(cwd: &Path, env: &[(&str, std::ffi::OsString)], cmd: &str, answer: &str) -> Output {
    use std::process::Stdio;
    let feeder = format!("sleep 1; printf '%s\\r' '{answer}'; sleep 1");
    let mut feed = Command::new("sh")
        .args(["-c", &feeder])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("SUDO_USER")
        .stdin(feed.stdout.take().unwrap())
        .output()
        .unwrap();
    feed.wait().unwrap();
    out
}

/// The audit log's entries, parsed (none when the file does not exist).
pub fn audit_lines(file: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `cmd` with `stdin` on its standard input (else /dev/null), capturing its output.
pub fn output_with_stdin(cmd: &mut Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}
