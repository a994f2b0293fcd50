//! `cargo xtask watch`: re-runs the current topic whenever a file under `exercises/` is saved.
//! Editors save in bursts (temp file, rename, chmod): events within 300 ms make one run.
//! Where file events are unavailable (some network or container mounts), Enter re-runs.

use std::sync::mpsc;
use std::time::Duration;

use anyhow::Result;
use notify::{RecursiveMode, Watcher};

use crate::learner;
use crate::manifest;

enum Trigger {
    Saved,
    Enter,
    Quit,
}

pub fn watch() -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let saved = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| e.kind.is_modify() || e.kind.is_create() || e.kind.is_remove()) {
            let _ = saved.send(Trigger::Saved);
        }
    });
    if let Ok(w) = watcher.as_mut() {
        w.watch(
            &manifest::root().join("exercises"),
            RecursiveMode::Recursive,
        )?;
    } else {
        eprintln!("File events are unavailable here: press Enter to re-run.");
    }
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let quit = line.is_ok_and(|l| l.trim() == "q");
            if tx
                .send(if quit { Trigger::Quit } else { Trigger::Enter })
                .is_err()
                || quit
            {
                break;
            }
        }
    });
    loop {
        learner::next()?;
        println!(
            "\nWatching exercises/ for changes: save to re-run, Enter to re-run now, q then Enter to quit."
        );
        match rx.recv() {
            Ok(Trigger::Quit) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
        // Debounce: let the burst of events from one save settle.
        while let Ok(trigger) = rx.recv_timeout(Duration::from_millis(300)) {
            if matches!(trigger, Trigger::Quit) {
                return Ok(());
            }
        }
    }
}
