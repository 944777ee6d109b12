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
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "actor" -d 'Manage the identities this clone writes as'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "log" -d 'Show events, newest first, as stored in the WAL refs'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "rebuild" -d 'Delete the local index and rebuild it from the refs'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "stats" -d 'Counts: events, issues, actors, refs, index size, last fold'
complete -c git-wal -n "__fish_git_wal_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
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
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s n -l limit -d 'Show at most N events (0: all)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l issue -d 'Only events of this issue (id or unique prefix)' -r
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l verify -d 'Check every event\'s id and signature while reading'
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand log" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand rebuild" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -s q -l quiet -d 'Print nothing but errors'
complete -c git-wal -n "__fish_git_wal_using_subcommand stats" -s h -l help -d 'Print help'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from actor log rebuild stats help" -f -a "actor" -d 'Manage the identities this clone writes as'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from actor log rebuild stats help" -f -a "log" -d 'Show events, newest first, as stored in the WAL refs'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from actor log rebuild stats help" -f -a "rebuild" -d 'Delete the local index and rebuild it from the refs'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from actor log rebuild stats help" -f -a "stats" -d 'Counts: events, issues, actors, refs, index size, last fold'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and not __fish_seen_subcommand_from actor log rebuild stats help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "new" -d 'Create a local actor (a key pair) and publish its public record'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "list" -d 'List the actors that have a private key in this repository'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "use" -d 'Make an actor this repository\'s default (sets grit.actor); GRIT_ACTOR still overrides it'
complete -c git-wal -n "__fish_git_wal_using_subcommand help; and __fish_seen_subcommand_from actor" -f -a "show" -d 'Show an actor (default: the one this process writes as)'
