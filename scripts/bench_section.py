"""One section of docs/benchmarks.md between its markers: written in place of an older one,
or added at the end. Shared by the scripts that write a section of their own."""
import os


def write_section(out, begin, end, lines):
    """Writes `lines` (which start with `begin` and end with `end`) into OUT/benchmarks.md."""
    section = "\n".join(lines) + "\n"
    path = os.path.join(out, "benchmarks.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)
