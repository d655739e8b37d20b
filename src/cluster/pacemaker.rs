//! Pacemaker, through its own command-line tools: `crm_mon --output-as=xml` for the nodes
//! (online, standby, unclean) and where the resource runs in which role (`Promoted` and
//! `Unpromoted`, `Master`/`Slave` before Pacemaker 2.1; a plain resource is `Started` where it
//! is primary), `crm_standby -N NODE -v on|off` to move everything off this node and back.
//! Pacemaker does not report replication lag: its resource agent decides which standby may be
//! promoted. The tools honour `CIB_file`, which is how the tests drive them.

use std::ffi::OsStr;
use std::time::Duration;

use super::run::run;
use super::{Cluster, Item, Lag, Mark, Peer, Role, Status};
use crate::error::{Error, Result};
use crate::policy::schema::PacemakerSpec;

const LIMIT: Duration = Duration::from_secs(10);

pub struct Pacemaker {
    resource: String,
    node: String,
}

impl Pacemaker {
    pub fn new(spec: PacemakerSpec, host: &str) -> Pacemaker {
        Pacemaker {
            resource: spec.resource,
            node: spec.node.unwrap_or_else(|| host.to_owned()),
        }
    }

    fn tool(&self, program: &str, args: &[&str]) -> Result<String> {
        let ran = run(OsStr::new(program), args, &[], LIMIT)?;
        Ok(ran
            .succeeded(&format!("{program} {}", args.join(" ")))?
            .stdout)
    }

    fn standby(&self, on: bool) -> Result<String> {
        let value = if on { "on" } else { "off" };
        self.tool("crm_standby", &["-N", &self.node, "-v", value])?;
        Ok(format!("crm_standby -N {} -v {value}: done", self.node))
    }
}

/// Where one instance of the resource runs, and in which role.
struct Instance {
    node: String,
    role: String,
}

/// Reads `crm_mon --output-as=xml` for `resource` (a clone's id, or a resource's) as seen from
/// `node`. Pure.
pub fn parse(xml: &str, resource: &str, node: &str) -> Result<Status> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| Error::Cluster(format!("crm_mon's XML does not parse: {e}")))?;
    let root = doc.root_element();
    let mut split_brain = None;
    if let Some(dc) = root.descendants().find(|n| n.has_tag_name("current_dc")) {
        if dc.attribute("present") == Some("false") {
            split_brain = Some("crm_mon: no designated controller (DC)".to_owned());
        } else if dc.attribute("with_quorum") == Some("false") {
            split_brain = Some("crm_mon: the partition has no quorum".to_owned());
        }
    }
    let mut instances = Vec::new();
    let mut found = false;
    for r in root.descendants().filter(|n| n.has_tag_name("resource")) {
        let parent_id = r.parent_element().and_then(|p| p.attribute("id"));
        if r.attribute("id") != Some(resource) && parent_id != Some(resource) {
            continue;
        }
        found = true;
        for n in r.children().filter(|n| n.has_tag_name("node")) {
            instances.push(Instance {
                node: n.attribute("name").unwrap_or("?").to_owned(),
                role: r.attribute("role").unwrap_or("?").to_owned(),
            });
        }
    }
    if !found {
        return Err(Error::Cluster(format!(
            "crm_mon shows no resource {resource:?} ([cluster.pacemaker] resource)"
        )));
    }
    let promotable = instances.iter().any(|i| {
        matches!(
            i.role.as_str(),
            "Promoted" | "Master" | "Unpromoted" | "Slave"
        )
    });
    let primary_on = |n: &str| {
        instances.iter().any(|i| {
            i.node == n
                && match i.role.as_str() {
                    "Promoted" | "Master" => true,
                    "Started" => !promotable,
                    _ => false,
                }
        })
    };
    let primaries: Vec<&str> = instances
        .iter()
        .filter(|i| primary_on(&i.node))
        .map(|i| i.node.as_str())
        .collect();
    if primaries.len() > 1 && split_brain.is_none() {
        split_brain = Some(format!(
            "{resource} is primary on {} nodes: {}",
            primaries.len(),
            primaries.join(", ")
        ));
    }
    let mut role = None;
    let mut peers = Vec::new();
    let mut seen = false;
    for n in root.descendants().filter(|n| {
        n.has_tag_name("node") && n.parent_element().is_some_and(|p| p.has_tag_name("nodes"))
    }) {
        let name = n.attribute("name").unwrap_or("?");
        let flag = |a: &str| n.attribute(a) == Some("true");
        let mut problems = Vec::new();
        if !flag("online") {
            problems.push("offline");
        }
        if flag("standby") {
            problems.push("standby");
        }
        if flag("unclean") {
            problems.push("unclean");
        }
        if flag("maintenance") {
            problems.push("maintenance");
        }
        let r = if primary_on(name) {
            Role::Primary
        } else {
            Role::Secondary
        };
        if name == node {
            seen = true;
            role = Some(if flag("unclean") || !flag("online") {
                Role::Unknown(format!("node {name} is {}", problems.join(", ")))
            } else {
                r
            });
            continue;
        }
        let runs_it = instances.iter().any(|i| i.node == name);
        let mut detail: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        if !runs_it {
            detail.push(format!("{resource} not running there"));
        } else if let Some(i) = instances.iter().find(|i| i.node == name) {
            detail.push(format!("{resource} {}", i.role));
        }
        peers.push(Peer {
            name: name.to_owned(),
            role: r,
            healthy: problems.is_empty() && (runs_it || !promotable),
            lag: Lag::NotReported,
            detail: detail.join(", "),
        });
    }
    if !seen {
        return Err(Error::Cluster(format!(
            "crm_mon does not list this node {node:?} ([cluster.pacemaker] node)"
        )));
    }
    let mut role = role.unwrap_or(Role::Unknown("not listed".into()));
    if role == Role::Primary && !peers.iter().any(|p| p.healthy) {
        role = Role::Alone;
    }
    Ok(Status {
        adapter: "pacemaker",
        node: node.to_owned(),
        role,
        peers,
        peers_visible: true,
        split_brain,
    })
}

impl Cluster for Pacemaker {
    fn status(&self) -> Result<Status> {
        let xml = self.tool("crm_mon", &["--output-as=xml"])?;
        parse(&xml, &self.resource, &self.node)
    }

    /// Pacemaker has no "switch over to X": standby moves every resource off this node, and
    /// the cluster's constraints choose where the primary goes.
    fn switchover(&self, _status: &Status, _to: Option<&str>) -> Result<String> {
        self.standby(true)
    }

    fn release(&self, _status: &Status) -> Result<String> {
        self.standby(false)
    }

    fn switch_back(&self, _status: &Status) -> Result<String> {
        Err(Error::Usage(
            "Pacemaker places the primary by its constraints: after leaving standby it promotes where they say (crm_resource --move moves it by hand)".into(),
        ))
    }

    fn drill(&self, status: Option<&Status>) -> Vec<Item> {
        let mut items = Vec::new();
        items.push(match self.tool("crm_mon", &["--output-as=xml"]) {
            Ok(_) => Item::new("reach", Mark::Pass, "crm_mon --output-as=xml answers"),
            Err(e) => Item::new("reach", Mark::Fail, e.to_string()),
        });
        items.push(
            match self.tool("crm_standby", &["-N", &self.node, "-G", "-q"]) {
                Ok(v) => Item::new(
                    "standby",
                    Mark::Pass,
                    format!("crm_standby -N {} -G: {}", self.node, v.trim()),
                ),
                Err(e) => Item::new("standby", Mark::Fail, e.to_string()),
            },
        );
        if let Some(s) = status {
            let fit = s.peers.iter().filter(|p| p.healthy).count();
            items.push(Item::new(
                "candidate",
                if fit > 0 { Mark::Pass } else { Mark::Fail },
                format!(
                    "{fit} node(s) online, not in standby, able to run {}",
                    self.resource
                ),
            ));
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/pacemaker/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn the_promoted_node_is_primary_and_sees_its_unpromoted_peer() {
        let xml = fixture("crm_mon-db1-promoted.xml");
        let s = parse(&xml, "pgsql-clone", "db1").unwrap();
        assert_eq!(s.role, Role::Primary);
        assert_eq!(s.split_brain, None);
        assert_eq!(s.peers.len(), 1);
        assert_eq!(s.peers[0].name, "db2");
        assert!(s.peers[0].healthy, "{:?}", s.peers[0]);
        assert_eq!(s.peers[0].role, Role::Secondary);
        let s = parse(&xml, "pgsql-clone", "db2").unwrap();
        assert_eq!(s.role, Role::Secondary);
        // The primitive's own id names the same instances.
        assert_eq!(parse(&xml, "pgsql", "db1").unwrap().role, Role::Primary);
    }

    #[test]
    fn a_node_in_standby_holds_nothing() {
        let xml = fixture("crm_mon-db1-standby.xml");
        let s = parse(&xml, "pgsql-clone", "db1").unwrap();
        assert_eq!(s.role, Role::Secondary);
        assert_eq!(s.peers[0].role, Role::Primary);
    }

    #[test]
    fn older_master_and_slave_roles_are_read() {
        let xml = fixture("crm_mon-db1-promoted.xml")
            .replace("role=\"Promoted\"", "role=\"Master\"")
            .replace("role=\"Unpromoted\"", "role=\"Slave\"");
        assert_eq!(
            parse(&xml, "pgsql-clone", "db1").unwrap().role,
            Role::Primary
        );
        assert_eq!(
            parse(&xml, "pgsql-clone", "db2").unwrap().role,
            Role::Secondary
        );
    }

    #[test]
    fn lost_quorum_is_reported_and_unknown_names_are_errors() {
        let s = parse(&fixture("crm_mon-no-quorum.xml"), "pgsql-clone", "db1").unwrap();
        assert!(s.split_brain.unwrap().contains("no quorum"));
        let xml = fixture("crm_mon-db1-promoted.xml");
        assert!(
            parse(&xml, "nosuch", "db1")
                .unwrap_err()
                .to_string()
                .contains("resource")
        );
        assert!(
            parse(&xml, "pgsql-clone", "db9")
                .unwrap_err()
                .to_string()
                .contains("node")
        );
    }

    #[test]
    fn a_standby_peer_is_not_fit_and_leaves_this_node_alone() {
        let xml = fixture("crm_mon-db1-promoted.xml").replace(
            "name=\"db2\" id=\"2\" online=\"true\" standby=\"false\"",
            "name=\"db2\" id=\"2\" online=\"true\" standby=\"true\"",
        );
        let s = parse(&xml, "pgsql-clone", "db1").unwrap();
        assert_eq!(s.role, Role::Alone);
        assert!(s.peers[0].detail.contains("standby"));
    }
}
