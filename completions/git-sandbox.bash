# bash completion for `git sandbox …` and `git-sandbox …` (grit). Generated: the candidates come
# from `git-sandbox __complete`. Installed as git-sandbox in bash-completion's directory, git's own
# completion loads it when it meets `git sandbox`, and calls _git_sandbox.

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

# `git sandbox …`: git's completion has set words, cword and __git_cmd_idx.
_git_sandbox() {
    local at=${__git_cmd_idx:-1}
    _grit_complete sandbox $((cword - at - 1)) "${words[@]:at+1}"
}

# `git-sandbox …`
_git_sandbox_direct() {
    _grit_complete sandbox $((COMP_CWORD - 1)) "${COMP_WORDS[@]:1}"
}
complete -F _git_sandbox_direct git-sandbox
