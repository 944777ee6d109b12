# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_git_lock_global_optspecs
    string join \n C= json q/quiet color= h/help V/version
end

function __fish_git_lock_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_git_lock_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_git_lock_using_subcommand
    set -l cmd (__fish_git_lock_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c git-lock -n "__fish_git_lock_needs_command" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -n "__fish_git_lock_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -n "__fish_git_lock_needs_command" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -n "__fish_git_lock_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -n "__fish_git_lock_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-lock -n "__fish_git_lock_needs_command" -s V -l version -d 'Print version'
complete -c git-lock -n "__fish_git_lock_needs_command" -f -a "acquire" -d 'Take leases on resources, all or nothing (one you hold already is renewed)'
complete -c git-lock -n "__fish_git_lock_needs_command" -f -a "renew" -d 'Extend leases you hold'
complete -c git-lock -n "__fish_git_lock_needs_command" -f -a "release" -d 'Give leases back'
complete -c git-lock -n "__fish_git_lock_needs_command" -f -a "status" -d 'List locks this clone knows of (run `git fetch` or `git wal sync` for the remote\'s newest)'
complete -c git-lock -n "__fish_git_lock_needs_command" -f -a "gc" -d 'Delete released and expired leases (locally, and on the lock remote unless --local)'
complete -c git-lock -n "__fish_git_lock_needs_command" -f -a "check" -d 'Check paths or issues against others\' locks under lock.policy (what the hooks run)'
complete -c git-lock -n "__fish_git_lock_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -l ttl -d 'How long the lease lasts: 90s, 15m, 2h, 1d' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -l note -d 'Why you hold it (shown to others)' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -l wait -d 'Keep trying this long while someone else holds one of them' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -l remote -d 'Take it on this remote (default: lock.remote, else origin if it exists)' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -l local -d 'Only in this repository, not on any remote'
complete -c git-lock -n "__fish_git_lock_using_subcommand acquire" -s h -l help -d 'Print help'
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -l ttl -d 'New lease length from now' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -l remote -d 'Take it on this remote (default: lock.remote, else origin if it exists)' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -l local -d 'Only in this repository, not on any remote'
complete -c git-lock -n "__fish_git_lock_using_subcommand renew" -s h -l help -d 'Print help'
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -l remote -d 'Take it on this remote (default: lock.remote, else origin if it exists)' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -l force -d 'End a lease someone else holds (an abandoned one); recorded in the lock\'s history'
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -l local -d 'Only in this repository, not on any remote'
complete -c git-lock -n "__fish_git_lock_using_subcommand release" -s h -l help -d 'Print help'
complete -c git-lock -n "__fish_git_lock_using_subcommand status" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -n "__fish_git_lock_using_subcommand status" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -n "__fish_git_lock_using_subcommand status" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -n "__fish_git_lock_using_subcommand status" -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -n "__fish_git_lock_using_subcommand status" -l mine -d 'Only your own'
complete -c git-lock -n "__fish_git_lock_using_subcommand status" -l all -d 'Also released and expired leases'
complete -c git-lock -n "__fish_git_lock_using_subcommand status" -s h -l help -d 'Print help'
complete -c git-lock -n "__fish_git_lock_using_subcommand gc" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -n "__fish_git_lock_using_subcommand gc" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -n "__fish_git_lock_using_subcommand gc" -l remote -d 'Take it on this remote (default: lock.remote, else origin if it exists)' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand gc" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -n "__fish_git_lock_using_subcommand gc" -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -n "__fish_git_lock_using_subcommand gc" -l local -d 'Only in this repository, not on any remote'
complete -c git-lock -n "__fish_git_lock_using_subcommand gc" -s h -l help -d 'Print help'
complete -c git-lock -n "__fish_git_lock_using_subcommand check" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -n "__fish_git_lock_using_subcommand check" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -n "__fish_git_lock_using_subcommand check" -l issue -d 'Check an issue (id or unique prefix)' -r
complete -c git-lock -n "__fish_git_lock_using_subcommand check" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -n "__fish_git_lock_using_subcommand check" -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -n "__fish_git_lock_using_subcommand check" -l staged -d 'Check the paths staged for commit'
complete -c git-lock -n "__fish_git_lock_using_subcommand check" -s h -l help -d 'Print help'
complete -c git-lock -n "__fish_git_lock_using_subcommand help; and not __fish_seen_subcommand_from acquire renew release status gc check help" -f -a "acquire" -d 'Take leases on resources, all or nothing (one you hold already is renewed)'
complete -c git-lock -n "__fish_git_lock_using_subcommand help; and not __fish_seen_subcommand_from acquire renew release status gc check help" -f -a "renew" -d 'Extend leases you hold'
complete -c git-lock -n "__fish_git_lock_using_subcommand help; and not __fish_seen_subcommand_from acquire renew release status gc check help" -f -a "release" -d 'Give leases back'
complete -c git-lock -n "__fish_git_lock_using_subcommand help; and not __fish_seen_subcommand_from acquire renew release status gc check help" -f -a "status" -d 'List locks this clone knows of (run `git fetch` or `git wal sync` for the remote\'s newest)'
complete -c git-lock -n "__fish_git_lock_using_subcommand help; and not __fish_seen_subcommand_from acquire renew release status gc check help" -f -a "gc" -d 'Delete released and expired leases (locally, and on the lock remote unless --local)'
complete -c git-lock -n "__fish_git_lock_using_subcommand help; and not __fish_seen_subcommand_from acquire renew release status gc check help" -f -a "check" -d 'Check paths or issues against others\' locks under lock.policy (what the hooks run)'
complete -c git-lock -n "__fish_git_lock_using_subcommand help; and not __fish_seen_subcommand_from acquire renew release status gc check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
