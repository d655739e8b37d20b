//! What a guarded run did, and the exit statuses gardefou itself returns: one place for both,
//! so that the audit log, the notifiers and the exit codes agree.

use serde::{Deserialize, Serialize};

/// The outcome of one guarded command, as the audit log spells it (`"refused-no-terminal"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Allowed and run.
    Executed,
    /// Every target moved into the snapshot: nothing was left for the command to do.
    ExecutedBySnapshot,
    /// The operator typed the confirmation.
    Confirmed,
    /// The snapshot failed, and the operator typed the confirmation to go on without it.
    ConfirmedWithoutSnapshot,
    /// A confirmation with no terminal, allowed by `non_interactive = "allow"`.
    AllowedWithoutTerminal,
    Refused,
    RefusedWrongAnswer,
    RefusedNoTerminal,
    RefusedSnapshotFailed,
    /// The read-only net refused a change the line's programs tried (EROFS).
    RefusedByNet,
    /// `gardefou override`, confirmed.
    Override,
    OverrideRefused,
    OverrideRefusedNoTerminal,
    MaintenanceRefused,
    MaintenanceStarted,
    MaintenanceSwitchoverFailed,
    MaintenanceSwitchoverTimeout,
    MaintenanceSwitchBackFailed,
    MaintenanceFinished,
    /// `maintenance release --host`: a slot freed by hand.
    MaintenanceLockReleased,
    /// A coding agent's hook (`gardefou hook`) answered: no objection, ask its human, deny.
    AgentAllowed,
    AgentAsked,
    AgentDenied,
    /// Let through once by a one-time approval (`gardefou approve`).
    Approved,
    /// `gardefou approve`: issued after the typed confirmation, refused, or revoked.
    ApprovalIssued,
    ApprovalRefused,
    ApprovalRevoked,
    /// An outcome this version does not know (an older or newer audit log).
    #[serde(other)]
    Other,
}

impl Outcome {
    /// Whether the command goes ahead.
    pub fn runs(self) -> bool {
        matches!(
            self,
            Outcome::Executed
                | Outcome::Confirmed
                | Outcome::ConfirmedWithoutSnapshot
                | Outcome::AllowedWithoutTerminal
                | Outcome::Override
                | Outcome::Approved
        )
    }

    /// A refusal of the command (not of an override or of maintenance).
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Outcome::Refused
                | Outcome::RefusedWrongAnswer
                | Outcome::RefusedNoTerminal
                | Outcome::RefusedSnapshotFailed
                | Outcome::RefusedByNet
        )
    }

    pub fn is_maintenance(self) -> bool {
        matches!(
            self,
            Outcome::MaintenanceRefused
                | Outcome::MaintenanceStarted
                | Outcome::MaintenanceSwitchoverFailed
                | Outcome::MaintenanceSwitchoverTimeout
                | Outcome::MaintenanceSwitchBackFailed
                | Outcome::MaintenanceFinished
                | Outcome::MaintenanceLockReleased
        )
    }

    /// The word for it in the audit log and the system log.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Executed => "executed",
            Outcome::ExecutedBySnapshot => "executed-by-snapshot",
            Outcome::Confirmed => "confirmed",
            Outcome::ConfirmedWithoutSnapshot => "confirmed-without-snapshot",
            Outcome::AllowedWithoutTerminal => "allowed-without-terminal",
            Outcome::Refused => "refused",
            Outcome::RefusedWrongAnswer => "refused-wrong-answer",
            Outcome::RefusedNoTerminal => "refused-no-terminal",
            Outcome::RefusedSnapshotFailed => "refused-snapshot-failed",
            Outcome::RefusedByNet => "refused-by-net",
            Outcome::Override => "override",
            Outcome::OverrideRefused => "override-refused",
            Outcome::OverrideRefusedNoTerminal => "override-refused-no-terminal",
            Outcome::MaintenanceRefused => "maintenance-refused",
            Outcome::MaintenanceStarted => "maintenance-started",
            Outcome::MaintenanceSwitchoverFailed => "maintenance-switchover-failed",
            Outcome::MaintenanceSwitchoverTimeout => "maintenance-switchover-timeout",
            Outcome::MaintenanceSwitchBackFailed => "maintenance-switch-back-failed",
            Outcome::MaintenanceFinished => "maintenance-finished",
            Outcome::MaintenanceLockReleased => "maintenance-lock-released",
            Outcome::AgentAllowed => "agent-allowed",
            Outcome::AgentAsked => "agent-asked",
            Outcome::AgentDenied => "agent-denied",
            Outcome::Approved => "approved",
            Outcome::ApprovalIssued => "approval-issued",
            Outcome::ApprovalRefused => "approval-refused",
            Outcome::ApprovalRevoked => "approval-revoked",
            Outcome::Other => "other",
        }
    }
}

/// Exit statuses of gardefou's own refusals and failures (a command that runs exits with its
/// own status; `gardefou check`'s are `Decision::check_exit_code`).
pub mod exit {
    /// A shim or the guarded shell refused the command.
    pub const REFUSED: i32 = 1;
    /// Usage error, unreadable line or policy (and a hook that could not read its input).
    pub const USAGE: i32 = 2;
    /// `check --ask` and the hooks: the policy refused.
    pub const DENIED: i32 = 4;
    /// The real program was found but could not be executed.
    pub const CANNOT_EXEC: i32 = 126;
    /// The real program was not found.
    pub const NOT_FOUND: i32 = 127;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_keep_their_audit_words_both_ways() {
        for o in [
            Outcome::Executed,
            Outcome::RefusedNoTerminal,
            Outcome::RefusedByNet,
            Outcome::MaintenanceSwitchBackFailed,
            Outcome::OverrideRefusedNoTerminal,
            Outcome::AgentAsked,
            Outcome::ApprovalIssued,
        ] {
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), o);
        }
        assert_eq!(
            serde_json::from_str::<Outcome>("\"no-terminal-allowed\"").unwrap(),
            Outcome::Other
        );
    }
}
