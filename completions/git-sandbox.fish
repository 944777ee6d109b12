complete -c git-sandbox -s C -d 'Run as if started in <PATH>' -r -F
complete -c git-sandbox -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-sandbox -l json -d 'Print machine-readable JSON on stdout (see JSON OUTPUT in the man page)'
complete -c git-sandbox -s q -l quiet -d 'Print nothing but errors'
complete -c git-sandbox -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-sandbox -s V -l version -d 'Print version'
