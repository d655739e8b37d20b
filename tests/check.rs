//! The `gardefou check` contract (DESIGN.md): JSON shape, exit codes 0/3/4/2, policy errors.

mod common;

use std::ffi::OsString;
use std::process::Command;

fn shipped() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/debian.toml")
}

fn line(policy: &std::path::Path, l: &str) -> (i32, serde_json::Value) {
    let out = Command::new(common::bin())
        .args(["check", "--json", "--policy"])
        .arg(policy)
        .args(["--line", l])
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn json_has_exactly_the_contract_keys_and_exit_codes_follow_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("d/c")).unwrap();
    std::fs::create_dir_all(root.join("d/f")).unwrap();
    let pol = common::write_policy(
        &root,
        &format!(
            "[[protect.path]]\npath = \"{0}/d/c\"\naction = \"confirm\"\n[[protect.path]]\npath = \"{0}/d/f\"\naction = \"deny\"\nreason = \"forbidden\"\n",
            root.display()
        ),
    );
    let argv = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
    let (code, d, v) = common::check_json(&pol, &root, &argv(&["rm", "-r", "d/c"]));
    assert_eq!((code, d.as_str()), (3, "confirm"));
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["decision", "reasons", "snapshot"]);
    assert_eq!(v["snapshot"], false);
    let rule = v["reasons"][0]["rule"].as_str().unwrap();
    assert!(rule.contains("policy.toml:protect.path#1"), "{rule}");
    let (code, d, v) = common::check_json(&pol, &root, &argv(&["rm", "-rf", "d"]));
    assert_eq!((code, d.as_str()), (4, "deny"));
    assert_eq!(
        v["reasons"].as_array().unwrap().len(),
        2,
        "every rule that fired is reported: {v}"
    );
    assert!(v["reasons"].to_string().contains("forbidden"));
    let (code, d, _) = common::check_json(&pol, &root, &argv(&["rm", "-rf", "d/other"]));
    assert_eq!((code, d.as_str()), (0, "allow"));
}

#[test]
fn policy_errors_exit_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let pol = common::write_policy(
        dir.path(),
        "[[protect.path]]\npath = \"/x\"\nacton = \"deny\"\n",
    );
    let out = Command::new(common::bin())
        .args(["check", "--policy"])
        .arg(&pol)
        .args(["--", "rm", "/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = common::text(&out);
    assert!(
        err.contains("policy.toml:4:1") && err.contains("acton"),
        "{err}"
    );
    let lint = Command::new(common::bin())
        .args(["policy", "check"])
        .arg(&pol)
        .output()
        .unwrap();
    assert_eq!(lint.status.code(), Some(1));
    let ok = Command::new(common::bin())
        .args(["policy", "check"])
        .arg(shipped())
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{:?}", common::text(&ok));
}

#[test]
fn unknown_flags_and_unparsable_lines_are_usage_errors() {
    let out = Command::new(common::bin())
        .args(["check", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (code, _) = line(&shipped(), "rm 'unterminated");
    assert_eq!(code, 2);
}

#[test]
fn shipped_policy_refuses_the_classics_and_allows_ordinary_work() {
    let p = shipped();
    for l in [
        "rm -rf /var/lib",
        "rm -rf /",
        "sudo rm -rf --no-preserve-root /",
        "cd /var && rm -rf lib",
        "rm -rf /usr/../var/lib/",
        // Judged by what find really matches: the package database here.
        "find /var/lib/dpkg -name status -delete",
        "find /var/lib -maxdepth 1 -name dpkg -exec rm -rf {} +",
        "DIR=; rm -rf \"$DIR\"/",
        "ssh_cleanup() { :; }; rm -rf /etc/ssh",
    ] {
        let (code, v) = line(&p, l);
        assert_eq!(code, 4, "{l}: {v}");
    }
    for l in [
        "echo \"rm -rf /\"",
        "rm -f /tmp/gardefou-nothing-here",
        "ls -la /var/lib | grep rm",
        "git rm file",
        "find /var/lib -name '*.gardefou-no-such-log' -delete",
    ] {
        let (code, v) = line(&p, l);
        assert_eq!(code, 0, "{l}: {v}");
    }
    let (code, v) = line(&p, "ls | xargs rm");
    assert_eq!(code, 3, "targets read from a pipe need a confirmation: {v}");
}

#[test]
fn a_purge_is_checked_as_a_deletion_of_the_data_its_rule_lists() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("data")).unwrap();
    let policy = common::write_policy(
        &root,
        &format!(
            "[[protect.package]]\nname = \"gfcheck-*\"\non = [\"install\"]\naction = \"confirm\"\ndata = [\"{0}/data\"]\n[[protect.path]]\npath = \"{0}/data\"\naction = \"deny\"\nreason = \"the data\"\n",
            root.display()
        ),
    );
    let args = |a: &str| a.split(' ').map(Into::into).collect::<Vec<_>>();
    let (code, d, v) = common::check_json(&policy, &root, &args("dpkg -P gfcheck-server"));
    assert_eq!((code, d.as_str()), (4, "deny"), "{v}");
    assert!(
        v["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the purge"),
        "{v}"
    );
    // A plain removal keeps the data: no rule fires.
    let (code, d, v) = common::check_json(&policy, &root, &args("dpkg -r gfcheck-server"));
    assert_eq!((code, d.as_str()), (0, "allow"), "{v}");
}

#[test]
fn input_gives_check_what_a_database_command_would_read_on_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let mut script = String::from("BEGIN;\n");
    for n in 2..40 {
        script.push_str(&format!("INSERT INTO t VALUES ({n});\n"));
    }
    script.push_str("DELETE FROM accounts;\nCOMMIT;\n");
    std::fs::write(root.join("script.sql"), &script).unwrap();
    let check = |input: &str, stdin: &str, cmd: &[&str]| {
        let mut c = Command::new(common::bin());
        c.args(["check", "--env", "production", "--policy"])
            .arg(shipped())
            .args(["--input", input, "--"])
            .args(cmd)
            .current_dir(&root)
            .env_remove("SUDO_USER");
        common::output_with_stdin(&mut c, Some(stdin))
    };
    // From a file, and from check's own standard input (`-`).
    for (input, stdin) in [("script.sql", ""), ("-", script.as_str())] {
        let out = check(input, stdin, &["psql", "-d", "shop"]);
        let (shown, _) = common::text(&out);
        assert_eq!(out.status.code(), Some(3), "{shown}");
        assert!(
            shown.contains("accounts") && shown.contains("(line 40)"),
            "{shown}"
        );
        let out = check(input, stdin, &["mysql", "shop"]);
        assert_eq!(out.status.code(), Some(3), "{:?}", common::text(&out));
    }
    // Without --input, psql's standard input is left to the shim, and check says so.
    let out = Command::new(common::bin())
        .args(["check", "--env", "production", "--policy"])
        .arg(shipped())
        .args(["--", "psql", "-d", "shop"])
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        common::text(&out).0.contains("--input"),
        "{:?}",
        common::text(&out)
    );
    let out = check("nosuch.sql", "", &["psql"]);
    assert_eq!(out.status.code(), Some(2));
}
