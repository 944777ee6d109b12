# fish completion for `git-wal …` (grit); `git wal …` is completed by grit.fish, in fish's
# vendor_conf.d. Generated: the candidates come from `git-wal __complete` (an issue's title
# after a tab is fish's description).

function __grit_complete_wal
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -e words[1]
    set -l out (git-wal __complete (count $words) $words $cur 2>/dev/null)
    if test "$out" = __files__
        __fish_complete_path $cur
    else
        printf '%s
' $out
    end
end

complete -c git-wal -f -a '(__grit_complete_wal)'
