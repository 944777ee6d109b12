//! Generated documentation (man pages, shell completions) and the `git issue demo` tour.
//! Man pages and completions come from the same clap definitions as `--help`.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::CommandFactory;

use super::{CommandError, Ui};

/// The top-level command of every tool.
pub fn tools() -> Vec<clap::Command> {
    vec![
        super::issue::Cli::command(),
        super::wal::Cli::command(),
        super::lock::Cli::command(),
        super::sandbox::Cli::command(),
    ]
}

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB1\fR
Failure: a git or filesystem error, or something that was asked for does not exist.
.TP
\fB2\fR
Usage error or invalid input. Nothing was written.
.TP
\fB3\fR
Lock conflict: another actor holds the lock.
.TP
\fB4\fR
Verification failed: an event's id or signature does not check out, or a chunk is malformed.
"#;

fn json_section(tool: &str) -> &'static str {
    match tool {
        "git-issue" => {
            r#".SH "JSON OUTPUT"
With \fB\-\-json\fR, stdout holds only JSON; errors go to stderr with a non\-zero exit.
Fields may be added in later versions, never removed or renamed.
.TP
\fBlist\fR
A JSON array of objects: \fBid\fR (full hex), \fBshort_id\fR (shortest unique prefix, at least 7),
\fBtitle\fR, \fBstate\fR ("open" or "closed"), \fBstate_reason\fR ("completed", "not_planned" or null),
\fBlabels\fR and \fBassignees\fR (sorted arrays of strings), \fBcomments\fR (count),
\fBcreated_at\fR and \fBupdated_at\fR (RFC 3339, UTC), \fBauthor\fR (object: \fBid\fR, \fBname\fR, \fBemail\fR).
Each also has \fBclaim\fR: null, or \fBby\fR (actor id), \fBby_name\fR (the person), \fBby_actor\fR (which of
their actors: its local label, or "actor" and the start of its id) and \fBuntil\fR (RFC 3339).
\fBready\fR prints the same array.
.TP
\fBshow\fR, \fBcreate\fR, \fBedit\fR, \fBcomment\fR, \fBclose\fR, \fBreopen\fR, \fBclaim\fR, \fBunclaim\fR
One object with the list fields (\fBcomments\fR is then an array) plus \fBbody\fR; each comment has
\fBid\fR, \fBauthor\fR, \fBcreated_at\fR and \fBbody\fR.
"#
        }
        "git-wal" => {
            r#".SH "JSON OUTPUT"
With \fB\-\-json\fR, stdout holds only JSON; errors go to stderr with a non\-zero exit.
.TP
\fBlog\fR
An array of events: \fBid\fR, \fBentity\fR, \fBkind\fR (e.g. "issue.created"), \fBcode\fR, \fBactor\fR,
\fBlamport\fR, \fBtime\fR, \fBparents\fR, \fBcommit\fR, \fBreference\fR, \fBsummary\fR.
.TP
\fBstats\fR
An object: \fBevents\fR, \fBissues\fR, \fBactors\fR, \fBrefs\fR, \fBindex_bytes\fR, \fBindex_path\fR,
\fBschema_version\fR, \fBlast_fold_at\fR, \fBlast_fold_ms\fR, \fBlamport\fR.
.TP
\fBrebuild\fR
An object: \fBrefs_changed\fR, \fBcommits\fR, \fBevents\fR, \fBmillis\fR, \fBsnapshot\fR (the snapshot
it started from, or null), \fBrejected\fR (events from other clones that failed verification: \fBref\fR,
\fBcommit\fR, \fBevent\fR, \fBreason\fR).
.TP
\fBinit\fR
An object: \fBactor\fR, \fBactor_label\fR, \fBhooks\fR (as \fBhooks status\fR, with \fBaction\fR),
\fBremotes\fR (\fBname\fR, \fBadded_refspecs\fR), \fBpush_with_code\fR.
.TP
\fBsync\fR, \fBpull\fR, \fBpush\fR
An object: \fBremote\fR, \fBrounds\fR, \fBevents_folded\fR, \fBsnapshot\fR, \fBpartial\fR (null, or
\fBissue\fR, \fBcarried_events\fR, \fBheld_back_commits\fR) and \fBrefs\fR, one object per ref that
changed: \fBref\fR (the local name), \fBfetched\fR (null or \fBold\fR/\fBnew\fR), \fBintegrated\fR
("created", "fast-forward", "union", "kept-local" or null), \fBpushed\fR ("new", "fast-forward" or
null), \fBpushed_commit\fR, \fBrejected\fR (why, or null). Exit status 1 when any ref was rejected.
.TP
\fBhooks install\fR, \fBhooks uninstall\fR, \fBhooks status\fR
An array, one object per hook: \fBname\fR, \fBpath\fR, \fBstate\fR ("absent", "installed", "chained",
"outdated", "foreign", or "moved": another hook manager moved grit's hook to \fI<hook>.legacy\fR and runs it
from there), \fBaction\fR ("installed", "updated", "up-to-date", "chained", "replaced",
"removed", "restored", "left-alone", "not-installed"; null for status) and \fBnote\fR (what else was done,
such as an orphaned chained hook adopted or kept aside; or null).
.TP
\fBsnapshot\fR
An object: \fBcreated\fR (null, or \fBref\fR, \fBcommit\fR, \fBevents\fR) and \fBsnapshots\fR (all of them).
.TP
\fBgc\fR
An object: \fBdeleted\fR (snapshot objects) and \fBkept\fR.
.TP
\fBactor list\fR, \fBactor show\fR, \fBactor new\fR, \fBactor use\fR
Actor objects: \fBlabel\fR, \fBid\fR, \fBname\fR, \fBemail\fR, \fBcreated_ms\fR, \fBcurrent\fR, \fBwal_ref\fR.
.TP
\fBcheck\fR, \fBverify\fR
An object: \fBrefs\fR, \fBcommits\fR, \fBevents\fR, \fBsnapshots\fR (how many were read), \fBmillis\fR, and
\fBfindings\fR: objects with \fBcheck\fR (chunk, object, owner, bounds, encoding, parent, snapshot, index,
signature or record), \fBref\fR, \fBcommit\fR, \fBevent\fR (each null where it does not apply),
\fBmessage\fR and \fBresolved\fR (a quarantined entry someone resolved: listed, not a failure).
Exit status 4 when a finding is not resolved.
.TP
\fBdoctor\fR
An object: \fBchecked\fR (the names of the checks run) and \fBproblems\fR: objects with \fBcheck\fR,
\fBmessage\fR, \fBrepair\fR (what repairs it), \fBfixable\fR (\fB\-\-fix\fR does it) and \fBfixed\fR.
Exit status 1 while a problem remains.
.TP
\fBquarantine\fR, \fBquarantine resolve\fR
An array of entries: \fBevent\fR (null for an unreadable chunk), \fBcommit\fR, \fBref\fR, \fBreason\fR,
\fBfound_at\fR and \fBresolved\fR.
.TP
\fBwatch\fR
JSON Lines, one record per line: \fBtype\fR ("event", "lock" or "sandbox"), \fBcursor\fR (pass it to
\fB\-\-since\fR to resume right after the record), and \fBevent\fR (as \fBlog\fR prints it) with
\fBissue\fR (the issue as \fBgit issue list \-\-json\fR shows it now), or \fBlock\fR (\fBchange\fR and the
\fBlock\fR as \fBgit lock\fR prints it), or \fBsandbox\fR (\fBstep\fR: created, ran, committed, merged,
removed; \fBname\fR, \fBbranch\fR, \fBpath\fR, \fBbackend\fR, \fBissue\fR and what the step adds).
See docs/protocol.md.
.TP
\fBdaemon status\fR
An object: \fBrunning\fR; while it runs \fBpid\fR, \fBstarted_at\fR, \fBsocket\fR, \fBclients\fR,
\fBsubscriptions\fR, \fBsync\fR (\fBinterval_ms\fR, \fBremote\fR, \fBlast_at\fR, \fBlast_ok\fR,
\fBlast_message\fR, \fBfailures\fR, \fBnext_in_ms\fR, \fBruns\fR) and \fBwebhooks\fR; always
\fBdeliveries\fR: per webhook \fBname\fR, \fBparked\fR and \fBpending_records\fR.
.TP
\fBwebhook list\fR
An array: \fBname\fR, \fBtarget\fR, \fBquery\fR, \fBevents\fR, \fBsigned\fR, \fBcursor\fR, \fBparked\fR.
"#
        }
        "git-lock" => {
            r#".SH "JSON OUTPUT"
With \fB\-\-json\fR, stdout holds only JSON; errors go to stderr with a non\-zero exit (3 for a
lock held by someone else).
.TP
\fBacquire\fR, \fBrenew\fR, \fBrelease\fR, \fBstatus\fR, \fBgc\fR
An array of locks: \fBref\fR, \fBcommit\fR, \fBsource\fR ("local" or the remote it was found on),
\fBresource\fR, \fBowner\fR (actor id), \fBowner_name\fR, \fBowner_actor\fR (its local label, or "actor" and the start of its id), \fBheld\fR, \fBactive\fR (held and not
expired), \fBacquired_ms\fR, \fBexpires_ms\fR, \fBexpires_at\fR, \fBnote\fR, \fBnonce\fR, \fBseq\fR
(length of the lock's history), \fBaction\fR ("acquire", "renew", "release", "break", "guard") and
\fBby\fR (who wrote that commit).
.TP
\fBcheck\fR
An object: \fBpolicy\fR ("off", "warn", "require") and \fBconflicts\fR, each a lock as above plus
\fBwhat\fR (the path or issue that hit it).
"#
        }
        _ => "",
    }
}

fn render_page(cmd: clap::Command, name: &str, extra: &[&str]) -> Vec<u8> {
    let has_version = cmd.get_version().is_some();
    let synopsis = synopsis(&cmd);
    let man = clap_mangen::Man::new(cmd)
        .title(name.to_uppercase())
        .manual("grit manual")
        .source(concat!("grit ", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    type Section = fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>;
    let before: [Section; 2] = [clap_mangen::Man::render_title, clap_mangen::Man::render_name_section];
    let after: [Section; 3] = [
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
        clap_mangen::Man::render_subcommands_section,
    ];
    for render in before {
        render(&man, &mut out).expect("writing to a Vec cannot fail");
    }
    out.extend_from_slice(synopsis.as_bytes());
    for render in after {
        render(&man, &mut out).expect("writing to a Vec cannot fail");
    }
    for e in extra {
        out.extend_from_slice(e.as_bytes());
    }
    out.extend_from_slice(see_also(name).as_bytes());
    if has_version {
        man.render_version_section(&mut out)
            .expect("writing to a Vec cannot fail");
    }
    out
}

/// Escapes text for roff.
fn roff(s: &str) -> String {
    s.replace('\\', "\\\\").replace('-', "\\-")
}

/// SYNOPSIS as git's own pages write it: every option with its value name, required ones
/// without brackets, repeatable ones with `...`, then the positionals.
fn synopsis(cmd: &clap::Command) -> String {
    let bin = cmd.get_bin_name().unwrap_or(cmd.get_name());
    let mut parts = vec![format!("\\fB{}\\fR", roff(bin))];
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()) {
        if matches!(a.get_id().as_str(), "help" | "version") {
            continue;
        }
        let flag = match (a.get_short(), a.get_long()) {
            (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", roff(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", roff(l)),
            (None, None) => continue,
        };
        let value = match (a.get_action().takes_values(), a.get_value_names()) {
            (true, Some(names)) => format!(" \\fI{}\\fR", roff(names.first().map_or("VALUE", |n| n.as_str()))),
            (true, None) => format!(" \\fI{}\\fR", roff(&a.get_id().as_str().to_uppercase())),
            _ => String::new(),
        };
        let many = if matches!(a.get_action(), clap::ArgAction::Append | clap::ArgAction::Count) {
            "..."
        } else {
            ""
        };
        parts.push(if a.is_required_set() {
            format!("{flag}{value}{many}")
        } else {
            format!("[{flag}{value}]{many}")
        });
    }
    for a in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let name = a
            .get_value_names()
            .and_then(|n| n.first())
            .map_or_else(|| a.get_id().as_str().to_uppercase(), |n| n.to_string());
        let many = if a.get_num_args().is_some_and(|n| n.max_values() > 1) {
            "..."
        } else {
            ""
        };
        let dashes = if a.is_last_set() { "\\-\\- " } else { "" };
        let text = format!("{dashes}\\fI{}\\fR{many}", roff(&name));
        parts.push(if a.is_required_set() { text } else { format!("[{text}]") });
    }
    if cmd.has_subcommands() {
        parts.push("\\fICOMMAND\\fR [\\fIARGS\\fR]".into());
    }
    format!(".SH SYNOPSIS\n{}\n", parts.join(" "))
}

/// SEE ALSO: the other tools' pages, and a subcommand's own tool; never the page itself.
fn see_also(name: &str) -> String {
    let tools = ["git-issue", "git-wal", "git-lock", "git-sandbox"];
    let own = tools.iter().find(|t| name.starts_with(&format!("{t}-")));
    let mut pages: Vec<&str> = own.into_iter().copied().collect();
    pages.extend(tools.iter().filter(|t| **t != name && Some(*t) != own));
    let list: Vec<String> = pages.iter().map(|p| format!("\\fB{}\\fR(1)", roff(p))).collect();
    format!(".SH \"SEE ALSO\"\n{}, \\fBgit\\fR(1)\n", list.join(", "))
}

/// Every generated file, relative to the repository root, with its contents.
pub fn generated_files() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for mut cmd in tools() {
        cmd.build();
        let tool = cmd.get_name().to_owned();
        files.push((
            PathBuf::from(format!("man/{tool}.1")),
            render_page(cmd.clone(), &tool, &[EXIT_STATUS, json_section(&tool)]),
        ));
        for sub in cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help" && !s.is_hide_set())
        {
            let name = format!("{tool}-{}", sub.get_name());
            let bin = format!("{} {}", cmd.get_bin_name().unwrap_or(&tool), sub.get_name());
            let page = sub.clone().name(name.clone()).display_name(name.clone()).bin_name(bin);
            files.push((PathBuf::from(format!("man/{name}.1")), render_page(page, &name, &[])));
        }
        let short = tool.trim_start_matches("git-");
        for (file, script) in [
            (format!("{tool}.bash"), BASH),
            (format!("_{tool}"), ZSH),
            (format!("{tool}.fish"), FISH),
        ] {
            let script = script
                .replace("@tool@", short)
                .replace("@fn@", &short.replace('-', "_"));
            files.push((PathBuf::from(format!("completions/{file}")), script.into_bytes()));
        }
    }
    files.push((PathBuf::from("completions/grit.fish"), FISH_GIT.as_bytes().to_vec()));
    for t in super::topics::TOPICS {
        files.push((
            PathBuf::from(format!("man/git-{}-{}.7", t.tool, t.name)),
            super::topics::render_man(t),
        ));
    }
    files
}

/// Completion scripts: each asks the binary (`git-<tool> __complete INDEX WORD…`, see
/// `cli::complete`) for the candidates, so values come from the repository and nothing goes stale.
const BASH: &str = r#"# bash completion for `git @tool@ …` and `git-@tool@ …` (grit). Generated: the candidates come
# from `git-@tool@ __complete`. Installed as git-@tool@ in bash-completion's directory, git's own
# completion loads it when it meets `git @tool@`, and calls _git_@fn@.

# _grit_complete TOOL INDEX WORD…: completes word INDEX of the words after the tool's name.
_grit_complete() {
    local tool=$1 index=$2
    shift 2
    local IFS=$'
' out
    out=$(command "git-$tool" __complete "$index" "$@" 2>/dev/null) || return 0
    local cur=${@:index+1:1}
    if [[ $out == __files__ ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    else
        # A candidate may carry a description after a tab (an issue's title): bash shows none.
        COMPREPLY=($out)
        COMPREPLY=("${COMPREPLY[@]%%$'\t'*}")
    fi
    # bash replaces only what follows the last `:` of the word (COMP_WORDBREAKS has `:`), so
    # each candidate loses what the word already holds up to there (`issue:` of `issue:1a7`).
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local colon=${cur%"${cur##*:}"} i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$colon"}
        done
    fi
}

# `git @tool@ …`: git's completion has set words, cword and __git_cmd_idx.
_git_@fn@() {
    local at=${__git_cmd_idx:-1}
    _grit_complete @tool@ $((cword - at - 1)) "${words[@]:at+1}"
}

# `git-@tool@ …`: the words as typed, `issue:1a7` one word (bash-completion joins them again).
_git_@fn@_direct() {
    local words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        _get_comp_words_by_ref -n =: words cword
    else
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    _grit_complete @tool@ $((cword - 1)) "${words[@]:1}"
}
complete -F _git_@fn@_direct git-@tool@
"#;

const ZSH: &str = r#"#compdef git-@tool@
# zsh completion for `git-@tool@ …` and, through git's _git (which calls _git-@tool@ for external
# commands), `git @tool@ …` (grit). Generated: the candidates come from `git-@tool@ __complete`.
# Put this file in a directory of $fpath before compinit runs.

_git-@tool@() {
  local -a out vals shown
  local line
  out=("${(@f)$(git-@tool@ __complete $((CURRENT - 2)) "${(@)words[2,-1]}" 2>/dev/null)}")
  if [[ ${out[1]} == __files__ ]]; then
    _files
    return
  fi
  # A candidate may carry a description after a tab (an issue's title), shown beside it.
  for line in $out; do
    [[ -n $line ]] || continue
    vals+=("${line%%$'\t'*}")
    if [[ $line == *$'\t'* ]]; then
      shown+=("${line%%$'\t'*}  -- ${line#*$'\t'}")
    else
      shown+=("$line")
    fi
  done
  compadd -l -d shown -a vals
}

_git-@tool@ "$@"
"#;

const FISH: &str = r#"# fish completion for `git-@tool@ …` (grit); `git @tool@ …` is completed by grit.fish, in fish's
# vendor_conf.d. Generated: the candidates come from `git-@tool@ __complete` (an issue's title
# after a tab is fish's description).

function __grit_complete_@fn@
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -e words[1]
    set -l out (git-@tool@ __complete (count $words) $words $cur 2>/dev/null)
    if test "$out" = __files__
        __fish_complete_path $cur
    else
        printf '%s
' $out
    end
end

complete -c git-@tool@ -f -a '(__grit_complete_@fn@)'
"#;

/// `git issue|wal|lock|sandbox <TAB>` in fish. fish's own git completion before 3.7 registers a
/// `git-NAME` command's completions under `git-NAME`, never `NAME`, so `git issue <TAB>` offered
/// file names; this file, loaded at startup from vendor_conf.d, registers them for `git`.
const FISH_GIT: &str = r#"# fish: `git issue|wal|lock|sandbox <TAB>` (grit). fish's git completion before 3.7 looks for a
# git-NAME command's completions under the wrong name, so `git issue <TAB>` offered file names;
# this registers them for `git` itself. Installed in fish's vendor_conf.d. Generated.

function __grit_git_command --description 'the git subcommand on the command line'
    set -l words (commandline -opc)
    set -e words[1]
    while set -q words[1]
        switch $words[1]
            case -C -c --git-dir --work-tree --namespace --exec-path --config-env
                set -e words[1..2]
            case '-*'
                set -e words[1]
            case '*'
                echo $words[1]
                return 0
        end
    end
    return 1
end

function __grit_git_using -a tool --description 'whether the command line is `git TOOL …`'
    set -l cmd (__grit_git_command)
    test "$cmd" = "$tool"
end

function __grit_git_complete -a tool --description 'grit completes a word of `git TOOL …`'
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l at (contains -i -- $tool $words)
    set -l args
    if test $at -lt (count $words)
        set args $words[(math $at + 1)..-1]
    end
    set -l out (git-$tool __complete (count $args) $args $cur 2>/dev/null)
    if test "$out" = __files__
        __fish_complete_path $cur
    else
        printf '%s\n' $out
    end
end

for tool in issue wal lock sandbox
    complete -c git -f -n "__grit_git_using $tool" -a "(__grit_git_complete $tool)"
end
"#;

fn run_shown(ui: &mut Ui, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String, CommandError> {
    let shown: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(args.iter().map(|a| {
            if a.contains(' ') {
                format!("\"{a}\"")
            } else {
                (*a).to_owned()
            }
        }))
        .collect();
    ui.say(format!("{} {}", ui.paint("36", "$"), ui.paint("1", &shown.join(" "))))?;
    let out = Process::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let hint = if stderr.contains("is not a git command") {
            "install the suite so git finds it: `cargo install --locked --path .`, with ~/.cargo/bin on PATH"
        } else {
            "this is a bug in grit; please report it with the output above"
        };
        return Err(CommandError::failure(format!("`{}` failed: {}", shown.join(" "), stderr.trim())).hint(hint));
    }
    ui.say(stdout.trim_end())?;
    ui.say("")?;
    Ok(stdout.trim().to_owned())
}

/// `git issue demo`: a scratch repository, two writers, every issue command once.
pub fn demo(ui: &mut Ui, dir: Option<PathBuf>) -> Result<(), CommandError> {
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("grit-demo-{}", std::process::id())));
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        return Err(CommandError::usage(
            format!("{} is not empty", dir.display()),
            "give a new or empty directory",
        ));
    }
    std::fs::create_dir_all(&dir)?;
    ui.say(format!("A scratch repository in {}\n", dir.display()))?;
    run_shown(ui, &dir, &["git", "init", "-q"], &[])?;
    run_shown(ui, &dir, &["git", "config", "user.name", "Ada Lovelace"], &[])?;
    run_shown(ui, &dir, &["git", "config", "user.email", "ada@example.com"], &[])?;
    let bug = run_shown(
        ui,
        &dir,
        &[
            "git",
            "issue",
            "create",
            "--title",
            "Login fails behind the proxy",
            "--body",
            "Steps: set HTTPS_PROXY, run login.",
            "--label",
            "bug",
        ],
        &[],
    )?;
    let docs = run_shown(
        ui,
        &dir,
        &[
            "git",
            "issue",
            "create",
            "--title",
            "Document the sync model",
            "--label",
            "docs",
        ],
        &[],
    )?;
    run_shown(
        ui,
        &dir,
        &[
            "git",
            "issue",
            "comment",
            &bug,
            "--body",
            "Reproduced; the proxy strips the header.",
        ],
        &[("GRIT_ACTOR", "agent-1")],
    )?;
    run_shown(
        ui,
        &dir,
        &[
            "git",
            "issue",
            "edit",
            &bug,
            "--add-label",
            "p1",
            "--add-assignee",
            "agent-1",
        ],
        &[],
    )?;
    run_shown(
        ui,
        &dir,
        &[
            "git",
            "issue",
            "close",
            &docs,
            "--reason",
            "completed",
            "--comment",
            "Written up in the README.",
        ],
        &[],
    )?;
    run_shown(
        ui,
        &dir,
        &[
            "git",
            "issue",
            "create",
            "--title",
            "Release 1.2",
            "--priority",
            "1",
            "--blocked-by",
            &bug,
        ],
        &[],
    )?;
    run_shown(ui, &dir, &["git", "issue", "list", "--state", "all"], &[])?;
    run_shown(
        ui,
        &dir,
        &["git", "issue", "list", "-S", "proxy label:bug sort:priority"],
        &[],
    )?;
    run_shown(ui, &dir, &["git", "issue", "ready"], &[])?;
    run_shown(ui, &dir, &["git", "issue", "show", &bug], &[])?;
    run_shown(
        ui,
        &dir,
        &["git", "issue", "claim", &bug, "--local"],
        &[("GRIT_ACTOR", "agent-1")],
    )?;
    run_shown(ui, &dir, &["git", "issue", "list"], &[])?;
    run_shown(
        ui,
        &dir,
        &[
            "git",
            "lock",
            "acquire",
            "path:src/",
            "--local",
            "--ttl",
            "1h",
            "--note",
            "refactor",
        ],
        &[],
    )?;
    run_shown(ui, &dir, &["git", "lock", "status"], &[])?;
    run_shown(
        ui,
        &dir,
        &["git", "commit", "-q", "--allow-empty", "-m", "first commit"],
        &[],
    )?;
    run_shown(
        ui,
        &dir,
        &[
            "git",
            "sandbox",
            "run",
            "try-it",
            "--discard",
            "--sh",
            "--",
            "echo hello > note.txt && git status --short",
        ],
        &[],
    )?;
    run_shown(ui, &dir, &["git", "wal", "actor", "list"], &[])?;
    run_shown(ui, &dir, &["git", "for-each-ref", "refs/grit/"], &[])?;
    run_shown(ui, &dir, &["git", "wal", "stats"], &[])?;
    ui.say(format!(
        "Everything above lives in refs/grit/ of {}; delete the directory when done.",
        dir.display()
    ))
}
