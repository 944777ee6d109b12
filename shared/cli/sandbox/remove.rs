//! `git sandbox rm`, `clean` and `gc`: sandboxes and overlay layers going away.

use super::*;

pub(in crate::cli) fn rm(
    ui: &mut Ui,
    main: &Main,
    name: &str,
    force: bool,
    delete_branch: bool,
    keep_locks: bool,
) -> Result<(), CommandError> {
    let removed = ops(main).remove(name, force, delete_branch, keep_locks)?;
    for w in &removed.warnings {
        ui.note(format!("warning: {w}"));
    }
    note_gone(ui, &removed.released.gone);
    let (r, keep_branch) = (&removed.record, removed.branch_kept);
    if ui.json {
        return ui.json(&serde_json::json!({
            "removed": name,
            "branch": r.branch,
            "branch_kept": keep_branch,
        }));
    }
    if keep_branch {
        ui.say(format!(
            "removed sandbox {name}; its unmerged commits stay on {} (`git branch -D {}` deletes them)",
            r.branch, r.branch
        ))
    } else {
        ui.say(format!("removed sandbox {name} and its branch {}", r.branch))
    }
}

pub(in crate::cli) fn clean(ui: &mut Ui, main: &Main) -> Result<(), CommandError> {
    let mut removed = Vec::new();
    for r in main.list()? {
        if !sandbox::dirty(&r)? && sandbox::merged(main, &r)? {
            sandbox::remove(main, &r)?;
            release_locks(ui, main, &r, &format!("removed sandbox {}", r.name))?;
            removed.push(r.name);
        }
    }
    let layers = sandbox::layers::collect(main)?;
    if ui.json {
        return ui.json(&serde_json::json!({ "removed": removed, "layers": layers }));
    }
    ui.say(format!(
        "removed {} sandbox(es){}",
        removed.len(),
        if removed.is_empty() {
            String::new()
        } else {
            format!(": {}", removed.join(", "))
        }
    ))?;
    say_layers(ui, &layers)
}

pub(in crate::cli) fn gc(ui: &mut Ui, main: &Main) -> Result<(), CommandError> {
    let layers = sandbox::layers::collect(main)?;
    if ui.json {
        return ui.json(&layers);
    }
    say_layers(ui, &layers)
}

pub(in crate::cli) fn say_layers(ui: &mut Ui, c: &sandbox::layers::Collected) -> Result<(), CommandError> {
    let mb = |b: u64| b as f64 / 1e6;
    let freed: u64 = c.removed.iter().map(|l| l.bytes).sum();
    let kept: u64 = c.kept.iter().map(|l| l.bytes).sum();
    let in_use = c.kept.iter().filter(|l| !l.sandboxes.is_empty()).count();
    ui.say(format!(
        "removed {} unused base layer(s) ({:.1} MB); kept {} ({:.1} MB, {in_use} in use){}",
        c.removed.len(),
        mb(freed),
        c.kept.len(),
        mb(kept),
        if c.leftovers > 0 {
            format!("; removed {} half-built layer(s) of interrupted runs", c.leftovers)
        } else {
            String::new()
        }
    ))
}
