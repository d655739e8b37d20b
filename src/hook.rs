//! `gardefou hook AGENT`: a coding agent's pre-tool-use hook. The agent sends the tool call it
//! is about to make as JSON on standard input; gardefou judges it with the same pipeline as
//! `gardefou check --line` (a shell command) — in the payload's working directory, on this
//! host's real files and databases, with this host's policy — or as a write effect on the
//! file a file-writing tool names, and answers in the agent's protocol: no objection, ask the
//! human (with gardefou's reason and rule in the prompt), or deny (with the rule, the reason
//! and the safer way). A payload it cannot read, or a failure of its own, denies and says so.
//! Every answer is audited with the agent's name and session.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;

use crate::audit;
use crate::intent::{Arg, FileEffect, FileOp, FilesIntent, Intent};
use crate::outcome::Outcome;
use crate::policy::{Decision, Verdict};

/// The most of a payload that is read.
const MAX_PAYLOAD: u64 = 8 * 1024 * 1024;

/// The agents whose hook protocol gardefou speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Agent {
    /// Claude Code's `PreToolUse` command hook.
    ClaudeCode,
    /// Gemini CLI's `BeforeTool` command hook.
    Gemini,
    /// Codex CLI's `PreToolUse` command hook (it cannot ask its human: a confirm is a deny).
    Codex,
    /// GitHub Copilot CLI's `preToolUse` command hook.
    Copilot,
}

impl Agent {
    /// The agent `gardefou init NAME` names.
    pub fn named(name: &str) -> Option<Agent> {
        [
            Agent::ClaudeCode,
            Agent::Gemini,
            Agent::Codex,
            Agent::Copilot,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Gemini => "gemini",
            Agent::Codex => "codex",
            Agent::Copilot => "copilot",
        }
    }
}

/// What a tool call would do, as far as gardefou judges it.
#[derive(Debug, PartialEq)]
enum Call {
    /// A shell command line.
    Line(String),
    /// Files written, edited in place or deleted.
    Files(Vec<(FileOp, PathBuf)>),
    /// A tool that changes nothing gardefou guards (reads, searches, the web).
    Other,
}

fn written(path: String) -> Call {
    Call::Files(vec![(FileOp::Overwrite, path.into())])
}

/// The files a patch in the apply_patch format (`*** Add File: P`, `*** Update File: P`,
/// `*** Delete File: P`, `*** Move to: P`) changes.
fn patched(patch: &str) -> Call {
    let mut files: Vec<(FileOp, PathBuf)> = Vec::new();
    for line in patch.lines() {
        let line = line.trim();
        for (mark, op) in [
            ("*** Add File:", FileOp::Overwrite),
            ("*** Update File:", FileOp::Overwrite),
            ("*** Move to:", FileOp::Overwrite),
            ("*** Delete File:", FileOp::Delete { recursive: false }),
        ] {
            if let Some(p) = line.strip_prefix(mark) {
                // A move takes the updated file away from where it was.
                if mark == "*** Move to:"
                    && let Some(last) = files.last_mut()
                {
                    last.0 = FileOp::MoveAway;
                }
                files.push((op, PathBuf::from(p.trim())));
            }
        }
    }
    Call::Files(files)
}

/// The nearest directory of `path` that exists (relative paths from the current directory):
/// where a tool that creates missing directories first changes something.
fn existing_ancestor(path: &std::path::Path) -> Option<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    abs.ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .map(std::path::Path::to_path_buf)
}

/// A tool call as the agent described it.
#[derive(Debug, PartialEq)]
struct Payload {
    tool: String,
    call: Call,
    cwd: Option<PathBuf>,
    session: Option<String>,
}

fn text_field(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_owned)
}

/// A payload with its `cwd` and its session id (under `session_key`).
fn payload(tool: String, call: Call, v: &serde_json::Value, session_key: &str) -> Payload {
    Payload {
        tool,
        call,
        cwd: text_field(v, "cwd").map(PathBuf::from),
        session: text_field(v, session_key),
    }
}

/// Reads Claude Code's payload: `tool_name`, `tool_input` (`command` for Bash, `file_path` for
/// Write, Edit and MultiEdit, `notebook_path` for NotebookEdit), `cwd`, `session_id`.
fn claude_code(v: &serde_json::Value) -> Result<Payload, String> {
    let tool = text_field(v, "tool_name").ok_or("no tool_name")?;
    let input = v.get("tool_input").ok_or("no tool_input")?;
    let need = |key: &str| {
        text_field(input, key).ok_or_else(|| format!("{tool} without tool_input.{key}"))
    };
    let call = match tool.as_str() {
        "Bash" => Call::Line(need("command")?),
        "Write" | "Edit" | "MultiEdit" => written(need("file_path")?),
        "NotebookEdit" => written(need("notebook_path")?),
        _ => Call::Other,
    };
    Ok(payload(tool, call, v, "session_id"))
}

/// Gemini CLI's payload: `tool_name` (`run_shell_command` with `tool_input.command` and
/// maybe `dir_path`; `write_file`, `replace` with `tool_input.file_path`), `cwd`, `session_id`.
fn gemini(v: &serde_json::Value) -> Result<Payload, String> {
    let tool = text_field(v, "tool_name").ok_or("no tool_name")?;
    let input = v.get("tool_input").ok_or("no tool_input")?;
    let need = |key: &str| {
        text_field(input, key).ok_or_else(|| format!("{tool} without tool_input.{key}"))
    };
    let mut cwd = text_field(v, "cwd").map(PathBuf::from);
    let call = match tool.as_str() {
        "run_shell_command" => {
            // The command runs in `dir_path` (older versions: `directory`), under the cwd.
            if let Some(d) =
                text_field(input, "dir_path").or_else(|| text_field(input, "directory"))
            {
                cwd = Some(cwd.unwrap_or_default().join(d));
            }
            Call::Line(need("command")?)
        }
        "write_file" | "replace" => written(need("file_path")?),
        _ => Call::Other,
    };
    Ok(Payload {
        cwd,
        ..payload(tool, call, v, "session_id")
    })
}

/// Codex CLI's payload: `tool_name` (`Bash` with `tool_input.command`; `apply_patch` with the
/// patch in `tool_input.command`), `cwd`, `session_id`.
fn codex(v: &serde_json::Value) -> Result<Payload, String> {
    let tool = text_field(v, "tool_name").ok_or("no tool_name")?;
    let input = v.get("tool_input").ok_or("no tool_input")?;
    let command =
        || text_field(input, "command").ok_or_else(|| format!("{tool} without tool_input.command"));
    let call = match tool.as_str() {
        "Bash" | "shell" | "local_shell" => Call::Line(command()?),
        "apply_patch" | "Edit" | "Write" => patched(&command()?),
        _ => Call::Other,
    };
    Ok(payload(tool, call, v, "session_id"))
}

/// Copilot CLI's payload: `toolName` (`bash` with `toolArgs.command`; `create`, `edit`,
/// `str_replace_editor` with `toolArgs.path`; `apply_patch`), `toolArgs` an object or a JSON
/// string, `cwd`, `sessionId`.
fn copilot(v: &serde_json::Value) -> Result<Payload, String> {
    let tool = text_field(v, "toolName").ok_or("no toolName")?;
    let args = match v.get("toolArgs") {
        Some(serde_json::Value::String(s)) => {
            serde_json::from_str(s).map_err(|e| format!("toolArgs is not JSON: {e}"))?
        }
        Some(a) => a.clone(),
        None => return Err("no toolArgs".into()),
    };
    let need =
        |key: &str| text_field(&args, key).ok_or_else(|| format!("{tool} without toolArgs.{key}"));
    let call = match tool.as_str() {
        "bash" => Call::Line(need("command")?),
        // Input typed into a running shell session: a line like any other.
        "write_bash" => Call::Line(need("input")?),
        "create" | "edit" | "str_replace_editor" => written(need("path")?),
        "apply_patch" => patched(
            &text_field(&args, "input")
                .or_else(|| text_field(&args, "patch"))
                .or_else(|| text_field(&args, "command"))
                .ok_or("apply_patch without its patch")?,
        ),
        _ => Call::Other,
    };
    Ok(payload(tool, call, v, "sessionId"))
}

/// The answer to the agent.
struct Answer {
    decision: Decision,
    reason: String,
}

/// Writes the answer in the agent's protocol; the exit status.
fn answer(agent: Agent, a: &Answer) -> i32 {
    if ANSWERED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        // The deadline answered (deny) and is ending the process.
        loop {
            std::thread::park();
        }
    }
    // No objection: nothing said, and the agent's own permissions decide.
    if a.decision == Decision::Allow {
        return 0;
    }
    let ask = a.decision == Decision::Confirm;
    let out = match agent {
        Agent::ClaudeCode | Agent::Codex => serde_json::json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                // Codex cannot ask its human from this hook: what needs a person is refused.
                "permissionDecision": if ask && agent == Agent::ClaudeCode { "ask" } else { "deny" },
                "permissionDecisionReason": a.reason,
            }
        }),
        Agent::Gemini => serde_json::json!({
            "decision": if ask { "ask" } else { "deny" },
            "reason": a.reason,
        }),
        Agent::Copilot => serde_json::json!({
            "permissionDecision": if ask { "ask" } else { "deny" },
            "permissionDecisionReason": a.reason,
        }),
    };
    println!("{out}");
    0
}

/// The reason the agent (deny) or its human (ask) is shown: each rule's message and name, and
/// what to do instead.
fn reason(v: &Verdict, call: &Call) -> String {
    let mut parts: Vec<String> = v
        .reasons
        .iter()
        .filter(|r| r.decision != Decision::Allow)
        .map(|r| format!("{} (rule {})", r.message, r.rule))
        .collect();
    if parts.is_empty() {
        parts.push("refused".to_owned());
    }
    let instead = match (v.decision, call) {
        (Decision::Deny, _) => {
            "do not retry it another way: ask the operator; if it is really intended, they can run it themselves with gardefou override on a terminal"
        }
        (_, Call::Files(_)) => {
            "the file is in a protected tree: ask the operator, or take a snapshot first (gardefou snapshot take PATH)"
        }
        _ if v.snapshot => {
            "gardefou snapshots what it touches before it runs; run from a terminal, where gardefou asks for the typed confirmation"
        }
        _ => {
            "a person at a terminal can confirm it (gardefou asks for the host name there); the shims refuse it without a terminal"
        }
    };
    format!("gardefou: {}. {instead}", parts.join("; "))
}

/// Judges the tool call; the verdict (None: nothing gardefou guards).
fn judge(
    p: &Payload,
    ctx: &crate::pipeline::Context,
    shell: &mut crate::intent::line::Shell,
) -> Result<Option<Verdict>, String> {
    let files_intent = |files: &[(FileOp, PathBuf)]| -> Result<Intent, String> {
        if files.is_empty() {
            return Err("the patch names no file the guard can read".into());
        }
        let mut effects = Vec::new();
        for (op, path) in files {
            let mut e = FileEffect::new(*op, Arg::Known(path.clone().into()));
            // A write goes through a symlink; a deletion takes the link.
            e.follow = *op == FileOp::Overwrite;
            effects.push(e);
            // A file created where its directory does not exist yet: the tool creates the
            // directories in the nearest one that does.
            let parent_missing = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .is_some_and(|d| !d.is_dir());
            if *op == FileOp::Overwrite
                && parent_missing
                && let Some(a) = existing_ancestor(path)
            {
                effects.push(FileEffect::new(
                    FileOp::WriteInto { deletes: false },
                    Arg::Known(a.into()),
                ));
            }
        }
        let shown: Vec<String> = files.iter().map(|(_, p)| p.display().to_string()).collect();
        Ok(Intent::Files(FilesIntent {
            program: p.tool.clone(),
            effects,
            cwd: std::env::current_dir().ok(),
            text: format!("{} {}", p.tool, shown.join(" ")),
        }))
    };
    let intents = match &p.call {
        Call::Other => return Ok(None),
        Call::Line(line) => {
            let mut intents = crate::intent::line::parse_line(line.as_bytes(), shell)
                .map_err(|e| format!("the command cannot be read: {e}"))?;
            // A patch given to apply_patch in the shell (Codex): its files too.
            if line.contains("*** Begin Patch")
                && let Call::Files(files) = patched(line)
            {
                intents.push(files_intent(&files)?);
            }
            intents
        }
        Call::Files(files) => vec![files_intent(files)?],
    };
    Ok(Some(crate::pipeline::judge(ctx, intents, None).verdict))
}

/// The longest the hook judges before it denies: the agents' own timeouts let a call through
/// (gardefou init sets 30 s).
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Set by whoever answers first: the judgement, or the deadline.
static ANSWERED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `gardefou hook AGENT`. Exit status: the agent's protocol's.
pub fn hook(agent: Agent, policy: Option<&std::path::Path>, forced_env: Option<&str>) -> i32 {
    let loaded = crate::pipeline::load_failsafe(policy);
    let host = crate::facts::hostname();
    let (env, env_error) = crate::pipeline::environment(&loaded.policy, &host, forced_env);
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .take(MAX_PAYLOAD)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read the payload: {e}"))
        .and_then(|_| {
            serde_json::from_slice::<serde_json::Value>(&raw)
                .map_err(|e| format!("the payload is not JSON: {e}"))
        })
        .and_then(|v| match agent {
            Agent::ClaudeCode => claude_code(&v),
            Agent::Gemini => gemini(&v),
            Agent::Codex => codex(&v),
            Agent::Copilot => copilot(&v),
        });
    let payload = match read {
        Ok(p) => p,
        Err(why) => {
            // Fail closed: what cannot be read is not let through.
            let a = Answer {
                decision: Decision::Deny,
                reason: format!("gardefou could not read this tool call ({why}), so it refuses it"),
            };
            audited(&loaded.policy, &host, &env, agent, None, &[], None, &a);
            return answer(agent, &a);
        }
    };
    if let Some(cwd) = &payload.cwd
        && let Err(e) = std::env::set_current_dir(cwd)
    {
        let a = Answer {
            decision: Decision::Deny,
            reason: format!(
                "gardefou cannot judge this tool call in {}: {e}",
                cwd.display()
            ),
        };
        audited(
            &loaded.policy,
            &host,
            &env,
            agent,
            Some(&payload),
            &[],
            None,
            &a,
        );
        return answer(agent, &a);
    }
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let ctx = crate::pipeline::Context {
        policy: &loaded.policy,
        env: &env,
        host: &host,
        error,
        net: false,
        ask_db: true,
    };
    // Too long a judgement (finds, database counts) is a denial, not the agent's timeout.
    std::thread::spawn(move || {
        std::thread::sleep(DEADLINE);
        let a = Answer {
            decision: Decision::Deny,
            reason: format!(
                "gardefou could not judge this tool call within {} s, so it refuses it",
                DEADLINE.as_secs()
            ),
        };
        std::process::exit(answer(agent, &a));
    });
    let mut shell = crate::intent::line::Shell::from_process();
    // A failure of gardefou's own is a denial, not a crash the agent would take as no
    // objection.
    let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        judge(&payload, &ctx, &mut shell)
    }))
    .unwrap_or_else(|_| Err("gardefou failed while judging it".into()));
    let (a, v) = match judged {
        Ok(None) => (
            Answer {
                decision: Decision::Allow,
                reason: String::new(),
            },
            None,
        ),
        Ok(Some(v)) => (
            Answer {
                decision: v.decision,
                reason: if v.decision == Decision::Allow {
                    String::new()
                } else {
                    reason(&v, &payload.call)
                },
            },
            Some(v),
        ),
        Err(why) => (
            Answer {
                decision: Decision::Deny,
                reason: format!("gardefou refuses what it cannot judge: {why}"),
            },
            None,
        ),
    };
    // What the operator approved for this line with `gardefou approve` goes through once.
    let mut a = a;
    if a.decision == Decision::Confirm
        && let (Call::Line(line), Some(v)) = (&payload.call, v.as_ref())
        && let Ok(cwd) = std::env::current_dir()
    {
        let by = match &payload.session {
            Some(s) => format!("agent {} (session {s})", agent.name()),
            None => format!("agent {}", agent.name()),
        };
        if let Some(approval) = crate::approve::for_line(v, line, &cwd, &by, true) {
            a = Answer {
                decision: Decision::Allow,
                reason: format!("gardefou: let through once by {}", approval.describe()),
            };
        }
    }
    let what: Vec<OsString> = match &payload.call {
        Call::Line(l) => vec![payload.tool.clone().into(), redacted_line(l).into()],
        Call::Files(files) => std::iter::once(payload.tool.clone().into())
            .chain(files.iter().map(|(_, p)| p.clone().into_os_string()))
            .collect(),
        Call::Other => Vec::new(),
    };
    // Reads and searches are not audited: they change nothing.
    if !what.is_empty() {
        audited(
            &loaded.policy,
            &host,
            &env,
            agent,
            Some(&payload),
            &what,
            v.as_ref(),
            &a,
        );
    }
    answer(agent, &a)
}

/// A line as the audit log keeps it: passwords on it (`-pSECRET`, `--password=`, `-a`,
/// URIs) hidden, as the shims hide them.
fn redacted_line(line: &str) -> String {
    let mut words: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
    // Each command of the line as its own: the redaction knows a program by its first word.
    for i in 0..words.len() {
        let hidden = crate::intent::sql::redacted(&words[i..]);
        for (w, h) in words[i..].iter_mut().zip(hidden) {
            *w = h;
        }
    }
    if words
        .iter()
        .map(|w| w.as_os_str())
        .eq(line.split_whitespace().map(std::ffi::OsStr::new))
    {
        // Nothing hidden: the line as it was, spacing included.
        return line.to_owned();
    }
    words
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tools whose calls Claude Code sends to the hook.
const CLAUDE_TOOLS: &str = "Bash|Write|Edit|MultiEdit|NotebookEdit";
/// Gemini CLI's: its shell tool and its file tools (a regular expression).
const GEMINI_TOOLS: &str = "run_shell_command|write_file|replace";
/// Codex CLI's.
const CODEX_TOOLS: &str = "^(Bash|apply_patch)$";
/// Copilot CLI's.
const COPILOT_TOOLS: &str = "bash|write_bash|create|edit|str_replace_editor|apply_patch";

/// The command that runs the hook: this binary, by its path.
fn hook_command(agent: Agent) -> String {
    let bin = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "gardefou".into());
    format!("{bin} hook {}", agent.name())
}

/// Where an agent's user-level hook configuration lives, under `home`.
fn settings_file(agent: Agent, home: &std::path::Path) -> PathBuf {
    match agent {
        Agent::ClaudeCode => home.join(".claude/settings.json"),
        Agent::Gemini => home.join(".gemini/settings.json"),
        Agent::Codex => home.join(".codex/hooks.json"),
        // A directory of hook files: gardefou's is its own.
        Agent::Copilot => std::env::var_os("COPILOT_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".copilot"))
            .join("hooks/gardefou.json"),
    }
}

/// An agent's settings with gardefou's hook merged in: the other settings and hooks kept,
/// gardefou's entry added once.
fn merged_settings(
    agent: Agent,
    mut settings: serde_json::Value,
    command: &str,
) -> Result<serde_json::Value, String> {
    use serde_json::{Value, json};
    let (event, ours, key) = match agent {
        Agent::ClaudeCode | Agent::Codex => (
            "PreToolUse",
            json!({"matcher": if agent == Agent::Codex { CODEX_TOOLS } else { CLAUDE_TOOLS },
                   "hooks": [{"type": "command", "command": command, "timeout": 30}]}),
            "command",
        ),
        // Gemini's timeout is in milliseconds.
        Agent::Gemini => (
            "BeforeTool",
            json!({"matcher": GEMINI_TOOLS,
                   "hooks": [{"name": "gardefou", "type": "command", "command": command, "timeout": 30000}]}),
            "command",
        ),
        Agent::Copilot => (
            "preToolUse",
            json!({"type": "command", "matcher": COPILOT_TOOLS, "bash": command, "timeoutSec": 30}),
            "bash",
        ),
    };
    let root = settings
        .as_object_mut()
        .ok_or("the settings are not a JSON object")?;
    if agent == Agent::Copilot {
        root.entry("version").or_insert(json!(1));
    }
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("\"hooks\" is not an object")?;
    let list = hooks
        .entry(event)
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or(format!("\"hooks.{event}\" is not an array"))?;
    let runs_ours = |h: &Value| h.get(key).and_then(Value::as_str) == Some(command);
    let already = list.iter().any(|m| {
        runs_ours(m)
            || m.get("hooks")
                .and_then(Value::as_array)
                .is_some_and(|hs| hs.iter().any(runs_ours))
    });
    if !already {
        list.push(ours);
    }
    Ok(settings)
}

/// `gardefou init claude-code|gemini|codex|copilot [--install]`: prints the configuration
/// that registers the hook, or merges it into the agent's user-level file.
pub fn init_agent(agent: Agent, install: bool) -> i32 {
    use crate::outcome::exit;
    let command = hook_command(agent);
    if !install {
        let settings = merged_settings(agent, serde_json::json!({}), &command).unwrap_or_default();
        println!(
            "{}",
            serde_json::to_string_pretty(&settings).unwrap_or_default()
        );
        return 0;
    }
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        eprintln!("gardefou: HOME is not set: cannot find the agent's settings");
        return exit::USAGE;
    };
    let file = settings_file(agent, std::path::Path::new(&home));
    let Some(dir) = file.parent().map(std::path::Path::to_path_buf) else {
        return exit::USAGE;
    };
    let current = match std::fs::read(&file) {
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(v) => v,
            Err(e) => {
                eprintln!(
                    "gardefou: {} is not JSON ({e}): left as it is",
                    file.display()
                );
                return exit::USAGE;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => {
            eprintln!("gardefou: cannot read {}: {e}", file.display());
            return exit::USAGE;
        }
    };
    let merged = match merged_settings(agent, current, &command) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("gardefou: {}: {e}: left as it is", file.display());
            return exit::USAGE;
        }
    };
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default() + "\n";
    // Written beside it, then renamed over it: never half a file.
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(&dir))
        .and_then(|mut t| {
            use std::io::Write;
            t.write_all(text.as_bytes())?;
            if let Ok(m) = std::fs::metadata(&file) {
                t.as_file().set_permissions(m.permissions())?;
            }
            t.persist(&file).map_err(|e| e.error)?;
            Ok(())
        });
    match written {
        Ok(()) => {
            eprintln!(
                "gardefou: {} now runs `{command}` before each tool call it judges",
                file.display()
            );
            if agent == Agent::Codex {
                eprintln!(
                    "gardefou: Codex before 0.124 runs hooks only with `[features] codex_hooks = true` in ~/.codex/config.toml"
                );
            }
            0
        }
        Err(e) => {
            eprintln!("gardefou: cannot write {}: {e}", file.display());
            1
        }
    }
}

/// The audit entry of one answer: what was judged, the agent and its session.
#[allow(clippy::too_many_arguments)]
fn audited(
    policy: &crate::policy::Policy,
    host: &str,
    env: &crate::policy::Environment,
    agent: Agent,
    payload: Option<&Payload>,
    what: &[OsString],
    v: Option<&Verdict>,
    a: &Answer,
) {
    let mut argv: Vec<OsString> = vec!["gardefou".into(), "hook".into(), agent.name().into()];
    argv.extend_from_slice(what);
    let mut e = audit::Entry::now(host, &env.name, &argv);
    e.decision = a.decision;
    if let Some(v) = v {
        e.snapshot = v.snapshot;
        e.reasons = v.reasons.clone();
    }
    e.outcome = match a.decision {
        Decision::Allow => Outcome::AgentAllowed,
        Decision::Confirm => Outcome::AgentAsked,
        Decision::Deny => Outcome::AgentDenied,
    };
    e.approval = crate::approve::used_here();
    e.agent = Some(audit::AgentCall {
        name: agent.name().to_owned(),
        session: payload.and_then(|p| p.session.clone()),
        reason: (!a.reason.is_empty()).then(|| a.reason.clone()),
    });
    if let Err(err) = audit::append(policy, &e) {
        eprintln!("gardefou: warning: {err}");
    }
    if let Err(err) = audit::to_syslog(policy, &e) {
        eprintln!("gardefou: warning: {err}");
    }
    crate::notify::send(policy, &e);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_is_merged_into_claude_codes_settings_once_and_keeps_the_rest() {
        let mine = serde_json::json!({
            "model": "x",
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine.sh"}]}],
                      "Stop": [{"hooks": [{"type": "command", "command": "bye.sh"}]}]}
        });
        let once = merged_settings(
            Agent::ClaudeCode,
            mine,
            "/usr/bin/gardefou hook claude-code",
        )
        .unwrap();
        let twice = merged_settings(
            Agent::ClaudeCode,
            once.clone(),
            "/usr/bin/gardefou hook claude-code",
        )
        .unwrap();
        assert_eq!(once, twice);
        assert_eq!(once["model"], "x");
        assert_eq!(once["hooks"]["Stop"][0]["hooks"][0]["command"], "bye.sh");
        let pre = once["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0]["hooks"][0]["command"], "mine.sh");
        assert_eq!(pre[1]["matcher"], CLAUDE_TOOLS);
        assert!(merged_settings(Agent::ClaudeCode, serde_json::json!([]), "x").is_err());
        assert!(merged_settings(Agent::Gemini, serde_json::json!({"hooks": []}), "x").is_err());
    }

    #[test]
    fn claude_codes_payloads_are_read_as_documented() {
        let v = serde_json::json!({
            "session_id": "abc123",
            "transcript_path": "/tmp/t.jsonl",
            "cwd": "/srv/app",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "rm -rf build", "description": "clean"}
        });
        assert_eq!(
            claude_code(&v).unwrap(),
            Payload {
                tool: "Bash".into(),
                call: Call::Line("rm -rf build".into()),
                cwd: Some("/srv/app".into()),
                session: Some("abc123".into()),
            }
        );
        let v = serde_json::json!({"tool_name": "Edit", "tool_input": {"file_path": "/etc/x", "old_string": "a", "new_string": "b"}});
        assert_eq!(claude_code(&v).unwrap().call, written("/etc/x".into()));
        let v = serde_json::json!({"tool_name": "Read", "tool_input": {"file_path": "/etc/x"}});
        assert_eq!(claude_code(&v).unwrap().call, Call::Other);
        assert!(claude_code(&serde_json::json!({"tool_name": "Bash", "tool_input": {}})).is_err());
        assert!(claude_code(&serde_json::json!([1, 2])).is_err());
    }

    #[test]
    fn passwords_stay_out_of_the_audited_line_and_patches_are_read_whole() {
        assert_eq!(
            redacted_line("cd /srv && mysql -uapp -psecret shop -e 'DELETE FROM t'"),
            "cd /srv && mysql -uapp -p*** shop -e 'DELETE FROM t'"
        );
        assert!(!redacted_line("redis-cli -a hunter2 flushall").contains("hunter2"));
        assert_eq!(redacted_line("ls  -la"), "ls  -la");
        // Indented markers, and a move: the old place is left.
        let p =
            patched("*** Begin Patch\n  *** Update File: a.rs\n  *** Move to: b.rs\n*** End Patch");
        assert_eq!(
            p,
            Call::Files(vec![
                (FileOp::MoveAway, "a.rs".into()),
                (FileOp::Overwrite, "b.rs".into()),
            ])
        );
        assert_eq!(patched("no markers"), Call::Files(Vec::new()));
    }

    #[test]
    fn the_other_agents_payloads_are_read_as_documented() {
        let g = gemini(&serde_json::json!({
            "session_id": "g1", "cwd": "/srv", "hook_event_name": "BeforeTool",
            "tool_name": "run_shell_command",
            "tool_input": {"command": "rm -rf x", "dir_path": "app"}
        }))
        .unwrap();
        assert_eq!(g.call, Call::Line("rm -rf x".into()));
        assert_eq!(g.cwd, Some("/srv/app".into()));
        let g = gemini(&serde_json::json!({"tool_name": "write_file", "tool_input": {"file_path": "/etc/a", "content": ""}})).unwrap();
        assert_eq!(g.call, written("/etc/a".into()));
        let patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Delete File: /var/lib/db/PG_VERSION\n*** End Patch\n";
        let c = codex(&serde_json::json!({"tool_name": "apply_patch", "tool_input": {"command": patch}, "session_id": "c1"})).unwrap();
        assert_eq!(
            c.call,
            Call::Files(vec![
                (FileOp::Overwrite, "src/a.rs".into()),
                (
                    FileOp::Delete { recursive: false },
                    "/var/lib/db/PG_VERSION".into()
                ),
            ])
        );
        let p = copilot(&serde_json::json!({
            "sessionId": "p1", "cwd": "/srv", "toolName": "bash",
            "toolArgs": "{\"command\": \"rm -rf x\", \"description\": \"d\"}"
        }))
        .unwrap();
        assert_eq!(
            (p.call, p.session.as_deref()),
            (Call::Line("rm -rf x".into()), Some("p1"))
        );
        let p = copilot(&serde_json::json!({"toolName": "edit", "toolArgs": {"path": "/etc/b"}}))
            .unwrap();
        assert_eq!(p.call, written("/etc/b".into()));
        assert!(copilot(&serde_json::json!({"toolName": "bash", "toolArgs": "not json"})).is_err());
    }
}
