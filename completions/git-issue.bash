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
    local cur=${@:index+1:1}
    if [[ $out == __files__ ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    else
        # A candidate may carry a description after a tab (an issue's title): bash shows none.
        COMPREPLY=($out)
        COMPREPLY=("${COMPREPLY[@]%%$'\t'*}")
    fi
    # bash replaces only what follows the last `:` of the word (COMP_WORDBREAKS has `:`), so
    # each candidate loses what the word already holds up to there (`issue:` of `issue:1a7`).
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local colon=${cur%"${cur##*:}"} i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$colon"}
        done
    fi
}

# `git issue …`: git's completion has set words, cword and __git_cmd_idx.
_git_issue() {
    local at=${__git_cmd_idx:-1}
    _grit_complete issue $((cword - at - 1)) "${words[@]:at+1}"
}

# `git-issue …`: the words as typed, `issue:1a7` one word (bash-completion joins them again).
_git_issue_direct() {
    local words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        _get_comp_words_by_ref -n =: words cword
    else
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    _grit_complete issue $((cword - 1)) "${words[@]:1}"
}
complete -F _git_issue_direct git-issue
