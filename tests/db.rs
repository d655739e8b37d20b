//! The database guard against a real PostgreSQL server: each test starts its own cluster
//! (`initdb` + `pg_ctl`, run as the `postgres` user, listening only on a Unix socket in a temp
//! directory), then runs `psql`/`dropdb` by name through the shims that `gardefou install` put
//! in a temp prefix, without a terminal, and looks at the database with the real psql.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PORT: &str = "5499";

struct Cluster {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    policy: PathBuf,
    audit: PathBuf,
    /// Where the server listens (its socket's name, and TCP when it listens there).
    port: String,
}

fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

use common::ok;

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&common::pg_bin().join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.root.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A running cluster with database `shop` holding table `t` (3 rows), and gardefou installed
/// in a temp prefix with `rules` as its policy.
fn start(rules: &str) -> Cluster {
    start_with(rules, None)
}

/// `start`, also listening on 127.0.0.1:`tcp` when given, where role `app` (password
/// `secret`, all rights on `t`) logs in with SCRAM.
fn start_with(rules: &str, tcp: Option<u16>) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    ok(Command::new("chown")
        .arg("postgres:postgres")
        .arg(&root)
        .output()
        .unwrap());
    let pg = common::pg_bin();
    ok(as_postgres(&pg.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(root.join("data"))
        .output()
        .unwrap());
    let listen = match tcp {
        Some(_) => {
            let hba = root.join("data/pg_hba.conf");
            let old = std::fs::read_to_string(&hba).unwrap();
            std::fs::write(
                &hba,
                format!("host all app 127.0.0.1/32 scram-sha-256\n{old}"),
            )
            .unwrap();
            "127.0.0.1"
        }
        None => "",
    };
    let port = tcp.map_or_else(|| PORT.to_owned(), |p| p.to_string());
    let opts = format!(
        "-p {port} -k {} -c listen_addresses='{listen}' -c fsync=off",
        root.display()
    );
    ok(as_postgres(&pg.join("pg_ctl"))
        .args(["start", "-w", "-o", &opts, "-l"])
        .arg(root.join("log"))
        .arg("-D")
        .arg(root.join("data"))
        .output()
        .unwrap());
    ok(Command::new(common::bin())
        .arg("install")
        .args(common::install_dirs(&root))
        .output()
        .unwrap());
    let audit = root.join("audit.jsonl");
    let policy = common::write_policy(
        &root,
        &format!(
            "[host]\nenvironment = \"production\"\n{rules}\n[audit]\nfile = \"{}\"\n",
            audit.display()
        ),
    );
    let c = Cluster {
        _dir: dir,
        bin: root.join("prefix/bin"),
        root,
        policy,
        audit,
        port,
    };
    c.real_psql("postgres", "CREATE DATABASE shop");
    c.real_psql(
        "shop",
        "CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')",
    );
    c
}

impl Cluster {
    /// The real psql (not the shim), for setting up and looking.
    fn real_psql(&self, db: &str, sql: &str) -> String {
        let out = ok(Command::new("/usr/bin/psql")
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.root)
            .args(["-p", &self.port, "-U", "postgres", "-d", db, "-c", sql])
            .output()
            .unwrap());
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn rows(&self) -> String {
        self.real_psql("shop", "SELECT count(*) FROM t")
    }

    /// `PROGRAM ARGS` by name through the shims, no terminal, connection in the environment.
    fn shim(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        self.shim_home(program, args, stdin, None)
    }

    /// `shim` with `HOME` set to `home` (where psql reads `.psqlrc`) when given.
    fn shim_home(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
        home: Option<&Path>,
    ) -> Output {
        let cmd = &mut Command::new("setsid");
        if let Some(home) = home {
            cmd.env("HOME", home);
        }
        cmd.args(["-w", program])
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("GARDEFOU_POLICY", &self.policy)
            .env("PGHOST", &self.root)
            .env("PGPORT", &self.port)
            .env("PGUSER", "postgres")
            .env_remove("PGDATABASE")
            .env_remove("SUDO_USER")
            .current_dir(&self.root);
        common::output_with_stdin(cmd, stdin)
    }
}

const DENY: &str = "[[protect.sql]]\nengine = \"postgresql\"\ndatabase = \"shop\"\nstatements = [\"drop_database\", \"drop_table\", \"truncate\", \"delete_without_where\", \"unknown\"]\naction = \"deny\"\nreason = \"the shop's data\"\n";

#[test]
fn drop_table_through_psql_is_refused_and_the_table_stays() {
    let c = start(DENY);
    let out = c.shim("psql", &["-d", "shop", "-c", "DROP TABLE t"], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("drops the table t in database shop"), "{err}");
    assert_eq!(c.rows(), "3");
    let audit = common::audit_lines(&c.audit);
    assert_eq!(audit.last().unwrap()["outcome"], "refused");
}

#[test]
fn delete_without_where_is_caught_and_with_where_runs() {
    let c = start(DENY);
    let out = c.shim("psql", &["shop", "-c", "DELETE FROM t"], None);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_eq!(c.rows(), "3");
    let out = c.shim("psql", &["shop", "-c", "DELETE FROM t WHERE id = 1"], None);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(c.rows(), "2");
}

#[test]
fn a_new_column_type_that_rewrites_every_value_is_a_dropped_column() {
    let c = start(
        "[[protect.sql]]\nengine = \"postgresql\"\ndatabase = \"shop\"\nstatements = [\"alter_drop_column\"]\naction = \"deny\"\nreason = \"the shop's columns\"\n",
    );
    let sql = "ALTER TABLE t ALTER COLUMN v TYPE int USING NULL";
    let out = c.shim("psql", &["-d", "shop", "-c", sql], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("drops a column of t"), "{err}");
    assert_eq!(
        c.real_psql("shop", "SELECT string_agg(v, ',' ORDER BY id) FROM t"),
        "a,b,c"
    );
    // A new type the values are cast to keeps them.
    let sql = "ALTER TABLE t ALTER COLUMN id TYPE bigint";
    let out = c.shim("psql", &["-d", "shop", "-c", sql], None);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(
        c.real_psql("shop", "SELECT pg_typeof(id) FROM t LIMIT 1"),
        "bigint"
    );
}

#[test]
fn dropdb_is_caught() {
    let c = start(DENY);
    let out = c.shim("dropdb", &["shop"], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("drops the database shop"), "{err}");
    assert_eq!(
        c.real_psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'shop'"
        ),
        "1"
    );
}

#[test]
fn a_script_with_a_drop_on_line_40_is_caught_and_named_by_line() {
    let c = start(DENY);
    let mut script = String::from("BEGIN;\n");
    for n in 2..40 {
        script.push_str(&format!("INSERT INTO t VALUES ({}, 'x');\n", n + 100));
    }
    script.push_str("DROP TABLE t;\nCOMMIT;\n");
    std::fs::write(c.root.join("script.sql"), &script).unwrap();
    let out = c.shim("psql", &["-d", "shop", "-f", "script.sql"], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("(line 40)"), "{err}");
    assert_eq!(c.rows(), "3", "not even the INSERTs ran");
}

#[test]
fn sql_piped_on_stdin_is_checked_and_harmless_sql_is_handed_to_psql() {
    let c = start(DENY);
    let out = c.shim("psql", &["-d", "shop"], Some("SELECT 1;\nTRUNCATE t;\n"));
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("TRUNCATE"), "{err}");
    assert_eq!(c.rows(), "3");
    let out = c.shim(
        "psql",
        &["-d", "shop", "-v", "ON_ERROR_STOP=1"],
        Some("INSERT INTO t VALUES (4, 'd');\nSELECT count(*) FROM t;\n"),
    );
    let (so, err) = common::text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        so.contains('4'),
        "psql got the SQL and printed the count: {so}"
    );
    assert_eq!(c.rows(), "4");
    // psql's own exit status comes through.
    let out = c.shim(
        "psql",
        &["-d", "shop", "-v", "ON_ERROR_STOP=1"],
        Some("SELECT * FROM no_such_table;\n"),
    );
    assert_eq!(out.status.code(), Some(3), "{:?}", common::text(&out));
    // Also when psql stops reading long before the end (ON_ERROR_STOP): writing the rest into
    // the closed pipe is an error the shim ignores, not a SIGPIPE that kills it.
    let mut long = String::from("SELECT * FROM no_such_table;\n");
    for _ in 0..2048 {
        long.push_str("SELECT 1; -- ");
        long.push_str(&"x".repeat(500));
        long.push('\n');
    }
    let out = c.shim(
        "psql",
        &["-d", "shop", "-v", "ON_ERROR_STOP=1"],
        Some(&long),
    );
    assert_eq!(out.status.code(), Some(3), "{:?}", common::text(&out));
}

#[test]
fn a_do_block_is_unknown_risk_and_another_database_is_not_this_rule() {
    let c = start(DENY);
    let out = c.shim(
        "psql",
        &[
            "-d",
            "shop",
            "-c",
            "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$",
        ],
        None,
    );
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot be known"), "{err}");
    assert_eq!(c.rows(), "3");
    c.real_psql("postgres", "CREATE DATABASE scratch");
    c.real_psql("scratch", "CREATE TABLE junk (x int)");
    let out = c.shim("psql", &["-d", "scratch", "-c", "DROP TABLE junk"], None);
    assert!(out.status.success(), "{:?}", common::text(&out));
}

#[test]
fn a_snapshot_rule_dumps_the_table_first_and_restore_brings_back_every_row() {
    let c = start("");
    let store = c.root.join("store");
    std::fs::create_dir(&store).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        &c.policy,
        format!(
            "version = 1\n[host]\nenvironment = \"production\"\n[[protect.sql]]\nengine = \"postgresql\"\ndatabase = \"shop\"\nstatements = [\"drop_table\", \"delete_without_where\"]\naction = \"snapshot\"\n[snapshot]\nstore = \"{}\"\n[audit]\nfile = \"{}\"\n",
            store.display(),
            c.audit.display()
        ),
    )
    .unwrap();
    let before = c.real_psql(
        "shop",
        "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t",
    );
    let snapshot_of = |out: &Output| {
        let (_, err) = common::text(out);
        assert!(out.status.success(), "{err}");
        let audit = common::audit_lines(&c.audit);
        audit.last().unwrap()["snapshot_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no snapshot id: {audit:?}"))
            .to_owned()
    };
    let restore = |id: &str| {
        let out = Command::new(common::bin())
            .args(["snapshot", "restore", id])
            .env("GARDEFOU_POLICY", &c.policy)
            .env("PGHOST", &c.root)
            .env("PGPORT", PORT)
            .env("PGUSER", "postgres")
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", common::text(&out));
    };
    let after = || {
        c.real_psql(
            "shop",
            "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t",
        )
    };
    // DELETE without WHERE: dumped, rows gone, rows back.
    let id = snapshot_of(&c.shim("psql", &["-d", "shop", "-c", "DELETE FROM t"], None));
    assert_eq!(c.rows(), "0");
    restore(&id);
    assert_eq!(after(), before);
    // DROP TABLE: dumped, table gone, table and rows back.
    let id = snapshot_of(&c.shim("psql", &["-d", "shop", "-c", "DROP TABLE t"], None));
    assert_eq!(
        c.real_psql(
            "shop",
            "SELECT count(*) FROM pg_tables WHERE tablename = 't'"
        ),
        "0"
    );
    let out = Command::new(common::bin())
        .args(["snapshot", "verify", &id])
        .env("GARDEFOU_POLICY", &c.policy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    restore(&id);
    assert_eq!(after(), before);
}

#[test]
fn an_interactive_psql_in_production_shows_the_environment_and_needs_an_explicit_commit() {
    let c = start(DENY);
    // Typed at a real terminal (script's pseudo-terminal), a line a second.
    let typed = [
        "DELETE FROM t WHERE id = 1;",
        "COMMIT;",
        "DELETE FROM t;",
        "\\\\q",
    ];
    let out = common::typed_on_tty(
        Command::new("script")
            .env("PATH", format!("{}:/usr/bin:/bin", c.bin.display()))
            .env("GARDEFOU_POLICY", &c.policy)
            .env("PGHOST", &c.root)
            .env("PGPORT", PORT)
            .env("PGUSER", "postgres")
            .env("NO_COLOR", "1")
            .current_dir(&c.root),
        "psql -d shop",
        &typed,
    );
    let (shown, err) = common::text(&out);
    let local = format!("[PRODUCTION] postgres@[local:{}]/shop", c.root.display());
    assert!(shown.contains(&format!("{local}=# ")), "{shown}{err}");
    // In a transaction after the DELETE: the prompt says so with `*`.
    assert!(shown.contains(&format!("{local}=*# ")), "{shown}");
    // The committed DELETE took effect; the one left uncommitted at \q did not.
    assert_eq!(c.rows(), "2", "{shown}");
}

const LIMITED: &str = "[[protect.sql]]\nengine = \"postgresql\"\ndatabase = \"shop\"\nstatements = [\"delete\", \"update\"]\nmax_rows = 1\nmax_fraction = 0.5\naction = \"confirm\"\nreason = \"the shop's rows\"\n";

/// `WHERE 1=1` has a WHERE and deletes every row: the server is asked how many rows are at
/// stake, and a rule's `max_rows`/`max_fraction` decides by that, not by the spelling.
#[test]
fn a_where_that_keeps_nothing_is_caught_by_the_rows_at_stake() {
    let c = start(LIMITED);
    for sql in [
        "DELETE FROM t WHERE 1=1",
        "DELETE FROM t WHERE true",
        "UPDATE t SET v = NULL WHERE 1 = 1",
        "DELETE FROM t WHERE id >= 2",
    ] {
        let out = c.shim("psql", &["-d", "shop", "-c", sql], None);
        let (_, err) = common::text(&out);
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert_eq!(c.rows(), "3", "{sql}");
        assert!(
            c.real_psql("shop", "SELECT count(*) FROM t WHERE v IS NULL") == "0",
            "{sql}"
        );
        let figures = if sql.contains(">= 2") {
            "2 of 3 rows (67%)"
        } else {
            "3 of 3 rows (100%)"
        };
        assert!(err.contains(figures), "{sql}: {err}");
        assert!(
            err.contains("over the rule's limit: 1 rows or 50% of the table"),
            "{err}"
        );
    }
    // One row, a third of the table: under both limits, no question.
    let out = c.shim(
        "psql",
        &["-d", "shop", "-c", "DELETE FROM t WHERE id = 3"],
        None,
    );
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(c.rows(), "2");
    // The same figures in `gardefou check`'s JSON.
    let out = Command::new(c.bin.join("gardefou"))
        .args([
            "check",
            "--json",
            "--line",
            "psql -d shop -c 'DELETE FROM t WHERE 1=1'",
        ])
        .env("GARDEFOU_POLICY", &c.policy)
        .env("PGHOST", &c.root)
        .env("PGPORT", PORT)
        .env("PGUSER", "postgres")
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "confirm", "{v}");
    assert!(
        v["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2 of 2 rows (100%)"),
        "{v}"
    );
}

/// A DELETE typed for real on a terminal: the figures are shown and the typed hostname lets
/// it through.
#[test]
fn the_rows_at_stake_are_shown_before_a_typed_confirmation() {
    let c = start(LIMITED);
    let host = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let line = format!(
        "PATH={}:/usr/bin:/bin GARDEFOU_POLICY={} PGHOST={} PGPORT={PORT} PGUSER=postgres psql -d shop -c 'DELETE FROM t WHERE id > 0'",
        c.bin.display(),
        c.policy.display(),
        c.root.display()
    );
    let out = common::typed_on_tty(&mut Command::new("script"), &line, &[&host]);
    let (o, _) = common::text(&out);
    assert!(o.contains("3 of 3 rows (100%)"), "{o}");
    assert_eq!(c.rows(), "0", "{o}");
}

/// A script: every DELETE and UPDATE in it is asked about in one session of the server, and
/// the one that keeps nothing is named by its line; nothing of the script runs.
#[test]
fn a_script_is_asked_about_in_one_go_and_its_tautology_named() {
    let c = start(LIMITED);
    let script = c.root.join("cleanup.sql");
    std::fs::write(
        &script,
        "DELETE FROM t WHERE id = 1;\nUPDATE t SET v = 'z' WHERE id = 2;\nDELETE FROM t WHERE 1=1;\n",
    )
    .unwrap();
    let out = c.shim(
        "psql",
        &["-d", "shop", "-f", &script.display().to_string()],
        None,
    );
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("(line 3) (3 of 3 rows (100%))"), "{err}");
    assert!(
        !err.contains("(line 1)") && !err.contains("(line 2)"),
        "{err}"
    );
    assert_eq!(c.rows(), "3");
    assert_eq!(c.real_psql("shop", "SELECT v FROM t WHERE id = 2"), "b");
}

/// A function's body is code of unknown effect: one the same SQL creates, or a volatile one of
/// the database's own (the server says which), makes the call `unknown`; built-in functions and
/// immutable ones do not.
#[test]
fn calls_of_functions_that_may_change_anything_are_unknown() {
    let c = start(DENY);
    let out = c.shim(
        "psql",
        &[
            "-d",
            "shop",
            "-c",
            "CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS 'DELETE FROM t'; SELECT wipe();",
        ],
        None,
    );
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("wipe() (a function this SQL creates)"),
        "{err}"
    );
    assert_eq!(c.rows(), "3");
    c.real_psql(
        "shop",
        "CREATE FUNCTION purge() RETURNS void LANGUAGE sql AS 'DELETE FROM t'; CREATE FUNCTION add2(int, int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 + $2'",
    );
    let out = c.shim("psql", &["-d", "shop", "-c", "SELECT purge()"], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("purge() (a volatile function of the database)"),
        "{err}"
    );
    assert_eq!(c.rows(), "3");
    for harmless in [
        "SELECT add2(1, 2)",
        "SELECT count(*), format('%s rows', count(*)), now() FROM t",
        "INSERT INTO t (id, v) VALUES (4, upper('d'))",
    ] {
        let out = c.shim("psql", &["-d", "shop", "-c", harmless], None);
        assert!(out.status.success(), "{harmless}: {:?}", common::text(&out));
    }
    assert_eq!(c.rows(), "4");
}

/// The questions asked of the server are built from the statement as the parser printed it;
/// one that would not be a single statement is never sent: the figures stay unknown (the rule
/// fires) and nothing else in the database changes.
#[test]
fn a_statement_that_prints_as_several_is_never_sent_to_the_server() {
    let c = start(LIMITED);
    c.real_psql(
        "shop",
        "CREATE TABLE victim (id int); INSERT INTO victim VALUES (1), (2)",
    );
    let sql = "DELETE FROM t WHERE v = '\\''; COMMIT; DELETE FROM victim; SELECT ''--'";
    let out = c.shim("psql", &["-d", "shop", "-c", sql], None);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("would not be one statement"), "{err}");
    assert_eq!(c.real_psql("shop", "SELECT count(*) FROM victim"), "2");
    assert_eq!(c.rows(), "3");
}

/// The wire guard: what psql sends the server is judged statement by statement, whatever
/// produced it. Every case here is SQL that no reading of psql's input can see; each runs
/// without a terminal (refused, the session goes on to the next statement).
const WIRE: &str = "[[protect.sql]]\nengine = \"postgresql\"\ndatabase = \"shop\"\nstatements = [\"drop_table\", \"truncate\", \"unknown\"]\naction = \"deny\"\nreason = \"the shop's data\"\n\n[[protect.sql]]\nengine = \"postgresql\"\ndatabase = \"shop\"\nstatements = [\"delete\", \"update\"]\nmax_rows = 1\naction = \"confirm\"\nreason = \"the shop's rows\"\n";

/// Runs a script on psql's standard input through the shim (no terminal) and returns its
/// output; the script ends by printing `after|N`, the rows of `t` as the session saw them.
/// `psql -c 'SELECT …'` skips the wire relay (nothing in it for a rule to read, and psql sends
/// a `-c` text as it is); a psqlrc, whose statements only the wire sees, or a meta-command keeps
/// the relay, and what they hold is judged there.
#[test]
fn a_select_in_c_runs_as_is_and_a_psqlrc_or_a_meta_command_keeps_the_wire() {
    let c = start(DENY);
    let home = c.root.join("home");
    std::fs::create_dir(&home).unwrap();
    let out = c.shim_home(
        "psql",
        &["-At", "-d", "shop", "-c", "SELECT 40 + 2"],
        None,
        Some(&home),
    );
    let (o, e) = common::text(&out);
    assert_eq!((out.status.code(), o.trim()), (Some(0), "42"), "{e}");
    assert_eq!(
        common::audit_lines(&c.audit).last().unwrap()["outcome"],
        "executed"
    );
    std::fs::write(home.join(".psqlrc"), "DROP TABLE t;\n").unwrap();
    let out = c.shim_home(
        "psql",
        &["-At", "-d", "shop", "-c", "SELECT 1"],
        None,
        Some(&home),
    );
    let (_, e) = common::text(&out);
    assert!(
        e.contains("drops the table t"),
        "the psqlrc's DROP is judged on the wire: {e}"
    );
    assert_eq!(c.rows(), "3");
    let out = c.shim_home(
        "psql",
        &["-X", "-At", "-d", "shop", "-c", "SELECT count(*) FROM t"],
        None,
        Some(&home),
    );
    let (o, e) = common::text(&out);
    assert_eq!(
        (out.status.code(), o.trim()),
        (Some(0), "3"),
        "-X: no psqlrc. {e}"
    );
    let script = c.root.join("drop.sql");
    std::fs::write(&script, "DROP TABLE t;\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    // Command lines the plain path must not take (the relay judges what psql really sends):
    // options glued or abbreviated, a connection string, a psqlrc behind an option's value,
    // statements that change what a later one does.
    let uri = format!("postgresql:///%73hop?host={}", c.root.display());
    let lines: &[&[&str]] = &[
        &["-d", "shop", "-c", "SELECT 1", "-Xc", "DELETE FROM t"],
        &["-d", "shop", "-c", "SELECT 1", "-XcDELETE FROM t"],
        &[
            "-X",
            "-d",
            "shop",
            "-c",
            "SELECT 1",
            "--comm",
            "DELETE FROM t",
        ],
        &["-Xdshop", "-c", "DELETE FROM t"],
        &["-X", "-d", &uri, "-c", "DELETE FROM t"],
        &["-F", "-X", "-d", "shop", "-c", "SELECT 1"],
        &[
            "-X",
            "-d",
            "shop",
            "-c",
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t'",
            "-c",
            "SELECT f()",
        ],
    ];
    std::fs::write(home.join(".psqlrc"), "DELETE FROM t;\n").unwrap();
    for args in lines {
        let out = c.shim_home("psql", args, None, Some(&home));
        assert_eq!(c.rows(), "3", "{args:?}: {:?}", common::text(&out));
    }
    let include = format!("\\i {}", script.display());
    let out = c.shim_home(
        "psql",
        &["-X", "-d", "shop", "-c", &include],
        None,
        Some(&home),
    );
    let (_, e) = common::text(&out);
    assert!(
        e.contains("drops the table t"),
        "an included file is judged: {e}"
    );
    assert_eq!(c.rows(), "3");
    // The psql shim is the static hot path; without the full binary beside it, a `-c` that only
    // reads still runs, and anything else runs nothing.
    assert_eq!(
        std::fs::read_link(c.bin.join("psql")).unwrap(),
        Path::new("gardefou-shim")
    );
    let full = c.bin.join("gardefou");
    let aside = c.root.join("gardefou.aside");
    std::fs::rename(&full, &aside).unwrap();
    let out = c.shim_home(
        "psql",
        &["-X", "-At", "-d", "shop", "-c", "SELECT 6 * 7"],
        None,
        Some(&home),
    );
    let (o, e) = common::text(&out);
    let alone = (out.status.code(), o.trim().to_owned());
    let out = c.shim_home(
        "psql",
        &["-X", "-d", "shop", "-c", "DELETE FROM t"],
        None,
        Some(&home),
    );
    let refused = out.status.code();
    std::fs::rename(&aside, &full).unwrap();
    assert_eq!(alone, (Some(0), "42".to_owned()), "{e}");
    assert_eq!(refused, Some(126), "{:?}", common::text(&out));
    assert_eq!(c.rows(), "3");
}

fn wire_script(c: &Cluster, script: &str) -> (String, String) {
    let out = c.shim(
        "psql",
        &["-X", "-At", "-d", "shop"],
        Some(&format!("{script}\nSELECT 'after', count(*) FROM t;\n")),
    );
    common::text(&out)
}

#[test]
fn statements_made_by_gexec_variables_and_include_files_are_judged_on_the_wire() {
    let c = start(WIRE);
    c.real_psql(
        "shop",
        "CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS 'DELETE FROM t'",
    );
    std::fs::write(c.root.join("drop.sql"), "DROP TABLE t;\n").unwrap();
    let include = format!("\\i {}", c.root.join("drop.sql").display());
    for script in [
        // The DROP only exists once the server has answered the SELECT.
        "SELECT format('DROP TABLE %I', 't') \\gexec",
        "SELECT 'TRUNCATE t' \\gexec",
        // A psql variable holds the whole statement.
        "\\set x 'DROP TABLE t'\n:x;",
        // A file included by the script.
        &include,
        // A volatile function of the database's own: its body is code of unknown effect.
        "SELECT 'SELECT wipe()' \\gexec",
        // Every row, by a WHERE that keeps nothing: the server counts them.
        "SELECT 'DELETE FROM t WHERE 1=1' \\gexec",
        "SELECT 'DELETE FROM t WHERE true' \\gexec",
        "SELECT 'UPDATE t SET v = NULL WHERE 1 = 1' \\gexec",
    ] {
        let (out, err) = wire_script(&c, script);
        assert!(
            err.contains("gardefou refused this statement"),
            "{script}: {out}{err}"
        );
        // The session went on: the next statement ran, and every row is still there.
        assert!(out.contains("after|3"), "{script}: {out}{err}");
        assert_eq!(c.rows(), "3", "{script}");
        assert_eq!(
            c.real_psql("shop", "SELECT count(*) FROM t WHERE v IS NOT NULL"),
            "3",
            "{script}"
        );
    }
    // With standard_conforming_strings off, `'\''` is a quote inside a string to the server
    // and the end of one to a reader that assumes it on: the DROP hidden after it would run.
    // A statement with a backslash is then not read, and is of unknown effect.
    let out = c.shim(
        "psql",
        &[
            "-X",
            "-d",
            "shop",
            "-c",
            "SET standard_conforming_strings = off",
            "-c",
            "SELECT '\\'' ; DROP TABLE t; --'",
        ],
        None,
    );
    let (_, err) = common::text(&out);
    assert!(err.contains("standard_conforming_strings is off"), "{err}");
    assert_eq!(c.rows(), "3", "{err}");
    // An ordinary DELETE of one row: no question, it runs.
    let (out, err) = wire_script(&c, "SELECT 'DELETE FROM t WHERE id = 3' \\gexec");
    assert!(out.contains("after|2"), "{out}{err}");
    assert!(!err.contains("gardefou"), "{err}");
    // The refusals are in the audit log, each with its statement.
    let audit = common::audit_lines(&c.audit);
    let wire: Vec<_> = audit
        .iter()
        .filter(|e| e["argv"].to_string().contains("--wire-statement"))
        .collect();
    assert!(
        wire.iter()
            .any(|e| e["argv"].to_string().contains("DROP TABLE t") && e["decision"] == "deny"),
        "{audit:?}"
    );
}

/// A refused statement inside a transaction fails the transaction, as a server error would:
/// the COMMIT after it commits nothing. A DELETE asked about inside a transaction (the rows
/// at stake counted in the session itself, under a savepoint) leaves the transaction usable.
#[test]
fn a_refusal_inside_a_transaction_fails_it_and_a_question_does_not_disturb_it() {
    let c = start(WIRE);
    let (out, err) = wire_script(
        &c,
        "BEGIN;\nINSERT INTO t VALUES (4, 'd');\nSELECT 'DROP TABLE t' \\gexec\nCOMMIT;",
    );
    assert!(err.contains("gardefou refused this statement"), "{err}");
    assert!(out.contains("after|3"), "{out}{err}");
    assert_eq!(c.rows(), "3");
    // The transaction's own uncommitted row is seen by the count: 1 row at stake, allowed.
    let (out, err) = wire_script(
        &c,
        "BEGIN;\nINSERT INTO t VALUES (4, 'd');\nSELECT 'DELETE FROM t WHERE id = 4' \\gexec\nINSERT INTO t VALUES (5, 'e');\nCOMMIT;",
    );
    assert!(!err.contains("gardefou"), "{out}{err}");
    assert!(!err.contains("ERROR"), "{out}{err}");
    assert_eq!(
        c.real_psql(
            "shop",
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"
        ),
        "1,2,3,5"
    );
}

/// Typed at psql's prompt on a real terminal: a DROP waits for the typed host name; a wrong
/// answer refuses it and the session goes on; the right one lets it through.
#[test]
fn an_interactive_session_is_guarded_statement_by_statement() {
    let c = start(
        WIRE.replace("action = \"deny\"", "action = \"confirm\"")
            .as_str(),
    );
    let host = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let typed = [
        "DROP TABLE t;",
        "not-this-host",
        "SELECT 40 + count(*) AS still FROM t;",
        "COMMIT;",
        "DROP TABLE t;",
        &host,
        "COMMIT;",
        "\\\\q",
    ];
    let out = common::typed_on_tty(
        Command::new("script")
            .env("PATH", format!("{}:/usr/bin:/bin", c.bin.display()))
            .env("GARDEFOU_POLICY", &c.policy)
            .env("PGHOST", &c.root)
            .env("PGPORT", PORT)
            .env("PGUSER", "postgres")
            .env("NO_COLOR", "1")
            .current_dir(&c.root),
        "psql -X -P pager=off -d shop",
        &typed,
    );
    let (shown, err) = common::text(&out);
    assert!(
        shown.contains("gardefou refused this statement"),
        "{shown}{err}"
    );
    assert!(shown.contains("    43"), "{shown}");
    // The prompt names the server, not the guard's socket.
    let local = format!("[PRODUCTION] postgres@[local:{}]/shop", c.root.display());
    assert!(shown.contains(&local), "{shown}");
    assert_eq!(
        c.real_psql(
            "shop",
            "SELECT count(*) FROM pg_tables WHERE tablename = 't'"
        ),
        "0",
        "{shown}"
    );
}

/// A role that logs in with a password over TCP logs in through the guard (SCRAM passes
/// through untouched), from PGPASSWORD or from ~/.pgpass, and its statements are judged there;
/// a wrong password is the server's refusal, as without the guard.
#[test]
fn a_password_login_over_tcp_goes_through_the_guard() {
    let c = start_with(WIRE, Some(55_432));
    c.real_psql(
        "shop",
        "CREATE ROLE app LOGIN PASSWORD 'secret'; GRANT ALL ON t TO app",
    );
    // The password from the environment, or (None) from the user's ~/.pgpass, which names
    // the real server: psql never asks (`-w`).
    let home = c.root.join("home");
    std::fs::create_dir(&home).unwrap();
    let pgpass = home.join(".pgpass");
    std::fs::write(&pgpass, "# the shop\n127.0.0.1:55432:shop:app:secret\n").unwrap();
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let run = |password: Option<&str>, script: &str| {
        let cmd = &mut Command::new("setsid");
        cmd.args([
            "-w",
            "psql",
            "-X",
            "-At",
            "-w",
            "-h",
            "127.0.0.1",
            "-U",
            "app",
            "-d",
            "shop",
        ])
        .env("PATH", format!("{}:/usr/bin:/bin", c.bin.display()))
        .env("GARDEFOU_POLICY", &c.policy)
        .env("PGPORT", "55432")
        .env("HOME", &home)
        .env_remove("PGPASSFILE")
        .env_remove("PGHOST")
        .current_dir(&c.root);
        match password {
            Some(p) => cmd.env("PGPASSWORD", p),
            None => cmd.env_remove("PGPASSWORD"),
        };
        common::text(&common::output_with_stdin(cmd, Some(script)))
    };
    for password in [Some("secret"), None] {
        let (out, err) = run(
            password,
            "SELECT 'DELETE FROM t WHERE 1=1' \\gexec\nSELECT 'in', current_user, count(*) FROM t;\n",
        );
        assert!(out.contains("in|app|3"), "{password:?}: {out}{err}");
        assert!(err.contains("gardefou refused this statement"), "{err}");
        assert!(err.contains("3 of 3 rows"), "{err}");
    }
    let (out, err) = run(Some("wrong"), "SELECT 1;\n");
    assert!(err.contains("password authentication failed"), "{out}{err}");
}

/// `gardefou wire -- CLIENT`: any libpq client through the guard, here pgbench in the extended
/// protocol (Parse, Bind, Execute): a statement that deletes every row is refused at its Parse
/// in both modes, an ordinary one runs.
#[test]
fn a_client_in_the_extended_protocol_is_judged_at_each_parse() {
    let c = start(WIRE);
    let script = c.root.join("bench.sql");
    let pgbench = |mode: &str, sql: &str| {
        std::fs::write(&script, format!("{sql}\n")).unwrap();
        let out = Command::new(common::bin())
            .arg("wire")
            .arg("--")
            .arg(common::pg_bin().join("pgbench"))
            .args(["-n", "-t", "2", "-M", mode, "-f"])
            .arg(&script)
            .arg("shop")
            .env("GARDEFOU_POLICY", &c.policy)
            .env("PGHOST", &c.root)
            .env("PGPORT", PORT)
            .env("PGUSER", "postgres")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (o, e) = common::text(&out);
        (out.status.code(), format!("{o}{e}"))
    };
    for mode in ["extended", "prepared"] {
        let (code, text) = pgbench(mode, "DELETE FROM t WHERE 1=1;");
        assert_ne!(code, Some(0), "{mode}: {text}");
        assert!(
            text.contains("gardefou refused this statement"),
            "{mode}: {text}"
        );
        assert_eq!(c.rows(), "3", "{mode}");
        let (code, text) = pgbench(mode, "SELECT count(*) FROM t WHERE id = 2;");
        assert_eq!(code, Some(0), "{mode}: {text}");
        assert!(!text.contains("gardefou"), "{mode}: {text}");
    }
    // In a pipeline (one Sync for all): the refusal fails the batch, as an error of the
    // server's would, so the INSERT before it is rolled back with it.
    let (code, text) = pgbench(
        "extended",
        "\\startpipeline\nINSERT INTO t VALUES (9, 'z');\nDELETE FROM t WHERE 1=1;\n\\endpipeline",
    );
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("gardefou refused this statement"), "{text}");
    assert_eq!(
        c.real_psql(
            "shop",
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"
        ),
        "1,2,3"
    );
    let (code, text) = pgbench(
        "extended",
        "\\startpipeline\nINSERT INTO t VALUES (9, 'z') ON CONFLICT DO NOTHING;\nSELECT count(*) FROM t;\n\\endpipeline",
    );
    assert_eq!(code, Some(0), "{text}");
    c.real_psql("shop", "DELETE FROM t WHERE id = 9");
    let (code, text) = pgbench("simple", "UPDATE t SET v = 'x' WHERE id = 1;");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(c.real_psql("shop", "SELECT v FROM t WHERE id = 1"), "x");
}

/// A server that talks while the client writes (a NOTICE for every row of a long COPY) is
/// heard while the guard writes to it: neither waits on the other for ever.
#[test]
fn a_copy_whose_every_row_raises_a_notice_goes_through_the_guard() {
    let c = start(WIRE);
    c.real_psql(
        "shop",
        "CREATE FUNCTION noisy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'row % of a long copy, said at length so that the notices fill the buffers', NEW.id; RETURN NEW; END $$; CREATE TRIGGER noisy BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION noisy()",
    );
    let mut script = String::from("COPY t FROM STDIN;\n");
    for i in 10..60_010 {
        script.push_str(&format!("{i}\tv\n"));
    }
    script.push_str("\\.\n");
    let out = c.shim(
        "timeout",
        &["120", "psql", "-X", "-q", "-d", "shop"],
        Some(&script),
    );
    let (_, err) = common::text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        &err[err.len().saturating_sub(2000)..]
    );
    assert!(
        err.contains("row 60009 of a long copy"),
        "{}",
        &err[err.len().saturating_sub(500)..]
    );
    assert_eq!(c.rows(), "60003");
}

/// psql's `\lo_unlink` removes a large object by a fast-path FunctionCall, which no Query
/// carries: on the wire it is of unknown effect, refused here, and the object stays;
/// `\lo_export` (fast-path reads) passes.
#[test]
fn a_large_object_removed_by_a_fast_path_call_is_judged_on_the_wire() {
    let c = start(WIRE);
    let oid = c.real_psql("shop", "SELECT lo_from_bytea(0, 'precious')");
    let file = c.root.join("lo.out");
    let export = format!("\\lo_export {oid} {}", file.display());
    let out = c.shim("psql", &["-X", "-d", "shop", "-c", &export], None);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    let unlink = format!("\\lo_unlink {oid}");
    let out = c.shim("psql", &["-X", "-d", "shop", "-c", &unlink], None);
    let (_, err) = common::text(&out);
    assert!(
        err.contains("gardefou refused") && err.contains("lo_unlink()"),
        "{err}"
    );
    assert_eq!(
        c.real_psql(
            "shop",
            &format!("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = {oid}")
        ),
        "1"
    );
}

/// What psql does on the client's host itself — `\!`, `\o |CMD`, `-o |CMD`, `\o FILE`, `\g
/// FILE`, `\copy … TO FILE`, a backquoted command — is judged as the line it is, through the
/// real psql and the shim, by the bytes left in a protected tree; the same in an ordinary
/// directory runs (and writes) as psql does.
#[test]
fn what_psql_runs_or_writes_on_the_host_is_judged_by_its_effect() {
    let c = start("");
    let data = c.root.join("data-tree");
    std::fs::create_dir(&data).unwrap();
    let file = data.join("PG_VERSION");
    std::fs::write(&file, "15\n").unwrap();
    // The protected tree, after the cluster's own rules.
    let mut policy = std::fs::read_to_string(&c.policy).unwrap();
    policy.push_str(&format!(
        "\n[[protect.path]]\npath = \"{}\"\naction = \"deny\"\ncontents = \"confirm\"\nreason = \"a data directory\"\n",
        data.display()
    ));
    std::fs::write(&c.policy, policy).unwrap();
    let f = file.display().to_string();
    let cases: Vec<(Vec<String>, Option<String>)> = vec![
        (vec!["-c".into(), format!("\\! truncate -s0 {f}")], None),
        (vec!["-c".into(), format!("\\o |tee {f}")], None),
        (
            vec![
                "-o".into(),
                format!("|cat > {f}"),
                "-c".into(),
                "SELECT 1".into(),
            ],
            None,
        ),
        (
            vec![format!("--output={f}"), "-c".into(), "SELECT 1".into()],
            None,
        ),
        (vec!["-c".into(), format!("SELECT 1 \\g {f}")], None),
        (vec!["-c".into(), format!("\\copy t to '{f}'")], None),
        (vec!["-c".into(), format!("\\echo `rm -f {f}`")], None),
        (vec![], Some(format!("SELECT 1;\n\\o {f}\nSELECT 2;\n"))),
    ];
    for (args, stdin) in &cases {
        let mut all = vec!["-X", "-d", "shop"];
        all.extend(args.iter().map(String::as_str));
        let out = c.shim("psql", &all, stdin.as_deref());
        let (_, err) = common::text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?} {stdin:?}: {err}");
        assert!(err.contains("a data directory"), "{args:?}: {err}");
        assert_eq!(std::fs::read(&file).unwrap(), b"15\n", "{args:?} {stdin:?}");
    }
    // In a script, every command on a line runs; what `\i` includes is read too.
    let inner = c.root.join("inner.sql");
    std::fs::write(&inner, format!("\\x \\o {f}\nSELECT 1;\n")).unwrap();
    let outer = c.root.join("outer.sql");
    std::fs::write(&outer, format!("\\i {}\n", inner.display())).unwrap();
    for script in [&inner, &outer] {
        let out = c.shim(
            "psql",
            &["-X", "-d", "shop", "-f", script.to_str().unwrap()],
            None,
        );
        let (_, err) = common::text(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", script.display());
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"15\n",
            "{}",
            script.display()
        );
    }
    // The same through plain psql changes the file: the cases are real.
    let plain = ok(Command::new("/usr/bin/psql")
        .args(["-X", "-h"])
        .arg(&c.root)
        .args(["-p", &c.port, "-U", "postgres", "-d", "shop", "-c"])
        .arg(format!("\\! truncate -s0 {f}"))
        .output()
        .unwrap());
    assert!(plain.status.success());
    assert_eq!(std::fs::read(&file).unwrap(), b"");
    std::fs::write(&file, "15\n").unwrap();
    // Everyday use outside the tree: runs, and psql writes what it was asked to.
    let report = c.root.join("report.txt");
    let out = c.shim(
        "psql",
        &[
            "-X",
            "-At",
            "-d",
            "shop",
            "-o",
            report.to_str().unwrap(),
            "-c",
            "SELECT count(*) FROM t",
        ],
        None,
    );
    assert!(out.status.success(), "{}", common::text(&out).1);
    assert_eq!(std::fs::read_to_string(&report).unwrap().trim(), "3");
    let out = c.shim(
        "psql",
        &[
            "-X",
            "-d",
            "shop",
            "-c",
            &format!("\\! ls {}", data.display()),
        ],
        None,
    );
    let (text, err) = common::text(&out);
    assert!(out.status.success(), "{err}");
    assert!(text.contains("PG_VERSION"), "{text}");
    assert_eq!(std::fs::read(&file).unwrap(), b"15\n");
}
