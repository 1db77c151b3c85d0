#!/bin/sh
# A lab is earned by its own code. Before the link, check that the objects of
# one lab's student files reference only what the lab's allowlist
# (labs/<lab>/api.txt) names, and that they define the lab's own functions
# themselves; so a kit helper, or an earlier lab's walk, cannot do the work.
#
#   apicheck.sh LABS LAB ROOT STAMP OBJECT SOURCE [OBJECT SOURCE ...]
#
#   LABS    the kit's labs/ folder: the allowlist is LABS/LAB/api.txt
#   ROOT    where the sources lie, as the student names it (starter/02-page-fault)
#   STAMP   written once every reference is allowed (make's stamp file)
#   OBJECT SOURCE   each object of the lab's student files, and its source
#                   relative to ROOT (for the messages)
#
# A symbol that one of these objects defines is the lab's own and always
# allowed. Every other undefined symbol (what `nm -u` lists: UND in readelf,
# weak references too) must be in the list; each one that is not gets a line naming the file, the symbol
# and, where the list has a hint for it, what to use instead. Exit 1 then.
#
# The allowlist holds one entry a line; '#' starts a comment:
#   name           a function or variable the lab's files may use
#   prefix*        every name starting with prefix (compiler helpers)
#   =name          the lab's own: one of its files must define it
#   !name hint     not allowed, though tempting; the hint says what to do
#   include FILE   the entries of LABS/FILE (a later line about a name wins)

if [ $# -lt 6 ] || [ $(($# % 2)) -ne 0 ]; then
    echo "usage: apicheck.sh LABS LAB ROOT STAMP OBJECT SOURCE [OBJECT SOURCE ...]" >&2
    exit 2
fi
labs=$1 lab=$2 root=$3 stamp=$4
shift 4

# Split the pairs: the objects stay in "$@" for readelf, the lists go to awk.
nl='
'
objs= srcs=
pairs=$(($# / 2))
while [ "$pairs" -gt 0 ]; do
    objs=$objs$1$nl srcs=$srcs$2$nl
    o=$1
    shift 2
    set -- "$@" "$o"
    pairs=$((pairs - 1))
done

# readelf, not nm: GNU nm spends ~30 ms probing for its LTO plugin, readelf
# reads any ELF (the ARM lab's too) in ~2 ms.
syms=$(readelf -sW -- "$@" 2>&1) || {
    printf '%s\n' "$syms" >&2
    echo "kit: readelf could not read the objects of $root" >&2
    exit 1
}

printf '%s\n' "$syms" | APICHECK_OBJS=$objs APICHECK_SRCS=$srcs awk \
    -v labs="$labs" -v lab="$lab" -v root="$root" '
function fail(msg) { print "kit: " msg > "/dev/stderr"; bad = 1 }

# Read one allowlist file into allow[], hint[], own[1..nown] and prefix[1..nprefix].
function load(file,   line, f, n, name, r) {
    while ((r = (getline line < file)) > 0) {
        sub(/#.*/, "", line)
        n = split(line, f, " ")
        if (n == 0)
            continue
        if (f[1] == "include" && n == 2) {
            load(labs "/" f[2])
            continue
        }
        name = f[1]
        if (name ~ /^!/) {
            name = substr(name, 2)
            sub(/^[ \t]*![^ \t]+[ \t]*/, "", line)
            sub(/[ \t]+$/, "", line)
            hint[name] = line
            delete allow[name]
        } else if (name ~ /^=/) {
            own[++nown] = substr(name, 2)
        } else if (name ~ /\*$/) {
            prefix[++nprefix] = substr(name, 1, length(name) - 1)
        } else {
            allow[name] = 1
            delete hint[name]
        }
    }
    if (r < 0) {
        fail("cannot read the allowlist " file)
        exit 2
    }
    close(file)
}

function allowed(name,   i) {
    if (name in allow)
        return 1
    for (i = 1; i <= nprefix; i++)
        if (substr(name, 1, length(prefix[i])) == prefix[i])
            return 1
    return 0
}

BEGIN {
    nobj = split(ENVIRON["APICHECK_OBJS"], obj, "\n") - 1
    split(ENVIRON["APICHECK_SRCS"], src, "\n")
    number = substr(lab, 1, 2)
    list = "labs/" lab "/api.txt"
    file = src[1] # readelf names no file when there is one
    load(labs "/" lab "/api.txt")
}

# readelf -s: "File: OBJECT" before the table of each object (when there are
# several), then "Num: Value Size Type Bind Vis Ndx Name" a symbol
/^File: / {
    file = ""
    for (i = 1; i <= nobj; i++)
        if (substr($0, 7) == obj[i])
            file = src[i]
    next
}
NF == 8 && ($5 == "GLOBAL" || $5 == "WEAK") {
    if ($7 == "UND") {
        refs++
        ref_name[refs] = $8
        ref_file[refs] = file
    } else
        defined[$8] = 1
}

END {
    for (k = 1; k <= refs; k++) {
        name = ref_name[k]
        if (name in defined || allowed(name))
            continue
        if (name in hint)
            fail(root "/" ref_file[k] " uses " name ", " hint[name])
        else
            fail(root "/" ref_file[k] " uses " name ", which is not in Lab " number "'"'"'s API")
        outside = 1
    }
    for (k = 1; k <= nown; k++)
        if (!(own[k] in defined))
            fail(own[k] " is Lab " number "'"'"'s to write: define it in " root "/ (a file of another lab may not)")
    if (outside)
        print "kit: a file of Lab " number " may use only what " list " lists (see its handout)" > "/dev/stderr"
    exit bad
}' || exit 1

: >"$stamp"
