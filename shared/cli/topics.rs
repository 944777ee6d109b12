//! Help topics: `git sandbox help backends`, `git issue help query`, … Each is a page of plain
//! text, shown by `help TOPIC` and generated as a section 7 man page (`git-sandbox-backends(7)`).
//! Paragraphs are separated by blank lines; a line indented by four spaces is an example, kept
//! as it is.

/// One help topic of a tool.
pub struct Topic {
    /// The tool, without `git-`: `sandbox`, `issue`.
    pub tool: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

/// Every topic, by tool.
pub const TOPICS: &[Topic] = &[
    Topic {
        tool: "sandbox",
        name: "backends",
        summary: "how a sandbox's files are made: reflink, copy, overlay and auto",
        text: BACKENDS,
    },
    Topic {
        tool: "sandbox",
        name: "templates",
        summary: "named sets of sandbox settings in git config",
        text: TEMPLATES,
    },
    Topic {
        tool: "sandbox",
        name: "isolation",
        summary: "what --isolate lets a command see, change and reach",
        text: ISOLATION,
    },
    Topic {
        tool: "sandbox",
        name: "provenance",
        summary: "the signed Sandbox-Provenance trailer and how verify judges it",
        text: PROVENANCE,
    },
    Topic {
        tool: "sandbox",
        name: "matrix",
        summary: "one sandbox per matching path, run in parallel",
        text: MATRIX,
    },
    Topic {
        tool: "sandbox",
        name: "remote",
        summary: "sandboxes whose commands run on another machine over ssh",
        text: REMOTE,
    },
    Topic {
        tool: "sandbox",
        name: "commit-suggest",
        summary: "how commit --suggest proposes a Conventional Commits message",
        text: SUGGEST,
    },
    Topic {
        tool: "issue",
        name: "query",
        summary: "the query language of -S, saved views and the dashboard's query bar",
        text: QUERY,
    },
];

/// The topics of `tool` (`git-sandbox` or `sandbox`).
pub fn of(tool: &str) -> impl Iterator<Item = &'static Topic> + '_ {
    let tool = tool.trim_start_matches("git-");
    TOPICS.iter().filter(move |t| t.tool == tool)
}

/// The topic `name` of `tool`.
pub fn find(tool: &str, name: &str) -> Option<&'static Topic> {
    of(tool).find(|t| t.name == name)
}

/// The page as a terminal shows it: a title line, then the text.
pub fn render_text(t: &Topic) -> String {
    format!("git {} help {} — {}\n\n{}", t.tool, t.name, t.summary, t.text)
}

/// The page as a section 7 man page.
pub fn render_man(t: &Topic) -> Vec<u8> {
    let esc = |s: &str| {
        let s = s.replace('\\', "\\e").replace('-', "\\-");
        if s.starts_with('.') || s.starts_with('\'') {
            format!("\\&{s}")
        } else {
            s
        }
    };
    let page = format!("git-{}-{}", t.tool, t.name);
    let mut out = format!(
        ".TH {} 7 \"\" \"grit\" \"grit manual\"\n.SH NAME\n{} \\- {}\n.SH DESCRIPTION\n",
        page.to_uppercase(),
        esc(&page),
        esc(t.summary)
    );
    for para in t.text.split("\n\n") {
        let lines: Vec<&str> = para.lines().collect();
        if lines.is_empty() {
            continue;
        }
        if lines.iter().all(|l| l.starts_with("    ")) {
            out.push_str(".PP\n.nf\n.RS 4\n");
            for l in lines {
                out.push_str(&esc(&l[4..]));
                out.push('\n');
            }
            out.push_str(".RE\n.fi\n");
        } else {
            out.push_str(".PP\n");
            for l in lines {
                out.push_str(&esc(l.trim_start()));
                out.push('\n');
            }
        }
    }
    out.push_str(&format!(".SH \"SEE ALSO\"\n\\fBgit\\-{}\\fR(1)\n", t.tool));
    out.into_bytes()
}

const BACKENDS: &str = "\
A sandbox is a git worktree on its own branch, sandbox/NAME, with the files git does not carry
brought along: the main tree's uncommitted changes, untracked files and ignored files (build
output, .env, node_modules), all of them or only those matching .worktreeinclude. How those
files are made is the backend: sandbox.backend in git config, or --backend on run.

reflink: each file is cloned (FICLONE), sharing its blocks with the original until one side
writes. Instant and free of space on file systems that can (XFS, btrfs); refused elsewhere.

copy: a parallel in-kernel copy (copy_file_range) that keeps modes, symlinks, empty directories,
hard links within the copied set, and modification times, so a build that was fresh in the main
tree is fresh in the sandbox and the first git status is instant.

overlay: an immutable base layer is made once per base commit and set of included files (the
tracked files at the base, the ignored files, with the main tree's times, and its git index), and
each sandbox is an overlayfs mount over it: the second and later sandboxes on the same base cost
a mount, not a copy. Every write lands in the sandbox's own upper directory; the layer is never
written. A layer keeps the ignored files as they were when it was made; uncommitted and untracked
files are copied fresh into each sandbox. Mounting needs root or CAP_SYS_ADMIN: without it,
overlay says so and falls back to a copy. Mounts do not survive a reboot. Layers are counted by
the sandboxes on them; rm of the last user, clean and gc remove unused ones beyond
sandbox.layerCacheSize (default 0), oldest first.

auto (the default): probes once per repository and remembers: reflink where it works, else copy.

list's dirty flag: each sandbox's last answer is kept with a fingerprint of what can change it.
An overlay sandbox's covers its upper directory, index and HEAD, so every write is seen. A copy or
reflink sandbox of fewer than sandbox.listFullCheckBelow files (10,000) is checked in full each
time; a larger one's covers its index, HEAD, branch, top directory and the end of each command
grit ran in it, so a file edited in place behind grit's back shows after its next run, or with
list --exact.

    git config sandbox.backend overlay
    git sandbox run build --backend copy -- cargo build
";

const TEMPLATES: &str = "\
A template is a named set of sandbox settings in git config, so a team can share them through an
include file. --template NAME on run chooses one; sandbox.defaultTemplate applies one to every
run (and to sandboxes made over the daemon's socket or MCP, which resolve templates the same way).

sandbox.template.NAME.include: globs of ignored files to bring (repeatable); without it, every
ignored file comes, or those .worktreeinclude names.

sandbox.template.NAME.exclude: globs of ignored or untracked paths to leave out (repeatable;
sandbox.exclude and --exclude add to it).

sandbox.template.NAME.setup: a shell line run once in the new sandbox, before the command.

sandbox.template.NAME.env: NAME=VALUE for every command run in the sandbox (repeatable).

sandbox.template.NAME.backend: the backend (see git sandbox help backends).

sandbox.template.NAME.cache: a language cache its sandboxes share (cargo, node; repeatable).

With cargo, a new sandbox gets a private copy of the last successful build's target/ (reflinked
on the reflink backend, copied otherwise, times kept) instead of the main tree's, so its build
compiles only what differs; after each run in it that exits 0, its target/ replaces the cache's,
whole, under a lock. Freshness is cargo's own (its fingerprints), so nothing stale passes for
fresh. Limits: the replacement is a copy of target/ (cheap only with reflinks); the last
successful run wins; a sandbox made while the cache is being replaced starts without it and
builds in full.

With node, there is one cache per lockfile (package-lock.json, npm-shrinkwrap.json, yarn.lock,
pnpm-lock.yaml or bun.lock; keyed by its content). The first run that exits 0 in a sandbox whose
lockfile has none makes that sandbox's node_modules the cache, once. A new sandbox whose lockfile
has one gets it mounted at node_modules, read-only and shared, under an overlay whose upper layer
is the sandbox's own: an npm install there writes into that sandbox alone. Where grit may not
mount (not root) the sandbox gets a private copy (reflinked on the reflink backend). The mount
comes back with the next command after a reboot and goes with rm. Limits: the cache is what the
first successful run left, matched to the lockfile by nothing but that run (npm ci makes a
node_modules that matches; one installed by hand may not); the main tree's node_modules is not
checked either; the caches of the 4 newest lockfiles are kept, and those a sandbox stands on.

    git config sandbox.template.rust.cache cargo
    git config sandbox.template.web.cache node
    git config sandbox.template.rust.setup 'cargo fetch'
    git config sandbox.template.rust.env 'CARGO_TERM_COLOR=always'
    git sandbox run fix-123 --template rust -- cargo test
";

const ISOLATION: &str = "\
--isolate on run, exec and repeat (or sandbox.isolate=true for every run, whichever face starts
it) runs the command in new user, mount, PID, IPC, UTS and network namespaces, through bubblewrap,
or through util-linux's unshare where bubblewrap is not installed (sandbox.isolateWith=auto, bwrap
or unshare chooses). Where neither may make namespaces, the command is refused with the reason;
it never runs unisolated instead.

What it may write: the sandbox, its git directory, a private /tmp, and each --allow PATH.
Everything else is read-only.

What it may reach: no network unless --net; or, with --allow-host HOST[:PORT] (repeatable; also
sandbox.allowHost, multi-valued), only the hosts named. The command then runs in a network of its
own with nothing but loopback, and HTTP_PROXY and HTTPS_PROXY (and their lower-case forms) point
at a forwarder inside it, which carries each connection to a proxy outside. The proxy reaches a
host only when the list names it: HOST on any port, HOST:PORT on that port, *.example.com for its
subdomains. It refuses the rest with 403. Every connection asked for, allowed or refused, is in
the run's record (git sandbox logs NAME --list --json, \"net\"). A program that ignores the proxy
variables reaches nothing. Needs bubblewrap; not with --net.

Secrets: sandbox.secret.NAME.host and sandbox.secret.NAME.env (the variable holding it, in the
environment of the grit process that runs the command) make the proxy add the secret as the
Authorization header (sandbox.secret.NAME.header names another; a value without a scheme is sent
as Bearer VALUE) to plain-HTTP requests to that host. The secret is never in the sandbox's
environment or files. What this cannot protect: an HTTPS connection is a tunnel the proxy cannot
read, so nothing can be added to it (grit does not intercept TLS); a secret sent over plain HTTP
is readable on the network past the proxy; and the allowed host may echo it back into the
sandbox.

What it cannot change: the files that tell git where the sandbox's repository is (the sandbox's
.git file, its git directory's commondir, gitdir and config.worktree) are read-only inside, so the
command cannot point the host's next git at a repository whose config would run a program. grit's
own git calls on a sandbox run with core.fsmonitor=false and no hooks, and commit to the
sandbox's branch by name.

What it cannot see: the actors' signing keys (.git/grit/actors is an empty directory) and $HOME
(an empty directory; under bubblewrap the PATH entries under $HOME and ~/.rustup come back
read-only, so tools installed there still run).

What it may call: under bubblewrap, a seccomp filter makes these system calls fail with EPERM:
ptrace and process_vm_readv/writev (no tracing or reading other processes), mount, umount2,
pivot_root and the new mount API, keyctl, add_key and request_key, bpf, perf_event_open, kexec,
module loading, reboot, swapon/swapoff, setns, open_by_handle_at, userfaultfd, acct, quotactl,
syslog, setting the clock, and unshare or clone of a new user namespace; clone3 fails with ENOSYS
(its flags cannot be checked; C libraries fall back to clone). Builds, threads and tests do not
notice. unshare cannot load a filter, and says so. The run's record says which filter ran.

Other profiles: --seccomp PROFILE (or sandbox.seccomp=PROFILE for every run) picks another.
  default   the list above
  strict    the list, and io_uring, personality, chroot, name_to_handle_at, kcmp, pidfd_getfd,
            fanotify_init, the NUMA calls, sethostname, vhangup, every kind of new namespace, and
            sockets other than unix, IPv4, IPv6 and netlink
  trace     the list without ptrace, process_vm_readv/writev and perf_event_open: gdb, strace
            and perf run inside
  off       no filter
A team's own is a few lines of git config, named like the built-in ones:
  sandbox.seccomp.NAME.extends   default, strict or trace (default when unset)
  sandbox.seccomp.NAME.deny      system calls that fail with EPERM too (repeatable, or commas)
  sandbox.seccomp.NAME.allow     the base's calls that are let through
An unknown name, or a system call grit cannot name, is refused before anything runs.

Its environment: only PATH, HOME, USER, LOGNAME, SHELL, the terminal (TERM, COLORTERM,
NO_COLOR), the locale (LANG, LANGUAGE, LC_*), TZ, TMPDIR, RUSTUP_HOME, CARGO_HOME and
RUSTUP_TOOLCHAIN, plus --env and sandbox.env (git config, repeatable: a bare name passes the
caller's value, NAME=VALUE sets one). No token reaches it unless named.

Cost: about 50 ms a run through bubblewrap on a 2-core machine (about half of it bubblewrap's own
/dev and /proc), 5 ms more with an allowlist, 150-350 ms through unshare (which binds at most 7
paths).

    git sandbox run try --isolate -- ./configure && make
    git sandbox exec try --isolate --net --allow ~/.cache/pip -- pip install -r requirements.txt
    git sandbox exec try --isolate --seccomp trace -- strace -f make
    git sandbox exec try --isolate --allow-host pypi.org:443 --allow-host files.pythonhosted.org:443 -- pip download -r requirements.txt
";

const PROVENANCE: &str = "\
commit and run --commit add a Sandbox-Provenance: trailer to the commit, in the same trailer
block as its Fixes:, Closes: and Refs: lines: a record of the command, its exit code, the base
commit, the backend, the isolation, the versions of the tools sandbox.provenanceTools names, and
the times, signed with your actor's Ed25519 key over the record and the commit's tree.
sandbox.provenance=false leaves it out.

git sandbox verify COMMIT... checks each commit's record: it must decode, name the commit's own
tree, and verify under a key that is an actor this repository knows (a published actor record,
here or in a remote's copy) or an id listed in grit.provenanceSigners. Otherwise it exits 4 and
says why (signed by an unknown key, a tree that is not the commit's, a malformed record). The
pre-push hook trusts a commit's maker on the same terms.

The format is docs/provenance.md in the source.

    git sandbox run fix --commit 'Fix the parser

    Fixes: 1a7f5c4' -- cargo test
    git sandbox verify HEAD
";

const MATRIX: &str = "\
run NAME --matrix GLOB -- CMD makes one sandbox per path matching GLOB (NAME-crates-foo, ...) and
runs CMD in each, -j N at a time (default: the number of cores). {match} in the command is
replaced by the path. Each item's output goes to a log of its own; a summary names each item, its
exit code and its log, and the command exits 1 if any item failed.

With --commit, each item commits on its own branch. With --discard, each item's sandbox goes once
it is done (and an overlay layer it alone used with it).

    git sandbox run t --matrix 'crates/*' -j 4 -- cargo test -p {match}
";

const REMOTE: &str = "\
run NAME --on HOST -- CMD makes the sandbox here, as any run does, and runs CMD on another
machine over ssh. HOST is an executor from git config, or an ssh destination (user@host). The
branch sandbox/NAME, the sandbox's directory and every other command stay here: diff, commit,
land, merge and rm work as for a local sandbox, and exec, repeat, the socket and MCP run there.

    git config sandbox.executor.build.ssh ci@build-1
    git config sandbox.executor.build.sshCommand 'ssh -p 2222 -i ~/.ssh/grit'
    git config sandbox.executor.build.dir /srv/grit-sandboxes
    git config sandbox.executor.build.wrap 'podman run --rm -v \"$PWD:/w\" -w /w rust:1'
    git sandbox run fix --on build --commit 'fix: …' -- cargo test

Each run sends everything the sandbox holds (its commit, and its uncommitted and untracked
files) with git push to a repository in DIR/NAME-TAG there, made on first use: the remote needs
only git and a POSIX shell, and ssh that logs in without a password (ssh runs with
BatchMode=yes). The command runs there on that state, inside wrap when one is set, with its
output streamed back and its exit code returned. Then the branch (with any commits the command
made) and the files come back here with git fetch. Ignored files are not sent and do not come
back: a build's target/ stays there, warm for the next run. A run's steps share one ssh
connection, which stays open for a minute after it (ControlMaster, with its socket in a
directory of the user's own under the temporary directory), so the runs that follow log in once.

Ctrl-C, or this process dying, stops the command there: ssh's input closes, and the remote end
stops the command's process group and removes its directory (the next run sends everything
again). A connection lost mid-run leaves the sandbox marked (list shows \"connection lost\"); the
next command on it settles it: it brings the result back if the run finished there, and
otherwise says the run was stopped and the sandbox holds what it had before.

--isolate isolates on this machine only: for a remote sandbox it is refused unless the executor
has a wrap, which is then the isolation (the run's record says wrap). rm removes the directory
there too; when the host cannot be reached, the sandbox goes here and the error names what is
left there.
";

const QUERY: &str = "\
-S QUERY on list, ready, blocked, count, export, claim --next, watch and graph, the query bar of
the terminal UI and the dashboard, and MCP's search all take the same language, modelled on
GitHub's issue search.

Terms side by side must all match. OR, NOT (or a leading -) and parentheses combine them.

Qualifiers:

    is:open  is:closed  is:blocked  is:claimed
    state:open|closed
    label:x  label:a,b (any of them)  -label:x  no:label
    assignee:x  assignee:@me  no:assignee
    author:x (a name or email; @me; id:HEX; an imported issue's author is the one its source names)
    type:bug (also feature, task, epic, chore)
    priority:<=1 (also <, >, >=, =, a range 1..3)
    parent:ID  no:parent
    blocked:true|false  claimed:true|false
    created:>2026-11-01 (a date is a whole day, UTC)  updated:<7d (an age in m, h, d, w, y)
    comments:>3
    sort:created|updated|priority|comments, with -asc or -desc

Words and \"quoted phrases\" search titles, bodies and comments through the index's word index:
words are folded to Unicode NFKC and lower case and cut by a small English plural stemmer
(crashes finds crash); time* finds every word beginning with time.

list adds is:open unless the query or --state names a state. A query that does not parse exits 2
and points at the column.

Saved views are git config: issue.view.NAME holds a query, and --view NAME (or the dashboard's
?view=NAME) runs it; an include file shares them with a team.

    git issue list -S 'is:open label:bug priority:<=1 sort:updated'
    git issue list -S '\"connection reset\" OR timeout -label:wontfix'
    git issue list -S 'assignee:@me (type:bug OR type:chore) updated:<7d'
    git config issue.view.mine 'assignee:@me is:open sort:priority'
";

const SUGGEST: &str = "\
git sandbox commit NAME --suggest prints a message for what the sandbox would commit now (its
changes since its last commit, or since it began), as type(scope): subject, and commits nothing.
--json gives the type, scope, subject, trailers and the reason. To commit with it:

    git sandbox commit fix-12 -m \"$(git sandbox commit fix-12 --suggest)\"

The type, by the first rule that holds:

test: every changed file is a test (under a tests, test or __tests__ directory, or named as tests
are: *_test.*, test_*.py, *.test.*, *.spec.*).

docs: every changed file is documentation (*.md, *.rst, *.adoc, *.txt, a man page, anything under
docs/ or doc/).

style: every changed file is one the repository's formatter covers (Rust files, with rustfmt and
the edition Cargo.toml names), and formatting the file as it was gives the file as it is.

feat: the change adds a public item (pub fn, pub struct, pub enum, pub trait, pub mod, pub const
in Rust; export in JavaScript and TypeScript; a top-level def or class not starting with _ in
Python) or a new source file.

fix: the sandbox's issue is a bug, or the change adds more lines than it removes.

refactor: otherwise (the change removes at least as many lines as it adds).

The scope is the one top-level directory every changed file is under, and none when they spread
over several or sit at the root. The subject is the sandbox's issue's title (--issue), else
change FILE or change N files. The issue goes in a Fixes: trailer (Refs: for docs, test and
style), in the same trailer block as the provenance.
";
