# fish completion for `git-sandbox …` (grit); fish's git completion (3.6 and later) runs it for
# `git sandbox …` too. Generated: the candidates come from `git-sandbox __complete`.

function __grit_complete_sandbox
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -e words[1]
    set -l out (git-sandbox __complete (count $words) $words $cur 2>/dev/null)
    if test "$out" = __files__
        __fish_complete_path $cur
    else
        printf '%s
' $out
    end
end

complete -c git-sandbox -f -a '(__grit_complete_sandbox)'
