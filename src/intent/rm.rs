//! GNU `rm` command-line parsing, pure: options exactly as coreutils' getopt_long sees them
//! (bundled short flags, unique-prefix long options, permutation, `--`, `-` as an operand).
//!
//! Operands stay `OsString`: a file name is bytes, and a lossy conversion could name another file.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interactive {
    #[default]
    Default,
    Never,
    Once,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreserveRoot {
    #[default]
    Yes,
    All,
    No,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RmOptions {
    pub recursive: bool,
    pub force: bool,
    pub dir: bool,
    pub interactive: Interactive,
    pub one_file_system: bool,
    pub preserve_root: PreserveRoot,
    pub verbose: bool,
    /// `--help` or `--version`: rm prints and deletes nothing.
    pub info_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmCommand {
    pub options: RmOptions,
    pub operands: Vec<OsString>,
    /// Where each operand is in the arguments.
    pub operand_index: Vec<usize>,
}

impl RmCommand {
    /// The same command without the operands at the given positions of `operands`: options
    /// first, then `--`, then the remaining operands (what GNU rm's option permutation makes of
    /// any order), so that no remaining operand can be read as an option.
    pub fn without_operands(&self, args: &[OsString], drop: &[usize]) -> Vec<OsString> {
        let mut out: Vec<OsString> = args
            .iter()
            .enumerate()
            .filter(|(i, a)| !self.operand_index.contains(i) && a.as_bytes() != b"--")
            .map(|(_, a)| a.clone())
            .collect();
        out.push("--".into());
        out.extend(
            self.operands
                .iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, o)| o.clone()),
        );
        out
    }
}

const LONG: &[&str] = &[
    "dir",
    "force",
    "interactive",
    "one-file-system",
    "no-preserve-root",
    "preserve-root",
    "-presume-input-tty",
    "recursive",
    "verbose",
    "help",
    "version",
];

fn usage(msg: String) -> Error {
    Error::RmUsage(msg)
}

/// Parses rm's arguments (without argv[0]). `posixly_correct` stops option parsing at the first
/// operand, as GNU getopt does when `POSIXLY_CORRECT` is set.
pub fn parse(args: &[OsString], posixly_correct: bool) -> Result<RmCommand, Error> {
    let mut o = RmOptions::default();
    let mut operands = Vec::new();
    let mut operand_index = Vec::new();
    let mut only_operands = false;
    for (index, arg) in args.iter().enumerate() {
        let bytes = arg.as_bytes();
        if only_operands || bytes.len() < 2 || bytes[0] != b'-' {
            operands.push(arg.clone());
            operand_index.push(index);
            if posixly_correct {
                only_operands = true;
            }
            continue;
        }
        if bytes == b"--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            long_option(&mut o, long)?;
            continue;
        }
        for &c in &bytes[1..] {
            match c {
                b'd' => o.dir = true,
                b'f' => {
                    o.force = true;
                    o.interactive = Interactive::Never;
                }
                b'i' => {
                    o.force = false;
                    o.interactive = Interactive::Always;
                }
                b'I' => {
                    o.force = false;
                    o.interactive = Interactive::Once;
                }
                b'r' | b'R' => o.recursive = true,
                b'v' => o.verbose = true,
                _ => {
                    return Err(usage(format!(
                        "invalid option -- '{}'",
                        OsStr::from_bytes(&[c]).to_string_lossy()
                    )));
                }
            }
        }
    }
    Ok(RmCommand {
        options: o,
        operands,
        operand_index,
    })
}

fn long_option(o: &mut RmOptions, long: &[u8]) -> Result<(), Error> {
    let (name, value) = match long.iter().position(|&b| b == b'=') {
        Some(i) => (&long[..i], Some(&long[i + 1..])),
        None => (long, None),
    };
    let shown = String::from_utf8_lossy(name).into_owned();
    let exact = LONG.iter().find(|l| l.as_bytes() == name);
    let candidates: Vec<&str> = match exact {
        Some(l) => vec![*l],
        None => LONG
            .iter()
            .filter(|l| l.as_bytes().starts_with(name))
            .copied()
            .collect(),
    };
    let full = match candidates.as_slice() {
        [one] => *one,
        [] => return Err(usage(format!("unrecognized option '--{shown}'"))),
        _ => return Err(usage(format!("option '--{shown}' is ambiguous"))),
    };
    let no_arg = |o: &mut RmOptions, f: fn(&mut RmOptions)| {
        if value.is_some() {
            return Err(usage(format!(
                "option '--{full}' doesn't allow an argument"
            )));
        }
        f(o);
        Ok(())
    };
    match full {
        "dir" => no_arg(o, |o| o.dir = true),
        "force" => no_arg(o, |o| {
            o.force = true;
            o.interactive = Interactive::Never;
        }),
        "recursive" => no_arg(o, |o| o.recursive = true),
        "verbose" => no_arg(o, |o| o.verbose = true),
        "one-file-system" => no_arg(o, |o| o.one_file_system = true),
        "-presume-input-tty" => no_arg(o, |_| {}),
        "help" | "version" => no_arg(o, |o| o.info_only = true),
        "no-preserve-root" => {
            if name != b"no-preserve-root" {
                return Err(usage(
                    "you may not abbreviate the --no-preserve-root option".to_owned(),
                ));
            }
            no_arg(o, |o| o.preserve_root = PreserveRoot::No)
        }
        "preserve-root" => {
            o.preserve_root = match value {
                None => PreserveRoot::Yes,
                Some(b"all") => PreserveRoot::All,
                Some(v) => {
                    return Err(usage(format!(
                        "unrecognized --preserve-root argument: '{}'",
                        String::from_utf8_lossy(v)
                    )));
                }
            };
            Ok(())
        }
        "interactive" => {
            let when = value.map(|v| String::from_utf8_lossy(v).into_owned());
            o.interactive = match when.as_deref() {
                None => Interactive::Always,
                Some(w) => match_when(w)?,
            };
            if o.interactive != Interactive::Never {
                o.force = false;
            }
            Ok(())
        }
        _ => unreachable!("every LONG entry is matched above"),
    }
}

/// `--interactive=WHEN`, with argmatch's unique-prefix rule.
fn match_when(w: &str) -> Result<Interactive, Error> {
    const WHENS: &[(&str, Interactive)] = &[
        ("never", Interactive::Never),
        ("no", Interactive::Never),
        ("none", Interactive::Never),
        ("once", Interactive::Once),
        ("always", Interactive::Always),
        ("yes", Interactive::Always),
    ];
    if let Some((_, i)) = WHENS.iter().find(|(n, _)| *n == w) {
        return Ok(*i);
    }
    let hits: Vec<Interactive> = WHENS
        .iter()
        .filter(|(n, _)| !w.is_empty() && n.starts_with(w))
        .map(|(_, i)| *i)
        .collect();
    match hits.as_slice() {
        [first, rest @ ..] if rest.iter().all(|i| i == first) => Ok(*first),
        [] => Err(usage(format!("invalid argument '{w}' for '--interactive'"))),
        _ => Err(usage(format!(
            "ambiguous argument '{w}' for '--interactive'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<RmCommand, Error> {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&v, false)
    }

    #[test]
    fn bundled_short_flags_and_permuted_operands() {
        let c = p(&["a", "-rf", "b", "-v"]).unwrap();
        assert!(c.options.recursive && c.options.force && c.options.verbose);
        assert_eq!(c.operands, vec![OsString::from("a"), OsString::from("b")]);
    }

    #[test]
    fn double_dash_and_single_dash_are_operands() {
        let c = p(&["-r", "--", "-f", "-"]).unwrap();
        assert!(!c.options.force);
        assert_eq!(c.operands, vec![OsString::from("-f"), OsString::from("-")]);
        let c = p(&["-"]).unwrap();
        assert_eq!(c.operands, vec![OsString::from("-")]);
    }

    #[test]
    fn dropping_operands_keeps_options_and_protects_dash_names() {
        let args: Vec<OsString> = ["a", "-rf", "--", "-v", "b"]
            .iter()
            .map(OsString::from)
            .collect();
        let c = parse(&args, false).unwrap();
        assert_eq!(c.operand_index, vec![0, 3, 4]);
        let kept = c.without_operands(&args, &[0]);
        assert_eq!(kept, ["-rf", "--", "-v", "b"].map(OsString::from).to_vec());
        let kept = parse(&kept, false).unwrap();
        assert!(kept.options.recursive && kept.options.force && !kept.options.verbose);
        assert_eq!(kept.operands, ["-v", "b"].map(OsString::from).to_vec());
    }

    #[test]
    fn long_options_accept_unique_prefixes() {
        let c = p(&["--rec", "--forc", "--one", "--preserve-root=all", "x"]).unwrap();
        assert!(c.options.recursive && c.options.force && c.options.one_file_system);
        assert_eq!(c.options.preserve_root, PreserveRoot::All);
    }

    #[test]
    fn ambiguous_unknown_and_abbreviated_no_preserve_root_are_errors() {
        assert!(
            p(&["--v", "x"])
                .unwrap_err()
                .to_string()
                .contains("ambiguous")
        );
        assert!(
            p(&["--bogus"])
                .unwrap_err()
                .to_string()
                .contains("unrecognized option '--bogus'")
        );
        assert!(
            p(&["-rx"])
                .unwrap_err()
                .to_string()
                .contains("invalid option -- 'x'")
        );
        assert!(
            p(&["--no-preserve"])
                .unwrap_err()
                .to_string()
                .contains("may not abbreviate")
        );
        assert_eq!(
            p(&["--no-preserve-root", "/"])
                .unwrap()
                .options
                .preserve_root,
            PreserveRoot::No
        );
        assert!(
            p(&["--force=1"])
                .unwrap_err()
                .to_string()
                .contains("doesn't allow")
        );
    }

    #[test]
    fn last_of_force_and_interactive_wins() {
        assert_eq!(
            p(&["-fi", "x"]).unwrap().options.interactive,
            Interactive::Always
        );
        assert!(!p(&["-fi", "x"]).unwrap().options.force);
        assert!(p(&["-if", "x"]).unwrap().options.force);
        assert_eq!(
            p(&["--interactive=on", "x"]).unwrap().options.interactive,
            Interactive::Once
        );
        assert_eq!(
            p(&["--interactive=n", "x"]).unwrap().options.interactive,
            Interactive::Never
        );
        assert!(p(&["--interactive=bad", "x"]).is_err());
    }

    #[test]
    fn posixly_correct_stops_at_first_operand() {
        let v: Vec<OsString> = ["a", "-r"].iter().map(OsString::from).collect();
        let c = parse(&v, true).unwrap();
        assert!(!c.options.recursive);
        assert_eq!(c.operands.len(), 2);
    }

    #[test]
    fn non_utf8_operands_are_kept_byte_for_byte() {
        let name = OsString::from(OsStr::from_bytes(b"caf\xe9"));
        let c = parse(&[OsString::from("-f"), name.clone()], false).unwrap();
        assert_eq!(c.operands, vec![name]);
    }
}
