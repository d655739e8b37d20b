//! The maintenance lock: a few slots per group of hosts, kept in the fleet's own etcd, so that
//! two operators (or two automation runs) never take down two hosts of a group at once.
//!
//! A host takes a slot before `maintenance start` moves anything and gives it back only after
//! `maintenance finish` has seen the cluster healthy: no lease, no timer (a lock that expires
//! lets the next host go down while the first is still broken — kured#137, #847). A host that
//! dies keeps its slot; `gardefou maintenance release --host NAME` frees it by hand.
//!
//! In etcd, through its v3 HTTP/JSON gateway (`POST /v3/kv/range`, `/v3/kv/txn`; keys and
//! values base64), for group G under the prefix P:
//! - `P/G/slot/N` (N from 0 to slots-1): the holder, as JSON (host, since, user, reason);
//! - `P/G/holder/HOST`: the slot HOST holds.
//!
//! A slot is taken by one transaction that requires both keys to be absent
//! (`create_revision == 0`) and writes both: of two hosts racing for the last slot exactly one
//! wins, and no host holds two. Giving it back deletes both, only if the slot is still the
//! one this host wrote (`mod_revision`).
//!
//! Or, with `fleetlock = URL`, through a FleetLock server (Flatcar's airlock):
//! `POST /v1/pre-reboot` takes, `POST /v1/steady-state` gives back; that protocol does not
//! tell who holds the slots.

use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::policy::schema::LockSpec;

pub const DEFAULT_PREFIX: &str = "/gardefou/maintenance";
pub const DEFAULT_GROUP: &str = "default";
/// The rule a verdict names when the lock decides.
pub const RULE: &str = "[maintenance.lock]";

/// Who holds a slot, as the holder wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub since: String,
    pub user: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub slot: u32,
    /// etcd's revision of the slot's key (for giving back exactly what was read).
    #[serde(skip)]
    pub revision: i64,
}

impl Holder {
    pub fn describe(&self) -> String {
        format!(
            "{} since {} ({}{})",
            self.host,
            self.since,
            self.user,
            self.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    }
}

/// The group's slots as read once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slots {
    pub group: String,
    pub slots: u32,
    /// Empty and `known = false` for a FleetLock server, which does not say.
    pub holders: Vec<Holder>,
    pub known: bool,
}

impl Slots {
    pub fn held_by(&self, host: &str) -> Option<&Holder> {
        self.holders.iter().find(|h| h.host == host)
    }

    /// Whether `host` could take a slot now (or holds one already).
    pub fn free_for(&self, host: &str) -> bool {
        self.held_by(host).is_some() || (self.holders.len() as u32) < self.slots
    }

    pub fn describe(&self) -> String {
        if !self.known {
            return format!(
                "group {}: {} slot(s) on a FleetLock server (it does not say who holds them)",
                self.group, self.slots
            );
        }
        let held = if self.holders.is_empty() {
            "none held".to_owned()
        } else {
            self.holders
                .iter()
                .map(Holder::describe)
                .collect::<Vec<_>>()
                .join("; ")
        };
        format!(
            "group {}: {} of {} slot(s) held: {held}",
            self.group,
            self.holders.len(),
            self.slots
        )
    }
}

/// What taking a slot gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Now(Holder),
    /// This host held it already (a maintenance start that stopped half-way).
    Already(Holder),
}

/// Problems in `[maintenance.lock]`, for `policy check`.
pub fn lint(spec: &LockSpec) -> Vec<String> {
    let mut problems = Vec::new();
    match (&spec.fleetlock, spec.etcd.is_empty()) {
        (None, true) => {
            problems.push("[maintenance.lock] needs etcd = [URL…] or fleetlock = URL".to_owned())
        }
        (Some(_), false) => {
            problems.push("[maintenance.lock] has both etcd and fleetlock: name one".to_owned())
        }
        _ => {}
    }
    for url in spec.etcd.iter().chain(&spec.fleetlock) {
        if !url.starts_with("http://") {
            problems.push(format!(
                "[maintenance.lock] {url:?}: only http:// endpoints are supported (put etcd's gateway on loopback, or a TLS-terminating proxy in front)"
            ));
        }
    }
    if spec.slots == Some(0) {
        problems.push("[maintenance.lock] slots = 0 would forbid all maintenance".to_owned());
    }
    if let Some(g) = &spec.group
        && (g.is_empty() || g.contains('/'))
    {
        problems.push(format!(
            "[maintenance.lock] group {g:?}: not empty and no '/'"
        ));
    }
    problems
}

/// The lock of one group, as the policy names it.
pub struct Lock {
    spec: LockSpec,
    group: String,
    slots: u32,
    agent: ureq::Agent,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> Option<String> {
    let text = v.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// etcd's JSON gateway writes int64 as strings.
fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// The key just after every key that starts with `prefix` (etcd's `range_end` for a prefix).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl Lock {
    /// The lock the policy configures; `default_group` is the cluster's name when the policy
    /// names no group.
    pub fn new(spec: &LockSpec, default_group: Option<&str>) -> Result<Lock> {
        let problems = lint(spec);
        if let Some(p) = problems.first() {
            return Err(Error::Lock(p.clone()));
        }
        let timeout = Duration::from_secs(spec.timeout_secs.unwrap_or(5).max(1));
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        Ok(Lock {
            group: spec
                .group
                .clone()
                .or_else(|| default_group.map(str::to_owned))
                .unwrap_or_else(|| DEFAULT_GROUP.to_owned()),
            slots: spec.slots.unwrap_or(1),
            spec: spec.clone(),
            agent,
        })
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    fn base(&self) -> String {
        format!(
            "{}/{}",
            self.spec
                .prefix
                .as_deref()
                .unwrap_or(DEFAULT_PREFIX)
                .trim_end_matches('/'),
            self.group
        )
    }

    fn slot_key(&self, n: u32) -> String {
        format!("{}/slot/{n}", self.base())
    }

    fn holder_key(&self, host: &str) -> String {
        format!("{}/holder/{host}", self.base())
    }

    /// One gateway call, on the first endpoint that answers.
    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let mut last = String::new();
        for url in &self.spec.etcd {
            let url = format!("{}{path}", url.trim_end_matches('/'));
            let answer = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.to_string());
            let mut r = match answer {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            let code = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            // A member that cannot serve (5xx: no leader, a proxy in front of a dead one): the
            // next endpoint. A transaction sent twice cannot take two slots: its compare fails.
            if code >= 500 {
                last = format!("{url}: HTTP {code}: {}", text.trim());
                continue;
            }
            if code != 200 {
                return Err(Error::Lock(format!("{url}: HTTP {code}: {}", text.trim())));
            }
            return serde_json::from_str(&text)
                .map_err(|e| Error::Lock(format!("{url}: not JSON ({e}): {}", text.trim())));
        }
        Err(Error::Lock(format!("no etcd endpoint answered ({last})")))
    }

    /// Who holds the group's slots now.
    pub fn read(&self) -> Result<Slots> {
        if self.spec.fleetlock.is_some() {
            return Ok(Slots {
                group: self.group.clone(),
                slots: self.slots,
                holders: Vec::new(),
                known: false,
            });
        }
        let prefix = format!("{}/slot/", self.base());
        let end = prefix_end(&prefix);
        let answer = self.post(
            "/v3/kv/range",
            &json!({
                "key": b64(&prefix),
                "range_end": base64::engine::general_purpose::STANDARD.encode(end),
            }),
        )?;
        let mut holders = Vec::new();
        for kv in answer["kvs"].as_array().into_iter().flatten() {
            // An empty value (the gateway leaves it out) or one that is not text still holds
            // the slot: the key exists, no transaction can take it.
            let text = unb64(&kv["value"]).unwrap_or_default();
            let key = unb64(&kv["key"]).unwrap_or_default();
            let mut h: Holder = serde_json::from_str(&text).unwrap_or_else(|_| Holder {
                // Written by something else: held, by whom it does not say.
                host: format!("(unreadable value at {key})"),
                since: "?".into(),
                user: "?".into(),
                reason: None,
                slot: 0,
                revision: 0,
            });
            h.slot = key
                .rsplit('/')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(h.slot);
            h.revision = int(&kv["mod_revision"]);
            holders.push(h);
        }
        holders.sort_by_key(|h| h.slot);
        Ok(Slots {
            group: self.group.clone(),
            slots: self.slots,
            holders,
            known: true,
        })
    }

    /// Takes a slot for `me`, or says who holds them all.
    pub fn take(&self, me: &Holder) -> Result<Taken> {
        if let Some(url) = &self.spec.fleetlock {
            return self.fleetlock(url, "pre-reboot", &me.host).map(|()| {
                let mut h = me.clone();
                h.slot = 0;
                Taken::Now(h)
            });
        }
        let now = self.read()?;
        if let Some(h) = now.held_by(&me.host) {
            return Ok(Taken::Already(h.clone()));
        }
        // Every holder is a host down, whatever its slot's number (a slot past `slots` was
        // written under a larger setting): none is free when they are as many as the slots.
        if now.holders.len() as u32 >= self.slots {
            return Err(Error::Lock(format!(
                "no free maintenance slot: {}",
                now.describe()
            )));
        }
        for n in 0..self.slots {
            if now.holders.iter().any(|h| h.slot == n) {
                continue;
            }
            let mut mine = me.clone();
            mine.slot = n;
            let value = serde_json::to_string(&mine)
                .map_err(|e| Error::Lock(format!("cannot encode the holder: {e}")))?;
            let absent = |key: &str| {
                json!({
                    "key": b64(key),
                    "result": "EQUAL",
                    "target": "CREATE",
                    "create_revision": "0",
                })
            };
            let (slot, holder) = (self.slot_key(n), self.holder_key(&me.host));
            let answer = self.post(
                "/v3/kv/txn",
                &json!({
                    "compare": [absent(&slot), absent(&holder)],
                    "success": [
                        { "request_put": { "key": b64(&slot), "value": b64(&value) } },
                        { "request_put": { "key": b64(&holder), "value": b64(&n.to_string()) } },
                    ],
                }),
            )?;
            if answer["succeeded"].as_bool() == Some(true) {
                return Ok(Taken::Now(mine));
            }
        }
        // Lost every race, or none was free: say who holds them now.
        let now = self.read()?;
        if let Some(h) = now.held_by(&me.host) {
            return Ok(Taken::Already(h.clone()));
        }
        Err(Error::Lock(format!(
            "no free maintenance slot: {}",
            now.describe()
        )))
    }

    /// Gives `host`'s slot back. Ok(None): it held none.
    pub fn release(&self, host: &str) -> Result<Option<Holder>> {
        if let Some(url) = &self.spec.fleetlock {
            return self.fleetlock(url, "steady-state", host).map(|()| None);
        }
        let now = self.read()?;
        let Some(h) = now.held_by(host).cloned() else {
            // A holder key left without its slot (written by hand?): clear it too.
            self.post(
                "/v3/kv/deleterange",
                &json!({ "key": b64(&self.holder_key(host)) }),
            )?;
            return Ok(None);
        };
        let slot = self.slot_key(h.slot);
        let answer = self.post(
            "/v3/kv/txn",
            &json!({
                "compare": [{
                    "key": b64(&slot),
                    "result": "EQUAL",
                    "target": "MOD",
                    "mod_revision": h.revision.to_string(),
                }],
                "success": [
                    { "request_delete_range": { "key": b64(&slot) } },
                    { "request_delete_range": { "key": b64(&self.holder_key(host)) } },
                ],
            }),
        )?;
        if answer["succeeded"].as_bool() == Some(true) {
            Ok(Some(h))
        } else {
            Err(Error::Lock(format!(
                "slot {} of group {} changed while it was being given back: nothing was released, look again (`gardefou maintenance status`)",
                h.slot, self.group
            )))
        }
    }

    /// One FleetLock request: 200 is yes.
    fn fleetlock(&self, url: &str, what: &str, host: &str) -> Result<()> {
        let url = format!("{}/v1/{what}", url.trim_end_matches('/'));
        let body = json!({ "client_params": { "id": host, "group": self.group } });
        let mut r = self
            .agent
            .post(&url)
            .header("fleet-lock-protocol", "true")
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| Error::Lock(format!("POST {url}: {e}")))?;
        let code = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        if code == 200 {
            return Ok(());
        }
        // FleetLock's error body: {"kind": "…", "value": "…"}.
        let said = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                Some(format!(
                    "{}: {}",
                    v["kind"].as_str()?,
                    v["value"].as_str().unwrap_or("")
                ))
            })
            .unwrap_or_else(|| text.trim().to_owned());
        Err(Error::Lock(format!("POST {url}: HTTP {code}: {said}")))
    }
}

/// The lock the policy configures, if any. Its group is `group`, else the cluster's name
/// (Patroni's scope), else "default" for a cluster daemon that has no name. A daemon that has
/// a name but does not answer leaves the group unknown: then `recorded` (the group of the slot
/// this host holds, from its maintenance state) or an error — never a guess, which would read
/// or give back another group's slots.
pub fn of_policy(
    policy: &crate::policy::Policy,
    host: &str,
    recorded: Option<&str>,
) -> Option<Result<Lock>> {
    let spec = policy.lock.as_ref()?;
    if spec.group.is_some() {
        return Some(Lock::new(spec, None));
    }
    let name = match super::from_policy(policy.cluster.as_ref(), host) {
        Ok(Some(adapter)) => adapter.name(),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    Some(match (name, recorded) {
        (Ok(Some(name)), _) => Lock::new(spec, Some(&name)),
        (Ok(None), recorded) => Lock::new(spec, Some(recorded.unwrap_or(DEFAULT_GROUP))),
        (Err(_), Some(recorded)) => Lock::new(spec, Some(recorded)),
        (Err(e), None) => Err(Error::Lock(format!(
            "the lock's group is the cluster's name, which cannot be read ({e}): set group = \"…\" in [maintenance.lock] to name it without the cluster daemon"
        ))),
    })
}

impl Lock {
    /// The same lock in `group` (the one a slot was taken in).
    pub fn in_group(mut self, group: &str) -> Lock {
        self.group = group.to_owned();
        self
    }
}

/// What the lock means for a command that takes this host (or a protected service) down:
/// Some(why) when another host of the group holds the last slot.
pub fn blocks(slots: &Slots, me: &str) -> Option<String> {
    if !slots.known || slots.free_for(me) {
        return None;
    }
    let holders = slots
        .holders
        .iter()
        .map(Holder::describe)
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!(
        "another host of group {} is in maintenance ({holders}): taking {me} down too could leave the cluster without a primary; wait for its `gardefou maintenance finish`",
        slots.group
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, slot: u32) -> Holder {
        Holder {
            host: host.into(),
            since: "2026-12-02T10:00:00Z".into(),
            user: "alice".into(),
            reason: Some("kernel update".into()),
            slot,
            revision: 7,
        }
    }

    #[test]
    fn the_last_slot_held_elsewhere_blocks_and_names_the_holder() {
        let mut s = Slots {
            group: "pg".into(),
            slots: 1,
            holders: vec![holder("db1", 0)],
            known: true,
        };
        let why = blocks(&s, "db2").unwrap();
        assert!(
            why.contains("db1 since 2026-12-02T10:00:00Z (alice: kernel update)"),
            "{why}"
        );
        assert_eq!(blocks(&s, "db1"), None);
        s.slots = 2;
        assert_eq!(blocks(&s, "db2"), None);
        s.holders.push(holder("db3", 1));
        assert!(blocks(&s, "db2").is_some());
        s.known = false;
        assert_eq!(blocks(&s, "db2"), None);
    }

    #[test]
    fn prefix_ends_and_lint() {
        assert_eq!(prefix_end("/a/"), b"/a0".to_vec());
        let spec = |t: &str| -> LockSpec { toml::from_str(t).unwrap() };
        assert!(lint(&spec("")).join("").contains("needs etcd"));
        assert!(
            lint(&spec("etcd = [\"https://x:2379\"]"))
                .join("")
                .contains("http://")
        );
        assert!(
            lint(&spec("etcd = [\"http://x:2379\"]\nslots = 0"))
                .join("")
                .contains("slots")
        );
        assert!(
            lint(&spec(
                "etcd = [\"http://x:2379\"]\nfleetlock = \"http://y\""
            ))
            .join("")
            .contains("both")
        );
        assert!(
            lint(&spec(
                "etcd = [\"http://127.0.0.1:2379\"]\ngroup = \"pg-main\""
            ))
            .is_empty()
        );
    }
}
