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
        "reboot"
            | "poweroff"
            | "halt"
            | "shutdown"
            | "systemctl"
            | "init"
            | "telinit"
            | "service"
            | "invoke-rc.d"
            | "kexec"
            | "kill"
            | "killall"
            | "pkill"
            | "pg_ctlcluster"
            | "pg_ctl"
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
        "service" | "invoke-rc.d" => service(rest, &mut intent),
        "kexec" => kexec(rest, &mut intent),
        "kill" => kill(rest, &mut intent),
        "killall" | "pkill" => killall(name, rest, &mut intent),
        "pg_ctlcluster" => pg_ctlcluster(rest, &mut intent),
        "pg_ctl" => pg_ctl(rest, &mut intent),
        _ => {}
    }
    (!intent.is_empty()).then_some(intent)
}

/// `kexec`: `-e` (and `-f`, without shutdown) boots the loaded kernel; a kernel given without
/// `-l`/`-p` is loaded and booted (kexec then runs `shutdown -r now`). Loading, unloading and
/// the status change nothing yet.
fn kexec(args: &[Arg], out: &mut HostIntent) {
    let mut exec = false;
    let mut only_load = false;
    let mut operand = false;
    for a in args {
        match known(a) {
            Some("-e" | "--exec" | "-f" | "--force") => exec = true,
            Some(
                "-l" | "--load" | "-p" | "--load-panic" | "-u" | "--unload" | "-S" | "--status",
            ) => only_load = true,
            Some("-h" | "--help" | "-v" | "--version") => return,
            Some(w) if w.starts_with('-') => {}
            _ => operand = true,
        }
    }
    if exec || (operand && !only_load) {
        out.power = Some(PowerOp::Kexec);
    }
}

/// The signal a `kill`/`killall`/`pkill` word names (`-INT`, `-2`, `-SIGINT`, `RTMIN+5`),
/// upper-cased without `SIG`.
fn signal_name(word: &str) -> String {
    let w = word.trim_start_matches('-').to_ascii_uppercase();
    let w = w.strip_prefix("SIG").unwrap_or(&w).to_owned();
    match w.as_str() {
        "1" => "HUP".into(),
        "2" => "INT".into(),
        "9" => "KILL".into(),
        "15" => "TERM".into(),
        "0" => "0".into(),
        _ => w,
    }
}

/// Signals a server takes without stopping: a configuration reload (HUP), log reopening
/// (USR1, USR2), a check that it exists (0), a continue.
fn harmless_signal(sig: &str) -> bool {
    matches!(
        sig,
        "0" | "HUP" | "USR1" | "USR2" | "WINCH" | "CONT" | "10" | "12" | "18" | "28"
    )
}

/// What a signal to PID 1 (systemd) does to the host: SIGINT starts ctrl-alt-del.target,
/// SIGRTMIN+3/4/5/6 halt, power off, reboot, kexec.
fn signal_to_init(sig: &str) -> Option<PowerOp> {
    match sig {
        "INT" | "RTMIN+5" | "35" => Some(PowerOp::Reboot),
        "RTMIN+3" | "37" => Some(PowerOp::Halt),
        "RTMIN+4" | "38" => Some(PowerOp::Poweroff),
        "RTMIN+6" | "40" => Some(PowerOp::Kexec),
        _ => None,
    }
}

/// `kill [-SIG | -s SIG | -n N] PID…`: a power signal to PID 1, or any signal to every process
/// (`-1`).
fn kill(args: &[Arg], out: &mut HostIntent) {
    let mut sig = "TERM".to_owned();
    let mut pids: Vec<&str> = Vec::new();
    let mut i = 0;
    let mut options = true;
    while i < args.len() {
        let Some(w) = known(&args[i]) else {
            i += 1;
            continue;
        };
        if options && w == "--" {
            options = false;
        } else if options && matches!(w, "-l" | "-L" | "--list" | "--table" | "--help") {
            return;
        } else if options && matches!(w, "-s" | "-n" | "--signal") {
            i += 1;
            if let Some(v) = args.get(i).and_then(known) {
                sig = signal_name(v);
            }
        } else if options && w.starts_with('-') && w != "-1" {
            sig = signal_name(w);
        } else {
            pids.push(w);
        }
        i += 1;
    }
    if sig == "0" {
        return;
    }
    if pids.contains(&"1") {
        out.power = signal_to_init(&sig);
    }
    if pids.contains(&"-1") && !harmless_signal(&sig) {
        out.services.push((
            Unit::Unknown("every process on the host (kill -1)".into()),
            ServiceOp::Kill,
        ));
    }
}

/// The service whose server a process name is, for `killall`/`pkill` (the name itself when it
/// is none gardefou knows).
fn unit_of_process(name: &str) -> String {
    let n = name.trim_start_matches('^').trim_end_matches('$');
    let unit = match n {
        "postgres" | "postmaster" | "postgresql" => "postgresql",
        "mysqld" | "mysqld_safe" => "mysql",
        "mariadbd" | "mariadbd-safe" | "mariadb" => "mariadb",
        "redis-server" => "redis-server",
        "patroni" => "patroni",
        "etcd" => "etcd",
        "pacemakerd" | "pacemaker-controld" | "pacemaker-execd" => "pacemaker",
        "corosync" => "corosync",
        "keepalived" => "keepalived",
        other => other,
    };
    unit.to_owned()
}

/// `killall [-s SIG | -SIG] NAME…` and `pkill [-SIG] PATTERN`: kills of the servers they name.
/// A pattern matched against the whole command line (`pkill -f`, `killall -r`) names the
/// servers it mentions.
fn killall(name: &str, args: &[Arg], out: &mut HostIntent) {
    let valued: &[&str] = if name == "pkill" {
        &[
            "-s",
            "-u",
            "-U",
            "-g",
            "-G",
            "-P",
            "-t",
            "-F",
            "--signal",
            "--session",
            "--euid",
            "--uid",
            "--pgroup",
            "--group",
            "--parent",
            "--terminal",
            "--pidfile",
            "--ns",
            "--nslist",
        ]
    } else {
        &[
            "-s",
            "-u",
            "-o",
            "-y",
            "-n",
            "--signal",
            "--user",
            "--older-than",
            "--younger-than",
            "--ns",
        ]
    };
    let mut sig = "TERM".to_owned();
    let mut pattern = false;
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Some(w) = known(&args[i]) else {
            names.push(String::new());
            i += 1;
            continue;
        };
        if matches!(w, "-l" | "--list" | "-V" | "--version" | "--help") {
            return;
        }
        if valued.contains(&w) {
            if matches!(w, "-s" | "--signal")
                && let Some(v) = args.get(i + 1).and_then(known)
            {
                sig = signal_name(v);
            }
            i += 2;
            continue;
        }
        if let Some(v) = w.strip_prefix("--signal=") {
            sig = signal_name(v);
        } else if matches!(w, "-f" | "--full" | "-r" | "--regexp") {
            pattern = true;
        } else if w.starts_with("--") {
        } else if let Some(flags) = w.strip_prefix('-') {
            let upper = flags
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if upper && !matches!(flags, "I" | "U" | "G" | "P" | "F" | "V") {
                sig = signal_name(w);
            } else if flags.contains('f') && name == "pkill"
                || flags.contains('r') && name == "killall"
            {
                pattern = true;
            }
        } else {
            names.push(w.to_owned());
        }
        i += 1;
    }
    if harmless_signal(&sig) {
        return;
    }
    const SERVERS: &[&str] = &[
        "postgres",
        "postmaster",
        "patroni",
        "mysqld",
        "mariadbd",
        "redis-server",
        "etcd",
        "pacemakerd",
        "corosync",
        "keepalived",
    ];
    for n in names {
        if n.is_empty() {
            out.services.push((
                Unit::Unknown("processes named when it runs".into()),
                ServiceOp::Kill,
            ));
        } else if pattern || name == "pkill" {
            // A pattern kills whatever it matches: the servers it mentions.
            for s in SERVERS.iter().filter(|s| {
                n.contains(*s) || (n.len() >= 4 && s.starts_with(n.trim_start_matches('^')))
            }) {
                out.services
                    .push((Unit::Named(unit_of_process(s)), ServiceOp::Kill));
            }
        } else {
            out.services
                .push((Unit::Named(unit_of_process(&n)), ServiceOp::Kill));
        }
    }
}

/// `pg_ctlcluster VERSION CLUSTER stop|restart`: that cluster's unit, `postgresql@V-C`.
fn pg_ctlcluster(args: &[Arg], out: &mut HostIntent) {
    let words: Vec<&Arg> = args
        .iter()
        .take_while(|a| known(a) != Some("--"))
        .filter(|a| known(a).is_none_or(|s| !s.starts_with('-')))
        .collect();
    let op = match words.get(2).map(|a| known(a)) {
        Some(Some("stop")) => ServiceOp::Stop,
        Some(Some("restart")) => ServiceOp::Restart,
        Some(None) => ServiceOp::Stop,
        _ => return,
    };
    let unit = match (
        words.first().and_then(|a| known(a)),
        words.get(1).and_then(|a| known(a)),
    ) {
        (Some(v), Some(c)) => Unit::Named(format!("postgresql@{v}-{c}")),
        _ => Unit::Unknown("a cluster named when it runs".into()),
    };
    out.services.push((unit, op));
}

/// `pg_ctl stop|restart|kill -D DIR`: a PostgreSQL server stopped or signalled.
fn pg_ctl(args: &[Arg], out: &mut HostIntent) {
    let mut skip_next = false;
    for a in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        match known(a) {
            Some(
                "-D" | "-m" | "-t" | "-l" | "-o" | "-p" | "-s" | "-c" | "-e" | "-N" | "-P" | "-U",
            ) => skip_next = true,
            Some("stop") => {
                out.services
                    .push((Unit::Named("postgresql".into()), ServiceOp::Stop));
                return;
            }
            Some("restart") => {
                out.services
                    .push((Unit::Named("postgresql".into()), ServiceOp::Restart));
                return;
            }
            Some("kill") => {
                out.services
                    .push((Unit::Named("postgresql".into()), ServiceOp::Kill));
                return;
            }
            Some("start" | "reload" | "status" | "promote" | "logrotate" | "init" | "initdb") => {
                return;
            }
            _ => {}
        }
    }
}

/// A long option as getopt_long reads it: the whole name, or a prefix only one of `names`
/// starts with (`--reb` is `--reboot`). None: unknown or ambiguous (the tool refuses it).
fn long_option<'a>(word: &str, names: &[&'a str]) -> Option<&'a str> {
    let name = word.strip_prefix("--")?.split('=').next()?;
    if let Some(exact) = names.iter().find(|n| **n == name) {
        return Some(exact);
    }
    let mut found = names
        .iter()
        .filter(|n| !name.is_empty() && n.starts_with(name));
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// `reboot`, `poweroff`, `halt` (systemd's and sysvinit's options; the last mode wins).
fn power_command(name: &str, args: &[Arg], out: &mut HostIntent) {
    const LONG: &[&str] = &[
        "help",
        "halt",
        "poweroff",
        "reboot",
        "force",
        "wtmp-only",
        "no-wtmp",
        "no-sync",
        "no-wall",
    ];
    let mut op = match name {
        "reboot" => PowerOp::Reboot,
        "poweroff" => PowerOp::Poweroff,
        _ => PowerOp::Halt,
    };
    for a in args {
        let Some(s) = known(a) else { continue };
        if s == "--" {
            break;
        }
        if s.starts_with("--") {
            match long_option(s, LONG) {
                Some("help" | "wtmp-only") => return,
                Some("poweroff") => op = PowerOp::Poweroff,
                Some("reboot") => op = PowerOp::Reboot,
                Some("halt") => op = PowerOp::Halt,
                _ => {}
            }
        } else if let Some(flags) = s.strip_prefix('-') {
            // Bundled short flags; -w only writes the wtmp record.
            for f in flags.chars() {
                match f {
                    'w' => return,
                    'p' => op = PowerOp::Poweroff,
                    _ => {}
                }
            }
        }
    }
    out.power = Some(op);
}

/// `shutdown [OPTIONS] [TIME] [WALL…]` as systemd reads it (getopt `HPrhkKat:fFc`, options
/// anywhere before `--`, the last mode wins): poweroff unless told otherwise; `-c` cancels
/// (unless a later mode replaces it: `shutdown -c -r now` reboots), `-k` only warns.
fn shutdown(args: &[Arg], out: &mut HostIntent) {
    const LONG: &[&str] = &["help", "halt", "poweroff", "reboot", "no-wall", "show"];
    #[derive(PartialEq)]
    enum Mode {
        Power(PowerOp),
        Cancel,
        Show,
    }
    let mut mode = Mode::Power(PowerOp::Poweroff);
    let mut warn_only = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(s) = known(a) else { continue };
        if s == "--" {
            break;
        }
        if !s.starts_with('-') || s == "-" {
            continue;
        }
        if s.starts_with("--") {
            match long_option(s, LONG) {
                Some("help") => return,
                Some("halt") => mode = Mode::Power(PowerOp::Halt),
                Some("poweroff") => mode = Mode::Power(PowerOp::Poweroff),
                Some("reboot") => mode = Mode::Power(PowerOp::Reboot),
                Some("show") => mode = Mode::Show,
                _ => {}
            }
            continue;
        }
        let flags = &s[1..];
        for (k, f) in flags.char_indices() {
            match f {
                'H' => mode = Mode::Power(PowerOp::Halt),
                'P' => mode = Mode::Power(PowerOp::Poweroff),
                'r' => mode = Mode::Power(PowerOp::Reboot),
                'h' if mode != Mode::Power(PowerOp::Halt) => mode = Mode::Power(PowerOp::Poweroff),
                'k' => warn_only = true,
                'c' => mode = Mode::Cancel,
                't' => {
                    // -t SECONDS (sysvinit's): the rest of the word or the next one.
                    if k + 1 == flags.len() {
                        i += 1;
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    if let (Mode::Power(op), false) = (mode, warn_only) {
        out.power = Some(op);
    }
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
    let base = unit
        .strip_suffix(".target")
        .or_else(|| {
            unit.strip_prefix("systemd-")
                .and_then(|u| u.strip_suffix(".service"))
        })
        .unwrap_or(unit);
    match base {
        "exit" => Some(PowerOp::Poweroff),
        "reboot" | "runlevel6" | "ctrl-alt-del" | "soft-reboot" => Some(PowerOp::Reboot),
        "poweroff" | "runlevel0" => Some(PowerOp::Poweroff),
        "halt" => Some(PowerOp::Halt),
        "kexec" => Some(PowerOp::Kexec),
        "rescue" | "runlevel1" => Some(PowerOp::Rescue),
        "emergency" => Some(PowerOp::Emergency),
        _ => None,
    }
}

/// systemctl's long options (systemd 252 to 257), for getopt_long's abbreviations.
const SYSTEMCTL_LONG: &[&str] = &[
    "help",
    "version",
    "type",
    "property",
    "value",
    "all",
    "reverse",
    "after",
    "before",
    "show-types",
    "failed",
    "full",
    "job-mode",
    "fail",
    "irreversible",
    "ignore-dependencies",
    "ignore-inhibitors",
    "user",
    "system",
    "global",
    "capsule",
    "wait",
    "no-block",
    "legend",
    "no-legend",
    "no-pager",
    "no-wall",
    "dry-run",
    "quiet",
    "no-warn",
    "root",
    "image",
    "image-policy",
    "force",
    "no-reload",
    "kill-whom",
    "kill-value",
    "signal",
    "no-ask-password",
    "host",
    "machine",
    "runtime",
    "lines",
    "output",
    "plain",
    "state",
    "recursive",
    "with-dependencies",
    "preset-mode",
    "firmware-setup",
    "boot-loader-menu",
    "boot-loader-entry",
    "reboot-argument",
    "kernel-cmdline",
    "now",
    "message",
    "show-transaction",
    "timestamp",
    "mkdir",
    "marked",
    "read-only",
    "check-inhibitors",
    "what",
    "when",
    "drop-in",
];

/// Those of systemctl's long options that take a value (as the next word without `=VALUE`).
const SYSTEMCTL_VALUED: &[&str] = &[
    "type",
    "property",
    "state",
    "job-mode",
    "signal",
    "kill-whom",
    "kill-value",
    "what",
    "root",
    "image",
    "image-policy",
    "lines",
    "output",
    "preset-mode",
    "message",
    "timestamp",
    "boot-loader-entry",
    "boot-loader-menu",
    "reboot-argument",
    "kernel-cmdline",
    "when",
    "check-inhibitors",
    "host",
    "machine",
    "capsule",
    "drop-in",
    "legend",
];

/// systemctl's short options that take a value (getopt `ht:p:P:alqfs:H:M:n:o:iTrC:`).
const SYSTEMCTL_SHORT_VALUED: &[u8] = b"tpPsHMnoC";

/// `systemctl [OPTIONS] VERB [UNIT…]`.
fn systemctl(args: &[Arg], out: &mut HostIntent) {
    let mut words: Vec<&Arg> = Vec::new();
    let mut now = false;
    let mut user = false;
    // --dry-run only holds for the power verbs (systemctl(1)); a stop still stops.
    let mut dry_run = false;
    let mut marked = false;
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
        if s == "--" {
            options_end = true;
            continue;
        }
        if s.starts_with("--") {
            let Some(name) = long_option(s, SYSTEMCTL_LONG) else {
                // Unknown or ambiguous: systemctl refuses the whole command.
                continue;
            };
            match name {
                "help" | "version" => return,
                "dry-run" => dry_run = true,
                "now" => now = true,
                "marked" => marked = true,
                "user" | "global" | "capsule" => user = true,
                "system" => user = false,
                "host" | "machine" => out.remote = true,
                _ => {}
            }
            if SYSTEMCTL_VALUED.contains(&name) && !s.contains('=') {
                i += 1;
            }
            continue;
        }
        // Bundled short flags; a valued one takes the rest or the next word.
        let flags = &s.as_bytes()[1..];
        for (k, f) in flags.iter().enumerate() {
            if SYSTEMCTL_SHORT_VALUED.contains(f) {
                match f {
                    b'H' | b'M' => out.remote = true,
                    b'C' => user = true,
                    _ => {}
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
    let Some(verb) = words.first() else { return };
    let units = || {
        words[1..].iter().map(|a| match known(a) {
            // Stopping a slice stops every unit in it (`system.slice`: all services).
            Some(s) if s.ends_with(".slice") => Unit::Unknown(format!("every unit in {s}")),
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
    let starts = matches!(
        verb,
        "isolate" | "start" | "restart" | "try-restart" | "reload-or-restart" | "condrestart"
    ) || (now && matches!(verb, "enable" | "reenable"));
    let power = match verb {
        "reboot" | "soft-reboot" => Some(PowerOp::Reboot),
        // On the system manager, `exit` is a poweroff outside a container (systemctl(1)).
        "poweroff" | "exit" => Some(PowerOp::Poweroff),
        "halt" => Some(PowerOp::Halt),
        "kexec" => Some(PowerOp::Kexec),
        "rescue" => Some(PowerOp::Rescue),
        "emergency" => Some(PowerOp::Emergency),
        "default" => None,
        _ if starts => words[1..].iter().find_map(|a| match known(a) {
            Some(u) => power_target(u),
            // `systemctl isolate "$T"`: it may be a power target.
            None if verb == "isolate" => Some(PowerOp::Reboot),
            None => None,
        }),
        _ => None,
    };
    if power.is_some() {
        // The user manager's `reboot` is the system's too (systemd forwards it), except
        // `exit`, which only ends the user's manager.
        if dry_run || (user && verb == "exit") {
            return;
        }
        out.power = power;
        return;
    }
    if user {
        // The user's own services: nothing of the host's.
        return;
    }
    let ops: &[ServiceOp] = match verb {
        "stop" | "condstop" => &[ServiceOp::Stop],
        "restart"
        | "try-restart"
        | "reload-or-restart"
        | "try-reload-or-restart"
        | "reload-or-try-restart"
        | "condrestart"
        | "force-reload" => &[ServiceOp::Restart],
        "kill" => &[ServiceOp::Kill],
        "disable" if now => &[ServiceOp::Disable, ServiceOp::Stop],
        "disable" => &[ServiceOp::Disable],
        "mask" if now => &[ServiceOp::Mask, ServiceOp::Stop],
        "mask" => &[ServiceOp::Mask],
        _ => &[],
    };
    let mut units: Vec<Unit> = units().collect();
    if marked && matches!(verb, "restart" | "reload-or-restart") {
        units.push(Unit::Unknown("the units marked for restart".into()));
    }
    for u in units {
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
    // `service UNIT --full-restart`: a stop and a start.
    let full_restart = args.iter().any(|a| known(a) == Some("--full-restart"));
    let Some(unit) = words.first() else {
        return;
    };
    let unit = match known(unit) {
        Some(u) => Unit::Named(u.to_owned()),
        None => Unit::Unknown("a unit computed when it runs".into()),
    };
    let op = match words.get(1).map(|v| known(v)) {
        _ if full_restart => Some(ServiceOp::Restart),
        None => None,
        Some(Some("stop" | "force-stop")) => Some(ServiceOp::Stop),
        Some(Some("restart" | "try-restart" | "force-reload" | "condrestart")) => {
            Some(ServiceOp::Restart)
        }
        Some(Some(_)) => None,
        Some(None) => Some(ServiceOp::Stop),
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
        // Two globs could name the same unit when one's literal start begins the other's;
        // a rule's `{a,b}` is each of its alternatives.
        let prefix =
            |s: &str| -> String { s.chars().take_while(|c| !"*?[{".contains(*c)).collect() };
        let a = prefix(name);
        return alternatives(rule_text, 0).iter().any(|alt| {
            let b = prefix(alt);
            a.starts_with(&b) || b.starts_with(&a)
        });
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

/// A glob with its first `{a,b,…}` group expanded, recursively (at most 64 results; past that
/// the glob stands for itself, which makes its literal start shorter: matches more, not less).
fn alternatives(glob: &str, depth: usize) -> Vec<String> {
    let Some(open) = glob.find('{') else {
        return vec![glob.to_owned()];
    };
    let mut level = 0;
    let mut close = None;
    let mut commas = vec![];
    for (k, c) in glob[open..].char_indices() {
        match c {
            '{' => level += 1,
            '}' => {
                level -= 1;
                if level == 0 {
                    close = Some(open + k);
                    break;
                }
            }
            ',' if level == 1 => commas.push(open + k),
            _ => {}
        }
    }
    let Some(close) = close.filter(|_| depth < 8) else {
        return vec![glob.to_owned()];
    };
    let mut cuts = vec![open];
    cuts.extend(commas);
    cuts.push(close);
    let (head, tail) = (&glob[..open], &glob[close + 1..]);
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let alt = &glob[w[0] + 1..w[1]];
        out.extend(alternatives(&format!("{head}{alt}{tail}"), depth + 1));
        if out.len() > 64 {
            return vec![glob.to_owned()];
        }
    }
    out
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
    fn kexec_kill_killall_pkill_and_pg_ctl_are_read_for_what_they_take_down() {
        use PowerOp::*;
        for (line, want) in [
            ("kexec -e", Some(Kexec)),
            ("kexec -f", Some(Kexec)),
            (
                "kexec /boot/vmlinuz --initrd=/boot/initrd.img --reuse-cmdline",
                Some(Kexec),
            ),
            ("kexec -l /boot/vmlinuz --initrd=/boot/initrd.img", None),
            ("kexec -u", None),
            ("kexec --help", None),
            ("kill -INT 1", Some(Reboot)),
            ("kill -s SIGINT 1", Some(Reboot)),
            ("kill -SIGRTMIN+4 1", Some(Poweroff)),
            ("kill -RTMIN+3 1", Some(Halt)),
            ("kill -HUP 1", None),
            ("kill -TERM 1", None),
            ("kill 1234", None),
            ("kill -0 1", None),
            ("kill -l", None),
        ] {
            assert_eq!(power(line), want, "{line}");
        }
        let kill = ServiceOp::Kill;
        for (line, want) in [
            ("killall postgres", vec![("postgresql".to_owned(), kill)]),
            ("killall -9 mysqld", vec![("mysql".to_owned(), kill)]),
            (
                "killall -s KILL patroni",
                vec![("patroni".to_owned(), kill)],
            ),
            ("killall -HUP postgres", vec![]),
            ("killall -0 postgres", vec![]),
            ("killall firefox", vec![("firefox".to_owned(), kill)]),
            ("pkill postgres", vec![("postgresql".to_owned(), kill)]),
            (
                "pkill -9 -f redis-server",
                vec![("redis-server".to_owned(), kill)],
            ),
            ("pkill -f /opt/etl/run.py", vec![]),
            ("pkill -u postgres psql", vec![]),
            ("pkill -USR1 postgres", vec![]),
            (
                "pg_ctlcluster 15 main stop",
                vec![("postgresql@15-main".to_owned(), ServiceOp::Stop)],
            ),
            (
                "pg_ctlcluster 15 main restart -- -m fast",
                vec![("postgresql@15-main".to_owned(), ServiceOp::Restart)],
            ),
            ("pg_ctlcluster 15 main reload", vec![]),
            (
                "pg_ctl -D /var/lib/postgresql/15/main stop -m immediate",
                vec![("postgresql".to_owned(), ServiceOp::Stop)],
            ),
            ("pg_ctl -D /srv/pg status", vec![]),
            (
                "invoke-rc.d postgresql stop",
                vec![("postgresql".to_owned(), ServiceOp::Stop)],
            ),
            (
                "invoke-rc.d --quiet redis-server restart",
                vec![("redis-server".to_owned(), ServiceOp::Restart)],
            ),
        ] {
            assert_eq!(services(line), want, "{line}");
        }
        // Every process: whatever runs here.
        assert_eq!(
            p("kill -9 -1").unwrap().services[0].0,
            Unit::Unknown("every process on the host (kill -1)".into())
        );
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
            // shutdown as getopt reads it: the last mode wins, -t takes a value, `--` ends.
            ("shutdown -c -r now", Some(Reboot)),
            ("shutdown -r -c", None),
            ("shutdown -rtc now", Some(Reboot)),
            ("shutdown -t 5 -r now", Some(Reboot)),
            ("shutdown now -r", Some(Reboot)),
            ("shutdown -- -c", Some(Poweroff)),
            ("shutdown -H -h now", Some(Halt)),
            ("shutdown -h -H now", Some(Halt)),
            ("shutdown -r -k now", None),
            ("shutdown --reb now", Some(Reboot)),
            ("shutdown --show", None),
            ("shutdown --show -r", Some(Reboot)),
            ("reboot -p", Some(Poweroff)),
            ("poweroff --reb", Some(Reboot)),
            ("halt --pow", Some(Poweroff)),
            ("reboot -fw", None),
            // systemctl: abbreviations, valued -P and --legend, --dry-run for power only.
            ("systemctl --dry reboot", None),
            ("systemctl --legend no reboot", Some(Reboot)),
            ("systemctl -P Id show reboot", None),
            ("systemctl exit", Some(Poweroff)),
            ("systemctl --user exit", None),
            ("systemctl start systemd-reboot.service", Some(Reboot)),
            ("systemctl start exit.target", Some(Poweroff)),
            ("systemctl enable --now reboot.target", Some(Reboot)),
            ("systemctl enable reboot.target", None),
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
        assert_eq!(
            services("systemctl --dry-run stop postgresql"),
            [("postgresql".into(), Stop)]
        );
        assert_eq!(
            services("systemctl --dry kill -s 9 patroni"),
            [("patroni".into(), Kill)]
        );
        assert_eq!(services("systemctl condstop etcd"), [("etcd".into(), Stop)]);
        assert_eq!(
            services("systemctl reload-or-try-restart patroni"),
            [("patroni".into(), Restart)]
        );
        assert_eq!(
            services("systemctl --legend no stop postgresql"),
            [("postgresql".into(), Stop)]
        );
        assert_eq!(
            services("systemctl --no-bl stop postgresql"),
            [("postgresql".into(), Stop)]
        );
        assert_eq!(
            services("systemctl stop system.slice"),
            [("<every unit in system.slice>".into(), Stop)]
        );
        assert_eq!(
            services("systemctl restart --marked"),
            [("<the units marked for restart>".into(), Restart)]
        );
        assert_eq!(
            services("service postgresql force-stop"),
            [("postgresql".into(), Stop)]
        );
        assert_eq!(
            services("service postgresql --full-restart"),
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
        // A rule's braces are its alternatives, not a literal start of "".
        assert!(!m("{pacemaker,corosync}*", "nginx*"));
        assert!(!m("{pacemaker,corosync}*", "php*-fpm"));
        assert!(m("{pacemaker,corosync}*", "corosync*"));
        assert!(m("{pacemaker,corosync}*", "pace*"));
        assert!(m("{pacemaker,corosync}*", "*"));
        assert!(m("{pacemaker,corosync}", "pacemaker"));
        assert_eq!(alternatives("a{b,c{d,e}}f", 0), ["abf", "acdf", "acef"]);
        assert_eq!(alternatives("a{b", 0), ["a{b"]);
    }
}
