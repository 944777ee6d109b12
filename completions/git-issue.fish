# fish completion for `git-issue …` (grit); fish's git completion (3.6 and later) runs it for
# `git issue …` too. Generated: the candidates come from `git-issue __complete`.

function __grit_complete_issue
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -e words[1]
    set -l out (git-issue __complete (count $words) $words $cur 2>/dev/null)
    if test "$out" = __files__
        __fish_complete_path $cur
    else
        printf '%s
' $out
    end
end

complete -c git-issue -f -a '(__grit_complete_issue)'
