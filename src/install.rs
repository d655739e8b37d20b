//! `gardefou install` / `uninstall`: the binary, the argv[0] shims (symlinks named after the
//! guarded commands, in a directory ahead of /usr/bin and /bin), apt's and dpkg's hooks, and the
//! default policy.
//!
//! Idempotent; never overwrites a file it did not create; uninstall leaves the audit log.

use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use crate::cli::InstallArgs;
use crate::error::{Error, Result};
use crate::policy::load::EMBEDDED_TEXT;

/// The commands gardefou guards as argv[0] shims.
pub const SHIMS: &[&str] = &[
    "rm",
    "apt",
    "apt-get",
    "aptitude",
    "dpkg",
    "psql",
    "dropdb",
    "pg_dropcluster",
    "redis-cli",
    "mysql",
    "mariadb",
    "mysqladmin",
    "mariadb-admin",
    "reboot",
    "poweroff",
    "halt",
    "shutdown",
    "init",
    "telinit",
    "systemctl",
    "service",
];

/// The first line of every hook file `install` writes: `uninstall` removes only these.
const MARK: &str = "Written by `gardefou install`";

/// The hook command, and what the operator reads when gardefou itself is missing or cannot be
/// executed: the hook fails closed (apt or dpkg stops before changing anything) and the message
/// names the one command that disables it.
fn hook_command(bin: &Path, verb: &str, file: &Path) -> String {
    format!(
        "{bin} {verb} || {{ rc=$?; [ $rc -ge 126 ] && echo 'gardefou: {bin} is missing or broken: stopped before any package changed (fail closed). To disable this hook: rm {file}' >&2; exit $rc; }}",
        bin = bin.display(),
        file = file.display()
    )
}

fn apt_conf(bin: &Path, file: &Path) -> String {
    format!(
        "// {MARK}; removed by `gardefou uninstall`.\n\
         // apt's DPkg::Pre-Install-Pkgs hook: refuses protected packages, and removals cascading\n\
         // into them, before dpkg runs. To disable it: rm {file}\n\
         DPkg::Pre-Install-Pkgs {{ \"{cmd}\"; }};\n\
         DPkg::Tools::Options::{bin}::Version \"3\";\n\
         DPkg::Tools::Options::{bin}::InfoFD \"20\";\n",
        file = file.display(),
        bin = bin.display(),
        cmd = hook_command(bin, "apt-hook", file)
    )
}

fn dpkg_conf(bin: &Path, file: &Path) -> String {
    format!(
        "# {MARK}; removed by `gardefou uninstall`.\n\
         # dpkg's pre-invoke hook: refuses a raw `dpkg -r/-P` of a protected package.\n\
         # To disable it: rm {file}\n\
         pre-invoke={cmd}\n",
        file = file.display(),
        cmd = hook_command(bin, "dpkg-hook", file)
    )
}

/// Writes `text` to `path` atomically unless it already holds it; refuses to replace a file
/// that `install` did not write.
fn write_owned(path: &Path, text: &str, done: &mut Vec<String>) -> Result<()> {
    match std::fs::read_to_string(path) {
        Ok(old) if old == text => return Ok(()),
        Ok(old) if !old.lines().next().unwrap_or("").contains(MARK) => {
            return Err(Error::Usage(format!(
                "{} exists and was not written by gardefou: not replacing it",
                path.display()
            )));
        }
        _ => {}
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let tmp = dir.join(".gardefou.new");
    std::fs::write(&tmp, text).map_err(io(format!("writing {}", tmp.display())))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
        .map_err(io(format!("chmod {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!("installing {}", path.display())))?;
    done.push(format!("wrote {}", path.display()));
    Ok(())
}

/// Removes a file `install` wrote (and only such a file).
fn remove_owned(path: &Path, done: &mut Vec<String>) -> Result<()> {
    if let Ok(text) = std::fs::read_to_string(path)
        && text.lines().next().unwrap_or("").contains(MARK)
    {
        std::fs::remove_file(path).map_err(io(format!("removing {}", path.display())))?;
        done.push(format!("removed {}", path.display()));
    }
    Ok(())
}

fn hook_files(args: &InstallArgs) -> (PathBuf, PathBuf) {
    (
        args.apt_conf_dir.join("05gardefou"),
        args.dpkg_conf_dir.join("gardefou"),
    )
}

fn io(ctx: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(ctx, e)
}

/// The same file, or a copy with the same bytes.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) if x == y => true,
        (Ok(_), Ok(_)) => matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y),
        _ => false,
    }
}

/// The shims' targets: the full executable, and the hot path of `rm` and `psql` when it is installed
/// (relative names beside the shims, or absolute paths).
struct Targets {
    full: PathBuf,
    hot: Option<PathBuf>,
}

impl Targets {
    fn of(&self, shim: &str) -> &Path {
        match (&self.hot, shim) {
            (Some(hot), "rm" | "psql") => hot,
            _ => &self.full,
        }
    }

    /// A link to either executable is gardefou's own: install may move it from one to the
    /// other (an upgrade that brings the hot path), uninstall removes it.
    fn ours(&self, link: &Path) -> bool {
        let hot = self
            .hot
            .clone()
            .unwrap_or_else(|| self.full.with_file_name(crate::act::exec::HOT));
        link == self.full || link == hot
    }
}

/// Links every shim in `bin` to its target; never replaces anything that is not gardefou's.
fn link_shims(bin: &Path, targets: &Targets, done: &mut Vec<String>) -> Result<()> {
    for name in SHIMS {
        let link = bin.join(name);
        let target = targets.of(name);
        match std::fs::read_link(&link) {
            Ok(t) if t == target => continue,
            Ok(t) if targets.ours(&t) => {
                std::fs::remove_file(&link)
                    .map_err(io(format!("replacing shim {}", link.display())))?;
            }
            Ok(t) => {
                return Err(Error::Usage(format!(
                    "{} already exists and points to {}: not replacing it",
                    link.display(),
                    t.display()
                )));
            }
            Err(_) if link.symlink_metadata().is_ok() => {
                return Err(Error::Usage(format!(
                    "{} already exists and is not a gardefou shim: not replacing it",
                    link.display()
                )));
            }
            Err(_) => {}
        }
        symlink(target, &link).map_err(io(format!("creating shim {}", link.display())))?;
        done.push(format!("shim {} -> {}", link.display(), target.display()));
    }
    Ok(())
}

/// Removes the shims in `bin` that link to gardefou.
fn unlink_shims(bin: &Path, targets: &Targets, done: &mut Vec<String>) -> Result<()> {
    for name in SHIMS {
        let link = bin.join(name);
        if std::fs::read_link(&link).is_ok_and(|t| targets.ours(&t)) {
            std::fs::remove_file(&link).map_err(io(format!("removing {}", link.display())))?;
            done.push(format!("removed shim {}", link.display()));
        }
    }
    Ok(())
}

/// Copies `from` to `to` (mode 0755, renamed into place) unless it is already there.
fn install_exe(from: &Path, to: &Path, done: &mut Vec<String>) -> Result<()> {
    if same_file(from, to) {
        return Ok(());
    }
    let tmp = to.with_file_name(format!(
        ".{}.new",
        to.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::copy(from, &tmp).map_err(io(format!("copying to {}", tmp.display())))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .map_err(io(format!("chmod {}", tmp.display())))?;
    std::fs::rename(&tmp, to).map_err(io(format!("installing {}", to.display())))?;
    done.push(format!("installed {}", to.display()));
    Ok(())
}

/// The hot path beside this executable, when it was built (`cargo build` builds both).
fn hot_beside_me() -> Option<PathBuf> {
    crate::act::exec::beside_me(crate::act::exec::HOT).filter(|p| p.is_file())
}

/// This executable, for `--system` links (/usr/bin/gardefou when the package installed it).
fn this_exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(io("finding this executable".into()))
}

/// Installs into `prefix`/bin, `etc` and the apt and dpkg configuration directories; returns a
/// line per action taken. With `--system`, only the shims, linked to this executable.
pub fn install(args: &InstallArgs) -> Result<Vec<String>> {
    let (prefix, etc) = (args.prefix.as_path(), args.etc.as_path());
    let mut done = Vec::new();
    let bin = prefix.join("bin");
    std::fs::create_dir_all(&bin).map_err(io(format!("creating {}", bin.display())))?;
    let me = this_exe()?;
    if args.system {
        let targets = Targets {
            full: me.clone(),
            hot: hot_beside_me(),
        };
        link_shims(&bin, &targets, &mut done)?;
        let (apt, dpkg) = hook_files(args);
        write_owned(&apt, &apt_conf(&me, &apt), &mut done)?;
        write_owned(&dpkg, &dpkg_conf(&me, &dpkg), &mut done)?;
        return Ok(done);
    }
    let target = bin.join("gardefou");
    install_exe(&me, &target, &mut done)?;
    let hot = match hot_beside_me() {
        Some(hot) => {
            install_exe(&hot, &bin.join(crate::act::exec::HOT), &mut done)?;
            Some(PathBuf::from(crate::act::exec::HOT))
        }
        None => None,
    };
    let targets = Targets {
        full: PathBuf::from("gardefou"),
        hot,
    };
    link_shims(&bin, &targets, &mut done)?;
    std::fs::create_dir_all(etc.join("policy.d"))
        .map_err(io(format!("creating {}/policy.d", etc.display())))?;
    let policy = etc.join("policy.toml");
    if !policy.exists() {
        let tmp = etc.join(".policy.toml.new");
        let mut f =
            std::fs::File::create(&tmp).map_err(io(format!("writing {}", tmp.display())))?;
        f.write_all(EMBEDDED_TEXT.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io(format!("writing {}", tmp.display())))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
            .map_err(io(format!("chmod {}", tmp.display())))?;
        std::fs::rename(&tmp, &policy).map_err(io(format!("installing {}", policy.display())))?;
        done.push(format!("default policy written to {}", policy.display()));
    }
    let (apt, dpkg) = hook_files(args);
    write_owned(&apt, &apt_conf(&target, &apt), &mut done)?;
    write_owned(&dpkg, &dpkg_conf(&target, &dpkg), &mut done)?;
    if args.shell {
        set_shell_listed(&args.shells_file, &target, true, &mut done)?;
    }
    Ok(done)
}

/// Adds `shell` to (or removes it from) the login shells file, as add-shell and remove-shell
/// do: one path per line, written beside and renamed into place.
fn set_shell_listed(file: &Path, shell: &Path, listed: bool, done: &mut Vec<String>) -> Result<()> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !listed => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("reading {}", file.display()), e)),
    };
    let entry = shell.display().to_string();
    let present = text.lines().any(|l| l.trim() == entry);
    if present == listed {
        return Ok(());
    }
    let new = if listed {
        let mut t = text.clone();
        if !t.is_empty() && !t.ends_with('\n') {
            t.push('\n');
        }
        t.push_str(&entry);
        t.push('\n');
        t
    } else {
        text.lines()
            .filter(|l| l.trim() != entry)
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let tmp = file.with_extension("gardefou-new");
    std::fs::write(&tmp, new).map_err(io(format!("writing {}", tmp.display())))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
        .map_err(io(format!("chmod {}", tmp.display())))?;
    std::fs::rename(&tmp, file).map_err(io(format!("installing {}", file.display())))?;
    done.push(if listed {
        format!("{entry} listed in {} (a login shell)", file.display())
    } else {
        format!("{entry} removed from {}", file.display())
    });
    Ok(())
}

/// Warnings about PATH order: a shim directory behind /usr/bin guards nothing.
pub fn path_warnings(bin: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let check = |what: &str, path: &str, out: &mut Vec<String>| {
        let dirs: Vec<PathBuf> = std::env::split_paths(path).collect();
        let pos = |d: &Path| dirs.iter().position(|x| x == d);
        match pos(bin) {
            None => out.push(format!(
                "{} is not on {what}: the shims there guard nothing for it",
                bin.display()
            )),
            Some(i) => {
                if ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
                    .iter()
                    .any(|d| pos(Path::new(d)).is_some_and(|j| j < i))
                {
                    out.push(format!(
                        "{} comes after a system directory on {what}: move it ahead",
                        bin.display()
                    ));
                }
            }
        }
    };
    check(
        "this shell's PATH",
        &std::env::var("PATH").unwrap_or_default(),
        &mut out,
    );
    if let Ok(sudoers) = std::fs::read_to_string("/etc/sudoers")
        && let Some(line) = sudoers
            .lines()
            .find(|l| l.trim_start().starts_with("Defaults") && l.contains("secure_path="))
    {
        let value = line
            .split("secure_path=")
            .nth(1)
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        check("sudo's secure_path", value, &mut out);
    }
    out
}

/// Removes what `install` created; keeps a policy that was edited, and the audit log.
pub fn uninstall(args: &InstallArgs) -> Result<Vec<String>> {
    let (prefix, etc) = (args.prefix.as_path(), args.etc.as_path());
    let mut done = Vec::new();
    let (apt, dpkg) = hook_files(args);
    remove_owned(&apt, &mut done)?;
    remove_owned(&dpkg, &mut done)?;
    if args.system {
        let targets = Targets {
            full: this_exe()?,
            hot: None,
        };
        unlink_shims(&prefix.join("bin"), &targets, &mut done)?;
        return Ok(done);
    }
    let bin = prefix.join("bin");
    set_shell_listed(&args.shells_file, &bin.join("gardefou"), false, &mut done)?;
    let targets = Targets {
        full: PathBuf::from("gardefou"),
        hot: None,
    };
    unlink_shims(&bin, &targets, &mut done)?;
    let policy = etc.join("policy.toml");
    match std::fs::read_to_string(&policy) {
        Ok(text) if text == EMBEDDED_TEXT => {
            std::fs::remove_file(&policy).map_err(io(format!("removing {}", policy.display())))?;
            done.push(format!("removed {}", policy.display()));
        }
        Ok(_) => done.push(format!("kept {}: it was edited", policy.display())),
        Err(_) => {}
    }
    for dir in [etc.join("policy.d"), etc.to_owned()] {
        if std::fs::remove_dir(&dir).is_ok() {
            done.push(format!("removed {}", dir.display()));
        }
    }
    for exe in ["gardefou", crate::act::exec::HOT] {
        let target = bin.join(exe);
        if target.exists() {
            std::fs::remove_file(&target).map_err(io(format!("removing {}", target.display())))?;
            done.push(format!("removed {}", target.display()));
        }
    }
    // The parsed-policy cache (the package's postrm does the same).
    if let Some(dir) = crate::policy::cache::dir() {
        let cache = dir.join(crate::policy::cache::FILE);
        if std::fs::remove_file(&cache).is_ok() {
            done.push(format!("removed {}", cache.display()));
        }
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(done)
}
