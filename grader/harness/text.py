"""Text from outside the grader, made safe to show.

Two kinds of text reach a student's table, a failure message, a log or a
gradebook without the grader having written it: what a kernel printed on its
serial port, and names a submission chose (archive members, folder names).
Both pass through here first, so no terminal escape code, carriage return or
bell reaches a terminal or a file, and no newline inside a name can start a
line of its own (a forged "status: ok").

  strip_control(text)  serial text: escape sequences and control characters
                       removed, newlines and tabs kept
  shown(name)          a name on one line: every unprintable character escaped
                       (\\n, \\x1b, \\u202e), backslashes doubled

and the grader's own text made short: strip_introspection(msg) drops pytest's
explanation of a failed assert.
"""
import re

# ECMA-48 escape sequences: CSI (ESC [ ... final byte, or the one-byte 0x9b),
# control strings (OSC, DCS, SOS, PM, APC: ESC ] P X ^ _ up to BEL or ST, ended
# by a newline at the latest), and two-byte escapes (ESC c, ESC ( B, ESC 7).
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?")
# What is left to remove: C0 controls but tab and newline, DEL, C1 controls,
# and the Unicode marks that reorder or hide text on a terminal.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def strip_control(text):
    """text with terminal escape sequences and control characters removed;
    newlines (CRLF too) and tabs kept."""
    if not text:
        return text
    text = text.replace("\r\n", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(c):
    if c in _NAMED:
        return _NAMED[c]
    n = ord(c)
    if 0xDC80 <= n <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{n - 0xDC00:02x}"
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def shown(name):
    """name (str, or bytes read as UTF-8) on one line, each unprintable
    character escaped: safe to put in a log line or on the console."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    name = str(name)
    if name.isprintable() and "\\" not in name:
        return name
    return "".join(c if c.isprintable() and c != "\\" else _escape(c) for c in name)


def strip_introspection(msg):
    """Drop pytest's rewritten-assert explanation ("assert x == y / + where ...")."""
    lines = msg.splitlines()
    for i, l in enumerate(lines):
        if i and (l.startswith("assert ") or l.lstrip().startswith("+ where")):
            return "\n".join(lines[:i]).rstrip()
    return msg
