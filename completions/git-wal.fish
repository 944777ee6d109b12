# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_git_wal_global_optspecs
    string join \n C= json q/quiet color= h/help V/version
end

function __fish_git_wal_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_git_wal_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_git_wal_using_subcommand
    set -l cmd (__fish_git_wal_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c git-wal -n "__fish_git_wal_needs_command" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_needs_command" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-wal -n "__fish_git_wal_needs_command" -s V -l version -d 'Print version'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "init" -d 'Set this repository up to share its events: actor, hooks, fetch refspecs'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "sync" -d 'Fetch, integrate and push the event log (fast-forward only)'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "pull" -d 'Fetch and integrate the remote\'s events, without pushing'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "push" -d 'Push local events to the remote (fast-forward only), without fetching first'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "actor" -d 'Manage the identities this clone writes as'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "log" -d 'Show events, newest first, as stored in the WAL refs'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "rebuild" -d 'Delete the local index and rebuild it from the refs'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "stats" -d 'Counts: events, issues, actors, refs, index size, last fold'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "snapshot" -d 'Write a compacted copy of every event under refs/grit/snapshots/'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "gc" -d 'Delete old local snapshots, keeping the newest N'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "check" -d 'Check the log\'s structure (no keys needed); exit 4 on any failure'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "verify" -d 'Check every signature, and every writer\'s published actor record; exit 4 on any failure'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "doctor" -d 'Check the installation (hooks, refspecs, index, stale locks, actor records, quarantine, loose objects, key permissions, sandbox leftovers) and repair what is safe with --fix'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "quarantine" -d 'List or resolve quarantined events: invalid events found on WAL refs'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "hooks" -d 'Install, remove or inspect grit\'s git hooks'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "hook" -d 'Run a hook\'s work (called by the installed shims)'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -l remote -d 'Only this remote (repeatable; default: every remote)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -l chain -d 'Keep an existing hook and run it before grit\'s (its exit status counts)'
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -l force -d 'Set an existing hook aside as <hook>.grit-backup (uninstall puts it back)'
complete -c git-wal -n "__fish_git_wal_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-wal -n "__fish_git_wal_using_subcommand sync" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand sync" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand sync" -l issue -d 'Push only what carries this issue\'s events. A WAL chain cannot be split without rewriting it, so each actor\'s chain goes up to its newest commit with an event of ID (earlier events of other issues go along and are counted) and later commits stay local. Fetching always brings everything: it is cheap, and other issues\' events are never hidden' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand sync" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand sync" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-wal -n "__fish_git_wal_using_subcommand pull" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand pull" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand pull" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand pull" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand pull" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand push" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand push" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand push" -l issue -d 'Push only what carries this issue\'s events' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand push" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand push" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand push" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -f -a "new" -d 'Create a local actor (a key pair) and publish its public record'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -f -a "list" -d 'List the actors that have a private key in this repository'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -f -a "use" -d 'Make an actor this repository\'s default (sets grit.actor); GRIT_ACTOR still overrides it'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -f -a "show" -d 'Show an actor (default: the one this process writes as)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and not __fish_seen_subcommand_from new list use show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -l name -d 'Display name (default: user.name)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -l email -d 'Email (default: user.email)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -l use -d 'Also make it this repository\'s default actor (grit.actor)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from new" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from list" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from use" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from use" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from use" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from use" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from use" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from show" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from help" -f -a "new" -d 'Create a local actor (a key pair) and publish its public record'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the actors that have a private key in this repository'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from help" -f -a "use" -d 'Make an actor this repository\'s default (sets grit.actor); GRIT_ACTOR still overrides it'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show an actor (default: the one this process writes as)'
complete -c git-wal -n "__fish_git_wal_using_subcommand actor; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s n -l limit -d 'Show at most N events (0: all)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l issue -d 'Only events of this issue (id or unique prefix)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l verify -d 'Check every event\'s id and signature while reading'
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -l full -d 'Replay every WAL commit instead of starting from the newest snapshot'
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand snapshot" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand snapshot" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand snapshot" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand snapshot" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand snapshot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-wal -n "__fish_git_wal_using_subcommand gc" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand gc" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand gc" -l keep -d 'How many snapshots to keep' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand gc" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand gc" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand gc" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand check" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand check" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand check" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand check" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-wal -n "__fish_git_wal_using_subcommand verify" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand verify" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand verify" -l actor -d 'Only the events of this actor (a local label, or a unique prefix of an actor id)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand verify" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand verify" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand verify" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand doctor" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand doctor" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand doctor" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand doctor" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand doctor" -l fix -d 'Repair what is safe to repair, and say what is left for you'
complete -c git-wal -n "__fish_git_wal_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -f -a "list" -d 'List quarantined events (the default), resolved ones with --all'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -f -a "resolve" -d 'Stop reporting quarantined events; they stay unapplied'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and not __fish_seen_subcommand_from list resolve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from list" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from list" -l all -d 'Also list the resolved ones'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from resolve" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from resolve" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from resolve" -l all -d 'Resolve every unresolved one'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from resolve" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from resolve" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from resolve" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "list" -d 'List quarantined events (the default), resolved ones with --all'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "resolve" -d 'Stop reporting quarantined events; they stay unapplied'
complete -c git-wal -n "__fish_git_wal_using_subcommand quarantine; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -f -a "install" -d 'Install the hooks into the directory git uses (core.hooksPath honoured)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -f -a "uninstall" -d 'Remove grit\'s hooks and restore what they chained or replaced'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -f -a "status" -d 'Show each hook\'s state: absent, installed, chained, outdated or foreign'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from install" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from install" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from install" -l chain -d 'Keep an existing hook and run it before grit\'s (its exit status counts)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from install" -l force -d 'Set an existing hook aside as <hook>.grit-backup (uninstall puts it back)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from install" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from status" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from status" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from status" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from help" -f -a "install" -d 'Install the hooks into the directory git uses (core.hooksPath honoured)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Remove grit\'s hooks and restore what they chained or replaced'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show each hook\'s state: absent, installed, chained, outdated or foreign'
complete -c git-wal -n "__fish_git_wal_using_subcommand hooks; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hook" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand hook" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand hook" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand hook" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand hook" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "init" -d 'Set this repository up to share its events: actor, hooks, fetch refspecs'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "sync" -d 'Fetch, integrate and push the event log (fast-forward only)'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "pull" -d 'Fetch and integrate the remote\'s events, without pushing'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "push" -d 'Push local events to the remote (fast-forward only), without fetching first'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "actor" -d 'Manage the identities this clone writes as'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "log" -d 'Show events, newest first, as stored in the WAL refs'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "rebuild" -d 'Delete the local index and rebuild it from the refs'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "stats" -d 'Counts: events, issues, actors, refs, index size, last fold'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "snapshot" -d 'Write a compacted copy of every event under refs/grit/snapshots/'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "gc" -d 'Delete old local snapshots, keeping the newest N'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "check" -d 'Check the log\'s structure (no keys needed); exit 4 on any failure'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "verify" -d 'Check every signature, and every writer\'s published actor record; exit 4 on any failure'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "doctor" -d 'Check the installation (hooks, refspecs, index, stale locks, actor records, quarantine, loose objects, key permissions, sandbox leftovers) and repair what is safe with --fix'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "quarantine" -d 'List or resolve quarantined events: invalid events found on WAL refs'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "hooks" -d 'Install, remove or inspect grit\'s git hooks'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "hook" -d 'Run a hook\'s work (called by the installed shims)'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from init sync pull push actor log rebuild stats snapshot gc check verify doctor quarantine hooks hook help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "new" -d 'Create a local actor (a key pair) and publish its public record'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "list" -d 'List the actors that have a private key in this repository'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "use" -d 'Make an actor this repository\'s default (sets grit.actor); GRIT_ACTOR still overrides it'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "show" -d 'Show an actor (default: the one this process writes as)'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from hooks" -f -a "install" -d 'Install the hooks into the directory git uses (core.hooksPath honoured)'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from hooks" -f -a "uninstall" -d 'Remove grit\'s hooks and restore what they chained or replaced'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from hooks" -f -a "status" -d 'Show each hook\'s state: absent, installed, chained, outdated or foreign'
