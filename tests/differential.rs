//! Differential test against the real GNU rm: for many argument vectors over a tree with
//! protected paths, gardefou's verdict is compared with what /bin/rm really does to a fresh
//! copy of the tree. A rule protects its path and, unless its `contents` is "allow", every
//! entry below it: whenever rm would change one of those entries (delete it, empty it) gardefou
//! must not allow; whenever nothing protected is touched it must allow. The line-level oracle
//! (whole shell lines, plain bash against the guarded shell) is tests/oracle.rs.

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
        "etc/nginx",
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
        "etc/passwd",
        "etc/nginx/nginx.conf",
        "etc/hosts",
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
    symlink("dbdata", r.join("db")).unwrap();
    std::fs::create_dir(r.join("dbdata")).unwrap();
    std::fs::write(r.join("dbdata/ibdata1"), "rows").unwrap();
}

/// A `[[protect.path]]` rule of the test policy, with the entries of the built tree it matches
/// (its glob expanded by hand: the tree is fixed).
struct Rule {
    path: &'static str,
    action: &'static str,
    contents: Option<&'static str>,
    matches: &'static [&'static [u8]],
}

const RULES: &[Rule] = &[
    Rule {
        path: "data",
        action: "deny",
        contents: None,
        matches: &[b"data"],
    },
    Rule {
        path: "data/**",
        action: "deny",
        contents: None,
        matches: &[b"data/f1", b"data/sub", b"data/sub/f2"],
    },
    Rule {
        path: "keep",
        action: "deny",
        contents: None,
        matches: &[b"keep"],
    },
    Rule {
        path: "vault",
        action: "deny",
        contents: None,
        matches: &[b"vault"],
    },
    Rule {
        path: "secret.key",
        action: "deny",
        contents: None,
        matches: &[b"secret.key"],
    },
    Rule {
        path: "protlink",
        action: "deny",
        contents: None,
        matches: &[b"protlink"],
    },
    Rule {
        path: "cfg/*.conf",
        action: "confirm",
        contents: None,
        matches: &[b"cfg/a.conf"],
    },
    Rule {
        path: "home/*/.ssh",
        action: "deny",
        contents: None,
        matches: &[b"home/u1/.ssh"],
    },
    Rule {
        path: "vital*",
        action: "deny",
        contents: None,
        matches: &[b"vital\xfe"],
    },
    // The directory itself is protected, what is in it is free, except a file of its own.
    Rule {
        path: "etc",
        action: "deny",
        contents: Some("allow"),
        matches: &[b"etc"],
    },
    Rule {
        path: "etc/passwd",
        action: "deny",
        contents: None,
        matches: &[b"etc/passwd"],
    },
    // A rule on a symlink protects what it leads to, as /var/lib/postgresql -> /srv/pg.
    Rule {
        path: "db",
        action: "deny",
        contents: None,
        matches: &[b"db"],
    },
];

fn policy(dir: &Path, r: &Path) -> PathBuf {
    let mut body = String::new();
    for rule in RULES {
        body.push_str(&format!(
            "[[protect.path]]\npath = \"{}/{}\"\naction = \"{}\"\n",
            r.display(),
            rule.path,
            rule.action
        ));
        if let Some(c) = rule.contents {
            body.push_str(&format!("contents = \"{c}\"\n"));
        }
    }
    common::write_policy(dir, &body)
}

/// The protected entries of the tree at `r`: for each rule's matches, the entry itself and,
/// unless the rule's contents are "allow", everything below it; a match that is a symlink
/// brings in the entries it resolves to, the same way.
fn protected_state(r: &Path) -> common::Tree {
    let mut tree = common::Tree::new();
    for rule in RULES {
        let below = rule.contents.unwrap_or(rule.action) != "allow";
        for m in rule.matches {
            common::record(&mut tree, r, m, below, &|_| false);
            let p = common::rel_path(r, m);
            if p.symlink_metadata()
                .is_ok_and(|md| md.file_type().is_symlink())
                && let Ok(real) = std::fs::canonicalize(&p)
                && let Ok(inside) = real.strip_prefix(r)
            {
                let rel = inside.as_os_str().as_bytes().to_vec();
                common::record(&mut tree, r, &rel, below, &|_| false);
            }
        }
    }
    tree
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
        "etc",
        "etc/",
        "etc/nginx",
        "etc/nginx/nginx.conf",
        "etc/passwd",
        "etc/hosts",
        "db",
        "db/",
        "dbdata",
        "dbdata/ibdata1",
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

/// Runs the real rm on a fresh tree and says whether it changed a protected entry.
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
    !common::tree_diff(&before, &protected_state(r), false).is_empty()
}

fn show(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn gardefou_allows_exactly_what_leaves_protected_trees_untouched() {
    // A fresh tree per case, and then some: on tmpfs where there is one.
    let base = common::scratch_dir();
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
    let mut rng = common::Lcg(0x9e3779b97f4a7c15);
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
                "ALLOWED but rm changed protected entries: rm {}",
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
    println!(
        "rm differential: {} cases, {touched_count} change protected entries, {denied_or_confirmed} not allowed, {} differ",
        cases.len(),
        failures.len()
    );
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
