//! SafeKit, through its `safekit` command: `safekit state -m AM -lq` answers this node's state
//! in its exit status (STOP 0, WAIT 1, ALONE or UP 2, PRIM 3, SECOND 4), `safekit swap -m AM`
//! exchanges the PRIM and SECOND roles. A mirror module is PRIM only while its peer is SECOND
//! (with the peer gone it is ALONE), so PRIM says the peer is there; SafeKit's own replication
//! decides what is in sync, and reports no lag.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::run::run;
use super::{Cluster, Item, Lag, Mark, Peer, Role, Status};
use crate::error::{Error, Result};
use crate::policy::schema::SafekitSpec;

const LIMIT: Duration = Duration::from_secs(10);
const INSTALLED: &str = "/opt/safekit/safekit";

pub struct Safekit {
    module: String,
    program: OsString,
}

impl Safekit {
    pub fn new(spec: SafekitSpec) -> Safekit {
        let program = spec
            .command
            .map(PathBuf::into_os_string)
            .or_else(|| {
                std::env::var_os("PATH").and_then(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join("safekit"))
                        .find(|c| c.is_file())
                        .map(PathBuf::into_os_string)
                })
            })
            .unwrap_or_else(|| INSTALLED.into());
        Safekit {
            module: spec.module,
            program,
        }
    }

    fn safekit(&self, args: &[&str]) -> Result<super::run::Ran> {
        run(&self.program, args, &[], LIMIT)
    }
}

/// This node's status from the exit status of `safekit state -m AM -lq`. Pure.
pub fn from_state_code(code: Option<i32>, module: &str) -> Result<Status> {
    let peer = |role: Role, what: &str| Peer {
        name: "peer".into(),
        role,
        healthy: true,
        lag: Lag::NotReported,
        detail: what.into(),
    };
    let (role, peers, split_brain) = match code {
        Some(0) => (Role::Unknown("module STOP".into()), vec![], None),
        Some(1) => (
            Role::Unknown("module WAIT".into()),
            vec![],
            Some(format!(
                "SafeKit module {module} is in WAIT: a dependency or the peer link is down"
            )),
        ),
        Some(2) => (Role::Alone, vec![], None),
        Some(3) => (
            Role::Primary,
            vec![peer(
                Role::Secondary,
                "SECOND (SafeKit shows PRIM only with a SECOND peer)",
            )],
            None,
        ),
        Some(4) => (Role::Secondary, vec![peer(Role::Primary, "PRIM")], None),
        other => {
            return Err(Error::Cluster(format!(
                "safekit state -m {module} -lq: unexpected exit status {other:?} (not STOP 0, WAIT 1, ALONE/UP 2, PRIM 3, SECOND 4)"
            )));
        }
    };
    Ok(Status {
        adapter: "safekit",
        node: format!("module {module}"),
        role,
        peers,
        peers_visible: true,
        split_brain,
    })
}

impl Cluster for Safekit {
    fn status(&self) -> Result<Status> {
        let ran = self.safekit(&["state", "-m", &self.module, "-lq"])?;
        from_state_code(ran.code, &self.module)
    }

    fn switchover(&self, _status: &Status, _to: Option<&str>) -> Result<String> {
        let shown = format!("safekit swap -m {}", self.module);
        let ran = self
            .safekit(&["swap", "-m", &self.module])?
            .succeeded(&shown)?;
        Ok(format!(
            "safekit swap -m {}: {}",
            self.module,
            ran.last_line()
        ))
    }

    fn release(&self, _status: &Status) -> Result<String> {
        Ok("nothing to release: this node stays SECOND until swapped".into())
    }

    fn switch_back(&self, status: &Status) -> Result<String> {
        self.switchover(status, None)
    }

    fn drill(&self, _status: Option<&Status>) -> Vec<Item> {
        let shown = std::path::Path::new(&self.program).display().to_string();
        vec![match self.safekit(&["state", "-m", &self.module, "-lq"]) {
            Ok(r) => match from_state_code(r.code, &self.module) {
                Ok(s) => Item::new(
                    "reach",
                    Mark::Pass,
                    format!("{shown} state -m {}: {}", self.module, s.role),
                ),
                Err(e) => Item::new("reach", Mark::Fail, e.to_string()),
            },
            Err(e) => Item::new("reach", Mark::Fail, e.to_string()),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_exit_codes_map_to_roles() {
        assert_eq!(from_state_code(Some(3), "pg").unwrap().role, Role::Primary);
        assert_eq!(
            from_state_code(Some(4), "pg").unwrap().role,
            Role::Secondary
        );
        assert_eq!(from_state_code(Some(2), "pg").unwrap().role, Role::Alone);
        assert!(matches!(
            from_state_code(Some(0), "pg").unwrap().role,
            Role::Unknown(_)
        ));
        assert!(
            from_state_code(Some(1), "pg")
                .unwrap()
                .split_brain
                .unwrap()
                .contains("WAIT")
        );
        assert!(from_state_code(Some(9), "pg").is_err());
        assert!(from_state_code(None, "pg").is_err());
    }
}
