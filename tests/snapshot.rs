//! Snapshots on a real filesystem: rm through the shim with snapshot rules, restore, verify,
//! prune, crash recovery after `kill -9`, another filesystem (tmpfs), a full store, permissions.
//! Trees are compared by sha256 (computed by openssl) and metadata read with stat(2).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    policy: PathBuf,
    store: PathBuf,
}

/// A temp root with `shim/rm` → gardefou and a policy whose rules are `rules` (`{root}` is
/// replaced by the root), with the store under the root unless `store` says otherwise.
fn setup(rules: &str, store: Option<&Path>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("shim")).unwrap();
    symlink(common::bin(), root.join("shim/rm")).unwrap();
    let store = store.map_or_else(|| root.join("store"), Path::to_path_buf);
    let policy = common::write_policy(
        &root,
        &format!(
            "[host]\nenvironment = \"production\"\n{}\n[snapshot]\nstore = \"{}\"\nkeep_newest = 1\n[audit]\nfile = \"{}/audit.jsonl\"\n",
            rules.replace("{root}", &root.display().to_string()),
            store.display(),
            root.display()
        ),
    );
    Env {
        _dir: dir,
        root,
        policy,
        store,
    }
}

fn snapshot_rule(path: &str) -> String {
    format!("[[protect.path]]\npath = \"{path}\"\naction = \"snapshot\"\nreason = \"test data\"\n")
}

impl Env {
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.root)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.root.join("shim").display()),
            )
            .env("GARDEFOU_POLICY", &self.policy)
            .env_remove("SUDO_USER")
            .stdin(Stdio::null());
        c
    }

    /// `rm ARGS` through the shim, with no terminal.
    fn rm(&self, args: &[&str]) -> Output {
        self.cmd(&self.root.join("shim/rm"))
            .args(args)
            .output()
            .unwrap()
    }

    fn gardefou(&self, args: &[&str]) -> Output {
        self.cmd(&common::bin()).args(args).output().unwrap()
    }

    fn list(&self) -> Vec<serde_json::Value> {
        let out = self.gardefou(&["snapshot", "list", "--json"]);
        assert!(out.status.success(), "{:?}", common::text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn only_snapshot(&self) -> String {
        let all = self.list();
        assert_eq!(all.len(), 1, "{all:?}");
        all[0]["id"].as_str().unwrap().to_owned()
    }
}

/// sha256 by OpenSSL (coreutils' sha256sum is five times slower on gigabytes).
fn sha256sum(p: &Path) -> String {
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    String::from_utf8_lossy(&out.stdout)[..64].to_owned()
}

/// Everything restore must give back, per relative path: type, mode, owner, size, mtime (ns),
/// symlink target, content hash.
type Signature = BTreeMap<Vec<u8>, String>;

fn signature(root: &Path) -> Signature {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root) {
        let e = e.unwrap();
        let m = e.path().symlink_metadata().unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        let content = if m.is_file() {
            sha256sum(e.path())
        } else if m.file_type().is_symlink() {
            format!("-> {:?}", std::fs::read_link(e.path()).unwrap())
        } else {
            String::new()
        };
        // A symlink's own mode is always 0777 and a directory's size depends on its history.
        let size = if m.is_file() { m.len() } else { 0 };
        out.insert(
            rel,
            format!(
                "mode={:o} uid={} gid={} size={size} mtime={}.{:09} {content}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.mtime(),
                m.mtime_nsec()
            ),
        );
    }
    out
}

fn nonutf8(name: &[u8]) -> OsString {
    OsString::from_vec(name.to_vec())
}

/// Files, an empty dir, symlinks (one dangling), modes, owners, a non-UTF-8 name, a FIFO, a
/// 1 GiB sparse file with data at both ends, and more small files (empty ones too) than the
/// copier keeps buffers in flight.
fn build_tree(t: &Path) {
    std::fs::create_dir_all(t.join("sub/empty")).unwrap();
    std::fs::create_dir_all(t.join("many")).unwrap();
    for i in 0..40usize {
        std::fs::write(t.join(format!("many/{i:02}")), vec![i as u8; i * 997]).unwrap();
    }
    std::fs::write(t.join("plain"), b"plain bytes\n").unwrap();
    std::fs::write(
        t.join("sub").join(nonutf8(b"caf\xe9-\xff")),
        b"latin-1 name",
    )
    .unwrap();
    std::fs::write(t.join("secret"), b"0600").unwrap();
    std::fs::set_permissions(t.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(t.join("readonly"), b"0444").unwrap();
    std::fs::set_permissions(t.join("readonly"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::write(t.join("tool"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(t.join("tool"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::os::unix::fs::lchown(t.join("plain"), Some(65534), Some(65534)).unwrap();
    symlink("plain", t.join("link")).unwrap();
    symlink("/nonexistent/target", t.join("dangling")).unwrap();
    symlink("sub", t.join("dirlink")).unwrap();
    nix::unistd::mkfifo(
        &t.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    let big = std::fs::File::create(t.join("big.sparse")).unwrap();
    big.set_len(1 << 30).unwrap();
    use std::os::unix::fs::FileExt;
    big.write_all_at(b"head", 0).unwrap();
    big.write_all_at(b"tail", (1 << 30) - 4).unwrap();
    drop(big);
    std::fs::set_permissions(t.join("sub/empty"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let old = nix::sys::time::TimeSpec::new(1_000_000_000, 123_456_789);
    for p in ["plain", "sub", "sub/empty", "dangling"] {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &t.join(p),
            &old,
            &old,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn rm_rf_moves_the_target_into_the_store_and_restore_gives_back_an_identical_tree() {
    assert!(
        is_root(),
        "these tests run as root (CI does): they chown and mount"
    );
    let e = setup(&snapshot_rule("{root}/srv/app"), None);
    let app = e.root.join("srv/app");
    build_tree(&app);
    let before = signature(&app);
    let start = Instant::now();
    let out = e.rm(&["-rf", "srv/app"]);
    let took = start.elapsed();
    let (stdout, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("(moved)"), "{stderr}");
    assert!(
        !app.exists(),
        "rm -rf must leave nothing at the original path"
    );
    assert!(
        took < Duration::from_secs(1),
        "a same-filesystem snapshot of 1 GiB is a rename, not a copy: took {took:?}"
    );
    let id = e.only_snapshot();
    let verify = e.gardefou(&["snapshot", "verify", &id]);
    assert!(verify.status.success(), "{:?}", common::text(&verify));
    let shown = e.gardefou(&["snapshot", "show", &id, "--json"]);
    let m: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(m["state"], "complete");
    assert_eq!(m["targets"][0]["method"], "rename");
    assert_eq!(
        m["targets"][0]["entries"].as_array().unwrap().len(),
        before.len()
    );
    let out = e.gardefou(&["snapshot", "restore", &id]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(signature(&app), before);
    let audit = std::fs::read_to_string(e.root.join("audit.jsonl")).unwrap();
    assert!(
        audit.contains(&format!("\"snapshot_id\":\"{id}\"")),
        "{audit}"
    );
}

#[test]
fn verbose_rm_runs_for_real_after_a_copy_and_prints_what_rm_prints() {
    let e = setup(&snapshot_rule("{root}/srv/app"), None);
    let app = e.root.join("srv/app");
    std::fs::create_dir_all(app.join("d")).unwrap();
    std::fs::write(app.join("d/f"), b"data").unwrap();
    let before = signature(&app);
    let out = e.rm(&["-rv", "srv/app"]);
    let (stdout, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "removed 'srv/app/d/f'\nremoved directory 'srv/app/d'\nremoved directory 'srv/app'\n"
    );
    assert!(stderr.contains("(copied)"), "{stderr}");
    assert!(!app.exists());
    let id = e.only_snapshot();
    let shown = e.gardefou(&["snapshot", "show", &id, "--json"]);
    let m: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(m["targets"][0]["method"], "copy");
    assert!(e.gardefou(&["snapshot", "restore", &id]).status.success());
    assert_eq!(signature(&app), before);
}

#[test]
fn rm_exit_status_and_errors_stay_rms_when_a_target_was_moved() {
    let e = setup(&snapshot_rule("{root}/data"), None);
    std::fs::create_dir_all(e.root.join("data")).unwrap();
    std::fs::write(e.root.join("data/x"), b"x").unwrap();
    std::fs::write(e.root.join("other"), b"o").unwrap();
    let out = e.rm(&["-r", "other", "data", "missing", "data/x"]);
    let (_, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // rm names itself by the argv[0] it was run with, here the shim's full path.
    let rm_lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once("/shim/rm: ").map(|(_, msg)| msg))
        .collect();
    assert_eq!(
        rm_lines,
        [
            "cannot remove 'missing': No such file or directory",
            "cannot remove 'data/x': No such file or directory"
        ],
        "{stderr}"
    );
    assert!(!e.root.join("other").exists() && !e.root.join("data").exists());
    // The same command with -f: rm is silent and succeeds, and so is the guard.
    std::fs::create_dir_all(e.root.join("data")).unwrap();
    let out = e.rm(&["-rf", "data", "missing"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(!common::text(&out).1.contains("cannot remove"));
    assert_eq!(e.list().len(), 2);
}

/// A tmpfs mounted for the test, unmounted when dropped.
/// Runs a setup command (mount, mkfs) and stops the test with its output if it fails.
fn must_run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {:?}", common::text(&out));
}

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        must_run(
            Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size},mode=0700"),
                    "tmpfs",
                ])
                .arg(at),
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_target_on_another_filesystem_is_copied_hashed_and_restored() {
    let e = setup(&snapshot_rule("{root}/mnt/app"), None);
    let _fs = Tmpfs::mount(&e.root.join("mnt"), "1200M");
    let app = e.root.join("mnt/app");
    build_tree(&app);
    let before = signature(&app);
    let out = e.rm(&["-rf", "mnt/app"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(!app.exists());
    let id = e.only_snapshot();
    let shown = e.gardefou(&["snapshot", "show", &id, "--json"]);
    let m: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(m["targets"][0]["method"], "copy");
    let disk = m["targets"][0]["disk_bytes"].as_u64().unwrap();
    assert!(
        disk < 16 << 20,
        "the sparse 1 GiB file stays sparse in the store: {disk} bytes"
    );
    assert!(e.gardefou(&["snapshot", "verify", &id]).status.success());
    let out = e.gardefou(&["snapshot", "restore", &id]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(signature(&app), before);
}

#[test]
fn a_store_without_room_for_the_copy_refuses_the_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let small = std::fs::canonicalize(dir.path()).unwrap().join("small");
    let _fs = Tmpfs::mount(&small, "1M");
    let e = setup(&snapshot_rule("{root}/data"), Some(&small.join("store")));
    std::fs::create_dir_all(e.root.join("data")).unwrap();
    std::fs::write(e.root.join("data/big"), vec![7u8; 4 << 20]).unwrap();
    let out = e.rm(&["-rf", "data"]);
    let (_, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("free") && stderr.contains("Nothing was deleted"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(e.root.join("data/big")).unwrap().len(),
        4 << 20
    );
    assert!(e.list().is_empty());
}

#[test]
fn a_store_others_can_read_is_refused_and_nothing_is_deleted() {
    let e = setup(&snapshot_rule("{root}/data"), None);
    std::fs::create_dir_all(&e.store).unwrap();
    std::fs::set_permissions(&e.store, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(e.root.join("data")).unwrap();
    std::fs::write(e.root.join("data/f"), b"keep").unwrap();
    let out = e.rm(&["-rf", "data"]);
    let (_, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lets other users in"), "{stderr}");
    assert_eq!(std::fs::read(e.root.join("data/f")).unwrap(), b"keep");
}

#[test]
fn a_user_keeps_snapshots_in_a_private_store_of_their_own() {
    let e = setup(&snapshot_rule("{root}/shared/data"), None);
    let home = e.root.join("home");
    std::fs::create_dir_all(e.root.join("shared/data")).unwrap();
    std::fs::write(e.root.join("shared/data/f"), b"user file").unwrap();
    std::fs::create_dir_all(&home).unwrap();
    for p in [
        &home,
        &e.root.join("shared"),
        &e.root.join("shared/data"),
        &e.root.join("shared/data/f"),
    ] {
        std::os::unix::fs::lchown(p, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&e.root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(e.root.join("shim/rm"))
        .args(["-rf", "shared/data"])
        .current_dir(&e.root)
        .env("HOME", &home)
        .env_remove("XDG_STATE_HOME")
        .env("PATH", "/usr/bin:/bin")
        .env("GARDEFOU_POLICY", &e.policy)
        .env_remove("SUDO_USER")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    let user_store = home.join(".local/state/gardefou/snapshots");
    let meta = std::fs::metadata(&user_store).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (65534, 0o700));
    assert!(
        !e.store.exists(),
        "root's store is not used for a user's snapshot"
    );
    // Another user (uid 65533) cannot even list it.
    let peek = Command::new("setpriv")
        .args([
            "--reuid=65533",
            "--regid=65533",
            "--clear-groups",
            "--",
            "ls",
        ])
        .arg(&user_store)
        .output()
        .unwrap();
    assert!(!peek.status.success());
    assert!(common::text(&peek).1.contains("Permission denied"));
}

/// Data that does not compress to holes: every byte depends on its offset.
fn write_pattern(p: &Path, len: usize, seed: u8) {
    let buf: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect();
    std::fs::write(p, buf).unwrap();
}

/// (relative path, sha256) of every file under `root`, from one sha256sum run.
fn contents(root: &Path) -> BTreeMap<PathBuf, String> {
    if !root.exists() {
        return BTreeMap::new();
    }
    let out = Command::new("find")
        .arg(root)
        .args([
            "-type", "f", "-exec", "openssl", "dgst", "-sha256", "-r", "{}", "+",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", common::text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (sum, path) = l.split_once(" *").unwrap();
            (
                Path::new(path).strip_prefix(root).unwrap().to_path_buf(),
                sum.to_owned(),
            )
        })
        .collect()
}

/// The snapshot being written in `store`: (its manifest's state, bytes of data copied so far,
/// files copied so far).
fn progress_of(store: &Path) -> Option<(String, u64, usize)> {
    let dir = std::fs::read_dir(store)
        .ok()?
        .flatten()
        .find(|d| !d.file_name().to_string_lossy().starts_with('.'))?
        .path();
    let state = std::fs::read(dir.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|m| m["state"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let big = std::fs::metadata(dir.join("data/0/big")).map_or(0, |m| m.len());
    let many = std::fs::read_dir(dir.join("data/0/many")).map_or(0, |d| d.count());
    Some((state, big, many))
}

#[test]
fn kill_9_at_any_moment_of_a_copy_snapshot_loses_no_data() {
    let e = setup(&snapshot_rule("{root}/data"), None);
    let data = e.root.join("data");
    const BIG: u64 = 96 << 20;
    let make = || {
        std::fs::create_dir_all(data.join("many")).unwrap();
        write_pattern(&data.join("big"), BIG as usize, 1);
        for i in 0..300 {
            write_pattern(&data.join(format!("many/f{i}")), 4096 + i, i as u8);
        }
    };
    // Kill points, by what the test sees happen (so they land at these stages however fast or
    // loaded the machine is); None: let it run to the end.
    type Stage = (&'static str, Option<Box<dyn Fn(&Path) -> bool>>);
    let stages: Vec<Stage> = vec![
        ("at once", Some(Box::new(|_: &Path| true))),
        (
            "snapshot directory created",
            Some(Box::new(|s: &Path| progress_of(s).is_some())),
        ),
        (
            "manifest preparing",
            Some(Box::new(|s: &Path| {
                progress_of(s).is_some_and(|p| p.0 == "preparing")
            })),
        ),
        (
            "big file a quarter copied",
            Some(Box::new(|s: &Path| {
                progress_of(s).is_some_and(|p| p.1 >= BIG / 4)
            })),
        ),
        (
            "big file three quarters copied",
            Some(Box::new(|s: &Path| {
                progress_of(s).is_some_and(|p| p.1 >= BIG * 3 / 4)
            })),
        ),
        (
            "small files being copied",
            Some(Box::new(|s: &Path| {
                progress_of(s).is_some_and(|p| p.2 >= 50)
            })),
        ),
        (
            "manifest committed or complete",
            Some(Box::new(|s: &Path| {
                progress_of(s).is_some_and(|p| p.0 == "committed" || p.0 == "complete")
            })),
        ),
        (
            "rm deleting the originals",
            Some(Box::new(|_: &Path| false)),
        ),
        ("after the command", None),
    ];
    make();
    let want = contents(&data);
    let restored = e.root.join("restored");
    let mut outcomes = BTreeMap::new();
    for (name, when) in &stages {
        for id in e.list() {
            let id = id["id"].as_str().unwrap().to_owned();
            assert!(e.gardefou(&["snapshot", "rm", &id]).status.success());
        }
        let _ = std::fs::remove_dir_all(&data);
        let _ = std::fs::remove_dir_all(&restored);
        make();
        // -v makes the snapshot a copy (rm must print what it removes), then rm runs for real.
        let mut child = e
            .cmd(&e.root.join("shim/rm"))
            .args(["-rv", "data"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match when {
            Some(ready) => {
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let originals_going = *name == "rm deleting the originals"
                        && std::fs::read_dir(data.join("many")).map_or(true, |d| d.count() < 300);
                    if ready(&e.store) || originals_going || child.try_wait().unwrap().is_some() {
                        break;
                    }
                    assert!(Instant::now() < deadline, "{name}: never reached");
                    std::thread::sleep(Duration::from_micros(200));
                }
                let _ = child.kill();
                child.wait().unwrap();
            }
            None => assert!(child.wait().unwrap().success()),
        }
        // The next run settles what was interrupted.
        let snaps = e.list();
        assert!(
            snaps.iter().all(|s| s["state"] == "complete"),
            "{name}: {snaps:?}"
        );
        for s in &snaps {
            let out = e
                .cmd(&common::bin())
                .args(["snapshot", "restore", s["id"].as_str().unwrap(), "--to"])
                .arg(&restored)
                .output()
                .unwrap();
            assert!(out.status.success(), "{name}: {:?}", common::text(&out));
        }
        let in_place = contents(&data);
        let saved = contents(&restored.join(data.strip_prefix("/").unwrap()));
        for (file, sum) in &want {
            let kept = in_place.get(file) == Some(sum) || saved.get(file) == Some(sum);
            assert!(kept, "killed when {name}: {} lost", file.display());
        }
        let state = match (in_place.len(), snaps.len()) {
            (n, 0) if n == want.len() => "rolled back, originals intact",
            (_, 0) => panic!("killed when {name}: files gone without a snapshot"),
            (n, _) if n == want.len() => "snapshot complete, originals intact",
            _ => "snapshot complete, rm ran partly or fully",
        };
        eprintln!("killed when {name}: {state}");
        *outcomes.entry(state).or_insert(0) += 1;
    }
    assert!(
        outcomes.len() >= 2,
        "the kills should land at different stages: {outcomes:?}"
    );
}

fn finisher_pids(id: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|d| d.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                c.contains("snapshot finish") && c.contains(id)
            })
        })
        .collect()
}

#[test]
fn a_killed_background_hasher_is_finished_by_the_next_run() {
    let e = setup(&snapshot_rule("{root}/data"), None);
    std::fs::create_dir_all(e.root.join("data")).unwrap();
    // 4 GiB to hash (sparse, so cheap to make): seconds of background work to interrupt.
    let big = std::fs::File::create(e.root.join("data/big")).unwrap();
    big.set_len(4 << 30).unwrap();
    use std::os::unix::fs::FileExt;
    big.write_all_at(b"end", (4 << 30) - 3).unwrap();
    drop(big);
    let want = sha256sum(&e.root.join("data/big"));
    let out = e.rm(&["-rf", "data"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    let id = std::fs::read_dir(&e.store)
        .unwrap()
        .flatten()
        .map(|d| d.file_name().into_string().unwrap())
        .find(|n| !n.starts_with('.'))
        .unwrap();
    // It was started before rm returned; give a loaded machine a moment to show it.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut pids = finisher_pids(&id);
    while pids.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        pids = finisher_pids(&id);
    }
    let ps = Command::new("ps")
        .args(["-eo", "pid,ppid,pgid,stat,etimes,args"])
        .output()
        .unwrap();
    assert!(
        !pids.is_empty(),
        "the hasher runs in the background after rm returned; its log: {:?}; rm said: {:?}; processes:\n{}",
        std::fs::read_to_string(e.store.join(".finish.log")),
        common::text(&out),
        String::from_utf8_lossy(&ps.stdout)
    );
    for pid in pids {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    std::thread::sleep(Duration::from_millis(200));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.store.join(&id).join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["state"], "committed", "killed before it could finish");
    let snaps = e.list();
    assert_eq!(snaps[0]["state"], "complete");
    let shown = e.gardefou(&["snapshot", "show", &id, "--json"]);
    let m: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let big = m["targets"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "big")
        .unwrap()
        .clone();
    assert_eq!(big["sha256"], want.as_str());
}

#[test]
fn concurrent_guards_get_distinct_snapshots() {
    let e = setup(&snapshot_rule("{root}/data/*"), None);
    for i in 0..8 {
        std::fs::create_dir_all(e.root.join(format!("data/t{i}"))).unwrap();
        std::fs::write(e.root.join(format!("data/t{i}/f")), format!("{i}")).unwrap();
    }
    let children: Vec<_> = (0..8)
        .map(|i| {
            e.cmd(&e.root.join("shim/rm"))
                .args(["-rf", &format!("data/t{i}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{:?}", common::text(&out));
    }
    let snaps = e.list();
    assert_eq!(snaps.len(), 8);
    let mut originals: Vec<String> = snaps
        .iter()
        .map(|s| s["targets"][0]["original"].as_str().unwrap().to_owned())
        .collect();
    originals.sort();
    originals.dedup();
    assert_eq!(originals.len(), 8, "each guard saved its own target");
    for s in &snaps {
        let out = e.gardefou(&["snapshot", "verify", s["id"].as_str().unwrap()]);
        assert!(out.status.success(), "{:?}", common::text(&out));
    }
}

#[test]
fn verify_detects_a_changed_byte_and_restore_refuses_to_overwrite_without_force() {
    let e = setup("", None);
    std::fs::create_dir_all(e.root.join("keep")).unwrap();
    std::fs::write(e.root.join("keep/a"), b"original").unwrap();
    let out = e.gardefou(&["snapshot", "take", "keep"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        std::fs::read(e.root.join("keep/a")).unwrap(),
        b"original",
        "take copies"
    );
    std::fs::write(e.root.join("keep/a"), b"changed!").unwrap();
    let out = e.gardefou(&["snapshot", "restore", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::text(&out).1.contains("would be overwritten"));
    assert_eq!(std::fs::read(e.root.join("keep/a")).unwrap(), b"changed!");
    let out = e.gardefou(&["snapshot", "restore", &id, "--force"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(std::fs::read(e.root.join("keep/a")).unwrap(), b"original");
    let stored = e.store.join(&id).join("data/0/a");
    std::fs::write(&stored, b"corrupt!").unwrap();
    let out = e.gardefou(&["snapshot", "verify", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::text(&out).0.contains("MISMATCH"),
        "{:?}",
        common::text(&out)
    );
    let out = e.gardefou(&["snapshot", "restore", &id, "--force"]);
    assert!(!out.status.success(), "a corrupt copy is never restored");
    assert!(
        common::text(&out).1.contains("does not match its sha256"),
        "{:?}",
        common::text(&out)
    );
    assert_eq!(std::fs::read(e.root.join("keep/a")).unwrap(), b"original");
    let left: Vec<_> = std::fs::read_dir(e.root.join("keep"))
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert_eq!(left, ["a"], "no temporary copy is left beside it");
}

#[test]
fn prune_is_a_dry_run_without_yes_and_keeps_the_newest() {
    let e = setup("", None);
    std::fs::write(e.root.join("f"), vec![1u8; 64 << 10]).unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let out = e.gardefou(&["snapshot", "take", "f"]);
        assert!(out.status.success(), "{:?}", common::text(&out));
        ids.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let policy = std::fs::read_to_string(&e.policy).unwrap();
    std::fs::write(
        &e.policy,
        policy.replace("keep_newest = 1", "keep_newest = 1\nmax_bytes = \"1K\""),
    )
    .unwrap();
    let out = e.gardefou(&["snapshot", "prune"]);
    let (stdout, _) = common::text(&out);
    assert!(
        out.status.success() && stdout.contains("would remove"),
        "{stdout}"
    );
    assert_eq!(e.list().len(), 3);
    let out = e.gardefou(&["snapshot", "prune", "--yes"]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    let left: Vec<String> = e
        .list()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, vec![ids[2].clone()], "only the newest is left");
}

/// An XFS filesystem in a loop-mounted image file (XFS clones files: FICLONE), unmounted and
/// deleted when dropped.
struct Xfs {
    mount: PathBuf,
    image: PathBuf,
}

impl Xfs {
    fn new(at: &Path) -> Xfs {
        let image = at.with_extension("img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(320 << 20)
            .unwrap();
        must_run(Command::new("mkfs.xfs").arg("-q").arg(&image));
        std::fs::create_dir_all(at).unwrap();
        must_run(
            Command::new("mount")
                .arg("-o")
                .arg("loop")
                .arg(&image)
                .arg(at),
        );
        Xfs {
            mount: at.to_path_buf(),
            image,
        }
    }

    fn used(&self) -> u64 {
        let st = nix::sys::statvfs::statvfs(&self.mount).unwrap();
        (st.blocks() - st.blocks_free()) as u64 * st.fragment_size() as u64
    }
}

impl Drop for Xfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = std::fs::remove_file(&self.image);
    }
}

#[test]
fn on_a_filesystem_that_clones_files_the_snapshot_is_a_reflink() {
    let dir = tempfile::tempdir().unwrap();
    let xfs = Xfs::new(&std::fs::canonicalize(dir.path()).unwrap().join("xfs"));
    let data = xfs.mount.join("data");
    let e = setup(
        &snapshot_rule(&data.display().to_string()),
        Some(&xfs.mount.join("store")),
    );
    std::fs::create_dir_all(data.join("d")).unwrap();
    write_pattern(&xfs.mount.join("data/big"), 64 << 20, 9);
    std::fs::write(xfs.mount.join("data/d/small"), b"small").unwrap();
    let before = signature(&xfs.mount.join("data"));
    let used = xfs.used();
    // -v: rm must list what it removes, so the target is cloned rather than moved.
    let out = e.rm(&["-rv", &xfs.mount.join("data").display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(!xfs.mount.join("data").exists());
    let id = e.only_snapshot();
    assert!(e.gardefou(&["snapshot", "verify", &id]).status.success());
    let shown = e.gardefou(&["snapshot", "show", &id, "--json"]);
    let m: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(m["targets"][0]["method"], "reflink");
    let out = e.gardefou(&["snapshot", "restore", &id]);
    assert!(out.status.success(), "{:?}", common::text(&out));
    assert_eq!(signature(&xfs.mount.join("data")), before);
    let grown = xfs.used().saturating_sub(used);
    assert!(
        grown < 32 << 20,
        "clones share their blocks: grew {grown} bytes for 64 MiB"
    );
}
