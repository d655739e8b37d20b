//! Alerts: `[[notify]]` commands run on refusals, overrides and maintenance events, with the
//! audit entry as JSON on their standard input (a pager or a chat webhook is one `curl` line).
//! They run detached, under coreutils' `timeout`, and the operator's command never waits for
//! them: a slow or failing notifier costs it a fork, nothing more.

use std::io::{Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::audit::Entry;
use crate::outcome::Outcome;
use crate::policy::schema::NotifyEvent;
use crate::policy::{Decision, Policy};

/// The event an audit entry is, if any. Pure.
pub fn event_of(e: &Entry) -> Option<NotifyEvent> {
    if e.outcome.is_maintenance() {
        Some(NotifyEvent::Maintenance)
    } else if e.outcome == Outcome::Override {
        Some(NotifyEvent::Override)
    } else if e.outcome.is_refusal() && e.decision != Decision::Allow {
        Some(NotifyEvent::Deny)
    } else {
        None
    }
}

/// Starts every `[[notify]]` command that wants this entry's event; returns how many started.
/// Failures to start are reported on stderr and never stop the caller.
pub fn send(policy: &Policy, entry: &Entry) -> usize {
    let Some(event) = event_of(entry) else {
        return 0;
    };
    let Ok(json) = serde_json::to_vec(entry) else {
        return 0;
    };
    let mut started = 0;
    for n in policy.notify.iter().filter(|n| n.on.contains(&event)) {
        // Standard input is an unlinked temporary file, not a pipe: writing it never waits for
        // a notifier that does not read.
        let input = tempfile::tempfile().and_then(|mut f| {
            f.write_all(&json)?;
            f.rewind()?;
            Ok(f)
        });
        let secs = n.timeout_secs.unwrap_or(10).max(1).to_string();
        let child = input.and_then(|f| {
            Command::new("timeout")
                .args(["-k", "1", &secs, "/bin/sh", "-c", &n.command])
                .stdin(Stdio::from(f))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
        });
        match child {
            Ok(_) => started += 1,
            Err(e) => eprintln!(
                "gardefou: warning: cannot start notifier `{}`: {e}",
                n.command
            ),
        }
    }
    started
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(decision: Decision, outcome: Outcome) -> Entry {
        let mut e = Entry::now("h", "production", &[]);
        e.decision = decision;
        e.outcome = outcome;
        e
    }

    #[test]
    fn refusals_overrides_and_maintenance_are_events() {
        assert_eq!(
            event_of(&entry(Decision::Deny, Outcome::Refused)),
            Some(NotifyEvent::Deny)
        );
        assert_eq!(
            event_of(&entry(Decision::Confirm, Outcome::RefusedNoTerminal)),
            Some(NotifyEvent::Deny)
        );
        assert_eq!(
            event_of(&entry(Decision::Deny, Outcome::Override)),
            Some(NotifyEvent::Override)
        );
        assert_eq!(
            event_of(&entry(Decision::Allow, Outcome::MaintenanceStarted)),
            Some(NotifyEvent::Maintenance)
        );
        assert_eq!(event_of(&entry(Decision::Allow, Outcome::Executed)), None);
        assert_eq!(
            event_of(&entry(Decision::Confirm, Outcome::Confirmed)),
            None
        );
    }
}
