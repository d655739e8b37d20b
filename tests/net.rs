//! The read-only net against the real kernel: protected trees are read-only for whatever a
//! guarded line runs — python, perl, a static busybox, a script, make — while the host sees
//! them unchanged. Each line is run for real through `gardefou shell -c` (no terminal, or typed
//! on a real pseudo-terminal), and the bytes left in the trees are compared with what they
//! were, and with what plain bash leaves in an unprotected copy.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Installed, install_production, text, tree_diff, typed_on_tty, whole_tree};

struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    inst: Installed,
}

/// Files of every kind in a tree: `a`, `b`, `sub/c`, `sub/deep/d`, a symlink.
fn populate(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("sub/deep")).unwrap();
    std::fs::write(dir.join("a"), b"alpha\n").unwrap();
    std::fs::write(dir.join("b"), vec![7u8; 70_000]).unwrap();
    std::fs::write(dir.join("sub/c"), b"gamma\n").unwrap();
    std::fs::write(dir.join("sub/deep/d"), b"delta\n").unwrap();
    std::os::unix::fs::symlink("a", dir.join("link")).unwrap();
}

const MAKEFILE: &str = "rm:\n\t/bin/rm -rf $(D)/sub\ncolon:\n\t: > $(D)/a\ntruncate:\n\ttruncate -s0 $(D)/a\nmv:\n\tmv $(D)/b $(ROOT)/away/\n";

const SCRIPT: &str = "#!/bin/bash\n# a colleague's cleanup: the parser sees only a python heredoc\npython3 - \"$1\" <<'EOF'\nimport os, sys\nfor f in ('a', 'b'):\n    os.remove(os.path.join(sys.argv[1], f))\nEOF\n";

/// `prot`, `prot2` (protected, contents confirm), `snap` (contents snapshot) and `free`
/// (unprotected), gardefou installed under the root with a production policy.
fn sandbox(extra: &str) -> Sandbox {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::scratch_dir();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    for t in ["prot", "prot2", "snap", "free"] {
        populate(&root.join(t));
    }
    std::fs::create_dir(root.join("away")).unwrap();
    std::fs::create_dir(root.join("tools")).unwrap();
    // A static binary under a name no parser knows.
    std::fs::copy("/bin/busybox", root.join("tools/busybox-cleanup")).unwrap();
    std::fs::write(root.join("Makefile"), MAKEFILE).unwrap();
    std::fs::write(root.join("cleanup.sh"), SCRIPT).unwrap();
    let rule = |name: &str, contents: &str, reason: &str| {
        format!(
            "[[protect.path]]\npath = \"{}\"\naction = \"deny\"\ncontents = \"{contents}\"\nreason = \"{reason}\"\n",
            root.join(name).display()
        )
    };
    let rules = format!(
        "{}{}{}{extra}",
        rule("prot", "confirm", "test data"),
        rule("prot2", "confirm", "more test data"),
        rule("snap", "snapshot", "saved first"),
    );
    let inst = install_production(&root, &rules);
    Sandbox {
        _dir: dir,
        root,
        inst,
    }
}

impl Sandbox {
    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn env(&self, c: &mut Command) {
        let path = format!(
            "{}:{}",
            self.inst.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.env("GARDEFOU_POLICY", &self.inst.policy)
            .env("PATH", path)
            .env_remove("SUDO_USER")
            .current_dir(&self.root);
    }

    /// `gardefou shell -c LINE` with no terminal.
    fn shell(&self, line: &str) -> Output {
        let mut c = Command::new(self.inst.bin.join("gardefou"));
        c.args(["shell", "-c", line]).stdin(Stdio::null());
        self.env(&mut c);
        c.output().unwrap()
    }

    /// `gardefou shell -c LINE` on a real pseudo-terminal, typing `typed`.
    fn shell_typed(&self, line: &str, typed: &[&str]) -> Output {
        let file = self.path("line");
        std::fs::write(&file, line).unwrap();
        let mut c = Command::new("script");
        self.env(&mut c);
        typed_on_tty(
            &mut c,
            &format!(
                "exec {} shell -c \"$(cat {})\"",
                self.inst.bin.join("gardefou").display(),
                file.display()
            ),
            typed,
        )
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        let out = Command::new(self.inst.bin.join("gardefou"))
            .args(["log", "--json", "--file"])
            .arg(&self.inst.audit)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn no_skip(_: &[u8]) -> bool {
    false
}

fn host() -> String {
    nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Lines no parser can judge, each of which changes the tree `@T` (`@R`: the sandbox).
fn opaque_lines() -> Vec<&'static str> {
    vec![
        "python3 -c \"import shutil; shutil.rmtree('@T')\"",
        "perl -e 'unlink glob \"@T/*\"; unlink \"@T/sub/c\"'",
        "@R/tools/busybox-cleanup rm -rf @T/sub @T/a",
        "bash @R/cleanup.sh @T",
        "make -s -f @R/Makefile D=@T ROOT=@R rm",
        "make -s -f @R/Makefile D=@T ROOT=@R colon",
        "make -s -f @R/Makefile D=@T ROOT=@R truncate",
        "make -s -f @R/Makefile D=@T ROOT=@R mv",
    ]
}

fn spelled(line: &str, s: &Sandbox, tree: &str) -> String {
    line.replace("@R", &s.root.display().to_string())
        .replace("@T", &s.path(tree).display().to_string())
}

#[test]
fn what_no_parser_sees_is_refused_by_the_net_and_every_byte_stays() {
    let s = sandbox("");
    for (i, line) in opaque_lines().into_iter().enumerate() {
        let prot = s.path("prot");
        let before = whole_tree(&prot, &no_skip);
        let run = spelled(line, &s, "prot");
        let out = s.shell(&run);
        let after = whole_tree(&prot, &no_skip);
        assert_eq!(
            tree_diff(&before, &after, false),
            Vec::<String>::new(),
            "{run}: {:?}",
            text(&out)
        );
        let (_, err) = text(&out);
        // perl's unlink reports nothing: refused all the same, not reported.
        if !line.starts_with("perl") {
            assert!(
                err.contains("the read-only net refused a change in")
                    && err.contains(&prot.display().to_string())
                    && err.contains("gardefou override --reason"),
                "{run}: {err}"
            );
            let last = s.audit().pop().unwrap();
            assert_eq!(last["outcome"], "refused-by-net", "{run}: {last}");
            assert_eq!(last["decision"], "deny", "{last}");
            assert!(
                last["reasons"][0]["rule"]
                    .as_str()
                    .unwrap()
                    .ends_with("protect.path#1"),
                "{last}"
            );
            assert!(
                last["argv"][2].as_str().unwrap().contains(&run[..10]),
                "{i}"
            );
        }
        // The same line on an unprotected copy: gardefou leaves what plain bash leaves.
        populate(&s.path("free"));
        let _ = std::fs::remove_dir_all(s.path("away"));
        std::fs::create_dir(s.path("away")).unwrap();
        let free = spelled(line, &s, "free");
        let out = s.shell(&free);
        let through = whole_tree(&s.path("free"), &no_skip);
        populate(&s.path("free"));
        let _ = std::fs::remove_dir_all(s.path("away"));
        std::fs::create_dir(s.path("away")).unwrap();
        let plain = Command::new("bash")
            .args(["-c", &free])
            .current_dir(&s.root)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let by_bash = whole_tree(&s.path("free"), &no_skip);
        assert_eq!(
            tree_diff(&by_bash, &through, false),
            Vec::<String>::new(),
            "{free}: {:?} / bash {:?}",
            text(&out),
            text(&plain)
        );
        assert!(
            !tree_diff(&before, &by_bash, false).is_empty(),
            "{free} changed nothing: a useless case"
        );
        populate(&s.path("free"));
    }
}

#[test]
fn spelled_effects_are_refused_before_the_net_and_bytes_stay() {
    let s = sandbox("");
    let p = s.path("prot").display().to_string();
    let away = s.path("away").display().to_string();
    for line in [
        format!(": > {p}/a"),
        format!("truncate -s0 {p}/a"),
        format!("mv {p}/b {away}/"),
        format!("rm -rf {p}/sub"),
        format!("/bin/rm -rf {p}/sub"),
        format!("T=$(cat /dev/null){p}/a; : > \"$T\""),
    ] {
        let before = whole_tree(&s.path("prot"), &no_skip);
        let out = s.shell(&line);
        assert!(!out.status.success(), "{line}: {:?}", text(&out));
        let after = whole_tree(&s.path("prot"), &no_skip);
        assert_eq!(
            tree_diff(&before, &after, false),
            Vec::<String>::new(),
            "{line}"
        );
    }
}

#[test]
fn confirmed_lines_go_through_for_exactly_their_tree() {
    let s = sandbox("");
    let (p, p2) = (s.path("prot"), s.path("prot2"));
    // The rm shim asks inside the net and carries out exactly that rm on the host's view; the
    // rest of the line keeps the net, for its own tree too.
    let out = s.shell_typed(
        &format!(
            "rm -rf {0}/sub; python3 -c \"open('{1}/x', 'w')\"; touch {0}/after",
            p.display(),
            p2.display()
        ),
        &[&host()],
    );
    let (o, _) = text(&out);
    assert!(!p.join("sub").exists(), "{o}");
    assert!(p.join("a").exists() && p.join("b").exists(), "{o}");
    assert!(!p2.join("x").exists(), "{o}");
    assert!(!p.join("after").exists(), "{o}");
    assert!(o.contains("the read-only net refused a change in"), "{o}");

    // A line the shell itself confirms (mv: no shim) runs without the net for its tree only.
    populate(&p);
    let out = s.shell_typed(
        &format!(
            "mv {0}/a {1}/ && python3 -c \"open('{0}/new', 'w').write('n')\"; python3 -c \"open('{2}/y', 'w')\"",
            p.display(),
            s.path("away").display(),
            p2.display()
        ),
        &[&host()],
    );
    let (o, _) = text(&out);
    assert!(!p.join("a").exists() && s.path("away/a").exists(), "{o}");
    assert_eq!(std::fs::read(p.join("new")).unwrap(), b"n", "{o}");
    assert!(!p2.join("y").exists(), "{o}");

    // A wrong answer: nothing runs.
    populate(&p);
    let before = whole_tree(&p, &no_skip);
    let out = s.shell_typed(&format!("rm -rf {}/sub", p.display()), &["nope"]);
    assert_eq!(
        tree_diff(&before, &whole_tree(&p, &no_skip), false),
        Vec::<String>::new(),
        "{:?}",
        text(&out)
    );
}

#[test]
fn an_override_goes_through_the_net_deliberately() {
    let s = sandbox("");
    let p2 = s.path("prot2");
    let line = format!(
        "gardefou override --reason 'rebuild the replica' -- python3 -c \"import shutil; shutil.rmtree('{}/sub')\"",
        p2.display()
    );
    let out = s.shell_typed(&line, &[&host()]);
    assert!(!p2.join("sub").exists(), "{:?}", text(&out));
    assert!(p2.join("a").exists());
    let e = s
        .audit()
        .into_iter()
        .rev()
        .find(|e| e["outcome"] == "override")
        .expect("an override entry");
    assert_eq!(e["override_reason"], "rebuild the replica", "{e}");
}

#[test]
fn a_snapshot_rule_still_snapshots_then_deletes() {
    let s = sandbox("");
    let snap = s.path("snap");
    let before = whole_tree(&snap, &no_skip);
    let out = s.shell(&format!("rm -rf {}/sub", snap.display()));
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!snap.join("sub").exists(), "{:?}", text(&out));
    let e = s.audit().pop().unwrap();
    let id = e["snapshot_id"].as_str().expect("a snapshot id").to_owned();
    // Restored from the guarded shell itself, through the net.
    let restore = s.shell(&format!("gardefou snapshot restore {id}"));
    assert!(restore.status.success(), "{:?}", text(&restore));
    assert_eq!(
        tree_diff(&before, &whole_tree(&snap, &no_skip), false),
        Vec::<String>::new()
    );
}

#[test]
fn the_host_sees_the_tree_writable_while_a_guarded_line_runs() {
    let s = sandbox("");
    let p = s.path("prot");
    let mut c = Command::new(s.inst.bin.join("gardefou"));
    c.args([
        "shell",
        "-c",
        &format!(
            "sleep 2; touch {0}/inside; test -e {0}/outside && echo saw-outside",
            p.display()
        ),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    s.env(&mut c);
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    // Outside the line: writable, and the line sees what the host wrote.
    std::fs::write(p.join("outside"), b"host").unwrap();
    let out = child.wait_with_output().unwrap();
    let (o, e) = text(&out);
    assert!(o.contains("saw-outside"), "{o} {e}");
    assert!(!p.join("inside").exists(), "{e}");
    assert_eq!(std::fs::read(p.join("outside")).unwrap(), b"host");
}

#[test]
fn gardefou_run_puts_a_command_under_the_net() {
    let s = sandbox("");
    let run = |args: &[String]| {
        let mut c = Command::new(s.inst.bin.join("gardefou"));
        c.arg("run").arg("--").args(args).stdin(Stdio::null());
        s.env(&mut c);
        c.output().unwrap()
    };
    let make = |tree: &str| {
        vec![
            "make".to_owned(),
            "-s".into(),
            "-f".into(),
            s.path("Makefile").display().to_string(),
            format!("D={}", s.path(tree).display()),
            "rm".into(),
        ]
    };
    let out = run(&make("prot"));
    assert!(!out.status.success());
    assert!(s.path("prot/sub/c").exists(), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("the read-only net refused"),
        "{:?}",
        text(&out)
    );
    let out = run(&make("free"));
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!s.path("free/sub").exists());
    let out = run(&["sh".into(), "-c".into(), "exit 7".into()]);
    assert_eq!(out.status.code(), Some(7));
    // Without `--`, the command's own options stay its own.
    let mut c = Command::new(s.inst.bin.join("gardefou"));
    c.args(["run", "sh", "-c", "exit 5"]).stdin(Stdio::null());
    s.env(&mut c);
    assert_eq!(c.output().unwrap().status.code(), Some(5));
    // A server started under the net keeps its read-only view: said before it starts.
    let out = s.shell("redis-server --version");
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("this line starts a Redis server"),
        "{:?}",
        text(&out)
    );
    // Judged like a line: a denied command does not run at all.
    let out = run(&[
        "rm".into(),
        "-rf".into(),
        s.path("prot").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(s.path("prot/a").exists());
}

#[test]
fn the_net_is_shown_and_can_be_turned_off() {
    let s = sandbox("");
    let show = |policy: &Path| {
        let out = Command::new(s.inst.bin.join("gardefou"))
            .args(["policy", "show"])
            .env("GARDEFOU_POLICY", policy)
            .output()
            .unwrap();
        text(&out).0
    };
    let shown = show(&s.inst.policy);
    assert!(
        shown.contains("net: on: read-only under guarded lines:")
            && shown.contains(&s.path("prot").display().to_string())
            && !shown.contains(&format!("{},", s.path("free").display())),
        "{shown}"
    );
    let out = Command::new(s.inst.bin.join("gardefou"))
        .args(["preflight", "--json"])
        .env("GARDEFOU_POLICY", &s.inst.policy)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "net")
        .expect("a net item");
    assert!(
        item["detail"].as_str().unwrap().starts_with("on: "),
        "{item}"
    );

    // Off: the same python line deletes, as it did before the net.
    let off = s.path("off.toml");
    let body = std::fs::read_to_string(&s.inst.policy).unwrap();
    std::fs::write(&off, format!("{body}\n[net]\nenabled = false\n")).unwrap();
    assert!(show(&off).contains("net: off ([net] enabled = false)"));
    let mut c = Command::new(s.inst.bin.join("gardefou"));
    c.args([
        "shell",
        "-c",
        &format!(
            "python3 -c \"import shutil; shutil.rmtree('{}/sub')\"",
            s.path("prot").display()
        ),
    ])
    .stdin(Stdio::null());
    s.env(&mut c);
    c.env("GARDEFOU_POLICY", &off);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!s.path("prot/sub").exists());
}

#[test]
fn a_non_root_user_keeps_sudo_and_is_told_the_net_is_unavailable() {
    let s = sandbox("");
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(s.inst.bin.join("gardefou"))
            .args(args)
            .env("GARDEFOU_POLICY", &s.inst.policy)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = as_nobody(&["policy", "show"]);
    let (o, e) = text(&out);
    assert!(o.contains("net: unavailable: it needs root"), "{o} {e}");
    // No no_new_privs: setuid programs (sudo) still gain their privileges in the shell.
    let out = as_nobody(&["shell", "-c", "grep NoNewPrivs /proc/self/status; id -u"]);
    let (o, e) = text(&out);
    assert!(
        o.contains("NoNewPrivs:\t0") && o.contains("65534"),
        "{o} {e}"
    );
    // The shell says so once, at start.
    let out = as_nobody(&["shell"]);
    let (_, e) = text(&out);
    assert_eq!(
        e.matches("the read-only net is unavailable").count(),
        1,
        "{e}"
    );
}

/// A real PostgreSQL, started outside the shell with its data in a protected tree, keeps
/// writing (pgbench) while a guarded line's deletion of a WAL file is refused.
#[test]
fn postgresql_keeps_writing_while_a_guarded_line_cannot_touch_its_wal() {
    let s = sandbox("");
    let pg = common::pg_bin();
    let data = s.path("prot/pg");
    std::fs::create_dir(&data).unwrap();
    for p in [s.path("prot"), data.clone()] {
        common::ok(
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(&p)
                .output()
                .unwrap(),
        );
    }
    let as_pg = |program: &str| {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(pg.join(program));
        c
    };
    common::ok(
        as_pg("initdb")
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    let sock = s.path("sock");
    std::fs::create_dir(&sock).unwrap();
    common::ok(
        Command::new("chown")
            .arg("postgres:postgres")
            .arg(&sock)
            .output()
            .unwrap(),
    );
    let opts = format!(
        "-p 5497 -k {} -c listen_addresses='' -c fsync=off",
        sock.display()
    );
    common::ok(
        as_pg("pg_ctl")
            .args(["start", "-w", "-o", &opts, "-l"])
            .arg(sock.join("pg.log"))
            .arg("-D")
            .arg(&data)
            .output()
            .unwrap(),
    );
    struct Stop(Box<dyn Fn()>);
    impl Drop for Stop {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let (pgb, d2) = (pg.clone(), data.clone());
    let _stop = Stop(Box::new(move || {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pgb.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&d2)
            .output();
    }));
    let bench = |args: &[&str]| {
        let mut c = as_pg("pgbench");
        c.args([
            "-h",
            &sock.display().to_string(),
            "-p",
            "5497",
            "-U",
            "postgres",
        ])
        .args(args)
        .arg("postgres");
        c
    };
    common::ok(bench(&["-i", "-q", "-s", "1"]).output().unwrap());
    let load = bench(&["-T", "4", "-c", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let wal = std::fs::read_dir(data.join("pg_wal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().len() == 24)
        .max()
        .expect("a WAL segment");
    let size = std::fs::metadata(&wal).unwrap().len();
    for line in [
        format!("python3 -c \"import os; os.remove('{}')\"", wal.display()),
        format!("rm -f {}", wal.display()),
        format!(
            "{} rm -f {}",
            s.path("tools/busybox-cleanup").display(),
            wal.display()
        ),
    ] {
        let out = s.shell(&line);
        assert!(!out.status.success(), "{line}: {:?}", text(&out));
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), size, "{line}");
    }
    let out = load.wait_with_output().unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "pgbench: {o} {e}");
    let processed: u64 = o
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|n| n.split('/').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(processed > 0, "{o}");
}

/// A session whose directory is inside a protected tree before the line starts sees the tree
/// through the net too (the working directory is entered again inside the namespace).
#[test]
fn a_session_standing_inside_a_tree_gets_the_net_too() {
    let s = sandbox("");
    let sub = s.path("prot/sub");
    let out = s.session(&[
        format!("cd {}", sub.display()),
        "python3 -c \"import os; os.remove('c')\"".to_owned(),
        "pwd".to_owned(),
    ]);
    let (o, e) = text(&out);
    assert!(o.contains(&sub.display().to_string()), "{o} {e}");
    assert!(sub.join("c").exists(), "{o} {e}");
    assert!(e.contains("the read-only net refused"), "{e}");
}

impl Sandbox {
    /// `gardefou shell` reading `lines` from a pipe (no terminal), within a minute.
    fn session(&self, lines: &[String]) -> Output {
        let mut c = Command::new("timeout");
        c.arg("60")
            .arg(self.inst.bin.join("gardefou"))
            .arg("shell")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.env(&mut c);
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            for l in lines {
                writeln!(stdin, "{l}").unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }
}

/// The numbers a session printed after `name=`, in order.
fn printed(out: &str, name: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}=")))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

/// A session keeps one bash, under the net, for all its lines: what no parser sees is refused
/// on every line and each refusal is reported and audited with its own line; on an unprotected
/// copy the same lines leave what one plain bash session leaves.
#[test]
fn a_session_runs_its_lines_in_one_bash_under_the_net() {
    let s = sandbox("");
    let prot = s.path("prot");
    let before = whole_tree(&prot, &no_skip);
    let opaque = opaque_lines();
    let mut lines = vec!["echo pid=$$".to_owned()];
    lines.extend(opaque.iter().map(|l| spelled(l, &s, "prot")));
    let free: Vec<String> = opaque.iter().map(|l| spelled(l, &s, "free")).collect();
    lines.extend(free.iter().cloned());
    lines.push("echo pid=$$".to_owned());
    let out = s.session(&lines);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o} {e}");
    let pids = printed(&o, "pid");
    assert_eq!(pids.len(), 2, "{o}");
    assert_eq!(pids[0], pids[1], "a bash per line: {o}");
    assert_eq!(
        tree_diff(&before, &whole_tree(&prot, &no_skip), false),
        Vec::<String>::new(),
        "{e}"
    );
    // perl's unlink reports nothing: refused all the same, not reported.
    let reported: Vec<String> = opaque
        .iter()
        .filter(|l| !l.starts_with("perl"))
        .map(|l| spelled(l, &s, "prot"))
        .collect();
    let audited: Vec<String> = s
        .audit()
        .into_iter()
        .filter(|a| a["outcome"] == "refused-by-net")
        .map(|a| a["argv"][2].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(audited, reported, "{e}");
    assert_eq!(
        e.matches("the read-only net refused a change in").count(),
        reported.len(),
        "{e}"
    );
    let through = whole_tree(&s.path("free"), &no_skip);
    populate(&s.path("free"));
    let _ = std::fs::remove_dir_all(s.path("away"));
    std::fs::create_dir(s.path("away")).unwrap();
    let mut plain = Command::new("bash")
        .current_dir(&s.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = plain.stdin.take().unwrap();
        for l in &free {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    plain.wait().unwrap();
    let by_bash = whole_tree(&s.path("free"), &no_skip);
    assert_eq!(tree_diff(&by_bash, &through, false), Vec::<String>::new());
    assert!(
        !tree_diff(&before, &by_bash, false).is_empty(),
        "a useless case"
    );
}

/// What a line leaves in the session's bash stays in its line, as it did with a bash per line
/// (each runs in a subshell of the one bash): functions, options and traps (the trap on EXIT
/// runs at the end of its line), `exec >file`, `continue`/`break` past the line's loops,
/// `exit`; the directory and variables carry over.
#[test]
fn what_a_line_leaves_in_the_session_s_bash_stays_in_its_line() {
    let s = sandbox("");
    let lines: Vec<String> = [
        "echo pid=$$",
        "cd free/sub && export KEPT=1 && n=2",
        "echo pid=$$",
        "f() { echo fn; }; set -u; trap 'echo EXIT-TRAP' EXIT; shopt -s nullglob",
        "echo pid=$$ n=$n KEPT=$KEPT; type f >/dev/null 2>&1 || echo no-function; echo \"unset=[$nothing_here]\"; echo glob=zz*qq",
        "exec > out.txt; echo to-file",
        "echo back-on-stdout",
        "for i in 1; do :; done; continue 2",
        "break 3",
        "true && exit 4",
        "echo status=$? at=$PWD n=$n",
        "echo pid=$$",
    ]
    .map(String::from)
    .to_vec();
    let out = s.session(&lines);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o} {e}");
    let pids = printed(&o, "pid");
    assert_eq!(pids.len(), 4, "{o} {e}");
    // One bash for the whole session: what the lines did ended with their subshells.
    assert!(pids.iter().all(|p| *p == pids[0]), "{o}");
    assert_eq!(o.matches("EXIT-TRAP").count(), 1, "{o}");
    assert!(
        o.find("EXIT-TRAP") < o.find("n=2 KEPT=1"),
        "the trap ran late: {o}"
    );
    for want in [
        "no-function",
        "unset=[]",
        "glob=zz*qq",
        "back-on-stdout",
        &format!("status=4 at={} n=2", s.path("free/sub").display()),
    ] {
        assert!(o.contains(want), "{want}: {o} {e}");
    }
    assert!(!o.contains("to-file"), "{o}");
    assert_eq!(
        std::fs::read_to_string(s.path("free/sub/out.txt")).unwrap(),
        "to-file\n"
    );
}

/// State the parser does not model never reaches the next line (positional parameters, IFS,
/// the command hash, a `PWD` set by hand, descriptors, the session bash's own variables, PS4),
/// a line holding a NUL byte is refused, a forged state is read as values, and what would break
/// the session's own protocol (noclobber, an IFS of digits, a disabled builtin, its status file
/// emptied through /proc) stays in its line: every byte of the trees the net does not cover
/// stays, and the session goes on.
#[test]
fn state_no_parser_sees_does_not_carry_into_the_next_line() {
    let s = sandbox("");
    let fix = |t: &str| t.replace("@R", &s.root.display().to_string());
    let mut policy = std::fs::read_to_string(&s.inst.policy).unwrap();
    for (name, contents) in [("nonet", "deny"), ("nc", "confirm")] {
        policy.push_str(&fix(&format!(
            "\n[[protect.path]]\npath = \"@R/{name}\"\naction = \"deny\"\ncontents = \"{contents}\"\nnet = false\nreason = \"no net here\"\n"
        )));
    }
    std::fs::write(&s.inst.policy, policy).unwrap();
    for t in ["nonet", "nc"] {
        populate(&s.path(t));
    }
    let before: Vec<_> = ["nonet", "nc"]
        .iter()
        .map(|t| whole_tree(&s.path(t), &no_skip))
        .collect();
    let lines: Vec<String> = [
        "set -- @R/nonet/a",
        "echo pwned > \"$1\"",
        "IFS=x",
        "f=/dev/nullx@R/nonet/a",
        "echo pwned | tee $f",
        "hash -p /bin/rm rm",
        "rm @R/nc/a",
        "cd @R/nonet",
        "PWD=@R/free",
        "echo pwned > b",
        "cd @R",
        "echo a\0; mv @R/nonet/a @R/nonet/moved",
        "exec 3>@R/free/three",
        "echo leaked >&3",
        "set -C",
        "echo after-noclobber",
        "IFS=0123456789",
        "echo after-ifs",
        "enable -n kill",
        "echo after-enable",
        // The session's bash's own variables, and one it would run as code.
        "export __gf_line='echo pwned > @R/nonet/a'",
        "true",
        "eval \"${__gf_line##*@}\" # @echo pwned > @R/nonet/a",
        "export PS4='$(echo pwned > @R/nonet/a)+ '",
        "set -x; true",
        // A state forged by a function named `builtin`: read as values, never run.
        "builtin() { command printf '%s\\0' \"$PWD\"; command printf '0022\\0\\0declare -- zz=\"1\"; echo pwned > @R/nonet/a\\n\\0gf-end'; }",
        "echo after-forge",
        // The bash's own descriptors reached through /proc, its status file emptied.
        "cd /proc/$$/fd",
        ": > 65",
        "echo after-truncate",
    ]
    .iter()
    .map(|l| fix(l))
    .collect();
    let out = s.session(&lines);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o} {e}");
    for (t, b) in ["nonet", "nc"].iter().zip(&before) {
        assert_eq!(
            tree_diff(b, &whole_tree(&s.path(t), &no_skip), false),
            Vec::<String>::new(),
            "{t}: {o} {e}"
        );
    }
    assert!(e.contains("NUL byte"), "{e}");
    assert_eq!(std::fs::read(s.path("free/three")).unwrap(), b"");
    for want in [
        "after-noclobber",
        "after-ifs",
        "after-enable",
        "after-forge",
        "after-truncate",
    ] {
        assert!(o.contains(want), "{want}: {o} {e}");
    }
}

/// The session's bash keeps its net between lines; a protected tree replaced meanwhile (moved
/// away and made again, from outside the session) is read-only again for the next line.
#[test]
fn a_tree_replaced_during_a_session_is_read_only_for_the_next_line() {
    use std::io::{BufRead, Write};
    let s = sandbox("");
    let prot = s.path("prot");
    let mut c = Command::new("timeout");
    c.arg("60")
        .arg(s.inst.bin.join("gardefou"))
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    s.env(&mut c);
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    writeln!(stdin, "echo ready").unwrap();
    out.read_line(&mut said).unwrap();
    assert_eq!(said.trim(), "ready");
    std::fs::rename(&prot, s.path("prot.old")).unwrap();
    std::fs::create_dir(&prot).unwrap();
    std::fs::write(prot.join("a"), "new tree\n").unwrap();
    writeln!(
        stdin,
        "python3 -c \"open('{}/a', 'w').write('pwned')\"",
        prot.display()
    )
    .unwrap();
    drop(stdin);
    let rest = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&rest.stderr);
    assert_eq!(
        std::fs::read_to_string(prot.join("a")).unwrap(),
        "new tree\n",
        "{err}"
    );
    assert!(err.contains("the read-only net refused"), "{err}");
}
