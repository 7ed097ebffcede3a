"""Read check-run text as GitHub renders it: the renderer escapes markdown in every value."""

import re


def unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)
