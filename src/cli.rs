//! The command-line interface, as clap definitions. Also the source of `completions/` and
//! `man/`, which are generated from it (see tests/generated.rs).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "gardefou",
    version,
    about = "Operator safety shell: guards rm, apt and database commands on production hosts",
    long_about = "gardefou evaluates destructive commands against TOML policies before they run: \
it refuses, asks for a typed confirmation, or lets them through, and writes every decision to an \
audit log. Installed as `rm` (a shim ahead of /bin on PATH) it guards every rm on the host.\n\n\
gardefou is a guardrail against mistakes, not a sandbox against a malicious root."
)]
pub struct Cli {
    /// Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)
    #[arg(long, global = true, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Environment to evaluate in, instead of the one the policy gives this host
    #[arg(long = "env", global = true, value_name = "NAME")]
    pub env: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a command or a shell line without running anything
    ///
    /// Exit status: 0 allow, 3 confirm, 4 deny, 2 usage or policy error.
    Check(CheckArgs),
    /// Lint or show policies
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Run a command that the policy refuses, deliberately: typed confirmation and a reason,
    /// both written to the audit log
    Override(OverrideArgs),
    /// Approve one exact shell line once, for what cannot ask (an agent, cron, ansible): the
    /// line is judged here, the typed confirmation asked on this terminal, and the first guard
    /// that meets that line (its text, in this directory, as this user) before the approval
    /// expires lets it through once (`gardefou approve -- 'rm -rf /srv/old'`)
    ///
    /// Exit status: 0 approved (or nothing to approve), 1 refused, 4 the policy denies the line
    /// (an approval cannot lift a deny), 2 usage.
    Approve(ApproveArgs),
    /// Run a command under the read-only safety net, for scripts and cron jobs: checked as the
    /// guarded shell checks a line, run with the shims first on PATH, and the protected trees
    /// read-only for whatever it starts
    ///
    /// Exit status: the command's own; 1 refused by the policy, 126/127 cannot run it.
    Run(RunArgs),
    /// Run a PostgreSQL client (pgbench, pg_restore, a script using libpq) with its connections
    /// through the wire guard: every statement it sends is judged before the server sees it
    ///
    /// The server is the one its PGHOST/PGPORT name (a Unix socket or TCP on this host); the
    /// client finds the guard there, so one given a host of its own (`-h`) is not guarded. A
    /// refused statement gets an error from the server; the connection goes on. Exit status:
    /// the command's own; 2 the connection cannot be followed, 126/127 cannot run it.
    Wire(RunArgs),
    /// Read the audit log
    Log(LogArgs),
    /// List, restore, verify and prune the snapshots taken before destructive commands
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// apt's DPkg::Pre-Install-Pkgs hook (protocol 3): refuses protected packages before dpkg runs
    ///
    /// Configured by `gardefou install` in /etc/apt/apt.conf.d/05gardefou. Reads apt's stream
    /// from $APT_HOOK_INFO_FD (else standard input). Exit status: 0 go ahead, 4 refused by the
    /// policy, 2 the hook could not read its input; apt stops before dpkg on any non-zero.
    AptHook,
    /// dpkg's pre-invoke hook: refuses a raw `dpkg -r/-P` of a protected package
    ///
    /// Configured by `gardefou install` in /etc/dpkg/dpkg.cfg.d/gardefou. Reads the packages from
    /// the invoking dpkg's command line. Exit status as for apt-hook.
    DpkgHook,
    /// Install the shims, the apt and dpkg hooks and the default policy
    Install(InstallArgs),
    /// Remove what `install` created (the audit log stays)
    Uninstall(InstallArgs),
    /// The guarded shell: every line checked before it runs, then run by bash with the shims
    /// first on PATH
    ///
    /// Also started as a login shell (argv[0] beginning with `-`, or `gardefou -l`), and as
    /// `gardefou -c LINE`, the way sshd, scp, sftp and rsync run commands.
    Shell(ShellArgs),
    /// The pre-maintenance checklist: environment, cluster role, peers and their lag, backup
    /// age, snapshot space, pending packages, logged-in users, the host's own checks
    ///
    /// Each item is ✔ (passed), ! (a warning) or ✘ (a stop). Exit status: 0 no ✘, 1 any ✘.
    Preflight {
        /// Print one JSON object: {"ok", "items": [{"name", "mark", "detail"}]}
        #[arg(long)]
        json: bool,
        /// Also rehearse the failover path without changing anything: reach every API and
        /// command a switchover would use
        #[arg(long)]
        drill: bool,
    },
    /// Risky maintenance: move the primary role away first (through the cluster daemon), mark
    /// the host, and undo it afterwards
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// A coding agent's pre-tool-use hook: reads the tool call the agent sends on standard
    /// input (JSON), judges it as `check --line` would in the call's working directory (a file
    /// the agent writes: as a write to that file), and answers in the agent's protocol (no
    /// objection, ask its human, deny with the rule and the reason). A payload it cannot read
    /// is denied
    Hook {
        #[arg(value_enum)]
        agent: crate::hook::Agent,
    },
    /// Print the snippet that gives bash, zsh or fish the environment's prompt badge and a check
    /// of each line before it runs: eval "$(gardefou init bash)"; for an agent, the settings
    /// that register `gardefou hook AGENT` (with --install, merged into its user-level file:
    /// ~/.claude/settings.json, ~/.gemini/settings.json, ~/.codex/hooks.json,
    /// ~/.copilot/hooks/gardefou.json; the user's other settings and hooks kept)
    Init {
        #[arg(value_parser = ["bash", "zsh", "fish", "claude-code", "gemini", "codex", "copilot"])]
        shell: String,
        /// An agent: merge the hook into its settings file instead of printing it
        #[arg(long)]
        install: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Run the checklist; if this node is primary, ask the cluster to switch over to a healthy,
    /// in-sync standby (typed confirmation), wait until this node is secondary, then mark the
    /// host in maintenance
    Start {
        /// Why: kept in the mark and the audit log
        #[arg(long)]
        reason: Option<String>,
        /// Do not ask before the switchover (for scripts; the checklist still decides)
        #[arg(long)]
        yes: bool,
    },
    /// Check the cluster, release what start did (leave standby, …), optionally switch the
    /// primary role back, and clear the mark
    Finish {
        /// Move the primary role back to this node (typed confirmation)
        #[arg(long)]
        switch_back: bool,
        /// Do not ask before switching back
        #[arg(long)]
        yes: bool,
    },
    /// Show the maintenance mark and this node's role. Exit status: 0 in maintenance, 1 not
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Free the maintenance-lock slot a host holds (one that died in maintenance): typed
    /// confirmation of its name, audited
    Release {
        /// The host whose slot is freed, as `[host] name` names it there
        #[arg(long)]
        host: String,
        /// Do not ask (for scripts)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Check and run one line, then exit with its status
    #[arg(short = 'c', value_name = "LINE")]
    pub command: Option<String>,
    /// Start as a login shell: read the environment /etc/profile and the user's profile set up
    #[arg(short = 'l', long)]
    pub login: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object: {"decision", "snapshot", "reasons": [{"rule", "message"}]}
    #[arg(long)]
    pub json: bool,
    /// A shell line to evaluate, as an interactive shell would run it
    #[arg(long, value_name = "SHELL LINE", conflicts_with = "command")]
    pub line: Option<OsString>,
    /// As a shell's pre-exec hook: print nothing when the line may run, explain a refusal on
    /// stderr (exit 4), and ask here on the terminal for a confirmation that no shim will ask
    /// for when the line runs (exit 0 confirmed, 4 refused)
    #[arg(long)]
    pub ask: bool,
    /// What the command would read on standard input (`-`: gardefou's own), checked as it
    /// would read it: SQL for psql and mysql, commands for redis-cli
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The command and its arguments, after `--`
    #[arg(last = true, value_name = "COMMAND", required_unless_present = "line")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files for errors (default: the files this host loads); non-zero on any problem
    Check {
        /// Files to check, each on its own
        files: Vec<PathBuf>,
    },
    /// Print the effective policy, each rule with the file it comes from
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// Why this must be done: written to the audit log
    #[arg(long, required = true)]
    pub reason: String,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// How long the approval waits to be used, in minutes (1 to 60)
    #[arg(long, value_name = "N")]
    pub minutes: Option<u64>,
    /// List this user's approvals (waiting, used, expired)
    #[arg(long, conflicts_with_all = ["revoke", "line", "minutes"])]
    pub list: bool,
    /// With --list: as JSON
    #[arg(long, requires = "list")]
    pub json: bool,
    /// Take an approval back by its id
    #[arg(long, value_name = "ID", conflicts_with_all = ["line", "minutes"])]
    pub revoke: Option<String>,
    /// The shell line, after `--` (several words are joined with spaces)
    #[arg(last = true, value_name = "LINE")]
    pub line: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The command and its arguments (after `--` when the command has options of its own
    /// that gardefou could take for its own)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// The log file (default: the policy's [audit] file)
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the raw JSON lines
    #[arg(long)]
    pub json: bool,
    /// Only entries with this decision
    #[arg(long, value_parser = ["allow", "confirm", "deny"])]
    pub decision: Option<String>,
    /// Only the last N entries
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// Only entries from this time on: an age (30m, 2h, 7d) or a UTC time (2026-11-26,
    /// "2026-11-26 14:00", RFC 3339)
    #[arg(long, value_name = "WHEN", value_parser = crate::commands::parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// List the snapshots, oldest first (interrupted ones are settled first and reported)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one snapshot: its command, targets and every entry
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Copy paths into a new snapshot now, before doing something by hand (they stay in place)
    Take {
        /// Paths to save
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Put a snapshot's files back: mode, owner (as root), times and symlinks included
    Restore {
        id: String,
        /// Restore under DIR (DIR/original/path) instead of the original place
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Overwrite paths that exist (directories are merged)
        #[arg(long)]
        force: bool,
        /// Only these original paths (or what is under them)
        paths: Vec<PathBuf>,
    },
    /// Re-read a snapshot and compare every file with its sha256 in the manifest
    Verify { id: String },
    /// Remove snapshots older than keep_days, then the oldest while the store is over
    /// max_bytes; never the newest keep_newest. Only shows what it would do without --yes
    Prune {
        #[arg(long)]
        yes: bool,
    },
    /// Remove one snapshot for good
    Rm { id: String },
    /// Finish hashing a snapshot (run in the background by the guard)
    #[command(hide = true)]
    Finish {
        id: String,
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Installation prefix: the binary and shims go to PREFIX/bin
    #[arg(long, default_value = "/usr/local", value_name = "DIR")]
    pub prefix: PathBuf,
    /// Where the policy goes
    #[arg(long, default_value = "/etc/gardefou", value_name = "DIR")]
    pub etc: PathBuf,
    /// Where apt's hook configuration goes (05gardefou)
    #[arg(long, default_value = "/etc/apt/apt.conf.d", value_name = "DIR")]
    pub apt_conf_dir: PathBuf,
    /// Where dpkg's hook configuration goes (gardefou)
    #[arg(long, default_value = "/etc/dpkg/dpkg.cfg.d", value_name = "DIR")]
    pub dpkg_conf_dir: PathBuf,
    /// Also list PREFIX/bin/gardefou in the shells file, so it can be a login shell (chsh, ssh)
    #[arg(long)]
    pub shell: bool,
    /// For a package's maintainer scripts: link the shims in PREFIX/bin to this executable where
    /// it is and write the hooks; no copy of the binary, no policy (the package ships those)
    #[arg(long)]
    pub system: bool,
    /// The list of login shells (`uninstall` removes gardefou from it)
    #[arg(long, default_value = "/etc/shells", value_name = "FILE")]
    pub shells_file: PathBuf,
}

/// The clap command, for generating completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
