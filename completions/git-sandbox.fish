# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_git_sandbox_global_optspecs
    string join \n C= json q/quiet color= h/help V/version
end

function __fish_git_sandbox_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_git_sandbox_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_git_sandbox_using_subcommand
    set -l cmd (__fish_git_sandbox_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -s V -l version -d 'Print version'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "run" -d 'Create a sandbox, run a command in it, then keep, commit or discard it'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "list" -d 'List sandboxes: name, path, branch, base, backend, created, dirty, ahead/behind its base'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "open" -d 'Open a shell in a sandbox ($SHELL, or sh); its exit code is passed back'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "exec" -d 'Run a command in an existing sandbox'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "diff" -d 'Show a sandbox\'s changes against its base, untracked files included'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "commit" -d 'Commit everything in a sandbox'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "merge" -d 'Merge a sandbox\'s branch into the current branch (`git merge --no-edit`)'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "rm" -d 'Remove a sandbox (refuses to lose uncommitted or unmerged work without --force)'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "clean" -d 'Remove every sandbox that has no uncommitted changes and is merged into its base branch'
complete -c git-sandbox -n "__fish_git_sandbox_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l base -d 'Commit to start from (default: HEAD)' -r
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l exclude -d 'Leave out ignored or untracked paths matching GLOB (repeatable; also sandbox.exclude)' -r
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l backend -d 'auto, reflink, copy or overlay (default: sandbox.backend, else auto)' -r
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l commit -d 'Commit everything in the sandbox afterwards with this message' -r
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l issue -d 'Record on this issue that the sandbox was started, and what it committed' -r
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l lock -d 'Hold a lease on RESOURCE while the sandbox exists (repeatable)' -r
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l clean -d 'Bring neither uncommitted changes nor untracked files (ignored files still come)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l keep -d 'Keep the sandbox afterwards (the default without a terminal)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l discard -d 'Remove the sandbox afterwards'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -l sh -d 'Run CMD as a shell command line (`sh -c`)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand list" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand list" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand list" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand list" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand open" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand open" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand open" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand open" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand open" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand exec" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand exec" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand exec" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand exec" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand exec" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand diff" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand diff" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand diff" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand diff" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand diff" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand commit" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand commit" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand commit" -s m -l message -r
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand commit" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand commit" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand commit" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand merge" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand merge" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand merge" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand merge" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand merge" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand rm" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand rm" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand rm" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand rm" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand rm" -l force
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand rm" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand clean" -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand clean" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand clean" -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand clean" -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand clean" -s h -l help -d 'Print help'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "run" -d 'Create a sandbox, run a command in it, then keep, commit or discard it'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "list" -d 'List sandboxes: name, path, branch, base, backend, created, dirty, ahead/behind its base'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "open" -d 'Open a shell in a sandbox ($SHELL, or sh); its exit code is passed back'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "exec" -d 'Run a command in an existing sandbox'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "diff" -d 'Show a sandbox\'s changes against its base, untracked files included'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "commit" -d 'Commit everything in a sandbox'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "merge" -d 'Merge a sandbox\'s branch into the current branch (`git merge --no-edit`)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "rm" -d 'Remove a sandbox (refuses to lose uncommitted or unmerged work without --force)'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "clean" -d 'Remove every sandbox that has no uncommitted changes and is merged into its base branch'
complete -c git-sandbox -n "__fish_git_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run list open exec diff commit merge rm clean help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
