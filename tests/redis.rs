//! The redis-cli guard against a real Redis server: each test starts its own `redis-server`
//! (Debian's, no TCP port, a Unix socket in a temp directory, a password), runs `redis-cli` by
//! name through the shim that `gardefou install` put in a temp prefix, without a terminal, and
//! looks at the data with the real redis-cli.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "pw-for-tests";

struct Server {
    _dir: tempfile::TempDir,
    root: PathBuf,
    socket: String,
    bin: PathBuf,
    policy: PathBuf,
    audit: PathBuf,
    store: PathBuf,
    _server: common::KillOnDrop,
}

use common::ok;

/// A running server holding, in database 0: `a`, `b` (strings), `h` (hash), `l` (list),
/// `u:1`, `u:2`, `u:3` (strings), `t` (string expiring in 10 minutes); in database 1: `other`.
/// gardefou is installed in a temp prefix with `rules` as its policy.
fn start(rules: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let socket = root.join("redis.sock").display().to_string();
    let child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--unixsocket",
            &socket,
            "--unixsocketperm",
            "700",
        ])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            PASSWORD,
        ])
        .arg("--dir")
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed (.ci/run installs Debian's redis-server)");
    let common::Installed {
        bin,
        policy,
        audit,
        store,
    } = common::install_production(&root, rules);
    let s = Server {
        _dir: dir,
        bin,
        root,
        socket,
        policy,
        audit,
        store,
        _server: common::KillOnDrop(child),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.real(&["ping"]).trim() != "PONG" {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for cmd in [
        "set a 1",
        "set b two",
        "hset h f1 v1 f2 v2",
        "rpush l x y z",
        "set u:1 one",
        "set u:2 two",
        "set u:3 three",
        "set t soon px 600000",
    ] {
        s.real(&cmd.split(' ').collect::<Vec<_>>());
    }
    s.real(&["-n", "1", "set", "other", "kept"]);
    s
}

impl Server {
    /// The real redis-cli (not the shim), for setting up and looking.
    fn real(&self, args: &[&str]) -> String {
        let out = Command::new("/usr/bin/redis-cli")
            .args(["-s", &self.socket, "--no-auth-warning", "-a", PASSWORD])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Everything in database 0 and 1, as text, to compare before and after.
    fn contents(&self) -> String {
        let mut out = String::new();
        for db in ["0", "1"] {
            let mut keys: Vec<String> = self
                .real(&["-n", db, "--scan"])
                .lines()
                .map(str::to_owned)
                .collect();
            keys.sort();
            for k in keys {
                let kind = self.real(&["-n", db, "type", &k]);
                let value = match kind.trim() {
                    "hash" => self.real(&["-n", db, "hgetall", &k]),
                    "list" => self.real(&["-n", db, "lrange", &k, "0", "-1"]),
                    _ => self.real(&["-n", db, "get", &k]),
                };
                let ttl: i64 = self.real(&["-n", db, "pttl", &k]).trim().parse().unwrap();
                let ttl = if ttl > 0 { "expires" } else { "persists" };
                out.push_str(&format!("{db}/{k} {} {value:?} {ttl}\n", kind.trim()));
            }
        }
        out
    }

    /// `redis-cli ARGS` by name through the shim (socket and password given), no terminal.
    fn shim(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.shell(
            &format!(
                "redis-cli -s {} -a {PASSWORD} --no-auth-warning {}",
                self.socket,
                args.join(" ")
            ),
            stdin,
        )
    }

    /// A shell command line with the shims first on PATH, no terminal.
    fn shell(&self, line: &str, stdin: Option<&str>) -> Output {
        let cmd = &mut Command::new("setsid");
        cmd.args(["-w", "sh", "-c", line])
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("GARDEFOU_POLICY", &self.policy)
            .env_remove("SUDO_USER")
            .env_remove("REDISCLI_AUTH")
            .current_dir(&self.root);
        common::output_with_stdin(cmd, stdin)
    }

    fn last_snapshot(&self) -> String {
        let audit = common::audit_lines(&self.audit);
        audit.last().unwrap()["snapshot_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no snapshot id: {audit:?}"))
            .to_owned()
    }

    fn restore(&self, id: &str) -> Output {
        ok(Command::new(common::bin())
            .args(["snapshot", "restore", id])
            .env("GARDEFOU_POLICY", &self.policy)
            .env("REDISCLI_AUTH", PASSWORD)
            .output()
            .unwrap())
    }
}

fn rule(statements: &str, database: &str, action: &str) -> String {
    format!(
        "[[protect.sql]]\nengine = \"redis\"\ndatabase = \"{database}\"\nstatements = [{statements}]\naction = \"{action}\"\nreason = \"the cache of record\"\n"
    )
}

#[test]
fn flushall_is_refused_and_nothing_is_lost() {
    let s = start(&rule("\"flushall\", \"flushdb\", \"del\"", "*", "deny"));
    let before = s.contents();
    let out = s.shim(&["flushall"], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("flushes every key of every database"), "{err}");
    assert_eq!(s.contents(), before);
    let audit = common::audit_lines(&s.audit);
    let last = audit.last().unwrap();
    assert_eq!(last["outcome"], "refused");
    let logged = serde_json::to_string(last).unwrap();
    assert!(
        !logged.contains(PASSWORD),
        "password in the audit log: {logged}"
    );
    // A harmless command runs, with redis-cli's own output.
    let out = s.shim(&["get", "b"], None);
    assert_eq!(ok(out).stdout, b"two\n");
}

#[test]
fn the_database_glob_decides_and_the_command_word_is_case_blind() {
    let s = start(&rule("\"flushdb\"", "1", "deny"));
    let out = s.shim(&["-n", "1", "FlushDB"], None);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_eq!(s.real(&["-n", "1", "dbsize"]).trim(), "1");
    let out = s.shim(
        &["-u", &format!("redis://:{PASSWORD}@localhost/1"), "flushdb"],
        None,
    );
    // The URI names database 1 too (host unreachable or not, the guard refuses first).
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    ok(s.shim(&["-n", "0", "flushdb"], None));
    assert_eq!(s.real(&["-n", "0", "dbsize"]).trim(), "0");
    assert_eq!(s.real(&["-n", "1", "dbsize"]).trim(), "1");
}

#[test]
fn commands_on_standard_input_are_checked_then_piped_to_redis_cli() {
    let s = start(&rule("\"flushall\", \"flushdb\"", "*", "deny"));
    let out = s.shim(&[], Some("get a\nset c 3\nflushdb\n"));
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("(line 3)"), "{err}");
    assert_eq!(s.real(&["exists", "c"]).trim(), "0", "nothing ran");
    let out = ok(s.shim(&[], Some("set c 3\nget c\n")));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n3\n");
    assert_eq!(s.real(&["get", "c"]).trim(), "3");
}

#[test]
fn scan_piped_into_xargs_del_is_caught_at_the_del() {
    let s = start(&rule("\"del\"", "0", "deny"));
    let line = format!(
        "redis-cli -s {0} -a {PASSWORD} --no-auth-warning --scan --pattern 'u:*' | xargs redis-cli -s {0} -a {PASSWORD} --no-auth-warning del",
        s.socket
    );
    // The line checker sees it before anything runs...
    let out = Command::new(common::bin())
        .args(["check", "--policy"])
        .arg(&s.policy)
        .args(["--line", &line])
        .output()
        .unwrap();
    let (o, e) = common::text(&out);
    assert_ne!(out.status.code(), Some(0), "{o}{e}");
    assert!(format!("{o}{e}").contains("deletes the keys"), "{o}{e}");
    // ...and the shim stops the redis-cli that xargs runs.
    let out = s.shell(&line, None);
    assert_ne!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(s.real(&["--scan", "--pattern", "u:*"]).lines().count(), 3);
}

#[test]
fn a_snapshot_rule_saves_the_keys_and_restore_puts_back_every_value_and_ttl() {
    let s = start(&rule(
        "\"flushall\", \"flushdb\", \"del\", \"config_set\"",
        "*",
        "snapshot",
    ));
    let before = s.contents();
    assert!(
        before.contains("0/t string \"soon\\n\" expires"),
        "{before}"
    );
    assert!(before.contains("1/other"), "{before}");

    // FLUSHALL: every database is saved, then flushed.
    let out = ok(s.shim(&["flushall"], None));
    assert_eq!(out.stdout, b"OK\n");
    assert_eq!(s.contents(), "");
    let id = s.last_snapshot();
    let restored = s.restore(&id);
    let (_, err) = common::text(&restored);
    assert!(
        err.contains("9 key(s) restored in database(s) 0, 1"),
        "{err}"
    );
    assert_eq!(s.contents(), before);

    // DEL of two keys through xargs: just those are saved.
    let line = format!(
        "redis-cli -s {0} -a {PASSWORD} --no-auth-warning --scan --pattern 'u:[12]' | xargs redis-cli -s {0} -a {PASSWORD} --no-auth-warning del",
        s.socket
    );
    ok(s.shell(&line, None));
    assert_eq!(s.real(&["exists", "u:1", "u:2", "u:3"]).trim(), "1");
    let id = s.last_snapshot();
    let (_, err) = common::text(&s.restore(&id));
    assert!(err.contains("2 key(s) restored in database(s) 0"), "{err}");
    assert_eq!(s.contents(), before);

    // CONFIG SET: the old value is kept and put back.
    assert_eq!(s.real(&["config", "get", "maxmemory"]), "maxmemory\n0\n");
    ok(s.shim(&["config", "set", "maxmemory", "123456789"], None));
    assert_eq!(
        s.real(&["config", "get", "maxmemory"]),
        "maxmemory\n123456789\n"
    );
    let id = s.last_snapshot();
    let (_, err) = common::text(&s.restore(&id));
    assert!(err.contains("maxmemory = \"0\""), "{err}");
    assert_eq!(s.real(&["config", "get", "maxmemory"]), "maxmemory\n0\n");

    // The snapshots are listed, verified, and hold no password.
    let out = ok(Command::new(common::bin())
        .args(["snapshot", "list", "--json"])
        .env("GARDEFOU_POLICY", &s.policy)
        .output()
        .unwrap());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    for snap in list.as_array().unwrap() {
        let sid = snap["id"].as_str().unwrap();
        ok(Command::new(common::bin())
            .args(["snapshot", "verify", sid])
            .env("GARDEFOU_POLICY", &s.policy)
            .output()
            .unwrap());
        let manifest = std::fs::read_to_string(s.store.join(sid).join("manifest.json")).unwrap();
        assert!(!manifest.contains(PASSWORD), "{manifest}");
        assert!(manifest.contains("\"redis_dump\""), "{manifest}");
    }
}

#[test]
fn a_snapshot_that_cannot_be_taken_refuses_the_command() {
    let s = start(&rule("\"flushdb\"", "*", "snapshot"));
    // A wrong password: the shim cannot DUMP, so FLUSHDB must not run unsaved.
    let out = s.shell(
        &format!(
            "redis-cli -s {} -a wrong --no-auth-warning flushdb",
            s.socket
        ),
        None,
    );
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("snapshot"), "{err}");
    assert_eq!(s.real(&["dbsize"]).trim(), "8");
}

/// Typed at redis-cli's prompt on a real terminal: every command crosses the wire guard. A
/// FLUSHDB waits for the typed host name; a wrong answer refuses it (an error reply) and the
/// session goes on; each command is judged in the database the server accepted a SELECT of.
#[test]
fn an_interactive_redis_cli_is_guarded_command_by_command() {
    let s = start(&rule("\"flushall\", \"flushdb\", \"del\"", "0", "confirm"));
    // A SELECT the server refuses leaves the session in database 0, whose rule asks; database
    // 1 has no rule: its FLUSHDB runs without a question.
    let typed = [
        "set k v1",
        "select 99",
        "flushdb",
        "not-this-host",
        "get k",
        "select 1",
        "flushdb",
        "quit",
    ];
    // A terminal of a known size: without one, redis-cli's line editor asks the terminal
    // where its cursor is, and takes the typed lines for the answer.
    let line = format!(
        "stty cols 200 rows 50; exec timeout --foreground 60 redis-cli -s {} -a {PASSWORD} --no-auth-warning",
        s.socket
    );
    let out = common::typed_on_tty(
        Command::new("script")
            .env("PATH", format!("{}:/usr/bin:/bin", s.bin.display()))
            .env("GARDEFOU_POLICY", &s.policy)
            .env_remove("REDISCLI_AUTH")
            .current_dir(&s.root),
        &line,
        &typed,
    );
    let (shown, err) = common::text(&out);
    assert!(
        shown.contains("gardefou refused this command") && shown.contains("flushes every key"),
        "{shown}{err}"
    );
    assert!(shown.contains("\"v1\""), "{shown}");
    assert!(shown.contains("DB index is out of range"), "{shown}");
    assert_eq!(
        shown.matches("to go ahead, type this host's name:").count(),
        1,
        "{shown}"
    );
    // Database 0 kept everything; database 1 was flushed when the host name was typed.
    assert_eq!(s.real(&["get", "k"]).trim(), "v1", "{shown}");
    assert_eq!(s.real(&["get", "b"]).trim(), "two");
    assert_eq!(s.real(&["-n", "1", "dbsize"]).trim(), "0", "{shown}");
    let audit = common::audit_lines(&s.audit);
    assert!(
        audit
            .iter()
            .any(|e| e["argv"].to_string().contains("--wire-statement")),
        "{audit:?}"
    );
    let log = std::fs::read_to_string(&s.audit).unwrap();
    assert!(!log.contains(PASSWORD), "{log}");
}
