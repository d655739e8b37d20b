//! Pathname expansion on bytes, as bash does it by default (`rm -f /tmp/junk/*`).
//!
//! Reads directories and `lstat`s names, nothing else: it never opens a file and never writes.
//! Names stay bytes from end to end, so one that is not UTF-8, holds a newline or starts with `-`
//! is matched and returned unchanged; nothing a directory holds may make it panic.
//!
//! The semantics are bash 5.2's with `LC_ALL=C` and no `shopt` changed (no dotglob, nullglob,
//! failglob, extglob or globstar):
//! - the pattern is split at every `/`, so a wildcard or a bracket never matches a `/`;
//! - a component with no live glob character is joined without reading its directory; after a
//!   wildcard component it must exist (`lstat`, as bash checks), a trailing `/` keeps directories;
//! - `*`, `?` and brackets (`[abc]`, `[a-z]`, `[!x]`, `[^x]`, `[[:alpha:]]`, `[=c=]`, `[.c.]`)
//!   match bytes: in a UTF-8 locale bash's `?` matches a whole multibyte character, here one byte;
//! - a name starting with `.` needs a literal leading `.` in its component; `.` and `..` are
//!   never read from a directory, so no wildcard matches them (bash 5.2's globskipdots);
//! - the matches are sorted in byte order (bash sorts by the locale's collation; under `LC_ALL=C`
//!   that is byte order); when nothing matches, the word itself.
//!
//! Quoting is known only for `*`, `?` and `[` (the lexer's per-byte flag): inside a bracket a
//! quoted `]`, `-` or `!` is read as bracket syntax, where bash would take it literally.
//!
//! The matching is done here rather than with globset: globset's patterns are Unicode strings
//! whose brackets hold characters, while bash under `LC_ALL=C` matches bytes (a non-UTF-8 byte
//! can be in the pattern too), and its bracket rules differ (a reversed range is an error there,
//! no `[=c=]`, `{a,b}` and `**` mean something else). Translating one into the other would be
//! more code than the byte matcher below, and a second matcher would still be needed for
//! patterns that are not UTF-8.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Arg, display_bytes};

/// Directory entries one expansion may read: `*/*/*/*/*` over a tree of links back to their
/// parent multiplies at every level.
const ENTRY_LIMIT: usize = 100_000;

/// Expands `word`, whose bytes flagged in `live` are unquoted glob characters, against the
/// filesystem, relative patterns against `cwd`.
pub fn expand(word: &[u8], live: &[bool], cwd: Option<&Path>) -> Vec<Arg> {
    let literal = || vec![Arg::Known(OsStr::from_bytes(word).to_owned())];
    let mut comps = Vec::new();
    let mut start = 0;
    for piece in word.split(|&b| b == b'/') {
        let end = start + piece.len();
        comps.push((
            start,
            Pattern::compile(piece, live.get(start..end).unwrap_or(&[])),
        ));
        start = end + 1;
    }
    let Some(first) = comps.iter().position(|(_, p)| p.is_some()) else {
        return literal();
    };
    let base = if word.starts_with(b"/") {
        Path::new("/")
    } else {
        match cwd {
            Some(c) => c,
            None => {
                return vec![Arg::Unknown(format!(
                    "glob {} in an unknown directory",
                    display_bytes(word)
                ))];
            }
        }
    };
    let prefix = word[..comps[first].0.saturating_sub(1)].to_vec();
    let mut found = vec![prefix];
    let mut budget = ENTRY_LIMIT;
    for (i, (at, pattern)) in comps.iter().enumerate().skip(first) {
        let name = word[*at..].split(|&b| b == b'/').next().unwrap_or(b"");
        // From the first wildcard on, bash joins with one `/` whatever the run typed (`a*//b`
        // gives `a1/b`); before it the word's own slashes stay.
        if pattern.is_none() && name.is_empty() && i + 1 < comps.len() {
            continue;
        }
        let mut next = Vec::new();
        for path in &found {
            let mut dir = path.clone();
            if i > 0 {
                dir.push(b'/');
            }
            let Some(pattern) = pattern else {
                dir.extend_from_slice(name);
                if std::fs::symlink_metadata(on_disk(base, &dir)).is_ok() {
                    next.push(dir);
                }
                continue;
            };
            // Unreadable or not a directory: no matches there, as in bash.
            let Ok(entries) = std::fs::read_dir(on_disk(base, &dir)) else {
                continue;
            };
            for entry in entries {
                if budget == 0 {
                    return vec![Arg::Unknown(format!(
                        "glob {} too large to expand",
                        display_bytes(word)
                    ))];
                }
                budget -= 1;
                let Ok(entry) = entry else { continue };
                let name = entry.file_name();
                if pattern.matches(name.as_bytes()) {
                    let mut p = dir.clone();
                    p.extend_from_slice(name.as_bytes());
                    next.push(p);
                }
            }
        }
        found = next;
        if found.is_empty() {
            return literal();
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|p| Arg::Known(OsStr::from_bytes(&p).to_owned()))
        .collect()
}

/// Where `path` (as the pattern spells it, relative or absolute) is on disk.
fn on_disk(base: &Path, path: &[u8]) -> PathBuf {
    // Joining an absolute path replaces the base; a trailing `/` is kept, so `lstat` of `d/`
    // follows a link and requires a directory, as bash's test for a trailing slash does.
    base.join(OsStr::from_bytes(path))
}

/// A set of bytes, for one bracket expression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    fn insert_where(&mut self, test: impl Fn(u8) -> bool) {
        for b in (0..=u8::MAX).filter(|&b| test(b)) {
            self.insert(b);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Any,
    Star,
    Set(ByteSet),
}

/// One component of a pattern, compiled.
#[derive(Debug)]
struct Pattern {
    tokens: Vec<Token>,
    /// Starts with a literal `.`: may match hidden names.
    dot: bool,
    /// Bytes a name needs at least (every token but `*` takes one).
    min_len: usize,
}

impl Pattern {
    /// None when the component holds no wildcard (an unclosed `[` is a literal `[`).
    fn compile(bytes: &[u8], live: &[bool]) -> Option<Pattern> {
        let mut tokens = Vec::new();
        let mut wild = false;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            let token = match b {
                _ if !live.get(i - 1).copied().unwrap_or(false) => Token::Byte(b),
                b'*' if tokens.last() == Some(&Token::Star) => continue,
                b'*' => Token::Star,
                b'?' => Token::Any,
                b'[' => match bracket(bytes, i) {
                    Some((set, end)) => {
                        i = end;
                        Token::Set(set)
                    }
                    None => Token::Byte(b),
                },
                _ => Token::Byte(b),
            };
            wild |= !matches!(token, Token::Byte(_));
            tokens.push(token);
        }
        wild.then(|| Pattern {
            dot: tokens.first() == Some(&Token::Byte(b'.')),
            min_len: tokens.iter().filter(|t| **t != Token::Star).count(),
            tokens,
        })
    }

    fn matches(&self, name: &[u8]) -> bool {
        if name.len() < self.min_len || (name.first() == Some(&b'.') && !self.dot) {
            return false;
        }
        // Backtracking to the last `*` only is enough: a later `*` can absorb whatever an
        // earlier one would have, so the match is linear in the pattern times the name.
        let (mut t, mut n) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some(&c) = name.get(n) {
            match self.tokens.get(t) {
                Some(Token::Star) => {
                    star = Some((t, n));
                    t += 1;
                    continue;
                }
                Some(Token::Any) => {}
                Some(Token::Byte(b)) if *b == c => {}
                Some(Token::Set(s)) if s.contains(c) => {}
                _ => match star {
                    Some((st, sn)) => {
                        star = Some((st, sn + 1));
                        (t, n) = (st + 1, sn + 1);
                        continue;
                    }
                    None => return false,
                },
            }
            t += 1;
            n += 1;
        }
        self.tokens[t..].iter().all(|t| *t == Token::Star)
    }
}

/// The bracket expression whose `[` is just before `p[start]`, and the index after its `]`;
/// None when it does not close (the `[` is then a literal). Follows bash's `brackmatch`.
fn bracket(p: &[u8], start: usize) -> Option<(ByteSet, usize)> {
    let mut i = start;
    let negated = matches!(p.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut set = ByteSet::default();
    let mut first = true;
    loop {
        let c = *p.get(i)?;
        if c == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        // `[=c=]` and `[:class:]` cannot start a range; an unknown class matches nothing.
        if c == b'['
            && let Some(kind @ (b'=' | b':')) = p.get(i + 1).copied()
            && let Some(close) = sub_bracket(p, i + 1)
        {
            let name = &p[i + 2..close];
            match (kind, name) {
                (b'=', [one]) => set.insert(*one),
                (b':', _) => add_class(name, &mut set),
                _ => {}
            }
            i = close + 2;
            continue;
        }
        let (lo, after) = element(p, i);
        match (p.get(after), p.get(after + 1)) {
            (Some(b'-'), Some(&e)) if e != b']' => {
                let (hi, end) = element(p, after + 1);
                // A reversed range matches nothing; the rest of the bracket still counts.
                if let (Some(lo), Some(hi)) = (lo, hi)
                    && lo <= hi
                {
                    set.insert_where(|b| (lo..=hi).contains(&b));
                }
                i = end;
            }
            _ => {
                if let Some(lo) = lo {
                    set.insert(lo);
                }
                i = after;
            }
        }
    }
    if negated {
        for w in &mut set.0 {
            *w = !*w;
        }
    }
    Some((set, i))
}

/// One bracket element at `p[i]`: a byte or a collating symbol `[.c.]` (one byte; a named one
/// such as `[.hyphen.]` is not known and matches nothing). Returns it and the index after it.
fn element(p: &[u8], i: usize) -> (Option<u8>, usize) {
    if p.get(i) == Some(&b'[')
        && p.get(i + 1) == Some(&b'.')
        && let Some(close) = sub_bracket(p, i + 1)
    {
        let sym = match &p[i + 2..close] {
            [one] => Some(*one),
            _ => None,
        };
        return (sym, close + 2);
    }
    (p.get(i).copied(), i + 1)
}

/// The index of the `.`, `=` or `:` that closes the `[.`, `[=` or `[:` whose kind is at
/// `p[at]`. A `]` ends the search except in a collating symbol.
fn sub_bracket(p: &[u8], at: usize) -> Option<usize> {
    let kind = *p.get(at)?;
    let mut k = at + 1;
    while let Some(&c) = p.get(k) {
        if c == kind && p.get(k + 1) == Some(&b']') {
            return Some(k);
        }
        if c == b']' && kind != b'.' {
            return None;
        }
        k += 1;
    }
    None
}

/// The C locale's character classes.
fn add_class(name: &[u8], set: &mut ByteSet) {
    let test: fn(u8) -> bool = match name {
        b"alnum" => |b| b.is_ascii_alphanumeric(),
        b"alpha" => |b| b.is_ascii_alphabetic(),
        b"ascii" => |b| b.is_ascii(),
        b"blank" => |b| b == b' ' || b == b'\t',
        b"cntrl" => |b| b.is_ascii_control(),
        b"digit" => |b| b.is_ascii_digit(),
        b"graph" => |b| b.is_ascii_graphic(),
        b"lower" => |b| b.is_ascii_lowercase(),
        b"print" => |b| b.is_ascii_graphic() || b == b' ',
        b"punct" => |b| b.is_ascii_punctuation(),
        // C's isspace includes the vertical tab, which u8::is_ascii_whitespace leaves out.
        b"space" => |b| b.is_ascii_whitespace() || b == 0x0b,
        b"upper" => |b| b.is_ascii_uppercase(),
        b"word" => |b| b.is_ascii_alphanumeric() || b == b'_',
        b"xdigit" => |b| b.is_ascii_hexdigit(),
        _ => return,
    };
    set.insert_where(test);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;
    use std::os::unix::fs::symlink;

    /// Every `*`, `?` and `[` of `pattern` live, as if typed unquoted.
    fn unquoted(pattern: &[u8]) -> Vec<bool> {
        pattern.iter().map(|b| b"*?[".contains(b)).collect()
    }

    fn names(args: Vec<Arg>) -> Vec<Vec<u8>> {
        args.into_iter()
            .map(|a| match a {
                Arg::Known(s) => s.into_vec(),
                Arg::Unknown(why) => format!("<{why}>").into_bytes(),
            })
            .collect()
    }

    fn glob_in(dir: &Path, pattern: &[u8]) -> Vec<Vec<u8>> {
        names(expand(pattern, &unquoted(pattern), Some(dir)))
    }

    fn tree(files: &[&[u8]]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(OsStr::from_bytes(f));
            if f.ends_with(b"/") {
                std::fs::create_dir_all(p).unwrap();
            } else {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, "").unwrap();
            }
        }
        dir
    }

    fn list(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|i| i.to_vec()).collect()
    }

    #[test]
    fn star_sorts_in_byte_order_and_skips_hidden_names() {
        let t = tree(&[b"b", b"a", b"B", b".hidden", b"a-b/", b"-rf"]);
        assert_eq!(
            glob_in(t.path(), b"*"),
            list(&[b"-rf", b"B", b"a", b"a-b", b"b"])
        );
    }

    #[test]
    fn a_literal_leading_dot_matches_hidden_names_but_never_dot_or_dotdot() {
        let t = tree(&[b".h", b".i/", b"x"]);
        assert_eq!(glob_in(t.path(), b".*"), list(&[b".h", b".i"]));
        assert_eq!(glob_in(t.path(), b"?h"), list(&[b"?h"]));
        assert_eq!(glob_in(t.path(), b"[.]h"), list(&[b"[.]h"]));
        assert_eq!(glob_in(t.path(), b".[.]"), list(&[b".[.]"]));
    }

    #[test]
    fn no_match_gives_the_word_unchanged() {
        let t = tree(&[b"a"]);
        assert_eq!(glob_in(t.path(), b"zz*\xff"), list(&[b"zz*\xff"]));
        assert_eq!(glob_in(t.path(), b"nodir/*"), list(&[b"nodir/*"]));
    }

    #[test]
    fn quoted_glob_characters_are_literal() {
        let t = tree(&[b"*", b"ab"]);
        assert_eq!(names(expand(b"*", &[false], Some(t.path()))), list(&[b"*"]));
        assert_eq!(
            names(expand(b"a*", &[false, false], Some(t.path()))),
            list(&[b"a*"])
        );
    }

    #[test]
    fn a_relative_pattern_in_an_unknown_directory_is_unknown() {
        let out = expand(b"a*", &unquoted(b"a*"), None);
        assert!(matches!(&out[..], [Arg::Unknown(w)] if w.contains("unknown directory")));
        // Not a pattern at all (an unclosed bracket): the word, wherever it is.
        assert_eq!(names(expand(b"[a", &unquoted(b"[a"), None)), list(&[b"[a"]));
    }

    #[test]
    fn absolute_patterns_give_absolute_paths_and_relative_ones_relative_paths() {
        let t = tree(&[b"d/x1", b"d/x2"]);
        let abs = t.path().join("d/x?").into_os_string().into_vec();
        let got = glob_in(Path::new("/nonexistent"), &abs);
        let want: Vec<Vec<u8>> = ["d/x1", "d/x2"]
            .iter()
            .map(|n| t.path().join(n).into_os_string().into_vec())
            .collect();
        assert_eq!(got, want);
        assert_eq!(glob_in(t.path(), b"d/x*"), list(&[b"d/x1", b"d/x2"]));
        assert_eq!(glob_in(t.path(), b".//d/x1*"), list(&[b".//d/x1"]));
        assert_eq!(glob_in(t.path(), b"d*//x1"), list(&[b"d/x1"]));
    }

    #[test]
    fn brackets_follow_bash() {
        let t = tree(&[b"a", b"b", b"c", b"-", b"]", b"!", b"^", b"[", b"_"]);
        let g = |p: &[u8]| glob_in(t.path(), p);
        assert_eq!(g(b"[abc]"), list(&[b"a", b"b", b"c"]));
        assert_eq!(g(b"[a-b]"), list(&[b"a", b"b"]));
        assert_eq!(
            g(b"[!a-b]"),
            list(&[b"!", b"-", b"[", b"]", b"^", b"_", b"c"])
        );
        assert_eq!(g(b"[^a-b]"), g(b"[!a-b]"));
        assert_eq!(g(b"[]a]"), list(&[b"]", b"a"]));
        assert_eq!(g(b"[a-]"), list(&[b"-", b"a"]));
        assert_eq!(g(b"[c-a]"), list(&[b"[c-a]"]));
        assert_eq!(g(b"[c-ab]"), list(&[b"b"]));
        assert_eq!(g(b"[[]"), list(&[b"["]));
        assert_eq!(g(b"[!]"), list(&[b"[!]"]));
        assert_eq!(
            g(b"[[:punct:]]"),
            list(&[b"!", b"-", b"[", b"]", b"^", b"_"])
        );
        assert_eq!(g(b"[[:nope:]a]"), list(&[b"a"]));
        assert_eq!(g(b"[[=b=][.c.]]"), list(&[b"b", b"c"]));
    }

    #[test]
    fn non_utf8_newline_and_dash_names_round_trip() {
        let t = tree(&[b"caf\xe9", b"caf\xc3\xa9", b"new\nline", b"-f", b"\xff\xfe"]);
        assert_eq!(glob_in(t.path(), b"caf?"), list(&[b"caf\xe9"]));
        assert_eq!(glob_in(t.path(), b"caf??"), list(&[b"caf\xc3\xa9"]));
        assert_eq!(glob_in(t.path(), b"\xff*"), list(&[b"\xff\xfe"]));
        assert_eq!(glob_in(t.path(), b"[\xfe-\xff]?"), list(&[b"\xff\xfe"]));
        assert_eq!(glob_in(t.path(), b"new?l*"), list(&[b"new\nline"]));
        assert_eq!(glob_in(t.path(), b"-*"), list(&[b"-f"]));
    }

    #[test]
    fn literal_components_must_exist_after_a_wildcard_and_a_trailing_slash_keeps_dirs() {
        let t = tree(&[b"d1/keep", b"d2/", b"f"]);
        symlink("d1", t.path().join("l1")).unwrap();
        symlink("nowhere", t.path().join("dangling")).unwrap();
        assert_eq!(
            glob_in(t.path(), b"*/keep"),
            list(&[b"d1/keep", b"l1/keep"])
        );
        assert_eq!(glob_in(t.path(), b"*/"), list(&[b"d1/", b"d2/", b"l1/"]));
        assert_eq!(glob_in(t.path(), b"d*"), list(&[b"d1", b"d2", b"dangling"]));
        // A non-UTF-8 literal directory before the wildcard is joined, not matched.
        let t = tree(&[b"\xff/x"]);
        assert_eq!(glob_in(t.path(), b"\xff/*"), list(&[b"\xff/x"]));
    }

    #[test]
    fn a_file_where_a_directory_is_needed_matches_nothing() {
        let t = tree(&[b"f", b"d/x"]);
        assert_eq!(glob_in(t.path(), b"*/x"), list(&[b"d/x"]));
        assert_eq!(glob_in(t.path(), b"f/*"), list(&[b"f/*"]));
    }

    #[test]
    fn a_symlink_loop_terminates_and_a_huge_expansion_is_unknown() {
        let t = tree(&[b"x"]);
        symlink(".", t.path().join("loop")).unwrap();
        assert_eq!(
            glob_in(t.path(), b"loop/*/*"),
            list(&[b"loop/loop/loop", b"loop/loop/x"])
        );
        // Ten links to `.` at every level: the fifth reads 10^5 entries.
        for i in 0..9 {
            symlink(".", t.path().join(format!("l{i}"))).unwrap();
        }
        let out = expand(b"*/*/*/*/*/*", &unquoted(b"*/*/*/*/*/*"), Some(t.path()));
        assert!(matches!(&out[..], [Arg::Unknown(w)] if w.ends_with("too large to expand")));
    }

    #[test]
    fn a_pattern_longer_than_any_name_reads_the_directory_once_and_matches_nothing() {
        let t = tree(&[b"a"]);
        let long = [b"*a".repeat(300), b"*".to_vec()].concat();
        assert_eq!(glob_in(t.path(), &long), vec![long.clone()]);
    }

    /// The differential test: every pattern, written as shell source, expanded by bash (C
    /// locale, so its order is byte order) and by gardefou's lexer and this module, in a tree
    /// of hostile names.
    #[test]
    fn expansion_matches_bash_over_hostile_names() {
        use crate::intent::lex::{self, Token};
        use crate::intent::line::{Shell, expand_word};
        use std::process::Command;

        let t = tree(&[
            b"ab",
            b"a-b/y",
            b"a/x",
            b"a/.hx",
            b"b",
            b"B",
            b".h",
            b".hd/z",
            b"-f",
            b"-rf",
            b"[x",
            b"z]",
            b"]",
            b"!",
            b"*",
            b"?",
            b"new\nline",
            b"sp ace",
            b"back\\slash",
            b"{br,ace}",
            b"\xff\xfe",
            b"caf\xe9",
            b"caf\xc3\xa9",
            b"d/sub/deep",
            b"d/.x",
            b"d/1",
            b"d/2",
        ]);
        std::fs::write(t.path().join(OsStr::from_bytes(&[b'n'; 255])), "").unwrap();
        symlink(".", t.path().join("loop")).unwrap();
        symlink("nowhere", t.path().join("dangling")).unwrap();
        symlink("d", t.path().join("ld")).unwrap();
        let patterns: &[&[u8]] = &[
            b"*",
            b".*",
            b"?",
            b"??",
            b"a*",
            b"*/*",
            b"*/",
            b"*/.*",
            b"d/*/*",
            b"loop/*/x",
            b"loop/loop/a*",
            b"l*/1",
            b"*/nope",
            b"[ab]*",
            b"[a-c]",
            b"[!a-z]*",
            b"[^-]*",
            b"[]z]*",
            b"[[]*",
            b"[z-a]*",
            b"[*",
            b"[!]",
            b"[[:upper:]]",
            b"[[:punct:]]*",
            b"[[:nope:]a]",
            b"[[=b=]]",
            b"[[.hyphen.]]",
            b"[[:]",
            b"[a-]]*",
            b"*[!]]",
            b"[[:alpha:]-z]*",
            b"a*//y",
            b"d//s*//deep",
            b"*///",
            b"loop/*/*/",
            b"?/",
            b"[.]*",
            b"\\\\**",
            b"*\\\\*",
            b"{*",
            b"*'*'*",
            b"\"?\"",
            b"-*",
            b"new?line",
            b"sp*",
            b"caf?",
            b"caf??",
            b"$'\\xff'*",
            b"*\xfe",
            b"[\xfe-\xff]*",
            b"n*n",
            b"./d//?",
            b"d/[!.]*",
            b"dang*",
            b"nomatch*",
        ];
        let mut shell = Shell::default();
        shell.cwd = Some(t.path().to_path_buf());
        for pattern in patterns {
            let mut script = b"printf '%s\\0' ".to_vec();
            script.extend_from_slice(pattern);
            let out = Command::new("bash")
                .arg("-c")
                .arg(OsStr::from_bytes(&script))
                .current_dir(t.path())
                .env("LC_ALL", "C")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "bash failed on {:?}",
                display_bytes(pattern)
            );
            let mut want: Vec<Vec<u8>> =
                out.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
            want.pop();
            let tokens = lex::lex(pattern).unwrap();
            let [Token::Word(w)] = &tokens[..] else {
                panic!("{:?} is not one word", display_bytes(pattern));
            };
            let got = names(expand_word(&shell, w, &mut Vec::new()));
            assert_eq!(
                got.iter().map(|g| display_bytes(g)).collect::<Vec<_>>(),
                want.iter().map(|g| display_bytes(g)).collect::<Vec<_>>(),
                "pattern {:?}",
                display_bytes(pattern)
            );
        }
    }
}
