//! Benchmarks of the terminal UI on ratatui's test backend (200×50), each beside a baseline
//! from the same run:
//! - from start (opening the repository) to the first frame, at 10,000 issues (baseline:
//!   `git issue list --limit 50`, the same query printed);
//! - from a keystroke in the query bar to the redrawn frame, median and p99, typing a query
//!   one character at a time at 10,000 issues;
//! - scrolling 100,000 issues a page at a time, per keystroke and frame.
//!
//! `benches/run --bench tui`; `GRIT_BENCH_SMALL=1` uses 10x fewer issues.

mod common;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use grit::tui::{App, Tab, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use common::{exe, generate, ms, new_repo, scratch};

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let small = std::env::var_os("GRIT_BENCH_SMALL").is_some();
    let scale = if small { 10 } else { 1 };
    let root = scratch();
    for n in [10_000 / scale, 100_000 / scale] {
        let dir = new_repo(root.path(), &format!("r{n}"));
        generate(&dir, n, 500);
        // The first run folds, as any first command would; the next nine are the baseline.
        let list_once = || {
            let start = Instant::now();
            let out = std::process::Command::new(exe("issue"))
                .args(["list", "--limit", "50"])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(out.status.success());
            start.elapsed()
        };
        list_once();
        let list: Vec<Duration> = (0..9).map(|_| list_once()).collect();
        let mut first = Vec::new();
        for _ in 0..9 {
            let start = Instant::now();
            let mut app = App::new(dir.clone(), Tab::Issues, Theme { color: true }).unwrap();
            let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
            term.draw(|f| app.render(f)).unwrap();
            first.push(start.elapsed());
        }
        let mut app = App::new(dir.clone(), Tab::Issues, Theme { color: true }).unwrap();
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        term.draw(|f| app.render(f)).unwrap();
        if n == 10_000 / scale {
            println!(
                "{n} issues: start to first frame median {:.1} ms (target <= 100); baseline `git issue list --limit 50` {:.1} ms",
                ms(common::med(first)),
                ms(common::med(list))
            );
            // Typing a query, a key at a time, then taking it back.
            let mut keys = Vec::new();
            app.key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
            app.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
            for _ in 0..5 {
                for c in "is:open label:bug crash"
                    .chars()
                    .chain("priority:<=2 sort:updated".chars())
                {
                    let start = Instant::now();
                    app.key(key(KeyCode::Char(c)));
                    term.draw(|f| app.render(f)).unwrap();
                    keys.push(start.elapsed());
                }
                for _ in 0.."is:open label:bug crashpriority:<=2 sort:updated".len() {
                    let start = Instant::now();
                    app.key(key(KeyCode::Backspace));
                    term.draw(|f| app.render(f)).unwrap();
                    keys.push(start.elapsed());
                }
            }
            println!(
                "{n} issues: keystroke in the query bar to the redrawn frame over {} keys: median {:.2} ms (target <= 16), p99 {:.2} ms (target <= 50)",
                keys.len(),
                ms(percentile(&mut keys, 0.5)),
                ms(percentile(&mut keys, 0.99))
            );
        } else {
            let mut scroll = Vec::new();
            for k in [KeyCode::PageDown; 200].into_iter().chain([KeyCode::Down; 200]) {
                let start = Instant::now();
                app.key(key(k));
                term.draw(|f| app.render(f)).unwrap();
                scroll.push(start.elapsed());
            }
            let start = Instant::now();
            app.key(key(KeyCode::End));
            term.draw(|f| app.render(f)).unwrap();
            let end = start.elapsed();
            println!(
                "{n} issues: scrolling, per key and frame: median {:.2} ms, p99 {:.2} ms; to the last issue {:.2} ms; start to first frame {:.1} ms",
                ms(percentile(&mut scroll, 0.5)),
                ms(percentile(&mut scroll, 0.99)),
                ms(end),
                ms(common::med(first))
            );
        }
    }
}
