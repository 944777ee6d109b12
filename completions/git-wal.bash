# bash completion for `git wal …` and `git-wal …` (grit). Generated: the candidates come
# from `git-wal __complete`. Installed as git-wal in bash-completion's directory, git's own
# completion loads it when it meets `git wal`, and calls _git_wal.

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

# `git wal …`: git's completion has set words, cword and __git_cmd_idx.
_git_wal() {
    local at=${__git_cmd_idx:-1}
    _grit_complete wal $((cword - at - 1)) "${words[@]:at+1}"
}

# `git-wal …`
_git_wal_direct() {
    _grit_complete wal $((COMP_CWORD - 1)) "${COMP_WORDS[@]:1}"
}
complete -F _git_wal_direct git-wal
