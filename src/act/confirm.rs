//! Typed confirmation on the controlling terminal: the operator types the hostname or the
//! target, never y/N. Without a terminal there is no one to ask, and the caller decides by the
//! environment's `non_interactive` setting (never silently yes, unlike molly-guard).

use std::fs::OpenOptions;

use console::Term;
use dialoguer::Input;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Confirmed,
    Refused(String),
    NoTerminal,
}

/// Shows what a confirmation is about where it will be asked: on /dev/tty when standard error
/// is a terminal (under the read-only net that terminal is the shell's relay of the line's
/// errors, which would show it after the question), else on standard error.
pub fn say(text: &str) {
    use std::io::{IsTerminal, Write};
    if std::io::stderr().is_terminal()
        && let Ok(mut tty) = OpenOptions::new().write(true).open("/dev/tty")
        && tty.write_all(text.as_bytes()).is_ok()
    {
        return;
    }
    eprint!("{text}");
}

/// Whether there is a terminal to ask on.
pub fn terminal() -> bool {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

/// Asks on /dev/tty (not stdin: stdin may be a pipe feeding the command itself).
pub fn ask(prompt: &str, expected: &str) -> Answer {
    let Ok(tty) = OpenOptions::new().read(true).write(true).open("/dev/tty") else {
        return Answer::NoTerminal;
    };
    let Ok(reader) = tty.try_clone() else {
        return Answer::NoTerminal;
    };
    let term = Term::read_write_pair(reader, tty);
    match Input::<String>::new()
        .with_prompt(prompt)
        .allow_empty(true)
        .report(false)
        .interact_text_on(&term)
    {
        Ok(answer) if answer.trim() == expected => Answer::Confirmed,
        Ok(answer) => Answer::Refused(answer),
        Err(_) => Answer::Refused(String::new()),
    }
}
