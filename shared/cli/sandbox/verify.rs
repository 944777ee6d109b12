//! `git sandbox verify`: checking the provenance trailers of commits.

use super::*;

/// One commit's provenance as `verify` reports it.
#[derive(serde::Serialize)]
pub(in crate::cli) struct Verified {
    commit: String,
    ok: bool,
    problem: Option<String>,
    provenance: Option<sandbox::provenance::Provenance>,
}

pub(in crate::cli) fn verify(ui: &mut Ui, main: &Main, commits: &[String]) -> Result<(), CommandError> {
    let mut out = Vec::new();
    let (mut bad, mut missing) = (0, 0);
    for c in commits {
        let id = main
            .git(&["rev-parse", "--verify", "--quiet", &format!("{c}^{{commit}}")])
            .map_err(|_| CommandError::usage(format!("'{c}' is not a commit"), "give commit ids, branches or tags"))?
            .trim()
            .to_owned();
        let message = main.git(&["log", "-1", "--format=%B", &id])?;
        let tree = main.git(&["rev-parse", &format!("{id}^{{tree}}")])?.trim().to_owned();
        let v = match sandbox::provenance::trailer_of(&message) {
            None => {
                missing += 1;
                Verified {
                    commit: id,
                    ok: false,
                    problem: Some(format!("no {} trailer", sandbox::provenance::TRAILER)),
                    provenance: None,
                }
            }
            Some(t) => match sandbox::provenance::verify_known(&main.repo, t, &tree) {
                Ok(p) => Verified {
                    commit: id,
                    ok: true,
                    problem: None,
                    provenance: Some(p),
                },
                Err(e) => {
                    bad += 1;
                    Verified {
                        commit: id,
                        ok: false,
                        problem: Some(e.to_string()),
                        provenance: None,
                    }
                }
            },
        };
        out.push(v);
    }
    if ui.json {
        ui.json(&out)?;
    } else {
        for v in &out {
            match (&v.provenance, &v.problem) {
                (Some(p), _) => ui.say(format!(
                    "{}: good provenance by actor {}: `{}` exited {} on {} ({}, isolation {})",
                    &v.commit[..12],
                    &p.actor[..12],
                    crate::cli::term::esc(&p.cmd.join(" ")),
                    p.exit_code,
                    p.base.get(..12).unwrap_or(&p.base),
                    p.backend,
                    p.isolation
                ))?,
                (None, Some(why)) => ui.say(format!("{}: {}", &v.commit[..12], crate::cli::term::esc(why)))?,
                (None, None) => {}
            }
        }
    }
    if bad > 0 {
        ui.flush()?;
        return Err(CommandError {
            damaged_index: None,
            code: crate::cli::exit::VERIFY_FAILED,
            message: format!("{bad} commit(s) carry provenance that does not verify"),
            causes: vec![],
            hints: vec![
                "the record or the commit's content was changed after it was signed, or a key this repository does \
                 not know signed it (grit.provenanceSigners adds one)"
                    .into(),
            ],
        });
    }
    if missing > 0 {
        ui.flush()?;
        return Err(CommandError::failure(format!("{missing} commit(s) have no provenance"))
            .hint("`git sandbox commit` and `run --commit` sign what they commit"));
    }
    Ok(())
}
