//! The shim installed for real in a temp prefix and run as `rm` through PATH: allowed deletes
//! happen, refused ones leave every byte, exit codes and messages are rm's own, confirmations
//! are typed on a real pseudo-terminal (util-linux `script`), and the audit log holds it all.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    policy: PathBuf,
    audit: PathBuf,
}

fn setup(action: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let out = install_cmd("install", &root);
    assert!(out.status.success(), "{:?}", common::text(&out));
    std::fs::create_dir_all(root.join("t/data/sub")).unwrap();
    std::fs::write(root.join("t/data/db"), b"precious bytes").unwrap();
    std::fs::write(root.join("t/data/sub/wal"), b"more").unwrap();
    std::fs::create_dir_all(root.join("t/scratch")).unwrap();
    std::fs::write(root.join("t/scratch/junk"), b"junk").unwrap();
    let audit = root.join("audit.jsonl");
    let policy = common::write_policy(
        &root,
        &format!(
            "[[protect.path]]\npath = \"{}/t/data\"\naction = \"{action}\"\nreason = \"test data\"\n[audit]\nfile = \"{}\"\n",
            root.display(),
            audit.display()
        ),
    );
    Env {
        bin: root.join("prefix/bin"),
        root,
        _dir: dir,
        policy,
        audit,
    }
}

impl Env {
    fn path_var(&self) -> String {
        format!("{}:/usr/bin:/bin", self.bin.display())
    }

    /// Runs `rm ARGS` by name through PATH, without a controlling terminal (setsid).
    fn rm(&self, args: &[&str]) -> Output {
        Command::new("setsid")
            .arg("-w")
            .arg("rm")
            .args(args)
            .current_dir(&self.root)
            .env("PATH", self.path_var())
            .env("GARDEFOU_POLICY", &self.policy)
            .env_remove("SUDO_USER")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs `rm ARGS` on a pseudo-terminal, typing `answer` at the prompt.
    fn rm_on_tty(&self, args: &str, answer: &str) -> Output {
        let cmd = format!("PATH={} rm {args}; echo \"rm-exit=$?\"", self.path_var());
        on_tty(self, &cmd, answer)
    }

    fn audit_lines(&self) -> Vec<serde_json::Value> {
        common::audit_lines(&self.audit)
    }
}

/// Runs a shell command on a pseudo-terminal with the test's policy and PATH.
fn on_tty(e: &Env, cmd: &str, answer: &str) -> Output {
    common::on_tty(
        &e.root,
        &[
            ("GARDEFOU_POLICY", e.policy.clone().into_os_string()),
            ("PATH", e.path_var().into()),
        ],
        cmd,
        answer,
    )
}

/// `gardefou install|uninstall` with the prefix and every /etc directory under `root`.
fn install_cmd(verb: &str, root: &Path) -> Output {
    Command::new(common::bin())
        .arg(verb)
        .args(common::install_dirs(root))
        .output()
        .unwrap()
}

fn tree_bytes(p: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(p)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let bytes = if e.file_type().is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (e.into_path(), bytes)
        })
        .collect();
    v.sort();
    v
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn allowed_delete_happens_and_is_audited() {
    let e = setup("deny");
    let out = e.rm(&["-v", "t/scratch/junk"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(!e.root.join("t/scratch/junk").exists());
    assert!(
        common::text(&out).0.contains("removed 't/scratch/junk'"),
        "rm's own -v output"
    );
    let log = e.audit_lines();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["outcome"], "executed");
    assert_eq!(log[0]["argv"][2], "t/scratch/junk");
}

/// `rm` on PATH is `gardefou-shim`, the static hot path: it carries out an allowed rm by root on
/// its own, and hands everything else (a refusal, a confirmation, any other user, whose name
/// needs NSS) to the full `gardefou` beside it. Without that one, nothing it would hand over
/// is deleted.
#[test]
fn the_hot_path_runs_allowed_rms_and_hands_the_rest_to_the_full_binary() {
    use std::os::unix::fs::PermissionsExt;
    let e = setup("deny");
    assert_eq!(
        std::fs::read_link(e.bin.join("rm")).unwrap(),
        Path::new("gardefou-shim")
    );
    let elf = Command::new("readelf")
        .args(["-l", "-d"])
        .arg(e.bin.join("gardefou-shim"))
        .output()
        .unwrap();
    let elf = common::text(&elf).0;
    assert!(
        elf.contains("LOAD") && !elf.contains("INTERP") && !elf.contains("NEEDED"),
        "gardefou-shim is linked statically (build.rs): {elf}"
    );
    std::fs::set_permissions(&e.root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let public = e.root.join("t/public");
    std::fs::create_dir(&public).unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o777)).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(e.bin.join("rm"))
            .args(args)
            .current_dir(&e.root)
            .env("PATH", e.path_var())
            .env("GARDEFOU_POLICY", &e.policy)
            .env("HOME", &public)
            .env_remove("SUDO_USER")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Another user: judged by the full binary (NSS for the name), and removed.
    std::fs::write(public.join("a"), b"a").unwrap();
    let out = as_nobody(&["t/public/a"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(!public.join("a").exists());

    // Without the full binary: root's allowed rm still runs, audited; everything the hot path
    // hands over is refused with every byte left.
    let full = e.bin.join("gardefou");
    let aside = e.root.join("gardefou.aside");
    std::fs::rename(&full, &aside).unwrap();
    let out = e.rm(&["t/scratch/junk"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(!e.root.join("t/scratch/junk").exists());
    let log = e.audit_lines();
    assert_eq!(log.last().unwrap()["outcome"], "executed");
    assert_eq!(log.last().unwrap()["argv"][1], "t/scratch/junk");
    let before = tree_bytes(&e.root.join("t/data"));
    let out = e.rm(&["-rf", "t/data"]);
    assert_eq!(out.status.code(), Some(126), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("Nothing was deleted"));
    assert_eq!(tree_bytes(&e.root.join("t/data")), before);
    std::fs::write(public.join("b"), b"b").unwrap();
    let out = as_nobody(&["t/public/b"]);
    assert_eq!(out.status.code(), Some(126), "{:?}", common::text(&out));
    assert!(public.join("b").exists());
    std::fs::rename(&aside, &full).unwrap();
    // With it back, the refusal is the full binary's own.
    let out = e.rm(&["-rf", "t/data"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("test data"));
    assert_eq!(tree_bytes(&e.root.join("t/data")), before);
}

#[test]
fn denied_delete_leaves_every_byte_and_says_why() {
    let e = setup("deny");
    let before = tree_bytes(&e.root.join("t"));
    for args in [
        &["-rf", "t/data"][..],
        &["-rf", "t"],
        &["-r", "t/scratch/../data/"],
        &["-rf", "t/scratch", "t/data"],
    ] {
        let out = e.rm(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let (_, err) = common::text(&out);
        assert!(
            err.contains("DENY") && err.contains("test data") && err.contains("protect.path#1"),
            "{err}"
        );
        assert!(
            err.contains("gardefou override"),
            "says what to do next: {err}"
        );
    }
    assert_eq!(
        tree_bytes(&e.root.join("t")),
        before,
        "all-or-nothing: no operand was deleted"
    );
    let log = e.audit_lines();
    assert_eq!(log.len(), 4);
    assert!(
        log.iter()
            .all(|l| l["outcome"] == "refused" && l["decision"] == "deny")
    );
}

#[test]
fn exit_codes_and_messages_are_the_real_rms() {
    let e = setup("deny");
    std::fs::create_dir(e.root.join("t/dir")).unwrap();
    for args in [
        &["t/nonexistent"][..],
        &[],
        &["t/dir"],
        &["-d", "t/scratch"],
        &["-f", "t/nope"],
    ] {
        let shim = e.rm(args);
        let real = Command::new("/bin/rm")
            .arg0("rm")
            .args(args)
            .current_dir(&e.root)
            .output()
            .unwrap();
        assert_eq!(shim.status.code(), real.status.code(), "{args:?}");
        assert_eq!(common::text(&shim), common::text(&real), "{args:?}");
    }
}

#[test]
fn unknown_option_is_refused_with_a_clear_message_and_nothing_runs() {
    let e = setup("deny");
    let out = e.rm(&["--bogus", "t/scratch/junk"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::text(&out)
            .1
            .contains("unrecognized option '--bogus'")
    );
    assert!(e.root.join("t/scratch/junk").exists());
}

#[test]
fn confirm_without_a_terminal_is_refused() {
    let e = setup("confirm");
    let out = e.rm(&["-rf", "t/data"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::text(&out).1.contains("no terminal to confirm on"));
    assert!(e.root.join("t/data/db").exists());
    assert_eq!(e.audit_lines()[0]["outcome"], "refused-no-terminal");
}

#[test]
fn typed_hostname_on_a_terminal_confirms_and_anything_else_refuses() {
    let e = setup("confirm");
    let out = e.rm_on_tty("-rf t/data", "y");
    let (so, _) = common::text(&out);
    assert!(so.contains("type this host's name"), "{so}");
    assert!(so.contains("rm-exit=1"), "{so}");
    assert!(e.root.join("t/data/db").exists());

    let out = e.rm_on_tty("-rf t/data", &hostname());
    let (so, _) = common::text(&out);
    assert!(so.contains("rm-exit=0"), "{so}");
    assert!(!e.root.join("t/data").exists());
    let outcomes: Vec<String> = e
        .audit_lines()
        .iter()
        .map(|l| l["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["refused-wrong-answer", "confirmed"]);
}

#[test]
fn broken_policy_never_allows_a_deletion_unconfirmed() {
    let e = setup("deny");
    std::fs::write(&e.policy, "version = 1\n[[protect.path]\npath = 3\n").unwrap();
    let out = e.rm(&["t/scratch/junk"]);
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = common::text(&out);
    assert!(
        err.contains("policy could not be loaded") && err.contains("policy.toml:2:"),
        "{err}"
    );
    assert!(e.root.join("t/scratch/junk").exists());
    let out = e.rm(&["t/nothing-here"]);
    let real = Command::new("/bin/rm")
        .arg0("rm")
        .arg("t/nothing-here")
        .current_dir(&e.root)
        .output()
        .unwrap();
    assert_eq!(
        common::text(&out),
        common::text(&real),
        "nothing to delete: rm runs and reports"
    );
}

#[test]
fn closed_standard_descriptors_are_reopened_on_dev_null_before_anything_else_is_opened() {
    // A caller (a daemon, a cron job) may start `rm` with fd 0, 1 or 2 closed. The shim must not
    // let the policy, the audit log or a snapshot take one of those numbers (the next message
    // would land in that file): it opens /dev/null on them first, as Rust's runtime does.
    let e = setup("deny");
    let fake = e.root.join("fake");
    std::fs::create_dir(&fake).unwrap();
    let seen = e.root.join("seen");
    std::fs::write(
        fake.join("rm"),
        format!(
            "#!/bin/sh\nfor fd in 0 1 2; do l=$(/bin/readlink /proc/$$/fd/$fd) || l=closed; s=\"$s$l \"; done\necho \"$s\" > {}\n",
            seen.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(fake.join("rm"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(e.bin.join("rm"));
    cmd.arg("t/scratch/junk")
        .current_dir(&e.root)
        .env("PATH", format!("{}:{}", e.bin.display(), fake.display()))
        .env("GARDEFOU_POLICY", &e.policy);
    // SAFETY: close(2) only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..=2 {
                nix::libc::close(fd);
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "{status:?}");
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(seen, "/dev/null /dev/null /dev/null \n");
    let log = e.audit_lines();
    assert_eq!(log.len(), 1, "the audit line went to the audit log");
    assert_eq!(log[0]["decision"], "allow");
}

#[test]
fn the_parsed_policy_is_cached_and_a_changed_or_foreign_cache_is_never_used() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let e = setup("deny");
    let dir = e.root.join("cache");
    let cache = dir.join("policy.cache");
    let rm = |args: &[&str]| {
        Command::new(e.bin.join("rm"))
            .args(args)
            .current_dir(&e.root)
            .env("PATH", e.path_var())
            .env("GARDEFOU_POLICY", &e.policy)
            .env("GARDEFOU_CACHE_DIR", &dir)
            .env_remove("SUDO_USER")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let junk = |n: u32| {
        let p = e.root.join(format!("t/scratch/junk{n}"));
        std::fs::write(&p, b"junk").unwrap();
        format!("t/scratch/junk{n}")
    };
    // A policy written just now is parsed, not cached: a second edit in the same timestamp
    // tick could not be told apart.
    assert!(rm(&[&junk(1)]).status.success());
    assert!(!cache.exists());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(rm(&[&junk(2)]).status.success());
    let meta = std::fs::metadata(&cache).expect("a settled policy is cached");
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    // Hits: the cache is read, not rewritten, and decides as the file does.
    assert!(rm(&[&junk(3)]).status.success());
    let out = rm(&["-rf", "t/data"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("test data"));
    assert!(e.root.join("t/data/db").exists());
    assert_eq!(std::fs::metadata(&cache).unwrap().ino(), meta.ino());
    // A cache anyone could have written is not read: parsed again and replaced.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(rm(&[&junk(4)]).status.success());
    let replaced = std::fs::metadata(&cache).unwrap();
    assert_ne!(replaced.ino(), meta.ino());
    assert_eq!(replaced.mode() & 0o777, 0o600);
    // Garbage in the cache: parsed again and replaced, the command unharmed.
    std::fs::write(&cache, b"\xff\x00 not a cache").unwrap();
    let out = rm(&["-rf", "t/data"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert_ne!(std::fs::metadata(&cache).unwrap().ino(), replaced.ino());
    // An edit is seen by the very next command.
    let mut text = std::fs::read_to_string(&e.policy).unwrap();
    text.push_str(&format!(
        "[[protect.path]]\npath = \"{}/t/scratch\"\naction = \"deny\"\nreason = \"now protected\"\n",
        e.root.display()
    ));
    std::fs::write(&e.policy, text).unwrap();
    let j = junk(5);
    let out = rm(&["-rf", "t/scratch"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    assert!(common::text(&out).1.contains("now protected"));
    assert!(e.root.join(&j).exists());
    // Uninstalling takes the cache away with the rest.
    let out = Command::new(common::bin())
        .arg("uninstall")
        .args(common::install_dirs(&e.root))
        .env("GARDEFOU_CACHE_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert!(!cache.exists() && !dir.exists());
}

#[test]
fn shim_never_execs_itself_even_with_only_shims_on_path() {
    let e = setup("deny");
    let out = Command::new(e.bin.join("rm"))
        .arg("t/scratch/junk")
        .current_dir(&e.root)
        .env("PATH", format!("{0}:{0}", e.bin.display()))
        .env("GARDEFOU_POLICY", &e.policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(
        common::text(&out)
            .1
            .contains("rm: command not found on PATH")
    );
    let out = Command::new(e.bin.join("rm"))
        .arg("t/scratch/junk")
        .current_dir(&e.root)
        .env("PATH", "")
        .env("GARDEFOU_POLICY", &e.policy)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "empty PATH: the default path is searched"
    );
    assert!(!e.root.join("t/scratch/junk").exists());
}

#[test]
fn override_needs_a_terminal() {
    let e = setup("deny");
    let out = Command::new("setsid")
        .args(["-w"])
        .arg(e.bin.join("gardefou"))
        .args([
            "override", "--reason", "testing", "--", "rm", "-rf", "t/data",
        ])
        .current_dir(&e.root)
        .env("GARDEFOU_POLICY", &e.policy)
        .env_remove("SUDO_USER")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(e.root.join("t/data/db").exists());
    let log = e.audit_lines();
    assert_eq!(log[0]["outcome"], "override-refused-no-terminal");
    assert_eq!(log[0]["override_reason"], "testing");
}

#[test]
fn override_with_typed_hostname_runs_the_real_rm() {
    let e = setup("deny");
    let cmd = format!(
        "{} override --reason 'decommission' -- rm -rf t/data",
        e.bin.join("gardefou").display()
    );
    let out = on_tty(&e, &cmd, &hostname());
    assert!(!e.root.join("t/data").exists(), "{:?}", common::text(&out));
    assert_eq!(e.audit_lines()[0]["outcome"], "override");
}

#[test]
fn install_is_idempotent_and_uninstall_leaves_only_the_audit_log() {
    let e = setup("deny");
    e.rm(&["t/scratch/junk"]);
    let again = install_cmd("install", &e.root);
    assert!(common::text(&again).0.contains("already installed"));
    let un = install_cmd("uninstall", &e.root);
    assert!(un.status.success());
    assert!(!e.bin.join("rm").exists() && !e.bin.join("gardefou").exists());
    assert!(!e.bin.join("gardefou-shim").exists());
    assert!(!e.root.join("etc/gardefou").exists());
    for hook in [
        "etc/apt/apt.conf.d/05gardefou",
        "etc/dpkg/dpkg.cfg.d/gardefou",
    ] {
        assert!(!e.root.join(hook).exists(), "{hook} left behind");
    }
    for shim in gardefou::install::SHIMS {
        assert!(!e.bin.join(shim).exists(), "shim {shim} left behind");
    }
    assert!(e.audit.exists());
}

#[test]
fn log_command_reads_the_audit_log() {
    let e = setup("deny");
    e.rm(&["-rf", "t/data"]);
    e.rm(&["t/scratch/junk"]);
    let out = Command::new(common::bin())
        .args(["log", "--decision", "deny", "--file"])
        .arg(&e.audit)
        .output()
        .unwrap();
    let (so, _) = common::text(&out);
    assert_eq!(so.lines().count(), 1, "{so}");
    assert!(
        so.contains("refused") && so.contains("rm -rf t/data"),
        "{so}"
    );
}

#[test]
fn a_refusal_runs_the_notifiers_with_the_event_and_never_waits_for_them() {
    let e = setup("deny");
    let event = e.root.join("event.json");
    let late = e.root.join("late");
    let mut text = std::fs::read_to_string(&e.policy).unwrap();
    text.push_str(&format!(
        "[[notify]]\non = [\"deny\"]\ncommand = \"cat > {}\"\n\
         [[notify]]\non = [\"deny\"]\ncommand = \"sleep 3; touch {}\"\ntimeout_secs = 1\n\
         [[notify]]\non = [\"override\"]\ncommand = \"touch {}\"\n",
        event.display(),
        late.display(),
        e.root.join("not-an-override").display()
    ));
    std::fs::write(&e.policy, text).unwrap();
    let start = std::time::Instant::now();
    let out = e.rm(&["-rf", "t/data"]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    // The slow notifier (3 s) did not hold the refusal up.
    assert!(took < std::time::Duration::from_millis(1500), "{took:?}");
    let mut waited = 0;
    while std::fs::read_to_string(&event).map_or(true, |t| !t.ends_with('}')) {
        waited += 1;
        assert!(waited < 50, "the deny notifier did not write the event");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&event).unwrap()).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["outcome"], "refused");
    assert_eq!(v["argv"][2], "t/data");
    // Killed at its timeout (1 s), before its `touch`; the override notifier never ran.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert!(!late.exists(), "the notifier outlived its timeout");
    assert!(!e.root.join("not-an-override").exists());
    assert!(e.root.join("t/data/db").exists());
    // `gardefou log --since` reads it back: within the last hour, not after a future date.
    let log = |since: &str| {
        let out = Command::new(common::bin())
            .args(["log", "--json", "--decision", "deny", "--since", since])
            .arg("--file")
            .arg(&e.audit)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", common::text(&out));
        common::text(&out).0.lines().count()
    };
    assert_eq!(log("1h"), 1);
    assert_eq!(log("2099-01-01"), 0);
}

#[test]
fn every_decision_also_goes_to_syslog() {
    let e = setup("deny");
    // A real rsyslogd, listening on a socket of the test's own instead of /dev/log.
    let sock = e.root.join("log.sock");
    let messages = e.root.join("messages");
    let conf = e.root.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            "module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
             input(type=\"imuxsock\" Socket=\"{}\")\n\
             authpriv.* action(type=\"omfile\" file=\"{}\")\n",
            sock.display(),
            messages.display()
        ),
    )
    .unwrap();
    let _rsyslogd = common::KillOnDrop(
        Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(e.root.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd (Debian's rsyslog)"),
    );
    let wait_for = |what: &dyn Fn() -> bool, why: &str| {
        for _ in 0..100 {
            if what() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{why}");
    };
    wait_for(&|| sock.exists(), "rsyslogd made no socket");
    let mut text = std::fs::read_to_string(&e.policy).unwrap();
    text.push_str(&format!("syslog_socket = \"{}\"\n", sock.display()));
    std::fs::write(&e.policy, text).unwrap();
    let out = e.rm(&["-rf", "t/data"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    let out = e.rm(&["t/scratch/junk"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    let read = || std::fs::read_to_string(&messages).unwrap_or_default();
    wait_for(&|| read().lines().count() >= 2, "rsyslogd logged nothing");
    let logged = read();
    let refused = logged
        .lines()
        .find(|l| l.contains("decision=deny"))
        .unwrap_or_else(|| panic!("{logged}"));
    assert!(refused.contains("gardefou["), "{refused}");
    assert!(refused.contains("outcome=refused user=root"), "{refused}");
    assert!(refused.contains("command=\"rm -rf t/data\""), "{refused}");
    assert!(refused.contains("protect.path#1"), "{refused}");
    assert!(
        logged.contains("decision=allow outcome=executed"),
        "{logged}"
    );
}

/// journald's sockets and runtime journal, removed when the test ends if the test started it.
struct Journald(Option<common::KillOnDrop>);

impl Drop for Journald {
    fn drop(&mut self) {
        if let Some(j) = self.0.take() {
            drop(j);
            let _ = std::fs::remove_dir_all("/run/systemd/journal");
            let _ = std::fs::remove_dir_all("/run/log/journal");
        }
    }
}

#[test]
fn with_journald_each_entry_carries_fields_of_its_own() {
    let e = setup("deny");
    let socket = Path::new("/run/systemd/journal/socket");
    // The host's journald if it runs; else Debian's systemd-journald, which runs without
    // systemd as PID 1 and makes its sockets itself.
    let _journald = Journald(if socket.exists() {
        None
    } else {
        let child = Command::new("/lib/systemd/systemd-journald")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("systemd-journald (Debian's systemd)");
        Some(common::KillOnDrop(child))
    });
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A name no earlier run used, to find this entry in the journal.
    let marker = e.root.join("not-there");
    let out = e.rm(&["-rf", "t/data", marker.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{:?}", common::text(&out));
    let command = format!("rm -rf t/data {}", marker.display());
    let mut found = None;
    for _ in 0..50 {
        let out = Command::new("journalctl")
            .args(["-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=gardefou"])
            .output()
            .unwrap();
        found = common::text(&out)
            .0
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["GARDEFOU_COMMAND"] == command.as_str());
        if found.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let v = found.expect("no journal entry with GARDEFOU_COMMAND");
    assert_eq!(v["GARDEFOU_DECISION"], "deny");
    assert_eq!(v["GARDEFOU_OUTCOME"], "refused");
    assert_eq!(v["GARDEFOU_USER"], "root");
    assert_eq!(v["PRIORITY"], "4");
    assert!(
        v["GARDEFOU_RULE"]
            .as_str()
            .unwrap_or_default()
            .contains("protect.path#1"),
        "{v}"
    );
    assert!(
        v["MESSAGE"].as_str().unwrap().starts_with("decision=deny"),
        "{v}"
    );
}
