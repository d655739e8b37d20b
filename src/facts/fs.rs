//! What a real `rm` would delete, and which protected paths that reaches.
//!
//! Resolution follows the kernel and GNU rm, not the spelling: intermediate symlinks and `..`
//! are resolved physically, the last component is the entry rm unlinks (a symlink is removed,
//! not followed), except with a trailing slash, where rm descends into the symlink's target.
//! This module never follows symlinks while walking a tree and never modifies anything.

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use walkdir::WalkDir;

use crate::intent::{Arg, FileEffect, FileOp, FilesIntent, RmIntent, display_bytes};
use crate::policy::PathRule;
use crate::policy::schema::Contents;

/// How many directory entries one probe may look at before it stops and assumes the worst.
pub const WALK_LIMIT: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The target is the protected path (or its contents, through `link/`).
    Itself,
    /// The protected path lies inside the target's tree.
    Inside,
    /// The tree was too large to inspect fully: assumed to hold a protected path.
    Uninspected,
    /// The target lies inside the protected tree `Hit::path`: the rule's `contents` decides.
    Within,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Index into the policy's path rules.
    pub rule: usize,
    pub path: PathBuf,
    pub relation: Relation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// rm would delete nothing for this operand; the text says why.
    Nothing(String),
    /// What rm would act on cannot be known before it runs.
    Unknown(String),
    /// The command acts on `entry` (and, when it descends, its tree).
    Reaches { entry: PathBuf, hits: Vec<Hit> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFacts {
    pub operand: String,
    pub effect: Effect,
    pub op: FileOp,
    /// The entry itself stays (its contents change): a rule on it is judged by `contents`.
    pub keeps_entry: bool,
}

/// One spelling of a rule's path: a literal path, or a glob below a literal prefix.
struct Form {
    prefix: PathBuf,
    glob: Option<GlobForm>,
}

struct GlobForm {
    pattern: String,
    /// Components below the prefix a match has; None when `**` makes it unbounded.
    depth: Option<usize>,
    matcher: OnceCell<Option<GlobMatcher>>,
}

impl GlobForm {
    /// A glob that does not compile matches everything below its prefix: a broken rule must
    /// not let a deletion through (`gardefou policy check` reports it).
    fn matches(&self, path: &Path) -> bool {
        self.matcher
            .get_or_init(|| {
                GlobBuilder::new(&self.pattern)
                    .literal_separator(true)
                    .build()
                    .ok()
                    .map(|g| g.compile_matcher())
            })
            .as_ref()
            .is_none_or(|m| m.is_match(path))
    }
}

/// Removes `.`, `..` and repeated slashes without touching the filesystem.
pub fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Physical paths of directories and entries, resolved once per process: rules share their
/// leading directories (/var, /var/lib, /etc…), and each resolution costs a readlink per
/// component. A path whose every component is a plain entry is built from its parent's
/// resolution and one readlink of its own; a symlink anywhere is left to `canonicalize`.
#[derive(Default)]
struct Canon(std::collections::HashMap<PathBuf, Option<PathBuf>>);

impl Canon {
    /// What `std::fs::canonicalize(p)` gives for an absolute, lexically normal `p`, or None
    /// where it fails.
    fn of(&mut self, p: &Path) -> Option<PathBuf> {
        if let Some(known) = self.0.get(p) {
            return known.clone();
        }
        let found = match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => self.of(parent).and_then(|dir| {
                let here = dir.join(name);
                match std::fs::read_link(&here) {
                    // Not a symlink (EINVAL): it exists and is its own physical path.
                    Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Some(here),
                    Ok(_) => std::fs::canonicalize(&here).ok(),
                    Err(_) => None,
                }
            }),
            _ => std::fs::canonicalize(p).ok(),
        };
        self.0.insert(p.to_owned(), found.clone());
        found
    }
}

/// Every spelling under which a rule's path can be reached: as written, with its parent's
/// symlinks resolved (the entry itself), and fully resolved (what a symlink leads to).
fn forms(rule: &PathRule, canon: &mut Canon) -> Vec<Form> {
    let comps: Vec<&str> = rule.path.split('/').filter(|c| !c.is_empty()).collect();
    let first_glob = comps.iter().position(|c| has_glob_meta(c));
    let mut out: Vec<Form> = Vec::new();
    match first_glob {
        None => {
            let p = lexical_normalize(Path::new(&rule.path));
            let mut paths = vec![p.clone()];
            if let (Some(parent), Some(name)) = (p.parent(), p.file_name())
                && let Some(c) = canon.of(parent)
            {
                paths.push(c.join(name));
            }
            if let Some(c) = canon.of(&p) {
                paths.push(c);
            }
            paths.dedup();
            for prefix in paths {
                if !out.iter().any(|f| f.prefix == prefix) {
                    out.push(Form { prefix, glob: None });
                }
            }
        }
        Some(n) => {
            let prefix = lexical_normalize(&Path::new("/").join(comps[..n].join("/")));
            let rest = comps[n..].join("/");
            let depth =
                (!rest.contains("**") && !brace_holds_slash(&rest)).then(|| comps.len() - n);
            let glob_form = |prefix: &Path| -> Option<Form> {
                let p = prefix.to_str()?;
                let sep = if p.ends_with('/') { "" } else { "/" };
                Some(Form {
                    prefix: prefix.to_owned(),
                    glob: Some(GlobForm {
                        pattern: format!("{}{sep}{rest}", globset::escape(p)),
                        depth,
                        matcher: OnceCell::new(),
                    }),
                })
            };
            out.extend(glob_form(&prefix));
            if let Some(c) = canon.of(&prefix)
                && c != prefix
            {
                out.extend(glob_form(&c));
            }
        }
    }
    out
}

fn brace_holds_slash(s: &str) -> bool {
    let mut depth = 0;
    s.chars().any(|c| {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '/' if depth > 0 => return true,
            _ => {}
        }
        false
    })
}

/// Components below `/` of a normal absolute path, counted on its bytes (no `.`, `..` or
/// repeated slashes in the paths probed here: they are resolved or normalized first).
fn depth_of(p: &Path) -> usize {
    p.as_os_str()
        .as_bytes()
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .count()
}

/// `Path::starts_with` on the bytes of normal paths: `p` is `prefix` or below it. Every probe
/// of a find dry run's matches asks this of each rule.
fn under(p: &Path, prefix: &Path) -> bool {
    let (p, prefix) = (p.as_os_str().as_bytes(), prefix.as_os_str().as_bytes());
    let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
    p.starts_with(prefix) && (p.len() == prefix.len() || p[prefix.len()] == b'/')
}

/// An operand as spelled, made absolute: without its trailing slashes, whether it had any,
/// and its last component (`.` and `..` are the callers' to judge).
struct Spelled {
    stripped: PathBuf,
    trailing_slash: bool,
    last: Vec<u8>,
}

fn spelled(operand: &OsStr, cwd: Option<&Path>, empty: &str) -> Result<Spelled, Effect> {
    let bytes = operand.as_bytes();
    if bytes.is_empty() {
        return Err(Effect::Nothing(empty.into()));
    }
    let abs = if bytes[0] == b'/' {
        PathBuf::from(operand)
    } else {
        match cwd {
            Some(c) => c.join(operand),
            None => {
                return Err(Effect::Unknown(
                    "a relative path, and the directory it is relative to is not known".into(),
                ));
            }
        }
    };
    let abs_bytes = abs.as_os_str().as_bytes();
    let trailing_slash = abs_bytes.len() > 1 && abs_bytes.ends_with(b"/");
    let mut end = abs_bytes.len();
    while end > 1 && abs_bytes[end - 1] == b'/' {
        end -= 1;
    }
    let stripped = PathBuf::from(OsStr::from_bytes(&abs_bytes[..end]));
    let last = stripped
        .as_os_str()
        .as_bytes()
        .rsplit(|&b| b == b'/')
        .next()
        .unwrap_or(b"")
        .to_vec();
    Ok(Spelled {
        stripped,
        trailing_slash,
        last,
    })
}

/// Resolves an operand to the entry rm acts on, or says why rm would act on nothing.
fn resolve(
    operand: &OsStr,
    cwd: Option<&Path>,
    intent: &RmIntent,
) -> Result<(PathBuf, bool), Effect> {
    let Spelled {
        stripped,
        trailing_slash,
        last,
    } = spelled(operand, cwd, "an empty name: rm refuses it")?;
    let stripped = stripped.as_path();
    let last = last.as_slice();
    if last == b"." || last == b".." {
        return Err(Effect::Nothing("rm refuses to remove '.' or '..'".into()));
    }
    let entry = if stripped == Path::new("/") {
        PathBuf::from("/")
    } else if trailing_slash {
        // `rm -r link/` resolves the symlink and deletes what is inside its target.
        std::fs::canonicalize(stripped)
            .map_err(|e| Effect::Nothing(format!("rm would fail: {e}")))?
    } else {
        let parent = stripped.parent().unwrap_or(Path::new("/"));
        let name = stripped.file_name().unwrap_or_default();
        std::fs::canonicalize(parent)
            .map_err(|e| Effect::Nothing(format!("rm would fail: {e}")))?
            .join(name)
    };
    let meta = std::fs::symlink_metadata(&entry)
        .map_err(|e| Effect::Nothing(format!("rm would fail: {e}")))?;
    let is_dir = meta.is_dir();
    if trailing_slash && !is_dir {
        return Err(Effect::Nothing("rm would fail: not a directory".into()));
    }
    if is_dir && !intent.options.recursive {
        let empty = std::fs::read_dir(&entry).is_ok_and(|mut d| d.next().is_none());
        if !(intent.options.dir && empty) {
            return Err(Effect::Nothing(
                "a directory, which rm without -r does not remove".into(),
            ));
        }
    }
    Ok((entry, is_dir && intent.options.recursive))
}

/// Walks `root` (never following symlinks) for the first path `form` matches.
fn walk_for_match(
    root: &Path,
    form: &GlobForm,
    max_depth: Option<usize>,
    budget: &mut usize,
) -> Option<(PathBuf, Relation)> {
    let mut walk = WalkDir::new(root).follow_links(false);
    if let Some(d) = max_depth {
        walk = walk.max_depth(d);
    }
    for entry in walk.into_iter().filter_map(Result::ok) {
        if *budget == 0 {
            return Some((root.to_owned(), Relation::Uninspected));
        }
        *budget -= 1;
        if form.matches(entry.path()) {
            return Some((entry.into_path(), Relation::Inside));
        }
    }
    None
}

/// The hits of one rule's forms on `entry`. `within`: whether an entry inside the protected
/// tree matters (a rule with `contents = "allow"` asks nothing for it, and matching its glob
/// against the entry's ancestors would cost every shim start a glob compilation).
fn hits_for(
    entry: &Path,
    descend: bool,
    within: bool,
    rule_index: usize,
    forms: &[Form],
    budget: &mut usize,
) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    let add = |hits: &mut Vec<Hit>, path: PathBuf, relation: Relation| {
        if !hits.iter().any(|h| h.relation == relation) {
            hits.push(Hit {
                rule: rule_index,
                path,
                relation,
            });
        }
    };
    let entry_depth = depth_of(entry);
    for form in forms {
        match &form.glob {
            None => {
                let p = &form.prefix;
                if entry == p {
                    add(&mut hits, p.clone(), Relation::Itself);
                } else if under(entry, p) {
                    if within {
                        add(&mut hits, p.clone(), Relation::Within);
                    }
                } else if descend && under(p, entry) && std::fs::symlink_metadata(p).is_ok() {
                    add(&mut hits, p.clone(), Relation::Inside);
                }
            }
            Some(g) => {
                let prefix_depth = depth_of(&form.prefix);
                if under(entry, &form.prefix) {
                    let below = entry_depth - prefix_depth;
                    if g.depth.is_none_or(|d| d == below) && g.matches(entry) {
                        add(&mut hits, entry.to_owned(), Relation::Itself);
                    }
                    // An ancestor that matches: the entry is inside a protected tree.
                    if within
                        && let Some(a) = entry
                            .ancestors()
                            .skip(1)
                            .take_while(|a| under(a, &form.prefix) && *a != form.prefix)
                            .find(|a| {
                                g.depth.is_none_or(|d| d == depth_of(a) - prefix_depth)
                                    && g.matches(a)
                            })
                    {
                        add(&mut hits, a.to_owned(), Relation::Within);
                    }
                    if descend {
                        let room = g.depth.map(|d| d.saturating_sub(below));
                        if room != Some(0)
                            && let Some((p, rel)) = walk_for_match(entry, g, room, budget)
                        {
                            add(&mut hits, p, rel);
                        }
                    }
                } else if descend
                    && under(&form.prefix, entry)
                    && let Some((p, rel)) = walk_for_match(&form.prefix, g, g.depth, budget)
                {
                    add(&mut hits, p, rel);
                }
            }
        }
    }
    hits
}

/// Probes every operand of an rm intent against the policy's path rules.
pub fn probe_rm(intent: &RmIntent, rules: &[PathRule]) -> Vec<TargetFacts> {
    let mut compiled: Vec<Option<Vec<Form>>> = (0..rules.len()).map(|_| None).collect();
    let mut canon = Canon::default();
    let mut budget = WALK_LIMIT;
    let mut out = Vec::new();
    if intent.usage_error.is_some() || intent.options.info_only {
        return out;
    }
    for operand in &intent.operands {
        let name = operand.display();
        let os = match operand {
            Arg::Known(os) => os,
            Arg::Unknown(why) => {
                out.push(TargetFacts {
                    operand: name,
                    effect: Effect::Unknown(why.clone()),
                    op: FileOp::Delete {
                        recursive: intent.options.recursive,
                    },
                    keeps_entry: false,
                });
                continue;
            }
        };
        let effect = match resolve(os, intent.cwd.as_deref(), intent) {
            Err(e) => e,
            Ok((entry, descend)) => {
                let mut hits = Vec::new();
                for (i, rule) in rules.iter().enumerate() {
                    let forms = compiled[i].get_or_insert_with(|| forms(rule, &mut canon));
                    hits.extend(hits_for(
                        &entry,
                        descend,
                        rule.contents != Contents::Allow,
                        i,
                        forms,
                        &mut budget,
                    ));
                }
                Effect::Reaches { entry, hits }
            }
        };
        out.push(TargetFacts {
            operand: name,
            effect,
            op: FileOp::Delete {
                recursive: intent.options.recursive,
            },
            keeps_entry: false,
        });
    }
    out
}

/// One entry a file effect lands on: the entry, whether the effect descends into its tree,
/// and whether the entry itself stays.
struct Landing {
    entry: PathBuf,
    descend: bool,
    keeps_entry: bool,
}

/// Where a file effect lands, resolved as the kernel would: intermediate symlinks and `..`
/// physically, the last component followed only where the tool writes through it.
fn land(e: &FileEffect, cwd: Option<&Path>, canon: &mut Canon) -> Result<Vec<Landing>, Effect> {
    let os = match &e.target {
        Arg::Known(os) => os,
        Arg::Unknown(why) => return Err(Effect::Unknown(why.clone())),
    };
    let Spelled {
        stripped,
        trailing_slash,
        last,
    } = spelled(os, cwd, "an empty name: the command would fail")?;
    let stripped = stripped.as_path();
    let last = last.as_slice();
    let failed = |e: std::io::Error| Effect::Nothing(format!("the command would fail: {e}"));
    let mut entry = if stripped == Path::new("/") || last == b"." || last == b".." {
        std::fs::canonicalize(stripped).map_err(failed)?
    } else {
        let parent = stripped.parent().unwrap_or(Path::new("/"));
        let name = stripped.file_name().unwrap_or_default();
        // A find dry run lands thousands of effects in a few directories: resolved once each.
        let plain = parent
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        let dir = if plain {
            canon.of(parent).ok_or_else(|| {
                Effect::Nothing("the command would fail: no such directory".into())
            })?
        } else {
            std::fs::canonicalize(parent).map_err(failed)?
        };
        dir.join(name)
    };
    // One lstat per entry where nothing redirects it: a find dry run judges thousands.
    let mut first_meta = Some(std::fs::symlink_metadata(&entry));
    let is_link = first_meta
        .as_ref()
        .is_some_and(|m| m.as_ref().is_ok_and(|m| m.file_type().is_symlink()));
    if is_link
        && (trailing_slash || e.follow)
        && let Ok(target) = std::fs::canonicalize(&entry)
    {
        entry = target;
        first_meta = None;
    }
    if e.in_repo
        && !entry
            .ancestors()
            .any(|a| a.join(".git").symlink_metadata().is_ok())
    {
        return Err(Effect::Nothing(
            "not inside a git work tree: git would fail".into(),
        ));
    }
    if let (FileOp::WriteInto { deletes: false }, false) = (e.op, e.from.is_empty())
        && let Some(landings) = landings_from(&entry, &e.from, e.from_cp, cwd)
    {
        return Ok(landings);
    }
    if let (FileOp::WriteInto { deletes: false }, Some(archive)) = (e.op, &e.archive)
        && let Some(landings) = archive_landings(&entry, archive, cwd)
    {
        return Ok(landings);
    }
    let entries = if !e.into.is_empty() && std::fs::metadata(&entry).is_ok_and(|m| m.is_dir()) {
        first_meta = None;
        let dir = std::fs::canonicalize(&entry).unwrap_or(entry);
        e.into.iter().map(|n| dir.join(n)).collect()
    } else {
        vec![entry]
    };
    let mut out = Vec::new();
    for entry in entries {
        let meta = first_meta
            .take()
            .unwrap_or_else(|| std::fs::symlink_metadata(&entry));
        let exists = meta.is_ok();
        let is_dir = meta.as_ref().is_ok_and(|m| m.is_dir());
        if exists && e.only_if_absent {
            continue;
        }
        let (descend, keeps_entry) = match e.op {
            FileOp::Delete { recursive } => {
                if !exists {
                    continue;
                }
                (is_dir && recursive, false)
            }
            FileOp::MoveAway => {
                if !exists {
                    continue;
                }
                (is_dir, false)
            }
            FileOp::ChangeMode => {
                if !exists {
                    continue;
                }
                (is_dir, true)
            }
            // A new entry, or a directory written into, keeps what is there; a file
            // overwritten loses its bytes.
            FileOp::Overwrite | FileOp::WriteInto { .. } => (is_dir, is_dir || !exists),
            FileOp::Append => (false, true),
        };
        out.push(Landing {
            entry,
            descend,
            keeps_entry,
        });
    }
    if out.is_empty() {
        return Err(Effect::Nothing(if e.only_if_absent {
            "it never replaces an existing entry".into()
        } else {
            "no such file: the command would fail".into()
        }));
    }
    Ok(out)
}

/// Where the entries of the source trees land in `dest` (rsync's rule: `SRC/` puts SRC's
/// contents there, `SRC` puts SRC itself), or None when a source cannot be walked whole (then
/// the whole of `dest` counts).
fn landings_from(dest: &Path, from: &[Arg], cp: bool, cwd: Option<&Path>) -> Option<Vec<Landing>> {
    const MAX: usize = 20_000;
    let mut out = Vec::new();
    let dest_is_dir = dest.is_dir();
    for src in from {
        let b = src.known()?.as_bytes();
        let path = if b.starts_with(b"/") {
            PathBuf::from(OsStr::from_bytes(b))
        } else {
            cwd?.join(OsStr::from_bytes(b))
        };
        let file_onto_file = !path.is_dir() && !dest_is_dir;
        let contents = if cp {
            !dest_is_dir || b.ends_with(b"/.") || b == b"."
        } else {
            b.ends_with(b"/")
        };
        let base = if contents || file_onto_file {
            dest.to_owned()
        } else {
            dest.join(path.file_name()?)
        };
        for entry in WalkDir::new(&path).follow_links(false) {
            let entry = entry.ok()?;
            let rel = entry.path().strip_prefix(&path).ok()?;
            let at = if rel.as_os_str().is_empty() {
                base.clone()
            } else {
                base.join(rel)
            };
            let meta = std::fs::symlink_metadata(&at);
            let keeps_entry = meta.as_ref().map_or(true, |m| m.is_dir());
            out.push(Landing {
                entry: at,
                descend: false,
                keeps_entry,
            });
            if out.len() > MAX {
                return None;
            }
        }
    }
    Some(out)
}

/// Where the members of a tar archive land in `dest`, listed by the real tar (`tar -tf`,
/// which reads and changes nothing), or None when it cannot be listed in time or a member
/// climbs out (`..`): then the whole of `dest` counts.
fn archive_landings(dest: &Path, archive: &Arg, cwd: Option<&Path>) -> Option<Vec<Landing>> {
    use std::io::Read;
    use wait_timeout::ChildExt;
    let mut child = std::process::Command::new("tar")
        .args(["--quoting-style=literal", "-tf"])
        .arg(archive.known()?)
        .current_dir(cwd?)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut listing = Vec::new();
    let read = child.stdout.take()?.take(8 << 20).read_to_end(&mut listing);
    let status = child
        .wait_timeout(std::time::Duration::from_secs(5))
        .ok()
        .flatten();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    if read.is_err() || !status.is_some_and(|s| s.success()) {
        return None;
    }
    let mut out = Vec::new();
    for member in listing.split(|&c| c == b'\n').filter(|m| !m.is_empty()) {
        let rel = Path::new(OsStr::from_bytes(member));
        if rel.components().any(|c| matches!(c, Component::ParentDir)) {
            return None;
        }
        let rel: PathBuf = rel
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let at = dest.join(rel);
        let keeps_entry = std::fs::symlink_metadata(&at).map_or(true, |m| m.is_dir());
        out.push(Landing {
            entry: at,
            descend: false,
            keeps_entry,
        });
        if out.len() > 20_000 {
            return None;
        }
    }
    Some(out)
}

/// Probes every file effect of a command against the policy's path rules.
pub fn probe_files(intent: &FilesIntent, rules: &[PathRule]) -> Vec<TargetFacts> {
    let mut compiled: Vec<Option<Vec<Form>>> = (0..rules.len()).map(|_| None).collect();
    let mut canon = Canon::default();
    let mut budget = WALK_LIMIT;
    let mut out = Vec::new();
    for e in &intent.effects {
        let operand = e.target.display();
        match land(e, intent.cwd.as_deref(), &mut canon) {
            Err(effect) => out.push(TargetFacts {
                operand,
                effect,
                op: e.op,
                keeps_entry: false,
            }),
            Ok(landings) => {
                for l in landings {
                    let mut hits = Vec::new();
                    for (i, rule) in rules.iter().enumerate() {
                        // An append loses nothing: only a tree the net holds read-only counts.
                        if e.op == FileOp::Append && !rule.net {
                            continue;
                        }
                        let forms = compiled[i].get_or_insert_with(|| forms(rule, &mut canon));
                        hits.extend(hits_for(
                            &l.entry,
                            l.descend,
                            rule.contents != Contents::Allow,
                            i,
                            forms,
                            &mut budget,
                        ));
                    }
                    if e.op == FileOp::Append {
                        hits.retain(|h| h.relation == Relation::Within);
                    }
                    out.push(TargetFacts {
                        operand: operand.clone(),
                        effect: Effect::Reaches {
                            entry: l.entry,
                            hits,
                        },
                        op: e.op,
                        keeps_entry: l.keeps_entry,
                    });
                }
            }
        }
    }
    out
}

/// Display form of a path, lossless for non-UTF-8 names.
pub fn show(p: &Path) -> String {
    display_bytes(p.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{RmOptions, Via};
    use crate::policy::schema::Action;
    use std::os::unix::fs::symlink;

    fn rule(path: String) -> PathRule {
        PathRule {
            id: "t:protect.path#1".into(),
            line: 1,
            path,
            action: Action::Deny,
            snapshot: false,
            contents: crate::policy::schema::Contents::Deny,
            net: true,
            reason: None,
            environments: None,
        }
    }

    fn probe(cwd: &Path, args: &[&str], rules: &[PathRule]) -> Vec<TargetFacts> {
        let v: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        let c = crate::intent::rm::parse(&v, false).unwrap();
        let intent = RmIntent {
            via: Via::Rm,
            options: c.options,
            operands: c.operands.into_iter().map(Arg::Known).collect(),
            cwd: Some(cwd.to_owned()),
            usage_error: None,
            text: String::new(),
        };
        probe_rm(&intent, rules)
    }

    fn hit_count(f: &[TargetFacts]) -> usize {
        f.iter()
            .map(|t| match &t.effect {
                Effect::Reaches { hits, .. } => hits.len(),
                _ => 0,
            })
            .sum()
    }

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let r = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir_all(r.join("lib/postgresql/15")).unwrap();
        std::fs::create_dir_all(r.join("lib/postgresql-old")).unwrap();
        std::fs::create_dir_all(r.join("other")).unwrap();
        symlink(r.join("lib/postgresql"), r.join("other/pg")).unwrap();
        (d, r)
    }

    #[test]
    fn memoized_resolution_agrees_with_canonicalize() {
        let (_d, r) = tree();
        std::fs::write(r.join("file"), b"x").unwrap();
        symlink("../lib", r.join("other/rel")).unwrap();
        symlink(r.join("loop-b"), r.join("loop-a")).unwrap();
        symlink(r.join("loop-a"), r.join("loop-b")).unwrap();
        symlink(r.join("missing"), r.join("dangling")).unwrap();
        let paths = [
            "/",
            "lib",
            "lib/postgresql/15",
            "other/pg",
            "other/pg/15",
            "other/rel/postgresql",
            "other/rel/postgresql-old",
            "loop-a",
            "loop-a/x",
            "dangling",
            "missing",
            "missing/x",
            "file",
            "file/x",
        ];
        let mut canon = Canon::default();
        // Twice: the second round answers from the memo.
        for _ in 0..2 {
            for p in paths {
                let p = if p == "/" {
                    PathBuf::from("/")
                } else {
                    r.join(p)
                };
                assert_eq!(canon.of(&p), std::fs::canonicalize(&p).ok(), "{p:?}");
            }
        }
    }

    #[test]
    fn parent_of_protected_dir_is_a_hit_only_when_recursive() {
        let (_d, r) = tree();
        let rules = [rule(format!("{}/lib/postgresql", r.display()))];
        assert_eq!(hit_count(&probe(&r, &["-rf", "lib"], &rules)), 1);
        assert!(matches!(
            probe(&r, &["lib"], &rules)[0].effect,
            Effect::Nothing(_)
        ));
    }

    #[test]
    fn prefix_sharing_sibling_is_not_a_hit() {
        let (_d, r) = tree();
        let rules = [rule(format!("{}/lib/postgresql", r.display()))];
        assert_eq!(
            hit_count(&probe(&r, &["-rf", "lib/postgresql-old"], &rules)),
            0
        );
    }

    #[test]
    fn symlink_is_a_hit_only_with_trailing_slash() {
        let (_d, r) = tree();
        let rules = [rule(format!("{}/lib/postgresql", r.display()))];
        assert_eq!(hit_count(&probe(&r, &["-rf", "other/pg"], &rules)), 0);
        assert_eq!(hit_count(&probe(&r, &["-rf", "other/pg/"], &rules)), 1);
    }

    #[test]
    fn dotdot_and_double_slash_spellings_are_resolved() {
        let (_d, r) = tree();
        let rules = [rule(format!("{}/lib/postgresql", r.display()))];
        assert_eq!(
            hit_count(&probe(&r, &["-r", "other/../lib//postgresql/"], &rules)),
            1
        );
        assert_eq!(
            hit_count(&probe(&r, &["-r", "./lib/./postgresql"], &rules)),
            1
        );
        assert_eq!(
            hit_count(&probe(&r, &["-r", "lib/postgresql/."], &rules)),
            0,
            "rm refuses `.`"
        );
        assert_eq!(
            hit_count(&probe(&r, &["-r", "lib/postgresql/15/.."], &rules)),
            0
        );
    }

    #[test]
    fn glob_rule_matches_inside_a_recursive_target() {
        let (_d, r) = tree();
        std::fs::write(r.join("lib/postgresql/15/app.sqlite"), "x").unwrap();
        let rules = [rule(format!("{}/**/*.sqlite", r.display()))];
        assert_eq!(hit_count(&probe(&r, &["-rf", "lib"], &rules)), 1);
        assert_eq!(hit_count(&probe(&r, &["-rf", "other"], &rules)), 0);
        assert_eq!(
            hit_count(&probe(&r, &["lib/postgresql/15/app.sqlite"], &rules)),
            1
        );
        let star = [rule(format!("{}/lib/*/15", r.display()))];
        assert_eq!(
            hit_count(&probe(&r, &["-r", "."], &star)),
            0,
            "`.` is refused by rm"
        );
        assert_eq!(
            hit_count(&probe(&r, &["-r", &r.display().to_string()], &star)),
            1
        );
    }

    #[test]
    fn broken_glob_rule_matches_everything_below_its_prefix() {
        let (_d, r) = tree();
        let rules = [rule(format!("{}/lib/[", r.display()))];
        assert_eq!(
            hit_count(&probe(&r, &["-rf", "lib/postgresql-old"], &rules)),
            1
        );
        assert_eq!(hit_count(&probe(&r, &["-rf", "other"], &rules)), 0);
    }

    #[test]
    fn missing_and_looping_targets_delete_nothing() {
        let (_d, r) = tree();
        symlink(r.join("loop2"), r.join("loop1")).unwrap();
        symlink(r.join("loop1"), r.join("loop2")).unwrap();
        let rules = [rule(format!("{}/lib", r.display()))];
        for t in ["nope", "loop1/", "nope/x"] {
            assert!(
                matches!(probe(&r, &["-rf", t], &rules)[0].effect, Effect::Nothing(_)),
                "{t}"
            );
        }
    }

    fn files(cwd: &Path, effects: Vec<FileEffect>, rules: &[PathRule]) -> Vec<TargetFacts> {
        probe_files(
            &FilesIntent {
                program: "t".into(),
                effects,
                cwd: Some(cwd.to_owned()),
                text: String::new(),
            },
            rules,
        )
    }

    fn relations(f: &[TargetFacts]) -> Vec<(String, Relation, bool)> {
        f.iter()
            .flat_map(|t| match &t.effect {
                Effect::Reaches { entry, hits } => hits
                    .iter()
                    .map(|h| {
                        (
                            entry
                                .strip_prefix(std::fs::canonicalize("/").unwrap())
                                .map(show)
                                .unwrap_or_default(),
                            h.relation,
                            t.keeps_entry,
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn known(p: &str) -> Arg {
        Arg::Known(p.into())
    }

    #[test]
    fn an_entry_inside_a_protected_tree_is_within_it() {
        let (_d, r) = tree();
        std::fs::write(r.join("lib/postgresql/15/f"), "x").unwrap();
        let rules = [rule(format!("{}/lib/postgresql", r.display()))];
        let rel = relations(&probe(&r, &["lib/postgresql/15/f"], &rules));
        assert_eq!(rel.len(), 1);
        assert_eq!(rel[0].1, Relation::Within);
        let glob = [rule(format!("{}/lib/*", r.display()))];
        let rel = relations(&probe(&r, &["-r", "lib/postgresql/15"], &glob));
        assert_eq!(rel[0].1, Relation::Within, "an ancestor matches the glob");
        assert!(relations(&probe(&r, &["-r", "lib/postgresql-old"], &rules)).is_empty());
    }

    #[test]
    fn overwrites_follow_symlinks_and_moves_do_not() {
        let (_d, r) = tree();
        std::fs::write(r.join("lib/postgresql/15/f"), "x").unwrap();
        symlink(r.join("lib/postgresql/15/f"), r.join("other/f-link")).unwrap();
        let rules = [rule(format!("{}/lib/postgresql/15/f", r.display()))];
        let over = FileEffect {
            follow: true,
            ..FileEffect::new(FileOp::Overwrite, known("other/f-link"))
        };
        let rel = relations(&files(&r, vec![over], &rules));
        assert_eq!(rel.len(), 1);
        assert_eq!((rel[0].1, rel[0].2), (Relation::Itself, false));
        let mv = FileEffect::new(FileOp::MoveAway, known("other/f-link"));
        assert!(relations(&files(&r, vec![mv], &rules)).is_empty());
    }

    #[test]
    fn a_destination_directory_receives_the_sources_names() {
        let (_d, r) = tree();
        std::fs::write(r.join("lib/postgresql/15/f"), "x").unwrap();
        let rules = [rule(format!("{}/lib/postgresql/15/f", r.display()))];
        let into = FileEffect {
            into: vec!["f".into(), "g".into()],
            ..FileEffect::new(FileOp::Overwrite, known("lib/postgresql/15"))
        };
        let f = files(&r, vec![into.clone()], &rules);
        assert_eq!(f.len(), 2, "one landing per source name");
        assert_eq!(relations(&f)[0].1, Relation::Itself);
        let absent = FileEffect {
            only_if_absent: true,
            ..into
        };
        let f = files(&r, vec![absent], &rules);
        assert!(relations(&f).is_empty(), "cp -n never replaces f");
    }

    #[test]
    fn writing_into_a_protected_tree_keeps_its_entry_and_reaches_what_is_inside() {
        let (_d, r) = tree();
        let rules = [
            rule(format!("{}/lib", r.display())),
            rule(format!("{}/lib/postgresql/15", r.display())),
        ];
        let e = FileEffect::new(FileOp::WriteInto { deletes: true }, known("lib/"));
        let mut rel = relations(&files(&r, vec![e], &rules));
        rel.sort_by_key(|x| format!("{:?}", x.1));
        assert_eq!(
            rel.iter().map(|x| (x.1, x.2)).collect::<Vec<_>>(),
            [(Relation::Inside, true), (Relation::Itself, true)]
        );
        let missing = FileEffect::new(FileOp::Delete { recursive: false }, known("nope"));
        assert!(matches!(
            files(&r, vec![missing], &rules)[0].effect,
            Effect::Nothing(_)
        ));
        let unknown = FileEffect::new(FileOp::Overwrite, Arg::Unknown("x".into()));
        assert!(matches!(
            files(&r, vec![unknown], &rules)[0].effect,
            Effect::Unknown(_)
        ));
    }

    #[test]
    fn unknown_cwd_makes_relative_operands_unknown() {
        let intent = RmIntent {
            via: Via::Rm,
            options: RmOptions::default(),
            operands: vec![Arg::Known("x".into())],
            cwd: None,
            usage_error: None,
            text: String::new(),
        };
        assert!(matches!(
            probe_rm(&intent, &[])[0].effect,
            Effect::Unknown(_)
        ));
    }
}
