//! keepalived, which has no state command. Its `notify` script (or a `notify_fifo` reader)
//! writes each transition as a line `INSTANCE "VI_1" MASTER 100` (TYPE, name, state, priority)
//! to `state_file`; the last line for the instance is its state. To move the address away,
//! gardefou writes a non-zero value to a `track_file` the instance tracks with weight 0, which
//! puts it in FAULT; writing 0 lets it take the address again. keepalived does not show its
//! peers: the BACKUP with the highest priority takes over.

use std::path::Path;

use super::{Cluster, Item, Mark, Role, Status};
use crate::error::{Error, Result};
use crate::policy::schema::KeepalivedSpec;

pub struct Keepalived {
    spec: KeepalivedSpec,
}

impl Keepalived {
    pub fn new(spec: KeepalivedSpec) -> Keepalived {
        Keepalived { spec }
    }

    fn write_track(&self, value: &str) -> Result<String> {
        let path = &self.spec.track_file;
        let tmp = path.with_extension("gardefou-tmp");
        std::fs::write(&tmp, format!("{value}\n"))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok(format!("wrote {value} to {}", path.display()))
    }
}

/// The state of `instance` in the notify lines `text`: the last line that names it. Pure.
pub fn state_of(text: &str, instance: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [kind, name, state, ..]
                if kind.eq_ignore_ascii_case("INSTANCE") && name.trim_matches('"') == instance =>
            {
                Some(state.to_ascii_uppercase())
            }
            _ => None,
        }
    })
}

fn status_of(state: Option<&str>, instance: &str) -> Status {
    let role = match state {
        Some("MASTER") => Role::Primary,
        Some("BACKUP") | Some("FAULT") => Role::Secondary,
        Some(other) => Role::Unknown(format!("VRRP instance {instance} is {other}")),
        None => Role::Unknown(format!("no notify line for VRRP instance {instance}")),
    };
    Status {
        adapter: "keepalived",
        node: format!("instance {instance}"),
        role,
        peers: Vec::new(),
        peers_visible: false,
        split_brain: None,
    }
}

impl Cluster for Keepalived {
    fn status(&self) -> Result<Status> {
        let path = &self.spec.state_file;
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let state = state_of(&text, &self.spec.instance);
        Ok(status_of(state.as_deref(), &self.spec.instance))
    }

    fn switchover(&self, _status: &Status, _to: Option<&str>) -> Result<String> {
        self.write_track("1")
    }

    fn release(&self, _status: &Status) -> Result<String> {
        self.write_track("0")
    }

    fn switch_back(&self, status: &Status) -> Result<String> {
        self.release(status)
    }

    fn drill(&self, _status: Option<&Status>) -> Vec<Item> {
        let mut items = vec![match self.status() {
            Ok(s) => Item::new(
                "reach",
                Mark::Pass,
                format!(
                    "{}: {} is {}",
                    self.spec.state_file.display(),
                    s.node,
                    s.role
                ),
            ),
            Err(e) => Item::new("reach", Mark::Fail, e.to_string()),
        }];
        let dir = self.spec.track_file.parent().unwrap_or(Path::new("/"));
        items.push(
            match nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK) {
                Ok(()) => Item::new(
                    "track_file",
                    Mark::Pass,
                    format!("{} can be written", self.spec.track_file.display()),
                ),
                Err(e) => Item::new(
                    "track_file",
                    Mark::Fail,
                    format!("cannot write in {}: {e}", dir.display()),
                ),
            },
        );
        items.push(Item::new(
            "candidate",
            Mark::Warn,
            "keepalived does not show its peers: check that a BACKUP is up before moving the address",
        ));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_notify_line_of_the_instance_wins() {
        let text = "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_2\" BACKUP 50\nINSTANCE \"VI_1\" MASTER 100\nGROUP \"G\" MASTER\n";
        assert_eq!(state_of(text, "VI_1").as_deref(), Some("MASTER"));
        assert_eq!(state_of(text, "VI_2").as_deref(), Some("BACKUP"));
        assert_eq!(state_of(text, "VI_3"), None);
        // A notify script that writes its arguments: no quotes.
        assert_eq!(
            state_of("INSTANCE VI_1 FAULT 100\n", "VI_1").as_deref(),
            Some("FAULT")
        );
    }

    #[test]
    fn states_map_to_roles_and_peers_are_invisible() {
        assert_eq!(status_of(Some("MASTER"), "VI_1").role, Role::Primary);
        assert_eq!(status_of(Some("FAULT"), "VI_1").role, Role::Secondary);
        assert!(matches!(status_of(None, "VI_1").role, Role::Unknown(_)));
        assert!(!status_of(Some("MASTER"), "VI_1").peers_visible);
    }
}
