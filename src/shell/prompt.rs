//! The prompt: `[PRODUCTION host] user:cwd [status]$ ` with the environment's badge in its
//! color (plain without a terminal or with NO_COLOR), a loud mark when the policy is broken,
//! and `[MAINTENANCE]` while the host is in maintenance. No git, nothing slow.

use super::Session;

/// The directory as the prompt shows it: `~` for the home directory.
fn short_cwd(s: &Session) -> String {
    let cwd = s.cwd.display().to_string();
    match s.vars.get(std::ffi::OsStr::new("HOME")) {
        Some(home) if !home.is_empty() && home != "/" => {
            let home = home.to_string_lossy();
            match cwd.strip_prefix(home.as_ref()) {
                Some("") => "~".into(),
                Some(rest) if rest.starts_with('/') => format!("~{rest}"),
                _ => cwd,
            }
        }
        _ => cwd,
    }
}

/// The prompt text, colored when colors are on.
pub fn prompt(s: &Session) -> String {
    let badge = crate::render::badge(&s.env, &s.host);
    let broken = if s.broken.is_some() {
        format!(
            "{} ",
            crate::render::paint("[POLICY BROKEN]", crate::policy::schema::Color::Red)
        )
    } else {
        String::new()
    };
    // Read at every prompt (one small file): another terminal may start or end maintenance.
    let state_file = crate::cluster::Settings::of(s.loaded.policy.cluster.as_ref()).state_file;
    let maintenance = match crate::act::maintenance::current(&state_file) {
        Ok(Some(_)) => format!(
            " {}",
            crate::render::paint("[MAINTENANCE]", crate::policy::schema::Color::Yellow)
        ),
        _ => String::new(),
    };
    let status = if s.status != 0 {
        format!(" [{}]", s.status)
    } else {
        String::new()
    };
    let sigil = if nix::unistd::geteuid().is_root() {
        '#'
    } else {
        '$'
    };
    format!(
        "{broken}{badge}{maintenance} {}:{}{status}{sigil} ",
        s.user,
        short_cwd(s)
    )
}
