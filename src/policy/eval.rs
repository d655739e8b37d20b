//! Verdicts: a pure function of intents, their facts, the policy and the environment.
//!
//! Nothing here touches the system, so every combination is unit-tested without a disk.

use serde::{Deserialize, Serialize};

use super::schema::{Action, Contents, SqlStatement};
use super::{Environment, PathRule, Policy, applies_in};
use crate::facts::apt::PackageFacts;
use crate::facts::db::SqlFacts;
use crate::facts::fs::{Effect, Relation, TargetFacts, show};
use crate::intent::apt::AptIntent;
use crate::intent::host::HostIntent;
use crate::intent::{FileOp, Intent, Via};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Confirm,
    Deny,
}

impl Decision {
    /// The word for it, as the JSON audit entry and the system log spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Confirm => "confirm",
            Decision::Deny => "deny",
        }
    }

    /// Exit status of `gardefou check` (DESIGN.md contract).
    pub fn check_exit_code(self) -> i32 {
        match self {
            Decision::Allow => 0,
            Decision::Confirm => 3,
            Decision::Deny => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: String,
    pub message: String,
    /// The decision this reason asks for.
    #[serde(skip, default = "allow")]
    pub decision: Decision,
    /// A shim judges the same effect again when the command runs (`rm`, `psql`… reached by
    /// name), so a caller that cannot ask may leave the asking to it.
    #[serde(skip)]
    pub deferred: bool,
}

fn allow() -> Decision {
    Decision::Allow
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub snapshot: bool,
    pub reasons: Vec<Reason>,
    /// What a `confirm_with = "target"` confirmation asks the operator to type.
    #[serde(skip)]
    pub target: Option<String>,
    /// Facts worth showing that decide nothing ("rm would fail: no such file").
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Verdict {
    pub fn allow() -> Self {
        Verdict {
            decision: Decision::Allow,
            snapshot: false,
            reasons: Vec::new(),
            target: None,
            notes: Vec::new(),
        }
    }

    /// Adds a reason, raising the decision to at least `decision`.
    pub fn raise(&mut self, decision: Decision, rule: &str, message: String) {
        self.decision = self.decision.max(decision);
        self.reasons.push(Reason {
            rule: rule.to_owned(),
            message,
            decision,
            deferred: false,
        });
    }

    /// Whether every reason that asks for more than an allowance will be judged again by a
    /// shim when the command runs.
    pub fn all_deferred(&self) -> bool {
        self.reasons
            .iter()
            .all(|r| r.decision == Decision::Allow || r.deferred)
    }
}

/// An intent with the facts probed for it (`None` for intents that need none).
pub struct Probed<'a> {
    pub intent: &'a Intent,
    pub targets: Vec<TargetFacts>,
    /// For a package command: what it would really do.
    pub packages: Option<PackageFacts>,
    /// For a database command: where it connects and what its SQL does.
    pub sql: Option<SqlFacts>,
}

fn verb(via: Via) -> &'static str {
    match via {
        Via::Rm => "rm",
        Via::FindDelete => {
            "find -delete (no dry run could be made: anything under its start points)"
        }
        Via::FindExecRm => "find -exec rm",
        Via::XargsRm => "xargs rm",
        Via::Purge => "the purge",
    }
}

/// The verdict for everything a command or line would do. The strictest decision wins and
/// every reason is kept. `policy_error`, when the policy could not be loaded (the caller then
/// passes the embedded default), makes every deletion need at least a confirmation.
pub fn evaluate(
    items: &[Probed],
    policy: &Policy,
    env: &Environment,
    policy_error: Option<&str>,
) -> Verdict {
    let mut v = Verdict::allow();
    let mut deletes_something = false;
    for item in items {
        let first = v.reasons.len();
        // The shims that judge this item again at run time when it is reached by name.
        let deferred = match item.intent {
            // find ignores what `-exec rm … ;` returns: a refusal by the rm shim would not
            // stop the line, so find's deletions are decided before it runs.
            Intent::Rm(r) => !matches!(r.via, Via::FindDelete | Via::FindExecRm),
            Intent::Apt(_) | Intent::Sql(_) | Intent::Host(_) => true,
            Intent::Files(_) | Intent::Find(_) | Intent::Opaque { .. } | Intent::Other { .. } => {
                false
            }
        };
        match item.intent {
            Intent::Rm(rm) => {
                if let Some(e) = &rm.usage_error {
                    v.notes.push(format!(
                        "{}: rm would refuse its arguments and delete nothing: {e}",
                        rm.text
                    ));
                }
                let how = How {
                    verb: verb(rm.via),
                    can_snapshot: rm.via != Via::FindDelete,
                };
                deletes_something |= path_targets(&mut v, &how, &item.targets, policy, env);
            }
            Intent::Files(f) => {
                let how = How {
                    verb: &f.program,
                    can_snapshot: false,
                };
                deletes_something |= path_targets(&mut v, &how, &item.targets, policy, env);
            }
            Intent::Find(f) => {
                // Unresolved (no dry run was attempted): anything under its roots.
                v.raise(
                    Decision::Confirm,
                    "gardefou:unresolved-target",
                    format!("`{}`: what it reaches is not known before it runs", f.text),
                );
                deletes_something = true;
            }
            Intent::Apt(apt) => {
                if let Some(facts) = &item.packages {
                    deletes_something |= facts.changes.iter().any(|c| c.change.removes());
                    packages(&mut v, apt, facts, policy, env);
                }
            }
            Intent::Sql(q) => {
                if let Some(facts) = &item.sql {
                    deletes_something |= !facts.found.is_empty();
                    sql(&mut v, &q.text, facts, policy, env);
                }
            }
            Intent::Opaque { text, why } => {
                deletes_something = true;
                v.raise(
                    Decision::Confirm,
                    "gardefou:opaque-command",
                    format!("`{text}`: {why}; it cannot be checked before it runs"),
                );
            }
            Intent::Host(h) => {
                deletes_something |= takes_down(h, policy, env);
                host(&mut v, h, policy, env);
            }
            Intent::Other { .. } => {}
        }
        for r in &mut v.reasons[first..] {
            r.deferred = deferred;
        }
    }
    if let (Some(err), true) = (policy_error, deletes_something) {
        v.raise(
            Decision::Confirm,
            "gardefou:policy-error",
            format!("the policy could not be loaded ({err}); the built-in default policy was used and every deletion needs confirmation"),
        );
        let deferred = v.all_deferred();
        if let Some(r) = v.reasons.last_mut() {
            r.deferred = deferred;
        }
    }
    v
}

/// How a command reaches its targets, for messages and snapshots.
struct How<'a> {
    /// The command as messages name it (`rm`, `find -delete`, `mv`, `>`).
    verb: &'a str,
    /// A shim will carry out a snapshot the rule asks for (rm does; a redirection cannot).
    can_snapshot: bool,
}

/// What a rule asks for this hit: its `action` for what loses the protected path itself (or a
/// tree holding it), its `contents` for a change inside the tree. An owner or mode change is a
/// confirmation at most: the data stays, the service may break.
pub fn rule_asks(rule: &PathRule, relation: Relation, keeps_entry: bool, op: FileOp) -> Contents {
    let asked = match relation {
        Relation::Within => rule.contents,
        Relation::Itself if keeps_entry => rule.contents,
        _ => rule.action.into(),
    };
    match (op, asked) {
        (FileOp::ChangeMode, Contents::Deny | Contents::Snapshot) => Contents::Confirm,
        (_, asked) => asked,
    }
}

fn op_words(op: FileOp) -> (&'static str, &'static str) {
    match op {
        FileOp::Delete { .. } => ("would delete", "delete"),
        FileOp::MoveAway => ("moves away", "move away"),
        FileOp::Overwrite => ("overwrites", "overwrite"),
        FileOp::Append => ("appends to (read-only under the net)", "append to"),
        FileOp::WriteInto { deletes: true } => {
            ("overwrites or deletes files in", "overwrite or delete")
        }
        FileOp::WriteInto { deletes: false } => ("writes into", "overwrite"),
        FileOp::ChangeMode => (
            "changes the owner or mode of",
            "change the owner or mode of",
        ),
    }
}

/// The path rules that fire for a command's targets. Returns whether it changes anything.
fn path_targets(
    v: &mut Verdict,
    how: &How,
    targets: &[TargetFacts],
    policy: &Policy,
    env: &Environment,
) -> bool {
    let verb = how.verb;
    let mut changes = false;
    for t in targets {
        match &t.effect {
            Effect::Nothing(why) => v
                .notes
                .push(format!("{verb} `{}`: nothing changed ({why})", t.operand)),
            Effect::Unknown(why) => {
                changes = true;
                v.raise(
                    Decision::Confirm,
                    "gardefou:unresolved-target",
                    format!(
                        "{verb} `{}`: what it {} cannot be known before it runs ({why})",
                        t.operand,
                        match t.op {
                            FileOp::Delete { .. } => "deletes",
                            _ => "changes",
                        }
                    ),
                );
            }
            Effect::Reaches { entry, hits } => {
                changes = true;
                let resolved = if show(entry) == t.operand.trim_end_matches('/') {
                    String::new()
                } else {
                    format!(" (it resolves to {})", show(entry))
                };
                let (does, to) = op_words(t.op);
                for hit in hits {
                    let rule = &policy.paths[hit.rule];
                    if !applies_in(&rule.environments, &env.name) {
                        continue;
                    }
                    let asked = rule_asks(rule, hit.relation, t.keeps_entry, t.op);
                    if asked == Contents::Allow {
                        continue;
                    }
                    let why = rule.reason.as_deref().unwrap_or("protected path");
                    let what = match hit.relation {
                        Relation::Itself if t.keeps_entry => format!(
                            "{verb} `{}` {does} a protected tree{resolved}: {why}",
                            t.operand
                        ),
                        Relation::Itself => match t.op {
                            FileOp::Delete { .. } => format!(
                                "{verb} `{}` would delete a protected path{resolved}: {why}",
                                t.operand
                            ),
                            FileOp::MoveAway => format!(
                                "{verb} `{}` moves a protected tree away{resolved}: {why}",
                                t.operand
                            ),
                            _ => format!(
                                "{verb} `{}` {does} a protected path{resolved}: {why}",
                                t.operand
                            ),
                        },
                        Relation::Inside => format!(
                            "{verb} `{}` would {to} {} inside it{resolved}: {why}",
                            t.operand,
                            show(&hit.path)
                        ),
                        Relation::Within => format!(
                            "{verb} `{}` {does} {}, inside the protected tree {}: {why}",
                            t.operand,
                            show(entry),
                            show(&hit.path)
                        ),
                        Relation::Uninspected => format!(
                            "{verb} `{}`: its tree is too large to inspect for {} (over {} entries); assumed to hold it: {why}",
                            t.operand,
                            rule.path,
                            crate::facts::fs::WALK_LIMIT
                        ),
                    };
                    let id = format!("{} (line {})", rule.id, rule.line);
                    let snapshot_too = rule.snapshot || asked == Contents::Snapshot;
                    match asked {
                        Contents::Deny => v.raise(Decision::Deny, &id, what),
                        Contents::Confirm | Contents::Snapshot if snapshot_too && !how.can_snapshot => {
                            v.raise(
                                Decision::Confirm,
                                &id,
                                format!("{what} (the rule asks for a snapshot, which gardefou cannot take for `{verb}`: confirm instead)"),
                            )
                        }
                        Contents::Confirm if snapshot_too => {
                            v.snapshot = true;
                            v.raise(Decision::Confirm, &id, format!("{what} (snapshot first)"));
                        }
                        Contents::Confirm => v.raise(Decision::Confirm, &id, what),
                        Contents::Snapshot => {
                            v.snapshot = true;
                            v.raise(Decision::Allow, &id, format!("{what} (snapshot first)"));
                        }
                        Contents::Allow => {}
                    }
                    if v.target.is_none() {
                        v.target = Some(show(entry));
                    }
                }
            }
        }
    }
    changes
}

/// The package rules that fire for what a package command would really do. A package removed
/// without being asked for is named with its cause: the chain of dependencies to the package
/// that was asked for.
fn packages(
    v: &mut Verdict,
    apt: &AptIntent,
    facts: &PackageFacts,
    policy: &Policy,
    env: &Environment,
) {
    if let Some(why) = &facts.unknown {
        v.notes.push(format!("{}: {why}", apt.text));
    }
    let mut changes = facts.changes.clone();
    // A preview that failed still knows what was named.
    if facts.unknown.is_some() {
        for name in &apt.remove {
            if !changes.iter().any(|c| &c.package == name) {
                changes.extend(
                    crate::facts::apt::for_dpkg(apt)
                        .changes
                        .into_iter()
                        .filter(|c| &c.package == name),
                );
            }
        }
    }
    let matchers = super::PackageMatchers::new(policy);
    for c in &changes {
        for (n, rule) in policy.packages.iter().enumerate() {
            if !applies_in(&rule.environments, &env.name)
                || !c.change.matches(&rule.on)
                || !matchers.matches(n, &c.package)
            {
                continue;
            }
            let why = rule.reason.as_deref().unwrap_or("protected package");
            let cause = match facts.because.get(&c.package) {
                Some(chain) if chain.len() > 1 => {
                    let asked = chain.last().map(String::as_str).unwrap_or("");
                    let verb = if apt.purge { "purge" } else { "remove" };
                    format!(
                        " because you asked to {verb} {asked} ({})",
                        chain
                            .windows(2)
                            .map(|w| format!("{} depends on {}", w[0], w[1]))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
                _ if c.change.removes()
                    && !apt.remove.contains(&c.package)
                    && !apt.remove.is_empty() =>
                {
                    format!(" as a consequence of `{}`", apt.text)
                }
                _ => String::new(),
            };
            let what = format!("{} will be {}{cause}: {why}", c.package, c.change.word());
            let id = format!("{} (line {})", rule.id, rule.line);
            match rule.action {
                Action::Deny => v.raise(Decision::Deny, &id, what),
                Action::Confirm => v.raise(Decision::Confirm, &id, what),
                Action::Snapshot => v.raise(
                    Decision::Allow,
                    &id,
                    format!("{what} (its data is snapshotted first)"),
                ),
            }
            if v.target.is_none() {
                v.target = Some(c.package.clone());
            }
        }
    }
}

fn statement_words(k: SqlStatement) -> &'static str {
    match k {
        SqlStatement::DropDatabase => "drops the database",
        SqlStatement::DropTable => "drops the table",
        SqlStatement::DropSchema => "drops the schema",
        SqlStatement::Truncate => "empties (TRUNCATE) the table",
        SqlStatement::DeleteWithoutWhere => "deletes every row (DELETE without WHERE) of",
        SqlStatement::UpdateWithoutWhere => "rewrites every row (UPDATE without WHERE) of",
        SqlStatement::Delete => "deletes rows of",
        SqlStatement::Update => "rewrites rows of",
        SqlStatement::AlterDropColumn => "drops a column of",
        SqlStatement::Flushall => "flushes every key of every database (FLUSHALL)",
        SqlStatement::Flushdb => "flushes every key (FLUSHDB)",
        SqlStatement::Del => "deletes the keys",
        SqlStatement::ConfigSet => "changes the server's configuration (CONFIG SET)",
        SqlStatement::Shutdown => "shuts the server down",
        SqlStatement::Replicaof => "makes the server a replica (its data is replaced) of",
        SqlStatement::Unknown => "runs code whose effect cannot be known before it runs",
    }
}

/// The SQL rules that fire for a database command's destructive statements. A statement of
/// unknown effect fires every rule that applies to the database (fail safe).
fn sql(v: &mut Verdict, text: &str, facts: &SqlFacts, policy: &Policy, env: &Environment) {
    v.notes.extend(facts.notes.iter().cloned());
    for (n, found) in facts.found.iter().enumerate() {
        let stake = facts.stakes.get(n).and_then(Option::as_ref);
        // The database the statement acts in: named by the SQL (MySQL `db.t`, `USE`), else
        // the one the command connects to; unknown (empty) matches every rule.
        let database = found.database.as_deref().unwrap_or(&facts.database);
        for rule in &policy.sql {
            let db_matches = facts.whole_cluster
                || database.is_empty()
                || globset::Glob::new(&rule.database)
                    .map_or(true, |g| g.compile_matcher().is_match(database));
            if rule.engine != facts.engine
                || !applies_in(&rule.environments, &env.name)
                || !db_matches
                || !(rule.statements.contains(&found.kind) || found.kind == SqlStatement::Unknown)
            {
                continue;
            }
            // A qualified DELETE/UPDATE under a limit fires only above it; figures that are not
            // known fire it (fail safe), and say so.
            let limited = matches!(found.kind, SqlStatement::Delete | SqlStatement::Update)
                && (rule.max_rows.is_some() || rule.max_fraction.is_some());
            // No server where the command connects: it cannot run the statement either.
            if limited && stake.is_some_and(|s| s.unreachable) {
                continue;
            }
            if limited
                && let Some(s) = stake.filter(|s| s.unknown.is_none())
                && !(rule.max_rows.is_some_and(|m| s.rows.is_none_or(|r| r > m))
                    || rule
                        .max_fraction
                        .is_some_and(|m| s.fraction().is_none_or(|f| f > m)))
            {
                continue;
            }
            let figures = match stake {
                Some(s) => format!(" ({})", s.describe()),
                None if limited => " (the rows at stake were not counted)".to_owned(),
                None => String::new(),
            };
            let limits = if limited {
                let mut l = Vec::new();
                if let Some(m) = rule.max_rows {
                    l.push(format!("{} rows", crate::facts::stake::grouped(m)));
                }
                if let Some(f) = rule.max_fraction {
                    l.push(format!("{}% of the table", f * 100.0));
                }
                format!(" [over the rule's limit: {}]", l.join(" or "))
            } else {
                String::new()
            };
            let why = rule.reason.as_deref().unwrap_or("protected database");
            let object = found
                .object
                .as_deref()
                .map(|o| format!(" {o}"))
                .unwrap_or_default();
            let place = if found.line > 1 {
                format!(" (line {})", found.line)
            } else {
                String::new()
            };
            let cascade = if found.cascade { " with CASCADE" } else { "" };
            let keywords = if found.by_keywords {
                " [found by keyword scan: the parser could not read it]"
            } else {
                ""
            };
            let place_db = if matches!(
                found.kind,
                SqlStatement::DropDatabase
                    | SqlStatement::Flushall
                    | SqlStatement::ConfigSet
                    | SqlStatement::Shutdown
                    | SqlStatement::Replicaof
            ) {
                String::new()
            } else if database.is_empty() {
                " in the default database (none named)".to_owned()
            } else {
                format!(" in database {database}")
            };
            let what = format!(
                "`{text}` {}{object}{cascade}{place_db}{place}{figures}{limits}{keywords}: {why}",
                statement_words(found.kind),
            );
            let id = format!("{} (line {})", rule.id, rule.line);
            match rule.action {
                Action::Deny => v.raise(Decision::Deny, &id, what),
                Action::Confirm if rule.snapshot => {
                    v.snapshot = true;
                    v.raise(Decision::Confirm, &id, format!("{what} (snapshot first)"));
                }
                Action::Confirm => v.raise(Decision::Confirm, &id, what),
                Action::Snapshot => {
                    v.snapshot = true;
                    v.raise(Decision::Allow, &id, format!("{what} (snapshot first)"));
                }
            }
            if v.target.is_none() && !database.is_empty() {
                v.target = Some(database.to_owned());
            }
        }
    }
}

/// Whether a host command takes the host down (any power command) or stops, restarts… a unit
/// a `[[protect.service]]` rule of this environment names — even with an operation its `on`
/// leaves out (a restart): that still meets `[cluster] on_primary` and the maintenance lock.
pub fn takes_down(h: &HostIntent, policy: &Policy, env: &Environment) -> bool {
    h.power.is_some()
        || policy.services.iter().any(|rule| {
            applies_in(&rule.environments, &env.name)
                && h.services.iter().any(|(unit, _)| rule.names(unit))
        })
}

/// The `[[protect.power]]` and `[[protect.service]]` rules that fire for a host command.
fn host(v: &mut Verdict, h: &HostIntent, policy: &Policy, env: &Environment) {
    let decision = |a: Action| match a {
        Action::Deny => Decision::Deny,
        _ => Decision::Confirm,
    };
    let elsewhere = if h.remote {
        " (on the host it names, judged as here)"
    } else {
        ""
    };
    if let Some(op) = h.power {
        for rule in &policy.power {
            if !applies_in(&rule.environments, &env.name) || !rule.on.contains(&op) {
                continue;
            }
            let why = rule.reason.as_deref().unwrap_or("the whole host goes down");
            v.raise(
                decision(rule.action),
                &format!("{} (line {})", rule.id, rule.line),
                format!(
                    "`{}` is a {} of this host{elsewhere}: {why}",
                    h.text,
                    op.name()
                ),
            );
        }
    }
    for rule in &policy.services {
        if !applies_in(&rule.environments, &env.name) {
            continue;
        }
        for (unit, op) in &h.services {
            if !(rule.on.contains(op) && rule.names(unit)) {
                continue;
            }
            let why = rule.reason.as_deref().unwrap_or("protected service");
            v.raise(
                decision(rule.action),
                &format!("{} (line {})", rule.id, rule.line),
                format!(
                    "`{}` would {} {}{elsewhere}: {why}",
                    h.text,
                    op.name(),
                    unit.display()
                ),
            );
        }
    }
}

/// Which targets must be snapshotted before the command runs: `(item, target)` indexes of every
/// target that reaches a rule asking for a snapshot in this environment.
pub fn snapshot_targets(
    items: &[Probed],
    policy: &Policy,
    env: &Environment,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        for (t, target) in item.targets.iter().enumerate() {
            let Effect::Reaches { hits, .. } = &target.effect else {
                continue;
            };
            let wants = hits.iter().any(|h| {
                let rule = &policy.paths[h.rule];
                let asked = rule_asks(rule, h.relation, target.keeps_entry, target.op);
                applies_in(&rule.environments, &env.name)
                    && (asked == Contents::Snapshot
                        || (asked == Contents::Confirm && rule.snapshot))
            });
            if wants {
                out.push((i, t));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::fs::Hit;
    use crate::intent::{Arg, RmIntent, RmOptions};
    use crate::policy::PathRule;
    use std::path::PathBuf;

    fn policy(actions: &[(Action, Option<&str>)]) -> Policy {
        Policy {
            paths: actions
                .iter()
                .enumerate()
                .map(|(i, (a, env))| PathRule {
                    id: format!("p.toml:protect.path#{}", i + 1),
                    line: i + 3,
                    path: format!("/p{i}"),
                    action: *a,
                    snapshot: false,
                    contents: (*a).into(),
                    net: true,
                    reason: Some(format!("reason {i}")),
                    environments: env.map(|e| vec![e.to_owned()]),
                })
                .collect(),
            ..Policy::default()
        }
    }

    fn rm() -> Intent {
        Intent::Rm(RmIntent {
            via: Via::Rm,
            options: RmOptions::default(),
            operands: vec![Arg::Known("/x".into())],
            cwd: None,
            usage_error: None,
            text: "rm /x".into(),
        })
    }

    fn removes(rules: &[usize]) -> Vec<TargetFacts> {
        vec![TargetFacts {
            operand: "/x".into(),
            effect: Effect::Reaches {
                entry: PathBuf::from("/x"),
                hits: rules
                    .iter()
                    .map(|&rule| Hit {
                        rule,
                        path: PathBuf::from(format!("/x/p{rule}")),
                        relation: Relation::Inside,
                    })
                    .collect(),
            },
            op: FileOp::Delete { recursive: true },
            keeps_entry: false,
        }]
    }

    #[test]
    fn contents_decides_inside_the_tree_and_action_for_the_tree_itself() {
        let mut rule = policy(&[(Action::Deny, None)]).paths.remove(0);
        rule.contents = Contents::Allow;
        let del = FileOp::Delete { recursive: true };
        assert_eq!(
            rule_asks(&rule, Relation::Within, false, del),
            Contents::Allow
        );
        assert_eq!(
            rule_asks(&rule, Relation::Itself, false, del),
            Contents::Deny
        );
        assert_eq!(
            rule_asks(&rule, Relation::Inside, false, FileOp::MoveAway),
            Contents::Deny
        );
        let into = FileOp::WriteInto { deletes: true };
        assert_eq!(
            rule_asks(&rule, Relation::Itself, true, into),
            Contents::Allow
        );
        rule.contents = Contents::Deny;
        assert_eq!(
            rule_asks(&rule, Relation::Within, false, FileOp::ChangeMode),
            Contents::Confirm,
            "an owner or mode change is a confirmation at most"
        );
        assert_eq!(
            rule_asks(&rule, Relation::Itself, true, FileOp::ChangeMode),
            Contents::Confirm
        );
    }

    #[test]
    fn a_confirmation_for_a_file_change_is_not_left_to_a_shim() {
        let p = policy(&[(Action::Confirm, None)]);
        let files = Intent::Files(crate::intent::FilesIntent {
            program: "mv".into(),
            effects: Vec::new(),
            cwd: None,
            text: "mv /x /y".into(),
        });
        let probed = [Probed {
            intent: &files,
            targets: removes(&[0]),
            packages: None,
            sql: None,
        }];
        let v = evaluate(&probed, &p, &env("production"), None);
        assert_eq!(v.decision, Decision::Confirm);
        assert!(!v.all_deferred());
        let r = rm();
        let probed = [Probed {
            intent: &r,
            targets: removes(&[0]),
            packages: None,
            sql: None,
        }];
        let v = evaluate(&probed, &p, &env("production"), None);
        assert!(v.all_deferred(), "the rm shim asks again when rm runs");
    }

    fn env(name: &str) -> Environment {
        Policy::default().environment("h", Some(name)).unwrap()
    }

    fn verdict(p: &Policy, hits: &[usize], envname: &str, err: Option<&str>) -> Verdict {
        let i = rm();
        evaluate(
            &[Probed {
                packages: None,
                sql: None,
                intent: &i,
                targets: removes(hits),
            }],
            p,
            &env(envname),
            err,
        )
    }

    #[test]
    fn strictest_decision_wins_and_every_reason_is_reported() {
        let p = policy(&[
            (Action::Confirm, None),
            (Action::Deny, None),
            (Action::Snapshot, None),
        ]);
        let v = verdict(&p, &[0, 1, 2], "production", None);
        assert_eq!(v.decision, Decision::Deny);
        assert!(v.snapshot);
        assert_eq!(v.reasons.len(), 3);
        assert_eq!(v.reasons[1].rule, "p.toml:protect.path#2 (line 4)");
        assert!(v.reasons[1].message.contains("/x/p1 inside it"));
        assert!(v.reasons[1].message.contains("reason 1"));
    }

    #[test]
    fn snapshot_alone_allows_with_snapshot() {
        let p = policy(&[(Action::Snapshot, None)]);
        let v = verdict(&p, &[0], "production", None);
        assert_eq!((v.decision, v.snapshot), (Decision::Allow, true));
    }

    #[test]
    fn rules_limited_to_other_environments_do_not_fire() {
        let p = policy(&[(Action::Deny, Some("production"))]);
        assert_eq!(verdict(&p, &[0], "dev", None).decision, Decision::Allow);
        assert_eq!(
            verdict(&p, &[0], "production", None).decision,
            Decision::Deny
        );
    }

    #[test]
    fn no_hits_is_allow_without_reasons() {
        let v = verdict(&policy(&[]), &[], "production", None);
        assert_eq!(
            v,
            Verdict {
                target: None,
                ..Verdict::allow()
            }
        );
    }

    #[test]
    fn policy_error_never_allows_a_deletion() {
        let v = verdict(&policy(&[]), &[], "production", Some("bad toml"));
        assert_eq!(v.decision, Decision::Confirm);
        assert_eq!(v.reasons[0].rule, "gardefou:policy-error");
        let p = policy(&[(Action::Deny, None)]);
        assert_eq!(
            verdict(&p, &[0], "production", Some("x")).decision,
            Decision::Deny
        );
    }

    /// The verdict for one intent whose only operand has `effect`.
    fn single(
        intent: &Intent,
        effect: Option<Effect>,
        envname: &str,
        err: Option<&str>,
    ) -> Verdict {
        let targets = effect
            .map(|effect| TargetFacts {
                operand: "/t".into(),
                effect,
                op: FileOp::Delete { recursive: true },
                keeps_entry: false,
            })
            .into_iter()
            .collect();
        evaluate(
            &[Probed {
                intent,
                targets,
                packages: None,
                sql: None,
            }],
            &policy(&[]),
            &env(envname),
            err,
        )
    }

    #[test]
    fn unknown_targets_and_opaque_commands_need_confirmation() {
        let v = single(
            &rm(),
            Some(Effect::Unknown("xargs".into())),
            "production",
            None,
        );
        assert_eq!(v.decision, Decision::Confirm);
        let o = Intent::Opaque {
            text: "$(x) /".into(),
            why: "computed".into(),
        };
        assert_eq!(single(&o, None, "dev", None).decision, Decision::Confirm);
    }

    #[test]
    fn nothing_deleted_is_a_note_not_a_reason() {
        let v = single(
            &rm(),
            Some(Effect::Nothing("no such file".into())),
            "production",
            Some("e"),
        );
        assert_eq!(v.decision, Decision::Allow);
        assert_eq!(v.notes.len(), 1);
    }
}
