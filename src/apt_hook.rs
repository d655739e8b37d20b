//! apt's `DPkg::Pre-Install-Pkgs` hook stream, protocol version 2 and 3 (apt-pkg/deb/dpkgpm.cc,
//! `SendPkgsInfo`): `VERSION N`, the configuration as `key=value` lines (%-encoded), a blank
//! line, then one line per action, in the order dpkg will be run:
//!
//! ```text
//! v3: NAME OLDVER OLDARCH OLDMA CMP NEWVER NEWARCH NEWMA ACTION
//! v2: NAME OLDVER CMP NEWVER ACTION
//! ```
//!
//! where a missing version is `-` (v3: `- - none`), CMP is `<` (upgrade or new install), `>`
//! (downgrade, or removal when NEWVER is `-`) or `=`, and ACTION is a .deb path, `**CONFIGURE**`
//! or `**REMOVE**`. A purge is reported as `**REMOVE**` too; `APT::Get::Purge` in the
//! configuration says when it is one.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::facts::apt::{Change, PkgChange};
use crate::policy::schema::PackageOp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Unpack(PathBuf),
    Configure,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub package: String,
    pub old: Option<String>,
    pub arch: Option<String>,
    pub cmp: char,
    pub new: Option<String>,
    pub action: Action,
}

#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub version: u32,
    pub config: Vec<(String, String)>,
    pub lines: Vec<Line>,
}

/// Undoes apt's QuoteString: `%xx` is the byte xx.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if b[i] == b'%'
            && let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `-` is no version.
fn some_version(v: &str) -> Option<String> {
    (v != "-").then(|| v.to_owned())
}

pub fn parse(text: &str) -> Result<Stream> {
    let bad = |what: String| Error::Usage(format!("apt hook stream: {what}"));
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let version: u32 = first
        .strip_prefix("VERSION ")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            bad(format!(
                "expected `VERSION 2` or `VERSION 3`, got {first:?}: set DPkg::Tools::Options::<hook>::Version \"3\""
            ))
        })?;
    if !(2..=3).contains(&version) {
        return Err(bad(format!(
            "protocol version {version} is not supported (2 or 3)"
        )));
    }
    let mut stream = Stream {
        version,
        ..Stream::default()
    };
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| bad(format!("configuration line without `=`: {line:?}")))?;
        stream.config.push((decode(k), decode(v)));
    }
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(' ').collect();
        let (package, old, arch, cmp, new, newarch, action) = match (version, f.len()) {
            (3, 9) => (f[0], f[1], f[2], f[4], f[5], f[6], f[8]),
            (2, 5) => (f[0], f[1], "-", f[2], f[3], "-", f[4]),
            _ => return Err(bad(format!("unexpected action line: {line:?}"))),
        };
        let cmp = match cmp {
            "<" => '<',
            ">" => '>',
            "=" => '=',
            _ => return Err(bad(format!("unexpected comparison in {line:?}"))),
        };
        let action = match action {
            "**REMOVE**" => Action::Remove,
            "**CONFIGURE**" => Action::Configure,
            p if p.starts_with('/') => Action::Unpack(PathBuf::from(p)),
            _ => return Err(bad(format!("unexpected action in {line:?}"))),
        };
        let arch = [arch, newarch]
            .into_iter()
            .find(|a| *a != "-")
            .map(str::to_owned);
        stream.lines.push(Line {
            package: package.to_owned(),
            old: some_version(old),
            arch,
            cmp,
            new: some_version(new),
            action,
        });
    }
    Ok(stream)
}

impl Stream {
    /// The last value of a configuration key (keys compare case-insensitively, as in apt).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Removals are certainly purges.
    pub fn purge(&self) -> bool {
        self.get("APT::Get::Purge")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    }

    /// The dpkg status file apt reads (`Dir::State::status`).
    pub fn status_file(&self) -> PathBuf {
        match self.get("Dir::State::status") {
            Some(p) if p.starts_with('/') => PathBuf::from(p),
            _ => PathBuf::from("/var/lib/dpkg/status"),
        }
    }

    /// One change per package, in stream order (an unpack and its configure are one upgrade).
    pub fn changes(&self) -> Vec<PkgChange> {
        let purge = self.purge();
        let mut out: Vec<PkgChange> = Vec::new();
        for l in &self.lines {
            let op = match (&l.action, l.cmp, &l.old, &l.new) {
                (Action::Remove, _, _, _) => {
                    if purge {
                        Change::Purge
                    } else {
                        Change::RemoveMaybePurge
                    }
                }
                (_, '<', None, _) => Change::Op(PackageOp::Install),
                (_, '<', Some(_), _) => Change::Op(PackageOp::Upgrade),
                (_, '>', _, _) => Change::Op(PackageOp::Downgrade),
                _ => Change::Reinstall,
            };
            if let Some(prev) = out.iter_mut().find(|c| c.package == l.package) {
                // A removal after an unpack, or the reverse, is kept as the removal.
                if matches!(op, Change::Purge | Change::RemoveMaybePurge) {
                    prev.change = op;
                }
                continue;
            }
            out.push(PkgChange {
                package: l.package.clone(),
                arch: l.arch.clone(),
                change: op,
                from: l.old.clone(),
                to: l.new.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOVE: &str = include_str!("../tests/fixtures/apt-hook/remove.v3");
    const PURGE: &str = include_str!("../tests/fixtures/apt-hook/purge.v3");
    const UPGRADE: &str = include_str!("../tests/fixtures/apt-hook/upgrade.v3");

    #[test]
    fn a_captured_remove_names_the_cascade() {
        let s = parse(REMOVE).unwrap();
        assert_eq!(s.version, 3);
        assert!(!s.purge());
        assert_eq!(
            s.get("CommandLine::AsString"),
            Some("apt-get -c /tmp/debs/cap.conf -y remove gftest-client")
        );
        let c = s.changes();
        let names: Vec<_> = c.iter().map(|c| c.package.as_str()).collect();
        assert_eq!(names, ["gftest-server", "gftest-client"]);
        assert!(c.iter().all(|c| c.change == Change::RemoveMaybePurge));
        assert_eq!(c[0].from.as_deref(), Some("1.0"));
        assert_eq!(c[0].arch.as_deref(), Some("all"));
        assert_eq!(s.status_file(), PathBuf::from("/var/lib/dpkg/status"));
    }

    #[test]
    fn a_captured_purge_is_certain() {
        let s = parse(PURGE).unwrap();
        assert!(s.purge());
        assert!(s.changes().iter().all(|c| c.change == Change::Purge));
    }

    #[test]
    fn an_unpack_and_its_configure_are_one_upgrade() {
        let s = parse(UPGRADE).unwrap();
        let c = s.changes();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].change, Change::Op(PackageOp::Upgrade));
        assert_eq!(c[0].to.as_deref(), Some("2.0"));
    }

    #[test]
    fn version_2_lines_and_installs_and_downgrades() {
        let s = parse(
            "VERSION 2\nA::B=c%20d\n\nnew - < 1.0 /var/cache/apt/archives/new_1.0_all.deb\nold 2.0 > 1.0 /x/old_1.0_all.deb\ngone 1.0 > - **REMOVE**\n",
        )
        .unwrap();
        assert_eq!(s.get("a::b"), Some("c d"));
        let c: Vec<_> = s.changes().into_iter().map(|c| c.change).collect();
        assert_eq!(
            c,
            [
                Change::Op(PackageOp::Install),
                Change::Op(PackageOp::Downgrade),
                Change::RemoveMaybePurge
            ]
        );
    }

    #[test]
    fn bad_streams_are_errors_not_allowances() {
        for text in [
            "",
            "/var/cache/apt/archives/x.deb\n",
            "VERSION 1\n",
            "VERSION 3\nno-equals\n\n",
            "VERSION 3\n\nx 1.0 all none > - - none **WHATEVER**\n",
            "VERSION 3\n\nx 1.0 > - **REMOVE**\n",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}
