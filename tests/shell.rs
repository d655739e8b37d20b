//! The guarded shell, driven through a real pseudo-terminal (`script`): typed lines, the
//! prompt's colors, refusals, state kept between lines, history, Ctrl-C; `-c` as sshd runs it;
//! a broken policy; and `gardefou init bash` in a real interactive bash.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    policy: PathBuf,
    home: PathBuf,
}

/// gardefou installed in a temp prefix, a protected directory `vital` (deny) with a file in
/// it, a home directory, and `environment` as the host's environment.
fn host(environment: &str) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("vital/data")).unwrap();
    std::fs::write(root.join("vital/data/f"), "keep").unwrap();
    std::fs::create_dir_all(root.join("home/sub")).unwrap();
    let rules = format!(
        "[[protect.path]]\npath = \"{}/vital\"\naction = \"deny\"\nreason = \"vital test data\"\n",
        root.display()
    );
    let installed = common::install_production(&root, &rules);
    let policy = installed.policy;
    if environment != "production" {
        let text = std::fs::read_to_string(&policy).unwrap().replace(
            "environment = \"production\"",
            &format!("environment = \"{environment}\""),
        );
        std::fs::write(&policy, text).unwrap();
    }
    Host {
        _dir: dir,
        bin: installed.bin,
        home: root.join("home"),
        root,
        policy,
    }
}

impl Host {
    fn shell_cmd(&self) -> Command {
        let mut c = Command::new("script");
        c.env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("GARDEFOU_POLICY", &self.policy)
            .env("HOME", &self.home)
            .env_remove("XDG_STATE_HOME")
            .env_remove("NO_COLOR")
            .current_dir(&self.home);
        c
    }

    /// `gardefou LINE…` without a terminal.
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.bin.join("gardefou"))
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("GARDEFOU_POLICY", &self.policy)
            .env("HOME", &self.home)
            .env_remove("SUDO_USER")
            .current_dir(&self.home)
            .output()
            .unwrap()
    }
}

#[test]
fn typed_lines_are_checked_and_the_shell_keeps_its_state() {
    let h = host("production");
    let vital = h.root.join("vital");
    // By its path, /bin/rm would not reach the rm shim: the shell's own check stops the line,
    // before its harmless first half runs.
    let rm = format!("echo not-$((1+1)); /bin/rm -rf {}", vital.display());
    let typed = [
        "echo hello-$((6*7))",
        rm.as_str(),
        "echo refused-status=$?",
        "cd sub && export KEPT=yes && n=5",
        "pwd; echo KEPT=$KEPT n=$n",
        "sleep 30",
        "\\003",
        "echo alive-after-ctrl-c",
        "exit 3",
    ];
    let out = common::typed_on_tty(&mut h.shell_cmd(), "exec gardefou shell", &typed);
    let (shown, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(3), "{shown}{err}");
    // The production badge in red, bold.
    assert!(
        shown.contains("\x1b[1;31m[PRODUCTION "),
        "no red badge: {shown:?}"
    );
    assert!(shown.contains("hello-42"), "{shown}");
    assert!(
        shown.contains("DENY") && shown.contains("vital test data"),
        "{shown}"
    );
    assert!(shown.contains("refused-status=1"), "{shown}");
    assert!(
        !shown.contains("not-2"),
        "part of a refused line ran: {shown}"
    );
    assert!(vital.join("data/f").exists(), "the protected file is gone");
    assert!(
        shown.contains(&format!("{}/sub", h.home.display())) && shown.contains("KEPT=yes n=5"),
        "{shown}"
    );
    assert!(shown.contains("alive-after-ctrl-c"), "{shown}");
    // The prompt shows the status of the interrupted line.
    assert!(shown.contains("[130]"), "{shown}");
    let history = h.home.join(".local/state/gardefou/history");
    let text = std::fs::read_to_string(&history).unwrap();
    assert!(
        text.contains("echo hello-$((6*7))") && text.contains(&rm),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&history).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn minus_c_runs_one_line_as_sshd_runs_it() {
    let h = host("production");
    let out = h.run(&["-c", "echo one; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(common::text(&out).0, "one\n");
    // A guarded command inside `ssh host 'rm -rf …'` is refused before anything runs.
    let line = format!("echo first; rm -rf {}", h.root.join("vital").display());
    let out = h.run(&["-c", &line]);
    let (shown, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}{err}");
    assert!(shown.is_empty(), "part of the line ran: {shown}");
    assert!(err.contains("vital test data"), "{err}");
    assert!(h.root.join("vital/data/f").exists());
    // Started as a login shell by name (`-gardefou`), as login and sshd start it.
    let out = Command::new(h.bin.join("gardefou"))
        .arg0("-gardefou")
        .args(["-c", "echo login-ok"])
        .env("GARDEFOU_POLICY", &h.policy)
        .env("HOME", &h.home)
        .output()
        .unwrap();
    assert_eq!(
        common::text(&out).0,
        "login-ok\n",
        "{:?}",
        common::text(&out)
    );
    // What the line runs is guarded by the shims, first on its PATH.
    let out = h.run(&["-c", "command -v rm"]);
    assert_eq!(
        common::text(&out).0.trim(),
        h.bin.join("rm").display().to_string()
    );
}

#[test]
fn environment_colors_and_no_color() {
    let h = host("staging");
    let out = common::typed_on_tty(&mut h.shell_cmd(), "exec gardefou shell", &["exit"]);
    let (shown, _) = common::text(&out);
    assert!(shown.contains("\x1b[1;33m[STAGING "), "{shown:?}");
    let out = common::typed_on_tty(
        h.shell_cmd().env("NO_COLOR", "1"),
        "exec gardefou shell",
        &["exit"],
    );
    let (shown, _) = common::text(&out);
    assert!(shown.contains("[STAGING "), "{shown:?}");
    assert!(!shown.contains("\x1b[1;33m"), "{shown:?}");
}

#[test]
fn a_broken_policy_never_locks_the_operator_out() {
    let h = host("production");
    std::fs::write(&h.policy, "version = 1\n[[protect.path]\nbroken").unwrap();
    let out = common::typed_on_tty(
        &mut h.shell_cmd(),
        "exec gardefou shell",
        &["echo still-here", "exit 0"],
    );
    let (shown, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}{err}");
    assert!(shown.contains("DEGRADED"), "{shown}");
    assert!(shown.contains("[POLICY BROKEN]"), "{shown}");
    assert!(shown.contains("still-here"), "{shown}");
    let out = h.run(&["-c", "echo via-c"]);
    assert_eq!(common::text(&out).0, "via-c\n", "{:?}", common::text(&out));
}

/// Gives `h`'s policy a maintenance state file of its own, and returns its path.
fn with_maintenance_state(h: &Host) -> PathBuf {
    let state = h.root.join("maintenance.json");
    let mut policy = std::fs::read_to_string(&h.policy).unwrap();
    policy.push_str(&format!(
        "[cluster]\nadapter = \"none\"\nstate_file = \"{}\"\n",
        state.display()
    ));
    std::fs::write(&h.policy, policy).unwrap();
    state
}

/// What is typed into a shell set up by `gardefou init`: an allowed line, a denied one (by
/// path, so that the rm shim is not what stops it), then the maintenance mark set and removed.
fn init_session(h: &Host, state: &Path) -> Vec<String> {
    [
        "echo plain-ok".to_owned(),
        format!("/bin/rm -rf {}", h.root.join("vital").display()),
        "echo after".to_owned(),
        format!("echo {{}} > {}", state.display()),
        "echo inside".to_owned(),
        format!("/bin/rm {}", state.display()),
        "echo left".to_owned(),
        "exit".to_owned(),
    ]
    .into()
}

/// The session above, as the terminal showed it: the denied line did not run, the badge is
/// red, and `[MAINTENANCE]` is in the prompt while the mark exists, and only then.
fn assert_init_session(h: &Host, shell: &str, shown: &str) {
    assert!(
        shown.contains("plain-ok") && shown.contains("after") && shown.contains("inside"),
        "{shell}: {shown:?}"
    );
    assert!(shown.contains("vital test data"), "{shell}: {shown:?}");
    assert!(h.root.join("vital/data/f").exists(), "{shell} ran the rm");
    assert!(
        shown.contains("\x1b[1;31m[PRODUCTION "),
        "{shell}: {shown:?}"
    );
    let badge = "\x1b[1;33m[MAINTENANCE]";
    let first = shown
        .find(badge)
        .unwrap_or_else(|| panic!("{shell}: no badge: {shown:?}"));
    assert!(first > shown.find("after").unwrap(), "{shell}: {shown:?}");
    let left = shown.rfind("left").unwrap();
    assert!(!shown[left..].contains(badge), "{shell}: {shown:?}");
    assert!(shown[left..].contains("[PRODUCTION "), "{shell}: {shown:?}");
}

#[test]
fn init_bash_checks_each_command_of_a_real_interactive_bash() {
    let h = host("production");
    let state = with_maintenance_state(&h);
    let snippet = common::ok(h.run(&["init", "bash"])).stdout;
    let rc = h.root.join("bashrc");
    // The user's own PROMPT_COMMAND still runs, and is not checked (it would cost a process).
    let mut rc_text = b"PROMPT_COMMAND='__own=$((__own+1))'\n".to_vec();
    rc_text.extend(snippet);
    std::fs::write(&rc, rc_text).unwrap();
    let mut typed = init_session(&h, &state);
    typed.insert(5, "echo own=$__own".to_owned());
    let typed: Vec<&str> = typed.iter().map(String::as_str).collect();
    let line = format!("exec bash --noprofile --rcfile {} -i", rc.display());
    let out = common::typed_on_tty(&mut h.shell_cmd(), &line, &typed);
    let (shown, _) = common::text(&out);
    assert_init_session(&h, "bash", &shown);
    // 6 prompts by then: the user's PROMPT_COMMAND ran before each.
    let own = shown
        .split("\rown=")
        .nth(1)
        .and_then(|t| t.split('\r').next());
    assert!(
        own.and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 4),
        "{own:?} {shown:?}"
    );
}

#[test]
fn init_zsh_and_fish_check_each_line_of_real_interactive_shells() {
    let h = host("production");
    let state = with_maintenance_state(&h);
    let session = init_session(&h, &state);
    let typed: Vec<&str> = session.iter().map(String::as_str).collect();
    // zsh reads $ZDOTDIR/.zshrc.
    let zdot = h.root.join("zdot");
    std::fs::create_dir(&zdot).unwrap();
    std::fs::write(
        zdot.join(".zshrc"),
        common::ok(h.run(&["init", "zsh"])).stdout,
    )
    .unwrap();
    let out = common::typed_on_tty(h.shell_cmd().env("ZDOTDIR", &zdot), "exec zsh -i", &typed);
    assert_init_session(&h, "zsh", &common::text(&out).0);
    // fish reads $XDG_CONFIG_HOME/fish/config.fish, and keeps its own state beside it.
    let xdg = h.root.join("xdg");
    std::fs::create_dir_all(xdg.join("config/fish")).unwrap();
    std::fs::write(
        xdg.join("config/fish/config.fish"),
        common::ok(h.run(&["init", "fish"])).stdout,
    )
    .unwrap();
    let out = common::typed_on_tty(
        h.shell_cmd()
            .env("XDG_CONFIG_HOME", xdg.join("config"))
            .env("XDG_DATA_HOME", xdg.join("data")),
        "exec fish -i",
        &typed,
    );
    assert_init_session(&h, "fish", &common::text(&out).0);
}

/// A user removed when the test ends, however it ends.
struct User(&'static str);

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(self.0).output();
    }
}

#[test]
fn as_the_login_shell_over_ssh_commands_scp_and_sftp_work_and_stay_guarded() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let name = "gftest-sh";
    let _ = Command::new("userdel").arg(name).output();
    let home = root.join("home");
    let vital = root.join("vital");
    let rules = format!(
        "[[protect.path]]\npath = \"{}\"\naction = \"deny\"\nreason = \"vital test data\"\n",
        vital.display()
    );
    // Installed with --shell: listed in the shells file.
    let out = Command::new(common::bin())
        .arg("install")
        .args(common::install_dirs(&root))
        .arg("--shell")
        .output()
        .unwrap();
    let out = common::ok(out);
    let gardefou = root.join("prefix/bin/gardefou");
    let shells = std::fs::read_to_string(root.join("etc/shells")).unwrap();
    assert!(
        shells.lines().any(|l| l == gardefou.display().to_string()),
        "{:?}",
        common::text(&out)
    );
    let policy = common::write_policy(
        &root,
        &format!("[host]\nenvironment = \"production\"\n{rules}"),
    );
    common::ok(
        Command::new("useradd")
            // `*`: no password, but not a locked account (which sshd refuses without PAM).
            .args(["-M", "-p", "*", "-d"])
            .arg(&home)
            .arg("-s")
            .arg(&gardefou)
            .arg(name)
            .output()
            .unwrap(),
    );
    let _user = User(name);
    std::fs::create_dir_all(vital.join("data")).unwrap();
    std::fs::write(vital.join("data/f"), "keep").unwrap();
    std::fs::create_dir_all(&home).unwrap();
    for p in [&home, &vital, &vital.join("data"), &vital.join("data/f")] {
        common::ok(Command::new("chown").arg(name).arg(p).output().unwrap());
    }
    // Keys, and sshd on a free loopback port.
    for key in ["host", "client"] {
        common::ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(root.join(key))
                .output()
                .unwrap(),
        );
    }
    std::fs::copy(root.join("client.pub"), root.join("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = root.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {r}/host\nPidFile {r}/sshd.pid\n\
             AuthorizedKeysFile {r}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nSubsystem sftp /usr/lib/openssh/sftp-server\n\
             SetEnv GARDEFOU_POLICY={p}\n",
            r = root.display(),
            p = policy.display()
        ),
    )
    .unwrap();
    let _sshd = common::KillOnDrop(
        Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sshd is installed (.ci/run installs openssh-server)"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let opts = |c: &mut Command| {
        c.arg("-i").arg(root.join("client")).args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
        ]);
    };
    let ssh = |line: &str| {
        let mut c = Command::new("ssh");
        opts(&mut c);
        c.args(["-p", &port.to_string()])
            .arg(format!("{name}@127.0.0.1"))
            .arg(line)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // `ssh host CMD` runs CMD through `gardefou -c`, with its exit status.
    let out = ssh("echo via-ssh $(id -un) $SHELL; exit 5");
    assert_eq!(out.status.code(), Some(5), "{:?}", common::text(&out));
    assert_eq!(
        common::text(&out).0,
        format!("via-ssh {name} {}\n", gardefou.display())
    );
    // A guarded rm in it is refused, and nothing of the line runs.
    let out = ssh(&format!("echo first; rm -rf {}", vital.display()));
    let (shown, err) = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}{err}");
    assert!(
        !shown.contains("first") && err.contains("vital test data"),
        "{shown}{err}"
    );
    assert!(vital.join("data/f").exists());
    // scp, in both its protocols (SFTP by default, the old one with -O), and sftp.
    std::fs::write(root.join("payload"), "payload\n").unwrap();
    for (flag, dest) in [(None, "a"), (Some("-O"), "b")] {
        let mut c = Command::new("scp");
        opts(&mut c);
        c.args(["-P", &port.to_string()]).args(flag);
        let out = c
            .arg(root.join("payload"))
            .arg(format!("{name}@127.0.0.1:{dest}"))
            .output()
            .unwrap();
        common::ok(out);
        assert_eq!(
            std::fs::read_to_string(home.join(dest)).unwrap(),
            "payload\n"
        );
    }
    // rsync over ssh (`rsync --server …` through `gardefou -c`).
    let e = format!(
        "ssh -i {} -p {port} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        root.join("client").display()
    );
    let out = Command::new("rsync")
        .args(["-a", "-e", &e])
        .arg(root.join("payload"))
        .arg(format!("{name}@127.0.0.1:c"))
        .output()
        .unwrap();
    common::ok(out);
    assert_eq!(
        std::fs::read_to_string(home.join("c")).unwrap(),
        "payload\n"
    );
    std::fs::write(root.join("batch"), "ls\nrm b\n").unwrap();
    let mut c = Command::new("sftp");
    opts(&mut c);
    let out = c
        .args(["-P", &port.to_string(), "-b"])
        .arg(root.join("batch"))
        .arg(format!("{name}@127.0.0.1"))
        .output()
        .unwrap();
    let out = common::ok(out);
    assert!(
        common::text(&out).0.contains('a'),
        "{:?}",
        common::text(&out)
    );
    assert!(!home.join("b").exists());
}

/// A line whose confirmation no shim would ask for (a redirection, find -delete, mv) is
/// confirmed by the shell itself: refused with no terminal, run once the hostname is typed.
#[test]
fn a_confirmation_no_shim_will_ask_for_is_asked_by_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let keys = root.join("home/.ssh");
    std::fs::create_dir_all(&keys).unwrap();
    let rules = format!(
        "[[protect.path]]\npath = \"{}\"\naction = \"deny\"\ncontents = \"confirm\"\nreason = \"test keys\"\n",
        keys.display()
    );
    let installed = common::install_production(&root, &rules);
    let run = |line: &str| {
        Command::new(installed.bin.join("gardefou"))
            .args(["shell", "-c", line])
            .env("PATH", format!("{}:/usr/bin:/bin", installed.bin.display()))
            .env("GARDEFOU_POLICY", &installed.policy)
            .env("HOME", root.join("home"))
            .env_remove("SUDO_USER")
            .current_dir(root.join("home"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    for line in [
        "find .ssh -type f -delete",
        ": > .ssh/id",
        "mv .ssh/id /tmp/gardefou-test-stolen-key",
        "truncate -s0 .ssh/id",
        "cp /dev/null .ssh/id",
    ] {
        std::fs::write(keys.join("id"), "secret").unwrap();
        let out = run(line);
        let (shown, err) = common::text(&out);
        assert_ne!(out.status.code(), Some(0), "{line}: {shown}{err}");
        assert!(err.contains("no terminal"), "{line}: {err}");
        assert_eq!(
            std::fs::read_to_string(keys.join("id")).unwrap(),
            "secret",
            "{line} ran"
        );
    }
    // A deletion that reaches the rm shim by name is left to it: it refuses too.
    let out = run("rm .ssh/id");
    assert_ne!(out.status.code(), Some(0));
    assert!(keys.join("id").exists());
    // Everyday work beside it runs.
    let out = run("echo note > notes.txt && rm notes.txt");
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    // On a terminal, typing the hostname runs it.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let env = [
        (
            "PATH",
            std::ffi::OsString::from(format!("{}:/usr/bin:/bin", installed.bin.display())),
        ),
        ("GARDEFOU_POLICY", installed.policy.clone().into_os_string()),
        ("HOME", root.join("home").into_os_string()),
    ];
    let out = common::on_tty(
        &root.join("home"),
        &env,
        "exec gardefou shell -c ': > .ssh/id'",
        &host,
    );
    assert_eq!(
        std::fs::read_to_string(keys.join("id")).unwrap(),
        "",
        "{:?}",
        common::text(&out)
    );
}

/// Power and service commands typed in the guarded shell reach their shims, with the real
/// tools replaced by stand-ins behind them (never the test machine's): refused with no
/// terminal, run once the hostname is typed on a pty.
#[test]
fn reboot_and_a_database_stop_in_the_guarded_shell_ask_for_the_hostname() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let installed = common::install_production(
        &root,
        "[[protect.power]]\naction = \"confirm\"\n[[protect.service]]\nunit = \"postgresql*\"\naction = \"confirm\"\nreason = \"the database server\"\n",
    );
    let real = root.join("real");
    std::fs::create_dir(&real).unwrap();
    let ran = root.join("ran");
    for tool in ["reboot", "shutdown", "systemctl"] {
        let p = real.join(tool);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho \"{tool} $*\" >> {}\n", ran.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        installed.bin.display(),
        real.display()
    );
    let no_tty = |line: &str| {
        Command::new("setsid")
            .arg("-w")
            .arg(installed.bin.join("gardefou"))
            .args(["shell", "-c", line])
            .env("PATH", &path)
            .env("GARDEFOU_POLICY", &installed.policy)
            .env_remove("SUDO_USER")
            .current_dir(&root)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    for line in [
        "reboot",
        "shutdown -r now",
        "systemctl reboot",
        "systemctl stop postgresql@15-main",
        "true && reboot",
    ] {
        let out = no_tty(line);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{line}: {:?}",
            common::text(&out)
        );
        assert!(!ran.exists(), "{line} reached the stand-in");
    }
    // What takes nothing down runs.
    let out = no_tty("systemctl status postgresql");
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap(),
        "systemctl status postgresql\n"
    );
    std::fs::remove_file(&ran).unwrap();
    // On a pty: a wrong answer runs nothing; the hostname runs the stand-in.
    let on_tty = |answer: &str| {
        common::on_tty(
            &root,
            &[
                ("PATH", path.clone().into()),
                ("GARDEFOU_POLICY", installed.policy.clone().into()),
            ],
            &format!(
                "{} shell -c reboot",
                installed.bin.join("gardefou").display()
            ),
            answer,
        )
    };
    let out = on_tty("not-this-host");
    assert_ne!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert!(!ran.exists());
    let out = on_tty(&common::hostname());
    assert_eq!(out.status.code(), Some(0), "{:?}", common::text(&out));
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "reboot \n");
}

/// The session's bash waits stopped between lines: a shell killed then (SIGKILL, nothing of it
/// runs) must not leave it behind, with the net on (production) or off (staging).
#[test]
fn a_killed_shell_leaves_no_bash_behind() {
    use std::io::{BufRead, Write};
    for environment in ["production", "staging"] {
        let h = host(environment);
        let mut child = Command::new(h.bin.join("gardefou"))
            .arg("shell")
            .env("PATH", format!("{}:/usr/bin:/bin", h.bin.display()))
            .env("GARDEFOU_POLICY", &h.policy)
            .env("HOME", &h.home)
            .current_dir(&h.home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "echo pid=$$").unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let pid: i32 = line.trim().strip_prefix("pid=").unwrap().parse().unwrap();
        assert_ne!(
            pid,
            child.id() as i32,
            "{environment}: the line ran in the shell itself"
        );
        // Stopped until the next line.
        let state = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.chars().next()))
                .flatten()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while state() != Some('T') && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(state(), Some('T'), "{environment}: not waiting stopped");
        child.kill().unwrap();
        child.wait().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while matches!(state(), Some(s) if s != 'Z') && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            matches!(state(), None | Some('Z')),
            "{environment}: the session's bash {pid} outlived the shell ({:?})",
            state()
        );
        drop(stdin);
    }
}
