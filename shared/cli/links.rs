//! Links between issues on the command line: `git issue link|unlink`, the link flags of
//! `create` and `edit` (checked for cycles before anything is written), and how `show` prints
//! an issue's links both ways.

use clap::Args;

use super::term::esc;
use super::{CommandError, Ui};
use crate::event::{Id, Kind, State};
use crate::issue::LinkSpec;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The issue the link is from (id or unique prefix)
    pub id: String,
    /// blocks, blocked-by, parent (the second issue becomes the first's parent), child, related,
    /// duplicate-of or discovered-from
    #[arg(value_name = "KIND", value_parser = clap::builder::PossibleValuesParser::new(LinkSpec::NAMES))]
    pub kind: String,
    /// The issue the link is to
    #[arg(value_name = "OTHER")]
    pub other: String,
}

pub use crate::ops::issues::{LinkChange as Change, cycle_edge};

/// The events that make `changes`, by the issue each is written on (`Issues::plan_links`); its
/// notes said on stderr.
pub fn plan(ui: &Ui, store: &Store, changes: &[Change]) -> Result<Vec<(Id, Vec<Kind>)>, CommandError> {
    let mut notes = Vec::new();
    let planned = crate::ops::Issues::new(store).plan_links(changes, &mut notes)?;
    for n in notes {
        ui.note(n);
    }
    Ok(planned)
}

fn short(store: &Store, id: &Id) -> Result<String, CommandError> {
    Ok(store.index.short_id(id)?)
}

pub fn link(ui: &mut Ui, a: LinkArgs, add: bool) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let spec = LinkSpec::parse(&a.kind).expect("clap checked the kind");
    let done = crate::ops::Issues::new(&store).link(&a.id, spec, &a.other, add)?;
    for n in &done.notes {
        ui.note(n);
    }
    let (x, y, wrote) = (done.id, store.index.resolve(&a.other)?, done.changed);
    if ui.json {
        return ui.json(&serde_json::json!({
            "id": x.to_hex(),
            "link": a.kind,
            "other": y.to_hex(),
            "linked": add,
            "changed": wrote,
        }));
    }
    if wrote {
        ui.say(format!(
            "{} {} {} {}",
            if add { "linked" } else { "unlinked" },
            short(&store, &x)?,
            a.kind,
            short(&store, &y)?
        ))?;
    }
    Ok(())
}

pub use crate::ops::show::{LinkView, cycles, link_name, views};

/// `show`'s lines for links and cycles.
pub fn print(ui: &mut Ui, links: &[LinkView], cycles: &[(&'static str, Vec<String>)]) -> Result<(), CommandError> {
    let mut last = "";
    for l in links {
        let label = match l.link {
            "blocked_by" => "Blocked by",
            "blocks" => "Blocks",
            "parent" => "Parent",
            "child" => "Children",
            "related" => "Related",
            "duplicate_of" => "Duplicate of",
            "duplicated_by" => "Duplicates",
            "discovered_from" => "Discovered from",
            "discovered" => "Led to",
            _ => "Linked",
        };
        if label != last {
            ui.say(format!("{label}:"))?;
            last = label;
        }
        let state = match l.state {
            Some(State::Open) => ui.paint("32", "open"),
            Some(State::Closed) => ui.paint("35", "closed"),
            None => "unknown".to_owned(),
        };
        ui.say(format!(
            "  {} {state} {}",
            ui.paint("33", &l.short_id),
            esc(l.title.as_deref().unwrap_or("(not in this clone yet)"))
        ))?;
    }
    for (link, ids) in cycles {
        let mut ring = ids.clone();
        ring.push(ids[0].clone());
        ui.say(format!(
            "{} {link} cycle: {} (made concurrently; `git issue unlink` one of them)",
            ui.paint("31", "warning:"),
            ring.join(" → ")
        ))?;
    }
    Ok(())
}
