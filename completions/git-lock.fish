complete -c git-lock -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-lock -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-lock -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-lock -s q -l quiet -d 'Print nothing but errors'
complete -c git-lock -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-lock -s V -l version -d 'Print version'
