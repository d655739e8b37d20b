//! `gardefou hook AGENT` through the real binary: payloads as each agent sends them (built from
//! their documentation), judged on real files in a temp tree, the answer parsed back as the
//! agent parses it, and the audit entries read back.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    policy: PathBuf,
    audit: PathBuf,
}

/// `d/c` asks for a confirmation, `d/f` is denied ("forbidden"), in production.
fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    for d in ["d/c", "d/f", "d/free", "work"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("d/f/data"), "precious").unwrap();
    std::fs::write(root.join("d/c/conf"), "settings").unwrap();
    let audit = root.join("audit.jsonl");
    let policy = common::write_policy(
        &root,
        &format!(
            "[host]\nenvironment = \"production\"\n[[protect.path]]\npath = \"{0}/d/c\"\naction = \"confirm\"\nreason = \"the configuration\"\n[[protect.path]]\npath = \"{0}/d/f\"\naction = \"deny\"\nreason = \"forbidden\"\n[audit]\nfile = \"{1}\"\n",
            root.display(),
            audit.display()
        ),
    );
    Tree {
        _dir: dir,
        root,
        policy,
        audit,
    }
}

/// Runs the hook with `payload` on standard input, from a directory that is not the
/// payload's: (exit status, stdout, stderr).
fn hook(t: &Tree, agent: &str, payload: &str) -> (i32, String, String) {
    let cmd = &mut Command::new(common::bin());
    cmd.args(["hook", agent])
        .env("GARDEFOU_POLICY", &t.policy)
        .env_remove("SUDO_USER")
        .current_dir("/");
    let out = common::output_with_stdin(cmd, Some(payload));
    let (o, e) = common::text(&out);
    (out.status.code().unwrap(), o, e)
}

fn claude(command: &str, cwd: &Path) -> String {
    serde_json::json!({
        "session_id": "sess-42",
        "transcript_path": "/tmp/transcript.jsonl",
        "cwd": cwd,
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "a step"}
    })
    .to_string()
}

/// Claude Code's reading of an answer: no output is no objection; else the decision and
/// its reason.
fn claude_decision(code: i32, out: &str) -> (String, String) {
    assert_eq!(code, 0, "{out}");
    if out.trim().is_empty() {
        return ("none".into(), String::new());
    }
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    let h = &v["hookSpecificOutput"];
    assert_eq!(h["hookEventName"], "PreToolUse");
    (
        h["permissionDecision"].as_str().unwrap().to_owned(),
        h["permissionDecisionReason"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn claude_codes_bash_calls_are_judged_by_what_they_do_here() {
    let t = tree();
    let work = t.root.join("work");
    let cases: &[(&str, &str)] = &[
        ("rm -rf ../d/f", "deny"),
        ("rm -rf ../d/c", "ask"),
        ("rm -rf ../d/free", "none"),
        ("ls -la ..; cat ../d/f/data", "none"),
        // Lines that fool guards reading the text.
        ("FOO=1 rm -rf ../d/f", "deny"),
        ("F=-rf; rm $F ../d/f", "deny"),
        ("sh -c 'rm -rf ../d/f'", "deny"),
        ("cat <<'EOF'\nrm -rf ../d/f\nEOF", "none"),
        ("echo \"rm -rf /\"", "none"),
        ("mv ../d/f /tmp/elsewhere", "deny"),
        ("find .. -path '*/d/f/*' -delete", "deny"),
        ("find /var/log -name '*.gz' -mtime +3000 -delete", "none"),
    ];
    for (line, want) in cases {
        let (code, out, err) = hook(&t, "claude-code", &claude(line, &work));
        let (got, why) = claude_decision(code, &out);
        assert_eq!(&got, want, "{line}: {out}{err}");
        if got == "deny" {
            assert!(
                why.contains("forbidden") && why.contains("protect.path#2"),
                "{why}"
            );
        }
        if got == "ask" {
            assert!(why.contains("the configuration"), "{why}");
        }
    }
    // Nothing ran: the hook only judges.
    assert_eq!(std::fs::read(t.root.join("d/f/data")).unwrap(), b"precious");
    // Every answer is audited with the agent and its session; reads are not.
    let audit = common::audit_lines(&t.audit);
    let denied: Vec<_> = audit
        .iter()
        .filter(|e| e["outcome"] == "agent-denied")
        .collect();
    assert!(!denied.is_empty(), "{audit:?}");
    assert_eq!(denied[0]["agent"]["name"], "claude-code");
    assert_eq!(denied[0]["agent"]["session"], "sess-42");
    assert!(
        denied[0]["argv"].to_string().contains("rm -rf ../d/f"),
        "{audit:?}"
    );
}

#[test]
fn file_writing_tools_are_judged_as_writes_and_a_payload_that_cannot_be_read_is_denied() {
    let t = tree();
    let write = |tool: &str, path: &Path| {
        serde_json::json!({
            "session_id": "s", "cwd": t.root, "hook_event_name": "PreToolUse",
            "tool_name": tool,
            "tool_input": {"file_path": path, "content": "x", "old_string": "a", "new_string": "b"}
        })
        .to_string()
    };
    let (code, out, _) = hook(&t, "claude-code", &write("Write", &t.root.join("d/f/data")));
    assert_eq!(claude_decision(code, &out).0, "deny");
    let (code, out, _) = hook(&t, "claude-code", &write("Edit", &t.root.join("d/c/conf")));
    assert_eq!(claude_decision(code, &out).0, "ask");
    let (code, out, _) = hook(
        &t,
        "claude-code",
        &write("Write", &t.root.join("work/new.txt")),
    );
    assert_eq!(claude_decision(code, &out).0, "none");
    // A relative path is the payload's cwd's.
    let rel = serde_json::json!({
        "cwd": t.root.join("d"), "tool_name": "Write",
        "tool_input": {"file_path": "f/data", "content": "x"}
    })
    .to_string();
    let (code, out, _) = hook(&t, "claude-code", &rel);
    assert_eq!(claude_decision(code, &out).0, "deny");
    // A new file in a directory still to be made inside the protected tree: the tool makes
    // the directories there.
    let (code, out, _) = hook(
        &t,
        "claude-code",
        &write("Write", &t.root.join("d/f/new/deeper/x")),
    );
    assert_eq!(claude_decision(code, &out).0, "deny");
    // Reads change nothing.
    let read = serde_json::json!({"tool_name": "Read", "tool_input": {"file_path": t.root.join("d/f/data")}}).to_string();
    let (code, out, _) = hook(&t, "claude-code", &read);
    assert_eq!(claude_decision(code, &out).0, "none");
    // Fail closed.
    for bad in [
        "",
        "not json",
        "[1,2]",
        "{\"tool_name\": \"Bash\", \"tool_input\": {}}",
    ] {
        let (code, out, err) = hook(&t, "claude-code", bad);
        let (d, why) = claude_decision(code, &out);
        assert_eq!(d, "deny", "{bad:?}: {out}{err}");
        assert!(why.contains("could not read"), "{why}");
    }
    // A cwd that does not exist: denied, saying so.
    let gone = claude("ls", &t.root.join("nosuch"));
    let (code, out, _) = hook(&t, "claude-code", &gone);
    assert_eq!(claude_decision(code, &out).0, "deny");
}

#[test]
fn gemini_codex_and_copilot_get_answers_in_their_own_protocols() {
    let t = tree();
    // Gemini CLI: `decision` and `reason`.
    let g = serde_json::json!({
        "session_id": "g", "cwd": t.root, "hook_event_name": "BeforeTool",
        "tool_name": "run_shell_command", "tool_input": {"command": "rm -rf d/f"}
    })
    .to_string();
    let (code, out, _) = hook(&t, "gemini", &g);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "deny", "{out}");
    assert!(v["reason"].as_str().unwrap().contains("forbidden"));
    let g = g.replace("rm -rf d/f", "rm -rf d/c");
    let v: serde_json::Value = serde_json::from_str(&hook(&t, "gemini", &g).1).unwrap();
    assert_eq!(v["decision"], "ask");
    // Codex: Claude's shape, but it cannot ask its human: a confirm is a deny. Its edits are
    // patches.
    let c = serde_json::json!({
        "session_id": "c", "turn_id": "t", "cwd": t.root, "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": "rm -rf d/c"}
    })
    .to_string();
    let (code, out, _) = hook(&t, "codex", &c);
    assert_eq!(claude_decision(code, &out).0, "deny");
    let patch = "*** Begin Patch\n*** Delete File: d/f/data\n*** End Patch\n";
    let c = serde_json::json!({
        "session_id": "c", "cwd": t.root, "tool_name": "apply_patch",
        "tool_input": {"command": patch}
    })
    .to_string();
    let (code, out, _) = hook(&t, "codex", &c);
    assert_eq!(claude_decision(code, &out).0, "deny");
    let c = c.replace("*** Delete File: d/f/data", "*** Add File: work/x.rs");
    let (code, out, _) = hook(&t, "codex", &c);
    assert_eq!(claude_decision(code, &out).0, "none");
    // A patch whose files cannot be read is refused; one given to apply_patch in the shell is
    // read too.
    let c = c.replace("*** Add File: work/x.rs", "garbage");
    let (code, out, _) = hook(&t, "codex", &c);
    assert_eq!(claude_decision(code, &out).0, "deny");
    let shell_patch = serde_json::json!({
        "session_id": "c", "cwd": t.root, "tool_name": "Bash",
        "tool_input": {"command": format!("apply_patch <<'EOF'\n{patch}EOF")}
    })
    .to_string();
    let (code, out, _) = hook(&t, "codex", &shell_patch);
    assert_eq!(claude_decision(code, &out).0, "deny");
    // Copilot CLI: camelCase, toolArgs as a JSON string.
    let p = serde_json::json!({
        "sessionId": "p", "timestamp": 1, "cwd": t.root, "toolName": "bash",
        "toolArgs": serde_json::json!({"command": "rm -rf d/c"}).to_string()
    })
    .to_string();
    let (code, out, _) = hook(&t, "copilot", &p);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["permissionDecision"], "ask", "{out}");
    let p = p.replace("rm -rf d/c", "ls");
    assert_eq!(hook(&t, "copilot", &p).1.trim(), "");
    // Input typed into a running shell session is a line like any other.
    let w = serde_json::json!({
        "sessionId": "p", "cwd": t.root, "toolName": "write_bash",
        "toolArgs": {"sessionId": "1", "input": "rm -rf d/f\n"}
    })
    .to_string();
    let v: serde_json::Value = serde_json::from_str(&hook(&t, "copilot", &w).1).unwrap();
    assert_eq!(v["permissionDecision"], "deny");
    let audit = common::audit_lines(&t.audit);
    for (agent, session) in [("gemini", "g"), ("codex", "c"), ("copilot", "p")] {
        assert!(
            audit
                .iter()
                .any(|e| e["agent"]["name"] == agent && e["agent"]["session"] == session),
            "{agent}: {audit:?}"
        );
    }
}

#[test]
fn init_claude_code_merges_the_hook_into_the_users_settings() {
    let t = tree();
    let home = t.root.join("home");
    std::fs::create_dir_all(home.join(".claude")).unwrap();
    let settings = home.join(".claude/settings.json");
    std::fs::write(
        &settings,
        r#"{"model": "opus", "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-check"}]}]}}"#,
    )
    .unwrap();
    for _ in 0..2 {
        let out = common::ok(
            Command::new(common::bin())
                .args(["init", "claude-code", "--install"])
                .env("HOME", &home)
                .output()
                .unwrap(),
        );
        assert!(common::text(&out).1.contains("settings.json"));
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&settings).unwrap()).unwrap();
    assert_eq!(v["model"], "opus");
    let pre = v["hooks"]["PreToolUse"].as_array().unwrap();
    assert_eq!(pre.len(), 2, "{v}");
    assert_eq!(pre[0]["hooks"][0]["command"], "my-check");
    let ours = pre[1]["hooks"][0]["command"].as_str().unwrap();
    assert!(ours.ends_with(" hook claude-code"), "{ours}");
    // Printed without --install: the same entry, for the operator to place.
    let out = common::ok(
        Command::new(common::bin())
            .args(["init", "claude-code"])
            .output()
            .unwrap(),
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed["hooks"]["PreToolUse"][0]["matcher"],
        pre[1]["matcher"]
    );
}

#[test]
fn init_gemini_codex_copilot_install_a_hook_that_runs_and_keep_the_users_own() {
    let t = tree();
    let home = t.root.join("home");
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    std::fs::write(
        home.join(".gemini/settings.json"),
        r#"{"theme": "dark", "hooks": {"BeforeTool": [{"matcher": "write_file", "hooks": [{"type": "command", "command": "mine"}]}]}}"#,
    )
    .unwrap();
    std::fs::write(
        home.join(".codex/hooks.json"),
        r#"{"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "hello"}]}]}}"#,
    )
    .unwrap();
    for agent in ["gemini", "codex", "copilot"] {
        for _ in 0..2 {
            common::ok(
                Command::new(common::bin())
                    .args(["init", agent, "--install"])
                    .env("HOME", &home)
                    .env_remove("COPILOT_HOME")
                    .output()
                    .unwrap(),
            );
        }
    }
    let read = |rel: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(home.join(rel)).unwrap()).unwrap()
    };
    let gemini = read(".gemini/settings.json");
    assert_eq!(gemini["theme"], "dark");
    let before = gemini["hooks"]["BeforeTool"].as_array().unwrap();
    assert_eq!(before.len(), 2, "{gemini}");
    assert_eq!(before[0]["hooks"][0]["command"], "mine");
    let codex = read(".codex/hooks.json");
    assert_eq!(
        codex["hooks"]["SessionStart"][0]["hooks"][0]["command"],
        "hello"
    );
    let pre = codex["hooks"]["PreToolUse"].as_array().unwrap();
    assert_eq!(pre.len(), 1, "{codex}");
    let copilot = read(".copilot/hooks/gardefou.json");
    assert_eq!(copilot["version"], 1);
    let cp = copilot["hooks"]["preToolUse"].as_array().unwrap();
    assert_eq!(cp.len(), 1, "{copilot}");
    // Each registered command, run as the agent runs it (through a shell, the payload on
    // stdin), refuses a deletion of the forbidden tree in that agent's own words.
    let work = t.root.join("work");
    let line = "rm -rf ../d/f";
    let registered = [
        (
            before[1]["hooks"][0]["command"]
                .as_str()
                .unwrap()
                .to_owned(),
            serde_json::json!({"session_id": "g", "cwd": work, "hook_event_name": "BeforeTool",
                "tool_name": "run_shell_command", "tool_input": {"command": line}}),
        ),
        (
            pre[0]["hooks"][0]["command"].as_str().unwrap().to_owned(),
            serde_json::json!({"session_id": "c", "cwd": work, "hook_event_name": "PreToolUse",
                "tool_name": "Bash", "tool_input": {"command": line}}),
        ),
        (
            cp[0]["bash"].as_str().unwrap().to_owned(),
            serde_json::json!({"sessionId": "p", "cwd": work, "toolName": "bash",
                "toolArgs": serde_json::json!({"command": line}).to_string()}),
        ),
    ];
    for (command, payload) in registered {
        let cmd = &mut Command::new("sh");
        cmd.args(["-c", &command])
            .env("GARDEFOU_POLICY", &t.policy)
            .current_dir("/");
        let out = common::output_with_stdin(cmd, Some(&payload.to_string()));
        let (o, e) = common::text(&out);
        assert_eq!(out.status.code(), Some(0), "{command}: {o}{e}");
        let v: serde_json::Value = serde_json::from_str(&o).unwrap();
        let decision = v["hookSpecificOutput"]["permissionDecision"]
            .as_str()
            .or(v["decision"].as_str())
            .or(v["permissionDecision"].as_str());
        assert_eq!(decision, Some("deny"), "{command}: {o}");
    }
}
