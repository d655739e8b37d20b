//! Taking the snapshot a verdict asks for, right before the command runs.
//!
//! For rm, a target that rm would delete whole and silently is moved into the store (same
//! filesystem) and its operand is dropped from rm's arguments, so rm's exit status and messages
//! are what they would have been; anything else is copied and rm runs unchanged.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::error::Result;
use crate::facts::fs::{Effect, show};
use crate::intent::RmCommand;
use crate::intent::rm::Interactive;
use crate::policy::eval::{Probed, snapshot_targets};
use crate::policy::{Environment, Policy};
use crate::snapshot::{self, Planned, Request, store::Store};

/// A snapshot taken for a command.
pub struct Saved {
    pub id: String,
    /// Operands (positions in the rm command) that must not reach rm: their targets are gone.
    pub drop: Vec<usize>,
    /// What to tell the operator.
    pub message: String,
}

/// Whether rm would delete an operand whole without asking or printing anything, so that
/// moving it away first changes nothing the operator sees. rm asks with -i/-I, and without -f
/// for a write-protected file when its stdin is a terminal (never for root, who can write all).
fn rm_is_silent(cmd: &RmCommand) -> bool {
    let o = &cmd.options;
    !o.verbose
        && !matches!(o.interactive, Interactive::Always | Interactive::Once)
        && (o.force || nix::unistd::geteuid().is_root() || !std::io::stdin().is_terminal())
}

/// Snapshots every target of an rm command that a snapshot rule covers.
pub fn for_rm(
    policy: &Policy,
    env: &Environment,
    host: &str,
    probed: &[Probed],
    cmd: &RmCommand,
    text: &str,
) -> Result<Saved> {
    let silent = rm_is_silent(cmd);
    let entry_of = |t: usize| match probed.first().and_then(|p| p.targets.get(t)) {
        Some(tf) => match &tf.effect {
            Effect::Reaches { entry, .. } => Some(entry.clone()),
            _ => None,
        },
        None => None,
    };
    // (operand position, entry); an entry inside another planned one is covered by it.
    let mut wanted: Vec<(usize, PathBuf)> = snapshot_targets(probed, policy, env)
        .into_iter()
        .filter_map(|(_, t)| entry_of(t).map(|e| (t, e)))
        .collect();
    let all = wanted.clone();
    wanted.retain(|(t, e)| {
        !all.iter()
            .any(|(u, o)| (o != e && e.starts_with(o)) || (o == e && u < t))
    });
    let planned: Vec<Planned> = wanted
        .iter()
        .map(|(t, e)| Planned {
            path: e.clone(),
            may_rename: silent && !cmd.operands[*t].as_bytes().ends_with(b"/"),
        })
        .collect();
    let store = Store::for_caller(policy)?;
    let taken = snapshot::take(
        &store,
        &Request {
            targets: planned,
            command: text.to_owned(),
            host: host.to_owned(),
            environment: env.name.clone(),
            one_file_system: cmd.options.one_file_system,
        },
    )?;
    let mut drop = Vec::new();
    let mut saved = Vec::new();
    for ((t, e), renamed) in wanted.iter().zip(&taken.renamed) {
        saved.push(format!(
            "{} ({})",
            show(e),
            if *renamed { "moved" } else { "copied" }
        ));
        if !renamed {
            continue;
        }
        drop.push(*t);
        // An earlier operand inside a moved target would have been deleted first, fine; rm
        // would fail on a later one exactly as it will now.
        for u in 0..*t {
            if entry_of(u).is_some_and(|inner| inner.starts_with(e)) && !drop.contains(&u) {
                drop.push(u);
            }
        }
    }
    if taken.pending {
        spawn_finisher(&store, &taken.id);
    }
    let mut message = format!(
        "gardefou: snapshot {} saved {}; undo with: gardefou snapshot restore {}\n",
        taken.id,
        saved.join(", "),
        taken.id
    );
    if taken.renamed.iter().any(|r| *r) {
        message.push_str(&format!(
            "gardefou: the space it takes is freed by `gardefou snapshot rm {}` or `gardefou snapshot prune`\n",
            taken.id
        ));
    }
    Ok(Saved {
        id: taken.id,
        drop,
        message,
    })
}

/// Hashes a snapshot in a background process of its own process group (a Ctrl-C at the
/// terminal does not stop it). It waits for the snapshot's lock, which this process releases
/// once the snapshot is taken. Its errors go to `STORE/.finish.log`. If it never runs or dies,
/// the next use of the store finishes the snapshot.
fn spawn_finisher(store: &Store, id: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    let log = store.root.join(".finish.log");
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .map_or_else(|_| std::process::Stdio::null(), std::process::Stdio::from);
    let mut store_arg = OsString::from("--store=");
    store_arg.push(&store.root);
    let spawned = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .arg0("gardefou")
            .args(["snapshot", "finish", id])
            .arg(store_arg)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
    });
    if let Err(e) = spawned {
        eprintln!(
            "gardefou: cannot hash snapshot {id} in the background ({e}): the next gardefou run will"
        );
    }
}
