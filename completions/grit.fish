# fish: `git issue|wal|lock|sandbox <TAB>` (grit). fish's git completion before 3.7 looks for a
# git-NAME command's completions under the wrong name, so `git issue <TAB>` offered file names;
# this registers them for `git` itself. Installed in fish's vendor_conf.d. Generated.

function __grit_git_command --description 'the git subcommand on the command line'
    set -l words (commandline -opc)
    set -e words[1]
    while set -q words[1]
        switch $words[1]
            case -C -c --git-dir --work-tree --namespace --exec-path --config-env
                set -e words[1..2]
            case '-*'
                set -e words[1]
            case '*'
                echo $words[1]
                return 0
        end
    end
    return 1
end

function __grit_git_using -a tool --description 'whether the command line is `git TOOL …`'
    set -l cmd (__grit_git_command)
    test "$cmd" = "$tool"
end

function __grit_git_complete -a tool --description 'grit completes a word of `git TOOL …`'
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l at (contains -i -- $tool $words)
    set -l args
    if test $at -lt (count $words)
        set args $words[(math $at + 1)..-1]
    end
    set -l out (git-$tool __complete (count $args) $args $cur 2>/dev/null)
    if test "$out" = __files__
        __fish_complete_path $cur
    else
        printf '%s\n' $out
    end
end

for tool in issue wal lock sandbox
    complete -c git -f -n "__grit_git_using $tool" -a "(__grit_git_complete $tool)"
end
