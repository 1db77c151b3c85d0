#!/bin/sh
# A lab is earned by its own code. Before the link, check that the objects of
# each lab's student files reference only what that lab's allowlist
# (labs/<lab>/api.txt) names, and that they define the lab's own functions
# themselves; so a kit helper, or an earlier lab's walk, cannot do the work.
#
#   apicheck.sh LABS STAMP lab:LAB:ROOT OBJECT SOURCE [OBJECT SOURCE ...] [lab:...]
#
#   LABS      the kit's labs/ folder: lab LAB's allowlist is LABS/LAB/api.txt
#   STAMP     written once every reference is allowed (make's stamp file)
#   lab:LAB:ROOT    starts the group of one lab's files; ROOT is where they
#                   lie as the student names it (starter/02-page-fault)
#   OBJECT SOURCE   each object of that lab's files, and its source relative
#                   to ROOT (for the messages)
#
# A symbol that an object of the same lab defines is the lab's own and always
# allowed. Every other undefined symbol (what `nm -u` lists: UND in readelf,
# weak references too) must be in the lab's list; each one that is not gets a
# line naming the file, the symbol and, where the list has a hint for it,
# what to use instead. Exit 1 then. An earlier lab's files are checked
# against their own lab's list, so they cannot pass a kit internal on.
#
# An allowlist holds one entry a line; '#' starts a comment:
#   name           a function or variable the lab's files may use
#   prefix*        every name starting with prefix (compiler helpers)
#   =name          the lab's own: one of its files must define it
#   !name hint     not allowed, though tempting; the hint says what to do
#   include FILE   the entries of LABS/FILE (a later line about a name wins)

usage="usage: apicheck.sh LABS STAMP lab:LAB:ROOT OBJECT SOURCE [OBJECT SOURCE ...] [lab:...]"
[ $# -ge 5 ] || { echo "$usage" >&2; exit 2; }
labs=$1 stamp=$2
shift 2

# Split the arguments: the objects stay in "$@" for readelf; the groups
# (LAB and ROOT, a line each) and each object's source and group go to awk.
nl='
'
groups= objs= srcs= of= ng=0
n=$#
while [ "$n" -gt 0 ]; do
    case $1 in
    lab:*:*)
        g=${1#lab:}
        groups=$groups${g%%:*}$nl${g#*:}$nl
        ng=$((ng + 1))
        shift
        n=$((n - 1))
        ;;
    *)
        [ -n "$groups" ] && [ "$n" -ge 2 ] || { echo "$usage" >&2; exit 2; }
        objs=$objs$1$nl srcs=$srcs$2$nl of=$of$ng$nl
        o=$1
        shift 2
        set -- "$@" "$o"
        n=$((n - 2))
        ;;
    esac
done

# readelf, not nm: GNU nm spends ~30 ms probing for its LTO plugin, readelf
# reads any ELF (the ARM lab's too) in ~2 ms.
syms=$(readelf -sW -- "$@" 2>&1) || {
    printf '%s\n' "$syms" >&2
    echo "kit: readelf could not read the student objects" >&2
    exit 1
}

printf '%s\n' "$syms" | APICHECK_GROUPS=$groups APICHECK_OBJS=$objs APICHECK_SRCS=$srcs \
    APICHECK_OF=$of awk -v labs="$labs" '
function fail(msg) { print "kit: " msg > "/dev/stderr"; bad = 1 }

# Read one allowlist file into group g: allow[g, name], hint[g, name],
# own[g, 1..nown[g]] and prefix[g, 1..nprefix[g]].
function load(g, file,   line, f, n, name, r) {
    while ((r = (getline line < file)) > 0) {
        sub(/#.*/, "", line)
        n = split(line, f, " ")
        if (n == 0)
            continue
        if (f[1] == "include" && n == 2) {
            load(g, labs "/" f[2])
            continue
        }
        name = f[1]
        if (name ~ /^!/) {
            name = substr(name, 2)
            sub(/^[ \t]*![^ \t]+[ \t]*/, "", line)
            sub(/[ \t]+$/, "", line)
            hint[g, name] = line
            delete allow[g, name]
        } else if (name ~ /^=/) {
            own[g, ++nown[g]] = substr(name, 2)
        } else if (name ~ /\*$/) {
            prefix[g, ++nprefix[g]] = substr(name, 1, length(name) - 1)
        } else {
            allow[g, name] = 1
            delete hint[g, name]
        }
    }
    if (r < 0)
        fail("cannot read the allowlist " file)
    close(file)
}

function allowed(g, name,   i) {
    if ((g, name) in allow)
        return 1
    for (i = 1; i <= nprefix[g]; i++)
        if (substr(name, 1, length(prefix[g, i])) == prefix[g, i])
            return 1
    return 0
}

BEGIN {
    ngroups = int(split(ENVIRON["APICHECK_GROUPS"], gl, "\n") / 2)
    for (g = 1; g <= ngroups; g++) {
        lab[g] = gl[2 * g - 1]
        root[g] = gl[2 * g]
        number[g] = substr(lab[g], 1, 2)
        load(g, labs "/" lab[g] "/api.txt")
    }
    nobj = split(ENVIRON["APICHECK_OBJS"], obj, "\n") - 1
    split(ENVIRON["APICHECK_SRCS"], src, "\n")
    split(ENVIRON["APICHECK_OF"], group_of, "\n") # the group named last before it
    cur = 1 # readelf names no file when there is one
}

# readelf -s: "File: OBJECT" before the table of each object (when there are
# several), then "Num: Value Size Type Bind Vis Ndx Name" a symbol
/^File: / {
    cur = 0
    for (i = 1; i <= nobj; i++)
        if (substr($0, 7) == obj[i])
            cur = i
    next
}
cur && $1 ~ /^[0-9]+:$/ && ($5 == "GLOBAL" || $5 == "WEAK") {
    if (NF != 8) { # a name with spaces, or more than a visibility: nothing gcc makes
        fail(root[group_of[cur]] "/" src[cur] " has a symbol this check cannot read: " $0)
        next
    }
    if ($7 == "UND") {
        refs++
        ref_name[refs] = $8
        ref_obj[refs] = cur
    } else
        defined[group_of[cur], $8] = 1
}

END {
    for (k = 1; k <= refs; k++) {
        i = ref_obj[k]
        g = group_of[i]
        name = ref_name[k]
        if ((g, name) in defined || allowed(g, name))
            continue
        if ((g, name) in hint)
            fail(root[g] "/" src[i] " uses " name ", " hint[g, name])
        else
            fail(root[g] "/" src[i] " uses " name ", which is not in Lab " number[g] "'"'"'s API")
        outside[g] = 1
    }
    for (g = 1; g <= ngroups; g++) {
        for (k = 1; k <= nown[g]; k++)
            if (!((g, own[g, k]) in defined))
                fail(own[g, k] " is Lab " number[g] "'"'"'s to write: define it in " root[g] \
                     "/ (a file of another lab may not)")
        if (g in outside)
            print "kit: a file of Lab " number[g] " may use only what labs/" lab[g] \
                  "/api.txt lists (see its handout)" > "/dev/stderr"
    }
    exit bad
}' || exit 1

: >"$stamp"
