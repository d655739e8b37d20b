//! The mysql/mysqladmin guard against a real MariaDB server: each test starts its own
//! `mariadbd` (Debian's mariadb-server: `mariadb-install-db` into a temp directory, no TCP
//! port, a Unix socket), runs `mysql`/`mysqladmin` by name through the shims that `gardefou
//! install` put in a temp prefix, without a terminal, and looks at the data with the real
//! client. Databases: `shop` with table `t` (3 rows), `inv` with table `x` (1 row); user `app`
//! with password `secret` (root logs in by socket authentication).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "secret";

struct Server {
    _dir: tempfile::TempDir,
    root: PathBuf,
    socket: String,
    bin: PathBuf,
    policy: PathBuf,
    audit: PathBuf,
    _server: common::KillOnDrop,
}

use common::ok;

fn start(rules: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    ok(Command::new("chown")
        .arg("mysql:mysql")
        .arg(&root)
        .output()
        .unwrap());
    let data = root.join("data");
    // A temp directory of its own: bootstraps running side by side never meet in /tmp (CI once
    // saw one lose its `#sql-temptable` there: "Unknown table 'mysql.tmp_proxies_priv'").
    let tmp = root.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    ok(Command::new("chown")
        .arg("mysql:mysql")
        .arg(&tmp)
        .output()
        .unwrap());
    ok(Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .args([
            "--user=mysql",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        ])
        .output()
        .expect("mariadb-install-db is installed (.ci/run installs Debian's mariadb-server)"));
    let socket = root.join("mysql.sock").display().to_string();
    let child = Command::new("/usr/sbin/mariadbd")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={socket}"))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--pid-file={}", root.join("mysqld.pid").display()))
        .arg(format!("--log-error={}", root.join("mysqld.log").display()))
        .args([
            "--user=mysql",
            "--skip-networking",
            "--innodb-buffer-pool-size=16M",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let common::Installed {
        bin, policy, audit, ..
    } = common::install_production(&root, rules);
    let s = Server {
        _dir: dir,
        bin,
        root,
        socket,
        policy,
        audit,
        _server: common::KillOnDrop(child),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.try_real("SELECT 1").is_none() {
        assert!(
            Instant::now() < deadline,
            "mariadbd did not start: {}",
            std::fs::read_to_string(s.root.join("mysqld.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.real(
        "CREATE DATABASE shop; CREATE TABLE shop.t (id int primary key, v text); \
         INSERT INTO shop.t VALUES (1,'a'),(2,'b'),(3,'c'); \
         CREATE DATABASE inv; CREATE TABLE inv.x (n int); INSERT INTO inv.x VALUES (7); \
         CREATE USER app@localhost IDENTIFIED BY 'secret'; GRANT ALL ON *.* TO app@localhost",
    );
    s
}

impl Server {
    fn try_real(&self, sql: &str) -> Option<String> {
        let out = Command::new("/usr/bin/mariadb")
            .args(["--no-defaults", "--batch", "--skip-column-names", "-uroot"])
            .arg(format!("--socket={}", self.socket))
            .args(["-e", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The real client (not the shim) as root, for setting up and looking.
    fn real(&self, sql: &str) -> String {
        self.try_real(sql)
            .unwrap_or_else(|| panic!("real mariadb failed on {sql}"))
    }

    /// Every row of shop.t, as text.
    fn shop(&self) -> String {
        self.real("SELECT id, v FROM shop.t ORDER BY id")
    }

    fn tables(&self, db: &str) -> String {
        self.real(&format!(
            "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}'"
        ))
    }

    /// `PROGRAM ARGS` by name through the shims, no terminal, as user app with its password
    /// on the command line.
    fn shim(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let cmd = &mut Command::new("setsid");
        cmd.args(["-w", program, "--no-defaults"])
            .arg(format!("--socket={}", self.socket))
            .args(["-uapp", &format!("-p{PASSWORD}")])
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("GARDEFOU_POLICY", &self.policy)
            .env_remove("MYSQL_PWD")
            .env_remove("SUDO_USER")
            .current_dir(&self.root);
        common::output_with_stdin(cmd, stdin)
    }

    /// mysql, as user app, typed at on a real terminal (script's pseudo-terminal), a line a
    /// second: what it showed.
    fn typed(&self, typed: &[&str]) -> String {
        let line = format!(
            "mysql --no-defaults --socket={} -uapp -p{PASSWORD} shop",
            self.socket
        );
        let out = common::typed_on_tty(
            Command::new("script")
                .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
                .env("GARDEFOU_POLICY", &self.policy)
                .current_dir(&self.root),
            &line,
            typed,
        );
        let (shown, err) = common::text(&out);
        format!("{shown}{err}")
    }

    fn gardefou(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(common::bin())
            .args(args)
            .env("GARDEFOU_POLICY", &self.policy)
            .env("PATH", "/usr/bin:/bin")
            .envs(env.iter().copied())
            .current_dir(&self.root)
            .output()
            .unwrap()
    }

    fn snapshot_ids(&self) -> Vec<String> {
        let out = ok(self.gardefou(&["snapshot", "list", "--json"], &[]));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

const CONFIRM: &str = r#"
[[protect.sql]]
engine = "mysql"
database = "*"
statements = ["drop_database", "drop_table", "truncate", "delete_without_where", "update_without_where", "alter_drop_column"]
action = "confirm"
reason = "production data"
"#;

#[test]
fn drop_table_is_refused_without_a_terminal_and_the_password_stays_out_of_the_log() {
    let s = start(CONFIRM);
    let before = s.shop();
    let out = s.shim("mysql", &["shop", "-e", "DROP TABLE t"], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("drops the table t in database shop"), "{err}");
    assert!(err.contains("production data"), "{err}");
    assert_eq!(s.shop(), before, "the table was dropped");
    // Abbreviated options and bundles are read as mysql reads them.
    let out = s.shim("mysql", &["-BNe", "TRUNCATE t", "--datab=shop"], None);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_eq!(s.shop(), before);
    // MariaDB's CREATE OR REPLACE TABLE drops the table and its rows first.
    let out = s.shim(
        "mysql",
        &["shop", "-e", "CREATE OR REPLACE TABLE t (id int)"],
        None,
    );
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("drops the table t in database shop"), "{err}");
    assert_eq!(s.shop(), before);
    // A DELETE that names its rows runs.
    let out = ok(s.shim("mysql", &["shop", "-e", "DELETE FROM t WHERE id = 2"], None));
    assert!(common::text(&out).1.is_empty(), "{:?}", common::text(&out));
    assert_eq!(s.shop(), "1\ta\n3\tc");
    let audit = common::audit_lines(&s.audit);
    assert_eq!(audit.len(), 4);
    assert_eq!(audit[0]["decision"], "confirm");
    assert_eq!(audit[0]["outcome"], "refused-no-terminal");
    assert_eq!(audit[2]["outcome"], "refused-no-terminal");
    assert_eq!(audit[3]["outcome"], "executed");
    let log = std::fs::read_to_string(&s.audit).unwrap();
    assert!(!log.contains(PASSWORD), "{log}");
    assert!(log.contains("-p***"), "{log}");
}

#[test]
fn sql_on_standard_input_is_checked_before_any_of_it_runs() {
    let s = start(CONFIRM);
    let mut script = String::from("SET @n = 0;\nINSERT INTO t VALUES (10, 'new');\n");
    for n in 3..40 {
        script.push_str(&format!("SELECT {n};\n"));
    }
    script.push_str("DROP TABLE t;\n");
    let out = s.shim("mysql", &["shop"], Some(&script));
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("(line 40)"), "{err}");
    assert_eq!(s.shop(), "1\ta\n2\tb\n3\tc", "part of the script ran");
    // Client commands: USE switches the database, DELIMITER changes what ends a statement.
    let script = "USE inv\nDELIMITER //\nSELECT COUNT(*) FROM x//\nDELIMITER ;\nSELECT 'done';\n";
    let out = ok(s.shim("mysql", &["--batch", "--skip-column-names"], Some(script)));
    assert_eq!(common::text(&out).0, "1\ndone\n");
    let out = s.shim("mysql", &[], Some("use inv\nDELETE FROM x\\G\n"));
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("every row") && err.contains("in database inv"),
        "{err}"
    );
    assert_eq!(s.real("SELECT COUNT(*) FROM inv.x"), "1");
}

#[test]
fn the_rule_of_the_database_each_statement_acts_in() {
    let s = start(
        r#"
[[protect.sql]]
engine = "mysql"
database = "shop"
statements = ["drop_table", "truncate"]
action = "deny"
reason = "shop is the live database"
"#,
    );
    // Connected to inv, but the table is shop's.
    let out = s.shim("mysql", &["inv", "-e", "DROP TABLE shop.t"], None);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_eq!(s.tables("shop"), "t");
    // Connected to shop, but the table is inv's after USE.
    ok(s.shim("mysql", &["shop", "-e", "USE inv; DROP TABLE x"], None));
    assert_eq!(s.tables("inv"), "NULL");
    assert_eq!(s.tables("shop"), "t");
    // On the wire, a `use` the server refuses (no such database) leaves the session in shop:
    // the TRUNCATE after it is shop's, and refused.
    let file = s.root.join("typo.sql");
    std::fs::write(&file, "use nosuch\nTRUNCATE t;\n").unwrap();
    let out = s.shim(
        "mysql",
        &["--force", "shop"],
        Some(&format!("source {}\n", file.display())),
    );
    let (_, err) = common::text(&out);
    assert!(err.contains("Unknown database"), "{err}");
    assert!(err.contains("gardefou refused"), "{err}");
    assert_eq!(s.shop(), "1\ta\n2\tb\n3\tc");
    // LOAD DATA LOCAL of a file of some 20 MB (its packets' sequence ids wrap around) goes
    // through whole.
    let big = s.root.join("big.tsv");
    let mut rows = String::new();
    for n in 0..1_000_000 {
        rows.push_str(&format!("{n}\t{:08}\n", n * 7));
    }
    std::fs::write(&big, &rows).unwrap();
    s.real("CREATE TABLE inv.big (n int, v char(8))");
    ok(s.shim(
        "mysql",
        &[
            "--local-infile=1",
            "inv",
            "-e",
            &format!("LOAD DATA LOCAL INFILE '{}' INTO TABLE big", big.display()),
        ],
        None,
    ));
    assert_eq!(
        s.real("SELECT COUNT(*), SUM(n) FROM inv.big"),
        "1000000\t499999500000"
    );
    // The same as `gardefou check` reads it.
    let argv =
        |words: &[&str]| -> Vec<std::ffi::OsString> { words.iter().map(Into::into).collect() };
    let (code, decision, v) = common::check_json(
        &s.policy,
        &s.root,
        &argv(&["mysql", "-e", "TRUNCATE TABLE `shop`.`t`"]),
    );
    assert_eq!((code, decision.as_str()), (4, "deny"), "{v}");
    // The engine must match: a PostgreSQL rule does not fire for mysql.
    let (code, decision, _) = common::check_json(
        &s.policy,
        &s.root,
        &argv(&["psql", "-d", "shop", "-c", "TRUNCATE t"]),
    );
    assert_eq!((code, decision.as_str()), (0, "allow"));
}

#[test]
fn snapshot_then_drop_then_restore() {
    let s = start(
        r#"
[[protect.sql]]
engine = "mysql"
database = "*"
statements = ["drop_database", "drop_table", "delete_without_where"]
action = "snapshot"
"#,
    );
    s.real("INSERT INTO shop.t VALUES (4, 'it''s \\\\ quoted\\n')");
    let before = s.shop();
    let out = ok(s.shim("mysql", &["shop", "-e", "DROP TABLE t"], None));
    let (_, err) = common::text(&out);
    assert!(err.contains("snapshot"), "{err}");
    assert_eq!(s.tables("shop"), "NULL", "the table was not dropped");
    let ids = s.snapshot_ids();
    assert_eq!(ids.len(), 1);
    let manifest =
        std::fs::read_to_string(s.root.join("store").join(&ids[0]).join("manifest.json")).unwrap();
    assert!(!manifest.contains(PASSWORD), "{manifest}");
    // The restore needs app's password, from the environment as for mysql itself.
    let out = s.gardefou(&["snapshot", "restore", &ids[0]], &[]);
    assert!(!out.status.success(), "restored without a password?");
    ok(s.gardefou(
        &["snapshot", "restore", &ids[0]],
        &[("MYSQL_PWD", PASSWORD)],
    ));
    assert_eq!(s.shop(), before);

    // Nothing to save: runs without a snapshot.
    let out = ok(s.shim(
        "mysql",
        &["shop", "-e", "DROP TABLE IF EXISTS nosuch"],
        None,
    ));
    assert!(common::text(&out).1.contains("nothing to snapshot"));
    assert_eq!(s.snapshot_ids().len(), 1);

    // A whole database, dropped by mysqladmin (its own question skipped by -f).
    ok(s.shim("mysqladmin", &["-f", "drop", "inv"], None));
    assert_eq!(s.real("SHOW DATABASES LIKE 'inv'"), "");
    let ids = s.snapshot_ids();
    assert_eq!(ids.len(), 2);
    ok(s.gardefou(&["snapshot", "verify", &ids[1]], &[]));
    ok(s.gardefou(
        &["snapshot", "restore", &ids[1]],
        &[("MYSQL_PWD", PASSWORD)],
    ));
    assert_eq!(s.real("SELECT n FROM inv.x"), "7");
}

#[test]
fn a_failed_snapshot_refuses() {
    let s = start(
        r#"
[[protect.sql]]
engine = "mysql"
statements = ["truncate"]
action = "snapshot"
"#,
    );
    // The server cannot be asked what exists with a wrong password: nothing runs.
    let cmd = &mut Command::new("setsid");
    cmd.args(["-w", "mysql", "--no-defaults"])
        .arg(format!("--socket={}", s.socket))
        .args(["-uapp", "-pwrong", "shop", "-e", "TRUNCATE t"])
        .env("PATH", format!("{}:/usr/bin:/bin", s.bin.display()))
        .env("GARDEFOU_POLICY", &s.policy)
        .env_remove("SUDO_USER");
    let out = common::output_with_stdin(cmd, None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("snapshot") && err.contains("Nothing was run"),
        "{err}"
    );
    assert_eq!(s.shop(), "1\ta\n2\tb\n3\tc");
}

#[test]
fn an_interactive_mysql_in_production_shows_the_environment_and_has_safe_updates() {
    let s = start(CONFIRM);
    // Typed at a real terminal (script's pseudo-terminal), a line a second.
    // The DELETE of every row is asked about on the wire (a wrong answer refuses it); the one
    // that names rows without a key is the server's to refuse, under --safe-updates.
    let typed = [
        "DELETE FROM t;",
        "not-this-host",
        "DELETE FROM t WHERE v IS NULL;",
        "DELETE FROM t WHERE id = 1;",
        "quit",
    ];
    let shown = s.typed(&typed);
    assert!(
        shown.contains("[PRODUCTION] app@localhost [shop]> "),
        "{shown}"
    );
    assert!(shown.contains("gardefou refused this statement"), "{shown}");
    // --safe-updates: the server refuses a DELETE that names rows without a key (error 1175).
    assert!(shown.contains("1175"), "{shown}");
    assert_eq!(s.shop(), "2\tb\n3\tc", "{shown}");
}

/// What mysql reads as it runs (`source FILE`) crosses the wire guard statement by statement:
/// a DROP in a sourced file is refused there, with the server's kind of error naming the rule,
/// and the session goes on (`--force`); an ordinary statement passes without a question; the
/// refusal is in the audit log with its statement.
#[test]
fn sourced_sql_is_judged_on_the_wire_and_the_session_goes_on() {
    let s = start(CONFIRM);
    let file = s.root.join("drop.sql");
    std::fs::write(&file, "SELECT 'from the file';\nDROP TABLE t;\n").unwrap();
    let script = format!(
        "source {}\nSELECT 40 + COUNT(*) AS still FROM t;\nDELETE FROM t WHERE id = 3;\n",
        file.display()
    );
    let out = s.shim("mysql", &["--force", "--batch", "shop"], Some(&script));
    let (shown, err) = common::text(&out);
    assert!(shown.contains("from the file"), "{shown}");
    assert!(
        err.contains("ERROR 1644 (45000)") && err.contains("gardefou refused this statement"),
        "{err}"
    );
    assert!(err.contains("production data"), "{err}");
    assert!(shown.contains("43"), "{shown}");
    assert_eq!(s.shop(), "1\ta\n2\tb", "{shown}");
    // With --abort-source-on-error, mysql stops at the refusal as at any error: nothing
    // after it runs.
    let script = format!("source {}\nDELETE FROM t WHERE id = 2;\n", file.display());
    let out = s.shim("mysql", &["--abort-source-on-error", "shop"], Some(&script));
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_eq!(s.shop(), "1\ta\n2\tb");
    // What MariaDB runs inside `/*M! … */` is read as SQL.
    std::fs::write(&file, "SELECT 1 /*M! ; DROP TABLE t */;\n").unwrap();
    let out = s.shim(
        "mysql",
        &["shop"],
        Some(&format!("source {}\n", file.display())),
    );
    assert!(
        common::text(&out).1.contains("gardefou refused"),
        "{:?}",
        common::text(&out)
    );
    assert_eq!(s.shop(), "1\ta\n2\tb");
    // The database a statement acts in follows `use` (COM_INIT_DB) on the wire.
    std::fs::write(&file, "use inv\nTRUNCATE x;\n").unwrap();
    let out = s.shim(
        "mysql",
        &["shop"],
        Some(&format!("source {}\n", file.display())),
    );
    let (_, err) = common::text(&out);
    assert!(err.contains("gardefou refused"), "{err}");
    assert_eq!(s.real("SELECT COUNT(*) FROM inv.x"), "1");
    let audit = common::audit_lines(&s.audit);
    assert!(
        audit.iter().any(|e| {
            let argv = e["argv"].to_string();
            argv.contains("--wire-statement") && argv.contains("DROP TABLE t")
        }),
        "{audit:?}"
    );
    let log = std::fs::read_to_string(&s.audit).unwrap();
    assert!(!log.contains(PASSWORD), "{log}");
}

/// Typed at mysql's prompt on a real terminal: a DROP waits for the typed host name; a wrong
/// answer refuses it and the session goes on; the right one lets it through.
#[test]
fn an_interactive_mysql_is_guarded_statement_by_statement() {
    let s = start(CONFIRM);
    let host = common::hostname();
    let typed = [
        "DROP TABLE t;",
        "not-this-host",
        "SELECT 40 + COUNT(*) AS still FROM t;",
        "DROP TABLE t;",
        &host,
        "quit",
    ];
    let shown = s.typed(&typed);
    assert!(shown.contains("gardefou refused this statement"), "{shown}");
    assert!(shown.contains("|    43 |"), "{shown}");
    assert!(
        shown.contains("[PRODUCTION] app@localhost [shop]> "),
        "{shown}"
    );
    assert_eq!(s.tables("shop"), "NULL", "{shown}");
}

/// A DELETE or UPDATE with a WHERE is judged by the rows it touches, counted on the server:
/// `WHERE 1=1` is every row and is refused, naming the figures; a DELETE of one row runs
/// without a question. The same on the wire (a sourced file).
#[test]
fn the_rows_at_stake_are_counted_on_the_server() {
    let s = start(
        r#"
[[protect.sql]]
engine = "mysql"
database = "*"
statements = ["delete", "update"]
max_rows = 1
action = "confirm"
reason = "production data"
"#,
    );
    let out = s.shim("mysql", &["shop", "-e", "DELETE FROM t WHERE 1=1"], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("3 of 3 rows (100%)"), "{err}");
    assert!(err.contains("over the rule's limit: 1 rows"), "{err}");
    assert_eq!(s.shop(), "1\ta\n2\tb\n3\tc");
    // In another database, named by the statement: one row, counted there (uncounted, the
    // rule would fire), so it runs.
    ok(s.shim(
        "mysql",
        &["shop", "-e", "UPDATE inv.x SET n = 0 WHERE n > 0"],
        None,
    ));
    assert_eq!(s.real("SELECT n FROM inv.x"), "0");
    let out = ok(s.shim("mysql", &["shop", "-e", "DELETE FROM t WHERE id = 3"], None));
    assert!(
        !common::text(&out).1.contains("gardefou"),
        "{:?}",
        common::text(&out)
    );
    assert_eq!(s.shop(), "1\ta\n2\tb");
    // A WHERE that reads a user variable is not counted (on another connection it would be
    // unset): the figures are unknown, and the rule fires.
    let out = s.shim(
        "mysql",
        &["shop", "-e", "SET @cut = 0; DELETE FROM t WHERE id > @cut"],
        None,
    );
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("an unknown number of rows"), "{err}");
    assert_eq!(s.shop(), "1\ta\n2\tb");
    let file = s.root.join("wipe.sql");
    std::fs::write(&file, "UPDATE t SET v = NULL WHERE 1 = 1;\n").unwrap();
    let out = s.shim(
        "mysql",
        &["shop"],
        Some(&format!("source {}\n", file.display())),
    );
    let (_, err) = common::text(&out);
    assert!(
        err.contains("ERROR 1644") && err.contains("2 of 2 rows (100%)"),
        "{err}"
    );
    assert_eq!(s.shop(), "1\ta\n2\tb");
}

/// mysql's `system CMD`, `pager CMD` and `\! CMD` are judged as the lines they are, by the bytes
/// they would leave in a protected tree; the same command on an ordinary path runs.
#[test]
fn what_mysql_runs_on_the_host_is_judged_by_its_effect() {
    let tree = tempfile::tempdir().unwrap();
    let data = std::fs::canonicalize(tree.path()).unwrap();
    let file = data.join("ibdata1");
    std::fs::write(&file, "pages\n").unwrap();
    let s = start(&format!(
        "[[protect.path]]\npath = \"{}\"\naction = \"deny\"\ncontents = \"confirm\"\nreason = \"a data directory\"\n",
        data.display()
    ));
    let f = file.display();
    for sql in [
        format!("system truncate -s0 {f}"),
        format!("\\! rm -f {f}"),
        format!("SELECT 1;\nsystem cp /dev/null {f}\nSELECT 2;"),
        // `\!` after SQL on the same line runs too (mysql runs it as it reads the line).
        format!("SELECT 1; \\! truncate -s0 {f}"),
    ] {
        let out = s.shim("mysql", &["shop", "-e", &sql], None);
        let (_, err) = common::text(&out);
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert!(err.contains("a data directory"), "{sql}: {err}");
        assert_eq!(std::fs::read(&file).unwrap(), b"pages\n", "{sql}");
    }
    // Through the real mysql alone the first one empties the file: the case is real.
    ok(Command::new("/usr/bin/mariadb")
        .arg("--no-defaults")
        .arg(format!("--socket={}", s.socket))
        .args(["-uapp", &format!("-p{PASSWORD}"), "shop", "-e"])
        .arg(format!("system truncate -s0 {f}"))
        .output()
        .unwrap());
    assert_eq!(std::fs::read(&file).unwrap(), b"");
    std::fs::write(&file, "pages\n").unwrap();
    let out = ok(s.shim(
        "mysql",
        &["shop", "-e", &format!("system ls {}", data.display())],
        None,
    ));
    assert!(
        common::text(&out).0.contains("ibdata1"),
        "{:?}",
        common::text(&out)
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"pages\n");
}
