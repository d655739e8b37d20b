//! `gardefou approve`: a one-time approval typed on a real pseudo-terminal (`script`), then
//! used by processes with no terminal at all (`setsid`): the rm shim as cron would run it, the
//! agents' hook, the shim the agent's shell then starts. Exactly that line goes through, once,
//! and not after it expired or was revoked; everything is in the audit log.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
    inst: common::Installed,
    approvals: PathBuf,
}

/// Shims under `root/prefix/bin`; `root/d/c` asks for a confirmation in production.
fn host() -> Host {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("d/c")).unwrap();
    std::fs::create_dir_all(root.join("work")).unwrap();
    std::fs::create_dir_all(root.join("d/f")).unwrap();
    let inst = common::install_production(
        &root,
        &format!(
            "[[protect.path]]\npath = \"{0}/d/c\"\naction = \"confirm\"\nreason = \"the configuration\"\n[[protect.path]]\npath = \"{0}/d/f\"\naction = \"deny\"\nreason = \"forbidden\"\n",
            root.display()
        ),
    );
    Host {
        approvals: root.join("approvals"),
        _dir: dir,
        root,
        inst,
    }
}

impl Host {
    fn env(&self) -> Vec<(&'static str, OsString)> {
        let path = format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            self.inst.bin.display()
        );
        vec![
            ("PATH", path.into()),
            ("GARDEFOU_POLICY", self.inst.policy.clone().into()),
            ("GARDEFOU_APPROVALS", self.approvals.clone().into()),
            ("GARDEFOU_CACHE_DIR", "".into()),
        ]
    }

    /// `gardefou approve -- LINE` on a pseudo-terminal in `cwd`, typing `answer`.
    fn approve(&self, cwd: &Path, line: &str, answer: &str) -> Output {
        let cmd = format!(
            "{} approve -- {}",
            common::bin().display(),
            shell_quote(line)
        );
        common::on_tty(cwd, &self.env(), &cmd, answer)
    }

    /// `sh -c LINE` in `cwd` in a new session: no controlling terminal, as under cron.
    fn no_tty(&self, cwd: &Path, line: &str) -> Output {
        Command::new("setsid")
            .args(["-w", "sh", "-c", line])
            .current_dir(cwd)
            .envs(self.env())
            .env_remove("SUDO_USER")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn hook(&self, agent: &str, payload: &str) -> (i32, String) {
        let mut cmd = Command::new("setsid");
        cmd.args(["-w"])
            .arg(common::bin())
            .args(["hook", agent])
            .envs(self.env())
            .current_dir("/");
        let out = common::output_with_stdin(&mut cmd, Some(payload));
        (out.status.code().unwrap(), common::text(&out).0)
    }

    fn fresh(&self, name: &str) -> PathBuf {
        let p = self.root.join("d/c").join(name);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("f"), "settings").unwrap();
        p
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn claude(command: &str, cwd: &Path) -> String {
    serde_json::json!({
        "session_id": "sess-7", "cwd": cwd, "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": command}
    })
    .to_string()
}

fn codex(command: &str, cwd: &Path) -> String {
    serde_json::json!({
        "session_id": "cx-1", "cwd": cwd, "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": command}
    })
    .to_string()
}

/// The decision an agent reads: `none` (no objection), `ask` or `deny`.
fn decision(out: &str) -> String {
    if out.trim().is_empty() {
        return "none".into();
    }
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v["hookSpecificOutput"]["permissionDecision"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn approval_files(h: &Host) -> Vec<PathBuf> {
    std::fs::read_dir(&h.approvals)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn an_approval_typed_on_a_pty_lets_exactly_that_command_through_once_without_a_terminal() {
    let h = host();
    let x = h.fresh("x");
    let y = h.fresh("y");
    let line = format!("rm -rf {}", x.display());
    // No terminal, no approval: refused, and nothing is written.
    let out = h.no_tty(
        &h.root,
        &format!("{} approve -- '{line}'", common::bin().display()),
    );
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(approval_files(&h).is_empty());
    // A wrong answer approves nothing.
    let out = h.approve(&h.root, &line, "not-the-host");
    assert!(!out.status.success(), "{:?}", common::text(&out));
    assert!(approval_files(&h).is_empty());
    // The host name approves it.
    let out = common::ok(h.approve(&h.root, &line, &common::hostname()));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("approval ") && said.contains(&line), "{said}");
    // Without it (before): the shim refuses with no terminal. Another command, or the same
    // one in another directory, does not use it.
    let out = h.no_tty(&h.root, &format!("rm -rf {}", y.display()));
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    let out = h.no_tty(&h.root.join("work"), &line);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(x.exists() && y.exists());
    // The approved command, as cron runs it: through once.
    let out = h.no_tty(&h.root, &line);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert!(!x.exists());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("let through once by approval"),
        "{:?}",
        common::text(&out)
    );
    // Not a second time.
    let x = h.fresh("x");
    let out = h.no_tty(&h.root, &line);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(x.join("f").exists() && y.join("f").exists());
    // The audit log says who approved what, and who used it.
    let audit = common::audit_lines(&h.inst.audit);
    let issued: Vec<_> = audit
        .iter()
        .filter(|e| e["outcome"] == "approval-issued")
        .collect();
    assert_eq!(issued.len(), 1, "{audit:?}");
    assert_eq!(issued[0]["approval"]["line"], line.as_str());
    assert_eq!(issued[0]["approval"]["approved_by"], "root");
    let used: Vec<_> = audit
        .iter()
        .filter(|e| e["outcome"] == "approved")
        .collect();
    assert_eq!(used.len(), 1, "{audit:?}");
    assert_eq!(used[0]["approval"]["id"], issued[0]["approval"]["id"]);
    assert!(audit.iter().any(|e| e["outcome"] == "approval-refused"));
    // --list shows it used.
    let out = common::ok(
        Command::new(common::bin())
            .args(["approve", "--list"])
            .envs(h.env())
            .output()
            .unwrap(),
    );
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(list.contains("used by shim rm"), "{list}");
}

#[test]
fn an_agent_meets_its_approval_once_and_the_shim_its_shell_starts_lets_that_one_command_through() {
    let h = host();
    let z = h.fresh("z");
    let line = format!("rm -rf {}", z.display());
    // Before: Claude Code's human is asked, Codex (which cannot ask) is refused.
    let (code, out) = h.hook("claude-code", &claude(&line, &h.root));
    assert_eq!((code, decision(&out).as_str()), (0, "ask"), "{out}");
    let (_, out) = h.hook("codex", &codex(&line, &h.root));
    assert_eq!(decision(&out), "deny", "{out}");
    common::ok(h.approve(&h.root, &line, &common::hostname()));
    // Another agent line, or the same in another directory: not this approval.
    let (_, out) = h.hook("codex", &codex(&line, &h.root.join("work")));
    assert_eq!(decision(&out), "deny", "{out}");
    // The approved one, as an agent runs it (a stand-in agent with no terminal: it runs the
    // hook, then the command in bash when there is no objection): through, once.
    let agent = |payload: &str, line: &str| {
        let script = "import subprocess, sys\n\
             out = subprocess.run([sys.argv[1], 'hook', 'codex'], input=sys.argv[2], capture_output=True, text=True).stdout.strip()\n\
             print('decision', 'none' if not out else out)\n\
             if not out:\n    print('rc', subprocess.run(['bash', '-c', sys.argv[3]]).returncode)\n";
        let out = Command::new("setsid")
            .args(["-w", "python3", "-c", script])
            .arg(common::bin())
            .arg(payload)
            .arg(line)
            .current_dir(&h.root)
            .envs(h.env())
            .env_remove("SUDO_USER")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = agent(&codex(&line, &h.root), &line);
    assert!(
        said.contains("decision none") && said.contains("rc 0"),
        "{said}"
    );
    assert!(!z.exists());
    // Not a second time, for the agent or anyone else.
    let z = h.fresh("z");
    let said = agent(&codex(&line, &h.root), &line);
    assert!(said.contains("\"deny\""), "{said}");
    let out = h.no_tty(&h.root, &line);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(z.join("f").exists());
    // What the hook let through leaves nothing for a process that is not below the agent.
    // (An agent whose human then declined: the hook said no objection, the line never ran.)
    common::ok(h.approve(&h.root, &line, &common::hostname()));
    let said = agent(&codex(&line, &h.root), "true");
    assert!(said.contains("decision none"), "{said}");
    let out = h.no_tty(&h.root, &line);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(z.join("f").exists());
    // The hook's audit entry names the agent, its session and the approval.
    let audit = common::audit_lines(&h.inst.audit);
    let allowed: Vec<_> = audit
        .iter()
        .filter(|e| e["outcome"] == "agent-allowed" && e["approval"].is_object())
        .collect();
    assert_eq!(allowed.len(), 2, "{audit:?}");
    assert_eq!(allowed[0]["agent"]["name"], "codex");
    assert_eq!(allowed[0]["agent"]["session"], "cx-1");
}

#[test]
fn an_approval_never_covers_another_target_however_the_line_is_dressed() {
    let h = host();
    let x = h.fresh("x");
    let y = h.fresh("y");
    let line = format!("rm -rf {}", x.display());
    common::ok(h.approve(&h.root, &line, &common::hostname()));
    let y_line = format!("rm -rf {}", y.display());
    for dressed in [
        // A `-c` word that is not a shell's.
        format!(
            "perl -e 'system(\"{y_line}\")' -- -c {}",
            shell_quote(&line)
        ),
        // The approved text as a shell's line, running another deletion first.
        format!("sh -c {}", shell_quote(&format!("{y_line}; {line}"))),
        // A variable the approval did not see.
        format!(
            "T=y sh -c {}",
            shell_quote(&format!("rm -rf {}/$T", h.root.join("d/c").display()))
        ),
    ] {
        let out = h.no_tty(&h.root, &dressed);
        assert!(y.join("f").exists(), "{dressed}: {:?}", common::text(&out));
    }
    // The approved command itself may have run in one of them (`rm -rf x` word for word):
    // never the other target.
    assert!(y.join("f").exists());
}

#[test]
fn an_expired_or_revoked_approval_lets_nothing_through_and_a_denied_line_cannot_be_approved() {
    let h = host();
    let a = h.fresh("a");
    let b = h.fresh("b");
    let line_a = format!("rm -rf {}", a.display());
    let line_b = format!("rm -rf {}", b.display());
    common::ok(h.approve(&h.root, &line_a, &common::hostname()));
    common::ok(h.approve(&h.root, &line_b, &common::hostname()));
    // The clock moves past a's expiry (the file's own field: the test is the clock).
    let files = approval_files(&h);
    assert_eq!(files.len(), 2);
    for f in &files {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        if v["line"] == line_a.as_str() {
            v["expires"] = serde_json::json!(v["issued"].as_i64().unwrap() - 1);
            std::fs::write(f, v.to_string()).unwrap();
        } else {
            let id = v["id"].as_str().unwrap().to_owned();
            common::ok(
                Command::new(common::bin())
                    .args(["approve", "--revoke", &id])
                    .envs(h.env())
                    .output()
                    .unwrap(),
            );
        }
    }
    for line in [&line_a, &line_b] {
        let out = h.no_tty(&h.root, line);
        assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    }
    assert!(a.join("f").exists() && b.join("f").exists());
    let audit = common::audit_lines(&h.inst.audit);
    assert!(audit.iter().any(|e| e["outcome"] == "approval-revoked"));
    // A line the policy denies cannot be approved.
    let out = h.approve(
        &h.root,
        &format!("rm -rf {}/d/f", h.root.display()),
        &common::hostname(),
    );
    assert_eq!(out.status.code(), Some(4), "{:?}", common::text(&out));
    // Nothing to approve on an allowed line; a store others may write is refused.
    let out = common::ok(h.approve(&h.root, "ls /", &common::hostname()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to approve"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&h.approvals, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(common::bin())
        .args(["approve", "--list"])
        .envs(h.env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lets others write"));
}

#[test]
fn the_guarded_shell_with_no_terminal_uses_the_approval_of_its_line_once() {
    // `ssh host 'LINE'` runs the login shell as `gardefou shell -c LINE`, with no terminal. A
    // truncation reaches no shim: the shell itself must use the approval.
    let h = host();
    let target = h.root.join("d/c/conf");
    std::fs::write(&target, "settings").unwrap();
    let line = format!(": > {}", target.display());
    let shell = |line: &str| {
        let mut c = Command::new("setsid");
        c.arg("-w")
            .arg(common::bin())
            .args(["shell", "-c", line])
            .current_dir(&h.root)
            .envs(h.env())
            .env_remove("SUDO_USER")
            .stdin(std::process::Stdio::null());
        c.output().unwrap()
    };
    let out = shell(&line);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_eq!(std::fs::read(&target).unwrap(), b"settings");
    common::ok(h.approve(&h.root, &line, &common::hostname()));
    let out = shell(&line);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(std::fs::read(&target).unwrap(), b"");
    std::fs::write(&target, "settings").unwrap();
    let out = shell(&line);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_eq!(std::fs::read(&target).unwrap(), b"settings");
}
