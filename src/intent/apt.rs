//! apt, apt-get, aptitude and dpkg command lines, pure: the verb, the packages named, whether
//! removals are purges and whether the command only simulates.
//!
//! What a command line names is not what apt will do (removing one package can cascade into
//! others): the packages really affected are facts, from a simulation (`apt-get -s`) or from the
//! hook's protocol stream. This module only says what was asked for, which is the root cause
//! the messages name.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Apt,
    AptGet,
    Aptitude,
    Dpkg,
}

impl Tool {
    pub fn from_name(name: &str) -> Option<Tool> {
        Some(match name {
            "apt" => Tool::Apt,
            "apt-get" => Tool::AptGet,
            "aptitude" => Tool::Aptitude,
            "dpkg" => Tool::Dpkg,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::Apt => "apt",
            Tool::AptGet => "apt-get",
            Tool::Aptitude => "aptitude",
            Tool::Dpkg => "dpkg",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptIntent {
    pub tool: Tool,
    /// The verb (`remove`, `install`, …); for dpkg its action (`remove`, `purge`, `install`…).
    pub verb: Option<String>,
    /// The command can change what is installed: not a query, not a simulation.
    pub changes: bool,
    /// Removals are purges: `purge`, `autopurge`, `--purge`, `APT::Get::Purge`, `dpkg -P`.
    pub purge: bool,
    /// Packages named for removal (`remove x`, `install x-`, `dpkg -r x`), without `:arch`.
    pub remove: Vec<String>,
    /// Packages (or .deb files) named for installation.
    pub install: Vec<String>,
    /// `dpkg -r -a`: the packages are those selected for removal in dpkg's database.
    pub pending: bool,
    /// `-o`/`--option` settings given on the command line, as `(key, value)`.
    pub options: Vec<(String, String)>,
    /// The arguments as given (for a simulation with the same ones).
    pub args: Vec<OsString>,
    pub text: String,
}

fn s(a: &OsString) -> String {
    String::from_utf8_lossy(a.as_bytes()).into_owned()
}

/// `name:arch`, `name=version`, `name/release` → `name`.
pub fn package_name(arg: &str) -> &str {
    let end = arg.find([':', '=', '/']).unwrap_or(arg.len());
    &arg[..end]
}

fn truthy(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "with" | "enable"
    )
}

/// Parses `tool ARGS` (without argv[0]).
pub fn parse(tool: Tool, args: &[OsString]) -> AptIntent {
    let text = std::iter::once(tool.name().to_owned())
        .chain(args.iter().map(s))
        .collect::<Vec<_>>()
        .join(" ");
    let mut intent = match tool {
        Tool::Dpkg => parse_dpkg(args, text),
        _ => parse_apt(tool, args, text),
    };
    intent.args = args.to_vec();
    intent
}

/// Verbs that change what is installed, for apt, apt-get and aptitude.
const CHANGING: &[&str] = &[
    "install",
    "reinstall",
    "remove",
    "purge",
    "autoremove",
    "auto-remove",
    "autopurge",
    "upgrade",
    "safe-upgrade",
    "dist-upgrade",
    "full-upgrade",
    "dselect-upgrade",
    "build-dep",
    "satisfy",
    "markauto",
    "unmarkauto",
];

/// apt-get's options that take a value as the next argument.
const APT_SHORT_WITH_VALUE: &[u8] = b"octaP";
const APT_LONG_WITH_VALUE: &[&str] = &[
    "option",
    "config-file",
    "target-release",
    "default-release",
    "host-architecture",
    "build-profiles",
    "solver",
    "planner",
];

fn parse_apt(tool: Tool, args: &[OsString], text: String) -> AptIntent {
    let mut verb: Option<String> = None;
    let mut words = Vec::new();
    let mut simulate = false;
    let mut purge = false;
    let mut options = Vec::new();
    let mut i = 0;
    let mut only_words = false;
    while i < args.len() {
        let a = s(&args[i]);
        i += 1;
        if only_words || !a.starts_with('-') || a == "-" {
            if verb.is_none() {
                verb = Some(a);
            } else {
                words.push(a);
            }
            continue;
        }
        if a == "--" {
            only_words = true;
            continue;
        }
        let mut value_of = |inline: Option<String>| -> String {
            inline.unwrap_or_else(|| {
                let v = args.get(i).map(s).unwrap_or_default();
                i += 1;
                v
            })
        };
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            match name {
                "simulate" | "just-print" | "dry-run" | "recon" | "no-act" => simulate = true,
                "purge" => purge = true,
                "no-purge" => purge = false,
                _ if APT_LONG_WITH_VALUE.contains(&name) => {
                    let v = value_of(inline);
                    if name == "option" {
                        options.push(v);
                    }
                }
                _ => {}
            }
            continue;
        }
        // Bundled short options: `-sy`, `-oKey=Value`, `-o Key=Value`, `-q=2`.
        let bytes = a.as_bytes();
        let mut j = 1;
        while j < bytes.len() {
            let c = bytes[j];
            j += 1;
            if c == b'=' {
                break;
            }
            if APT_SHORT_WITH_VALUE.contains(&c) {
                let inline = (j < bytes.len()).then(|| a[j..].to_owned());
                let v = value_of(inline);
                if c == b'o' {
                    options.push(v);
                }
                break;
            }
            if c == b's' {
                simulate = true;
            }
        }
    }
    let options: Vec<(String, String)> = options
        .into_iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (o, String::new()),
        })
        .collect();
    for (k, v) in &options {
        match k.to_ascii_lowercase().as_str() {
            "apt::get::simulate" => simulate = truthy(v),
            "apt::get::purge" => purge = truthy(v),
            _ => {}
        }
    }
    let v = verb.as_deref().unwrap_or("");
    if matches!(v, "purge" | "autopurge") {
        purge = true;
    }
    let changes = !simulate
        && match &verb {
            Some(v) => CHANGING.contains(&v.as_str()),
            // aptitude alone opens its interactive interface, which can remove anything.
            None => tool == Tool::Aptitude,
        };
    let mut remove = Vec::new();
    let mut install = Vec::new();
    let removing = matches!(v, "remove" | "purge" | "autoremove" | "autopurge");
    for w in words {
        if w.contains('/') && w.ends_with(".deb") {
            install.push(w);
        } else if let Some(name) = w.strip_suffix('-').filter(|_| !removing) {
            remove.push(package_name(name).to_owned());
        } else if let Some(name) = w.strip_suffix('+').filter(|_| removing) {
            install.push(package_name(name).to_owned());
        } else if removing {
            remove.push(package_name(&w).to_owned());
        } else {
            install.push(package_name(&w).to_owned());
        }
    }
    AptIntent {
        tool,
        verb,
        changes,
        purge,
        remove,
        install,
        pending: false,
        options,
        args: Vec::new(),
        text,
    }
}

/// dpkg's long options that take a value (as `--opt=V` or `--opt V`).
const DPKG_LONG_WITH_VALUE: &[&str] = &[
    "admindir",
    "root",
    "instdir",
    "status-fd",
    "status-logger",
    "log",
    "path-include",
    "path-exclude",
    "pre-invoke",
    "post-invoke",
    "abort-after",
    "ignore-depends",
    "debug",
    "verify-format",
    "command-fd",
];

fn parse_dpkg(args: &[OsString], text: String) -> AptIntent {
    let mut action: Option<String> = None;
    let mut simulate = false;
    let mut pending = false;
    let mut words = Vec::new();
    let mut only_words = false;
    let mut i = 0;
    while i < args.len() {
        let a = s(&args[i]);
        i += 1;
        if only_words || !a.starts_with('-') || a == "-" {
            words.push(a);
            continue;
        }
        if a == "--" {
            only_words = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, has_inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            if DPKG_LONG_WITH_VALUE.contains(&name) {
                if !has_inline {
                    i += 1;
                }
                if name == "command-fd" {
                    // Commands come from a file descriptor: nothing is known here.
                    action = Some("command-fd".into());
                }
                continue;
            }
            match name {
                "no-act" | "dry-run" | "simulate" => simulate = true,
                "pending" => pending = true,
                "install" | "unpack" | "configure" | "triggers-only" | "remove" | "purge" => {
                    action = Some(name.to_owned());
                }
                // Options (--force-…, --no-triggers, --recursive…) and query actions.
                _ => {}
            }
            continue;
        }
        for c in a[1..].chars() {
            match c {
                'r' => action = Some("remove".into()),
                'P' => action = Some("purge".into()),
                'i' => action = Some("install".into()),
                'a' => pending = true,
                'D' => break, // -Dlevel: the rest is its value
                'R' | 'B' | 'G' | 'E' | 'O' => {}
                // Query actions: -l -L -s -S -p -c -I -x -X -b -f -e -V -C -h
                other => {
                    if action.is_none() {
                        action = Some(format!("-{other}"));
                    }
                }
            }
        }
    }
    let (changes, purge) = match action.as_deref() {
        Some("remove") => (true, false),
        Some("purge") => (true, true),
        Some("install" | "unpack" | "configure" | "triggers-only" | "command-fd") => (true, false),
        _ => (false, false),
    };
    let removing = matches!(action.as_deref(), Some("remove" | "purge"));
    let (remove, install) = if removing {
        (
            words.iter().map(|w| package_name(w).to_owned()).collect(),
            Vec::new(),
        )
    } else if changes {
        (Vec::new(), words)
    } else {
        (Vec::new(), Vec::new())
    };
    AptIntent {
        tool: Tool::Dpkg,
        verb: action,
        changes: changes && !simulate,
        purge,
        remove,
        install,
        pending: pending && removing,
        options: Vec::new(),
        args: Vec::new(),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(tool: Tool, line: &str) -> AptIntent {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        parse(tool, &args)
    }

    #[test]
    fn apt_get_remove_names_what_was_asked() {
        let i = p(Tool::AptGet, "-y remove postgresql-client-15:amd64 foo=1.0");
        assert!(i.changes && !i.purge);
        assert_eq!(i.verb.as_deref(), Some("remove"));
        assert_eq!(i.remove, ["postgresql-client-15", "foo"]);
    }

    #[test]
    fn purge_in_every_spelling() {
        for line in [
            "purge x",
            "remove --purge x",
            "remove x --purge",
            "-o APT::Get::Purge=true remove x",
            "-oAPT::Get::Purge=1 remove x",
            "--option=APT::Get::Purge=yes remove x",
            "autopurge",
        ] {
            assert!(p(Tool::AptGet, line).purge, "{line}");
        }
        assert!(!p(Tool::AptGet, "remove --purge --no-purge x").purge);
    }

    #[test]
    fn simulations_and_queries_change_nothing() {
        for line in [
            "-s remove x",
            "remove -sy x",
            "--dry-run purge x",
            "-o APT::Get::Simulate=true remove x",
            "update",
            "show x",
            "policy x",
            "list --installed",
        ] {
            assert!(!p(Tool::AptGet, line).changes, "{line}");
        }
        assert!(p(Tool::Apt, "full-upgrade").changes);
        assert!(p(Tool::Aptitude, "").changes);
    }

    #[test]
    fn install_with_minus_removes_and_remove_with_plus_installs() {
        let i = p(Tool::AptGet, "install a b- ./c_1_all.deb");
        assert_eq!(i.install, ["a", "./c_1_all.deb"]);
        assert_eq!(i.remove, ["b"]);
        let i = p(Tool::AptGet, "remove a b+");
        assert_eq!(i.remove, ["a"]);
        assert_eq!(i.install, ["b"]);
    }

    #[test]
    fn option_values_are_not_verbs() {
        let i = p(
            Tool::AptGet,
            "-c /tmp/apt.conf -t bookworm -o Debug::X=1 remove x",
        );
        assert_eq!(i.verb.as_deref(), Some("remove"));
        assert_eq!(i.remove, ["x"]);
        assert_eq!(i.options, [("Debug::X".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn dpkg_actions() {
        let i = p(Tool::Dpkg, "-P gftest-server:amd64");
        assert!(i.changes && i.purge);
        assert_eq!(i.remove, ["gftest-server"]);
        let i = p(Tool::Dpkg, "--force-depends --remove a b");
        assert!(i.changes && !i.purge);
        assert_eq!(i.remove, ["a", "b"]);
        let i = p(Tool::Dpkg, "--status-fd 43 --no-triggers --purge a");
        assert!(i.purge);
        assert_eq!(i.remove, ["a"]);
        let i = p(Tool::Dpkg, "-r -a");
        assert!(i.pending && i.remove.is_empty());
        for line in [
            "-l",
            "-L x",
            "--get-selections",
            "-s x",
            "--no-act -r x",
            "-S /bin/ls",
        ] {
            assert!(!p(Tool::Dpkg, line).changes, "{line}");
        }
        assert!(p(Tool::Dpkg, "-i x.deb").changes);
    }
}
