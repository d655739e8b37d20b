//! The host shims: `reboot`, `poweroff`, `halt`, `shutdown`, `init`, `telinit`, `systemctl`
//! and `service`. Anything that does not take the host or a protected service down (`systemctl
//! status`, `shutdown -c`) is passed on at once; the rest is judged like rm — the power and
//! service rules, `[cluster] on_primary` on a primary not in maintenance, and the maintenance
//! lock when another host of the group is down — then run or refused.
//!
//! A maintainer script (`DPKG_MAINTSCRIPT_PACKAGE`, under dpkg) restarting its own service is
//! let through: the apt and dpkg hooks judged the package operation that runs it. A power
//! command from one is judged like any other.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use super::exec;
use super::guard::{Run, args_text, carry_out, record};
use crate::facts::hostname;
use crate::intent::{Arg, Intent, host};
use crate::outcome::exit;
use crate::pipeline::{environment, load_failsafe, probe_all, verdict_here};

const NOTHING: &str = "Nothing was stopped.";

/// One of the host shims, by argv[0]. Returns an exit status only when the real command is not
/// executed.
pub fn shim(name: &str, argv: &[OsString]) -> i32 {
    let argv0 = argv.first().cloned().unwrap_or_else(|| name.into());
    let args = argv.get(1..).unwrap_or(&[]);
    let real = match exec::find_real(OsStr::new(name), std::env::var_os("PATH").as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gardefou: {e}");
            return exit::NOT_FOUND;
        }
    };
    let words: Vec<Arg> = argv.iter().cloned().map(Arg::Known).collect();
    let text = format!("{name} {}", args_text(args)).trim_end().to_owned();
    let intent = host::parse(name, &words, text.clone());
    let intent = match intent {
        Some(i) if i.power.is_some() || !super::apt::in_maintainer_script() => i,
        _ => {
            eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
            return exit::CANNOT_EXEC;
        }
    };
    let loaded = load_failsafe(None);
    let host = hostname();
    let (env, env_error) = environment(&loaded.policy, &host, None);
    let intents = [Intent::Host(intent)];
    let probed = probe_all(&intents, &loaded.policy, None);
    let error = loaded.error.as_deref().or(env_error.as_deref());
    let v = verdict_here(&probed, &loaded.policy, &env, error, &host);
    let (run, outcome) = carry_out(&v, &env, &host, &text, NOTHING);
    record(
        &loaded.policy,
        &host,
        &env,
        argv,
        &v,
        Run {
            outcome,
            override_reason: None,
            snapshot_id: None,
        },
    );
    if !run {
        return exit::REFUSED;
    }
    eprintln!("gardefou: {}", exec::exec(&real, &argv0, args));
    exit::CANNOT_EXEC
}

/// The shim name argv[0] gives, when it is one of the host commands.
pub fn shim_name(argv0: &OsStr) -> Option<&str> {
    let name = Path::new(argv0).file_name()?.to_str()?;
    host::is_host_command(name).then_some(name)
}
