# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gardefou_global_optspecs
    string join \n policy= env= h/help V/version
end

function __fish_gardefou_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gardefou_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gardefou_using_subcommand
    set -l cmd (__fish_gardefou_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gardefou -n "__fish_gardefou_needs_command" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_needs_command" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_needs_command" -s V -l version -d 'Print version'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "check" -d 'Evaluate a command or a shell line without running anything'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "policy" -d 'Lint or show policies'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "override" -d 'Run a command that the policy refuses, deliberately: typed confirmation and a reason, both written to the audit log'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "approve" -d 'Approve one exact shell line once, for what cannot ask (an agent, cron, ansible): the line is judged here, the typed confirmation asked on this terminal, and the first guard that meets that line (its text, in this directory, as this user) before the approval expires lets it through once (`gardefou approve -- \'rm -rf /srv/old\'`)'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "run" -d 'Run a command under the read-only safety net, for scripts and cron jobs: checked as the guarded shell checks a line, run with the shims first on PATH, and the protected trees read-only for whatever it starts'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "wire" -d 'Run a PostgreSQL client (pgbench, pg_restore, a script using libpq) with its connections through the wire guard: every statement it sends is judged before the server sees it'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "log" -d 'Read the audit log'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "snapshot" -d 'List, restore, verify and prune the snapshots taken before destructive commands'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "apt-hook" -d 'apt\'s DPkg::Pre-Install-Pkgs hook (protocol 3): refuses protected packages before dpkg runs'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "dpkg-hook" -d 'dpkg\'s pre-invoke hook: refuses a raw `dpkg -r/-P` of a protected package'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "install" -d 'Install the shims, the apt and dpkg hooks and the default policy'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "uninstall" -d 'Remove what `install` created (the audit log stays)'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "shell" -d 'The guarded shell: every line checked before it runs, then run by bash with the shims first on PATH'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "preflight" -d 'The pre-maintenance checklist: environment, cluster role, peers and their lag, backup age, snapshot space, pending packages, logged-in users, the host\'s own checks'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "maintenance" -d 'Risky maintenance: move the primary role away first (through the cluster daemon), mark the host, and undo it afterwards'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "hook" -d 'A coding agent\'s pre-tool-use hook: reads the tool call the agent sends on standard input (JSON), judges it as `check --line` would in the call\'s working directory (a file the agent writes: as a write to that file), and answers in the agent\'s protocol (no objection, ask its human, deny with the rule and the reason). A payload it cannot read is denied'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "init" -d 'Print the snippet that gives bash, zsh or fish the environment\'s prompt badge and a check of each line before it runs: eval "$(gardefou init bash)"; for an agent, the settings that register `gardefou hook AGENT` (with --install, merged into its user-level file: ~/.claude/settings.json, ~/.gemini/settings.json, ~/.codex/hooks.json, ~/.copilot/hooks/gardefou.json; the user\'s other settings and hooks kept)'
complete -c gardefou -n "__fish_gardefou_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand check" -l line -d 'A shell line to evaluate, as an interactive shell would run it' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand check" -l input -d 'What the command would read on standard input (`-`: gardefou\'s own), checked as it would read it: SQL for psql and mysql, commands for redis-cli' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand check" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand check" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand check" -l json -d 'Print one JSON object: {"decision", "snapshot", "reasons": [{"rule", "message"}]}'
complete -c gardefou -n "__fish_gardefou_using_subcommand check" -l ask -d 'As a shell\'s pre-exec hook: print nothing when the line may run, explain a refusal on stderr (exit 4), and ask here on the terminal for a confirmation that no shim will ask for when the line runs (exit 0 confirmed, 4 refused)'
complete -c gardefou -n "__fish_gardefou_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -f -a "check" -d 'Check policy files for errors (default: the files this host loads); non-zero on any problem'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -f -a "show" -d 'Print the effective policy, each rule with the file it comes from'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and not __fish_seen_subcommand_from check show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from check" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from check" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from show" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from show" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from show" -l json
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check policy files for errors (default: the files this host loads); non-zero on any problem'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the effective policy, each rule with the file it comes from'
complete -c gardefou -n "__fish_gardefou_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand override" -l reason -d 'Why this must be done: written to the audit log' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand override" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand override" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand override" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand approve" -l minutes -d 'How long the approval waits to be used, in minutes (1 to 60)' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand approve" -l revoke -d 'Take an approval back by its id' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand approve" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand approve" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand approve" -l list -d 'List this user\'s approvals (waiting, used, expired)'
complete -c gardefou -n "__fish_gardefou_using_subcommand approve" -l json -d 'With --list: as JSON'
complete -c gardefou -n "__fish_gardefou_using_subcommand approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand run" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand run" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand wire" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand wire" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand wire" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -l file -d 'The log file (default: the policy\'s [audit] file)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -l decision -d 'Only entries with this decision' -r -f -a "allow\t''
confirm\t''
deny\t''"
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -s n -l last -d 'Only the last N entries' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -l since -d 'Only entries from this time on: an age (30m, 2h, 7d) or a UTC time (2026-11-26, "2026-11-26 14:00", RFC 3339)' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -l json -d 'Print the raw JSON lines'
complete -c gardefou -n "__fish_gardefou_using_subcommand log" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "list" -d 'List the snapshots, oldest first (interrupted ones are settled first and reported)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "show" -d 'Show one snapshot: its command, targets and every entry'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "take" -d 'Copy paths into a new snapshot now, before doing something by hand (they stay in place)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "restore" -d 'Put a snapshot\'s files back: mode, owner (as root), times and symlinks included'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "verify" -d 'Re-read a snapshot and compare every file with its sha256 in the manifest'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "prune" -d 'Remove snapshots older than keep_days, then the oldest while the store is over max_bytes; never the newest keep_newest. Only shows what it would do without --yes'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "rm" -d 'Remove one snapshot for good'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "finish" -d 'Finish hashing a snapshot (run in the background by the guard)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and not __fish_seen_subcommand_from list show take restore verify prune rm finish help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from list" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from list" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from list" -l json
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from show" -l json
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from take" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from take" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from take" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l to -d 'Restore under DIR (DIR/original/path) instead of the original place' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -l force -d 'Overwrite paths that exist (directories are merged)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from prune" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from prune" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from prune" -l yes
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from rm" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from rm" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from finish" -l store -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from finish" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from finish" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from finish" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the snapshots, oldest first (interrupted ones are settled first and reported)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one snapshot: its command, targets and every entry'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "take" -d 'Copy paths into a new snapshot now, before doing something by hand (they stay in place)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Put a snapshot\'s files back: mode, owner (as root), times and symlinks included'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Re-read a snapshot and compare every file with its sha256 in the manifest'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove snapshots older than keep_days, then the oldest while the store is over max_bytes; never the newest keep_newest. Only shows what it would do without --yes'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove one snapshot for good'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "finish" -d 'Finish hashing a snapshot (run in the background by the guard)'
complete -c gardefou -n "__fish_gardefou_using_subcommand snapshot; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand apt-hook" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand apt-hook" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand apt-hook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand dpkg-hook" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand dpkg-hook" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand dpkg-hook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l prefix -d 'Installation prefix: the binary and shims go to PREFIX/bin' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l etc -d 'Where the policy goes' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l apt-conf-dir -d 'Where apt\'s hook configuration goes (05gardefou)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l dpkg-conf-dir -d 'Where dpkg\'s hook configuration goes (gardefou)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l shells-file -d 'The list of login shells (`uninstall` removes gardefou from it)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l shell -d 'Also list PREFIX/bin/gardefou in the shells file, so it can be a login shell (chsh, ssh)'
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -l system -d 'For a package\'s maintainer scripts: link the shims in PREFIX/bin to this executable where it is and write the hooks; no copy of the binary, no policy (the package ships those)'
complete -c gardefou -n "__fish_gardefou_using_subcommand install" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l prefix -d 'Installation prefix: the binary and shims go to PREFIX/bin' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l etc -d 'Where the policy goes' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l apt-conf-dir -d 'Where apt\'s hook configuration goes (05gardefou)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l dpkg-conf-dir -d 'Where dpkg\'s hook configuration goes (gardefou)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l shells-file -d 'The list of login shells (`uninstall` removes gardefou from it)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l shell -d 'Also list PREFIX/bin/gardefou in the shells file, so it can be a login shell (chsh, ssh)'
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -l system -d 'For a package\'s maintainer scripts: link the shims in PREFIX/bin to this executable where it is and write the hooks; no copy of the binary, no policy (the package ships those)'
complete -c gardefou -n "__fish_gardefou_using_subcommand uninstall" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand shell" -s c -d 'Check and run one line, then exit with its status' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand shell" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand shell" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand shell" -s l -l login -d 'Start as a login shell: read the environment /etc/profile and the user\'s profile set up'
complete -c gardefou -n "__fish_gardefou_using_subcommand shell" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand preflight" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand preflight" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand preflight" -l json -d 'Print one JSON object: {"ok", "items": [{"name", "mark", "detail"}]}'
complete -c gardefou -n "__fish_gardefou_using_subcommand preflight" -l drill -d 'Also rehearse the failover path without changing anything: reach every API and command a switchover would use'
complete -c gardefou -n "__fish_gardefou_using_subcommand preflight" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -f -a "start" -d 'Run the checklist; if this node is primary, ask the cluster to switch over to a healthy, in-sync standby (typed confirmation), wait until this node is secondary, then mark the host in maintenance'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -f -a "finish" -d 'Check the cluster, release what start did (leave standby, …), optionally switch the primary role back, and clear the mark'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -f -a "status" -d 'Show the maintenance mark and this node\'s role. Exit status: 0 in maintenance, 1 not'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -f -a "release" -d 'Free the maintenance-lock slot a host holds (one that died in maintenance): typed confirmation of its name, audited'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and not __fish_seen_subcommand_from start finish status release help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from start" -l reason -d 'Why: kept in the mark and the audit log' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from start" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from start" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from start" -l yes -d 'Do not ask before the switchover (for scripts; the checklist still decides)'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from finish" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from finish" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from finish" -l switch-back -d 'Move the primary role back to this node (typed confirmation)'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from finish" -l yes -d 'Do not ask before switching back'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from finish" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from status" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from status" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from status" -l json
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from release" -l host -d 'The host whose slot is freed, as `[host] name` names it there' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from release" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from release" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from release" -l yes -d 'Do not ask (for scripts)'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from release" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from help" -f -a "start" -d 'Run the checklist; if this node is primary, ask the cluster to switch over to a healthy, in-sync standby (typed confirmation), wait until this node is secondary, then mark the host in maintenance'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from help" -f -a "finish" -d 'Check the cluster, release what start did (leave standby, …), optionally switch the primary role back, and clear the mark'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the maintenance mark and this node\'s role. Exit status: 0 in maintenance, 1 not'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from help" -f -a "release" -d 'Free the maintenance-lock slot a host holds (one that died in maintenance): typed confirmation of its name, audited'
complete -c gardefou -n "__fish_gardefou_using_subcommand maintenance; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand hook" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand hook" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand hook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gardefou -n "__fish_gardefou_using_subcommand init" -l policy -d 'Policy file to use instead of /etc/gardefou (also $GARDEFOU_POLICY, ignored under sudo)' -r -F
complete -c gardefou -n "__fish_gardefou_using_subcommand init" -l env -d 'Environment to evaluate in, instead of the one the policy gives this host' -r
complete -c gardefou -n "__fish_gardefou_using_subcommand init" -l install -d 'An agent: merge the hook into its settings file instead of printing it'
complete -c gardefou -n "__fish_gardefou_using_subcommand init" -s h -l help -d 'Print help'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "check" -d 'Evaluate a command or a shell line without running anything'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "policy" -d 'Lint or show policies'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "override" -d 'Run a command that the policy refuses, deliberately: typed confirmation and a reason, both written to the audit log'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "approve" -d 'Approve one exact shell line once, for what cannot ask (an agent, cron, ansible): the line is judged here, the typed confirmation asked on this terminal, and the first guard that meets that line (its text, in this directory, as this user) before the approval expires lets it through once (`gardefou approve -- \'rm -rf /srv/old\'`)'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "run" -d 'Run a command under the read-only safety net, for scripts and cron jobs: checked as the guarded shell checks a line, run with the shims first on PATH, and the protected trees read-only for whatever it starts'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "wire" -d 'Run a PostgreSQL client (pgbench, pg_restore, a script using libpq) with its connections through the wire guard: every statement it sends is judged before the server sees it'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "log" -d 'Read the audit log'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "snapshot" -d 'List, restore, verify and prune the snapshots taken before destructive commands'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "apt-hook" -d 'apt\'s DPkg::Pre-Install-Pkgs hook (protocol 3): refuses protected packages before dpkg runs'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "dpkg-hook" -d 'dpkg\'s pre-invoke hook: refuses a raw `dpkg -r/-P` of a protected package'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "install" -d 'Install the shims, the apt and dpkg hooks and the default policy'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "uninstall" -d 'Remove what `install` created (the audit log stays)'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "shell" -d 'The guarded shell: every line checked before it runs, then run by bash with the shims first on PATH'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "preflight" -d 'The pre-maintenance checklist: environment, cluster role, peers and their lag, backup age, snapshot space, pending packages, logged-in users, the host\'s own checks'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "maintenance" -d 'Risky maintenance: move the primary role away first (through the cluster daemon), mark the host, and undo it afterwards'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "hook" -d 'A coding agent\'s pre-tool-use hook: reads the tool call the agent sends on standard input (JSON), judges it as `check --line` would in the call\'s working directory (a file the agent writes: as a write to that file), and answers in the agent\'s protocol (no objection, ask its human, deny with the rule and the reason). A payload it cannot read is denied'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "init" -d 'Print the snippet that gives bash, zsh or fish the environment\'s prompt badge and a check of each line before it runs: eval "$(gardefou init bash)"; for an agent, the settings that register `gardefou hook AGENT` (with --install, merged into its user-level file: ~/.claude/settings.json, ~/.gemini/settings.json, ~/.codex/hooks.json, ~/.copilot/hooks/gardefou.json; the user\'s other settings and hooks kept)'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and not __fish_seen_subcommand_from check policy override approve run wire log snapshot apt-hook dpkg-hook install uninstall shell preflight maintenance hook init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Check policy files for errors (default: the files this host loads); non-zero on any problem'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Print the effective policy, each rule with the file it comes from'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "list" -d 'List the snapshots, oldest first (interrupted ones are settled first and reported)'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "show" -d 'Show one snapshot: its command, targets and every entry'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "take" -d 'Copy paths into a new snapshot now, before doing something by hand (they stay in place)'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "restore" -d 'Put a snapshot\'s files back: mode, owner (as root), times and symlinks included'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "verify" -d 'Re-read a snapshot and compare every file with its sha256 in the manifest'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "prune" -d 'Remove snapshots older than keep_days, then the oldest while the store is over max_bytes; never the newest keep_newest. Only shows what it would do without --yes'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "rm" -d 'Remove one snapshot for good'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from snapshot" -f -a "finish" -d 'Finish hashing a snapshot (run in the background by the guard)'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from maintenance" -f -a "start" -d 'Run the checklist; if this node is primary, ask the cluster to switch over to a healthy, in-sync standby (typed confirmation), wait until this node is secondary, then mark the host in maintenance'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from maintenance" -f -a "finish" -d 'Check the cluster, release what start did (leave standby, …), optionally switch the primary role back, and clear the mark'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from maintenance" -f -a "status" -d 'Show the maintenance mark and this node\'s role. Exit status: 0 in maintenance, 1 not'
complete -c gardefou -n "__fish_gardefou_using_subcommand help; and __fish_seen_subcommand_from maintenance" -f -a "release" -d 'Free the maintenance-lock slot a host holds (one that died in maintenance): typed confirmation of its name, audited'
