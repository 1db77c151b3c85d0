"""A frame allocator's pool as the grader sees it: sets of physical frames
(4 KiB-aligned addresses), and what differs between two of them, for messages
that name the frames gained or lost.

Frame 0 gets a word of its own: FRAME_NONE is 0 in the kit's allocator API,
so a pool holding frame 0 hands out "no frame" the moment it reaches it (a
linked stack stops there, a count comes out one short), and physical page 0
holds the real-mode interrupt table besides.
"""
PAGE = 4096
SHOWN = 4  # frames named in a message before "+N more"
FRAME_ZERO = ("frame 0 (address 0 is FRAME_NONE: a pool that takes it loses it, as a link of 0 "
              "ends a linked stack and frame_alloc() returning 0 means 'empty'; frame_init() must skip it)")


def frame_text(pa):
    """A frame as a message names it; frame 0 with why it matters."""
    return FRAME_ZERO if pa == 0 else f"0x{pa:x}"


def runs(frames):
    """[(start, end)] of consecutive frames, in address order (end excluded)."""
    out = []
    for pa in sorted(frames):
        if out and out[-1][1] == pa:
            out[-1] = (out[-1][0], pa + PAGE)
        else:
            out.append((pa, pa + PAGE))
    return out


def frames_text(frames, shown=SHOWN):
    """Some frames named briefly: frame 0 first if present, then runs
    ("0x5000-0x8000" for three frames), "+N more" past `shown`."""
    frames = set(frames)
    parts = [FRAME_ZERO] if 0 in frames else []
    rs = runs(frames - {0})
    parts += [f"0x{s:x}" if e - s == PAGE else f"0x{s:x}-0x{e:x}" for s, e in rs[:shown]]
    if len(rs) > shown:
        parts.append(f"+{sum((e - s) // PAGE for s, e in rs[shown:])} more frames")
    return ", ".join(parts)


def pool_change(before, after):
    """What differs between two sets of free frames, '' when nothing does:
    "lost 2 frames: 0x5000-0x7000; gained 1: frame 0 (...)"."""
    before, after = set(before), set(after)
    lost, gained = before - after, after - before
    said = []
    if lost:
        said.append(f"lost {len(lost)} frame{'s' if len(lost) > 1 else ''}: {frames_text(lost)}")
    if gained:
        said.append(f"gained {len(gained)} frame{'s' if len(gained) > 1 else ''}: {frames_text(gained)}")
    return "; ".join(said)


def count_note(got, want):
    """Why a pool may hold `got` frames where `want` were expected, when the
    difference points at a classic cause ('' otherwise): one short is the
    mark of frame 0 in the pool (FRAME_NONE ends a count there)."""
    if got == want - 1:
        return f"one frame short: is frame 0 in the pool? {FRAME_ZERO}"
    return ""
