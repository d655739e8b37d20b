//! Nothing a user types or a directory holds makes gardefou panic: random shell lines over a
//! tree of hostile names through the parser and through `gardefou check`, and broken policies
//! through `gardefou policy check`. Errors are fine; a panic or a signal is not.
//!
//! Case counts are set here, not taken from the environment: the whole file stays well under a
//! minute on two cores.

mod common;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

use gardefou::intent::line::{Shell, parse_line};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // A failure is shrunk and reported; it is not written into the source tree.
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    }
}

/// Words and operators the lines are made of.
const VOCABULARY: &[&[u8]] = &[
    b"rm",
    b"mv",
    b"cp",
    b"find",
    b"xargs",
    b"sudo",
    b"env",
    b"sh -c",
    b"bash -c",
    b"cd",
    b"tee",
    b"truncate",
    b"rsync",
    b"-rf",
    b"-r",
    b"-f",
    b"--",
    b"--delete",
    b"-delete",
    b"-exec",
    b"-execdir",
    b"-name",
    b"{}",
    b"\\;",
    b"+",
    b"'",
    b"\"",
    b"$(",
    b")",
    b"(",
    b"`",
    b"${X%y}",
    b"${X:-/}",
    b"${X",
    b"$X",
    b"$",
    b"{a,b}",
    b"{1..3}",
    b"[pm]*",
    b"*",
    b"?",
    b"[",
    b"]",
    b"[!a]",
    b"[^-]",
    b"[[:alpha:]]",
    b">",
    b">>",
    b"<",
    b"2>&1",
    b">&-",
    b"<<EOF",
    b"EOF",
    b"<<'X'",
    b"|",
    b"&&",
    b"||",
    b";",
    b"&",
    b"\n",
    b"\\",
    b"#",
    b"X=1",
    b"X='a b *'",
    b"~",
    b"~root",
    b"$'\\xff'",
    b"\xff",
    b"\xfe",
    b"loop/",
    b"*/",
    b"d/",
    b".",
    b"..",
    b"/",
    b"./",
    b"-",
    b"-x",
    b"=",
    b"!",
    b"if",
    b"then",
    b"fi",
];

/// Names the tree may hold; `/` at the end makes a directory.
const HOSTILE: &[&[u8]] = &[
    b"\xff\xfe",
    b"caf\xe9",
    b"new\nline",
    b"-rf",
    b"-",
    b"--delete",
    b"a b",
    b"*",
    b"?",
    b"[x",
    b"]",
    b".hidden",
    b"pm/",
    b"d/",
    b"d/\xff",
    b"d/sub/",
    b"d/sub/-f",
    b"\\",
    b"'",
    b"$X",
];

const SEPARATORS: &[&[u8]] = &[b"", b" ", b" ", b" ", b"\t"];

/// Values for `$X`.
const VALUES: &[&[u8]] = &[b"", b"a b", b"*", b"[pm]*", b"\xff*", b"../..", b"-rf /"];

fn atom() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => prop::sample::select(VOCABULARY).prop_map(<[u8]>::to_vec),
        6 => prop::sample::select(HOSTILE).prop_map(|n| n.strip_suffix(b"/").unwrap_or(n).to_vec()),
        1 => Just(vec![b'x'; 4096]),
        1 => Just([b"-".as_slice(), &[b'y'; 4095]].concat()),
        1 => Just(vec![b'n'; 255]),
        2 => prop::collection::vec(any::<u8>(), 1..8),
    ]
}

/// Commands a line often starts with, so that the atoms after them are their arguments.
const COMMANDS: &[&[u8]] = &[
    b"",
    b"",
    b"rm -rf ",
    b"rm -f ",
    b"rm ",
    b"find . ",
    b"mv ",
    b"cp -r ",
    b"sudo rm -r ",
];

/// A line: a command, then atoms glued together or apart.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let sep = prop::sample::select(SEPARATORS);
    (
        prop::sample::select(COMMANDS),
        prop::collection::vec((atom(), sep), 0..24),
    )
        .prop_map(|(command, parts)| {
            let mut line = command.to_vec();
            for (atom, sep) in parts {
                line.extend_from_slice(&atom);
                line.extend_from_slice(sep);
            }
            line
        })
}

/// What the tree holds beyond its fixed links: some hostile names, some random ones.
fn tree_spec() -> impl Strategy<Value = (Vec<&'static [u8]>, Vec<Vec<u8>>)> {
    (
        prop::sample::subsequence(HOSTILE, 0..=HOSTILE.len()),
        prop::collection::vec(prop::collection::vec(1u8.., 1..=255), 0..4),
    )
}

/// A temporary tree: hostile names, a 255-byte name, symlink loops, a dangling link and an
/// unreadable directory (readable all the same when the tests run as root).
struct Tree {
    dir: tempfile::TempDir,
    root: PathBuf,
    locked: PathBuf,
}

impl Tree {
    fn new(hostile: &[&[u8]], random: &[Vec<u8>]) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let at = |name: &[u8]| root.join(OsStr::from_bytes(name));
        // The fixed entries first: a random name that takes one of theirs then just fails.
        std::fs::write(at(&[b'n'; 255]), "").unwrap();
        symlink(".", at(b"loop")).unwrap();
        std::fs::create_dir(at(b"d")).unwrap();
        symlink("..", at(b"d/up")).unwrap();
        symlink("loop/loop", at(b"loop2")).unwrap();
        symlink("nowhere", at(b"dangling")).unwrap();
        symlink("self", at(b"self")).unwrap();
        let locked = at(b"locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::write(locked.join("inside"), "").unwrap();
        // Creation may fail (a random `.`, a name already taken): skip it.
        for name in hostile {
            match name.strip_suffix(b"/") {
                Some(d) => drop(std::fs::create_dir_all(at(d))),
                None => {
                    if let Some(parent) = at(name).parent() {
                        drop(std::fs::create_dir_all(parent));
                    }
                    drop(std::fs::write(at(name), ""));
                }
            }
        }
        for name in random {
            let name: Vec<u8> = name
                .iter()
                .map(|&b| if b == b'/' { b'_' } else { b })
                .collect();
            drop(std::fs::write(at(&name), ""));
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        Tree { dir, root, locked }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // Let the TempDir remove what is inside the unreadable directory.
        drop(std::fs::set_permissions(
            &self.locked,
            std::fs::Permissions::from_mode(0o755),
        ));
    }
}

fn shell_in(root: &Path, x: &[u8]) -> Shell {
    let mut shell = Shell::default();
    shell.cwd = Some(root.to_path_buf());
    shell
        .vars
        .insert(OsString::from("HOME"), root.as_os_str().to_owned());
    shell
        .vars
        .insert(OsString::from("X"), OsString::from_vec(x.to_vec()));
    shell
}

fn shown(b: &[u8]) -> String {
    gardefou::intent::display_bytes(b)
}

proptest! {
    #![proptest_config(config(768))]

    #[test]
    fn parsing_random_lines_over_hostile_names_never_panics(
        line in line(),
        (hostile, random) in tree_spec(),
        x in prop::sample::select(VALUES),
    ) {
        let tree = Tree::new(&hostile, &random);
        let mut shell = shell_in(&tree.root, x);
        let outcome = catch_unwind(AssertUnwindSafe(|| parse_line(&line, &mut shell).map(|i| i.len())));
        prop_assert!(outcome.is_ok(), "parse_line panicked on {:?}", shown(&line));
    }
}

/// The pieces of psql scripts: SQL, quotes of every kind, comments, psql's meta-commands and
/// variables, COPY data, bytes the parsers stumble on.
const SQL: &[&str] = &[
    "DROP TABLE t",
    "DELETE FROM t",
    "UPDATE t SET x = 1",
    "WHERE 1=1",
    "TRUNCATE a, b",
    "SELECT",
    "WITH d AS (",
    ")",
    "(",
    "EXPLAIN ANALYZE",
    "COPY t FROM STDIN",
    "COPY (",
    "RETURNING *",
    "ALTER TABLE t ALTER COLUMN c TYPE int USING",
    "DO $$",
    "$$",
    "$x$",
    "'",
    "''",
    "E'\\'",
    "\"",
    "--",
    "/*",
    "*/",
    ";",
    "\n",
    "\n\\.\n",
    "\\gexec",
    "\\g",
    "\\\\",
    "\\i f",
    "\\set x 'DROP TABLE t'",
    ":x",
    ":'x'",
    ":\"x\"",
    "::int",
    "[1:n]",
    "f(",
    "app.wipe(",
    "\\copy t from stdin",
    // What psql runs or writes on the host (src/intent/psql_client.rs).
    "\\o",
    "\\g (format=csv",
    "\\w '|",
    "|",
    "`",
    "\\!",
    "\\cd",
    "\\gset",
    "\\COPY t TO",
    "PROGRAM",
    "~",
    "~é/",
    "'\\x7",
    "'\\0",
    "\\lo_export 1",
    "\\ir",
    "\0",
    "é",
    "\u{feff}",
    "CREATE FUNCTION f() RETURNS int",
    "BEGIN ATOMIC",
    "END",
    " ",
    "\t",
];

/// Texts at the parser's limits: nesting past the tree decoder's depth and past the parser's
/// stack, NUL bytes (libpg_query takes a C string), whitespace alone (no token at all), many
/// statements. Each is classified without a panic; a DELETE is found, as a DELETE or as a
/// statement of unknown effect, never as nothing.
#[test]
fn sql_at_the_parsers_limits_is_classified_without_a_panic() {
    use gardefou::policy::schema::SqlStatement::{self, *};
    let deep = |n: usize| {
        format!(
            "DELETE FROM t WHERE {}1{} = 1",
            "1 + (".repeat(n),
            ")".repeat(n)
        )
    };
    let cases: [(String, &[SqlStatement]); 9] = [
        (deep(20), &[Delete]),
        (deep(500), &[Delete, Unknown]),
        (deep(100_000), &[Delete, Unknown]),
        (format!("SELECT {}", "(".repeat(100_000)), &[]),
        (
            "DELETE FROM t;\0DROP TABLE u".to_owned(),
            &[Unknown, DeleteWithoutWhere, DropTable],
        ),
        ("\0".to_owned(), &[Unknown]),
        (" \t\n\r\x0b\x0c".to_owned(), &[]),
        ("SELECT 1;".repeat(50_000), &[]),
        (";".repeat(10_000), &[]),
    ];
    for (sql, kinds) in cases {
        let c = catch_unwind(|| gardefou::intent::sql::classify(&sql, "-c"));
        let shown: String = sql.chars().take(40).collect();
        let c = c.unwrap_or_else(|_| panic!("classify panicked on {shown:?}…"));
        let found: Vec<SqlStatement> = c.found.iter().map(|f| f.kind).collect();
        match kinds {
            [] => assert!(found.is_empty(), "{shown:?}…: {found:?}"),
            _ => assert!(
                !found.is_empty() && found.iter().all(|k| kinds.contains(k)),
                "{shown:?}…: {found:?}"
            ),
        }
    }
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn classifying_random_psql_scripts_never_panics(
        parts in prop::collection::vec(prop::sample::select(SQL), 0..40),
    ) {
        let script = parts.join(" ");
        let outcome = catch_unwind(|| gardefou::intent::sql::classify(&script, "-f x"));
        prop_assert!(outcome.is_ok(), "classify panicked on {script:?}");
        // A panic caught inside is a text of unknown effect, and says so: none here either.
        let notes = outcome.map(|c| c.notes).unwrap_or_default();
        prop_assert!(
            !notes.iter().any(|n| n.contains("parser failed")),
            "classify failed on {script:?}: {notes:?}"
        );
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn check_of_random_lines_exits_with_a_documented_status(
        line in line(),
        (hostile, random) in tree_spec(),
    ) {
        let tree = Tree::new(&hostile, &random);
        let policy = common::write_policy(
            tree.dir.path(),
            &format!(
                "[[protect.path]]\npath = \"{0}/d\"\naction = \"deny\"\n\
                 [[protect.path]]\npath = \"{0}/pm/*\"\naction = \"confirm\"\n",
                tree.root.display()
            ),
        );
        // An argument cannot hold a NUL byte; `--line=` keeps a line starting with `-` a value.
        let line: Vec<u8> = line.into_iter().filter(|&b| b != 0).collect();
        let arg = OsString::from_vec([b"--line=".as_slice(), &line].concat());
        let out = Command::new(common::bin())
            .arg("check")
            .arg("--policy")
            .arg(&policy)
            .arg(arg)
            .current_dir(&tree.root)
            .env("HOME", &tree.root)
            .env_remove("SUDO_USER")
            .output()
            .unwrap();
        prop_assert!(
            matches!(out.status.code(), Some(0 | 2 | 3 | 4)),
            "check {:?}: {:?}\n{}",
            shown(&line),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The shipped policy broken one way: cut short, bytes flipped, or a key nobody knows added.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(prop::sample::Index),
    Flip(Vec<(prop::sample::Index, u8)>),
    UnknownKey(prop::sample::Index, &'static str),
}

/// Lines the damaged policy may gain.
const KEYS: &[&str] = &[
    "bogus = 1\n",
    "[bogus]\nx = 1\n",
    "[[protect.path]]\npath = 1\nbogus = true\n",
    "action = \"maybe\"\n",
    "version = 99\n",
    "[[protect.path]]\n",
    "path = \"\\xff\"\n",
    "[environments.production]\ncolor = \"red\"\n",
];

fn damage() -> impl Strategy<Value = Damage> {
    let key = prop::sample::select(KEYS);
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Truncate),
        prop::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..6).prop_map(Damage::Flip),
        (any::<prop::sample::Index>(), key).prop_map(|(i, k)| Damage::UnknownKey(i, k)),
    ]
}

fn apply(policy: &[u8], damage: &Damage) -> Vec<u8> {
    match damage {
        Damage::Truncate(at) => policy[..at.index(policy.len())].to_vec(),
        Damage::Flip(flips) => {
            let mut p = policy.to_vec();
            for (at, mask) in flips {
                p[at.index(policy.len())] ^= mask;
            }
            p
        }
        Damage::UnknownKey(at, key) => {
            // At the start of a line, so the key lands in whatever table is open there.
            let lines: Vec<&[u8]> = policy.split_inclusive(|&b| b == b'\n').collect();
            let cut = at.index(lines.len() + 1);
            [
                lines[..cut].concat(),
                key.as_bytes().to_vec(),
                lines[cut..].concat(),
            ]
            .concat()
        }
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn policy_check_of_a_damaged_policy_exits_0_or_1(damage in damage()) {
        let shipped = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/debian.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.toml");
        std::fs::write(&file, apply(&shipped, &damage)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = Command::new(common::bin())
            .args(["policy", "check"])
            .arg(&file)
            .env_remove("SUDO_USER")
            .output()
            .unwrap();
        prop_assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "policy check after {:?}: {:?}\n{}",
            damage,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
