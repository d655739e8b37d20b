//! Messages to operators: what was stopped, why (rule and reason), what to do next.

use colored::{ColoredString, Colorize};

use crate::policy::schema::Color;
use crate::policy::{Decision, Environment, Verdict};

/// Colors only for a terminal, and never with NO_COLOR (CLICOLOR_FORCE forces them).
pub fn init_colors(is_tty: bool) {
    let force = std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0");
    let no = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    colored::control::set_override(force || (is_tty && !no));
}

pub fn paint(text: &str, color: Color) -> ColoredString {
    match color {
        Color::Red => text.red(),
        Color::Yellow => text.yellow(),
        Color::Green => text.green(),
        Color::Blue => text.blue(),
        Color::Magenta => text.magenta(),
        Color::Cyan => text.cyan(),
        Color::White => text.white(),
    }
}

pub fn badge(env: &Environment, host: &str) -> String {
    paint(&format!("[{} {host}]", env.name.to_uppercase()), env.color)
        .bold()
        .to_string()
}

fn label(d: Decision) -> ColoredString {
    match d {
        Decision::Allow => "ALLOW".green().bold(),
        Decision::Confirm => "CONFIRM".yellow().bold(),
        Decision::Deny => "DENY".red().bold(),
    }
}

/// The verdict explained, several lines, ending with a newline.
pub fn verdict(v: &Verdict, env: &Environment, host: &str, command: &str) -> String {
    let mut out = format!(
        "gardefou: {} {}  {}\n",
        label(v.decision),
        command.bold(),
        badge(env, host)
    );
    for r in &v.reasons {
        let mark = match v.decision {
            Decision::Deny => "✘".red(),
            Decision::Confirm => "!".yellow(),
            Decision::Allow => "✔".green(),
        };
        out.push_str(&format!(
            "  {mark} {}\n      rule {}\n",
            r.message,
            r.rule.dimmed()
        ));
    }
    for n in &v.notes {
        out.push_str(&format!("  · {}\n", n.dimmed()));
    }
    if v.snapshot {
        out.push_str("  the policy asks for a snapshot before this runs\n");
    }
    out
}

/// What the operator can do next after a refusal.
pub fn next_steps(v: &Verdict, command: &str, nothing: &str) -> String {
    match v.decision {
        Decision::Deny => format!(
            "  {nothing} If this is really intended, run:\n    gardefou override --reason '…' -- {command}\n  (typed confirmation, written to the audit log), or change the rule named above.\n"
        ),
        _ => format!("  {nothing}\n"),
    }
}

/// The question a confirmation asks, without giving the answer away.
pub fn confirm_prompt(env: &Environment, target: Option<&str>) -> String {
    if let Some(t) = target {
        let what = if t.starts_with('/') {
            "the full path of the target"
        } else {
            "the name of the package"
        };
        format!("{} to go ahead, type {what} shown above", badge_plain(env))
    } else {
        format!("{} to go ahead, type this host's name", badge_plain(env))
    }
}

fn badge_plain(env: &Environment) -> String {
    paint(&format!("[{}]", env.name.to_uppercase()), env.color)
        .bold()
        .to_string()
}
