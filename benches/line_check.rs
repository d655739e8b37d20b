//! Per-line check time of the guarded shell: a typed line parsed, its effects resolved (a find
//! dry run included), probed (filesystem facts) and evaluated against the shipped policy, in
//! process, through the same pipeline as `gardefou shell` before running it. `cargo bench --bench line_check` prints the mean per line; results in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use gardefou::intent::line::Shell;
use gardefou::pipeline::{Context, judge_line};
use gardefou::policy::load::{Source, load};

fn main() {
    let policy = load(&[Source::File(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/debian.toml"),
    )])
    .expect("the shipped policy loads");
    let env = policy
        .environment("bench-host", Some("production"))
        .expect("production exists");
    let lines = [
        "ls -la /var/log | grep -v old",
        "cd /srv/app && git pull && systemctl restart app",
        "rm -rf /tmp/build-cache",
        "rm -rf /var/lib/postgresql",
        "for f in *.log; do gzip \"$f\"; done",
        "psql -d shop -c 'SELECT count(*) FROM orders'",
        "redis-cli -n 2 get session:42",
        "mv /etc/nginx/sites-enabled/default /tmp/default.bak",
        ": > /var/log/syslog.1 && tee /etc/hosts < /dev/null",
        "rsync -a --delete /srv/www/ /var/www/",
        "find /var/log -name '*.gz' -mtime +30 -delete",
        "f() { rm -rf \"$1\"/*; }; for d in /tmp/a /tmp/b; do f \"$d\"; done",
    ];
    let ctx = Context {
        policy: &policy,
        env: &env,
        host: "bench-host",
        error: None,
        net: false,
        ask_db: false,
    };
    let runs = 2000;
    let mut total = 0.0;
    for line in lines {
        let start = Instant::now();
        for _ in 0..runs {
            let mut shell = Shell::from_process();
            black_box(judge_line(&ctx, line.as_bytes(), &mut shell).expect("parses"));
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / runs as f64;
        total += per;
        println!("{per:9.1} µs  {line}");
    }
    println!(
        "{:9.1} µs  mean per line ({} lines; target < 1000 µs)",
        total / lines.len() as f64,
        lines.len()
    );
}
