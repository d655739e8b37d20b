//! Failover before risky maintenance, against the cluster daemons themselves where they run on
//! one machine: a real two-member Patroni cluster (tests/cluster/patroni.sh: etcd, two
//! PostgreSQL clusters, two Patroni processes), Pacemaker's real tools (crm_mon, crm_standby,
//! and its scheduler through crm_simulate) on a CIB file, and the `command` adapter driven by
//! real scripts. SafeKit and keepalived cannot run here: stand-ins follow their documented
//! interfaces (SafeKit's `safekit state -lq` exit codes and `swap`; keepalived's notify lines
//! and track_file).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Patroni tests share the machine's ports and CPU: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
    policy: PathBuf,
    audit: PathBuf,
    state: PathBuf,
}

/// A production policy with `cluster` (the `[cluster]` section and its sub-sections, last) and
/// a protected directory `data` (action snapshot: risky but allowed).
fn host(cluster: &str) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(root.join("data")).unwrap();
    std::fs::write(root.join("data/f"), "rows").unwrap();
    let store = root.join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o700)).unwrap();
    let audit = root.join("audit.jsonl");
    let state = root.join("maintenance.json");
    // The maintenance mark stays in the test's directory.
    let cluster = cluster.replacen(
        "[cluster]\n",
        &format!("[cluster]\nstate_file = \"{}\"\n", state.display()),
        1,
    );
    let policy = common::write_policy(
        &root,
        &format!(
            "[host]\nenvironment = \"production\"\n\
             [[protect.path]]\npath = \"{data}\"\naction = \"snapshot\"\nreason = \"database files\"\n\
             [snapshot]\nstore = \"{store}\"\n[audit]\nfile = \"{audit}\"\n\
             [preflight]\npending_packages = false\n{cluster}",
            data = root.join("data").display(),
            store = store.display(),
            audit = audit.display(),
        ),
    );
    Host {
        _dir: dir,
        root,
        policy,
        audit,
        state,
    }
}

impl Host {
    fn gardefou(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(common::bin())
            .arg("--policy")
            .arg(&self.policy)
            .args(args)
            .envs(env.iter().copied())
            .env_remove("SUDO_USER")
            .output()
            .unwrap()
    }

    fn preflight(&self, env: &[(&str, &str)]) -> (i32, serde_json::Value) {
        let out = self.gardefou(&["preflight", "--json", "--drill"], env);
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {:?}", common::text(&out)));
        (out.status.code().unwrap(), v)
    }

    /// `check --json -- rm -rf DATA`: the decision and the rules that fired.
    fn check_rm_data(&self, env: &[(&str, &str)]) -> (String, Vec<String>) {
        let data = self.root.join("data");
        let out = self.gardefou(
            &["check", "--json", "--", "rm", "-rf", data.to_str().unwrap()],
            env,
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let rules = v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule"].as_str().unwrap().to_owned())
            .collect();
        (v["decision"].as_str().unwrap().to_owned(), rules)
    }

    fn last_outcome(&self) -> String {
        common::audit_lines(&self.audit)
            .last()
            .map(|e| e["outcome"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// The item named `name` in a preflight report: (mark, detail).
fn item(report: &serde_json::Value, name: &str) -> (String, String) {
    let i = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no item {name} in {report}"));
    (
        i["mark"].as_str().unwrap().to_owned(),
        i["detail"].as_str().unwrap().to_owned(),
    )
}

/// A Patroni cluster from tests/cluster/patroni.sh, stopped when dropped.
struct Patroni {
    dir: PathBuf,
    api0: String,
    api1: String,
    /// `restapi.authentication`: the user, and the file holding its password.
    user: String,
    password_file: PathBuf,
    /// The etcd Patroni keeps its state in (the maintenance lock goes there too).
    etcd: String,
    /// pg0's PostgreSQL, by its socket directory.
    conninfo0: String,
}

impl Patroni {
    fn start() -> Patroni {
        let dir = PathBuf::from(format!("/tmp/gardefou-patroni-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/patroni.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap();
        let mut p = Patroni {
            api0: String::new(),
            api1: String::new(),
            user: String::new(),
            password_file: dir.join("rest-password"),
            etcd: String::new(),
            conninfo0: String::new(),
            dir,
        };
        assert!(out.status.success(), "{:?}", common::text(&out));
        let ports = std::fs::read_to_string(p.dir.join("ports")).unwrap();
        let port = |name: &str| {
            ports
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_owned()
        };
        p.api0 = format!("http://127.0.0.1:{}", port("API0"));
        p.api1 = format!("http://127.0.0.1:{}", port("API1"));
        p.user = port("REST_USER");
        p.etcd = format!("http://127.0.0.1:{}", port("ETCD_PORT"));
        p.conninfo0 = format!(
            "host={} port={} user=postgres dbname=postgres",
            p.dir.display(),
            port("PG0")
        );
        p
    }

    /// `PATCH /config` with `body` (the dynamic configuration, basic auth), then waits until
    /// `GET /cluster` shows a member with `role` (up to 60 s).
    fn configure(&self, body: &str, role: &str) {
        let password = std::fs::read_to_string(&self.password_file).unwrap();
        let out = Command::new("curl")
            .args(["-sf", "-X", "PATCH", "-d", body])
            .args(["-u", &format!("{}:{}", self.user, password.trim())])
            .arg(format!("{}/config", self.api0))
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", common::text(&out));
        for _ in 0..120 {
            let out = Command::new("curl")
                .args(["-s", &format!("{}/cluster", self.api0)])
                .output()
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if v["members"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["role"] == role))
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!("no member became {role} after PATCH /config {body}");
    }

    /// `GET URL/patroni`'s role.
    fn role(api: &str) -> String {
        let out = Command::new("curl")
            .args(["-s", &format!("{api}/patroni")])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["role"].as_str().unwrap_or("none").to_owned()
    }
}

impl Drop for Patroni {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/patroni.sh");
        let _ = Command::new("bash")
            .arg(&script)
            .arg("stop")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn maintenance_on_a_patroni_leader_switches_over_and_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Patroni::start();
    assert_eq!(Patroni::role(&p.api0), "master");
    let cluster = format!(
        "[cluster]\nadapter = \"patroni\"\non_primary = \"deny\"\n[cluster.patroni]\nurl = \"{}\"\n",
        p.api0
    );
    // Patroni protects POST /switchover with basic auth: without credentials, nothing moves
    // and the message says which settings are missing.
    let anonymous = host(&cluster);
    let out = anonymous.gardefou(&["maintenance", "start", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(
        common::text(&out).1.contains("HTTP 401") && common::text(&out).1.contains("password_file"),
        "{:?}",
        common::text(&out)
    );
    assert_eq!(Patroni::role(&p.api0), "master");
    assert!(!anonymous.state.exists());
    // With credentials, the member's PostgreSQL for the archiving and slot checks, and the
    // maintenance lock in Patroni's own etcd (its group: the Patroni scope).
    let cluster = format!(
        "{cluster}username = \"{}\"\npassword_file = \"{}\"\nconninfo = \"{}\"\n",
        p.user,
        p.password_file.display(),
        p.conninfo0,
    );
    let lock = format!("[maintenance.lock]\netcd = [\"{}\"]\n", p.etcd);
    let h = host(&format!("{cluster}{lock}"));
    let (code, report) = h.preflight(&[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(item(&report, "cluster role").1, "pg0 is primary (patroni)");
    let (mark, detail) = item(&report, "peer pg1");
    assert_eq!(mark, "pass", "{detail}");
    assert!(detail.contains("lag 0 B"), "{detail}");
    assert!(item(&report, "switchover").1.contains("switch over to pg1"));
    // repmgr-like checks of the candidate, from the real Patroni's answers.
    let (mark, detail) = item(&report, "candidate timeline");
    assert_eq!(mark, "pass", "{detail}");
    assert!(detail.starts_with("pg1 on timeline "), "{detail}");
    assert_eq!(item(&report, "synchronous standby").0, "pass", "{report}");
    assert_eq!(item(&report, "candidate replay").0, "pass", "{report}");
    let (mark, detail) = item(&report, "WAL archiving");
    assert_eq!(
        (mark.as_str(), detail.as_str()),
        ("pass", "archive_mode is off")
    );
    assert_eq!(item(&report, "replication slots").0, "pass", "{report}");
    let (mark, detail) = item(&report, "maintenance lock");
    assert_eq!(mark, "pass", "{detail}");
    assert!(
        detail.contains("group gftest: 0 of 1 slot(s) held"),
        "{detail}"
    );
    assert_eq!(item(&report, "drill: candidate").0, "pass", "{report}");
    // Synchronous mode on (the real Patroni's dynamic configuration): pg1 becomes the
    // synchronous standby, and the check names it; off again, any healthy replica.
    p.configure(r#"{"synchronous_mode": true}"#, "sync_standby");
    let (_, report) = h.preflight(&[]);
    let (mark, detail) = item(&report, "synchronous standby");
    assert_eq!(
        (mark.as_str(), detail.as_str()),
        ("pass", "pg1 is the synchronous standby"),
        "{report}"
    );
    p.configure(r#"{"synchronous_mode": false}"#, "replica");
    let (_, report) = h.preflight(&[]);
    assert_eq!(item(&report, "synchronous standby").0, "pass", "{report}");

    // On the leader, a risky command is refused: move the primary away first.
    let (decision, rules) = h.check_rm_data(&[]);
    assert_eq!(decision, "deny");
    assert!(
        rules.iter().any(|r| r == "[cluster] on_primary"),
        "{rules:?}"
    );

    // A candidate that is not a member: refused by the checklist, nothing moves.
    let bad = host(&format!("{cluster}candidate = \"pg9\"\n{lock}"));
    let out = bad.gardefou(&["maintenance", "start", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("pg9 is not a member"));
    assert_eq!(Patroni::role(&p.api0), "master");
    assert!(!bad.state.exists());
    assert_eq!(bad.last_outcome(), "maintenance-refused");

    // Without a terminal and without --yes: nothing is asked, nothing moves.
    let out = h.gardefou(&["maintenance", "start"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(Patroni::role(&p.api0), "master");

    let out = h.gardefou(
        &["maintenance", "start", "--yes", "--reason", "kernel"],
        &[],
    );
    let (shown, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}{err}");
    assert_eq!(Patroni::role(&p.api0), "replica", "{err}");
    assert_eq!(Patroni::role(&p.api1), "master", "{err}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&h.state).unwrap()).unwrap();
    assert_eq!(state["switched_to"], "pg1");
    assert_eq!(state["reason"], "kernel");
    assert_eq!(state["lock"], "group gftest, slot 0", "{state}");
    let took = state["switchover_ms"].as_u64().unwrap();
    eprintln!("switchover pg0 -> pg1: {took} ms (request to this node secondary)");
    assert_eq!(h.last_outcome(), "maintenance-started");
    // In maintenance (and a replica), the risky command is the rules' alone again.
    let (decision, rules) = h.check_rm_data(&[]);
    assert_eq!(decision, "allow");
    assert!(
        !rules.iter().any(|r| r == "[cluster] on_primary"),
        "{rules:?}"
    );
    assert_eq!(
        h.gardefou(&["maintenance", "status"], &[]).status.code(),
        Some(0)
    );
    // Started twice: refused.
    assert_eq!(
        h.gardefou(&["maintenance", "start", "--yes"], &[])
            .status
            .code(),
        Some(1)
    );

    let out = h.gardefou(&["maintenance", "finish", "--switch-back", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(
        common::text(&out)
            .1
            .contains("slot 0 of group gftest given back"),
        "{:?}",
        common::text(&out)
    );
    assert_eq!(Patroni::role(&p.api0), "master");
    assert!(!h.state.exists());
    assert_eq!(h.last_outcome(), "maintenance-finished");
    assert_eq!(
        h.gardefou(&["maintenance", "status"], &[]).status.code(),
        Some(1)
    );
}

/// Pacemaker's controller, as far as this test needs it: whenever the CIB asks for a change
/// (a node put in standby), Pacemaker's own scheduler computes the transition and
/// crm_simulate applies it to the CIB file, as the executor would on real nodes.
struct Controller {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Controller {
    fn start(cib: PathBuf) -> Controller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let out = cib.with_extension("next.xml");
            while !flag.load(Ordering::Relaxed) {
                let before = std::fs::read(&cib).unwrap();
                let sim = Command::new("crm_simulate")
                    .arg("-x")
                    .arg(&cib)
                    .arg("-S")
                    .arg("-O")
                    .arg(&out)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&sim.stdout);
                // Only a transition with actions changes the CIB; never overwrite a change
                // made (by gardefou's crm_standby) while the scheduler ran.
                if text.contains("Resource action") && std::fs::read(&cib).unwrap() == before {
                    std::fs::rename(&out, &cib).unwrap();
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        Controller {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A Pacemaker tool's output, run against the test's CIB file.
fn crm(cib: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("CIB_file", cib)
        .output()
        .unwrap();
    common::text(&out).0
}

#[test]
fn maintenance_on_the_pacemaker_promoted_node_puts_it_in_standby_until_finish() {
    let h = host(
        "[cluster]\nadapter = \"pacemaker\"\n[cluster.pacemaker]\nresource = \"pgsql-clone\"\nnode = \"db1\"\n",
    );
    let cib = h.root.join("cib.xml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pacemaker/cib.xml"),
        &cib,
    )
    .unwrap();
    let env = [("CIB_file", cib.to_str().unwrap())];
    let (code, report) = h.preflight(&env);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        item(&report, "cluster role").1,
        "db1 is primary (pacemaker)"
    );
    assert_eq!(item(&report, "drill: standby").0, "pass", "{report}");
    let (decision, rules) = h.check_rm_data(&env);
    assert_eq!(decision, "confirm", "on_primary defaults to confirm");
    assert!(rules.iter().any(|r| r == "[cluster] on_primary"));

    let _controller = Controller::start(cib.clone());
    let out = h.gardefou(&["maintenance", "start", "--yes"], &env);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let mon = crm(&cib, "crm_mon", &["-1"]);
    assert!(mon.contains("Node db1: standby"), "{mon}");
    assert!(mon.contains("Promoted: [ db2 ]"), "{mon}");

    let out = h.gardefou(&["maintenance", "finish"], &env);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(
        crm(&cib, "crm_standby", &["-N", "db1", "-G", "-q"]).trim(),
        "off"
    );
    // Out of standby, the scheduler promotes db1 again (its location constraint prefers it).
    let promoted_on_db1 = || crm(&cib, "crm_mon", &["-1"]).contains("Promoted: [ db1 ]");
    let mut tries = 0;
    while !promoted_on_db1() {
        tries += 1;
        assert!(
            tries < 100,
            "db1 was not promoted again after leaving standby"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Pacemaker has no "switch back to": said, and the host stays in maintenance.
    let out = h.gardefou(&["maintenance", "start", "--yes"], &env);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = h.gardefou(&["maintenance", "finish", "--switch-back", "--yes"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::text(&out).1.contains("constraints"));
    assert!(h.state.exists());
}

#[test]
fn pacemaker_without_quorum_refuses_to_move_anything() {
    let h = host(
        "[cluster]\nadapter = \"pacemaker\"\n[cluster.pacemaker]\nresource = \"pgsql-clone\"\nnode = \"db1\"\n",
    );
    let cib = h.root.join("cib.xml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pacemaker/cib.xml"),
    )
    .unwrap()
    .replace("have-quorum=\"1\"", "have-quorum=\"0\"");
    std::fs::write(&cib, text).unwrap();
    let env = [("CIB_file", cib.to_str().unwrap())];
    let (code, report) = h.preflight(&env);
    assert_eq!(code, 1);
    assert!(item(&report, "quorum").1.contains("no quorum"));
    let out = h.gardefou(&["maintenance", "start", "--yes"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(!h.state.exists());
    assert_eq!(
        crm(&cib, "crm_standby", &["-N", "db1", "-G", "-q"]).trim(),
        "off"
    );
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_command_adapter_runs_the_operators_scripts_and_checks_health_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    let role = d.join("role");
    std::fs::write(&role, "primary\n").unwrap();
    script(&d.join("role.sh"), &format!("cat {}\n", role.display()));
    // The switchover takes a second, as a real one would.
    script(
        &d.join("switch.sh"),
        &format!(
            "(sleep 1; echo secondary > {}) >/dev/null 2>&1 &\necho requested\n",
            role.display()
        ),
    );
    script(
        &d.join("release.sh"),
        &format!("touch {}\n", d.join("released").display()),
    );
    let health = d.join("healthy");
    script(
        &d.join("health.sh"),
        &format!("test -e {} && echo standby in sync\n", health.display()),
    );
    let h = host(&format!(
        "[cluster]\nadapter = \"command\"\n[cluster.command]\nrole = \"{0}/role.sh\"\nhealth = \"{0}/health.sh\"\nswitchover = \"{0}/switch.sh\"\nrelease = \"{0}/release.sh\"\n",
        d.display()
    ));
    // No healthy standby: refused, nothing run.
    let out = h.gardefou(&["maintenance", "start", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::text(&out).1.contains("standby: not healthy"));
    assert_eq!(std::fs::read_to_string(&role).unwrap(), "primary\n");

    std::fs::write(&health, "").unwrap();
    let out = h.gardefou(&["maintenance", "start", "--yes"], &[]);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("command: requested"), "{err}");
    assert_eq!(std::fs::read_to_string(&role).unwrap(), "secondary\n");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&h.state).unwrap()).unwrap();
    assert!(state["switchover_ms"].as_u64().unwrap() >= 900, "{state}");
    let out = h.gardefou(&["maintenance", "finish"], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(d.join("released").exists());

    // A switchover that never completes: the wait ends at timeout_secs, no mark is written.
    std::fs::write(&role, "primary\n").unwrap();
    script(&d.join("switch.sh"), "echo requested\n");
    let slow = host(&format!(
        "[cluster]\nadapter = \"command\"\ntimeout_secs = 1\n[cluster.command]\nrole = \"{0}/role.sh\"\nswitchover = \"{0}/switch.sh\"\n",
        d.display()
    ));
    let out = slow.gardefou(&["maintenance", "start", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::text(&out).1.contains("still primary"),
        "{:?}",
        common::text(&out)
    );
    assert!(!slow.state.exists());
    assert_eq!(slow.last_outcome(), "maintenance-switchover-timeout");
}

#[test]
fn the_rm_shim_refuses_risky_work_on_a_primary_until_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("data")).unwrap();
    std::fs::write(root.join("data/f"), "rows").unwrap();
    let role = root.join("role");
    std::fs::write(&role, "primary\n").unwrap();
    let state = root.join("maintenance.json");
    let rules = format!(
        "[[protect.path]]\npath = \"{}\"\naction = \"snapshot\"\nreason = \"database files\"\n\
         [cluster]\nadapter = \"command\"\non_primary = \"deny\"\nstate_file = \"{}\"\n\
         [cluster.command]\nrole = \"cat {}\"\nswitchover = \"echo secondary > {}\"\n",
        root.join("data").display(),
        state.display(),
        role.display(),
        role.display()
    );
    let inst = common::install_production(&root, &rules);
    let path = format!("{}:/usr/bin:/bin", inst.bin.display());
    let rm = |target: &Path| {
        Command::new("rm")
            .args(["-rf", target.to_str().unwrap()])
            .env("PATH", &path)
            .env("GARDEFOU_POLICY", &inst.policy)
            .env_remove("SUDO_USER")
            .output()
            .unwrap()
    };
    // Nothing protected: the cluster is not asked, rm runs.
    std::fs::create_dir(root.join("scratch")).unwrap();
    assert!(rm(&root.join("scratch")).status.success());
    assert!(!root.join("scratch").exists());

    let out = rm(&root.join("data"));
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[cluster] on_primary") && err.contains("maintenance start"),
        "{err}"
    );
    assert!(root.join("data/f").exists());

    let out = Command::new(common::bin())
        .args([
            "--policy",
            inst.policy.to_str().unwrap(),
            "maintenance",
            "start",
            "--yes",
        ])
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = rm(&root.join("data"));
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(
        !root.join("data").exists(),
        "snapshot rule: moved into the store"
    );
}

#[test]
fn safekit_and_keepalived_are_driven_through_their_documented_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    // SafeKit's CLI: `safekit state -m AM -lq` answers in its exit status (STOP 0, WAIT 1,
    // ALONE 2, PRIM 3, SECOND 4); `safekit swap -m AM` exchanges PRIM and SECOND.
    let sk_state = d.join("sk-state");
    std::fs::write(&sk_state, "PRIM\n").unwrap();
    script(
        &d.join("safekit"),
        &format!(
            "f={}\n[ \"$2\" = -m ] && [ \"$3\" = pg ] || {{ echo \"module not found\"; exit 1; }}\n\
             case \"$1\" in\n\
             state) case $(cat $f) in STOP) exit 0;; WAIT) exit 1;; ALONE) exit 2;; PRIM) exit 3;; SECOND) exit 4;; esac;;\n\
             swap) s=$(cat $f); [ \"$s\" = PRIM ] && n=SECOND || n=PRIM; (sleep 1; echo $n > $f) >/dev/null 2>&1 & echo \"swap in progress\";;\n\
             esac\n",
            sk_state.display()
        ),
    );
    let h = host(&format!(
        "[cluster]\nadapter = \"safekit\"\n[cluster.safekit]\nmodule = \"pg\"\ncommand = \"{}\"\n",
        d.join("safekit").display()
    ));
    let out = h.gardefou(&["maintenance", "start", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(std::fs::read_to_string(&sk_state).unwrap(), "SECOND\n");
    let out = h.gardefou(&["maintenance", "finish", "--switch-back", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(std::fs::read_to_string(&sk_state).unwrap(), "PRIM\n");
    std::fs::write(&sk_state, "WAIT\n").unwrap();
    let (code, report) = h.preflight(&[]);
    assert_eq!(code, 1);
    assert!(item(&report, "quorum").1.contains("WAIT"), "{report}");
    std::fs::write(&sk_state, "ALONE\n").unwrap();
    let out = h.gardefou(&["maintenance", "start", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::text(&out).1.contains("outage"));

    // keepalived: its notify script appends `INSTANCE "VI_1" STATE PRIO`; with the track_file
    // (weight 0) non-zero the instance goes to FAULT, back to MASTER (preempt) at 0.
    let notify = d.join("vrrp.state");
    let track = d.join("track");
    std::fs::write(
        &notify,
        "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\n",
    )
    .unwrap();
    std::fs::write(&track, "0\n").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let keepalived = {
        let (stop, notify, track) = (stop.clone(), notify.clone(), track.clone());
        std::thread::spawn(move || {
            let mut last = "MASTER";
            while !stop.load(Ordering::Relaxed) {
                let fault = std::fs::read_to_string(&track)
                    .map(|t| t.trim() != "0")
                    .unwrap_or(false);
                let now = if fault { "FAULT" } else { "MASTER" };
                if now != last {
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&notify)
                        .unwrap();
                    std::io::Write::write_all(
                        &mut f,
                        format!("INSTANCE \"VI_1\" {now} 100\n").as_bytes(),
                    )
                    .unwrap();
                    last = now;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    let k = host(&format!(
        "[cluster]\nadapter = \"keepalived\"\n[cluster.keepalived]\ninstance = \"VI_1\"\nstate_file = \"{}\"\ntrack_file = \"{}\"\n",
        notify.display(),
        track.display()
    ));
    let out = k.gardefou(&["maintenance", "start", "--yes"], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(std::fs::read_to_string(&track).unwrap(), "1\n");
    assert!(
        std::fs::read_to_string(&notify)
            .unwrap()
            .ends_with("FAULT 100\n")
    );
    let out = k.gardefou(&["maintenance", "finish"], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(std::fs::read_to_string(&track).unwrap(), "0\n");
    stop.store(true, Ordering::Relaxed);
    keepalived.join().unwrap();
}

/// A real etcd on loopback (Debian's etcd-server), in its own directory, stopped when dropped.
struct Etcd {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Etcd {
    fn start() -> Etcd {
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "gftest-lock", "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("gftest-lock={peer_url}")])
            .stdout(std::fs::File::create(dir.path().join("etcd.log")).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("etcd (Debian's etcd-server) must be installed");
        let e = Etcd {
            child,
            url,
            _dir: dir,
        };
        for _ in 0..100 {
            let out = Command::new("curl")
                .args(["-s", &format!("{}/health", e.url)])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("true") {
                return e;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("etcd did not become healthy at {}", e.url);
    }
}

impl Etcd {
    /// `[maintenance.lock]`'s endpoint line.
    fn lock(&self) -> String {
        format!("etcd = [\"{}\"]", self.url)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of two "hosts" sharing this machine: `[host] name`, its own maintenance mark, a
/// command adapter whose role and health are files, the lock in `etcd`, and a `bin` with the
/// host shims in front of stand-ins for the real reboot/systemctl (that only leave a mark).
struct FleetHost {
    name: String,
    root: PathBuf,
    policy: PathBuf,
    state: PathBuf,
    audit: PathBuf,
    _dir: tempfile::TempDir,
}

fn fleet_host(name: &str, lock: &str, role: &str) -> FleetHost {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(root.join("role"), format!("{role}\n")).unwrap();
    std::fs::write(root.join("healthy"), "").unwrap();
    script(
        &root.join("health.sh"),
        &format!("test -e {}/healthy && echo in sync\n", root.display()),
    );
    let state = root.join("maintenance.json");
    let audit = root.join("audit.jsonl");
    let policy = common::write_policy(
        &root,
        &format!(
            "[host]\nenvironment = \"production\"\nname = \"{name}\"\n\
             [[protect.power]]\naction = \"confirm\"\n\
             [[protect.service]]\nunit = \"postgresql*\"\naction = \"confirm\"\nreason = \"the database server\"\n\
             [audit]\nfile = \"{audit}\"\n[preflight]\npending_packages = false\n\
             [maintenance.lock]\n{lock}\ngroup = \"pg-main\"\n\
             [cluster]\nadapter = \"command\"\nstate_file = \"{state}\"\ntimeout_secs = 2\n\
             [cluster.command]\nrole = \"cat {r}/role\"\nhealth = \"{r}/health.sh\"\nswitchover = \"echo secondary > {r}/role\"\n",
            audit = audit.display(),
            state = state.display(),
            r = root.display(),
        ),
    );
    let bin = root.join("bin");
    let real = root.join("real");
    std::fs::create_dir(&bin).unwrap();
    std::fs::create_dir(&real).unwrap();
    for shim in ["reboot", "systemctl", "shutdown"] {
        std::os::unix::fs::symlink(common::bin(), bin.join(shim)).unwrap();
        script(
            &real.join(shim),
            &format!("echo \"{shim} $*\" >> {}/ran\n", root.display()),
        );
    }
    FleetHost {
        name: name.to_owned(),
        root,
        policy,
        state,
        audit,
        _dir: dir,
    }
}

impl FleetHost {
    fn gardefou(&self, args: &[&str]) -> Output {
        Command::new(common::bin())
            .arg("--policy")
            .arg(&self.policy)
            .args(args)
            .env_remove("SUDO_USER")
            .output()
            .unwrap()
    }

    /// A host command through its shim (no terminal), the stand-in behind it.
    fn shim(&self, line: &[&str]) -> Output {
        Command::new(line[0])
            .args(&line[1..])
            .env(
                "PATH",
                format!(
                    "{}:{}:/usr/bin:/bin",
                    self.root.join("bin").display(),
                    self.root.join("real").display()
                ),
            )
            .env("GARDEFOU_POLICY", &self.policy)
            .env_remove("SUDO_USER")
            .output()
            .unwrap()
    }

    fn ran(&self) -> String {
        std::fs::read_to_string(self.root.join("ran")).unwrap_or_default()
    }

    fn check(&self, line: &str) -> serde_json::Value {
        let out = self.gardefou(&["check", "--json", "--line", line]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {:?}", common::text(&out)))
    }
}

#[test]
fn the_maintenance_lock_in_etcd_keeps_two_hosts_from_going_down_together() {
    let etcd = Etcd::start();
    let db1 = fleet_host("db1", &etcd.lock(), "primary");
    let db2 = fleet_host("db2", &etcd.lock(), "secondary");

    // Nobody holds the slot: the preflight says so, and a reboot here asks (production).
    let out = db2.gardefou(&["preflight", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (mark, detail) = item(&report, "maintenance lock");
    assert_eq!(mark, "pass", "{detail}");
    assert!(
        detail.contains("group pg-main: 0 of 1 slot(s) held"),
        "{detail}"
    );
    assert_eq!(db2.check("reboot")["decision"], "confirm");

    // db1 (primary) takes the slot, then switches over.
    let out = db1.gardefou(&["maintenance", "start", "--yes", "--reason", "kernel update"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("maintenance slot 0 of group pg-main taken for db1"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(db1.root.join("role")).unwrap(),
        "secondary\n"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&db1.state).unwrap()).unwrap();
    assert_eq!(state["lock"], "group pg-main, slot 0", "{state}");

    // db2 cannot start, nor reboot, nor stop its database: each names db1 and why.
    let out = db2.gardefou(&["maintenance", "start", "--yes"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("db1 since") && err.contains("kernel update"),
        "{err}"
    );
    assert!(!db2.state.exists());
    let v = db2.check("reboot");
    assert_eq!(v["decision"], "deny", "{v}");
    assert!(
        v.to_string().contains("[maintenance.lock]") && v.to_string().contains("db1"),
        "{v}"
    );
    for line in [
        &["reboot"][..],
        &["systemctl", "stop", "postgresql@15-main"],
        &["shutdown", "-r", "now"],
    ] {
        let out = db2.shim(line);
        let err = common::text(&out).1;
        assert_eq!(out.status.code(), Some(1), "{line:?}: {err}");
        assert!(err.contains("db1"), "{line:?}: {err}");
    }
    assert_eq!(db2.ran(), "", "nothing reached the real commands");
    // What takes nothing down passes through the shim untouched.
    let out = db2.shim(&["systemctl", "status", "postgresql"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(db2.ran(), "systemctl status postgresql\n");
    let out = db2.gardefou(&["preflight", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (mark, detail) = item(&report, "maintenance lock");
    assert_eq!(mark, "fail", "{detail}");
    assert!(detail.contains("db1 since"), "{detail}");
    // db1 itself, in maintenance and holding the slot: a reboot only asks for the hostname.
    assert_eq!(db1.check("reboot")["decision"], "confirm");
    let out = db2.gardefou(&["maintenance", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["lock"]["holders"][0]["host"], "db1", "{status}");

    // finish keeps the slot while the cluster is not healthy.
    std::fs::remove_file(db1.root.join("healthy")).unwrap();
    let out = db1.gardefou(&["maintenance", "finish"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not healthy"), "{err}");
    assert!(db1.state.exists());
    assert_eq!(
        db2.gardefou(&["maintenance", "start", "--yes"])
            .status
            .code(),
        Some(1)
    );
    std::fs::write(db1.root.join("healthy"), "").unwrap();
    let out = db1.gardefou(&["maintenance", "finish"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("slot 0 of group pg-main given back"), "{err}");

    // Now db2 goes; db1 "dies" in maintenance: its slot stays, past any timer.
    let out = db2.gardefou(&["maintenance", "start", "--yes", "--reason", "disk swap"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    drop(db2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let db3 = fleet_host("db3", &etcd.lock(), "secondary");
    let out = db3.gardefou(&["maintenance", "start", "--yes"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("db2 since") && err.contains("disk swap"),
        "{err}"
    );
    // Freeing it by hand: typed confirmation of its name; none on no terminal.
    let out = db3.gardefou(&["maintenance", "release", "--host", "db2"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    let out = common::typed_on_tty(
        Command::new("script").env("GARDEFOU_POLICY", &db3.policy),
        &format!("{} maintenance release --host db2", common::bin().display()),
        &["db2"],
    );
    let (so, se) = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{se}");
    assert!(
        so.contains("db2's maintenance slot of group pg-main is free"),
        "{so}"
    );
    let audit = common::audit_lines(&db3.audit);
    assert_eq!(
        audit.last().unwrap()["outcome"],
        "maintenance-lock-released",
        "{audit:?}"
    );
    let out = db3.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = db3.gardefou(&["maintenance", "finish"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(db1.name, "db1");
}

impl Etcd {
    /// Writes `value` at `key` through the v3 gateway (`""` deletes it).
    fn put(&self, key: &str, value: Option<&str>) {
        use base64::Engine;
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let (path, body) = match value {
            Some(v) => ("put", serde_json::json!({"key": b(key), "value": b(v)})),
            None => ("deleterange", serde_json::json!({"key": b(key)})),
        };
        let out = Command::new("curl")
            .args(["-sf", "-X", "POST", "-d", &body.to_string()])
            .arg(format!("{}/v3/kv/{path}", self.url))
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", common::text(&out));
    }
}

#[test]
fn a_slot_someone_else_wrote_still_holds_and_one_host_never_starts_twice_at_once() {
    let etcd = Etcd::start();
    let db1 = fleet_host("db1", &etcd.lock(), "primary");
    let slot = |n: u32| format!("/gardefou/maintenance/pg-main/slot/{n}");
    // An empty value (written by hand, or by a tool that only marks the key) holds the slot.
    etcd.put(&slot(0), Some(""));
    let out = db1.gardefou(&["maintenance", "start", "--yes"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 of 1 slot(s) held: (unreadable value at"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(db1.root.join("role")).unwrap(),
        "primary\n"
    );
    assert_eq!(db1.check("reboot")["decision"], "deny");
    etcd.put(&slot(0), None);
    // A holder past the slot count (written under `slots = 4`) is a host down all the same.
    etcd.put(
        &slot(3),
        Some(r#"{"host":"db9","since":"2026-12-01T00:00:00Z","user":"root","reason":"old"}"#),
    );
    let out = db1.gardefou(&["maintenance", "start", "--yes"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("db9 since"), "{err}");
    etcd.put(&slot(3), None);
    // A start already running on this host (its lock held): the second refuses, nothing moves.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(db1.state.with_extension("lock"))
        .unwrap();
    let held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let out = db1.gardefou(&["maintenance", "start", "--yes"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is running on this host"), "{err}");
    assert_eq!(
        std::fs::read_to_string(db1.root.join("role")).unwrap(),
        "primary\n"
    );
    drop(held);
    let out = db1.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = db1.gardefou(&["maintenance", "finish"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
}

#[test]
fn finish_keeps_the_slot_when_the_cluster_is_unhealthy_after_the_node_is_given_back() {
    let etcd = Etcd::start();
    let db1 = fleet_host("db1", &etcd.lock(), "primary");
    // Giving the node back (the adapter's release) makes it unhealthy for a while: the first
    // time, the standby it brings back is not in sync yet.
    let r = db1.root.display().to_string();
    script(
        &db1.root.join("release.sh"),
        &format!(
            "test -e {r}/released || {{ touch {r}/released; rm -f {r}/healthy; }}; echo node back\n"
        ),
    );
    let text = std::fs::read_to_string(&db1.policy).unwrap();
    std::fs::write(
        &db1.policy,
        text.replace(
            "[cluster.command]\n",
            &format!("[cluster.command]\nrelease = \"{r}/release.sh\"\n"),
        ),
    )
    .unwrap();
    let db2 = fleet_host("db2", &etcd.lock(), "secondary");
    let out = db1.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = db1.gardefou(&["maintenance", "finish"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("after this node was given back"), "{err}");
    assert!(db1.state.exists());
    // The slot is still db1's: db2 waits.
    let out = db2.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("db1 since"));
    // Healthy again: finish gives it back.
    std::fs::write(db1.root.join("healthy"), "").unwrap();
    let out = db1.gardefou(&["maintenance", "finish"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("given back"), "{err}");
    let out = db2.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
}

#[test]
fn of_two_hosts_starting_maintenance_at_the_same_moment_exactly_one_wins() {
    let etcd = Etcd::start();
    let a = fleet_host("race-a", &etcd.lock(), "secondary");
    let b = fleet_host("race-b", &etcd.lock(), "secondary");
    let start = |h: &FleetHost| {
        Command::new(common::bin())
            .arg("--policy")
            .arg(&h.policy)
            .args(["maintenance", "start", "--yes"])
            .env_remove("SUDO_USER")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut wins = [0, 0];
    for round in 0..20 {
        let (pa, pb) = (start(&a), start(&b));
        let (oa, ob) = (
            pa.wait_with_output().unwrap(),
            pb.wait_with_output().unwrap(),
        );
        let won: Vec<bool> = [&oa, &ob]
            .iter()
            .map(|o| o.status.code() == Some(0))
            .collect();
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {:?} / {:?}",
            String::from_utf8_lossy(&oa.stderr),
            String::from_utf8_lossy(&ob.stderr)
        );
        let winner = if won[0] { &a } else { &b };
        wins[usize::from(!won[0])] += 1;
        let out = winner.gardefou(&["maintenance", "finish"]);
        assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
        assert!(!a.state.exists() && !b.state.exists());
    }
    eprintln!("wins: {wins:?}");
}

/// A FleetLock server (tests/cluster/fleetlock.py, following the protocol's document: airlock
/// itself cannot run here), stopped when dropped.
struct FleetLock {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl FleetLock {
    fn start() -> FleetLock {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/fleetlock.py");
        let child = Command::new("python3")
            .arg(&script)
            .arg(&port_file)
            .spawn()
            .unwrap();
        // Dropped (killed and waited for) on every path from here.
        let mut server = FleetLock {
            child,
            url: String::new(),
            _dir: dir,
        };
        for _ in 0..100 {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                server.url = format!("http://127.0.0.1:{port}");
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the FleetLock stand-in did not start");
    }
}

impl Drop for FleetLock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_fleetlock_server_holds_the_slot_from_start_to_finish() {
    let server = FleetLock::start();
    let lock = format!("fleetlock = \"{}\"", server.url);
    let db1 = fleet_host("db1", &lock, "secondary");
    let db2 = fleet_host("db2", &lock, "secondary");
    let out = db1.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = db2.gardefou(&["maintenance", "start", "--yes"]);
    let err = common::text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("HTTP 409") && err.contains("failed_lock") && err.contains("held by db1"),
        "{err}"
    );
    assert!(!db2.state.exists());
    let out = db1.gardefou(&["maintenance", "finish"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = db2.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    // `release --host` asks the server to unlock on that host's behalf.
    let out = db1.gardefou(&["maintenance", "release", "--host", "db2", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let out = db1.gardefou(&["maintenance", "start", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));

    // On a terminal, a reboot through the shim asks for the hostname (production): a wrong
    // answer runs nothing, the hostname runs the stand-in behind the shim.
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        db1.root.join("bin").display(),
        db1.root.join("real").display()
    );
    let on_tty = |typed: &str| {
        common::typed_on_tty(
            Command::new("script")
                .env("PATH", &path)
                .env("GARDEFOU_POLICY", &db1.policy),
            "reboot",
            &[typed],
        )
    };
    let out = on_tty("not-this-host");
    assert_ne!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(db1.ran(), "");
    let out = on_tty(&common::hostname());
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(db1.ran(), "reboot \n");
}

/// A package's maintainer script, run by the real dpkg, may restart the service it ships
/// (the apt and dpkg hooks judged the package operation), but a reboot from it is judged like
/// any other; and `DPKG_MAINTSCRIPT_PACKAGE` exported by hand, with no dpkg above, exempts
/// nothing.
#[test]
fn a_maintainer_script_may_restart_its_service_but_never_reboot() {
    let etcd = Etcd::start();
    let db = fleet_host("db1", &etcd.lock(), "secondary");
    let path = format!(
        "{}:{}:/usr/sbin:/usr/bin:/sbin:/bin",
        db.root.join("bin").display(),
        db.root.join("real").display()
    );
    // By hand: refused (production, no terminal), nothing reaches the stand-ins.
    for line in [&["systemctl", "restart", "postgresql"][..], &["reboot"]] {
        let out = Command::new(line[0])
            .args(&line[1..])
            .env("PATH", &path)
            .env("GARDEFOU_POLICY", &db.policy)
            .env("DPKG_MAINTSCRIPT_PACKAGE", "postgresql-15")
            .env("DPKG_MAINTSCRIPT_NAME", "postinst")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{line:?}: {:?}",
            common::text(&out)
        );
    }
    assert_eq!(db.ran(), "");

    // Under dpkg: the restart runs, the reboot is refused.
    let pkg = db.root.join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: gftest-maintscript\nVersion: 1.0\nArchitecture: all\nMaintainer: gardefou tests <tests@example.org>\nDescription: gardefou test package\n",
    )
    .unwrap();
    script(
        &pkg.join("DEBIAN/postinst"),
        &format!(
            "export PATH={path} GARDEFOU_POLICY={}\n\
             systemctl restart postgresql || echo restart-refused >> {r}/ran\n\
             reboot || echo reboot-refused >> {r}/ran\nexit 0\n",
            db.policy.display(),
            r = db.root.display()
        ),
    );
    let deb = db.root.join("gftest-maintscript.deb");
    let out = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&pkg)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    let out = Command::new("dpkg").arg("-i").arg(&deb).output().unwrap();
    let _ = Command::new("dpkg")
        .args(["--purge", "gftest-maintscript"])
        .output();
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(
        db.ran(),
        "systemctl restart postgresql\nreboot-refused\n",
        "{:?}",
        common::text(&out)
    );
}
