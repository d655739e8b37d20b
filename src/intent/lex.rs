//! A POSIX/bash shell lexer, pure: splits a line into words and operators, recording for every
//! byte whether it was quoted (a quoted `*` is not a glob) and which parts are expansions.
//!
//! It does not expand anything: `line` does that with the shell state it tracks.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes; `quoted` bytes are never globbed or split.
    Lit { bytes: Vec<u8>, quoted: bool },
    /// `$NAME` / `${NAME}`.
    Var { name: String, quoted: bool },
    /// `${NAME:-word}`, `${NAME-word}`: the default is literal text.
    VarDefault {
        name: String,
        default: Vec<u8>,
        colon: bool,
        quoted: bool,
    },
    /// `${NAME%pattern}`, `%%`, `#`, `##`, `/pat/rep`, `//`, `:+`, `+`, `:=`, `=`, and
    /// `${#NAME}` (op `len`): `arg` is the operator's literal text.
    VarOp {
        name: String,
        op: String,
        arg: Vec<u8>,
        quoted: bool,
    },
    /// A leading `~` or `~user`.
    Tilde(String),
    /// Known only at run time. `command` holds the text of a command substitution, which runs
    /// too and is checked as a line of its own.
    Unknown {
        what: String,
        command: Option<Vec<u8>>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<Part>,
}

impl Word {
    /// The word's text when it is a plain literal (quotes removed), e.g. to recognise `rm`.
    pub fn literal(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Lit { bytes, .. } => out.extend_from_slice(bytes),
                _ => return None,
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Semi,
    And,
    Or,
    Pipe,
    Background,
    Newline,
    Open,
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(Word),
    Op(Op),
    /// A redirection and its target word (`> f`, `2>&1`, `<<EOF`); a here-document's body.
    Redirect {
        op: String,
        target: Word,
        body: Option<Vec<u8>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("unterminated {0}")]
    Unterminated(&'static str),
    #[error("redirection `{0}` has no target")]
    MissingRedirectTarget(String),
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    heredocs: Vec<(Vec<u8>, bool)>,
    /// The bodies of the here-documents read so far, in order.
    bodies: Vec<Vec<u8>>,
}

fn is_meta(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>'
    )
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Splits `line` into tokens.
pub fn lex(line: &[u8]) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        s: line,
        i: 0,
        heredocs: Vec::new(),
        bodies: Vec::new(),
    };
    let mut out = Vec::new();
    while let Some(t) = lx.next_token()? {
        out.push(t);
    }
    // A here-document still open at the end of the line runs to the end (bash warns).
    lx.skip_heredoc_bodies();
    let mut bodies = lx.bodies.into_iter();
    for t in &mut out {
        if let Token::Redirect { op, body, .. } = t
            && (op == "<<" || op == "<<-")
        {
            *body = bodies.next();
        }
    }
    Ok(out)
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn starts(&self, p: &[u8]) -> bool {
        self.s[self.i..].starts_with(p)
    }

    fn next_token(&mut self) -> Result<Option<Token>, LexError> {
        loop {
            match self.peek(0) {
                Some(b' ' | b'\t') => self.i += 1,
                Some(b'\\') if self.peek(1) == Some(b'\n') => self.i += 2,
                Some(b'#') => {
                    while self.peek(0).is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
        let Some(c) = self.peek(0) else {
            return Ok(None);
        };
        let op = |lx: &mut Self, n: usize, op: Op| {
            lx.i += n;
            Ok(Some(Token::Op(op)))
        };
        match c {
            b'\n' => {
                self.i += 1;
                self.skip_heredoc_bodies();
                Ok(Some(Token::Op(Op::Newline)))
            }
            b';' if self.peek(1) == Some(b';') => op(self, 2, Op::Semi),
            b';' => op(self, 1, Op::Semi),
            b'&' if self.peek(1) == Some(b'&') => op(self, 2, Op::And),
            b'&' if self.peek(1) == Some(b'>') => self.redirect(),
            b'&' => op(self, 1, Op::Background),
            b'|' if self.peek(1) == Some(b'|') => op(self, 2, Op::Or),
            b'|' if self.peek(1) == Some(b'&') => op(self, 2, Op::Pipe),
            b'|' => op(self, 1, Op::Pipe),
            b'(' => op(self, 1, Op::Open),
            b')' => op(self, 1, Op::Close),
            b'<' | b'>' if self.peek(1) == Some(b'(') => {
                // Process substitution: the inner command runs; its value is a /dev/fd path.
                self.i += 2;
                let inner = self.balanced(b'(', b')')?;
                Ok(Some(Token::Word(Word {
                    parts: vec![Part::Unknown {
                        what: "process substitution".into(),
                        command: Some(inner),
                    }],
                })))
            }
            b'<' | b'>' => self.redirect(),
            _ => {
                let w = self.word()?;
                // `2>file`: a word of digits glued to a redirection is a file descriptor.
                if matches!(self.peek(0), Some(b'<' | b'>'))
                    && w.literal()
                        .is_some_and(|l| !l.is_empty() && l.iter().all(u8::is_ascii_digit))
                    && !w
                        .parts
                        .iter()
                        .any(|p| matches!(p, Part::Lit { quoted: true, .. }))
                {
                    return self.redirect();
                }
                Ok(Some(Token::Word(w)))
            }
        }
    }

    fn redirect(&mut self) -> Result<Option<Token>, LexError> {
        const OPS: &[&[u8]] = &[
            b"&>>", b"&>", b"<<<", b"<<-", b"<<", b"<>", b"<&", b">>", b">&", b">|", b"<", b">",
        ];
        let op = OPS.iter().find(|o| self.starts(o)).copied().unwrap_or(b">");
        self.i += op.len();
        let op = String::from_utf8_lossy(op).into_owned();
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        if self
            .peek(0)
            .is_none_or(|c| is_meta(c) && c != b'<' && c != b'>')
        {
            return Err(LexError::MissingRedirectTarget(op));
        }
        let target = self.word()?;
        if op == "<<" || op == "<<-" {
            let delim = target
                .parts
                .iter()
                .map(|p| match p {
                    Part::Lit { bytes, .. } => bytes.clone(),
                    Part::Var { name, .. } => format!("${name}").into_bytes(),
                    _ => Vec::new(),
                })
                .collect::<Vec<Vec<u8>>>()
                .concat();
            self.heredocs.push((delim, op == "<<-"));
        }
        Ok(Some(Token::Redirect {
            op,
            target,
            body: None,
        }))
    }

    /// After a newline, the bodies of pending here-documents are data, not commands.
    fn skip_heredoc_bodies(&mut self) {
        for (delim, strip_tabs) in std::mem::take(&mut self.heredocs) {
            let mut body = Vec::new();
            while self.i < self.s.len() {
                let end = self.s[self.i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(self.s.len(), |p| self.i + p);
                let mut line = &self.s[self.i..end];
                if strip_tabs {
                    while let [b'\t', rest @ ..] = line {
                        line = rest;
                    }
                }
                self.i = (end + 1).min(self.s.len());
                if line == delim.as_slice() {
                    break;
                }
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            self.bodies.push(body);
        }
    }

    /// Text up to the byte closing an opening already consumed, honouring nesting and quotes.
    fn balanced(&mut self, open: u8, close: u8) -> Result<Vec<u8>, LexError> {
        let start = self.i;
        let mut depth = 1;
        while let Some(c) = self.peek(0) {
            match c {
                b'\\' => self.i += 1,
                b'\'' => {
                    self.i += 1;
                    while self.peek(0).is_some_and(|c| c != b'\'') {
                        self.i += 1;
                    }
                }
                b'"' => {
                    self.i += 1;
                    while let Some(c) = self.peek(0) {
                        if c == b'\\' {
                            self.i += 1;
                        } else if c == b'"' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = self.s[start..self.i].to_vec();
                        self.i += 1;
                        return Ok(inner);
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(LexError::Unterminated("command substitution"))
    }

    fn word(&mut self) -> Result<Word, LexError> {
        let mut w = Word::default();
        let mut lit: Vec<u8> = Vec::new();
        let flush = |w: &mut Word, lit: &mut Vec<u8>| {
            if !lit.is_empty() {
                w.parts.push(Part::Lit {
                    bytes: std::mem::take(lit),
                    quoted: false,
                });
            }
        };
        if self.peek(0) == Some(b'~') {
            let rest = &self.s[self.i + 1..];
            let n = rest
                .iter()
                .position(|&c| {
                    c == b'/' || is_meta(c) || matches!(c, b'\'' | b'"' | b'$' | b'`' | b'\\')
                })
                .unwrap_or(rest.len());
            if rest.get(n).is_none_or(|&c| c == b'/' || is_meta(c)) {
                w.parts.push(Part::Tilde(
                    String::from_utf8_lossy(&rest[..n]).into_owned(),
                ));
                self.i += 1 + n;
            }
        }
        while let Some(c) = self.peek(0) {
            if is_meta(c) {
                break;
            }
            match c {
                b'\\' => {
                    flush(&mut w, &mut lit);
                    match self.peek(1) {
                        Some(b'\n') => {}
                        Some(n) => w.parts.push(Part::Lit {
                            bytes: vec![n],
                            quoted: true,
                        }),
                        None => {}
                    }
                    self.i += 2;
                }
                b'\'' => {
                    flush(&mut w, &mut lit);
                    self.i += 1;
                    let end = self.s[self.i..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .ok_or(LexError::Unterminated("single quote"))?;
                    w.parts.push(Part::Lit {
                        bytes: self.s[self.i..self.i + end].to_vec(),
                        quoted: true,
                    });
                    self.i += end + 1;
                }
                b'"' => {
                    flush(&mut w, &mut lit);
                    self.i += 1;
                    self.double_quoted(&mut w)?;
                }
                b'$' | b'`' => {
                    flush(&mut w, &mut lit);
                    self.dollar(&mut w, false)?;
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush(&mut w, &mut lit);
        if w.parts.is_empty() {
            w.parts.push(Part::Lit {
                bytes: Vec::new(),
                quoted: true,
            });
        }
        Ok(w)
    }

    fn double_quoted(&mut self, w: &mut Word) -> Result<(), LexError> {
        let mut lit = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(LexError::Unterminated("double quote"));
            };
            match c {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    match self.peek(1) {
                        Some(n @ (b'$' | b'`' | b'"' | b'\\')) => lit.push(n),
                        Some(b'\n') => {}
                        Some(n) => lit.extend_from_slice(&[b'\\', n]),
                        None => return Err(LexError::Unterminated("double quote")),
                    }
                    self.i += 2;
                }
                b'$' | b'`' => {
                    w.parts.push(Part::Lit {
                        bytes: std::mem::take(&mut lit),
                        quoted: true,
                    });
                    self.dollar(w, true)?;
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        w.parts.push(Part::Lit {
            bytes: lit,
            quoted: true,
        });
        Ok(())
    }

    /// `$…` and backquotes, at `self.i`.
    fn dollar(&mut self, w: &mut Word, quoted: bool) -> Result<(), LexError> {
        if self.peek(0) == Some(b'`') {
            self.i += 1;
            let start = self.i;
            while let Some(c) = self.peek(0) {
                match c {
                    b'\\' => self.i += 2,
                    b'`' => break,
                    _ => self.i += 1,
                }
            }
            if self.peek(0) != Some(b'`') {
                return Err(LexError::Unterminated("backquote"));
            }
            let inner = self.s[start..self.i].to_vec();
            self.i += 1;
            w.parts.push(Part::Unknown {
                what: "command substitution".into(),
                command: Some(inner),
            });
            return Ok(());
        }
        match self.peek(1) {
            Some(b'(') if self.peek(2) == Some(b'(') => {
                self.i += 3;
                self.balanced(b'(', b')')?;
                if self.peek(0) == Some(b')') {
                    self.i += 1;
                }
                w.parts.push(Part::Unknown {
                    what: "arithmetic expansion".into(),
                    command: None,
                });
            }
            Some(b'(') => {
                self.i += 2;
                let inner = self.balanced(b'(', b')')?;
                w.parts.push(Part::Unknown {
                    what: "command substitution".into(),
                    command: Some(inner),
                });
            }
            Some(b'{') => {
                self.i += 2;
                let inner = self.balanced(b'{', b'}')?;
                w.parts.push(parameter(&inner, quoted));
            }
            Some(b'\'') if !quoted => {
                self.i += 2;
                let bytes = self.ansi_c()?;
                w.parts.push(Part::Lit {
                    bytes,
                    quoted: true,
                });
            }
            Some(b'"') if !quoted => {
                self.i += 2;
                self.double_quoted(w)?;
            }
            Some(c) if is_name_start(c) => {
                self.i += 1;
                let start = self.i;
                while self.peek(0).is_some_and(is_name) {
                    self.i += 1;
                }
                w.parts.push(Part::Var {
                    name: String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                    quoted,
                });
            }
            Some(c) if c.is_ascii_digit() || c == b'@' || c == b'*' => {
                self.i += 2;
                w.parts.push(Part::Var {
                    name: (c as char).to_string(),
                    quoted,
                });
            }
            Some(c) if b"#?$!-".contains(&c) => {
                self.i += 2;
                w.parts.push(Part::Unknown {
                    what: format!("shell parameter ${}", c as char),
                    command: None,
                });
            }
            _ => {
                self.i += 1;
                w.parts.push(Part::Lit {
                    bytes: vec![b'$'],
                    quoted: true,
                });
            }
        }
        Ok(())
    }

    /// `$'…'` with the common backslash escapes.
    fn ansi_c(&mut self) -> Result<Vec<u8>, LexError> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(LexError::Unterminated("$'…' quote"));
            };
            self.i += 1;
            match c {
                b'\'' => return Ok(out),
                b'\\' => {
                    let Some(e) = self.peek(0) else {
                        return Err(LexError::Unterminated("$'…' quote"));
                    };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'e' | b'E' => out.push(0x1b),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek(0) {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        b'x' => {
                            let mut v = 0u32;
                            let mut n = 0;
                            while n < 2 {
                                match self.peek(0).and_then(|d| (d as char).to_digit(16)) {
                                    Some(d) => {
                                        v = v * 16 + d;
                                        self.i += 1;
                                        n += 1;
                                    }
                                    None => break,
                                }
                            }
                            if n == 0 {
                                out.extend_from_slice(b"\\x");
                            } else {
                                out.push(v as u8);
                            }
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
    }
}

/// `${…}` contents.
fn parameter(inner: &[u8], quoted: bool) -> Part {
    if let [b'#', name @ ..] = inner
        && !name.is_empty()
        && (is_name_start(name[0]) || (name.len() == 1 && name[0].is_ascii_digit()))
        && name.iter().all(|&c| is_name(c))
    {
        return Part::VarOp {
            name: String::from_utf8_lossy(name).into_owned(),
            op: "len".into(),
            arg: Vec::new(),
            quoted,
        };
    }
    let positional = inner.first().is_some_and(u8::is_ascii_digit);
    let n = if positional {
        inner
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(inner.len())
    } else {
        inner
            .iter()
            .position(|&c| !is_name(c))
            .unwrap_or(inner.len())
    };
    let name = String::from_utf8_lossy(&inner[..n]).into_owned();
    let valid = !inner.is_empty() && (is_name_start(inner[0]) || positional);
    let rest = &inner[n..];
    if valid {
        for op in ["%%", "##", "//", ":+", ":=", "%", "#", "/", "+", "="] {
            if let Some(arg) = rest.strip_prefix(op.as_bytes()) {
                return Part::VarOp {
                    name,
                    op: op.into(),
                    arg: arg.to_vec(),
                    quoted,
                };
            }
        }
    }
    match (rest, valid) {
        ([], true) => Part::Var { name, quoted },
        ([b':', b'-', rest @ ..], true) => Part::VarDefault {
            name,
            default: rest.to_vec(),
            colon: true,
            quoted,
        },
        ([b'-', rest @ ..], true) => Part::VarDefault {
            name,
            default: rest.to_vec(),
            colon: false,
            quoted,
        },
        _ => Part::Unknown {
            what: format!(
                "parameter expansion ${{{}}}",
                String::from_utf8_lossy(inner)
            ),
            command: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<u8>> {
        lex(line.as_bytes())
            .unwrap()
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) => w.literal(),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn quotes_are_removed_and_operators_split() {
        let t = lex(b"echo 'a b' \"c;d\" e\\ f; rm x&&y||z|w &").unwrap();
        let ops: Vec<Op> = t
            .iter()
            .filter_map(|t| if let Token::Op(o) = t { Some(*o) } else { None })
            .collect();
        assert_eq!(
            ops,
            vec![Op::Semi, Op::And, Op::Or, Op::Pipe, Op::Background]
        );
        assert_eq!(
            words("echo 'a b' \"c;d\" e\\ f")[1..],
            [b"a b".to_vec(), b"c;d".to_vec(), b"e f".to_vec()]
        );
    }

    #[test]
    fn quoted_glob_characters_are_marked_quoted() {
        let t = lex(b"rm '*' \\? [a]").unwrap();
        let Token::Word(w) = &t[1] else { panic!() };
        assert_eq!(
            w.parts,
            vec![Part::Lit {
                bytes: b"*".to_vec(),
                quoted: true
            }]
        );
        let Token::Word(w) = &t[3] else { panic!() };
        assert_eq!(
            w.parts,
            vec![Part::Lit {
                bytes: b"[a]".to_vec(),
                quoted: false
            }]
        );
    }

    #[test]
    fn here_document_bodies_stay_with_their_redirection() {
        let t = lex(b"bash <<'EOF' && cat <<-X\nrm -rf /a\nEOF\n\tline\n\tX\necho").unwrap();
        let bodies: Vec<Option<Vec<u8>>> = t
            .iter()
            .filter_map(|t| match t {
                Token::Redirect { body, .. } => Some(body.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            bodies,
            [Some(b"rm -rf /a\n".to_vec()), Some(b"line\n".to_vec())]
        );
        let t = lex(b"x ${F%.bak} ${#F} ${1}").unwrap();
        assert!(t.iter().any(|t| matches!(t, Token::Word(w)
            if matches!(&w.parts[0], Part::VarOp { op, arg, .. } if op == "%" && arg == b".bak"))));
        assert!(t.iter().any(|t| matches!(t, Token::Word(w)
            if matches!(&w.parts[0], Part::VarOp { op, .. } if op == "len"))));
    }

    #[test]
    fn expansions_are_parts() {
        let t = lex(b"rm -rf \"$DIR\"/ ${X:-/tmp} $(pwd) `ls` $1 ~/x ~bob").unwrap();
        let parts: Vec<&Part> = t
            .iter()
            .filter_map(|t| {
                if let Token::Word(w) = t {
                    Some(&w.parts[0])
                } else {
                    None
                }
            })
            .collect();
        assert!(matches!(parts[2], Part::Lit { quoted: true, .. }));
        assert!(matches!(parts[3], Part::VarDefault { colon: true, .. }));
        assert!(matches!(parts[4], Part::Unknown { command: Some(c), .. } if c == b"pwd"));
        assert!(matches!(parts[5], Part::Unknown { command: Some(c), .. } if c == b"ls"));
        assert!(matches!(parts[6], Part::Var { name, .. } if name == "1"));
        assert_eq!(parts[7], &Part::Tilde(String::new()));
        assert_eq!(parts[8], &Part::Tilde("bob".into()));
    }

    #[test]
    fn redirections_take_their_target_and_fd_digits() {
        let t = lex(b"ls 2>/dev/null >out <in").unwrap();
        assert_eq!(
            t.iter()
                .filter(|t| matches!(t, Token::Redirect { .. }))
                .count(),
            3
        );
        assert_eq!(t.iter().filter(|t| matches!(t, Token::Word(_))).count(), 1);
    }

    #[test]
    fn heredoc_body_is_not_commands() {
        let t = lex(b"cat <<EOF\nrm -rf /\nEOF\necho done").unwrap();
        assert_eq!(words("cat <<EOF\nrm -rf /\nEOF\necho done").len(), 3);
        assert!(
            !t.iter()
                .any(|t| matches!(t, Token::Word(w) if w.literal() == Some(b"rm".to_vec())))
        );
    }

    #[test]
    fn comments_and_continuations() {
        assert_eq!(
            words("rm a \\\n b # rm -rf /"),
            vec![b"rm".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
    }

    #[test]
    fn ansi_c_quotes_decode_bytes() {
        assert_eq!(words("rm $'caf\\xe9\\n'")[1], b"caf\xe9\n".to_vec());
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert_eq!(
            lex(b"rm 'x").unwrap_err(),
            LexError::Unterminated("single quote")
        );
        assert!(lex(b"rm \"x").is_err());
        assert!(lex(b"rm $(x").is_err());
    }
}
