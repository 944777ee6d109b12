# bash completion for `git issue …` and `git-issue …` (grit). Generated: the candidates come
# from `git-issue __complete`. Installed as git-issue in bash-completion's directory, git's own
# completion loads it when it meets `git issue`, and calls _git_issue.

# _grit_complete TOOL INDEX WORD…: completes word INDEX of the words after the tool's name.
_grit_complete() {
    local tool=$1 index=$2
    shift 2
    local IFS=$'
' out
    out=$(command "git-$tool" __complete "$index" "$@" 2>/dev/null) || return 0
    if [[ $out == __files__ ]]; then
        COMPREPLY=($(compgen -f -- "${@:index+1:1}"))
    else
        COMPREPLY=($out)
    fi
}

# `git issue …`: git's completion has set words, cword and __git_cmd_idx.
_git_issue() {
    local at=${__git_cmd_idx:-1}
    _grit_complete issue $((cword - at - 1)) "${words[@]:at+1}"
}

# `git-issue …`
_git_issue_direct() {
    _grit_complete issue $((COMP_CWORD - 1)) "${COMP_WORDS[@]:1}"
}
complete -F _git_issue_direct git-issue
