//! Patroni, through its REST API: `GET /patroni` (this member's role and state), `GET /cluster`
//! (every member's role, state and lag), `POST /switchover` (`{"leader", "candidate"}`), and
//! `GET /replica?lag=N` on a candidate for the drill. Patroni 3 says `master`, 4 says
//! `primary`; both are read. This module only talks HTTP to the URLs it is given.

use std::time::Duration;

use serde_json::Value;

use super::{Cluster, Item, Lag, Mark, Peer, Role, Status};
use crate::error::{Error, Result};
use crate::policy::schema::PatroniSpec;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8008";

pub struct Patroni {
    url: String,
    spec: PatroniSpec,
    max_lag: u64,
    agent: ureq::Agent,
}

/// An HTTP answer: status code and body.
struct Answer {
    code: u16,
    body: String,
}

impl Patroni {
    pub fn new(spec: PatroniSpec, max_lag: u64) -> Patroni {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        Patroni {
            url: spec
                .url
                .clone()
                .unwrap_or_else(|| DEFAULT_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            spec,
            max_lag,
            agent,
        }
    }

    fn get(&self, url: &str) -> Result<Answer> {
        let mut r = self
            .agent
            .get(url)
            .call()
            .map_err(|e| Error::Cluster(format!("GET {url}: {e}")))?;
        Ok(Answer {
            code: r.status().as_u16(),
            body: r
                .body_mut()
                .read_to_string()
                .map_err(|e| Error::Cluster(format!("GET {url}: {e}")))?,
        })
    }

    fn get_json(&self, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.url);
        let a = self.get(&url)?;
        // GET /patroni answers 503 with the same JSON on a member that is not running.
        serde_json::from_str(&a.body).map_err(|e| {
            Error::Cluster(format!(
                "GET {url}: HTTP {} and not JSON ({e}): {}",
                a.code,
                a.body.trim()
            ))
        })
    }

    fn post_switchover(&self, leader: &str, candidate: Option<&str>) -> Result<String> {
        let url = format!("{}/switchover", self.url);
        let mut body = serde_json::json!({ "leader": leader });
        if let Some(c) = candidate {
            body["candidate"] = c.into();
        }
        let mut request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        if let Some(auth) = self.authorization()? {
            request = request.header("Authorization", auth);
        }
        let mut r = request.send(body.to_string()).map_err(|e| {
            let said = format!("POST {url}: {e}");
            if crate::cluster::never_sent(&e) {
                Error::ClusterRefused(said)
            } else {
                Error::Cluster(said)
            }
        })?;
        let code = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        match code {
            200 => Ok(text.trim().to_owned()),
            401 => Err(Error::ClusterRefused(format!(
                "POST {url}: HTTP 401: Patroni wants credentials for its unsafe endpoints{}",
                if self.spec.username.is_some() {
                    ": [cluster.patroni] username and password_file were refused"
                } else {
                    " (restapi.authentication): set [cluster.patroni] username and password_file"
                }
            ))),
            // 412 and the other 4xx: Patroni refused before doing anything; a 5xx ("switchover
            // failed", "status unknown") may have moved roles.
            400..=499 => Err(Error::ClusterRefused(format!(
                "POST {url} {body}: HTTP {code}: {}",
                text.trim()
            ))),
            _ => Err(Error::Cluster(format!(
                "POST {url} {body}: HTTP {code}: {}",
                text.trim()
            ))),
        }
    }

    /// `Basic …` from `username` and the first line of `password_file`, when configured.
    fn authorization(&self) -> Result<Option<String>> {
        use base64::Engine;
        let (Some(user), Some(file)) = (&self.spec.username, &self.spec.password_file) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::Cluster(format!(
                "[cluster.patroni] password_file {}: {e}",
                file.display()
            ))
        })?;
        let password = text.lines().next().unwrap_or("");
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Ok(Some(format!("Basic {token}")))
    }
}

/// What `policy check` says of a `[cluster.patroni]` section.
pub fn lint(p: &PatroniSpec) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut problems = Vec::new();
    if let Some(url) = &p.url
        && !url.starts_with("http://")
    {
        problems.push(format!(
            "[cluster.patroni] url = {url:?}: only http:// is supported (for https, use adapter = \"command\" with curl)"
        ));
    }
    match (&p.username, &p.password_file) {
        (Some(_), Some(file)) => match std::fs::metadata(file) {
            Ok(m) if m.mode() & 0o077 != 0 => problems.push(format!(
                "[cluster.patroni] password_file {}: readable or writable by others (mode {:o}): make it 0600",
                file.display(),
                m.mode() & 0o777
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!(
                "[cluster.patroni] password_file {}: {e}",
                file.display()
            )),
        },
        (None, None) => {}
        _ => problems.push(
            "[cluster.patroni] username and password_file go together (Patroni's restapi.authentication)"
                .into(),
        ),
    }
    problems
}

fn role_of(name: &str) -> Role {
    match name {
        "master" | "primary" | "leader" | "standby_leader" => Role::Primary,
        "replica" | "sync_standby" | "quorum_standby" => Role::Secondary,
        other => Role::Unknown(format!("Patroni role {other:?}")),
    }
}

/// The switchover checks from Patroni's answers: `GET /cluster` (members' roles and
/// timelines), `GET /config` (synchronous_mode) and the candidate's `GET /patroni` (its
/// replay). Pure.
pub fn switchover_items(
    cluster: &Value,
    config: &Value,
    candidate_view: std::result::Result<&Value, &String>,
    leader: &str,
    candidate: &str,
) -> Vec<Item> {
    let members = cluster["members"].as_array().cloned().unwrap_or_default();
    let find = |n: &str| members.iter().find(|m| m["name"].as_str() == Some(n));
    let mut items = Vec::new();
    let timeline = |m: Option<&Value>| m.and_then(|m| m["timeline"].as_u64());
    items.push(match (timeline(find(leader)), timeline(find(candidate))) {
        (Some(l), Some(c)) if c < l => Item::new(
            "candidate timeline",
            Mark::Fail,
            format!("{candidate} is on timeline {c}, behind the leader's {l}: it has not followed the last promotion"),
        ),
        (Some(l), Some(c)) => Item::new(
            "candidate timeline",
            Mark::Pass,
            format!("{candidate} on timeline {c} (leader {l})"),
        ),
        _ => Item::new(
            "candidate timeline",
            Mark::Warn,
            "GET /cluster does not give both timelines",
        ),
    });
    let sync_mode = config["synchronous_mode"].as_bool() == Some(true);
    let role = find(candidate)
        .and_then(|m| m["role"].as_str())
        .unwrap_or("?");
    items.push(if !sync_mode {
        Item::new(
            "synchronous standby",
            Mark::Pass,
            "synchronous_mode is off: any healthy replica may take over",
        )
    } else if role == "sync_standby" {
        Item::new(
            "synchronous standby",
            Mark::Pass,
            format!("{candidate} is the synchronous standby"),
        )
    } else {
        // Patroni refuses a switchover to an asynchronous replica in synchronous mode, or
        // loses the transactions only the sync standby had (patroni#2074).
        let sync: Vec<&str> = members
            .iter()
            .filter(|m| m["role"].as_str() == Some("sync_standby"))
            .filter_map(|m| m["name"].as_str())
            .collect();
        Item::new(
            "synchronous standby",
            Mark::Fail,
            format!(
                "synchronous_mode is on and {candidate} is {role}, not the synchronous standby ({}): set [cluster.patroni] candidate to it",
                if sync.is_empty() { "none".to_owned() } else { sync.join(", ") }
            ),
        )
    });
    items.push(match candidate_view {
        Ok(v) if v["xlog"]["paused"].as_bool() == Some(true) => Item::new(
            "candidate replay",
            Mark::Fail,
            format!("{candidate}'s WAL replay is paused (pg_wal_replay_pause): promoted now it would lack what it received; pg_wal_replay_resume() first"),
        ),
        Ok(v) => {
            let x = &v["xlog"];
            match (x["received_location"].as_u64(), x["replayed_location"].as_u64()) {
                (Some(r), Some(p)) if p < r => Item::new(
                    "candidate replay",
                    Mark::Warn,
                    format!("{candidate} has {} received and not yet replayed", crate::snapshot::human_size(r - p)),
                ),
                _ => Item::new("candidate replay", Mark::Pass, format!("{candidate} replays what it receives")),
            }
        }
        Err(e) => Item::new("candidate replay", Mark::Fail, e.clone()),
    });
    items
}

/// What the leader's PostgreSQL says of WAL archiving and logical slots: `psql` on `conninfo`
/// (read-only questions, 5 s at most).
fn sql_checks(conninfo: &str) -> Vec<Item> {
    // One row: archive_mode, WAL files waiting in archive_status, whether the last attempt
    // failed, and the logical slots (which a standby of PostgreSQL < 17 does not have).
    const SQL: &str = "SELECT current_setting('archive_mode'), \
        (SELECT count(*) FROM pg_ls_dir('pg_wal/archive_status') f WHERE f LIKE '%.ready'), \
        coalesce(a.last_failed_time > coalesce(a.last_archived_time, 'epoch'), false), \
        coalesce(a.last_failed_wal, ''), \
        (SELECT coalesce(string_agg(slot_name, ','), '') FROM pg_replication_slots WHERE slot_type = 'logical') \
        FROM pg_stat_archiver a";
    let ran = super::run::run(
        std::ffi::OsStr::new("psql"),
        &[
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conninfo,
            "-c",
            SQL,
        ],
        &[
            ("PGCONNECT_TIMEOUT", "3"),
            ("PGOPTIONS", "-c default_transaction_read_only=on"),
        ],
        Duration::from_secs(5),
    )
    .and_then(|r| r.succeeded("psql ([cluster.patroni] conninfo)"));
    let row = match ran {
        Ok(r) => r.stdout.trim().to_owned(),
        Err(e) => return vec![Item::new("archiving and slots", Mark::Fail, e.to_string())],
    };
    sql_items(&row)
}

/// The archiving and slot items from the row `sql_checks` reads. Pure.
pub fn sql_items(row: &str) -> Vec<Item> {
    let f: Vec<&str> = row.split('|').collect();
    let [mode, ready, failing, failed_wal, logical] = f.as_slice() else {
        return vec![Item::new(
            "archiving and slots",
            Mark::Fail,
            format!("unexpected answer from psql: {row:?}"),
        )];
    };
    let ready: u64 = ready.parse().unwrap_or(u64::MAX);
    let archiving = if *mode == "off" {
        Item::new("WAL archiving", Mark::Pass, "archive_mode is off")
    } else if *failing == "t" {
        Item::new(
            "WAL archiving",
            Mark::Fail,
            format!(
                "archive_command is failing (last failed: {failed_wal}), {ready} WAL file(s) wait: the candidate would lack them in the archive"
            ),
        )
    } else if ready > 1 {
        Item::new(
            "WAL archiving",
            Mark::Fail,
            format!("{ready} WAL files wait to be archived: wait for the backlog to clear"),
        )
    } else {
        Item::new(
            "WAL archiving",
            Mark::Pass,
            format!("no backlog ({ready} waiting)"),
        )
    };
    let slots = if logical.is_empty() {
        Item::new(
            "replication slots",
            Mark::Pass,
            "no logical slot on the leader",
        )
    } else {
        Item::new(
            "replication slots",
            Mark::Warn,
            format!(
                "logical slot(s) {logical} exist only on the leader: their consumers must resync after the switchover (unless Patroni keeps them as permanent slots)"
            ),
        )
    };
    vec![archiving, slots]
}

/// Reads `GET /patroni` and `GET /cluster` answers into a status. `url`: this member's API, to
/// find it in the member list when neither the policy nor Patroni names it. Pure.
pub fn parse(me: &Value, cluster: &Value, url: &str, member: Option<&str>) -> Result<Status> {
    let members = cluster["members"]
        .as_array()
        .ok_or_else(|| Error::Cluster("GET /cluster has no members list".into()))?;
    let api = format!("{url}/patroni");
    let name = member
        .map(str::to_owned)
        .or_else(|| me["patroni"]["name"].as_str().map(str::to_owned))
        .or_else(|| {
            members
                .iter()
                .find(|m| m["api_url"].as_str() == Some(api.as_str()))
                .and_then(|m| m["name"].as_str().map(str::to_owned))
        })
        .ok_or_else(|| {
            Error::Cluster(format!(
                "this member is not in GET /cluster (no member has api_url {api}): set [cluster.patroni] member"
            ))
        })?;
    let state = me["state"].as_str().unwrap_or("unknown");
    let mut role = match me["role"].as_str() {
        _ if state != "running" => Role::Unknown(format!("PostgreSQL is {state}")),
        Some(r) => role_of(r),
        None => Role::Unknown("GET /patroni has no role".into()),
    };
    let mut peers = Vec::new();
    let mut leaders = Vec::new();
    for m in members {
        let n = m["name"].as_str().unwrap_or("?").to_owned();
        let r = m["role"].as_str().unwrap_or("?");
        if matches!(r, "leader" | "standby_leader") {
            leaders.push(n.clone());
        }
        if n == name {
            continue;
        }
        let st = m["state"].as_str().unwrap_or("unknown");
        let nofailover = m["tags"]["nofailover"].as_bool() == Some(true);
        let lag = match &m["lag"] {
            Value::Number(b) => Lag::Bytes(b.as_u64().unwrap_or(u64::MAX)),
            _ if role_of(r) == Role::Primary => Lag::Bytes(0),
            _ => Lag::Unknown,
        };
        let mut detail = vec![format!("state {st}")];
        if nofailover {
            detail.push("tag nofailover".into());
        }
        peers.push(Peer {
            name: n,
            role: role_of(r),
            healthy: matches!(st, "running" | "streaming") && !nofailover,
            lag,
            detail: detail.join(", "),
        });
    }
    if role == Role::Primary && peers.is_empty() {
        role = Role::Alone;
    }
    let split_brain = match leaders.len() {
        1 => None,
        0 => Some("GET /cluster shows no leader (DCS unreachable, or a failover under way)".into()),
        _ => Some(format!(
            "GET /cluster shows {} leaders: {}",
            leaders.len(),
            leaders.join(", ")
        )),
    };
    Ok(Status {
        adapter: "patroni",
        node: name,
        role,
        peers,
        peers_visible: true,
        split_brain,
    })
}

impl Cluster for Patroni {
    fn status(&self) -> Result<Status> {
        let me = self.get_json("/patroni")?;
        let cluster = self.get_json("/cluster")?;
        parse(&me, &cluster, &self.url, self.spec.member.as_deref())
    }

    fn switchover(&self, status: &Status, to: Option<&str>) -> Result<String> {
        self.post_switchover(&status.node, to)
    }

    fn release(&self, _status: &Status) -> Result<String> {
        Ok("nothing to release: Patroni keeps this member a replica until asked".into())
    }

    fn switch_back(&self, status: &Status) -> Result<String> {
        let leader = status
            .peers
            .iter()
            .find(|p| p.role == Role::Primary)
            .ok_or_else(|| Error::Cluster("no leader to switch back from".into()))?;
        self.post_switchover(&leader.name, Some(&status.node))
    }

    fn switchover_checks(&self, status: &Status, candidate: &str) -> Vec<Item> {
        let cluster = match self.get_json("/cluster") {
            Ok(c) => c,
            Err(e) => return vec![Item::new("candidate timeline", Mark::Fail, e.to_string())],
        };
        // The synchronous mode is in the dynamic configuration (GET /config).
        let config = self.get_json("/config").unwrap_or(Value::Null);
        // The candidate's own view of its replay (GET /patroni on its API).
        let theirs = cluster["members"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"].as_str() == Some(candidate))
            .and_then(|m| m["api_url"].as_str())
            .map(|api| {
                self.get(api).and_then(|a| {
                    serde_json::from_str::<Value>(&a.body)
                        .map_err(|e| Error::Cluster(format!("GET {api}: not JSON ({e})")))
                })
            });
        let theirs = match theirs {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("{candidate} has no api_url in GET /cluster")),
        };
        let mut items =
            switchover_items(&cluster, &config, theirs.as_ref(), &status.node, candidate);
        match &self.spec.conninfo {
            Some(conninfo) => items.extend(sql_checks(conninfo)),
            None => items.push(Item::new(
                "archiving and slots",
                Mark::Warn,
                "not checked: set [cluster.patroni] conninfo for this member's PostgreSQL",
            )),
        }
        items
    }

    fn name(&self) -> Result<Option<String>> {
        let me = self.get_json("/patroni")?;
        match me["patroni"]["scope"].as_str() {
            Some(scope) => Ok(Some(scope.to_owned())),
            None => Err(Error::Cluster(format!(
                "GET {}/patroni does not give the cluster's scope",
                self.url
            ))),
        }
    }

    fn drill(&self, status: Option<&Status>) -> Vec<Item> {
        let mut items = Vec::new();
        for path in ["/patroni", "/cluster"] {
            let url = format!("{}{path}", self.url);
            items.push(match self.get(&url) {
                Ok(a) if a.code == 200 => Item::new("reach", Mark::Pass, format!("GET {url}: 200")),
                Ok(a) => Item::new("reach", Mark::Fail, format!("GET {url}: HTTP {}", a.code)),
                Err(e) => Item::new("reach", Mark::Fail, e.to_string()),
            });
        }
        let Ok(cluster) = self.get_json("/cluster") else {
            return items;
        };
        let me = status.map(|s| s.node.as_str());
        for m in cluster["members"].as_array().into_iter().flatten() {
            let name = m["name"].as_str().unwrap_or("?");
            if Some(name) == me {
                continue;
            }
            let Some(api) = m["api_url"].as_str() else {
                items.push(Item::new(
                    "reach",
                    Mark::Fail,
                    format!("{name}: no api_url"),
                ));
                continue;
            };
            // The replica health check Patroni's own load balancers use, with our max_lag.
            let base = api.trim_end_matches("/patroni");
            let url = format!("{base}/replica?lag={}", self.max_lag);
            let (mark, detail) = match self.get(&url) {
                Ok(a) if a.code == 200 => (
                    Mark::Pass,
                    format!("{name}: GET {url}: 200, could take over"),
                ),
                Ok(a)
                    if m["role"]
                        .as_str()
                        .is_some_and(|r| role_of(r) == Role::Primary) =>
                {
                    (
                        Mark::Pass,
                        format!("{name}: leader, GET {url}: HTTP {}", a.code),
                    )
                }
                Ok(a) => (
                    Mark::Fail,
                    format!(
                        "{name}: GET {url}: HTTP {}: not a replica within max_lag",
                        a.code
                    ),
                ),
                Err(e) => (Mark::Fail, format!("{name}: {e}")),
            };
            items.push(Item::new("candidate", mark, detail));
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shapes as Patroni 3.0.2 (Debian 12) answers them; see tests/fixtures/patroni/.
    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/patroni/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    const URL: &str = "http://127.0.0.1:49247";

    #[test]
    fn the_leader_sees_its_streaming_replica() {
        let s = parse(
            &fixture("leader-patroni.json"),
            &fixture("cluster.json"),
            URL,
            None,
        )
        .unwrap();
        assert_eq!(s.node, "pg0");
        assert_eq!(s.role, Role::Primary);
        assert_eq!(s.split_brain, None);
        assert_eq!(s.peers.len(), 1);
        assert_eq!(s.peers[0].name, "pg1");
        assert_eq!(s.peers[0].role, Role::Secondary);
        assert_eq!(s.peers[0].lag, Lag::Bytes(0));
        assert!(s.peers[0].healthy);
    }

    #[test]
    fn a_replica_knows_it_is_one_and_names_the_leader() {
        let s = parse(
            &fixture("replica-patroni.json"),
            &fixture("cluster.json"),
            "http://127.0.0.1:47617",
            None,
        )
        .unwrap();
        assert_eq!(s.node, "pg1");
        assert_eq!(s.role, Role::Secondary);
        assert_eq!(s.peers[0].role, Role::Primary);
    }

    #[test]
    fn no_leader_is_a_split_brain_and_unknown_lag_is_kept() {
        let mut c = fixture("cluster.json");
        c["members"][0]["role"] = "replica".into();
        c["members"][1]["lag"] = "unknown".into();
        let s = parse(&fixture("leader-patroni.json"), &c, URL, Some("pg0")).unwrap();
        assert!(s.split_brain.unwrap().contains("no leader"));
        assert_eq!(s.peers[0].lag, Lag::Unknown);
    }

    #[test]
    fn a_member_not_in_the_list_is_an_error_naming_the_setting() {
        let e = parse(
            &fixture("leader-patroni.json"),
            &fixture("cluster.json"),
            "http://x:1",
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("[cluster.patroni] member"), "{e}");
    }

    #[test]
    fn a_stopped_postgres_makes_the_role_unknown() {
        let mut me = fixture("leader-patroni.json");
        me["state"] = "stopped".into();
        let s = parse(&me, &fixture("cluster.json"), URL, None).unwrap();
        assert!(matches!(s.role, Role::Unknown(_)));
    }

    #[test]
    fn switchover_checks_timeline_synchronous_standby_and_paused_replay() {
        let cluster = fixture("cluster.json");
        let replica = fixture("replica-patroni.json");
        let marks = |items: &[Item]| -> Vec<(String, Mark)> {
            items.iter().map(|i| (i.name.clone(), i.mark)).collect()
        };
        let ok = switchover_items(&cluster, &Value::Null, Ok(&replica), "pg0", "pg1");
        assert!(ok.iter().all(|i| i.mark == Mark::Pass), "{ok:?}");
        // Behind on timelines: it missed a promotion.
        let mut behind = cluster.clone();
        behind["members"][1]["timeline"] = 2.into();
        let items = switchover_items(&behind, &Value::Null, Ok(&replica), "pg0", "pg1");
        assert_eq!(marks(&items)[0], ("candidate timeline".into(), Mark::Fail));
        assert!(
            items[0]
                .detail
                .contains("timeline 2, behind the leader's 3")
        );
        // Synchronous mode: only the sync standby may take over.
        let sync = serde_json::json!({ "synchronous_mode": true });
        let items = switchover_items(&cluster, &sync, Ok(&replica), "pg0", "pg1");
        assert_eq!(marks(&items)[1], ("synchronous standby".into(), Mark::Fail));
        let mut synced = cluster.clone();
        synced["members"][1]["role"] = "sync_standby".into();
        let items = switchover_items(&synced, &sync, Ok(&replica), "pg0", "pg1");
        assert_eq!(marks(&items)[1].1, Mark::Pass);
        // Replay paused on the candidate.
        let mut paused = replica.clone();
        paused["xlog"]["paused"] = true.into();
        let items = switchover_items(&cluster, &Value::Null, Ok(&paused), "pg0", "pg1");
        assert_eq!(marks(&items)[2], ("candidate replay".into(), Mark::Fail));
        let err = "unreachable".to_owned();
        let items = switchover_items(&cluster, &Value::Null, Err(&err), "pg0", "pg1");
        assert_eq!(items[2].mark, Mark::Fail);
    }

    #[test]
    fn archiving_backlog_and_logical_slots_from_the_leaders_answer() {
        let marks = |row: &str| -> Vec<Mark> { sql_items(row).iter().map(|i| i.mark).collect() };
        assert_eq!(marks("off|0|f||"), [Mark::Pass, Mark::Pass]);
        assert_eq!(marks("on|1|f||"), [Mark::Pass, Mark::Pass]);
        assert_eq!(marks("on|40|f||")[0], Mark::Fail);
        let failing = sql_items("on|3|t|000000010000000000000007|");
        assert_eq!(failing[0].mark, Mark::Fail);
        assert!(failing[0].detail.contains("000000010000000000000007"));
        let slots = sql_items("off|0|f||cdc_orders,debezium");
        assert_eq!(slots[1].mark, Mark::Warn);
        assert!(slots[1].detail.contains("cdc_orders,debezium"));
        assert_eq!(marks("garbage"), [Mark::Fail]);
    }
}
