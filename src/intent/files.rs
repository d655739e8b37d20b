//! The file effects of the commands that change files other than through rm: what `mv`,
//! `cp`, `truncate`, `dd of=`, `rsync --delete`, `git clean`… do to which paths, read from their
//! arguments as each tool's own option parser reads them (GNU getopt: bundled short options,
//! `--long=value`, `--`, operands anywhere).
//!
//! Pure: no I/O. Whether a destination is a directory, a symlink or absent is a fact, decided
//! later (facts/fs.rs) from `FileEffect::into`, `follow` and `only_if_absent`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use super::{Arg, FileEffect, FileOp};

/// Options and operands as a GNU tool's getopt sees them.
#[derive(Debug, Default)]
struct Parsed {
    /// `(name, value)`: a short option's letter as a one-character name, a long one's name.
    opts: Vec<(String, Option<Arg>)>,
    operands: Vec<Arg>,
}

impl Parsed {
    fn has(&self, names: &[&str]) -> bool {
        self.opts.iter().any(|(n, _)| names.contains(&n.as_str()))
    }

    fn value(&self, names: &[&str]) -> Option<&Arg> {
        self.opts
            .iter()
            .rev()
            .find(|(n, _)| names.contains(&n.as_str()))
            .and_then(|(_, v)| v.as_ref())
    }
}

fn bytes(a: &Arg) -> &[u8] {
    a.known().map_or(b"", |s| s.as_bytes())
}

/// GNU getopt_long with permutation. `short_val`: letters taking a value; `long_val`: long
/// options taking one (also accepted as `--name=value`); a long option may be abbreviated to
/// a unique prefix of the names in `long_val` and `long_flags`.
fn getopt(args: &[Arg], short_val: &[u8], long_val: &[&str], long_flags: &[&str]) -> Parsed {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let b = bytes(a);
        if a.known().is_none() || b.len() < 2 || b[0] != b'-' {
            p.operands.push(a.clone());
            continue;
        }
        if b == b"--" {
            p.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = b.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&c| c == b'=') {
                Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                None => (long, None),
            };
            let name = String::from_utf8_lossy(name).into_owned();
            let all = long_val.iter().chain(long_flags);
            let exact = all.clone().find(|n| **n == name);
            let mut prefixed = all.filter(|n| n.starts_with(name.as_str()));
            let full = match (exact, prefixed.next(), prefixed.next()) {
                (Some(n), _, _) | (None, Some(n), None) => (*n).to_owned(),
                _ => name,
            };
            let value = match inline {
                Some(v) => Some(Arg::Known(OsStr::from_bytes(v).to_owned())),
                None if long_val.contains(&full.as_str()) => {
                    i += 1;
                    args.get(i - 1).cloned()
                }
                None => None,
            };
            p.opts.push((full, value));
            continue;
        }
        for (k, &c) in b.iter().enumerate().skip(1) {
            if short_val.contains(&c) {
                let value = if k + 1 < b.len() {
                    Some(Arg::Known(OsStr::from_bytes(&b[k + 1..]).to_owned()))
                } else {
                    i += 1;
                    args.get(i - 1).cloned()
                };
                p.opts.push(((c as char).to_string(), value));
                break;
            }
            p.opts.push(((c as char).to_string(), None));
        }
    }
    p
}

fn effect(op: FileOp, target: &Arg) -> FileEffect {
    FileEffect::new(op, target.clone())
}

fn overwrite(target: &Arg) -> FileEffect {
    FileEffect {
        follow: true,
        ..effect(FileOp::Overwrite, target)
    }
}

/// The last path component of a source operand: the name it gets inside a destination
/// directory.
fn base_name(a: &Arg) -> Option<OsString> {
    let b = a.known()?.as_bytes();
    let trimmed = {
        let mut end = b.len();
        while end > 1 && b[end - 1] == b'/' {
            end -= 1;
        }
        &b[..end]
    };
    let name = trimmed.rsplit(|&c| c == b'/').next().unwrap_or(trimmed);
    Some(OsStr::from_bytes(name).to_owned())
}

/// `SRC… DEST` / `-t DIR SRC…` / `-T SRC DEST`: what lands where in the destination.
/// Returns the sources and the destination effect (`follow`: writes go through a symlink).
fn copy_like(
    p: &Parsed,
    target_dir: Option<&Arg>,
    no_target_dir: bool,
    op: FileOp,
    follow: bool,
) -> (Vec<Arg>, Option<FileEffect>) {
    let no_clobber = p.has(&["n", "no-clobber"])
        || matches!(
            p.value(&["update"]).map(bytes),
            Some(b"none" | b"none-fail")
        );
    let (sources, dest) = match target_dir {
        Some(dir) => (p.operands.clone(), Some(dir.clone())),
        None => match p.operands.split_last() {
            Some((dest, sources)) if !sources.is_empty() => (sources.to_vec(), Some(dest.clone())),
            _ => (p.operands.clone(), None),
        },
    };
    let Some(dest) = dest else {
        return (sources, None);
    };
    let mut e = FileEffect {
        follow,
        only_if_absent: no_clobber,
        ..effect(op, &dest)
    };
    if !no_target_dir || target_dir.is_some() {
        e.into = sources.iter().filter_map(base_name).collect();
        if e.into.len() < sources.len() {
            // A source computed at run time: its name in the directory is unknown.
            e.target = Arg::Unknown("a destination name computed at run time".into());
        }
    }
    (sources, Some(e))
}

fn mv(args: &[Arg]) -> Vec<FileEffect> {
    let p = getopt(
        args,
        b"tS",
        &["target-directory", "suffix", "context"],
        &[
            "backup",
            "force",
            "interactive",
            "no-clobber",
            "no-target-directory",
            "strip-trailing-slashes",
            "update",
            "verbose",
            "exchange",
            "no-copy",
        ],
    );
    let (sources, dest) = copy_like(
        &p,
        p.value(&["t", "target-directory"]),
        p.has(&["T", "no-target-directory"]),
        FileOp::Overwrite,
        false,
    );
    let mut out: Vec<FileEffect> = sources
        .iter()
        .map(|s| effect(FileOp::MoveAway, s))
        .collect();
    out.extend(dest);
    out
}

fn cp(args: &[Arg]) -> Vec<FileEffect> {
    let p = getopt(
        args,
        b"tS",
        &[
            "target-directory",
            "suffix",
            "sparse",
            "reflink",
            "preserve",
            "no-preserve",
            "context",
        ],
        &[
            "archive",
            "attributes-only",
            "backup",
            "copy-contents",
            "debug",
            "force",
            "interactive",
            "link",
            "dereference",
            "no-clobber",
            "no-dereference",
            "parents",
            "recursive",
            "remove-destination",
            "strip-trailing-slashes",
            "symbolic-link",
            "no-target-directory",
            "update",
            "verbose",
            "keep-directory-symlink",
            "one-file-system",
        ],
    );
    let (sources, dest) = copy_like(
        &p,
        p.value(&["t", "target-directory"]),
        p.has(&["T", "no-target-directory"]),
        FileOp::Overwrite,
        !p.has(&["remove-destination"]),
    );
    let recursive = p.has(&["r", "R", "a", "recursive", "archive"]);
    let mut dest: Vec<FileEffect> = dest.into_iter().collect();
    if recursive
        && !p.has(&["n", "no-clobber", "T", "no-target-directory"])
        && sources.iter().all(|s| s.known().is_some())
        && let Some(d) = dest.first_mut()
    {
        // What lands is what the sources hold: SRC in DEST/NAME when DEST is a directory,
        // SRC's contents when DEST is new or SRC is spelled `SRC/.`.
        d.op = FileOp::WriteInto { deletes: false };
        d.into.clear();
        d.from = sources;
        d.from_cp = true;
    }
    dest
}

fn install(args: &[Arg]) -> Vec<FileEffect> {
    let p = getopt(
        args,
        b"gmotS",
        &[
            "group",
            "mode",
            "owner",
            "target-directory",
            "suffix",
            "strip-program",
            "context",
        ],
        &[
            "backup",
            "compare",
            "directory",
            "preserve-timestamps",
            "strip",
            "no-target-directory",
            "verbose",
            "debug",
        ],
    );
    if p.has(&["d", "directory"]) {
        return p.operands.iter().map(overwrite).collect();
    }
    let (_, dest) = copy_like(
        &p,
        p.value(&["t", "target-directory"]),
        p.has(&["T", "no-target-directory"]),
        FileOp::Overwrite,
        false,
    );
    dest.into_iter().collect()
}

fn ln(args: &[Arg]) -> Vec<FileEffect> {
    let p = getopt(
        args,
        b"tS",
        &["target-directory", "suffix"],
        &[
            "backup",
            "directory",
            "force",
            "interactive",
            "logical",
            "no-dereference",
            "physical",
            "relative",
            "symbolic",
            "no-target-directory",
            "verbose",
        ],
    );
    let force = p.has(&["f", "force"]);
    let target_dir = p.value(&["t", "target-directory"]).cloned();
    let mut e = if p.operands.len() == 1 && target_dir.is_none() {
        // `ln TARGET`: a link of the same name in the current directory.
        let name = base_name(&p.operands[0]).map_or(
            Arg::Unknown("a link name computed at run time".into()),
            Arg::Known,
        );
        Some(effect(FileOp::Overwrite, &name))
    } else {
        copy_like(
            &p,
            target_dir.as_ref(),
            p.has(&["T", "no-target-directory"]),
            FileOp::Overwrite,
            false,
        )
        .1
    };
    if let Some(e) = &mut e {
        e.only_if_absent = !force;
        // `-n`: a symlink to a directory is replaced, not entered.
        if p.has(&["n", "no-dereference"]) && force {
            e.into.clear();
        }
    }
    e.into_iter().collect()
}

fn operands_overwritten(args: &[Arg], short_val: &[u8], long_val: &[&str]) -> Vec<FileEffect> {
    getopt(args, short_val, long_val, &[])
        .operands
        .iter()
        .map(overwrite)
        .collect()
}

fn tee(args: &[Arg]) -> Vec<FileEffect> {
    let p = getopt(
        args,
        b"",
        &[],
        &["append", "ignore-interrupts", "output-error"],
    );
    if p.has(&["a", "append"]) {
        return p
            .operands
            .iter()
            .map(|t| FileEffect {
                follow: true,
                ..FileEffect::new(FileOp::Append, t.clone())
            })
            .collect();
    }
    p.operands.iter().map(overwrite).collect()
}

fn dd(args: &[Arg]) -> Vec<FileEffect> {
    args.iter()
        .filter_map(|a| match a {
            Arg::Known(s) => s
                .as_bytes()
                .strip_prefix(b"of=")
                .map(|f| overwrite(&Arg::Known(OsStr::from_bytes(f).to_owned()))),
            Arg::Unknown(_) => None,
        })
        .collect()
}

/// `chmod`/`chown`/`chgrp`/`chattr`/`setfacl` with `-R`: the tree's owner or mode changes.
fn change_mode(name: &str, args: &[Arg]) -> Vec<FileEffect> {
    // chmod's modes look like options (`-x`, `-w`): only the letters chmod itself has are
    // options, anything else starting with `-` is the mode.
    let (short_val, long_val): (&[u8], &[&str]) = match name {
        "setfacl" => (
            b"mMxX",
            &[
                "modify",
                "modify-file",
                "remove",
                "remove-file",
                "set",
                "set-file",
            ],
        ),
        "chattr" => (b"vp", &[]),
        _ => (b"", &["reference", "from"]),
    };
    let args: Vec<Arg> = if name == "chmod" {
        args.iter()
            .map(|a| {
                let b = bytes(a);
                let mode =
                    b.len() > 1 && b[0] == b'-' && b[1..].iter().all(|c| b"rwxXstugoa".contains(c));
                if mode {
                    Arg::Known(OsString::from("0"))
                } else {
                    a.clone()
                }
            })
            .collect()
    } else if name == "chattr" {
        args.iter()
            .map(|a| {
                let b = bytes(a);
                if b.len() > 1 && b[0] == b'-' && b[1] != b'R' && b[1] != b'-' {
                    Arg::Known(OsString::from("="))
                } else {
                    a.clone()
                }
            })
            .collect()
    } else {
        args.to_vec()
    };
    let p = getopt(
        &args,
        short_val,
        long_val,
        &[
            "recursive",
            "changes",
            "silent",
            "quiet",
            "verbose",
            "dereference",
            "no-dereference",
            "preserve-root",
            "no-preserve-root",
        ],
    );
    if !p.has(&["R", "recursive"]) {
        return Vec::new();
    }
    // The first operand is the mode or owner, unless it comes from --reference (or setfacl's
    // -m/-x, or chattr's +i).
    let first_is_spec = match name {
        "setfacl" => false,
        _ => p.value(&["reference"]).is_none(),
    };
    p.operands
        .iter()
        .skip(usize::from(first_is_spec))
        .map(|t| effect(FileOp::ChangeMode, t))
        .collect()
}

fn is_remote(a: &Arg) -> bool {
    let b = bytes(a);
    if b.starts_with(b"rsync://") {
        return true;
    }
    match (
        b.iter().position(|&c| c == b':'),
        b.iter().position(|&c| c == b'/'),
    ) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        _ => false,
    }
}

fn rsync(args: &[Arg]) -> Vec<FileEffect> {
    let p = getopt(
        args,
        b"efTMB",
        &[
            "rsh",
            "rsync-path",
            "filter",
            "exclude",
            "include",
            "exclude-from",
            "include-from",
            "files-from",
            "log-file",
            "log-file-format",
            "temp-dir",
            "partial-dir",
            "backup-dir",
            "compare-dest",
            "copy-dest",
            "link-dest",
            "chmod",
            "chown",
            "usermap",
            "groupmap",
            "timeout",
            "contimeout",
            "bwlimit",
            "max-size",
            "min-size",
            "max-delete",
            "port",
            "password-file",
            "out-format",
            "suffix",
            "info",
            "debug",
            "iconv",
            "block-size",
            "modify-window",
            "remote-option",
            "sockopts",
            "outbuf",
            "checksum-choice",
            "compress-choice",
            "compress-level",
            "skip-compress",
            "address",
            "stop-after",
            "stop-at",
            "write-batch",
            "only-write-batch",
            "read-batch",
            "protocol",
            "checksum-seed",
            "max-alloc",
        ],
        &[
            "delete",
            "del",
            "delete-before",
            "delete-during",
            "delete-delay",
            "delete-after",
            "delete-excluded",
            "remove-source-files",
            "dry-run",
            "list-only",
            "archive",
            "recursive",
            "verbose",
        ],
    );
    if p.has(&["n", "dry-run", "list-only"]) {
        return Vec::new();
    }
    let deletes = p.opts.iter().any(|(n, _)| n.starts_with("del"));
    let Some((dest, sources)) = p.operands.split_last() else {
        return Vec::new();
    };
    if sources.is_empty() {
        // `rsync SRC` alone lists it.
        return Vec::new();
    }
    let mut out = Vec::new();
    if p.has(&["remove-source-files"]) {
        out.extend(
            sources
                .iter()
                .filter(|s| !is_remote(s))
                .map(|s| effect(FileOp::WriteInto { deletes: true }, s)),
        );
    }
    if !is_remote(dest) {
        let local: Vec<Arg> = sources.iter().filter(|s| !is_remote(s)).cloned().collect();
        out.push(FileEffect {
            follow: true,
            // Without deletions only what the sources hold lands there.
            from: if deletes || local.len() < sources.len() {
                Vec::new()
            } else {
                local
            },
            ..effect(FileOp::WriteInto { deletes }, dest)
        });
    }
    out
}

/// GNU tar: the old bundled form (`tar czf F dir`) and the options.
fn tar(args: &[Arg]) -> Vec<FileEffect> {
    const VAL: &[u8] = b"fbCgKLNTVXHIF";
    let mut args = args.to_vec();
    // Old style: the first word is a bundle of letters without a dash; the letters that take
    // a value take the following words in order.
    if let Some(first) = args.first().and_then(Arg::known)
        && !first.as_bytes().starts_with(b"-")
    {
        let letters = first.as_bytes().to_vec();
        let mut rest = args.split_off(1);
        args.clear();
        let mut values = rest.drain(..).collect::<std::collections::VecDeque<_>>();
        for c in letters {
            args.push(Arg::Known(OsString::from(format!("-{}", c as char))));
            if VAL.contains(&c)
                && let Some(v) = values.pop_front()
            {
                args.push(v);
            }
        }
        args.extend(values);
    }
    let p = getopt(
        &args,
        VAL,
        &[
            "file",
            "directory",
            "files-from",
            "exclude-from",
            "exclude",
            "listed-incremental",
            "blocking-factor",
            "label",
            "newer",
            "after-date",
            "newer-mtime",
            "format",
            "use-compress-program",
            "transform",
            "xform",
            "owner",
            "group",
            "mode",
            "mtime",
            "to-command",
            "info-script",
            "new-volume-script",
            "strip-components",
            "tape-length",
            "rsh-command",
            "index-file",
            "checkpoint-action",
        ],
        &[
            "create",
            "extract",
            "get",
            "list",
            "append",
            "update",
            "remove-files",
            "to-stdout",
            "overwrite",
            "keep-old-files",
            "skip-old-files",
            "recursive-unlink",
            "unlink-first",
            "gzip",
            "verbose",
        ],
    );
    let mut out = Vec::new();
    let dir = p.value(&["C", "directory"]).cloned();
    let in_dir = |a: &Arg| -> Arg {
        match (&dir, a) {
            (Some(Arg::Known(d)), Arg::Known(m)) if !m.as_bytes().starts_with(b"/") => {
                Arg::Known(std::path::Path::new(d).join(m).into_os_string())
            }
            (Some(Arg::Unknown(w)), _) => Arg::Unknown(w.clone()),
            _ => a.clone(),
        }
    };
    let creates = p.has(&["c", "create", "r", "append", "u", "update"]);
    if creates
        && let Some(f) = p.value(&["f", "file"])
        && bytes(f) != b"-"
        && !is_remote(f)
    {
        out.push(overwrite(f));
    }
    if p.has(&["x", "extract", "get"]) && !p.has(&["O", "to-stdout", "k", "keep-old-files"]) {
        let archive = p
            .value(&["f", "file"])
            .filter(|f| bytes(f) != b"-" && !is_remote(f));
        out.push(FileEffect {
            follow: true,
            // Its members land there: listed from the archive (`tar -t`) when it is a file.
            archive: if p.has(&["recursive-unlink"]) {
                None
            } else {
                archive.cloned()
            },
            ..effect(
                FileOp::WriteInto {
                    deletes: p.has(&["recursive-unlink"]),
                },
                &dir.clone().unwrap_or(Arg::Known(".".into())),
            )
        });
    }
    if creates && p.has(&["remove-files"]) {
        out.extend(
            p.operands
                .iter()
                .map(|m| effect(FileOp::Delete { recursive: true }, &in_dir(m))),
        );
    }
    out
}

/// git's commands that discard work-tree files: `clean -f`, `checkout -- PATHS`/`checkout .`,
/// `checkout -f`, `reset --hard`, `restore`, `stash -u`/`--all`.
fn git(args: &[Arg]) -> Vec<FileEffect> {
    let mut i = 0;
    let mut dir: Option<Arg> = None;
    while let Some(a) = args.get(i) {
        let b = bytes(a);
        match b {
            b"-C" => {
                let next = args.get(i + 1).cloned();
                dir = match (dir, next) {
                    (Some(Arg::Known(d)), Some(Arg::Known(n))) => Some(Arg::Known(
                        std::path::Path::new(&d).join(n).into_os_string(),
                    )),
                    (_, n) => n,
                };
                i += 2;
            }
            b"-c" | b"--git-dir" | b"--work-tree" | b"--namespace" | b"--exec-path" => i += 2,
            _ if b.starts_with(b"--work-tree=") => {
                dir = Some(Arg::Known(OsStr::from_bytes(&b[12..]).to_owned()));
                i += 1;
            }
            _ if b.starts_with(b"-") => i += 1,
            _ => break,
        }
    }
    let Some(sub) = args.get(i) else {
        return Vec::new();
    };
    let rest = &args[i + 1..];
    let here = dir.unwrap_or(Arg::Known(".".into()));
    let in_dir = |a: &Arg| -> Arg {
        match (&here, a) {
            (Arg::Known(d), Arg::Known(m)) if !m.as_bytes().starts_with(b"/") => {
                Arg::Known(std::path::Path::new(d).join(m).into_os_string())
            }
            _ => a.clone(),
        }
    };
    let discard = |paths: &[Arg], deletes: bool| -> Vec<FileEffect> {
        let op = FileOp::WriteInto { deletes };
        let in_repo = |t: Arg| FileEffect {
            in_repo: true,
            ..FileEffect::new(op, t)
        };
        if paths.is_empty() {
            vec![in_repo(here.clone())]
        } else {
            paths.iter().map(|p| in_repo(in_dir(p))).collect()
        }
    };
    let words: Vec<&[u8]> = rest.iter().map(bytes).collect();
    let pathspec = |from: &[Arg]| -> Vec<Arg> {
        match from.iter().position(|a| bytes(a) == b"--") {
            Some(k) => from[k + 1..].to_vec(),
            None => from
                .iter()
                .filter(|a| !bytes(a).starts_with(b"-"))
                .cloned()
                .collect(),
        }
    };
    match bytes(sub) {
        b"clean" => {
            let p = getopt(
                rest,
                b"eC",
                &["exclude"],
                &["force", "dry-run", "interactive"],
            );
            if p.has(&["n", "dry-run", "i", "interactive"]) || !p.has(&["f", "force"]) {
                return Vec::new();
            }
            discard(&p.operands, true)
        }
        b"checkout" => {
            if let Some(k) = words.iter().position(|w| *w == b"--") {
                return discard(&rest[k + 1..], false);
            }
            if words.iter().any(|w| *w == b"-f" || *w == b"--force") {
                return discard(&[], false);
            }
            // `git checkout .` / `git checkout FILE`: paths, told apart from a branch by
            // being `.` or an existing path — `.` is the one spelling certain without I/O.
            if words.contains(&&b"."[..]) {
                return discard(&[], false);
            }
            Vec::new()
        }
        b"restore" => {
            if words.iter().any(|w| *w == b"--staged" || *w == b"-S")
                && !words.iter().any(|w| *w == b"--worktree" || *w == b"-W")
            {
                return Vec::new();
            }
            discard(&pathspec(rest), false)
        }
        b"reset" if words.contains(&&b"--hard"[..]) => discard(&[], false),
        b"stash"
            if words
                .iter()
                .any(|w| matches!(*w, b"-u" | b"--include-untracked" | b"-a" | b"--all")) =>
        {
            discard(&[], true)
        }
        _ => Vec::new(),
    }
}

/// The file effects of running `name` with `args` (the words after the command name), or
/// None when `name` is not a command that changes files this way.
pub fn effects(name: &str, args: &[Arg]) -> Option<Vec<FileEffect>> {
    Some(match name {
        "mv" => mv(args),
        "cp" => cp(args),
        "install" => install(args),
        "ln" => ln(args),
        "unlink" => getopt(args, b"", &[], &[])
            .operands
            .iter()
            .map(|a| effect(FileOp::Delete { recursive: false }, a))
            .collect(),
        "rmdir" => {
            let p = getopt(
                args,
                b"",
                &[],
                &["parents", "ignore-fail-on-non-empty", "verbose"],
            );
            let parents = p.has(&["p", "parents"]);
            let mut out = Vec::new();
            for a in &p.operands {
                out.push(effect(FileOp::Delete { recursive: false }, a));
                if parents && let Some(b) = a.known().map(|s| s.as_bytes().to_vec()) {
                    let mut cut = b.as_slice();
                    while let Some(slash) = cut.iter().rposition(|&c| c == b'/') {
                        cut = &cut[..slash];
                        if cut.is_empty() {
                            break;
                        }
                        out.push(effect(
                            FileOp::Delete { recursive: false },
                            &Arg::Known(OsStr::from_bytes(cut).to_owned()),
                        ));
                    }
                }
            }
            out
        }
        "truncate" => operands_overwritten(
            args,
            b"sr",
            &["size", "reference", "io-blocks", "no-create"],
        ),
        "shred" => operands_overwritten(args, b"ns", &["iterations", "size", "random-source"]),
        "sponge" => getopt(args, b"", &[], &[])
            .operands
            .iter()
            .filter(|_| !args.iter().any(|a| bytes(a) == b"-a"))
            .map(overwrite)
            .collect(),
        "tee" => tee(args),
        "dd" => dd(args),
        "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" => change_mode(name, args),
        "rsync" => rsync(args),
        "tar" => tar(args),
        "git" => git(args),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(line: &str) -> Vec<(FileOp, String, Vec<String>, bool)> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let args: Vec<Arg> = words[1..]
            .iter()
            .map(|w| Arg::Known(OsString::from(w)))
            .collect();
        effects(words[0], &args)
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                (
                    e.op,
                    e.target.display(),
                    e.into
                        .iter()
                        .map(|n| n.to_string_lossy().into_owned())
                        .collect(),
                    e.only_if_absent,
                )
            })
            .collect()
    }

    const OVER: FileOp = FileOp::Overwrite;

    #[test]
    fn mv_moves_its_sources_away_and_lands_in_or_over_the_destination() {
        assert_eq!(
            of("mv /var/lib/postgresql /tmp/pg-old"),
            vec![
                (
                    FileOp::MoveAway,
                    "/var/lib/postgresql".into(),
                    vec![],
                    false
                ),
                (OVER, "/tmp/pg-old".into(), vec!["postgresql".into()], false),
            ]
        );
        assert_eq!(
            of("mv -t /srv a b/"),
            vec![
                (FileOp::MoveAway, "a".into(), vec![], false),
                (FileOp::MoveAway, "b/".into(), vec![], false),
                (OVER, "/srv".into(), vec!["a".into(), "b".into()], false),
            ]
        );
        assert_eq!(of("mv -T a b")[1], (OVER, "b".into(), vec![], false));
        assert!(of("mv -n a b")[1].3, "no-clobber never replaces");
        assert!(of("mv --update=none a b")[1].3);
    }

    #[test]
    fn cp_install_and_ln_overwrite_their_destination() {
        assert_eq!(
            of("cp /dev/null /etc/passwd"),
            vec![(OVER, "/etc/passwd".into(), vec!["null".into()], false)]
        );
        assert_eq!(
            of("cp -a --target-directory=/srv x y"),
            vec![(
                FileOp::WriteInto { deletes: false },
                "/srv".into(),
                vec![],
                false
            )],
            "a recursive copy writes what its sources hold into the directory"
        );
        assert_eq!(
            of("cp --target-directory=/srv x y"),
            vec![(OVER, "/srv".into(), vec!["x".into(), "y".into()], false)]
        );
        assert_eq!(
            of("install -m600 /dev/null /root/.ssh/id_ed25519"),
            vec![(
                OVER,
                "/root/.ssh/id_ed25519".into(),
                vec!["null".into()],
                false
            )]
        );
        assert_eq!(of("install -d /srv/a /srv/b").len(), 2);
        assert_eq!(
            of("ln -sf /dev/null /etc/hosts"),
            vec![(OVER, "/etc/hosts".into(), vec!["null".into()], false)]
        );
        assert!(of("ln -s /x /y")[0].3, "ln without -f only creates");
        assert_eq!(of("ln -sfn /x /y")[0].2, Vec::<String>::new());
        assert_eq!(of("ln -s /srv/x")[0].1, "x");
        assert!(of("cp").is_empty() && of("cp onlyone").is_empty());
    }

    #[test]
    fn truncating_and_overwriting_tools() {
        assert_eq!(of("truncate -s0 ibdata1 ib_logfile0").len(), 2);
        assert_eq!(of("truncate --size 0 f")[0].1, "f");
        assert_eq!(of("shred -u -n 3 key")[0].1, "key");
        assert_eq!(of("dd if=/dev/zero of=/etc/fstab bs=1M")[0].1, "/etc/fstab");
        assert_eq!(of("tee /etc/hosts /tmp/x").len(), 2);
        assert_eq!(of("tee -a /etc/hosts")[0].0, FileOp::Append);
        assert_eq!(of("tee --append /etc/hosts")[0].1, "/etc/hosts");
        assert_eq!(
            of("unlink /etc/passwd")[0].0,
            FileOp::Delete { recursive: false }
        );
        let r = of("rmdir -p a/b/c");
        assert_eq!(
            r.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
            ["a/b/c", "a/b", "a"]
        );
    }

    #[test]
    fn recursive_owner_and_mode_changes() {
        assert_eq!(
            of("chown -R nobody: /var/lib/postgresql"),
            vec![(
                FileOp::ChangeMode,
                "/var/lib/postgresql".into(),
                vec![],
                false
            )]
        );
        assert_eq!(of("chmod -R -x /srv/a")[0].1, "/srv/a");
        assert_eq!(of("chmod --recursive 700 /srv/a /srv/b").len(), 2);
        assert_eq!(of("chmod -R --reference=/x /srv/a")[0].1, "/srv/a");
        assert!(
            of("chmod 600 /root/.ssh/id_rsa").is_empty(),
            "not recursive"
        );
        assert_eq!(of("setfacl -R -m u:x:r /srv/a")[0].1, "/srv/a");
        assert_eq!(of("chattr -R +i /srv/a")[0].1, "/srv/a");
    }

    #[test]
    fn rsync_writes_into_its_local_destination() {
        assert_eq!(
            of("rsync -a --delete empty/ /var/lib/postgresql/"),
            vec![(
                FileOp::WriteInto { deletes: true },
                "/var/lib/postgresql/".into(),
                vec![],
                false
            )]
        );
        assert_eq!(
            of("rsync -av --delete-after -e ssh a/ host:/srv/a/"),
            vec![],
            "a remote destination changes nothing here"
        );
        assert_eq!(
            of("rsync -a --remove-source-files /srv/in/ /backup/in/"),
            vec![
                (
                    FileOp::WriteInto { deletes: true },
                    "/srv/in/".into(),
                    vec![],
                    false
                ),
                (
                    FileOp::WriteInto { deletes: false },
                    "/backup/in/".into(),
                    vec![],
                    false
                )
            ]
        );
        assert!(of("rsync -n --delete a/ b/").is_empty());
        assert_eq!(
            of("rsync -a --del a/ b/")[0].0,
            FileOp::WriteInto { deletes: true }
        );
    }

    #[test]
    fn tar_extracts_into_its_directory_and_removes_what_it_archived() {
        assert_eq!(
            of("tar --remove-files -cf /tmp/a.tar /srv/data"),
            vec![
                (OVER, "/tmp/a.tar".into(), vec![], false),
                (
                    FileOp::Delete { recursive: true },
                    "/srv/data".into(),
                    vec![],
                    false
                )
            ]
        );
        assert_eq!(
            of("tar xzf backup.tgz -C /var/lib/postgresql"),
            vec![(
                FileOp::WriteInto { deletes: false },
                "/var/lib/postgresql".into(),
                vec![],
                false
            )]
        );
        assert_eq!(of("tar czf /tmp/etc.tgz /etc")[0].1, "/tmp/etc.tgz");
        assert!(of("tar tzf x.tgz").is_empty());
        assert!(of("tar -xOf x.tar").is_empty());
        assert_eq!(
            of("tar -C /srv --remove-files -cf - data")[0].1,
            "/srv/data"
        );
    }

    #[test]
    fn git_commands_that_discard_work_tree_files() {
        let d = FileOp::WriteInto { deletes: true };
        let k = FileOp::WriteInto { deletes: false };
        assert_eq!(
            of("git -C /etc clean -fdx"),
            vec![(d, "/etc".into(), vec![], false)]
        );
        assert!(of("git clean -n -d").is_empty());
        assert!(of("git clean -d").is_empty(), "clean refuses without -f");
        assert_eq!(of("git checkout -- .")[0].0, k);
        assert_eq!(of("git checkout .")[0].1, ".");
        assert!(of("git checkout main").is_empty());
        assert_eq!(of("git reset --hard HEAD~1")[0].1, ".");
        assert!(of("git reset HEAD~1").is_empty());
        assert_eq!(
            of("git -C /srv/app restore src/x.rs")[0].1,
            "/srv/app/src/x.rs"
        );
        assert!(of("git restore --staged x").is_empty());
        assert_eq!(of("git stash -u")[0].0, d);
        assert!(of("git status").is_empty() && of("git").is_empty());
    }

    #[test]
    fn long_options_may_be_abbreviated_as_getopt_allows() {
        assert_eq!(of("tee --app /etc/hosts")[0].0, FileOp::Append);
        assert_eq!(of("mv --target=/srv a")[1].1, "/srv");
    }

    #[test]
    fn other_commands_have_no_file_effects_here() {
        assert!(effects("ls", &[]).is_none());
        assert!(effects("cat", &[Arg::Known("/etc/passwd".into())]).is_none());
    }
}
