//! Finding, permission-checking, parsing and merging policy files.
//!
//! Order (DESIGN.md): `--policy FILE`, else `$GARDEFOU_POLICY` (ignored under sudo or setuid),
//! else `/etc/gardefou/policy.toml` (or the embedded default when it does not exist) followed by
//! `/etc/gardefou/policy.d/*.toml` in lexical order. This module reads files; it decides nothing.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::schema::{Action, PolicyFile, PreflightSection, SnapshotSection};
use super::{DetectRule, PackageRule, PathRule, Policy, PowerRule, ServiceRule, SqlRule};
use crate::error::{Error, Result};
use toml::Spanned;

/// The policy shipped for a Debian host, compiled into the binary.
pub const EMBEDDED_NAME: &str = "<embedded>/debian.toml";
pub const EMBEDDED_TEXT: &str = include_str!("../../policies/debian.toml");
pub const ETC_DIR: &str = "/etc/gardefou";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Embedded,
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Embedded => EMBEDDED_NAME.to_owned(),
        }
    }
}

/// True when environment variables must not choose the policy: under sudo or setuid/setgid.
pub fn environment_untrusted() -> bool {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    uid != nix::unistd::geteuid()
        || gid != nix::unistd::getegid()
        || std::env::var_os("SUDO_USER").is_some()
}

/// The policy sources in load order.
pub fn sources(explicit: Option<&Path>) -> Result<Vec<Source>> {
    if let Some(p) = explicit {
        return Ok(vec![Source::File(p.to_owned())]);
    }
    if !environment_untrusted()
        && let Some(p) = std::env::var_os("GARDEFOU_POLICY").filter(|p| !p.is_empty())
    {
        return Ok(vec![Source::File(PathBuf::from(p))]);
    }
    etc_sources(Path::new(ETC_DIR))
}

/// `DIR/policy.toml` (or the embedded default) then `DIR/policy.d/*.toml`, sorted by name.
pub fn etc_sources(dir: &Path) -> Result<Vec<Source>> {
    let main = dir.join("policy.toml");
    let mut out = vec![if main.exists() {
        Source::File(main)
    } else {
        Source::Embedded
    }];
    let dropins = dir.join("policy.d");
    match std::fs::read_dir(&dropins) {
        Ok(entries) => {
            let mut files = Vec::new();
            for entry in entries {
                let entry =
                    entry.map_err(|e| Error::io(format!("reading {}", dropins.display()), e))?;
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    files.push(path);
                }
            }
            files.sort();
            out.extend(files.into_iter().map(Source::File));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("reading {}", dropins.display()), e)),
    }
    Ok(out)
}

/// Loads and merges every source: from the pre-parsed cache when it is current
/// (`policy::cache`), else by parsing. Any error aborts the whole load: a half-read policy is
/// never used as if it were the policy.
pub fn load(sources: &[Source]) -> Result<Policy> {
    super::cache::load(sources, parse)
}

/// Reads, checks, parses and merges every source, without the cache.
pub fn parse(sources: &[Source]) -> Result<Policy> {
    let mut policy = Policy::default();
    for source in sources {
        match source {
            Source::Embedded => merge_text(&mut policy, EMBEDDED_NAME, EMBEDDED_TEXT)?,
            Source::File(path) => {
                let text = read_checked(path)?;
                merge_text(&mut policy, &path.display().to_string(), &text)?;
            }
        }
    }
    Ok(policy)
}

/// Reads a policy file after refusing one that someone else could have written.
pub fn read_checked(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|source| Error::PolicyRead {
        path: path.to_owned(),
        source,
    })?;
    check_owner(path, &meta)?;
    let bytes = std::fs::read(path).map_err(|source| Error::PolicyRead {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| Error::PolicyParse {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })
}

/// Refuses a policy file that someone other than root or the caller could have written.
pub fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let euid = nix::unistd::geteuid().as_raw();
    let mode = meta.mode();
    let why = if meta.uid() != 0 && meta.uid() != euid {
        Some(format!("owned by uid {}", meta.uid()))
    } else if mode & 0o002 != 0 {
        Some("writable by everyone".to_owned())
    } else if mode & 0o020 != 0 && meta.gid() != 0 {
        Some(format!("writable by group {}", meta.gid()))
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::PolicyPermissions {
            path: path.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Line numbers of byte offsets, from one pass over the text (rules are numbered in order).
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// Parses one file's text and merges it into `policy`.
pub fn merge_text(policy: &mut Policy, origin: &str, text: &str) -> Result<()> {
    let err_at = |offset: usize, message: String| {
        let (line, column) = line_col(text, offset);
        Error::PolicyParse {
            path: PathBuf::from(origin),
            line,
            column,
            message,
        }
    };
    let file: PolicyFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        err_at(offset, e.message().trim().to_owned())
    })?;
    match &file.version {
        None => return Err(err_at(0, "missing `version = 1`".to_owned())),
        Some(v) if *v.get_ref() != 1 => {
            return Err(err_at(
                v.span().start,
                format!(
                    "unsupported policy version {} (this gardefou reads version 1)",
                    v.get_ref()
                ),
            ));
        }
        Some(_) => {}
    }
    policy.sources.push(origin.to_owned());
    let lines = Lines::new(text);
    if let Some(env) = file.host.environment {
        policy.environment = Some((env, origin.to_owned()));
    }
    for (i, d) in file.host.detect.into_iter().enumerate() {
        let d = d.into_inner();
        policy.detect.push(DetectRule {
            id: format!("{origin}:host.detect#{}", i + 1),
            hostname: d.hostname,
            environment: d.environment,
        });
    }
    for (name, spec) in file.environments {
        let slot = policy.environments.entry(name).or_default();
        slot.color = spec.color.or(slot.color);
        slot.confirm_with = spec.confirm_with.or(slot.confirm_with);
        slot.non_interactive = spec.non_interactive.or(slot.non_interactive);
    }
    for (i, rule) in file.protect.path.into_iter().enumerate() {
        let span = rule.span();
        let rule = rule.into_inner();
        let path = rule.path.get_ref();
        if !path.starts_with('/') {
            return Err(err_at(
                rule.path.span().start,
                format!("path {path:?} is not absolute"),
            ));
        }
        policy.paths.push(PathRule {
            id: format!("{origin}:protect.path#{}", i + 1),
            line: lines.line(span.start),
            path: rule.path.into_inner(),
            action: rule.action,
            snapshot: rule.snapshot,
            contents: rule.contents.unwrap_or(rule.action.into()),
            net: rule.net.unwrap_or(true),
            reason: rule.reason,
            environments: rule.environments,
        });
    }
    for (i, rule) in file.protect.package.into_iter().enumerate() {
        let span = rule.span();
        let rule = rule.into_inner();
        policy.packages.push(PackageRule {
            id: format!("{origin}:protect.package#{}", i + 1),
            line: lines.line(span.start),
            name: rule.name.into_inner(),
            on: rule.on,
            action: rule.action,
            data: rule.data,
            reason: rule.reason,
            environments: rule.environments,
        });
    }
    for (i, rule) in file.protect.sql.into_iter().enumerate() {
        let span = rule.span();
        let rule = rule.into_inner();
        policy.sql.push(SqlRule {
            id: format!("{origin}:protect.sql#{}", i + 1),
            line: lines.line(span.start),
            engine: rule.engine,
            database: rule.database,
            statements: rule.statements,
            action: rule.action,
            snapshot: rule.snapshot,
            max_rows: rule.max_rows,
            max_fraction: rule.max_fraction,
            reason: rule.reason,
            environments: rule.environments,
        });
    }
    let no_snapshot = |action: &Spanned<Action>, what: &str| {
        if *action.get_ref() == Action::Snapshot {
            Err(err_at(
                action.span().start,
                format!("a {what} cannot be snapshotted: action is \"deny\" or \"confirm\""),
            ))
        } else {
            Ok(*action.get_ref())
        }
    };
    for (i, rule) in file.protect.service.into_iter().enumerate() {
        let span = rule.span();
        let rule = rule.into_inner();
        let action = no_snapshot(&rule.action, "service")?;
        policy.services.push(ServiceRule {
            id: format!("{origin}:protect.service#{}", i + 1),
            line: lines.line(span.start),
            unit: rule.unit.into_inner(),
            on: rule.on,
            action,
            reason: rule.reason,
            environments: rule.environments,
        });
    }
    for (i, rule) in file.protect.power.into_iter().enumerate() {
        let span = rule.span();
        let rule = rule.into_inner();
        let action = no_snapshot(&rule.action, "power command")?;
        policy.power.push(PowerRule {
            id: format!("{origin}:protect.power#{}", i + 1),
            line: lines.line(span.start),
            on: rule.on,
            action,
            reason: rule.reason,
            environments: rule.environments,
        });
    }
    if let Some(name) = file.host.name {
        policy.host_name = Some(name);
    }
    if let Some(m) = file.maintenance
        && let Some(lock) = m.lock
    {
        policy.lock = Some(lock);
    }
    if let Some(s) = file.snapshot {
        let old = std::mem::take(&mut policy.snapshot);
        policy.snapshot = SnapshotSection {
            store: s.store.or(old.store),
            keep_days: s.keep_days.or(old.keep_days),
            max_bytes: s.max_bytes.or(old.max_bytes),
            keep_newest: s.keep_newest.or(old.keep_newest),
            on_failure: s.on_failure.or(old.on_failure),
        };
    }
    if let Some(c) = file.cluster {
        policy.cluster = Some(c);
    }
    if let Some(p) = file.preflight {
        let old = std::mem::take(&mut policy.preflight);
        let mut check = old.check;
        check.extend(p.check);
        policy.preflight = PreflightSection {
            backup: p.backup.or(old.backup),
            max_backup_age_hours: p.max_backup_age_hours.or(old.max_backup_age_hours),
            min_snapshot_free: p.min_snapshot_free.or(old.min_snapshot_free),
            pending_packages: p.pending_packages.or(old.pending_packages),
            check,
        };
    }
    policy.notify.extend(file.notify);
    if let Some(n) = file.net {
        policy.net_enabled = n.enabled.or(policy.net_enabled);
    }
    if let Some(a) = file.audit {
        policy.audit_file = a.file.or(policy.audit_file.take());
        policy.audit_log_allowed = a.log_allowed.or(policy.audit_log_allowed);
        policy.audit_syslog = a.syslog.or(policy.audit_syslog);
        policy.audit_syslog_socket = a.syslog_socket.or(policy.audit_syslog_socket.take());
    }
    Ok(())
}

/// Checks what loading leaves out so as not to slow every shim down: that detect regexes and
/// globs compile. `gardefou check` and `gardefou policy check` refuse a policy that fails here;
/// the shim, which does not run it, treats a glob that does not compile as matching (fail safe).
pub fn lint(policy: &Policy) -> Vec<String> {
    let mut problems = Vec::new();
    for d in &policy.detect {
        if let Err(e) = regex_lite::Regex::new(&d.hostname) {
            problems.push(format!("{}: bad hostname regex: {e}", d.id));
        }
    }
    for rule in &policy.paths {
        if let Err(e) = globset::Glob::new(&rule.path) {
            problems.push(format!(
                "{} (line {}): bad glob {:?}: {e}",
                rule.id, rule.line, rule.path
            ));
        }
    }
    for rule in &policy.services {
        if let Err(e) = globset::Glob::new(&rule.unit) {
            problems.push(format!(
                "{} (line {}): bad unit glob {:?}: {e}",
                rule.id, rule.line, rule.unit
            ));
        }
    }
    if let Some(lock) = &policy.lock {
        problems.extend(crate::cluster::lock::lint(lock));
    }
    for rule in &policy.packages {
        if let Err(e) = globset::Glob::new(&rule.name) {
            problems.push(format!(
                "{} (line {}): bad glob {:?}: {e}",
                rule.id, rule.line, rule.name
            ));
        }
        for d in rule.data.iter().filter(|d| !d.starts_with('/')) {
            problems.push(format!(
                "{} (line {}): data {d:?} is not an absolute path",
                rule.id, rule.line
            ));
        }
    }
    for rule in &policy.paths {
        if rule.path.split('/').any(|c| c == "." || c == "..") {
            problems.push(format!(
                "{} (line {}): path {:?} contains `.` or `..`: write the real path",
                rule.id, rule.line, rule.path
            ));
        }
        if rule.snapshot && rule.action == Action::Deny {
            problems.push(format!(
                "{} (line {}): `snapshot = true` beside action = \"deny\" does nothing: a refused command deletes nothing",
                rule.id, rule.line
            ));
        }
    }
    if let Some(size) = &policy.snapshot.max_bytes
        && crate::snapshot::parse_size(size).is_none()
    {
        problems.push(format!(
            "[snapshot] max_bytes = {size:?} is not a size such as \"20G\" or \"512M\""
        ));
    }
    if let Some(store) = &policy.snapshot.store
        && !store.is_absolute()
    {
        problems.push(format!(
            "[snapshot] store = {:?} is not an absolute path",
            store.display()
        ));
    }
    if let Some(c) = &policy.cluster {
        problems.extend(crate::cluster::lint(c));
    }
    if let Some(size) = &policy.preflight.min_snapshot_free
        && crate::snapshot::parse_size(size).is_none()
    {
        problems.push(format!(
            "[preflight] min_snapshot_free = {size:?} is not a size such as \"1G\""
        ));
    }
    if let Some(glob) = &policy.preflight.backup
        && let Err(e) = glob::Pattern::new(glob)
    {
        problems.push(format!("[preflight] backup = {glob:?} is not a glob: {e}"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy> {
        let mut p = Policy::default();
        merge_text(&mut p, "t.toml", text)?;
        Ok(p)
    }

    #[test]
    fn embedded_default_policy_parses_and_lints_clean() {
        let p = load(&[Source::Embedded]).unwrap();
        assert!(p.paths.iter().any(|r| r.path == "/"));
        assert!(p.paths.iter().any(|r| r.path.contains("postgresql,")));
        assert_eq!(lint(&p), Vec::<String>::new());
    }

    #[test]
    fn unknown_key_is_an_error_with_line_and_column() {
        let err = parse("version = 1\n[[protect.path]]\npath = \"/x\"\nactoin = \"deny\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml:4:1:"), "{err}");
        assert!(err.contains("actoin"), "{err}");
    }

    #[test]
    fn bad_glob_is_reported_by_lint() {
        let p =
            parse("version = 1\n[[protect.path]]\npath = \"/a/[\"\naction = \"deny\"\n").unwrap();
        let problems = lint(&p);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("bad glob"), "{problems:?}");
    }

    #[test]
    fn missing_version_is_refused() {
        let err = parse("[host]\nenvironment = \"dev\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing `version = 1`"), "{err}");
    }

    #[test]
    fn relative_rule_path_is_refused_at_its_line() {
        let err = parse("version = 1\n\n[[protect.path]]\npath = \"etc\"\naction = \"deny\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml:4:8:"), "{err}");
    }

    #[test]
    fn rules_accumulate_and_settings_override_across_files() {
        let mut p = Policy::default();
        merge_text(
            &mut p,
            "a.toml",
            "version = 1\n[environments.production]\ncolor = \"blue\"\nconfirm_with = \"target\"\n[[protect.path]]\npath = \"/a\"\naction = \"deny\"\n",
        )
        .unwrap();
        merge_text(
            &mut p,
            "b.toml",
            "version = 1\n[environments.production]\ncolor = \"red\"\n[[protect.path]]\npath = \"/b\"\naction = \"confirm\"\n",
        )
        .unwrap();
        assert_eq!(p.paths.len(), 2);
        assert_eq!(p.paths[1].id, "b.toml:protect.path#1");
        let env = p.environment("h", None).unwrap();
        assert_eq!(env.color, super::super::schema::Color::Red);
        assert_eq!(env.confirm_with, super::super::schema::ConfirmWith::Target);
    }

    #[test]
    fn host_without_environment_is_production_and_detect_rules_match_hostname() {
        let p =
            parse("version = 1\n[[host.detect]]\nhostname = \"^dev-\"\nenvironment = \"dev\"\n")
                .unwrap();
        assert_eq!(p.environment("db-1", None).unwrap().name, "production");
        let dev = p.environment("dev-3", None).unwrap();
        assert_eq!(dev.name, "dev");
        assert_eq!(dev.color, super::super::schema::Color::Green);
        assert_eq!(
            p.environment("dev-3", Some("staging")).unwrap().name,
            "staging"
        );
    }

    #[test]
    fn world_writable_policy_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.toml");
        std::fs::write(&f, "version = 1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = load(&[Source::File(f.clone())]).unwrap_err();
        assert!(matches!(err, Error::PolicyPermissions { .. }), "{err}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        load(&[Source::File(f)]).unwrap();
    }

    #[test]
    fn dropins_follow_main_file_in_lexical_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("policy.d")).unwrap();
        for n in ["20-b.toml", "10-a.toml", "ignored.txt"] {
            std::fs::write(dir.path().join("policy.d").join(n), "version = 1\n").unwrap();
        }
        let s = etc_sources(dir.path()).unwrap();
        let names: Vec<String> = s.iter().map(|s| s.name()).collect();
        assert_eq!(names[0], EMBEDDED_NAME);
        assert!(names[1].ends_with("10-a.toml") && names[2].ends_with("20-b.toml"));
        assert_eq!(names.len(), 3);
    }
}
