//! Differential test against the real GNU rm: for many argument vectors over a tree with
//! protected paths, gardefou's verdict is compared with what /bin/rm really does to a fresh
//! copy of the tree. Whenever a protected path would vanish (or be emptied, or stop resolving)
//! gardefou must not allow; whenever nothing protected is touched it must allow.

mod common;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn build_tree(r: &Path) {
    if r.exists() {
        std::fs::remove_dir_all(r).unwrap();
    }
    let dirs = [
        "data/sub",
        "data-old",
        "keep",
        "vault",
        "scratch/sub",
        "cfg",
        "home/u1/.ssh",
        "emptydir",
    ];
    for d in dirs {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    let files = [
        "data/f1",
        "data/sub/f2",
        "data-old/x",
        "keep/a",
        "keep/b",
        "keep/c",
        "secret.key",
        "secret.key.bak",
        "scratch/s1",
        "scratch/s2",
        "scratch/sub/s3",
        "cfg/a.conf",
        "cfg/b.txt",
        "home/u1/.ssh/id_ed25519",
        "home/u1/notes",
    ];
    for f in files {
        std::fs::write(r.join(f), f.as_bytes()).unwrap();
    }
    std::fs::create_dir(r.join(OsStr::from_bytes(b"bad\xff"))).unwrap();
    std::fs::write(r.join(OsStr::from_bytes(b"bad\xff/inner")), "x").unwrap();
    std::fs::write(r.join(OsStr::from_bytes(b"vital\xfe")), "v").unwrap();
    symlink("../data", r.join("scratch/inner-link")).unwrap();
    symlink("data", r.join("link-data")).unwrap();
    symlink("keep", r.join("link-keep")).unwrap();
    symlink("secret.key", r.join("link-secret")).unwrap();
    symlink("scratch/s2", r.join("protlink")).unwrap();
    symlink("nowhere", r.join("dangling")).unwrap();
    symlink("loop2", r.join("loop1")).unwrap();
    symlink("loop1", r.join("loop2")).unwrap();
}

fn policy(dir: &Path, r: &Path) -> PathBuf {
    let r = r.display();
    common::write_policy(
        dir,
        &format!(
            r#"
[[protect.path]]
path = "{r}/data"
action = "deny"
[[protect.path]]
path = "{r}/data/**"
action = "deny"
[[protect.path]]
path = "{r}/keep"
action = "deny"
[[protect.path]]
path = "{r}/vault"
action = "deny"
[[protect.path]]
path = "{r}/secret.key"
action = "deny"
[[protect.path]]
path = "{r}/protlink"
action = "deny"
[[protect.path]]
path = "{r}/cfg/*.conf"
action = "confirm"
[[protect.path]]
path = "{r}/home/*/.ssh"
action = "deny"
[[protect.path]]
path = "{r}/vital*"
action = "deny"
"#
        ),
    )
}

/// Protected paths and how each stands: exists (lstat), resolves (stat), non-empty directory.
fn protected_state(r: &Path) -> Vec<(String, bool, bool, bool)> {
    let names: Vec<&[u8]> = vec![
        b"data",
        b"data/f1",
        b"data/sub",
        b"data/sub/f2",
        b"keep",
        b"vault",
        b"secret.key",
        b"protlink",
        b"cfg/a.conf",
        b"home/u1/.ssh",
        b"home/u1/.ssh/id_ed25519",
        b"vital\xfe",
    ];
    names
        .into_iter()
        .map(|n| {
            let p = r.join(OsStr::from_bytes(n));
            let nonempty = std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_some());
            (
                String::from_utf8_lossy(n).into_owned(),
                p.symlink_metadata().is_ok(),
                p.metadata().is_ok(),
                nonempty,
            )
        })
        .collect()
}

fn operands(r: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "data",
        "data/",
        "data/f1",
        "data/sub",
        "data-old",
        "keep",
        "keep/",
        "keep/a",
        "vault",
        "secret.key",
        "secret.key.bak",
        "scratch",
        "scratch/s1",
        "scratch/s2",
        "scratch/inner-link",
        "scratch/inner-link/",
        "scratch/../data",
        "scratch/..",
        "./data",
        ".//data//",
        "link-data",
        "link-data/",
        "link-keep",
        "link-keep/",
        "link-secret",
        "protlink",
        "dangling",
        "dangling/",
        "loop1",
        "loop1/",
        "cfg",
        "cfg/a.conf",
        "cfg/b.txt",
        "home",
        "home/u1",
        "home/u1/.ssh",
        "home/u1/notes",
        "emptydir",
        "nonexistent",
        "-",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    v.push(OsString::from(OsStr::from_bytes(b"bad\xff")));
    v.push(OsString::from(OsStr::from_bytes(b"vital\xfe")));
    v.push(r.join("data").into_os_string());
    v.push(r.join("scratch/../keep").into_os_string());
    v.push(r.join("scratch").into_os_string());
    v
}

const FLAGS: &[&[&str]] = &[
    &[],
    &["-r"],
    &["-rf"],
    &["-f"],
    &["-d"],
    &["-R", "-f"],
    &["--recursive", "--force"],
    &["-r", "--one-file-system"],
    &["-i"],
    &["-I", "-r"],
    &["-rd"],
    &["-fv"],
    &["-dr", "--"],
];

/// A small deterministic generator, so a failure names a reproducible case.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// Runs the real rm on a fresh tree and says whether it touched a protected path.
fn real_rm_touches(r: &Path, args: &[OsString]) -> bool {
    build_tree(r);
    let before = protected_state(r);
    let mut child = Command::new("/bin/rm")
        .args(args)
        .current_dir(r)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&b"y\n".repeat(64))
        .ok();
    child.wait().unwrap();
    before != protected_state(r)
}

fn show(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn gardefou_allows_exactly_what_leaves_protected_paths_untouched() {
    let base = tempfile::tempdir().unwrap();
    let base_path = std::fs::canonicalize(base.path()).unwrap();
    let r = base_path.join("tree");
    let pol = policy(&base_path, &r);
    build_tree(&r);
    let ops = operands(&r);

    let mut cases: Vec<Vec<OsString>> = Vec::new();
    for flags in [&[][..], &["-rf"][..], &["-d"][..]] {
        for op in &ops {
            let mut c: Vec<OsString> = flags.iter().map(OsString::from).collect();
            c.push(op.clone());
            cases.push(c);
        }
    }
    let mut rng = Lcg(0x9e3779b97f4a7c15);
    for _ in 0..350 {
        let mut c: Vec<OsString> = FLAGS[rng.next(FLAGS.len())]
            .iter()
            .map(OsString::from)
            .collect();
        for _ in 0..1 + rng.next(3) {
            c.push(ops[rng.next(ops.len())].clone());
        }
        cases.push(c);
    }

    let mut failures = Vec::new();
    let mut denied_or_confirmed = 0;
    let mut touched_count = 0;
    for case in &cases {
        build_tree(&r);
        let mut argv = vec![OsString::from("rm")];
        argv.extend(case.iter().cloned());
        let (code, decision, json) = common::check_json(&pol, &r, &argv);
        let touched = real_rm_touches(&r, case);
        touched_count += usize::from(touched);
        denied_or_confirmed += usize::from(decision != "allow");
        let expected_code = match decision.as_str() {
            "allow" => 0,
            "confirm" => 3,
            _ => 4,
        };
        assert_eq!(code, expected_code, "exit code for {decision}");
        if touched && decision == "allow" {
            failures.push(format!(
                "ALLOWED but rm touched protected paths: rm {}",
                show(case)
            ));
        }
        if !touched && decision != "allow" && !order_effect(&r, case) {
            failures.push(format!(
                "{decision} but rm touched nothing protected: rm {}\n  {json}",
                show(case)
            ));
        }
    }
    assert!(
        touched_count > 50,
        "the generator must exercise protected paths ({touched_count})"
    );
    assert!(
        cases.len() - touched_count > 50,
        "and harmless cases ({touched_count} of {})",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(15)].join("\n")
    );
    assert!(denied_or_confirmed >= touched_count);
}

/// gardefou evaluates every operand against the tree as it is before rm starts. When an earlier
/// operand removes the way to a later one (`rm -rf link link/`), rm touches nothing protected
/// although the later operand, on its own, would: refusing that is intended, and is accepted
/// here only when one operand alone (same options) really touches a protected path.
fn order_effect(r: &Path, case: &[OsString]) -> bool {
    let (flags, ops): (Vec<OsString>, Vec<OsString>) = match case.iter().position(|a| a == "--") {
        Some(i) => (case[..=i].to_vec(), case[i + 1..].to_vec()),
        None => case
            .iter()
            .cloned()
            .partition(|a| a.as_bytes().len() > 1 && a.as_bytes()[0] == b'-'),
    };
    ops.len() > 1
        && ops.iter().any(|op| {
            let mut alone = flags.clone();
            alone.push(op.clone());
            real_rm_touches(r, &alone)
        })
}
