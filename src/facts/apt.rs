//! What a package operation would really do: the packages apt would install, upgrade, remove or
//! purge (from `apt-get -s`, or from the hook's stream), why each removal not asked for happens
//! (its dependency chain to one that was), and which data a purge deletes.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::intent::apt::{AptIntent, Tool};
use crate::intent::{Arg, Intent, RmIntent, RmOptions, Via};
use crate::policy::Policy;
use crate::policy::schema::PackageOp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Op(PackageOp),
    /// A removal that may be a purge: apt's hook stream reports both as `**REMOVE**`.
    RemoveMaybePurge,
    Purge,
    Reinstall,
}

impl Change {
    pub fn removes(self) -> bool {
        matches!(
            self,
            Change::Op(PackageOp::Remove | PackageOp::Purge)
                | Change::RemoveMaybePurge
                | Change::Purge
        )
    }

    /// Whether a rule listing `on` fires for this change.
    pub fn matches(self, on: &[PackageOp]) -> bool {
        match self {
            Change::Op(op) => on.contains(&op),
            Change::RemoveMaybePurge => {
                on.contains(&PackageOp::Remove) || on.contains(&PackageOp::Purge)
            }
            Change::Purge => on.contains(&PackageOp::Purge) || on.contains(&PackageOp::Remove),
            Change::Reinstall => on.contains(&PackageOp::Install),
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Change::Op(PackageOp::Install) => "INSTALLED",
            Change::Op(PackageOp::Upgrade) => "UPGRADED",
            Change::Op(PackageOp::Downgrade) => "DOWNGRADED",
            Change::Op(PackageOp::Remove) => "REMOVED",
            Change::Op(PackageOp::Purge) | Change::Purge => "PURGED",
            Change::RemoveMaybePurge => "REMOVED (or purged)",
            Change::Reinstall => "REINSTALLED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgChange {
    pub package: String,
    pub arch: Option<String>,
    pub change: Change,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The facts of one package command.
#[derive(Debug, Clone, Default)]
pub struct PackageFacts {
    pub changes: Vec<PkgChange>,
    /// For a removal not asked for: the chain of dependencies from it to a package that was
    /// (`[server, client]`: server depends on client).
    pub because: BTreeMap<String, Vec<String>>,
    /// The preview could not be made: why (the named packages are still checked).
    pub unknown: Option<String>,
}

/// `apt-get -s` output lines: `Remv pkg [ver]`, `Purg pkg [ver]`, `Inst pkg [cur] (new …)`.
pub fn parse_simulation(text: &str) -> Vec<PkgChange> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(kind), Some(pkg)) = (f.next(), f.next()) else {
            continue;
        };
        let rest: Vec<&str> = f.collect();
        let cur = rest
            .first()
            .filter(|r| r.starts_with('['))
            .map(|r| r.trim_matches(|c| c == '[' || c == ']').to_owned());
        let new = rest
            .iter()
            .find(|r| r.starts_with('('))
            .map(|r| r.trim_start_matches('(').to_owned());
        let (name, arch) = match pkg.split_once(':') {
            Some((n, a)) => (n, Some(a.to_owned())),
            None => (pkg, None),
        };
        let change = match kind {
            "Remv" => Change::Op(PackageOp::Remove),
            "Purg" => Change::Op(PackageOp::Purge),
            "Inst" if cur.is_none() => Change::Op(PackageOp::Install),
            // Upgrade or downgrade: told apart below by dpkg's own version comparison.
            "Inst" => Change::Op(PackageOp::Upgrade),
            _ => continue,
        };
        out.push(PkgChange {
            package: name.to_owned(),
            arch,
            change,
            from: cur,
            to: new,
        });
    }
    out
}

/// Marks as downgrades the upgrades whose new version is lower (`dpkg --compare-versions`).
fn mark_downgrades(changes: &mut [PkgChange]) {
    for c in changes.iter_mut() {
        if let (Change::Op(PackageOp::Upgrade), Some(from), Some(to)) = (c.change, &c.from, &c.to) {
            let lower = Command::new("dpkg")
                .args(["--compare-versions", to, "lt", from])
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if lower {
                c.change = Change::Op(PackageOp::Downgrade);
            } else if to == from {
                c.change = Change::Reinstall;
            }
        }
    }
}

/// The facts of any package command: a dpkg command's own operands, else a simulation.
pub fn probe(intent: &AptIntent) -> PackageFacts {
    match intent.tool {
        Tool::Dpkg => for_dpkg(intent),
        _ => simulate(intent),
    }
}

/// Previews an apt/apt-get/aptitude command with `apt-get -s` and the same arguments.
pub fn simulate(intent: &AptIntent) -> PackageFacts {
    let args = &intent.args;
    let mut facts = PackageFacts::default();
    if intent.tool == Tool::Aptitude {
        facts.unknown = Some(
            "aptitude's own resolver is not previewed; apt's hook checks what it really does"
                .into(),
        );
        return facts;
    }
    let out = Command::new("apt-get")
        .arg("-s")
        .arg("-qq")
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            facts.changes = parse_simulation(&String::from_utf8_lossy(&o.stdout));
            mark_downgrades(&mut facts.changes);
            explain(&mut facts, intent, Path::new("/var/lib/dpkg/status"));
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            facts.unknown = Some(format!(
                "`apt-get -s` failed: {}",
                err.lines().last().unwrap_or("").trim()
            ));
        }
        Err(e) => facts.unknown = Some(format!("cannot run apt-get -s: {e}")),
    }
    facts
}

/// The facts of a dpkg command: its removals are the packages it names.
pub fn for_dpkg(intent: &AptIntent) -> PackageFacts {
    let change = if intent.purge {
        Change::Op(PackageOp::Purge)
    } else {
        Change::Op(PackageOp::Remove)
    };
    PackageFacts {
        changes: intent
            .remove
            .iter()
            .map(|p| PkgChange {
                package: p.clone(),
                arch: None,
                change,
                from: None,
                to: None,
            })
            .collect(),
        because: BTreeMap::new(),
        unknown: intent.pending.then(|| {
            "`--pending` removes the packages selected in dpkg's database, not named here".into()
        }),
    }
}

/// Fills `because` for every removal that was not asked for, from the dependencies recorded in
/// dpkg's status file (read only: a hook must not run dpkg or apt).
pub fn explain(facts: &mut PackageFacts, intent: &AptIntent, status: &Path) {
    let asked: HashSet<&str> = intent.remove.iter().map(String::as_str).collect();
    let removed: HashSet<&str> = facts
        .changes
        .iter()
        .filter(|c| c.change.removes())
        .map(|c| c.package.as_str())
        .collect();
    let unexplained: Vec<String> = removed
        .iter()
        .filter(|p| !asked.contains(*p))
        .map(|p| p.to_string())
        .collect();
    if unexplained.is_empty() || asked.is_empty() {
        return;
    }
    let Ok(text) = std::fs::read_to_string(status) else {
        return;
    };
    let deps = dependencies(&text);
    for start in unexplained {
        // Breadth first through packages removed in the same run, to one that was asked for.
        let mut prev: HashMap<String, String> = HashMap::new();
        let mut queue = VecDeque::from([start.clone()]);
        let mut found = None;
        while let Some(p) = queue.pop_front() {
            if asked.contains(p.as_str()) {
                found = Some(p);
                break;
            }
            for d in deps.get(p.as_str()).into_iter().flatten() {
                if removed.contains(d.as_str()) && d != &start && !prev.contains_key(d) {
                    prev.insert(d.clone(), p.clone());
                    queue.push_back(d.clone());
                }
            }
        }
        if let Some(end) = found {
            let mut chain = vec![end.clone()];
            let mut at = end;
            while let Some(p) = prev.get(&at) {
                chain.push(p.clone());
                at = p.clone();
            }
            chain.reverse();
            facts.because.insert(start, chain);
        }
    }
}

/// Package → the packages it Depends/Pre-Depends on (every alternative, virtual names too,
/// resolved through Provides), for installed packages in a dpkg status file.
fn dependencies(status: &str) -> HashMap<String, Vec<String>> {
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    let mut provides: HashMap<String, Vec<String>> = HashMap::new();
    for para in status.split("\n\n") {
        let mut name = None;
        let mut installed = false;
        let mut list = Vec::new();
        let mut field = "";
        for line in para.lines() {
            let value = if line.starts_with([' ', '\t']) {
                line
            } else if let Some((k, v)) = line.split_once(':') {
                field = k;
                v
            } else {
                continue;
            };
            match field {
                "Package" => name = Some(value.trim().to_owned()),
                "Status" => installed = value.trim().ends_with(" installed"),
                "Depends" | "Pre-Depends" | "Provides" => {
                    for item in value.split([',', '|']) {
                        let n = item.split_whitespace().next().unwrap_or("");
                        let n = n.split(':').next().unwrap_or("");
                        if !n.is_empty() {
                            list.push((field == "Provides", n.to_owned()));
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(name) = name.filter(|_| installed) else {
            continue;
        };
        for (is_provides, n) in list {
            if is_provides {
                provides.entry(n).or_default().push(name.clone());
            } else {
                deps.entry(name.clone()).or_default().push(n);
            }
        }
    }
    for list in deps.values_mut() {
        let virtuals: Vec<String> = list
            .iter()
            .flat_map(|d| provides.get(d).cloned().unwrap_or_default())
            .collect();
        list.extend(virtuals);
    }
    deps
}

/// Absolute paths a package's `postrm` deletes recursively with a literal path (`rm -rf /x`),
/// from dpkg's info directory. Variables, globs and command substitutions are skipped: this
/// finds the obvious, and the policy's `data` lists the rest.
pub fn postrm_deletes(admindir: &Path, package: &str, arch: Option<&str>) -> Vec<PathBuf> {
    let info = admindir.join("info");
    let candidates = [
        arch.map(|a| info.join(format!("{package}:{a}.postrm"))),
        Some(info.join(format!("{package}.postrm"))),
    ];
    let Some(text) = candidates
        .into_iter()
        .flatten()
        .find_map(|p| std::fs::read_to_string(p).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for cmd in line.split([';', '&', '|']) {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let Some(at) = words.iter().position(|w| *w == "rm" || w.ends_with("/rm")) else {
                continue;
            };
            let args = &words[at + 1..];
            let recursive = args.iter().any(|a| {
                a.starts_with('-') && !a.starts_with("--") && a.contains(['r', 'R'])
                    || *a == "--recursive"
            });
            if !recursive {
                continue;
            }
            for a in args {
                let a: String = a.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
                let a = a.strip_suffix("/*").unwrap_or(&a);
                if a.starts_with('/') && !a.contains(['$', '*', '?', '[', '`', '(']) {
                    out.push(PathBuf::from(a));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What a purge deletes besides the package's own files: the directories its postrm removes
/// (`rm -rf /literal/path`) and the policy's `data` for it, as recursive deletions that the path
/// rules judge like any `rm -rf`.
pub fn purge_deletions(facts: &PackageFacts, policy: &Policy, admindir: &Path) -> Vec<Intent> {
    let mut out = Vec::new();
    let matchers = crate::policy::PackageMatchers::new(policy);
    for c in &facts.changes {
        use crate::facts::apt::Change;
        if !matches!(
            c.change,
            Change::Purge
                | Change::RemoveMaybePurge
                | Change::Op(crate::policy::schema::PackageOp::Purge)
        ) {
            continue;
        }
        let mut paths = postrm_deletes(admindir, &c.package, c.arch.as_deref());
        for (n, rule) in policy.packages.iter().enumerate() {
            if !rule.data.is_empty() && matchers.matches(n, &c.package) {
                paths.extend(rule.data.iter().map(PathBuf::from));
            }
        }
        paths.sort();
        paths.dedup();
        if paths.is_empty() {
            continue;
        }
        out.push(Intent::Rm(RmIntent {
            via: Via::Purge,
            options: RmOptions {
                recursive: true,
                force: true,
                ..RmOptions::default()
            },
            operands: paths
                .into_iter()
                .map(|p| Arg::Known(p.into_os_string()))
                .collect(),
            cwd: Some(PathBuf::from("/")),
            usage_error: None,
            text: format!("purge of {}", c.package),
        }));
    }
    out
}

/// Adds to `intents` the deletions that the purges among them would make, so that `check`
/// judges a purge as the guards do.
pub fn add_purge_deletions(intents: &mut Vec<Intent>, policy: &Policy) {
    let extra: Vec<Intent> = intents
        .iter()
        .filter_map(|i| match i {
            Intent::Apt(a) if a.changes => Some(probe(a)),
            _ => None,
        })
        .flat_map(|facts| purge_deletions(&facts, policy, Path::new("/var/lib/dpkg")))
        .collect();
    intents.extend(extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulation_lines() {
        let c = parse_simulation(
            "Remv gftest-server [1.0]\nPurg gftest-client:amd64 [1.0]\nInst a [1.0] (2.0 Debian:12 [amd64])\nInst b (1.0 Debian:12 [all])\nConf b (1.0 Debian:12 [all])\nNOTE: This is only a simulation!\n",
        );
        let got: Vec<_> = c.iter().map(|c| (c.package.as_str(), c.change)).collect();
        assert_eq!(
            got,
            [
                ("gftest-server", Change::Op(PackageOp::Remove)),
                ("gftest-client", Change::Op(PackageOp::Purge)),
                ("a", Change::Op(PackageOp::Upgrade)),
                ("b", Change::Op(PackageOp::Install)),
            ]
        );
        assert_eq!(c[2].from.as_deref(), Some("1.0"));
        assert_eq!(c[2].to.as_deref(), Some("2.0"));
    }

    #[test]
    fn a_cascade_is_explained_by_its_dependency_chain() {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("status");
        std::fs::write(
            &status,
            "Package: server\nStatus: install ok installed\nDepends: libx (>= 1), common | other\n\n\
             Package: common\nStatus: install ok installed\nDepends: virtual-client\n\n\
             Package: client\nStatus: install ok installed\nProvides: virtual-client\nDescription: x\n more: y\n\n\
             Package: libx\nStatus: install ok installed\n",
        )
        .unwrap();
        let intent = crate::intent::apt::parse(Tool::AptGet, &["remove".into(), "client".into()]);
        let mut facts = PackageFacts {
            changes: ["server", "common", "client"]
                .iter()
                .map(|p| PkgChange {
                    package: (*p).into(),
                    arch: None,
                    change: Change::RemoveMaybePurge,
                    from: None,
                    to: None,
                })
                .collect(),
            ..PackageFacts::default()
        };
        explain(&mut facts, &intent, &status);
        assert_eq!(facts.because["server"], ["server", "common", "client"]);
        assert_eq!(facts.because["common"], ["common", "client"]);
        assert!(!facts.because.contains_key("client"));
    }

    #[test]
    fn postrm_literal_recursive_deletions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("info")).unwrap();
        std::fs::write(
            dir.path().join("info/srv.postrm"),
            "#!/bin/sh\nset -e\nif [ \"$1\" = purge ]; then\n  rm -rf /var/lib/srv \"/var/cache/srv\"/* ; rm -f /etc/srv.conf\n  rm -r $DIR /x/*.log\nfi\n# rm -rf /commented\n",
        )
        .unwrap();
        assert_eq!(
            postrm_deletes(dir.path(), "srv", Some("amd64")),
            [
                PathBuf::from("/var/cache/srv"),
                PathBuf::from("/var/lib/srv")
            ]
        );
        assert!(postrm_deletes(dir.path(), "none", None).is_empty());
    }
}
