//! The Debian package, for real: built with cargo-deb (from the test build of gardefou, so the
//! test needs no release build), checked with lintian, installed with apt-get on this machine,
//! its shim and apt hook exercised, upgraded to a rebuilt version, removed (a protected
//! operation: typed on a pseudo-terminal) and purged. Needs root, cargo-deb and lintian
//! (`.ci/run` installs them). The package is purged when the test ends, however it ends.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HOOKS: [&str; 2] = [
    "/etc/apt/apt.conf.d/05gardefou",
    "/etc/dpkg/dpkg.cfg.d/gardefou",
];

fn run(cmd: &mut Command) -> Output {
    cmd.env("DEBIAN_FRONTEND", "noninteractive")
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

fn version() -> String {
    let out = run(Command::new("dpkg-query").args([
        "-W",
        "-f=${db:Status-Abbrev}${Version}",
        "gardefou",
    ]));
    common::text(&out).0
}

/// Builds the package at `version` into `dir`.
fn build(version: &str, dir: &Path) -> PathBuf {
    let out = run(Command::new("cargo")
        .args([
            "deb",
            "--no-build",
            "--profile",
            "dev",
            "--deb-version",
            version,
            "--output",
        ])
        .arg(dir)
        .current_dir(env!("CARGO_MANIFEST_DIR")));
    assert!(
        out.status.success(),
        "cargo deb failed (cargo install cargo-deb): {:?}",
        common::text(&out)
    );
    dir.join(format!("gardefou_{version}_amd64.deb"))
}

/// Whatever happens, the machine ends without gardefou: the hooks go first (they would refuse
/// the purge without a terminal), then the package.
struct Purged;

impl Drop for Purged {
    fn drop(&mut self) {
        for h in HOOKS {
            let _ = std::fs::remove_file(h);
        }
        // The real dpkg: the shim in /usr/local/bin would refuse to purge the guard itself.
        let _ = run(Command::new("/usr/bin/dpkg").args(["--purge", "gardefou"]));
    }
}

#[test]
fn the_package_installs_guards_upgrades_removes_and_purges() {
    let dir = tempfile::tempdir().unwrap();
    let first = build("0.1.0-test1", dir.path());
    let second = build("0.1.0-test2", dir.path());
    let lint = run(Command::new("lintian")
        .args(["--fail-on", "error"])
        .arg(&first));
    assert!(lint.status.success(), "lintian: {:?}", common::text(&lint));

    let _purged = Purged;
    let out = run(Command::new("apt-get").args(["install", "-y"]).arg(&first));
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(version(), "ii 0.1.0-test1");
    assert_eq!(
        std::fs::read_link("/usr/local/bin/rm").unwrap(),
        Path::new("/usr/bin/gardefou-shim")
    );
    assert_eq!(
        std::fs::read_link("/usr/local/bin/psql").unwrap(),
        Path::new("/usr/bin/gardefou-shim")
    );
    assert_eq!(
        std::fs::read_link("/usr/local/bin/apt-get").unwrap(),
        Path::new("/usr/bin/gardefou")
    );
    for h in HOOKS {
        assert!(
            std::fs::read_to_string(h)
                .unwrap()
                .contains("/usr/bin/gardefou"),
            "{h}"
        );
    }
    assert!(
        std::fs::read_to_string("/etc/shells")
            .unwrap()
            .lines()
            .any(|l| l == "/usr/bin/gardefou")
    );
    let conffiles = run(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "gardefou"]));
    assert!(
        common::text(&conffiles)
            .0
            .contains("/etc/gardefou/policy.toml")
    );
    assert!(Path::new("/usr/share/man/man1/gardefou-maintenance.1.gz").exists());
    assert!(Path::new("/usr/share/bash-completion/completions/gardefou").exists());

    // The shim, through an ordinary PATH, with the shipped policy: a vital path is refused,
    // anything else is removed.
    let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let work = tempfile::tempdir().unwrap();
    let pg = Path::new("/var/lib/postgresql");
    let made_pg = !pg.exists();
    if made_pg {
        std::fs::create_dir(pg).unwrap();
    }
    let out = run(Command::new("rm")
        .args(["-rf", "/var/lib/postgresql"])
        .env("PATH", path));
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("a server's data directory"));
    assert!(pg.exists());
    if made_pg {
        std::fs::remove_dir(pg).unwrap();
    }
    let scratch = work.path().join("scratch");
    std::fs::write(&scratch, "x").unwrap();
    let out = run(Command::new("rm").arg(&scratch).env("PATH", path));
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert!(!scratch.exists());

    // The guarded shell runs its lines with the shims first, even from a PATH without them
    // (never /usr/bin, where its binary is, but where rm is the real one).
    let out = run(Command::new("/usr/bin/gardefou")
        .args(["-c", "command -v rm"])
        .env("PATH", "/usr/bin:/bin"));
    assert_eq!(
        common::text(&out).0.trim(),
        "/usr/local/bin/rm",
        "{:?}",
        common::text(&out)
    );

    // apt's hook, past the shim and without a terminal: removing gardefou is refused.
    let out = run(Command::new("/usr/bin/apt-get")
        .args(["remove", "-y", "gardefou"])
        .env("PATH", path));
    assert!(!out.status.success(), "{:?}", common::text(&out));
    assert_eq!(version(), "ii 0.1.0-test1");

    // Upgrade: the shims and hooks stay.
    let out = run(Command::new("apt-get").args(["install", "-y"]).arg(&second));
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(version(), "ii 0.1.0-test2");
    assert!(Path::new("/usr/local/bin/psql").is_symlink());
    assert!(Path::new(HOOKS[0]).exists());

    // Remove, confirmed by typing the hostname: shims, hooks and the login shell entry go; the
    // policy conffile stays until purge.
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let out = common::typed_on_tty(
        Command::new("script")
            .env("PATH", path)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get remove -y gardefou",
        &[&host],
    );
    assert_eq!(version(), "rc 0.1.0-test2", "{:?}", common::text(&out));
    assert!(!Path::new("/usr/local/bin/rm").exists());
    for h in HOOKS {
        assert!(!Path::new(h).exists(), "{h}");
    }
    assert!(
        !std::fs::read_to_string("/etc/shells")
            .unwrap()
            .lines()
            .any(|l| l == "/usr/bin/gardefou")
    );
    assert!(Path::new("/etc/gardefou/policy.toml").exists());

    // Purge: the configuration goes, the audit log stays for the postmortem.
    let out = run(Command::new("apt-get")
        .args(["purge", "-y", "gardefou"])
        .env("PATH", path));
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(version(), "");
    assert!(!Path::new("/etc/gardefou").exists());
    let audit = std::fs::read_to_string("/var/log/gardefou/audit.jsonl").unwrap();
    assert!(audit.contains("\"argv\":[\"apt-get\",\"remove\",\"-y\",\"gardefou\"]"));
}
