//! `completions/` and `man/` are generated from the clap definition and checked in; this test
//! fails when they are stale. Regenerate with `GARDEFOU_REGENERATE=1 cargo test --test generated`.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

fn expected() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut gardefou::cli::command(), "gardefou", &mut buf);
        let name = match shell {
            Shell::Bash => "gardefou.bash",
            Shell::Zsh => "_gardefou",
            _ => "gardefou.fish",
        };
        out.push((PathBuf::from("completions").join(name), buf));
    }
    let cmd = gardefou::cli::command();
    let mut pages = vec![("gardefou".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        pages.push((
            format!("gardefou-{}", sub.get_name()),
            sub.clone().name(format!("gardefou-{}", sub.get_name())),
        ));
    }
    for (name, page) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf).unwrap();
        out.push((PathBuf::from("man").join(format!("{name}.1")), buf));
    }
    out
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let regenerate = std::env::var_os("GARDEFOU_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (rel, bytes) in expected() {
        let path = root.join(&rel);
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            stale.push(rel.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run GARDEFOU_REGENERATE=1 cargo test --test generated"
    );
}
