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
        ("--shells-file", "etc/shells"),
    ] {
        out.push(opt.into());
        out.push(root.join(dir).into_os_string());
    }
    out
}

/// Runs a shell command under `script` (a real pseudo-terminal, so /dev/tty works) in `cwd`
/// with `env` added, typing `answer` and Enter after a second.
pub fn on_tty(cwd: &Path, env: &[(&str, std::ffi::OsString)], cmd: &str, answer: &str) -> Output {
    let literal = answer.replace('\\', "\\\\").replace('%', "%%");
    typed_on_tty(
        Command::new("script")
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (k, v))),
        cmd,
        &[&literal],
    )
}

/// Asserts that a command succeeded (its output in the message if not), and returns its output.
pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{:?}", text(&out));
    out
}

/// A server process a test started: killed and reaped when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// What `install_production` set up under a test's root.
pub struct Installed {
    /// The shims' directory (to put first on PATH).
    pub bin: PathBuf,
    pub policy: PathBuf,
    pub audit: PathBuf,
    pub store: PathBuf,
}

/// `gardefou install` under `root` (shims in `root/prefix/bin`), a snapshot store `root/store`
/// (0700) and a production policy with `rules`, that store and an audit log `root/audit.jsonl`.
pub fn install_production(root: &Path, rules: &str) -> Installed {
    use std::os::unix::fs::PermissionsExt;
    let out = Command::new(bin())
        .arg("install")
        .args(install_dirs(root))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let audit = root.join("audit.jsonl");
    let store = root.join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o700)).unwrap();
    let policy = write_policy(
        root,
        &format!(
            "[host]\nenvironment = \"production\"\n{rules}\n[snapshot]\nstore = \"{}\"\n[audit]\nfile = \"{}\"\n",
            store.display(),
            audit.display()
        ),
    );
    Installed {
        bin: root.join("prefix/bin"),
        policy,
        audit,
        store,
    }
}

/// Runs the shell command `line` under `script` (a real pseudo-terminal) with `cmd`'s
/// environment and directory, typing `typed` a line a second (Enter is `\r`, as a terminal
/// sends it). `typed` goes through printf: a backslash is written `\\\\`.
pub fn typed_on_tty(cmd: &mut Command, line: &str, typed: &[&str]) -> Output {
    use std::process::Stdio;
    let feeder: String = typed
        .iter()
        .map(|l| format!("sleep 1; printf '{l}\\r'; "))
        .chain(["sleep 1".to_owned()])
        .collect();
    let mut feed = Command::new("sh")
        .args(["-c", &feeder])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // `script` runs the line with `$SHELL -c`: the same shell everywhere (CI has no SHELL). A
    // line that types Ctrl-C should start with `exec`: the shell left waiting in between would
    // take the SIGINT for itself and die of it once its child is done.
    let out = cmd
        .args(["-qec", line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env_remove("SUDO_USER")
        .stdin(feed.stdout.take().unwrap())
        .output()
        .unwrap();
    feed.wait().unwrap();
    out
}
