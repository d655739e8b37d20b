//! Running what the guarded shell or `gardefou run` runs under the read-only net: the command
//! in the foreground, its standard error watched, and afterwards the refusals the net made said
//! to the operator and written to the audit log.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::exec::run_foreground;
use super::guard::{Run, record};
use crate::net::watch::{Refusal, Watch, refusals};
use crate::net::{self, Tree};
use crate::outcome::Outcome;
use crate::policy::{Decision, Environment, Policy, Reason, Verdict};

/// How long the relay may still be read after the line ended (something it started in the
/// background may hold its standard error).
const GRACE: Duration = Duration::from_millis(200);

/// One command to run under the net.
pub(crate) struct Netted<'a> {
    pub policy: &'a Policy,
    pub env: &'a Environment,
    pub host: &'a str,
    /// For the audit entry: `gardefou-shell -c LINE`, `gardefou-run CMD…`.
    pub argv: &'a [OsString],
    /// What to tell the operator to override: the line or the command.
    pub text: &'a str,
}

/// The trees of the net for this policy, except those a confirmed effect reaches (`exempt`:
/// the paths the confirmed line changes).
pub(crate) fn trees_for(state: &net::State, exempt: &[PathBuf]) -> Vec<Tree> {
    match state {
        net::State::On(trees) => trees
            .iter()
            .filter(|t| {
                !exempt
                    .iter()
                    .any(|p| p.starts_with(&t.path) || t.path.starts_with(p))
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

impl Netted<'_> {
    /// Runs `program ARGS` (with `setup` applied to the command: environment, directory) under
    /// the net of `trees`, and returns its exit status. `to_the_end`: return only when nothing
    /// holds its standard error any more (a one-shot command, not a line of a session).
    pub fn run(
        &self,
        trees: &[Tree],
        program: &Path,
        args: &[OsString],
        to_the_end: bool,
        setup: impl FnOnce(&mut std::process::Command),
    ) -> i32 {
        let paths: Vec<&Path> = trees.iter().map(|t| t.path.as_path()).collect();
        let mut cmd = net::command(&paths, program, args);
        setup(&mut cmd);
        let watch = if trees.is_empty() {
            None
        } else {
            match Watch::attach(&mut cmd) {
                Ok(w) => Some(w),
                Err(e) => {
                    eprintln!(
                        "gardefou: warning: cannot watch this line's errors ({e}): a refusal by the read-only net will not be reported"
                    );
                    None
                }
            }
        };
        let status = run_foreground(cmd);
        if let Some(mut w) = watch {
            let found = refusals(&w.finish(GRACE), trees, self.text.as_bytes());
            if !found.is_empty() {
                self.report(&found, trees);
            }
            if to_the_end {
                w.until_closed();
            }
        }
        status
    }

    /// The refusals in what a watched standard error kept (`found`), said and audited.
    pub fn judge_found(&self, found: &[Vec<u8>], trees: &[Tree]) {
        let r = refusals(found, trees, self.text.as_bytes());
        if !r.is_empty() {
            self.report(&r, trees);
        }
    }

    /// Says what the net refused, and how to go through, and audits it.
    fn report(&self, found: &[Refusal], trees: &[Tree]) {
        let named: Vec<&Tree> = {
            let mut v: Vec<&Tree> = found.iter().filter_map(|r| r.tree.as_ref()).collect();
            v.sort_by(|a, b| a.path.cmp(&b.path));
            v.dedup_by(|a, b| a.path == b.path);
            v
        };
        let mut reasons = Vec::new();
        if named.is_empty() {
            // EROFS with no tree of the net in the message: maybe another read-only
            // filesystem; said, with what the net held.
            let held: Vec<String> = trees.iter().map(|t| t.path.display().to_string()).collect();
            eprintln!(
                "gardefou: a write was refused as \"read-only\"; if it was in a protected tree, the read-only net refused it (read-only for this line: {})",
                held.join(", ")
            );
            reasons.push(Reason {
                rule: "net".into(),
                message: format!(
                    "a write failed with EROFS ({}); read-only for this line: {}",
                    found[0].message,
                    held.join(", ")
                ),
                decision: Decision::Deny,
                deferred: false,
            });
        }
        for t in &named {
            let said = found
                .iter()
                .find(|r| r.tree.as_ref().is_some_and(|x| x.path == t.path))
                .map(|r| r.message.as_str())
                .unwrap_or_default();
            eprintln!(
                "gardefou: the read-only net refused a change in {} ({}): protected trees are read-only for what guarded lines run",
                net_name(t),
                t.reason
            );
            reasons.push(Reason {
                rule: t.rule.clone(),
                message: format!(
                    "read-only under the net: {} ({}); the program said: {said}",
                    net_name(t),
                    t.reason
                ),
                decision: Decision::Deny,
                deferred: false,
            });
        }
        eprintln!(
            "gardefou: to make that change deliberately: gardefou override --reason WHY -- {} (typed confirmation, audited)",
            self.text
        );
        let v = Verdict {
            decision: Decision::Deny,
            reasons,
            ..Verdict::allow()
        };
        record(
            self.policy,
            self.host,
            self.env,
            self.argv,
            &v,
            Run {
                outcome: Outcome::RefusedByNet,
                override_reason: None,
                snapshot_id: None,
            },
        );
    }
}

/// The tree as the operator knows it: its own name when a symlink led to it.
fn net_name(t: &Tree) -> String {
    if t.spelled == t.path {
        t.path.display().to_string()
    } else {
        format!("{} ({})", t.spelled.display(), t.path.display())
    }
}

/// The warning for a line that starts a server while the net is on.
pub(crate) fn warn_server(line: &str, trees: &[Tree]) {
    if trees.is_empty() {
        return;
    }
    if let Some(server) = net::starts_a_server(line) {
        eprintln!(
            "gardefou: note: this line starts {server}: it keeps this line's view, in which {} are read-only. Start it with systemctl (outside the net), or with gardefou override.",
            trees
                .iter()
                .map(|t| t.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// argv for the audit entry of a line.
pub(crate) fn argv_of(head: &str, rest: &[&OsStr]) -> Vec<OsString> {
    std::iter::once(OsString::from(head))
        .chain(rest.iter().map(|s| s.to_os_string()))
        .collect()
}
