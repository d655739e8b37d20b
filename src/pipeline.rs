//! The pipeline every entry point runs: intents → effects → facts → verdict. The shims, the
//! hooks, `check`, the guarded shell and the `init` snippets all judge through here.
//!
//! This module decides nothing itself (`policy::eval` does) and carries nothing out (`act`
//! does): it puts the stages in order. The effects stage's only I/O is the dry run of a
//! `find` (the real find, with its actions replaced: nothing is changed) and reading the
//! packages' scripts for what a purge deletes.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::time::Duration;

use crate::facts::find;
use crate::facts::fs::probe_rm;
use crate::intent::lex::LexError;
use crate::intent::line::{Shell, changes_files, parse_line};
use crate::intent::{Arg, FileEffect, FileOp, FilesIntent, FindIntent, Intent, RmIntent, Via};
use crate::policy::eval::{Probed, evaluate};
use crate::policy::load::{self, Source};
use crate::policy::{Environment, Policy, Verdict};

/// How many matches a find dry run may report before gardefou assumes the worst.
pub const FIND_LIMIT: usize = 100_000;
/// How long a find dry run may take before gardefou assumes the worst.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(10);

/// What the judged command or line is, with the verdict on it.
pub struct Judged {
    pub intents: Vec<Intent>,
    pub verdict: Verdict,
    /// The physical paths of the effects that reach a protected path: what the read-only net
    /// leaves writable once the operator confirmed them.
    pub touched: Vec<std::path::PathBuf>,
}

/// The physical paths of the targets that reach a protected path.
pub fn touched(probed: &[Probed]) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = Vec::new();
    for p in probed {
        for t in &p.targets {
            if let crate::facts::fs::Effect::Reaches { entry, hits } = &t.effect
                && !hits.is_empty()
            {
                let phys = crate::net::physical(entry);
                if !out.contains(&phys) {
                    out.push(phys);
                }
            }
        }
    }
    out
}

/// Everything a verdict depends on besides the command: the policy (and why it is the
/// built-in default, if it is), the environment and the host.
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub env: &'a Environment,
    pub host: &'a str,
    /// Why the policy or the environment is a fallback: every deletion then asks.
    pub error: Option<&'a str>,
    /// The judged line will run under the read-only net (the guarded shell, `gardefou run`,
    /// root with the net on): an append into a tree it holds is asked about before it runs.
    pub net: bool,
    /// Ask the database server how many rows a DELETE, UPDATE, TRUNCATE or DROP TABLE touches
    /// (`gardefou check`; the shims ask for themselves when the command runs).
    pub ask_db: bool,
}

/// A policy, and the error that made it the embedded default instead of the configured one.
#[derive(Clone)]
pub struct Loaded {
    pub policy: Policy,
    pub error: Option<String>,
}

/// Loads the policy; on any error falls back to the embedded default and says why. The caller
/// must pass the error on to `evaluate`, which then never allows a deletion unconfirmed.
pub fn load_failsafe(explicit: Option<&Path>) -> Loaded {
    match load::sources(explicit).and_then(|s| load::load(&s)) {
        Ok(policy) => Loaded {
            policy,
            error: None,
        },
        Err(e) => Loaded {
            policy: load::load(&[Source::Embedded]).unwrap_or_default(),
            error: Some(e.to_string()),
        },
    }
}

/// The environment, or production when the policy's detect rules are broken.
pub fn environment(
    policy: &Policy,
    host: &str,
    forced: Option<&str>,
) -> (Environment, Option<String>) {
    match policy.environment(host, forced) {
        Ok(env) => (env, None),
        Err(e) => (
            Policy::fallback_environment("the environment rules are broken: treated as production"),
            Some(e.to_string()),
        ),
    }
}

/// Probes the facts every intent needs. `stdin`: what a database command would read on its
/// standard input, when known.
pub fn probe_all<'a>(
    intents: &'a [Intent],
    policy: &Policy,
    stdin: Option<&str>,
) -> Vec<Probed<'a>> {
    intents
        .iter()
        .map(|intent| Probed {
            intent,
            targets: match intent {
                Intent::Rm(r) => probe_rm(r, &policy.paths),
                Intent::Files(f) => crate::facts::fs::probe_files(f, &policy.paths),
                _ => Vec::new(),
            },
            packages: match intent {
                Intent::Apt(a) if a.changes => Some(crate::facts::apt::probe(a)),
                _ => None,
            },
            sql: match intent {
                Intent::Sql(q) if !q.info_only => Some(crate::facts::db::probe(q, stdin)),
                _ => None,
            },
        })
        .collect()
}

/// The verdict on what a command would do on this host: the rules' verdict, then, for a
/// command that a rule fired on, what the cluster says — a primary not in maintenance gets
/// `[cluster] on_primary`. An allowed command with no reason never asks the cluster anything.
pub fn verdict_here(
    probed: &[Probed],
    policy: &Policy,
    env: &Environment,
    policy_error: Option<&str>,
    host: &str,
) -> Verdict {
    let mut v = evaluate(probed, policy, env, policy_error);
    // A reboot, or a stop of a protected service, is asked about on a primary even when no rule
    // fired, and meets the maintenance lock.
    let down = probed.iter().any(|p| match p.intent {
        Intent::Host(h) => crate::policy::eval::takes_down(h, policy, env),
        _ => false,
    });
    if down {
        lock_check(&mut v, policy, host);
    }
    if (v.reasons.is_empty() && !v.snapshot && !down) || policy.cluster.is_none() {
        return v;
    }
    let settings = crate::cluster::Settings::of(policy.cluster.as_ref());
    match crate::act::maintenance::current(&settings.state_file) {
        Ok(Some(state)) => {
            v.notes.push(state.describe());
            return v;
        }
        Ok(None) => {}
        Err(e) => v.notes.push(e.to_string()),
    }
    match crate::cluster::from_policy(policy.cluster.as_ref(), host).and_then(|a| match a {
        Some(a) => a.status().map(Some),
        None => Ok(None),
    }) {
        Ok(Some(status)) => {
            if let Some((decision, why)) = crate::cluster::on_primary(&status, settings.on_primary)
            {
                // The shims ask the cluster again for what they judge.
                let deferred = v.all_deferred();
                v.raise(decision, crate::cluster::ON_PRIMARY_RULE, why);
                if let Some(r) = v.reasons.last_mut() {
                    r.deferred = deferred;
                }
            }
        }
        Ok(None) => {}
        Err(e) => v
            .notes
            .push(format!("the cluster's role of this node is unknown: {e}")),
    }
    v
}

/// A command that takes this host or a protected service down, while another host of the
/// group holds the last maintenance slot, is refused; a lock that cannot be read asks.
fn lock_check(v: &mut Verdict, policy: &Policy, host: &str) {
    use crate::cluster::lock;
    let recorded = crate::act::maintenance::recorded_group(policy);
    let Some(l) = lock::of_policy(policy, host, recorded.as_deref()) else {
        return;
    };
    let me = policy.host_name();
    let deferred = v.all_deferred();
    match l.and_then(|l| l.read()) {
        Ok(slots) => {
            if let Some(why) = lock::blocks(&slots, &me) {
                v.raise(crate::policy::Decision::Deny, lock::RULE, why);
            } else {
                v.notes
                    .push(format!("maintenance lock: {}", slots.describe()));
                return;
            }
        }
        Err(e) => v.raise(
            crate::policy::Decision::Confirm,
            lock::RULE,
            format!("{e}: whether another host of the group is down cannot be known"),
        ),
    }
    if let Some(r) = v.reasons.last_mut() {
        r.deferred = deferred;
    }
}

/// The effects stage's facts: a purge adds the deletion of its data, a find is replaced by
/// what its dry run reaches.
pub fn resolve_effects(intents: &mut Vec<Intent>, policy: &Policy) {
    crate::facts::apt::add_purge_deletions(intents, policy);
    let mut out = Vec::with_capacity(intents.len());
    for intent in intents.drain(..) {
        match intent {
            Intent::Find(f) => out.extend(resolve_find(f)),
            other => out.push(other),
        }
    }
    *intents = out;
}

/// Judges intents already parsed.
pub fn judge(ctx: &Context, mut intents: Vec<Intent>, stdin: Option<&str>) -> Judged {
    resolve_effects(&mut intents, ctx.policy);
    if !ctx.net {
        for i in &mut intents {
            if let Intent::Files(f) = i {
                f.effects.retain(|e| e.op != FileOp::Append);
            }
        }
    }
    let mut probed = probe_all(&intents, ctx.policy, stdin);
    if ctx.ask_db {
        for p in &mut probed {
            if let (Intent::Sql(q), Some(f)) = (p.intent, p.sql.as_mut()) {
                crate::facts::stake::ask(q, f, ctx.policy, ctx.env);
            }
        }
    }
    let verdict = verdict_here(&probed, ctx.policy, ctx.env, ctx.error, ctx.host);
    let touched = touched(&probed);
    drop(probed);
    Judged {
        intents,
        verdict,
        touched,
    }
}

/// Parses a shell line and judges it.
pub fn judge_line(ctx: &Context, line: &[u8], shell: &mut Shell) -> Result<Judged, LexError> {
    let intents = parse_line(line, shell)?;
    Ok(judge(ctx, intents, None))
}

/// A find, as what its dry run reaches; the fallback (anything under its start points) when
/// no dry run can be made or it was cut short.
fn resolve_find(f: FindIntent) -> Vec<Intent> {
    let args: Option<Vec<OsString>> = f.args.iter().map(|a| a.known().cloned()).collect();
    let (Some(args), Some(cwd)) = (args, f.cwd.as_deref()) else {
        return f.fallback;
    };
    let is_effect = |words: &[OsString]| changes_files(words);
    let Ok(dry) = find::dry_run_args(&args, &is_effect) else {
        return f.fallback;
    };
    match find::run(&dry, cwd, FIND_LIMIT, FIND_TIMEOUT) {
        Ok(m) if m.truncated.is_none() => reached(&f, cwd, &m.paths, &dry.writes),
        _ => f.fallback,
    }
}

/// `{}` in `word` replaced by `path`, as find does.
fn substitute(word: &Arg, path: &Path) -> Arg {
    let Arg::Known(w) = word else {
        return word.clone();
    };
    let b = w.as_bytes();
    let p = path.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(b.len() + p.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"{}") {
            out.extend_from_slice(p);
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Arg::Known(OsString::from_vec(out))
}

fn has_braces(a: &Arg) -> bool {
    a.known()
        .is_some_and(|w| w.as_bytes().windows(2).any(|p| p == b"{}"))
}

/// The intents of a find whose matches are known: `-delete` deletes each match, each
/// `-exec CMD {}` runs CMD on each, `-fprint FILE` overwrites FILE.
fn reached(
    f: &FindIntent,
    cwd: &Path,
    matches: &[std::path::PathBuf],
    writes: &[OsString],
) -> Vec<Intent> {
    let mut out = Vec::new();
    let files = |program: &str, effects: Vec<FileEffect>| {
        Intent::Files(FilesIntent {
            program: program.to_owned(),
            effects,
            cwd: Some(cwd.to_owned()),
            text: f.text.clone(),
        })
    };
    if f.deletes && !matches.is_empty() {
        out.push(files(
            "find -delete",
            matches
                .iter()
                .map(|m| {
                    FileEffect::new(
                        FileOp::Delete { recursive: false },
                        Arg::Known(m.clone().into_os_string()),
                    )
                })
                .collect(),
        ));
    }
    if !writes.is_empty() {
        out.push(files(
            "find -fprint",
            writes
                .iter()
                .map(|w| FileEffect {
                    follow: true,
                    ..FileEffect::new(FileOp::Overwrite, Arg::Known(w.clone()))
                })
                .collect(),
        ));
    }
    if matches.is_empty() {
        return out;
    }
    for exec in &f.execs {
        match exec {
            Intent::Rm(r) => {
                let mut operands = Vec::new();
                for o in &r.operands {
                    if has_braces(o) {
                        operands.extend(matches.iter().map(|m| substitute(o, m)));
                    } else {
                        operands.push(o.clone());
                    }
                }
                out.push(Intent::Rm(RmIntent {
                    via: Via::FindExecRm,
                    operands,
                    ..r.clone()
                }));
            }
            Intent::Files(x) => {
                let mut effects = Vec::new();
                for e in &x.effects {
                    if has_braces(&e.target) {
                        effects.extend(matches.iter().map(|m| FileEffect {
                            target: substitute(&e.target, m),
                            ..e.clone()
                        }));
                    } else {
                        effects.push(e.clone());
                    }
                }
                out.push(Intent::Files(FilesIntent {
                    effects,
                    ..x.clone()
                }));
            }
            other => out.push(other.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_are_replaced_wherever_they_stand() {
        let p = Path::new("/var/log/a b.gz");
        assert_eq!(
            substitute(&Arg::Known("{}".into()), p),
            Arg::Known("/var/log/a b.gz".into())
        );
        assert_eq!(
            substitute(&Arg::Known("x{}y{}".into()), Path::new("/z")),
            Arg::Known("x/zy/z".into())
        );
    }
}
