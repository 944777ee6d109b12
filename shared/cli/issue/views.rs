//! Other views of the issues: `serve` (the dashboard) and `graph`.

use super::*;

pub(in crate::cli) fn serve(ui: &mut Ui, a: ServeArgs) -> Result<(), CommandError> {
    let mut opts = crate::web::Options::new(ui.dir.clone());
    opts.bind = a.bind;
    opts.port = a.port;
    opts.token = a.token.filter(|t| !t.is_empty());
    opts.actor = a.actor;
    let token = opts.token.clone();
    let quiet = ui.quiet;
    crate::web::serve(opts, |addr| {
        let url = match &token {
            Some(t) => format!("http://{addr}/?token={t}"),
            None => format!("http://{addr}/"),
        };
        if !quiet {
            eprintln!("grit: serving the dashboard at {url}");
        }
        if a.open {
            let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
            if let Err(e) = std::process::Command::new(opener)
                .arg(&url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
            {
                eprintln!("warning: could not open a browser ({opener}: {e}); open {url}");
            }
        }
    })?;
    Ok(())
}

pub(in crate::cli) fn graph(ui: &mut Ui, a: GraphArgs) -> Result<(), CommandError> {
    let store = open(ui)?;
    let g = crate::ops::graph::graph(&store, a.query.view.as_deref(), a.query.search.as_deref(), a.limit)?;
    if ui.json || a.format == "json" {
        return ui.json(&g);
    }
    let text = match a.format.as_str() {
        "dot" => crate::ops::graph::dot(&g),
        _ => crate::ops::graph::svg(&g, "#"),
    };
    ui.say(text.trim_end())
}
