# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_git_issue_global_optspecs
    string join \n C= json q/quiet color= h/help V/version
end

function __fish_git_issue_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_git_issue_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_git_issue_using_subcommand
    set -l cmd (__fish_git_issue_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c git-issue -n "__fish_git_issue_needs_command" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_needs_command" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-issue -n "__fish_git_issue_needs_command" -s V -l version -d 'Print version'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "create" -d 'Create an issue'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "list" -d 'List issues, newest first'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "show" -d 'Show an issue with its body and comments'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "view" -d 'Show an issue with its body and comments'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "edit" -d 'Edit an issue\'s title, body, labels or assignees'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "comment" -d 'Add a comment to an issue'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "close" -d 'Close an issue'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "reopen" -d 'Reopen a closed issue'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "claim" -d 'Claim an issue: a lease on issue:<id>, so two agents never work the same issue'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "unclaim" -d 'Give up a claim'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "ready" -d 'List open issues nobody has claimed, newest first (what an agent can pick up)'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "demo" -d 'Run a short tour in a new scratch repository (through `git issue`, so PATH is checked too)'
complete -c git-issue -n "__fish_git_issue_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s t -l title -d 'Title of the issue' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s b -l body -d 'Body text' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s F -l body-file -d 'Read the body from a file (`-` for standard input)' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s l -l label -d 'Add a label (repeat, or separate with commas)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s a -l assignee -d 'Assign someone (repeat, or separate with commas; `@me` is your own email)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand create" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -s s -l state -d 'Which issues to list' -r -f -a "open\t''
closed\t''
all\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -s l -l label -d 'Only issues with this label (repeat: all of them)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -s a -l assignee -d 'Only issues assigned to WHO (`@me`: your own email)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -s L -l limit -d 'Show at most N issues (0: all)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand list" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand show" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand show" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand show" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand show" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand show" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand view" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand view" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand view" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand view" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand view" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -s t -l title -d 'New title' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -s b -l body -d 'Body text' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -s F -l body-file -d 'Read the body from a file (`-` for standard input)' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -l add-label -d 'Add a label (repeat, or separate with commas)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -l remove-label -d 'Remove a label (repeat, or separate with commas)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -l add-assignee -d 'Assign someone (repeat, or separate with commas)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -l remove-assignee -d 'Unassign someone (repeat, or separate with commas)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -l lock -d 'Take the issue\'s lock for the duration of the command (fails with exit 3 if another actor holds it)'
complete -c git-issue -n "__fish_git_issue_using_subcommand edit" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -s b -l body -d 'Body text' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -s F -l body-file -d 'Read the body from a file (`-` for standard input)' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -l lock -d 'Take the issue\'s lock for the duration of the command (fails with exit 3 if another actor holds it)'
complete -c git-issue -n "__fish_git_issue_using_subcommand comment" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -s r -l reason -d 'Why it is closed' -r -f -a "completed\t''
not-planned\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -s c -l comment -d 'Leave a closing comment' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -l lock -d 'Take the issue\'s lock for the duration of the command (fails with exit 3 if another actor holds it)'
complete -c git-issue -n "__fish_git_issue_using_subcommand close" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand reopen" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand reopen" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand reopen" -s c -l comment -d 'Leave a comment saying why' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand reopen" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand reopen" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand reopen" -l lock -d 'Take the issue\'s lock for the duration of the command (fails with exit 3 if another actor holds it)'
complete -c git-issue -n "__fish_git_issue_using_subcommand reopen" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand claim" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand claim" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand claim" -l ttl -d 'How long the claim lasts unless renewed (`git lock renew issue:<id>`)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand claim" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand claim" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand claim" -l local -d 'Take it only in this repository, not on the lock remote'
complete -c git-issue -n "__fish_git_issue_using_subcommand claim" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand unclaim" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand unclaim" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand unclaim" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand unclaim" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand unclaim" -l force -d 'End someone else\'s (abandoned) claim; recorded in the lock\'s history'
complete -c git-issue -n "__fish_git_issue_using_subcommand unclaim" -l local -d 'Only in this repository, not on the lock remote'
complete -c git-issue -n "__fish_git_issue_using_subcommand unclaim" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand ready" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand ready" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand ready" -s l -l label -d 'Only issues with this label (repeat: all of them)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand ready" -s L -l limit -d 'Show at most N issues (0: all)' -r
complete -c git-issue -n "__fish_git_issue_using_subcommand ready" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand ready" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand ready" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand demo" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-issue -n "__fish_git_issue_using_subcommand demo" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-issue -n "__fish_git_issue_using_subcommand demo" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-issue -n "__fish_git_issue_using_subcommand demo" -s q -l quiet -d 'Print nothing but errors'
complete -c git-issue -n "__fish_git_issue_using_subcommand demo" -s h -l help -d 'Print help'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "create" -d 'Create an issue'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "list" -d 'List issues, newest first'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "show" -d 'Show an issue with its body and comments'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "edit" -d 'Edit an issue\'s title, body, labels or assignees'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "comment" -d 'Add a comment to an issue'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "close" -d 'Close an issue'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "reopen" -d 'Reopen a closed issue'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "claim" -d 'Claim an issue: a lease on issue:<id>, so two agents never work the same issue'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "unclaim" -d 'Give up a claim'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "ready" -d 'List open issues nobody has claimed, newest first (what an agent can pick up)'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "demo" -d 'Run a short tour in a new scratch repository (through `git issue`, so PATH is checked too)'
complete -c git-issue -n "__fish_git_issue_using_subcommand help; and not __fish_seen_subcommand_from create list show edit comment close reopen claim unclaim ready demo help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
