"""Writes pretok_gpt2.json: how GPT-2's pre-tokenizer pattern splits random
strings, computed with the Python `regex` module (the engine OpenAI's
original GPT-2 encoder used; it supports the (?!\\S) lookahead). The Go
scanner in bytelevel.go must split every string the same way.

    python3 gen_pretok.py   # needs `pip install regex`; deterministic (seeded)
"""
import json
import random

import regex

PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Characters whose classes are stable across Unicode versions: whitespace
# (ASCII, NEL, NBSP, em space, ideographic space, line separator), letters
# of several scripts, digits and other numbers, punctuation, symbols,
# a combining mark, a format character, an emoji, and the letters of the
# contractions.
ALPHABET = (
    [" "] * 8 + ["\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u2003", "\u3000", "\u2028"]
    + list("aZsStrevmldx") + ["é", "ß", "Ж", "日", "ا", "ℕ"]
    + list("09") + ["٣", "²", "½", "Ⅻ"]
    + ["'"] * 6 + list("!.-_\"#") + ["€", "😀", "\u0301", "\u200b", "\x00", "\x07"]
)

HANDPICKED = [
    "", " ", "  ", "a", " a", "  a", "a ", "a  ", "a  b", "a \tb", "\t\tb", " \n b",
    "I'm", "I'M", "'s", "''s", "x''ll", " 's", "'re'", "'ve'll", "can't", "'", "' ",
    "hello world", "  leading", "trailing  ", "tab\tsep", "line\n\nbreak",
    "123 456", " 12ab", "a1b2", "!!!???", " !!", "é.", "😀😀 😀", "\u3000x", "x\u3000 y",
]


def main():
    rng = random.Random(20240611)
    texts = list(HANDPICKED)
    for _ in range(2000):
        n = rng.randint(1, 24)
        texts.append("".join(rng.choice(ALPHABET) for _ in range(n)))
    pat = regex.compile(PATTERN)
    cases = []
    for t in texts:
        pieces = pat.findall(t)
        assert "".join(pieces) == t, t
        cases.append({"text": t, "pieces": pieces})
    out = {
        "pattern": PATTERN,
        "produced_by": "Python regex %s (gen_pretok.py)" % regex.__version__,
        "cases": cases,
    }
    with open("pretok_gpt2.json", "w", encoding="utf-8") as f:
        f.write('{"pattern": %s,\n"produced_by": %s,\n"cases": [\n' % (json.dumps(PATTERN), json.dumps(out["produced_by"])))
        f.write(",\n".join(json.dumps(c) for c in cases))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
