//! PostgreSQL SQL read by PostgreSQL's own parser: libpg_query (the `pg_query` crate), the
//! grammar of the server itself, so a statement is classified as the server will read it. A
//! statement the parser cannot read is never passed silently: it is of unknown effect, a
//! keyword scan says what it may hold, and the result says so. This module reads text and
//! never runs anything; the one system call it makes puts standard error back (below).
//!
//! libpg_query keeps its parser state per thread, but each parse, scan and split swaps the
//! process's standard error (fd 2) for a pipe while it runs (to catch the parser's messages):
//! two calls at once on two threads can leave fd 2 on a closed pipe for good. Every call into
//! it holds one lock; a long script read on several threads holds it for them all, and fd 2
//! is put back when they are done.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use pg_query::protobuf::{
    self, AlterTableType, CmdType, DropBehavior, LimitOption, ObjectType, RangeVar, SelectStmt,
    SetOperation, Token,
};
use pg_query::{Node, NodeEnum};

use super::sql::{Classified, Flavor, Found, failed_parser, merge, scan_keywords};
use crate::policy::schema::SqlStatement;

static LIBPG_QUERY: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread may call libpg_query: it holds the lock, or works for one that does.
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread as holding the lock until dropped.
struct Holding(bool);

impl Holding {
    fn mark() -> Holding {
        Holding(HELD.replace(true))
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        HELD.set(self.0);
    }
}

/// Runs `f`, which calls libpg_query, alone.
fn alone<T>(f: impl FnOnce() -> T) -> T {
    if HELD.get() {
        return f();
    }
    let _lock = LIBPG_QUERY.lock().unwrap_or_else(PoisonError::into_inner);
    let _held = Holding::mark();
    f()
}

fn parse(text: &str) -> Option<protobuf::ParseResult> {
    // The warning is only ever about backslashes in strings, which standard strings (the
    // server's default, and the parser's here) do not have.
    let options = pg_query::ParserOptions::DISABLE_ESCAPE_STRING_WARNING;
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
/// offsets; `None` when it cannot (an unterminated string or comment).
pub(crate) fn tokens(text: &str) -> Option<Vec<protobuf::ScanToken>> {
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

/// The offset of the first byte at or after `at` that is neither whitespace nor in a comment.
fn skip_blank(text: &str, mut at: usize) -> usize {
    let b = text.as_bytes();
    loop {
        while b
            .get(at)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
        {
            at += 1;
        }
        let rest = b.get(at..).unwrap_or_default();
        if rest.starts_with(b"--") {
            at = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| at + n);
        } else if rest.starts_with(b"/*") {
            // PostgreSQL's block comments nest.
            let mut depth = 0usize;
            let mut i = at;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            at = i;
        } else {
            return at;
        }
    }
}

/// Whether a text holds nothing but whitespace, comments and semicolons.
fn blank(text: &str) -> bool {
    let mut at = 0;
    loop {
        at = skip_blank(text, at);
        match text.as_bytes().get(at) {
            None => return true,
            Some(b';') => at += 1,
            Some(_) => return false,
        }
    }
}

/// A text up to this long is parsed whole first (a statement on the wire, a `-c`).
const WHOLE: usize = 16 * 1024;
/// Statements parsed in one call: libpg_query reads a long text more slowly per statement
/// than a few hundred statements at a time.
const PARSE: usize = 128;
/// Below this many statements, a text is read on the calling thread.
const THREADED: usize = 1024;

/// Classifies PostgreSQL text (client commands already taken out) whose first line is line
/// `first_line` of its source, adding to `out`. A short text is parsed whole; a long one, or
/// one the parser cannot read whole, is split with libpg_query's scanner and parsed a few
/// hundred statements at a time (on every core for a long script), each part the parser
/// cannot read statement by statement, so one statement it cannot read hides none of the
/// others.
pub(crate) fn classify_text(text: &str, origin: &str, first_line: usize, out: &mut Classified) {
    let lines = Lines::new(text, first_line);
    // A panic in the parser's wrapper or in the reading below loses nothing silently: the
    // text is then of unknown effect.
    let part = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        alone(|| read(text, origin, &lines))
    }));
    merge(out, part.unwrap_or_else(|_| failed_parser(origin)));
}

/// What the splitter makes of a text: statements, and what it left between them.
#[derive(Clone, Copy)]
enum Span {
    Statement(usize, usize),
    Between(usize, usize),
}

fn read(text: &str, origin: &str, lines: &Lines) -> Classified {
    let mut r = Reader::new(text, origin, lines);
    if text.len() <= WHOLE
        && let Some(tree) = parse(text)
    {
        r.statements(0, text.len(), &tree);
        return r.part;
    }
    let Ok(pieces) = pg_query::split_with_scanner(text) else {
        r.part.notes.push(format!(
            "{origin}: the SQL could not be tokenized: checked by keywords only"
        ));
        r.unreadable(0, text.len());
        return r.part;
    };
    let base = text.as_ptr() as usize;
    let mut spans = Vec::with_capacity(pieces.len() * 2);
    let mut covered = 0;
    for piece in pieces {
        let at = (piece.as_ptr() as usize).wrapping_sub(base);
        let end = at.saturating_add(piece.len());
        if at < covered || end > text.len() {
            continue;
        }
        // The splitter leaves out what holds no keyword (`:name;`, `wipe_all;`): text the
        // server would be sent all the same.
        spans.push(Span::Between(covered, at));
        spans.push(Span::Statement(at, end));
        covered = end;
    }
    spans.push(Span::Between(covered, text.len()));
    let statements = spans.len() / 2;
    if statements < THREADED {
        r.spans(&spans);
        return r.part;
    }
    // Long scripts on every core, in order-preserving shares of whole parses.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let per = spans.len().div_ceil(cores).max(THREADED).next_multiple_of(2 * PARSE);
    // The threads' swaps of fd 2 may leave it on one of their pipes: it is put back after.
    let stderr = nix::unistd::dup(std::io::stderr()).ok();
    let parts: Vec<Classified> = std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .chunks(per)
            .map(|share| {
                scope.spawn(move || {
                    let _held = Holding::mark();
                    let mut r = Reader::new(text, origin, lines);
                    r.spans(share);
                    r.part
                })
            })
            .collect();
        handles
            .into_iter()
            // A part that panicked read nothing: its statements are of unknown effect.
            .map(|h| h.join().unwrap_or_else(|_| failed_parser(origin)))
            .collect()
    });
    if let Some(fd) = stderr {
        let _ = nix::unistd::dup2_stderr(&fd);
    }
    for p in parts {
        merge(&mut r.part, p);
    }
    r.part
}

struct Reader<'a> {
    text: &'a str,
    origin: &'a str,
    lines: &'a Lines,
    /// Whether a name needs no quotes (not a keyword that would read otherwise), by name.
    plain: HashMap<String, bool>,
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
            plain: HashMap::new(),
            scope: Vec::new(),
            part: Classified::default(),
        }
    }

    /// The statements of `spans` (in order), `PARSE` at a time.
    fn spans(&mut self, spans: &[Span]) {
        for group in spans.chunks(2 * PARSE) {
            let statements: Vec<(usize, usize)> = group
                .iter()
                .filter_map(|s| match s {
                    Span::Statement(a, b) => Some((*a, *b)),
                    Span::Between(..) => None,
                })
                .collect();
            let clean = group.iter().all(|s| match s {
                Span::Between(a, b) => blank(self.text.get(*a..*b).unwrap_or_default()),
                Span::Statement(..) => true,
            });
            if let (true, Some(first), Some(last)) = (clean, statements.first(), statements.last())
                && let Some(tree) = self.text.get(first.0..last.1).and_then(parse)
            {
                self.statements(first.0, last.1, &tree);
                continue;
            }
            self.one_by_one(group);
        }
    }

    /// Statements the parser could not read together, read one at a time.
    fn one_by_one(&mut self, spans: &[Span]) {
        let mut i = 0;
        while i < spans.len() {
            match spans[i] {
                Span::Between(a, b) => self.gap(a, b),
                Span::Statement(a, b) => {
                    if let Some(tree) = self.text.get(a..b).and_then(parse) {
                        self.statements(a, b, &tree);
                    } else if let Some((end, tree)) = self.body(&spans[i..]) {
                        // A function body of several statements, which the splitter cut.
                        self.statements(a, end.1, &tree);
                        i += end.0;
                    } else {
                        self.unreadable(a, b);
                    }
                }
            }
            i += 1;
        }
    }

    /// `CREATE FUNCTION … BEGIN ATOMIC …; …; END`: the splitter cuts it at each `;`; read
    /// with the statements after it (a few), up to the first run the parser reads.
    fn body(&self, spans: &[Span]) -> Option<((usize, usize), protobuf::ParseResult)> {
        let Some(Span::Statement(a, b)) = spans.first() else {
            return None;
        };
        let head = self.text.get(*a..*b)?;
        if !head.to_ascii_lowercase().contains("atomic") {
            return None;
        }
        for (n, s) in spans.iter().enumerate().skip(1).take(64) {
            match s {
                Span::Statement(_, end) => {
                    if let Some(tree) = self.text.get(*a..*end).and_then(parse) {
                        return Some(((n, *end), tree));
                    }
                }
                Span::Between(x, y) if !blank(self.text.get(*x..*y).unwrap_or_default()) => {
                    return None;
                }
                Span::Between(..) => {}
            }
        }
        None
    }

    /// What lies between statements the splitter found: unreadable unless blank.
    fn gap(&mut self, from: usize, to: usize) {
        let between = self.text.get(from..to).unwrap_or_default();
        if !blank(between) {
            let mut from = from;
            // Cut at the semicolons: each part is a statement of its own.
            for s in between.split(';') {
                let to = from + s.len();
                if !blank(s) {
                    self.unreadable(from, to);
                }
                from = to + 1;
            }
        }
    }

    /// A statement the parser cannot read, at `from..to`: of unknown effect, and scanned for
    /// the keywords of destructive statements.
    fn unreadable(&mut self, from: usize, to: usize) {
        let start = skip_blank(self.text, from).min(to);
        let line = self.lines.of(start);
        let fragment = self.text.get(start..to).unwrap_or_default();
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

    /// The statements of `tree`, parsed from the text at `base..end`.
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
            let start = skip_blank(text, from).min(to);
            let line = self.lines.of(start);
            let written = text
                .get(start..to)
                .map(|s| s.trim_end().trim_end_matches(';').trim_end());
            self.part.statements += 1;
            let walk = Walk::of(node);
            for (location, name) in walk.calls {
                let line = usize::try_from(location)
                    .map_or(line, |l| self.lines.of(base.saturating_add(l)));
                if !self.part.calls.iter().any(|(_, c)| *c == name) {
                    self.part.calls.push((line, name));
                }
            }
            if let NodeEnum::CreateFunctionStmt(f) = node {
                self.part.created.push(strings(&f.funcname).join("."));
            }
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
                let kind = match ObjectType::try_from(d.remove_type) {
                    Ok(
                        ObjectType::ObjectTable
                        | ObjectType::ObjectView
                        | ObjectType::ObjectMatview
                        | ObjectType::ObjectForeignTable,
                    ) => SqlStatement::DropTable,
                    Ok(ObjectType::ObjectSchema) => SqlStatement::DropSchema,
                    _ => return,
                };
                let cascade = d.behavior == DropBehavior::DropCascade as i32;
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
        let reads_cte =
            filter.is_some_and(|w| Walk::of(w).relations.iter().any(|r| self.scope.contains(r)));
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

/// A walk of a tree through its serde form (every node type, every field): the functions it
/// calls (with their byte offsets), and the relations it names without a schema.
#[derive(Default)]
struct Walk {
    calls: Vec<(i32, String)>,
    relations: Vec<String>,
    frames: Vec<Frame>,
    want: Want,
}

enum Frame {
    /// A FuncCall: its slot in `calls`, and its name's parts so far.
    Call(usize, Vec<String>),
    /// A RangeVar: whether it names a schema, and its name.
    Relation(bool, String),
    Other,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum Want {
    #[default]
    Nothing,
    Name,
    Location,
    Schema,
    Relname,
}

#[derive(Debug)]
struct WalkError;

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("walk")
    }
}

impl std::error::Error for WalkError {}

impl serde::ser::Error for WalkError {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        WalkError
    }
}

impl Walk {
    fn of<T: serde::Serialize + ?Sized>(tree: &T) -> Walk {
        let mut walk = Walk::default();
        // The walk itself never fails.
        let _ = tree.serialize(&mut walk);
        walk
    }

    fn call(&mut self) -> Option<&mut Vec<String>> {
        self.frames.iter_mut().rev().find_map(|f| match f {
            Frame::Call(_, parts) => Some(parts),
            _ => None,
        })
    }
}

type Done = Result<(), WalkError>;

macro_rules! ignore {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(self, _: $t) -> Done { Ok(()) })*
    };
}

impl serde::Serializer for &mut Walk {
    type Ok = ();
    type Error = WalkError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    ignore!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_f32: f32, serialize_f64: f64, serialize_char: char, serialize_bytes: &[u8]);

    fn serialize_i32(self, v: i32) -> Done {
        if self.want == Want::Location
            && let Some(Frame::Call(slot, _)) = self.frames.last()
        {
            let slot = *slot;
            if let Some(c) = self.calls.get_mut(slot) {
                c.0 = v;
            }
        }
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Done {
        match (self.want, self.frames.last_mut()) {
            (Want::Name, _) => {
                if let Some(parts) = self.call() {
                    parts.push(v.to_owned());
                }
            }
            (Want::Schema, Some(Frame::Relation(qualified, _))) => *qualified |= !v.is_empty(),
            (Want::Relname, Some(Frame::Relation(_, name))) => *name = v.to_owned(),
            _ => {}
        }
        Ok(())
    }
    fn serialize_none(self) -> Done {
        Ok(())
    }
    fn serialize_some<T: ?Sized + serde::Serialize>(self, v: &T) -> Done {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + serde::Serialize>(
        self,
        _: &'static str,
        v: &T,
    ) -> Done {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + serde::Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        v: &T,
    ) -> Done {
        v.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, WalkError> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, WalkError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, WalkError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, WalkError> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, WalkError> {
        Ok(self)
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Self, WalkError> {
        if name == "FuncCall" {
            // Its slot is taken now, so calls are listed in the order they are written.
            self.calls.push((-1, String::new()));
            let slot = self.calls.len() - 1;
            self.frames.push(Frame::Call(slot, Vec::new()));
        } else if name == "RangeVar" {
            self.frames.push(Frame::Relation(false, String::new()));
        } else {
            self.frames.push(Frame::Other);
        }
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Self, WalkError> {
        self.serialize_struct(name, len)
    }
}

impl serde::ser::SerializeStruct for &mut Walk {
    type Ok = ();
    type Error = WalkError;
    fn serialize_field<T: ?Sized + serde::Serialize>(&mut self, key: &'static str, v: &T) -> Done {
        let saved = self.want;
        // A FuncCall's own fields say what its strings and numbers are; inside any other
        // node, they are what the nearest field above said (its name's String nodes).
        match self.frames.last() {
            Some(Frame::Call(..)) => {
                self.want = match key {
                    "funcname" => Want::Name,
                    "location" => Want::Location,
                    _ => Want::Nothing,
                }
            }
            Some(Frame::Relation(..)) => {
                self.want = match key {
                    "catalogname" | "schemaname" => Want::Schema,
                    "relname" => Want::Relname,
                    _ => Want::Nothing,
                }
            }
            _ => {}
        }
        let r = v.serialize(&mut **self);
        self.want = saved;
        r
    }
    fn end(self) -> Done {
        match self.frames.pop() {
            Some(Frame::Call(slot, parts)) => {
                if let Some(c) = self.calls.get_mut(slot) {
                    c.1 = parts.join(".");
                }
            }
            Some(Frame::Relation(false, name)) => self.relations.push(name),
            _ => {}
        }
        Ok(())
    }
}

impl serde::ser::SerializeStructVariant for &mut Walk {
    type Ok = ();
    type Error = WalkError;
    fn serialize_field<T: ?Sized + serde::Serialize>(&mut self, key: &'static str, v: &T) -> Done {
        serde::ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Done {
        serde::ser::SerializeStruct::end(self)
    }
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {
        $(impl serde::ser::$trait for &mut Walk {
            type Ok = ();
            type Error = WalkError;
            fn $method<T: ?Sized + serde::Serialize>(&mut self, v: &T) -> Done {
                v.serialize(&mut **self)
            }
            fn end(self) -> Done {
                Ok(())
            }
        })*
    };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl serde::ser::SerializeMap for &mut Walk {
    type Ok = ();
    type Error = WalkError;
    fn serialize_key<T: ?Sized + serde::Serialize>(&mut self, k: &T) -> Done {
        k.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + serde::Serialize>(&mut self, v: &T) -> Done {
        v.serialize(&mut **self)
    }
    fn end(self) -> Done {
        Ok(())
    }
}
