//! A cluster driven by the operator's own commands, run with `sh -c` and a time limit:
//! `role` prints this node's role as its first word (primary/master, secondary/replica/backup/
//! standby, alone, else unknown); `health` (optional) exits 0 when a healthy standby in sync
//! exists; `switchover` asks for the move; `release` (optional) undoes what maintenance did.

use std::time::Duration;

use super::run::shell;
use super::{Cluster, Item, Lag, Mark, Peer, Role, Status};
use crate::error::{Error, Result};
use crate::policy::schema::CommandSpec;

const LIMIT: Duration = Duration::from_secs(30);

pub struct Commands {
    spec: CommandSpec,
}

impl Commands {
    pub fn new(spec: CommandSpec) -> Commands {
        Commands { spec }
    }

    fn must(&self, what: &str, line: &str) -> Result<String> {
        let ran = shell(line, LIMIT)?.succeeded(&format!("{what} command `{line}`"))?;
        Ok(ran.stdout.trim().to_owned())
    }
}

/// The role a `role` command printed. Pure.
pub fn role_from(output: &str) -> Role {
    let word = output
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match word.as_str() {
        "primary" | "master" | "leader" | "prim" => Role::Primary,
        "secondary" | "replica" | "standby" | "backup" | "second" | "slave" => Role::Secondary,
        "alone" => Role::Alone,
        "" => Role::Unknown("the role command printed nothing".into()),
        _ => Role::Unknown(format!("the role command printed {:?}", output.trim())),
    }
}

impl Cluster for Commands {
    fn status(&self) -> Result<Status> {
        let role = role_from(&self.must("role", &self.spec.role)?);
        let (peers, peers_visible) = match &self.spec.health {
            Some(line) => {
                let ran = shell(line, LIMIT)?;
                (
                    vec![Peer {
                        name: "standby".into(),
                        role: Role::Secondary,
                        healthy: ran.code == Some(0),
                        lag: Lag::NotReported,
                        detail: format!("health command: {}", ran.last_line()),
                    }],
                    true,
                )
            }
            None => (Vec::new(), false),
        };
        Ok(Status {
            adapter: "command",
            node: crate::facts::hostname(),
            role,
            peers,
            peers_visible,
            split_brain: None,
        })
    }

    fn switchover(&self, _status: &Status, _to: Option<&str>) -> Result<String> {
        self.must("switchover", &self.spec.switchover)
    }

    fn release(&self, _status: &Status) -> Result<String> {
        match &self.spec.release {
            Some(line) => self.must("release", line),
            None => Ok("no release command configured".into()),
        }
    }

    fn switch_back(&self, _status: &Status) -> Result<String> {
        Err(Error::Usage(
            "the command adapter has no switch-back command: run your cluster's own".into(),
        ))
    }

    fn drill(&self, _status: Option<&Status>) -> Vec<Item> {
        let mut items = vec![match self.must("role", &self.spec.role) {
            Ok(out) => Item::new(
                "reach",
                Mark::Pass,
                format!("role command: {}", role_from(&out)),
            ),
            Err(e) => Item::new("reach", Mark::Fail, e.to_string()),
        }];
        let lines = [
            Some(("switchover", &self.spec.switchover)),
            self.spec.release.as_ref().map(|r| ("release", r)),
        ];
        for (what, line) in lines.into_iter().flatten() {
            let program = line.split_whitespace().next().unwrap_or("");
            let found = shell(
                &format!("command -v -- '{}'", program.replace('\'', "'\\''")),
                LIMIT,
            )
            .is_ok_and(|r| r.code == Some(0));
            items.push(Item::new(
                what,
                if found { Mark::Pass } else { Mark::Fail },
                format!("{program}: {}", if found { "found" } else { "not found" }),
            ));
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_words_are_read_loosely() {
        assert_eq!(role_from("PRIMARY since 10:00\n"), Role::Primary);
        assert_eq!(role_from("replica"), Role::Secondary);
        assert_eq!(role_from("alone"), Role::Alone);
        assert!(matches!(role_from(""), Role::Unknown(_)));
        assert!(matches!(role_from("maybe"), Role::Unknown(_)));
    }
}
