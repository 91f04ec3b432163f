#!/usr/bin/env python3
"""Writes pairs_train.csv (1,200 rows) and pairs_test.csv (300 rows): columns
text,text2,label for duplicate detection. Each text is 4 to 6 nouns drawn
from a list of 50 (each one WordPiece token of bert-base-uncased). Half the
pairs are "duplicate": text2 is the same words shuffled with one replaced by
a word text lacks; the other half are "different": text2 shares no word
with text. Neither text alone says which (both halves draw their words from
the same list), so a model must compare the two. The draws are seeded, so the
files are the same on every run (python3 make_pairs.py, in this folder)."""

import csv
import random

WORDS = ("cat dog house tree river car book music city train apple bread water fire stone ship king "
         "garden window door horse bird fish road mountain forest island market school church bridge "
         "table chair phone letter paper money gold silver iron glass milk coffee tea sugar salt rice "
         "wine beer snow").split()


def pairs(seed, n):
    r = random.Random(seed)
    rows = []
    for i in range(n):
        a = r.sample(WORDS, r.randint(4, 6))
        rest = [w for w in WORDS if w not in a]
        if i % 2 == 0:
            b = a[:]
            r.shuffle(b)
            b[r.randrange(len(b))] = r.choice(rest)
            label = "duplicate"
        else:
            b = r.sample(rest, r.randint(4, 6))
            label = "different"
        rows.append((" ".join(a), " ".join(b), label))
    r.shuffle(rows)
    return rows


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "text2", "label"])
        w.writerows(rows)


if __name__ == "__main__":
    assert len(WORDS) == 50 and len(set(WORDS)) == 50
    write("pairs_train.csv", pairs(1, 1200))
    write("pairs_test.csv", pairs(2, 300))
