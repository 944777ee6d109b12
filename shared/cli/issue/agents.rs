//! Working on issues: `claim`, `unclaim` and `prime`.

use super::*;

pub(in crate::cli) fn scope(store: &Store, local: bool) -> Scope {
    if local {
        Scope::Local
    } else {
        lock::default_scope(&store.repo)
    }
}

pub(in crate::cli) fn claim(ui: &mut Ui, a: ClaimArgs) -> Result<(), CommandError> {
    let ttl = lock::parse_duration(&a.ttl)?;
    let store = open(ui)?;
    let scope = scope(&store, a.local);
    let issues = crate::ops::Issues::new(&store);
    let id = match a.id.as_deref() {
        Some(query) => {
            let id = store.index.resolve(query)?;
            issues.claim(&id, ttl, &scope)?;
            id
        }
        None => issues.claim_next(&search::parse_query(&store, &a.query)?, ttl, &scope)?,
    };
    print_written(ui, &store, &id, "claimed")
}

pub(in crate::cli) fn unclaim(ui: &mut Ui, a: UnclaimArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let id = store.index.resolve(&a.id)?;
    let scope = scope(&store, a.local);
    crate::ops::Issues::new(&store).unclaim(&id, &scope, a.force)?;
    print_written(ui, &store, &id, "unclaimed")
}

pub(in crate::cli) fn prime(ui: &mut Ui, a: PrimeArgs) -> Result<(), CommandError> {
    if a.max_bytes < 256 {
        return Err(CommandError::usage(
            format!("--max-bytes {} leaves no room for a primer", a.max_bytes),
            "give at least 256",
        ));
    }
    let store = open(ui)?;
    let p = crate::ops::prime::prime(&store, a.ready, a.peek)?;
    // --json: every item, unbounded.
    if ui.json {
        return ui.json(&p);
    }
    ui.flush()?;
    print!("{}", crate::ops::prime::text(&p, a.max_bytes));
    Ok(())
}
