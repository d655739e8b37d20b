//! The apt guard against the real dpkg and apt-get of this machine: small `.deb` packages built
//! here with `dpkg-deb --build`, installed for real, then removed or purged through the hooks
//! and shims that `gardefou install` writes (into a temp directory, passed to apt with `-c` and
//! to dpkg with `--pre-invoke`, so the host's own configuration is never touched).
//!
//! The tests share the host's dpkg database, so they run one at a time (a lock), and every
//! test purges its packages when it ends, passed or failed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

static DPKG: Mutex<()> = Mutex::new(());

const PACKAGES: &[&str] = &["gftest-server", "gftest-client", "gftest-tools"];
const DATA: &str = "/var/lib/gftest-server";

struct Env {
    _lock: std::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    root: PathBuf,
    policy: PathBuf,
    audit: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        // Whatever happened, leave dpkg as it was: no test package, no test data.
        let _ = Command::new("dpkg")
            .args(["--purge", "--force-depends"])
            .args(PACKAGES)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(DATA);
    }
}

/// Builds a package: files under /usr/share/NAME; the server also makes data in DATA on
/// install and deletes it in its postrm on purge, as database packages do.
fn build_deb(dir: &Path, name: &str, depends: Option<&str>) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join(format!("usr/share/{name}"))).unwrap();
    std::fs::write(root.join(format!("usr/share/{name}/README")), name).unwrap();
    let mut control = format!(
        "Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: gardefou tests <tests@example.org>\nDescription: gardefou test package\n"
    );
    if let Some(d) = depends {
        control.push_str(&format!("Depends: {d}\n"));
    }
    std::fs::write(root.join("DEBIAN/control"), control).unwrap();
    if name == "gftest-server" {
        let script = |body: &str| format!("#!/bin/sh\nset -e\n{body}\n");
        let postinst = script(&format!(
            "if [ \"$1\" = configure ]; then mkdir -p {DATA}; echo 'precious rows' > {DATA}/table; fi"
        ));
        let postrm = script(&format!("if [ \"$1\" = purge ]; then rm -rf {DATA}; fi"));
        for (file, text) in [("postinst", postinst), ("postrm", postrm)] {
            let p = root.join("DEBIAN").join(file);
            std::fs::write(&p, text).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let deb = dir.join(format!("{name}_1.0_all.deb"));
    let out = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    deb
}

/// Installs gardefou into a temp prefix (hooks included), builds and installs the three
/// packages for real (server depends on client), and writes `rules` as the policy.
fn setup(rules: &str) -> Env {
    let lock = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let common::Installed { policy, audit, .. } = common::install_production(&root, rules);
    let e = Env {
        _lock: lock,
        _dir: dir,
        root,
        policy,
        audit,
    };
    let debs: Vec<PathBuf> = [
        ("gftest-client", None),
        ("gftest-server", Some("gftest-client")),
        ("gftest-tools", None),
    ]
    .iter()
    .map(|(n, d)| build_deb(&e.root, n, *d))
    .collect();
    let out = Command::new("dpkg").arg("-i").args(&debs).output().unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(installed(), PACKAGES.len());
    e
}

/// The test packages dpkg has installed ("install ok installed").
fn installed() -> usize {
    status()
        .lines()
        .filter(|l| l.ends_with(" installed"))
        .count()
}

/// dpkg's view of the test packages: name and status, one per line.
fn status() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${Status}\\n"])
        .args(PACKAGES)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Env {
    fn apt_conf(&self) -> PathBuf {
        self.root.join("etc/apt/apt.conf.d/05gardefou")
    }

    fn shims(&self) -> PathBuf {
        self.root.join("prefix/bin")
    }

    /// `PROGRAM` without a controlling terminal (setsid), with the test's policy.
    fn no_tty(&self, program: &str) -> Command {
        let mut c = Command::new("setsid");
        c.args(["-w", program])
            .env("GARDEFOU_POLICY", &self.policy)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env_remove("SUDO_USER")
            .stdin(Stdio::null());
        c
    }

    /// `apt-get -y ARGS` with the hook that `gardefou install` wrote, without a terminal.
    fn apt_get(&self, args: &[&str]) -> Output {
        self.no_tty("apt-get")
            .arg("-c")
            .arg(self.apt_conf())
            .arg("-y")
            .args(args)
            .output()
            .unwrap()
    }

    /// The real dpkg with the pre-invoke hook line that `gardefou install` wrote.
    fn dpkg_with_hook(&self, args: &[&str]) -> Output {
        let cfg = std::fs::read_to_string(self.root.join("etc/dpkg/dpkg.cfg.d/gardefou")).unwrap();
        let hook = cfg
            .lines()
            .find_map(|l| l.strip_prefix("pre-invoke="))
            .unwrap()
            .to_owned();
        self.no_tty("dpkg")
            .arg(format!("--pre-invoke={hook}"))
            .args(args)
            .output()
            .unwrap()
    }

    /// A command by name through the shims on PATH, without a terminal.
    fn via_shim(&self, cmd: &str, args: &[&str]) -> Output {
        self.no_tty(cmd)
            .args(args)
            .env("PATH", self.path_var())
            .output()
            .unwrap()
    }

    fn path_var(&self) -> String {
        format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", self.shims().display())
    }

    fn audit_lines(&self) -> Vec<serde_json::Value> {
        common::audit_lines(&self.audit)
    }
}

const PROTECT_SERVER: &str = "[[protect.package]]\nname = \"gftest-serv*\"\non = [\"remove\", \"purge\"]\naction = \"deny\"\nreason = \"the test database server\"\n";

#[test]
fn a_removal_cascading_into_a_protected_server_is_refused_before_dpkg_runs() {
    let e = setup(PROTECT_SERVER);
    let before = status();
    let out = e.apt_get(&["remove", "gftest-client"]);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(100), "apt-get must fail: {err}");
    assert!(
        err.contains("gftest-server will be REMOVED (or purged) because you asked to remove gftest-client (gftest-server depends on gftest-client): the test database server"),
        "{err}"
    );
    assert!(err.contains("returned an error code (4)"), "{err}");
    assert_eq!(status(), before, "dpkg status unchanged");
    assert!(Path::new(DATA).join("table").exists());
    let audit = e.audit_lines();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["decision"], "deny");
    assert_eq!(audit[0]["outcome"], "refused");
    assert_eq!(audit[0]["argv"][0], "gardefou-apt-hook");
}

#[test]
fn an_unprotected_purge_proceeds() {
    let e = setup(PROTECT_SERVER);
    let out = e.apt_get(&["purge", "gftest-tools"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert!(!status().contains("gftest-tools install ok installed"));
    assert_eq!(installed(), 2);
}

#[test]
fn dpkg_purge_through_the_shim_is_refused() {
    let e = setup(PROTECT_SERVER);
    let before = status();
    let out = e.via_shim("dpkg", &["--purge", "gftest-server"]);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("gftest-server will be PURGED"), "{err}");
    assert!(err.contains("no terminal") || err.contains("DENY"), "{err}");
    assert_eq!(status(), before);
}

#[test]
fn a_raw_dpkg_purge_is_refused_by_the_pre_invoke_hook() {
    let e = setup(PROTECT_SERVER);
    let before = status();
    let out = e.dpkg_with_hook(&["-P", "gftest-server"]);
    let (_, err) = common::text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("gftest-server will be PURGED: the test database server"),
        "{err}"
    );
    assert!(err.contains("error executing hook"), "{err}");
    assert_eq!(status(), before);
    assert!(Path::new(DATA).join("table").exists());
    // A package no rule protects goes through the same hook.
    let out = e.dpkg_with_hook(&["-r", "gftest-tools"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
}

#[test]
fn the_apt_get_shim_previews_the_cascade_and_refuses_before_apt_runs() {
    let e = setup(PROTECT_SERVER);
    let before = status();
    let out = e.via_shim("apt-get", &["-y", "remove", "gftest-client"]);
    let (_, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("would change 2 package(s)"), "{err}");
    assert!(err.contains("gftest-server (not asked for)"), "{err}");
    assert!(
        err.contains("because you asked to remove gftest-client"),
        "{err}"
    );
    assert!(
        !err.contains("Reading package lists"),
        "apt itself never ran: {err}"
    );
    assert_eq!(status(), before);
}

#[test]
fn a_purge_that_deletes_protected_data_is_refused_even_when_the_package_is_not() {
    let e = setup(&format!(
        "[[protect.path]]\npath = \"{DATA}\"\naction = \"deny\"\nreason = \"the test cluster's data\"\n"
    ));
    let out = e.apt_get(&["purge", "gftest-server"]);
    let (_, err) = common::text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("the purge `{DATA}` would delete a protected path")),
        "{err}"
    );
    assert!(Path::new(DATA).join("table").exists());
    // A plain removal keeps the data, but apt does not tell its hook which it is: refused too.
    let out = e.apt_get(&["remove", "gftest-server"]);
    assert!(!out.status.success());
    // Through the apt-get shim the preview knows it is only a removal: it goes ahead.
    let out = e.via_shim("apt-get", &["-y", "remove", "gftest-server"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert!(
        status().contains("gftest-server deinstall ok config-files"),
        "{}",
        status()
    );
    assert!(Path::new(DATA).join("table").exists());
}

#[test]
fn a_snapshot_rule_saves_the_data_a_purge_deletes_and_restore_brings_it_back() {
    let e = setup(&format!(
        "[[protect.path]]\npath = \"{DATA}\"\naction = \"snapshot\"\n"
    ));
    let out = e.apt_get(&["purge", "gftest-server", "gftest-client"]);
    let (_, err) = common::text(&out);
    assert!(out.status.success(), "{err}");
    assert!(!Path::new(DATA).exists(), "the postrm ran: {err}");
    let id = e.audit_lines()[0]["snapshot_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = Command::new(common::bin())
        .args(["snapshot", "restore", &id])
        .env("GARDEFOU_POLICY", &e.policy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(
        std::fs::read_to_string(Path::new(DATA).join("table")).unwrap(),
        "precious rows\n"
    );
}

#[test]
fn a_confirmation_names_the_cascade_and_wants_the_package_name_typed() {
    let e = setup(
        "[[protect.package]]\nname = \"gftest-server\"\naction = \"confirm\"\nreason = \"the test server\"\n",
    );
    let cmd = |answer: &str| {
        let line = format!(
            "apt-get -c {} -y remove gftest-client; echo \"apt-exit=$?\"",
            e.apt_conf().display()
        );
        common::on_tty(
            &e.root,
            &[
                ("GARDEFOU_POLICY", e.policy.clone().into_os_string()),
                ("DEBIAN_FRONTEND", "noninteractive".into()),
            ],
            &line,
            answer,
        )
    };
    let before = status();
    let out = cmd("gftest-client");
    let (so, _) = common::text(&out);
    assert!(
        so.contains("because you asked to remove gftest-client"),
        "{so}"
    );
    assert!(so.contains("apt-exit=100"), "{so}");
    assert_eq!(status(), before, "a wrong answer refuses");
    // In production the token is the hostname.
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let out = cmd(&host);
    let (so, _) = common::text(&out);
    assert!(so.contains("apt-exit=0"), "{so}");
    assert_eq!(installed(), 1, "{}", status());
    let audit = e.audit_lines();
    assert_eq!(audit.last().unwrap()["outcome"], "confirmed");
}

#[test]
fn without_gardefou_the_hook_fails_closed_and_says_how_to_disable_it() {
    let e = setup(PROTECT_SERVER);
    let bin = e.shims().join("gardefou");
    std::fs::rename(&bin, bin.with_extension("moved")).unwrap();
    let out = e.apt_get(&["remove", "gftest-tools"]);
    std::fs::rename(bin.with_extension("moved"), &bin).unwrap();
    let (_, err) = common::text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("is missing or broken"), "{err}");
    assert!(
        err.contains(&format!("rm {}", e.apt_conf().display())),
        "{err}"
    );
    assert_eq!(installed(), 3);
}

#[test]
fn a_broken_stream_is_a_hook_error_not_a_pass() {
    let _e = setup("");
    let out = Command::new(common::bin())
        .arg("apt-hook")
        .env("APT_HOOK_INFO_FD", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"/var/cache/apt/archives/x.deb\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("VERSION"));
}

#[test]
fn one_answer_to_the_shim_is_enough_and_override_passes_the_hook() {
    let e = setup(PROTECT_SERVER.replace("deny", "confirm").as_str());
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let env = [
        ("GARDEFOU_POLICY", e.policy.clone().into_os_string()),
        ("DEBIAN_FRONTEND", "noninteractive".into()),
        ("PATH", e.path_var().into()),
    ];
    // The shim asks once; apt's hook below it knows the answer was given (it would otherwise
    // ask again, get no answer, and refuse).
    let line = format!(
        "apt-get -c {} -y remove gftest-client; echo \"apt-exit=$?\"",
        e.apt_conf().display()
    );
    let out = common::on_tty(&e.root, &env, &line, &host);
    let (so, _) = common::text(&out);
    assert!(so.contains("apt-exit=0"), "{so}");
    assert_eq!(installed(), 1, "{}", status());
    assert_eq!(so.matches("type this host's name").count(), 1, "{so}");
    // `gardefou override` runs the real tool; the hook lets the overridden command through.
    std::fs::write(
        &e.policy,
        std::fs::read_to_string(&e.policy)
            .unwrap()
            .replace("\"confirm\"", "\"deny\""),
    )
    .unwrap();
    let out = e.apt_get(&["purge", "gftest-server"]);
    assert!(!out.status.success(), "denied without override");
    let line = format!(
        "{} override --reason 'test decommission' -- apt-get -c {} -y purge gftest-server; echo \"apt-exit=$?\"",
        e.shims().join("gardefou").display(),
        e.apt_conf().display()
    );
    let out = common::on_tty(&e.root, &env, &line, &host);
    let (so, _) = common::text(&out);
    assert!(so.contains("apt-exit=0"), "{so}");
    assert!(!status().contains("gftest-server"), "{}", status());
    let audit = e.audit_lines();
    assert!(
        audit.iter().any(|a| a["outcome"] == "override"),
        "{audit:#?}"
    );
}
