//! Commands that take the host or its services down: `reboot`, `poweroff`, `halt`, `shutdown`,
//! `init`/`telinit`, `systemctl reboot|poweroff|…` and `systemctl stop|restart|disable|mask|kill
//! UNIT…`, `service UNIT stop`. Pure: options exactly as systemd's and sysvinit's tools read
//! them, nothing asked of the system.

use serde::{Deserialize, Serialize};

use super::Arg;

/// What a power command does to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerOp {
    Reboot,
    Poweroff,
    Halt,
    /// `systemctl kexec`: a reboot into another kernel, without firmware.
    Kexec,
    /// Single-user mode: every service stopped (`systemctl rescue`, `init 1`).
    Rescue,
    /// Emergency mode: less still than rescue.
    Emergency,
}

impl PowerOp {
    pub const ALL: [PowerOp; 6] = [
        PowerOp::Reboot,
        PowerOp::Poweroff,
        PowerOp::Halt,
        PowerOp::Kexec,
        PowerOp::Rescue,
        PowerOp::Emergency,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PowerOp::Reboot => "reboot",
            PowerOp::Poweroff => "poweroff",
            PowerOp::Halt => "halt",
            PowerOp::Kexec => "kexec",
            PowerOp::Rescue => "rescue",
            PowerOp::Emergency => "emergency",
        }
    }
}

/// What a service command does to a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceOp {
    Stop,
    /// Also `try-restart`, `reload-or-restart`, `condrestart`, `force-reload`: each may restart.
    Restart,
    Disable,
    Mask,
    Kill,
}

impl ServiceOp {
    /// What `[[protect.service]] on` means when it is left out.
    pub const ALL: [ServiceOp; 5] = [
        ServiceOp::Stop,
        ServiceOp::Restart,
        ServiceOp::Disable,
        ServiceOp::Mask,
        ServiceOp::Kill,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServiceOp::Stop => "stop",
            ServiceOp::Restart => "restart",
            ServiceOp::Disable => "disable",
            ServiceOp::Mask => "mask",
            ServiceOp::Kill => "kill",
        }
    }
}

/// A unit a service command names: as written, or computed when the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    Named(String),
    Unknown(String),
}

impl Unit {
    pub fn display(&self) -> String {
        match self {
            Unit::Named(n) => n.clone(),
            Unit::Unknown(what) => format!("<{what}>"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIntent {
    pub power: Option<PowerOp>,
    /// Every unit the command acts on, with what it does to it (`disable --now` is a disable
    /// and a stop).
    pub services: Vec<(Unit, ServiceOp)>,
    /// The command reaches another machine's manager (`systemctl -H`, `-M`): its effect there is
    /// judged as if here.
    pub remote: bool,
    pub text: String,
}

impl HostIntent {
    pub fn is_empty(&self) -> bool {
        self.power.is_none() && self.services.is_empty()
    }
}

/// The program names this module reads.
pub fn is_host_command(name: &str) -> bool {
    matches!(
        name,
        "reboot" | "poweroff" | "halt" | "shutdown" | "systemctl" | "init" | "telinit" | "service"
    )
}

fn known(a: &Arg) -> Option<&str> {
    a.known().and_then(|s| s.to_str())
}

/// Parses one host command. `args[0]` is the program; None when it does nothing to the host
/// (`shutdown -c`, `systemctl status`, `--help`).
pub fn parse(name: &str, args: &[Arg], text: String) -> Option<HostIntent> {
    let mut intent = HostIntent {
        power: None,
        services: Vec::new(),
        remote: false,
        text,
    };
    let rest = args.get(1..).unwrap_or(&[]);
    match name {
        "reboot" | "poweroff" | "halt" => power_command(name, rest, &mut intent),
        "shutdown" => shutdown(rest, &mut intent),
        "init" | "telinit" => runlevel(rest, &mut intent),
        "systemctl" => systemctl(rest, &mut intent),
        "service" => service(rest, &mut intent),
        _ => {}
    }
    (!intent.is_empty()).then_some(intent)
}

/// `reboot`, `poweroff`, `halt` (systemd's and sysvinit's options).
fn power_command(name: &str, args: &[Arg], out: &mut HostIntent) {
    let mut op = match name {
        "reboot" => PowerOp::Reboot,
        "poweroff" => PowerOp::Poweroff,
        _ => PowerOp::Halt,
    };
    for a in args {
        match known(a) {
            Some("--help" | "-w" | "--wtmp-only") => return,
            Some("-p" | "--poweroff") => op = PowerOp::Poweroff,
            Some("--reboot") => op = PowerOp::Reboot,
            Some("--halt") => op = PowerOp::Halt,
            Some(s) if s.starts_with('-') && !s.starts_with("--") => {
                // Bundled short flags; -w only writes the wtmp record.
                if s.contains('w') {
                    return;
                }
                if s.contains('p') {
                    op = PowerOp::Poweroff;
                }
            }
            _ => {}
        }
    }
    out.power = Some(op);
}

/// `shutdown [OPTIONS] [TIME] [WALL…]`: poweroff unless told otherwise; `-c` cancels, `-k`
/// only warns.
fn shutdown(args: &[Arg], out: &mut HostIntent) {
    let mut op = PowerOp::Poweroff;
    for a in args {
        let Some(s) = known(a) else { continue };
        match s {
            "--help" | "-c" | "-k" | "--show" => return,
            "-r" | "--reboot" => op = PowerOp::Reboot,
            "-H" | "--halt" => op = PowerOp::Halt,
            "-h" | "-P" | "--poweroff" => op = PowerOp::Poweroff,
            s if s.starts_with('-') && !s.starts_with("--") && s.len() > 2 => {
                let flags = &s[1..];
                if flags.contains('c') || flags.contains('k') {
                    return;
                }
                if flags.contains('r') {
                    op = PowerOp::Reboot;
                } else if flags.contains('H') {
                    op = PowerOp::Halt;
                }
            }
            _ => {}
        }
    }
    out.power = Some(op);
}

/// `init N`, `telinit N`: 0 powers off, 6 reboots, 1/S single user.
fn runlevel(args: &[Arg], out: &mut HostIntent) {
    let level = args
        .iter()
        .find(|a| known(a).is_none_or(|s| !s.starts_with('-')));
    out.power = match level.map(known) {
        Some(Some("0")) => Some(PowerOp::Poweroff),
        Some(Some("6")) => Some(PowerOp::Reboot),
        Some(Some("1" | "s" | "S" | "single")) => Some(PowerOp::Rescue),
        // A runlevel computed when it runs: it may be any of them.
        Some(None) => Some(PowerOp::Reboot),
        _ => None,
    };
}

/// The power operation a target stands for, when `systemctl isolate|start` reaches it.
fn power_target(unit: &str) -> Option<PowerOp> {
    let base = unit.strip_suffix(".target").unwrap_or(unit);
    match base {
        "reboot" | "runlevel6" | "ctrl-alt-del" | "soft-reboot" => Some(PowerOp::Reboot),
        "poweroff" | "runlevel0" => Some(PowerOp::Poweroff),
        "halt" => Some(PowerOp::Halt),
        "kexec" => Some(PowerOp::Kexec),
        "rescue" | "runlevel1" => Some(PowerOp::Rescue),
        "emergency" => Some(PowerOp::Emergency),
        _ => None,
    }
}

/// systemctl's options that take a value as the next word when not given `=VALUE`.
const SYSTEMCTL_VALUED: &[&str] = &[
    "-t",
    "--type",
    "--state",
    "-p",
    "--property",
    "--job-mode",
    "-s",
    "--signal",
    "--kill-whom",
    "--kill-value",
    "--what",
    "--root",
    "--image",
    "--image-policy",
    "-n",
    "--lines",
    "-o",
    "--output",
    "--preset-mode",
    "--message",
    "--timestamp",
    "--boot-loader-entry",
    "--boot-loader-menu",
    "--reboot-argument",
    "--when",
    "--check-inhibitors",
    "-H",
    "--host",
    "-M",
    "--machine",
    "--drop-in",
    "--marked",
];

/// `systemctl [OPTIONS] VERB [UNIT…]`.
fn systemctl(args: &[Arg], out: &mut HostIntent) {
    let mut words: Vec<&Arg> = Vec::new();
    let mut now = false;
    let mut user = false;
    let mut i = 0;
    let mut options_end = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(s) = known(a) else {
            words.push(a);
            continue;
        };
        if options_end || !s.starts_with('-') || s == "-" {
            words.push(a);
            continue;
        }
        match s {
            "--" => options_end = true,
            "--help" | "-h" | "--version" | "--dry-run" => return,
            "--now" => now = true,
            "--user" | "--global" => user = true,
            "--system" => user = false,
            s if s.starts_with("--host=") || s.starts_with("--machine=") => out.remote = true,
            s if SYSTEMCTL_VALUED.contains(&s) => {
                if matches!(s, "-H" | "--host" | "-M" | "--machine") {
                    out.remote = true;
                }
                i += 1;
            }
            s if !s.starts_with("--") => {
                // Bundled short flags; a valued one takes the rest or the next word.
                let flags = &s.as_bytes()[1..];
                for (k, f) in flags.iter().enumerate() {
                    if b"tpsnoHM".contains(f) {
                        if matches!(f, b'H' | b'M') {
                            out.remote = true;
                        }
                        if k + 1 == flags.len() {
                            i += 1;
                        }
                        break;
                    }
                    if *f == b'h' {
                        return;
                    }
                }
            }
            _ => {}
        }
    }
    let Some(verb) = words.first() else { return };
    let units = || {
        words[1..].iter().map(|a| match known(a) {
            Some(s) => Unit::Named(s.to_owned()),
            None => Unit::Unknown(
                a.display()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned(),
            ),
        })
    };
    let Some(verb) = known(verb) else {
        // The verb is computed when it runs: it may be any of them.
        out.power = Some(PowerOp::Reboot);
        return;
    };
    let power = match verb {
        "reboot" | "soft-reboot" => Some(PowerOp::Reboot),
        "poweroff" => Some(PowerOp::Poweroff),
        "halt" => Some(PowerOp::Halt),
        "kexec" => Some(PowerOp::Kexec),
        "rescue" => Some(PowerOp::Rescue),
        "emergency" => Some(PowerOp::Emergency),
        "isolate" | "start" | "restart" => words[1..].iter().find_map(|a| match known(a) {
            Some(u) => power_target(u),
            // `systemctl isolate "$T"`: it may be a power target.
            None if verb == "isolate" => Some(PowerOp::Reboot),
            None => None,
        }),
        _ => None,
    };
    if power.is_some() {
        // The user manager's `reboot` is the system's too (systemd forwards it).
        out.power = power;
        return;
    }
    if user {
        // The user's own services: nothing of the host's.
        return;
    }
    let ops: &[ServiceOp] = match verb {
        "stop" => &[ServiceOp::Stop],
        "restart"
        | "try-restart"
        | "reload-or-restart"
        | "try-reload-or-restart"
        | "condrestart"
        | "force-reload" => &[ServiceOp::Restart],
        "kill" => &[ServiceOp::Kill],
        "disable" if now => &[ServiceOp::Disable, ServiceOp::Stop],
        "disable" => &[ServiceOp::Disable],
        "mask" if now => &[ServiceOp::Mask, ServiceOp::Stop],
        "mask" => &[ServiceOp::Mask],
        _ => &[],
    };
    for u in units() {
        for op in ops {
            out.services.push((u.clone(), *op));
        }
    }
}

/// `service UNIT VERB` (the SysV wrapper, which calls systemctl for systemd units).
fn service(args: &[Arg], out: &mut HostIntent) {
    let words: Vec<&Arg> = args
        .iter()
        .filter(|a| known(a).is_none_or(|s| !s.starts_with('-')))
        .collect();
    if args.iter().any(|a| {
        matches!(
            known(a),
            Some("--status-all" | "--help" | "-h" | "--version")
        )
    }) {
        return;
    }
    let (Some(unit), Some(verb)) = (words.first(), words.get(1)) else {
        return;
    };
    let unit = match known(unit) {
        Some(u) => Unit::Named(u.to_owned()),
        None => Unit::Unknown("a unit computed when it runs".into()),
    };
    let op = match known(verb) {
        Some("stop") => Some(ServiceOp::Stop),
        Some("restart" | "try-restart" | "force-reload" | "condrestart") => {
            Some(ServiceOp::Restart)
        }
        Some(_) => None,
        None => Some(ServiceOp::Stop),
    };
    if let Some(op) = op {
        out.services.push((unit, op));
    }
}

/// Whether a `[[protect.service]] unit` glob names `unit` (as written, or with the `.service`
/// systemctl adds to a name without a suffix). A unit pattern (`postgres*`) matches when the
/// two could name the same unit; a unit computed when it runs matches every rule.
pub fn unit_matches(rule: &globset::GlobMatcher, rule_text: &str, unit: &Unit) -> bool {
    let name = match unit {
        Unit::Named(n) => n,
        Unit::Unknown(_) => return true,
    };
    let is_pattern = |s: &str| s.contains(['*', '?', '[']);
    if is_pattern(name) {
        let prefix =
            |s: &str| -> String { s.chars().take_while(|c| !"*?[{".contains(*c)).collect() };
        let (a, b) = (prefix(name), prefix(rule_text));
        return a.starts_with(&b) || b.starts_with(&a);
    }
    if rule.is_match(name) {
        return true;
    }
    let has_suffix = name
        .rsplit_once('.')
        .is_some_and(|(_, s)| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()));
    if !has_suffix {
        return rule.is_match(format!("{name}.service"));
    }
    // `postgresql.service` for a rule written `postgresql`.
    name.strip_suffix(".service")
        .is_some_and(|base| rule.is_match(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Option<HostIntent> {
        let args: Vec<Arg> = line.split(' ').map(|w| Arg::Known(w.into())).collect();
        let name = line.split(' ').next().unwrap();
        parse(name, &args, line.to_owned())
    }

    fn power(line: &str) -> Option<PowerOp> {
        p(line).and_then(|i| i.power)
    }

    fn services(line: &str) -> Vec<(String, ServiceOp)> {
        p(line)
            .map(|i| {
                i.services
                    .into_iter()
                    .map(|(u, o)| (u.display(), o))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn power_commands_in_their_spellings() {
        use PowerOp::*;
        for (line, want) in [
            ("reboot", Some(Reboot)),
            ("reboot -f", Some(Reboot)),
            ("reboot --force --force", Some(Reboot)),
            ("reboot -w", None),
            ("reboot --help", None),
            ("halt -p", Some(Poweroff)),
            ("halt", Some(Halt)),
            ("poweroff", Some(Poweroff)),
            ("shutdown", Some(Poweroff)),
            ("shutdown -h now", Some(Poweroff)),
            ("shutdown -r now", Some(Reboot)),
            ("shutdown -r +5 kernel update", Some(Reboot)),
            ("shutdown -rf now", Some(Reboot)),
            ("shutdown -H 10:00", Some(Halt)),
            ("shutdown -c", None),
            ("shutdown -k now", None),
            ("shutdown --show", None),
            ("init 0", Some(Poweroff)),
            ("init 6", Some(Reboot)),
            ("telinit 1", Some(Rescue)),
            ("init q", None),
            ("init 3", None),
            ("systemctl reboot", Some(Reboot)),
            ("systemctl -i reboot", Some(Reboot)),
            ("systemctl --message=update reboot", Some(Reboot)),
            ("systemctl soft-reboot", Some(Reboot)),
            ("systemctl poweroff", Some(Poweroff)),
            ("systemctl halt", Some(Halt)),
            ("systemctl kexec", Some(Kexec)),
            ("systemctl rescue", Some(Rescue)),
            ("systemctl emergency", Some(Emergency)),
            ("systemctl isolate rescue.target", Some(Rescue)),
            ("systemctl isolate runlevel0.target", Some(Poweroff)),
            ("systemctl start reboot.target", Some(Reboot)),
            ("systemctl isolate multi-user.target", None),
            ("systemctl --dry-run reboot", None),
            ("systemctl status reboot.target", None),
            ("systemctl -t service list-units", None),
        ] {
            assert_eq!(power(line), want, "{line}");
        }
    }

    #[test]
    fn service_commands_name_their_units() {
        use ServiceOp::*;
        assert_eq!(
            services("systemctl stop postgresql"),
            [("postgresql".into(), Stop)]
        );
        assert_eq!(
            services("systemctl restart postgresql@15-main patroni"),
            [
                ("postgresql@15-main".into(), Restart),
                ("patroni".into(), Restart)
            ]
        );
        assert_eq!(
            services("systemctl disable --now mariadb"),
            [("mariadb".into(), Disable), ("mariadb".into(), Stop)]
        );
        assert_eq!(
            services("systemctl -s SIGKILL kill redis-server"),
            [("redis-server".into(), Kill)]
        );
        assert_eq!(
            services("systemctl --signal=9 kill etcd"),
            [("etcd".into(), Kill)]
        );
        assert_eq!(
            services("systemctl try-reload-or-restart nginx"),
            [("nginx".into(), Restart)]
        );
        assert_eq!(
            services("systemctl mask postgresql"),
            [("postgresql".into(), Mask)]
        );
        assert_eq!(
            services("service postgresql stop"),
            [("postgresql".into(), Stop)]
        );
        assert_eq!(
            services("service postgresql restart"),
            [("postgresql".into(), Restart)]
        );
        for harmless in [
            "systemctl status postgresql",
            "systemctl reload postgresql",
            "systemctl start postgresql",
            "systemctl enable postgresql",
            "systemctl is-active postgresql",
            "systemctl daemon-reload",
            "systemctl --user stop pipewire",
            "systemctl list-units --type=service",
            "service postgresql status",
            "service postgresql reload",
            "service --status-all",
        ] {
            assert!(p(harmless).is_none(), "{harmless}: {:?}", p(harmless));
        }
        assert!(p("systemctl -H db2 stop postgresql").unwrap().remote);
    }

    #[test]
    fn words_computed_at_run_time_assume_the_worst() {
        let args = [
            Arg::Known("systemctl".into()),
            Arg::Unknown("a variable".into()),
        ];
        assert_eq!(
            parse("systemctl", &args, String::new()).and_then(|i| i.power),
            Some(PowerOp::Reboot)
        );
        let args = [
            Arg::Known("systemctl".into()),
            Arg::Known("stop".into()),
            Arg::Unknown("a variable".into()),
        ];
        let i = parse("systemctl", &args, String::new()).unwrap();
        assert!(matches!(i.services[0].0, Unit::Unknown(_)));
    }

    #[test]
    fn rule_globs_match_units_with_or_without_their_suffix() {
        let m = |rule: &str, unit: &str| {
            let g = globset::Glob::new(rule).unwrap().compile_matcher();
            unit_matches(&g, rule, &Unit::Named(unit.into()))
        };
        assert!(m("postgresql*", "postgresql"));
        assert!(m("postgresql*", "postgresql@15-main.service"));
        assert!(m("patroni", "patroni.service"));
        assert!(m("patroni.service", "patroni"));
        assert!(m("postgresql*", "postgres*"));
        assert!(m("postgresql*", "*"));
        assert!(!m("postgresql*", "nginx"));
        assert!(!m("patroni", "patroni.socket"));
        assert!(!m("postgresql*", "nginx*"));
    }
}
