#!/bin/sh
# The build sandbox. Every command of a lab build that reads files a student
# controls (the compiles of the lab's and the student's files, a group of
# files at a time through labs/sandbox-cc; the link; the ISO) runs through
# this script; labs/rules.mk and labs/06-mpu/Makefile call it.
#
#   sandbox.sh --probe
#       Print the mode this machine allows: "bwrap", or "none" (and the
#       "build sandbox: degraded" line on stderr). KIT_SANDBOX=none forces none.
#
#   sandbox.sh -o DIR [-d DEP -t TARGET]... [-r PATH]... TOOL FILE -- COMMAND...
#       Run COMMAND. Its outputs are named @out/NAME in its arguments: it
#       writes them into a private folder, and they are moved into DIR only
#       when it succeeded and passed the checks. TOOL (compiler, linker)
#       and FILE (what it builds) name it in messages; a COMMAND that builds
#       several files (labs/sandbox-cc) writes the one it is at to @out/.current.
#       -d DEP     a compiler's dependency file (@out/DEP): every file the
#                  compile read must lie in KIT_SANDBOX_SRC or the compiler's
#                  own headers; DEP is written again for make, for TARGET
#       -r PATH    one more file or folder COMMAND may read (objects, a script)
#
# What COMMAND meets, in every mode:
#   * limits: CPU seconds, address space, file size, wall time, and the first
#     KIT_LIMIT_OUTPUT KiB of its output (a command that prints more is stopped);
#     a command over a limit fails with "kit: build stopped: ..." naming it;
#   * textual checks: the assembler is labs/sandbox-as (gcc -B), which refuses
#     directives that read files; every file a compile read (its dependency
#     file, or the file names in its messages when it failed) must lie in the
#     staged sources: otherwise "kit: refused: ..." and its output is not shown.
# With KIT_SANDBOX=bwrap it runs under bubblewrap as well: no network, no other
# process, a tmpfs /tmp, the toolchain (/usr) and only the staged sources
# (KIT_SANDBOX_SRC, newline-separated, plus -r paths) read-only, and only its
# private output folder writable, at the same paths as outside.
#
# Limits (environment): KIT_LIMIT_CPU seconds (20), KIT_LIMIT_MEM MiB of
# address space per process (1024), KIT_LIMIT_FSIZE MiB per file written (64),
# KIT_LIMIT_WALL seconds (60), KIT_LIMIT_OUTPUT KiB (64).
# POSIX sh on purpose: it runs up to eight times a build, and a shell starts
# in a millisecond where Python takes 25.

set -f
nl='
'
case $0 in
/*) here=${0%/*} ;;
*/*) here=$(cd "${0%/*}" && pwd) ;;
*) here=$PWD ;;
esac
kit=${here%/labs}

# links: set link_args to bwrap's options for /bin, /lib... as this system has
# them (links into /usr, or folders); a variable, not output: a command
# substitution costs a fork
links() {
    link_args=
    for d in /bin /sbin /lib /lib32 /lib64 /libx32; do
        if [ -L $d ]; then
            link_args="$link_args --symlink usr$d $d"
        elif [ -d $d ]; then
            link_args="$link_args --ro-bind $d $d"
        fi
    done
}

probe() { # bubblewrap with the options every command gets
    case ${KIT_SANDBOX:-auto} in
    bwrap) echo bwrap; return ;;
    none | off) why="KIT_SANDBOX=$KIT_SANDBOX" ;;
    *)
        if ! command -v bwrap >/dev/null 2>&1; then
            why="bubblewrap is not installed"
        elif links && err=$(bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL \
            --ro-bind /usr /usr --dev /dev --tmpfs /tmp $link_args /usr/bin/true 2>&1); then
            echo bwrap
            return
        else
            why="no user namespaces: ${err%%"$nl"*}"
        fi ;;
    esac
    echo "build sandbox: degraded ($why): limits and textual checks only" >&2
    echo none
}

if [ "$1" = --probe ]; then
    probe
    exit 0
fi

out= deps= target= extra=
while :; do
    case $1 in
    -o) out=$2 ;;
    -d) deps=$deps$2$nl ;;
    -t) target=$target$2$nl ;;
    -r) extra=$extra$nl$2 ;;
    *) break ;;
    esac
    shift 2
done
tool=$1 file=$2
shift 2
[ "$1" = -- ] && shift
case $tool in compiler) verb=building ;; linker) verb=linking ;; *) verb=making ;; esac
say() { printf 'kit: %s\n' "$*" >&2; }

cpu=${KIT_LIMIT_CPU:-20} mem=${KIT_LIMIT_MEM:-1024} fsize=${KIT_LIMIT_FSIZE:-64}
wall=${KIT_LIMIT_WALL:-60} cap=${KIT_LIMIT_OUTPUT:-64}
size_name() { # MiB -> "1 GiB" / "64 MiB"
    if [ $(($1 % 1024)) = 0 ]; then echo "$(($1 / 1024)) GiB"; else echo "$1 MiB"; fi
}

tmp=$out/.sandbox.$$
log=$tmp/.log
status=$tmp.rc # beside the private folder: the command cannot write it
mkdir -p "$tmp${deps:+/.deps}" || exit 1

# The command's arguments with @out/ replaced by the private folder.
n=$#
while [ "$n" -gt 0 ]; do
    a=$1
    shift
    while :; do
        case $a in
        *@out/*) a=${a%%@out/*}$tmp/${a#*@out/} ;;
        *) break ;;
        esac
    done
    set -- "$@" "$a"
    n=$((n - 1))
done

# KIT_SANDBOX_TMP: the private folder, removed at the end (labs/sandbox-as
# keeps its copy of the assembly there)
export LC_ALL=C KIT_SANDBOX_WHAT="$file" KIT_ROOT="$kit" KIT_SANDBOX_TMP="$tmp"
if [ "$KIT_SANDBOX" = bwrap ]; then
    # prepended, so the last given is the first mount: system, sources, output
    set -- --bind "$tmp" "$tmp" "$@"
    IFS=$nl
    for p in $KIT_SANDBOX_SRC$extra; do
        [ -n "$p" ] && set -- --ro-bind-try "$p" "$p" "$@"
    done
    unset IFS
    set -- --ro-bind "$kit/labs/sandbox-as" "$kit/labs/sandbox-as" \
        --ro-bind "$kit/labs/sandbox-cc" "$kit/labs/sandbox-cc" "$@"
    links
    set -- $link_args "$@"
    set -- bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL \
        --clearenv --setenv PATH "$PATH" --setenv LC_ALL C --setenv TMPDIR /tmp \
        --setenv KIT_AS "${KIT_AS:-as}" --setenv KIT_SANDBOX_WHAT "$file" --setenv KIT_ROOT "$kit" \
        --setenv KIT_SANDBOX_TMP "$tmp" \
        --ro-bind /usr /usr --ro-bind-try /etc/alternatives /etc/alternatives --dev /dev --size $((fsize << 20)) --tmpfs /tmp "$@"
fi

# Run it under the limits; its output (stdout and stderr) is cut after the
# cap, so a flood ends it (SIGPIPE) instead of reaching make and the grader.
# (A limit already lower than ours stays: ulimit cannot raise a hard limit.)
# Its exit status comes back through $status (no command substitution: each
# costs a fork, and this script runs up to eight times a build).
{
    ulimit -H -t $((cpu + 5)) 2>/dev/null # SIGXCPU at the soft limit, SIGKILL 5 s later
    ulimit -S -t "$cpu" 2>/dev/null
    ulimit -v $((mem << 10)) 2>/dev/null
    ulimit -f $((fsize << 11)) 2>/dev/null
    timeout -k 2 "$wall" "$@" </dev/null 2>&1
    echo $? >"$status"
} | head -c $((cap * 1024 + 1)) >"$log"
rc=
[ -f "$status" ] && read -r rc <"$status"
rc=${rc:-1}

# outside HOW PATH...: set bad to the first path that lies outside the staged
# sources and the compiler's own headers (/usr/lib/gcc), to nothing when all
# lie inside. HOW: "resolve" (realpath: links too) or "as-written" (only "."
# and ".." resolved, no process: after a compile under bubblewrap, which saw
# nothing else).
outside() {
    bad=
    how=$1
    shift
    IFS=$nl
    if [ "$how" = as-written ]; then
        roots=$KIT_SANDBOX_SRC$nl/usr/lib/gcc
    else
        set -- $(realpath -m -- $KIT_SANDBOX_SRC /usr/lib/gcc / "$@")
        roots=
        while [ $# -gt 0 ] && [ "$1" != / ]; do
            roots=$roots$nl$1
            shift
        done
        shift
    fi
    for q; do
        p=
        IFS=/
        for c in $q; do
            case $c in '' | .) ;; ..) p=${p%/*} ;; *) p=$p/$c ;; esac
        done
        IFS=$nl
        for r in $roots; do
            case $p in "$r" | "$r"/*) continue 2 ;; esac
        done
        unset IFS
        bad=${p#"$kit"/}
        return
    done
    unset IFS
}

# read_deps DEP: the files a compile read, as gcc listed them in DEP
# (target: source headers), into $list
read_deps() {
    list=
    while IFS= read -r line; do
        line=${line%\\}
        case $line in *:*) line=${line#*:} ;; esac
        list="$list $line"
    done <"$1"
}

# write_dep TARGET FILE...: the dependency file make reads: TARGET depends on
# every FILE, and each FILE but the first (the source) has an empty rule
write_dep() {
    printf '%s:' "$1"
    shift
    printf ' %s' "$@"
    printf '\n'
    shift
    [ $# = 0 ] || printf '%s:\n' "$@"
}

# what the command is at: the file it names in @out/.current, else FILE
[ -f "$tmp/.current" ] && IFS= read -r at <"$tmp/.current" && file=${at#"$kit"/}

refused= stopped=
if [ "$rc" = 0 ] && [ -n "$deps" ]; then
    how=resolve
    [ "$KIT_SANDBOX" = bwrap ] && how=as-written
    for dep in $deps; do
        read_deps "$tmp/$dep"
        set -- $list
        file=${1#"$kit"/}
        for p; do
            case $p in *[!A-Za-z0-9_./+-]*)
                refused="#include of a file whose name the kit does not accept: $p"
                break 2 ;;
            esac
        done
        outside $how "$@"
        [ -n "$bad" ] && refused="#include of $bad: outside the files this build may read" && break
    done
elif [ "$rc" != 0 ] && [ "$tool" = compiler ] && [ -s "$log" ]; then
    # the files its messages quote (a header outside the sources is not even
    # visible under bubblewrap: its name is in "No such file" instead)
    IFS=$nl
    outside resolve $(sed -n \
        -e 's/^In file included from \([^:]*\):.*/\1/p' -e 's/^  *from \([^:]*\):.*/\1/p' \
        -e '/^[^ :][^:]*:[0-9][0-9]*:/{h;s/^\([^:]*\):.*/\1/p;g;}' \
        -e 's|^\(.*/\)[^/:]*:[0-9]*:[0-9]*: fatal error: \([^/].*\): No such file or directory$|\1\2|p' \
        -e 's|^.*:[0-9]*:[0-9]*: fatal error: \(/.*\): No such file or directory$|\1|p' "$log")
    unset IFS
    [ -n "$bad" ] && refused="#include of $bad: outside the files this build may read"
fi

if [ -z "$refused" ] && [ "$rc" != 0 ]; then
    flood=
    [ -s "$log" ] && [ "$(wc -c <"$log")" -gt $((cap * 1024)) ] && flood=1
    case $rc in
    124 | 137) stopped="wall-time limit ($wall s)" ;;
    152) stopped="CPU-time limit ($cpu s)" ;;
    153) stopped="file-size limit ($(size_name "$fsize"))" ;;
    esac
    if [ -z "$stopped" ] && [ -n "$flood" ]; then
        stopped="output limit ($cap KiB)"
    elif [ -z "$stopped" ] && [ -s "$log" ]; then
        case $(grep -m1 -oE 'CPU time limit exceeded|File size limit exceeded|out of memory|memory exhausted|Cannot allocate memory' "$log") in
        CPU*) stopped="CPU-time limit ($cpu s)" ;;
        File*) stopped="file-size limit ($(size_name "$fsize"))" ;;
        ?*) stopped="memory limit ($(size_name "$mem"))" ;;
        esac
    fi
    head -c $((cap * 1024)) "$log" >&2
    [ -n "$flood" ] && printf '\n[... output cut after %s KiB]\n' "$cap" >&2
elif [ -z "$refused" ] && [ -s "$log" ]; then
    cat "$log" >&2
fi

if [ -n "$refused" ]; then
    say "refused: $refused ($verb $file)"
    rc=1
elif [ -n "$stopped" ]; then
    say "build stopped: $tool $stopped exceeded $verb $file"
elif [ "$rc" = 0 ]; then
    set +f
    set --
    for f in "$tmp"/*; do
        case $f in *.d) [ -n "$deps" ] && continue ;; esac
        [ ! -e "$f" ] || set -- "$@" "$f"
    done
    set -f
    # dependency files written anew (make reads them, the sandbox wrote
    # them), into $tmp/.deps under their own names: renamed into place
    # with the objects, by one mv (another build may read them: build/shared/)
    targets=$target
    for dep in $deps; do
        t=${targets%%"$nl"*} targets=${targets#*"$nl"}
        read_deps "$tmp/$dep"
        write_dep "$t" $list >"$tmp/.deps/$dep" || rc=1
        set -- "$@" "$tmp/.deps/$dep"
    done
    [ $# = 0 ] || [ "$rc" != 0 ] || mv -f "$@" "$out"/ || rc=1
fi
rm -rf "$tmp" "$status"
exit "$rc"
