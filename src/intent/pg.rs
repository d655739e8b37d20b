//! PostgreSQL SQL read by PostgreSQL's own parser: libpg_query (the `pg_query` crate), the
//! grammar of the server itself, so a statement is classified as the server will read it. A
//! statement the parser cannot read is never passed silently: it is of unknown effect, a
//! keyword scan says what it may hold, and the result says so. This module reads text and
//! never runs anything.
//!
//! The text is scanned once by PostgreSQL's lexer and cut into statements where psql cuts it
//! (a `;` outside parentheses and outside a `BEGIN ATOMIC … END` body); each statement that
//! may be destructive is then parsed on its own, so one statement the parser cannot read
//! hides none of the others. One that begins with a keyword whose statements are never among
//! the destructive kinds (SELECT, INSERT, SET, BEGIN…: most of a long script) is told from its
//! tokens without parsing it.
//!
//! libpg_query keeps its parser state per thread, but a parse swaps the process's standard
//! error (fd 2) for a pipe while it runs (to catch the parser's messages): two calls at once on
//! two threads can leave fd 2 on a closed pipe for good. Every call into it holds one lock.
//! (What another thread writes to standard error during a parse goes to that pipe: lost.)

use std::sync::{Mutex, PoisonError};

use pg_query::protobuf::{
    self, AlterTableType, CmdType, DropBehavior, KeywordKind, LimitOption, ObjectType, RangeVar,
    ScanToken, SelectStmt, SetOperation, Token,
};
use pg_query::{Node, NodeEnum};

use super::sql::{Classified, Flavor, Found, failed_parser, merge, scan_keywords};
use crate::policy::schema::SqlStatement;

static LIBPG_QUERY: Mutex<()> = Mutex::new(());

/// Runs `f`, which calls libpg_query, alone.
fn alone<T>(f: impl FnOnce() -> T) -> T {
    let _lock = LIBPG_QUERY.lock().unwrap_or_else(PoisonError::into_inner);
    f()
}

fn parse(text: &str) -> Option<protobuf::ParseResult> {
    // The warning is only ever about backslashes in strings, which standard strings (the
    // server's default, and the parser's here) do not have.
    let options = pg_query::ParserOptions::DISABLE_ESCAPE_STRING_WARNING;
    // A NUL byte cannot be given to the C parser (nor sent by psql): `None`, as unreadable.
    alone(|| pg_query::parse(text, options))
        .ok()
        .map(|r| r.protobuf)
}

fn deparse(node: NodeEnum) -> Option<String> {
    let tree = protobuf::ParseResult {
        version: 0,
        stmts: vec![protobuf::RawStmt {
            stmt: Some(Box::new(Node { node: Some(node) })),
            stmt_location: 0,
            stmt_len: 0,
        }],
    };
    alone(|| pg_query::deparse(&tree, Default::default())).ok()
}

/// Whether the parser reads SQL text.
pub(crate) fn parses(text: &str) -> bool {
    parse(text).is_some()
}

/// The tokens of SQL text as PostgreSQL's lexer reads it (comments included), with their byte
/// offsets; `None` when it cannot (an unterminated string or comment, a NUL byte).
pub(crate) fn tokens(text: &str) -> Option<Vec<ScanToken>> {
    // pg_query 18.1 makes a slice of the C scanner's null pointer when there is no token at
    // all (undefined behaviour): whitespace alone is not given to it.
    if text
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
    {
        return Some(Vec::new());
    }
    alone(|| pg_query::scan_tokens(text)).ok()
}

/// Line numbers of byte offsets in a text whose first line is `first`.
struct Lines {
    starts: Vec<usize>,
    first: usize,
}

impl Lines {
    fn new(text: &str, first: usize) -> Lines {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { starts, first }
    }

    fn of(&self, offset: usize) -> usize {
        self.first
            + self
                .starts
                .partition_point(|&s| s <= offset)
                .saturating_sub(1)
    }
}

fn is(t: &ScanToken, token: Token) -> bool {
    t.token == token as i32
}

fn start(t: &ScanToken) -> usize {
    usize::try_from(t.start).unwrap_or(0)
}

fn end(t: &ScanToken) -> usize {
    usize::try_from(t.end).unwrap_or(0)
}

/// The statements of a text's tokens (comments left out) as psql sends them, as ranges of
/// tokens: each ends at a `;` outside parentheses and, in `CREATE [OR REPLACE]
/// FUNCTION|PROCEDURE`, outside `BEGIN … END` (psqlscan.l's own rule, CASE … END counted
/// inside a BEGIN).
fn split(tokens: &[ScanToken]) -> Vec<std::ops::Range<usize>> {
    let routine = |st: &[ScanToken]| {
        let words: Vec<i32> = st
            .iter()
            .filter(|t| t.keyword_kind != KeywordKind::NoKeyword as i32 || is(t, Token::Ident))
            .take(4)
            .map(|t| t.token)
            .collect();
        let kind = |w: Option<&i32>| {
            w.is_some_and(|&w| w == Token::Function as i32 || w == Token::Procedure as i32)
        };
        words.first() == Some(&(Token::Create as i32))
            && (kind(words.get(1))
                || (words.get(1) == Some(&(Token::Or as i32))
                    && words.get(2) == Some(&(Token::Replace as i32))
                    && kind(words.get(3))))
    };
    let mut out = Vec::new();
    let (mut from, mut parens, mut begins) = (0, 0usize, 0usize);
    for (i, t) in tokens.iter().enumerate() {
        if is(t, Token::Ascii40) {
            parens += 1;
        } else if is(t, Token::Ascii41) {
            parens = parens.saturating_sub(1);
        } else if is(t, Token::Ascii59) && parens == 0 && begins == 0 {
            if i > from {
                out.push(from..i);
            }
            from = i + 1;
        } else if parens == 0
            && (is(t, Token::BeginP) || is(t, Token::Case) || is(t, Token::EndP))
            && routine(&tokens[from..i])
        {
            if is(t, Token::BeginP) || (is(t, Token::Case) && begins > 0) {
                begins += 1;
            } else if is(t, Token::EndP) {
                begins = begins.saturating_sub(1);
            }
        }
    }
    if from < tokens.len() {
        out.push(from..tokens.len());
    }
    out
}

/// A statement that the classification would find nothing in, told from its first token
/// without parsing it: one that begins with a keyword whose statements are never among the
/// destructive kinds. The server refuses a data-modifying WITH anywhere but at the top of a
/// statement, so none of these holds a DELETE or an UPDATE. Anything else is parsed
/// (DELETE and UPDATE, whose rows the server may be asked about; WITH, which may hold one;
/// EXPLAIN, which may run one; CREATE, whose `TABLE … AS` runs a query…).
fn cannot_be_destructive(st: &[ScanToken]) -> bool {
    const HARMLESS: &[Token] = &[
        Token::Select,
        Token::Insert,
        Token::Values,
        Token::Grant,
        Token::Revoke,
        Token::Set,
        Token::Show,
        Token::BeginP,
        Token::Start,
        Token::Commit,
        Token::Rollback,
        Token::Savepoint,
        Token::Release,
        Token::Comment,
        Token::Analyze,
        Token::Analyse,
        Token::Listen,
        Token::Notify,
        Token::Prepare,
    ];
    st.first()
        .is_some_and(|t| HARMLESS.iter().any(|&h| is(t, h)))
}

/// An identifier as written, as PostgreSQL names it: a quoted one as it is (`""` a quote),
/// an unquoted one in lowercase (ASCII letters only, as the server folds them in UTF-8).
fn identifier(written: &str) -> String {
    match written.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => written.to_ascii_lowercase(),
    }
}

/// The functions a statement calls (a name, maybe qualified, right before `(`), with their
/// line, each once; and the function or procedure it creates. A name after INTO, TABLE,
/// REFERENCES, FUNCTION, PROCEDURE or ROUTINE is an object's, not a call (`INSERT INTO t (a)`,
/// `DROP FUNCTION f(int)`); the server tells which of the others are functions, and which are
/// volatile.
fn calls_and_creations(text: &str, st: &[ScanToken], lines: &Lines, part: &mut Classified) {
    let name_at = |i: usize| {
        st.get(i).is_some_and(|t| {
            is(t, Token::Ident)
                || t.keyword_kind == KeywordKind::UnreservedKeyword as i32
                || t.keyword_kind == KeywordKind::TypeFuncNameKeyword as i32
        })
    };
    let written = |t: &ScanToken| text.get(start(t)..end(t)).map(identifier);
    // The qualified name whose last part is token `last`, and the index of its first part.
    let qualified = |last: usize| {
        let mut first = last;
        while first >= 2 && is(&st[first - 1], Token::Ascii46) && name_at(first - 2) {
            first -= 2;
        }
        let parts: Option<Vec<String>> =
            (first..=last).step_by(2).map(|i| written(&st[i])).collect();
        parts.map(|p| (first, p.join(".")))
    };
    let object = |t: &ScanToken| {
        [
            Token::Into,
            Token::Table,
            Token::References,
            Token::Function,
            Token::Procedure,
            Token::Routine,
        ]
        .iter()
        .any(|&k| is(t, k))
    };
    for i in 0..st.len().saturating_sub(1) {
        if !(is(&st[i + 1], Token::Ascii40) && name_at(i)) {
            continue;
        }
        let Some((first, name)) = qualified(i) else {
            continue;
        };
        if first > 0 && object(&st[first - 1]) {
            continue;
        }
        if !part.calls.iter().any(|(_, c)| *c == name) {
            part.calls.push((lines.of(start(&st[i])), name));
        }
    }
    let head: Vec<&ScanToken> = st.iter().take(4).collect();
    if head.first().is_some_and(|t| is(t, Token::Create))
        && let Some(at) = head
            .iter()
            .position(|t| is(t, Token::Function) || is(t, Token::Procedure))
        && let Some(open) = (at + 1..st.len()).find(|&i| is(&st[i], Token::Ascii40))
        && open > at + 1
        && let Some((first, name)) = qualified(open - 1)
        && first == at + 1
    {
        part.created.push(name);
    }
}

/// Classifies PostgreSQL text (client commands already taken out) whose first line is line
/// `first_line` of its source, adding to `out`.
pub(crate) fn classify_text(text: &str, origin: &str, first_line: usize, out: &mut Classified) {
    let lines = Lines::new(text, first_line);
    // A panic in the parser's wrapper or in the reading below loses nothing silently: the
    // text is then of unknown effect.
    let part =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(text, origin, &lines)));
    merge(out, part.unwrap_or_else(|_| failed_parser(origin)));
}

fn read(text: &str, origin: &str, lines: &Lines) -> Classified {
    let mut r = Reader::new(text, origin, lines);
    let Some(mut tokens) = tokens(text) else {
        r.part.notes.push(format!(
            "{origin}: the SQL could not be tokenized: checked by keywords only"
        ));
        r.unreadable(0, text.len());
        return r.part;
    };
    tokens.retain(|t| !(is(t, Token::SqlComment) || is(t, Token::CComment)));
    for range in split(&tokens) {
        let st = &tokens[range];
        let (Some(first), Some(last)) = (st.first(), st.last()) else {
            continue;
        };
        let (from, to) = (start(first), end(last));
        calls_and_creations(text, st, lines, &mut r.part);
        if cannot_be_destructive(st) {
            r.part.statements += 1;
            continue;
        }
        match text.get(from..to).and_then(parse) {
            Some(tree) => r.statements(from, to, &tree),
            None => r.unreadable(from, to),
        }
    }
    r.part
}

struct Reader<'a> {
    text: &'a str,
    origin: &'a str,
    lines: &'a Lines,
    /// Whether a name needs no quotes (not a keyword that would read otherwise), by name.
    plain: std::collections::HashMap<String, bool>,
    /// The names of the CTEs around the statement being read.
    scope: Vec<String>,
    part: Classified,
}

/// Where a statement is: its line, and its text as written when it is the whole statement
/// (not one inside a CTE or under EXPLAIN).
#[derive(Clone, Copy)]
struct At<'a> {
    line: usize,
    written: Option<&'a str>,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str, origin: &'a str, lines: &'a Lines) -> Reader<'a> {
        Reader {
            text,
            origin,
            lines,
            plain: Default::default(),
            scope: Vec::new(),
            part: Classified::default(),
        }
    }

    /// A statement the parser cannot read, at `from..to`: of unknown effect, and scanned for
    /// the keywords of destructive statements.
    fn unreadable(&mut self, from: usize, to: usize) {
        let fragment = self.text.get(from..to).unwrap_or_default();
        let line = self
            .lines
            .of(from + fragment.len() - fragment.trim_start().len());
        let found = &mut self.part.found;
        found.push(Found::unknown(line, None, true));
        let before = found.len();
        scan_keywords(Flavor::Postgresql, fragment, line, found);
        // The statement is already of unknown effect once.
        let mut n = 0;
        found.retain(|f| {
            n += 1;
            n <= before || f.kind != SqlStatement::Unknown
        });
        let what = if found.len() > before {
            "found by keywords"
        } else {
            "nothing destructive found by keywords"
        };
        self.part.statements += 1;
        self.part.notes.push(format!(
            "{} line {line}: a statement the SQL parser cannot read (of unknown effect): {what}",
            self.origin
        ));
    }

    /// The statements of `tree`, parsed from the text at `base..end`: each where the parser
    /// says it is (`stmt_location`, `stmt_len`).
    fn statements(&mut self, base: usize, end: usize, tree: &protobuf::ParseResult) {
        let text = self.text;
        for raw in &tree.stmts {
            let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
                continue;
            };
            let from = base.saturating_add(usize::try_from(raw.stmt_location).unwrap_or(0));
            // A length of 0: up to the end of the text.
            let to = match usize::try_from(raw.stmt_len) {
                Ok(len) if len > 0 => from.saturating_add(len).min(end),
                _ => end,
            };
            let written = text.get(from..to).unwrap_or_default();
            let line = self
                .lines
                .of(from + written.len() - written.trim_start().len());
            let written = Some(written.trim().trim_end_matches(';').trim_end());
            self.part.statements += 1;
            self.statement(node, At { line, written });
        }
    }

    fn push(&mut self, kind: SqlStatement, object: Option<String>, line: usize, cascade: bool) {
        self.part.found.push(Found {
            kind,
            object,
            line,
            cascade,
            by_keywords: false,
            database: None,
            statement: None,
            count_from: None,
        });
    }

    /// The destructive kinds in one statement, and in the statements it runs.
    fn statement(&mut self, node: &NodeEnum, at: At) {
        let inner = At {
            written: None,
            ..at
        };
        match node {
            NodeEnum::DropStmt(d) => {
                let cascade = d.behavior == DropBehavior::DropCascade as i32;
                let kind = match ObjectType::try_from(d.remove_type) {
                    Ok(
                        ObjectType::ObjectTable
                        | ObjectType::ObjectView
                        | ObjectType::ObjectMatview
                        | ObjectType::ObjectForeignTable,
                    ) => SqlStatement::DropTable,
                    Ok(ObjectType::ObjectSchema) => SqlStatement::DropSchema,
                    // What else depends on a type, an extension, a function… goes with it:
                    // columns of the type, tables of the extension's types.
                    _ if cascade => {
                        self.push(SqlStatement::Unknown, None, at.line, true);
                        return;
                    }
                    _ => return,
                };
                for o in &d.objects {
                    let parts = match &o.node {
                        Some(NodeEnum::List(l)) => strings(&l.items),
                        Some(NodeEnum::String(s)) => vec![s.sval.clone()],
                        _ => Vec::new(),
                    };
                    let name = (!parts.is_empty()).then(|| self.name(&parts));
                    self.push(kind, name, at.line, cascade);
                }
            }
            // Every object the roles own in the database, tables and their rows with them.
            NodeEnum::DropOwnedStmt(_) => self.push(SqlStatement::Unknown, None, at.line, false),
            // The database's own name, as dropdb and pg_dump take it.
            NodeEnum::DropdbStmt(d) => {
                self.push(
                    SqlStatement::DropDatabase,
                    Some(d.dbname.clone()),
                    at.line,
                    false,
                );
            }
            NodeEnum::TruncateStmt(t) => {
                let cascade = t.behavior == DropBehavior::DropCascade as i32;
                for r in &t.relations {
                    if let Some(NodeEnum::RangeVar(rv)) = &r.node {
                        let name = self.relation(rv);
                        self.push(SqlStatement::Truncate, Some(name), at.line, cascade);
                    }
                }
            }
            NodeEnum::DeleteStmt(d) => {
                let scoped = self.with(d.with_clause.as_ref(), at);
                let kind = if d.where_clause.is_some() {
                    SqlStatement::Delete
                } else {
                    SqlStatement::DeleteWithoutWhere
                };
                let single = d.using_clause.is_empty();
                let filter = d.where_clause.as_deref();
                self.rows(node, kind, d.relation.as_ref(), single, filter, at);
                self.unscope(scoped);
            }
            NodeEnum::UpdateStmt(u) => {
                let scoped = self.with(u.with_clause.as_ref(), at);
                let kind = if u.where_clause.is_some() {
                    SqlStatement::Update
                } else {
                    SqlStatement::UpdateWithoutWhere
                };
                let single = u.from_clause.is_empty();
                let filter = u.where_clause.as_deref();
                self.rows(node, kind, u.relation.as_ref(), single, filter, at);
                self.unscope(scoped);
            }
            // MERGE deletes and rewrites the rows its WHEN clauses say: a join, never counted.
            NodeEnum::MergeStmt(m) => {
                let scoped = self.with(m.with_clause.as_ref(), at);
                let mut kinds = Vec::new();
                for w in &m.merge_when_clauses {
                    if let Some(NodeEnum::MergeWhenClause(w)) = &w.node {
                        let kind = match CmdType::try_from(w.command_type) {
                            Ok(CmdType::CmdDelete) => SqlStatement::Delete,
                            Ok(CmdType::CmdUpdate) => SqlStatement::Update,
                            _ => continue,
                        };
                        if !kinds.contains(&kind) {
                            kinds.push(kind);
                        }
                    }
                }
                for kind in kinds {
                    self.rows(node, kind, m.relation.as_ref(), false, None, at);
                }
                self.unscope(scoped);
            }
            // `ALTER COLUMN … TYPE … USING expr` rewrites every value of the column with the
            // expression (`USING NULL` empties it): as destructive as dropping the column.
            NodeEnum::AlterTableStmt(a) => {
                let drops = a.cmds.iter().any(|c| match &c.node {
                    Some(NodeEnum::AlterTableCmd(c)) => match AlterTableType::try_from(c.subtype) {
                        Ok(AlterTableType::AtDropColumn) => true,
                        Ok(AlterTableType::AtAlterColumnType) => matches!(
                            c.def.as_deref().and_then(|d| d.node.as_ref()),
                            Some(NodeEnum::ColumnDef(cd)) if cd.raw_default.is_some()
                        ),
                        _ => false,
                    },
                    _ => false,
                });
                if drops {
                    let name = a.relation.as_ref().map(|rv| self.relation(rv));
                    self.push(SqlStatement::AlterDropColumn, name, at.line, false);
                }
            }
            // `WITH d AS (DELETE FROM t RETURNING *) SELECT …` deletes too.
            NodeEnum::SelectStmt(s) => self.select(s, at),
            NodeEnum::InsertStmt(i) => {
                let scoped = self.with(i.with_clause.as_ref(), at);
                if let Some(n) = i.select_stmt.as_deref().and_then(|n| n.node.as_ref()) {
                    self.statement(n, inner);
                }
                self.unscope(scoped);
            }
            // EXPLAIN ANALYZE runs the statement it explains; a plain EXPLAIN does not.
            NodeEnum::ExplainStmt(e) if analyzes(e) => {
                if let Some(n) = e.query.as_deref().and_then(|n| n.node.as_ref()) {
                    self.statement(n, inner);
                }
            }
            NodeEnum::CreateTableAsStmt(c) => {
                if let Some(n) = c.query.as_deref().and_then(|n| n.node.as_ref()) {
                    self.statement(n, inner);
                }
            }
            NodeEnum::CopyStmt(c) => {
                // `COPY … PROGRAM` runs a command on the server.
                if c.is_program {
                    self.push(SqlStatement::Unknown, None, at.line, false);
                }
                if let Some(n) = c.query.as_deref().and_then(|n| n.node.as_ref()) {
                    self.statement(n, inner);
                }
            }
            // A block, a procedure or a prepared statement may do anything.
            NodeEnum::DoStmt(_) | NodeEnum::CallStmt(_) | NodeEnum::ExecuteStmt(_) => {
                self.push(SqlStatement::Unknown, None, at.line, false);
            }
            _ => {}
        }
    }

    /// The data-modifying statements of a query: in its CTEs and its set operations.
    fn select(&mut self, s: &SelectStmt, at: At) {
        let scoped = self.with(s.with_clause.as_ref(), at);
        for arm in [&s.larg, &s.rarg].into_iter().flatten() {
            self.select(
                arm,
                At {
                    written: None,
                    ..at
                },
            );
        }
        self.unscope(scoped);
    }

    /// The statements in a WITH clause, in the scope of its CTEs' names; returns how many
    /// names it put in scope (for the caller to take out when done).
    fn with(&mut self, with: Option<&protobuf::WithClause>, at: At) -> usize {
        let Some(w) = with else {
            return 0;
        };
        let ctes: Vec<&protobuf::CommonTableExpr> = w
            .ctes
            .iter()
            .filter_map(|c| match &c.node {
                Some(NodeEnum::CommonTableExpr(c)) => Some(c.as_ref()),
                _ => None,
            })
            .collect();
        self.scope.extend(ctes.iter().map(|c| c.ctename.clone()));
        for c in &ctes {
            if let Some(q) = c.ctequery.as_deref().and_then(|n| n.node.as_ref()) {
                self.statement(
                    q,
                    At {
                        written: None,
                        ..at
                    },
                );
            }
        }
        ctes.len()
    }

    fn unscope(&mut self, n: usize) {
        self.scope.truncate(self.scope.len().saturating_sub(n));
    }

    /// A DELETE or UPDATE of `relation` (also MERGE): found, with the statement for the
    /// server's estimate and, for a single table with no CTE around it, what to count.
    fn rows(
        &mut self,
        node: &NodeEnum,
        kind: SqlStatement,
        relation: Option<&RangeVar>,
        single: bool,
        filter: Option<&Node>,
        at: At,
    ) {
        let name = relation.map(|rv| self.relation(rv));
        self.push(kind, name, at.line, false);
        let statement = match at.written {
            Some(w) => Some(w.to_owned()),
            // Inside another statement: the DELETE or UPDATE itself, as the parser prints it.
            None => deparse(node.clone()),
        };
        // A count cannot name the CTEs the WHERE reads (without them, the name could be a
        // table's).
        let reads_cte = filter.is_some_and(|w| reads_any(w, &self.scope));
        let count_from = relation
            .filter(|_| single && !reads_cte)
            .and_then(|rv| count_from(rv, filter));
        if let Some(f) = self.part.found.last_mut() {
            f.statement = statement;
            f.count_from = count_from;
        }
    }

    /// A relation as SQL names it: schema-qualified as written, quoted where it must be.
    fn relation(&mut self, rv: &RangeVar) -> String {
        let parts: Vec<String> = [&rv.catalogname, &rv.schemaname, &rv.relname]
            .into_iter()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect();
        self.name(&parts)
    }

    /// Name parts as SQL text: `shop.orders`, `"Odd Name"`, `"user"`.
    fn name(&mut self, parts: &[String]) -> String {
        let quoted: Vec<String> = parts.iter().map(|p| self.quoted(p)).collect();
        quoted.join(".")
    }

    /// An identifier as PostgreSQL's quote_ident writes it: bare when it is lowercase letters,
    /// digits and underscores and not a keyword that would read otherwise.
    fn quoted(&mut self, ident: &str) -> String {
        let simple = ident
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == b'_')
            && ident
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        let plain = simple
            && *self.plain.entry(ident.to_owned()).or_insert_with(|| {
                tokens(ident).is_some_and(|t| {
                    t.len() == 1
                        && t[0].keyword_kind <= protobuf::KeywordKind::UnreservedKeyword as i32
                })
            });
        if plain {
            ident.to_owned()
        } else {
            format!("\"{}\"", ident.replace('"', "\"\""))
        }
    }
}

/// What a DELETE or UPDATE of one relation touches, as the FROM and WHERE of a count:
/// `orders o WHERE o.id < 10`, printed by PostgreSQL's deparser.
fn count_from(relation: &RangeVar, filter: Option<&Node>) -> Option<String> {
    let select = SelectStmt {
        from_clause: vec![Node {
            node: Some(NodeEnum::RangeVar(relation.clone())),
        }],
        where_clause: filter.map(|w| Box::new(w.clone())),
        op: SetOperation::SetopNone as i32,
        limit_option: LimitOption::Default as i32,
        ..SelectStmt::default()
    };
    let text = deparse(NodeEnum::SelectStmt(Box::new(select)))?;
    text.strip_prefix("SELECT FROM ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Whether an EXPLAIN runs its statement: `ANALYZE`, or `(ANALYZE)` not set false.
fn analyzes(e: &protobuf::ExplainStmt) -> bool {
    e.options.iter().any(|o| match &o.node {
        Some(NodeEnum::DefElem(d)) if d.defname.eq_ignore_ascii_case("analyze") => {
            match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::Boolean(b)) => b.boolval,
                Some(NodeEnum::Integer(i)) => i.ival != 0,
                Some(NodeEnum::String(s)) => !matches!(
                    s.sval.to_ascii_lowercase().as_str(),
                    "false" | "off" | "no" | "0"
                ),
                _ => true,
            }
        }
        _ => false,
    })
}

/// The string values of a list of name nodes.
fn strings(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// Whether a token is a psql variable's start: `:` right before a name or a quote.
pub(crate) fn is_variable(colon: &protobuf::ScanToken, next: &protobuf::ScanToken) -> bool {
    colon.token == Token::Ascii58 as i32
        && next.start == colon.end
        && (next.token == Token::Ident as i32
            || next.token == Token::Sconst as i32
            || next.keyword_kind != protobuf::KeywordKind::NoKeyword as i32
            || next.token == i32::from(b'{'))
}

/// Whether an expression reads a relation named as one of `names` without a schema (a CTE in
/// scope). Walked through its serde form, which has every node type and every field; only a
/// DELETE or UPDATE with a WHERE under a WITH comes here.
fn reads_any(filter: &Node, names: &[String]) -> bool {
    fn walk(v: &serde_json::Value, names: &[String]) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                let unqualified = m.get("schemaname").and_then(|s| s.as_str()) == Some("")
                    && m.get("catalogname").and_then(|s| s.as_str()) == Some("");
                let named = m
                    .get("relname")
                    .and_then(|r| r.as_str())
                    .is_some_and(|r| names.iter().any(|n| n == r));
                (unqualified && named) || m.values().any(|x| walk(x, names))
            }
            serde_json::Value::Array(a) => a.iter().any(|x| walk(x, names)),
            _ => false,
        }
    }
    if names.is_empty() {
        return false;
    }
    // A tree that cannot be walked may read one.
    serde_json::to_value(filter).map_or(true, |v| walk(&v, names))
}

/// Built-in functions that only compute: what a read-only `psql -c` may call and still run
/// without the wire relay (`only_reads`). A name elsewhere (a function of the database's own,
/// or a built-in that acts: `pg_terminate_backend`, `lo_unlink`, `setval`, `set_config`,
/// `lo_export`…) sends the command through the relay, as before.
const PURE_FUNCTIONS: &[&str] = &[
    "abs",
    "age",
    "array_agg",
    "array_length",
    "avg",
    "bool_and",
    "bool_or",
    "btrim",
    "cardinality",
    "ceil",
    "ceiling",
    "char_length",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "date_part",
    "date_trunc",
    "dense_rank",
    "every",
    "extract",
    "first_value",
    "floor",
    "format",
    "generate_series",
    "greatest",
    "json_agg",
    "jsonb_agg",
    "lag",
    "last_value",
    "lead",
    "least",
    "left",
    "length",
    "lower",
    "ltrim",
    "max",
    "md5",
    "min",
    "now",
    "nullif",
    "pg_database_size",
    "pg_indexes_size",
    "pg_is_in_recovery",
    "pg_relation_size",
    "pg_size_pretty",
    "pg_table_size",
    "pg_total_relation_size",
    "position",
    "rank",
    "regexp_replace",
    "replace",
    "right",
    "round",
    "row_number",
    "rtrim",
    "split_part",
    "stddev",
    "string_agg",
    "strpos",
    "substr",
    "substring",
    "sum",
    "to_char",
    "to_date",
    "to_timestamp",
    "trim",
    "upper",
    "variance",
    "version",
];

/// Built-in operators of the same kind (comparison, arithmetic, text and JSON access), and
/// the names the parser gives BETWEEN.
const PURE_OPERATORS: &[&str] = &[
    "=",
    "<>",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "||",
    "~~",
    "~~*",
    "!~~",
    "!~~*",
    "~",
    "~*",
    "!~",
    "!~*",
    "->",
    "->>",
    "#>",
    "#>>",
    "@>",
    "<@",
    "?",
    "?|",
    "?&",
    "&&",
    "BETWEEN",
    "NOT BETWEEN",
    "BETWEEN SYMMETRIC",
    "NOT BETWEEN SYMMETRIC",
];

fn names(nodes: &[Node]) -> Vec<&str> {
    nodes
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect()
}

/// Whether every statement of `text` only reads, as PostgreSQL's parser reads it: a SELECT
/// (no INTO, no data-modifying WITH) or a SHOW, calling only [`PURE_FUNCTIONS`] (unqualified
/// or in pg_catalog) and [`PURE_OPERATORS`]. What a view or a column default runs is not seen
/// here (nor on the wire).
pub(crate) fn only_reads(text: &str) -> bool {
    let Some(parsed) = parse(text) else {
        return false;
    };
    let statements_read = !parsed.stmts.is_empty()
        && parsed.stmts.iter().all(|s| {
            matches!(
                s.stmt.as_ref().and_then(|s| s.node.as_ref()),
                Some(NodeEnum::SelectStmt(_) | NodeEnum::VariableShowStmt(_))
            )
        });
    statements_read
        && parsed.nodes().iter().all(|(node, ..)| match node {
            pg_query::NodeRef::IntoClause(_)
            | pg_query::NodeRef::InsertStmt(_)
            | pg_query::NodeRef::UpdateStmt(_)
            | pg_query::NodeRef::DeleteStmt(_)
            | pg_query::NodeRef::MergeStmt(_) => false,
            pg_query::NodeRef::FuncCall(f) => match names(&f.funcname).as_slice() {
                [name] | ["pg_catalog", name] => PURE_FUNCTIONS.contains(name),
                _ => false,
            },
            pg_query::NodeRef::AExpr(e) => match names(&e.name).as_slice() {
                [op] | ["pg_catalog", op] => PURE_OPERATORS.contains(op),
                _ => false,
            },
            _ => true,
        })
}
