#!/usr/bin/env python3
"""trainset.py: the training data of device-check.sh's training step.

  trainset.py speed ROWS OUT.csv   ROWS texts of 200 common words each (so that
                                   every one fills max_length 128 after
                                   truncation: fixed-shape batches), 4 labels
  trainset.py agree ROWS OUT.csv   ROWS fortunes rows (testdata/datasets),
                                   shuffled with a fixed seed

Deterministic: the same arguments write the same file."""

import csv
import os
import random
import sys

WORDS = ("the of and to in is was for on that with as by at from his her they this have not are but had "
         "which one were all their an been has more would there when who will some into other time no its "
         "only new over after most first also years two can may any these such then than about could make "
         "like good people well even back under most through many where before way world still long great "
         "film story music water house school city night light money market system order power").split()


def main(kind, rows, out):
    rng = random.Random(7)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        if kind == "speed":
            for i in range(rows):
                w.writerow([" ".join(rng.choice(WORDS) for _ in range(200)), "abcd"[i % 4]])
        elif kind == "agree":
            here = os.path.dirname(os.path.abspath(__file__))
            with open(os.path.join(here, "..", "..", "testdata", "datasets", "fortunes_train.csv")) as src:
                data = list(csv.reader(src))[1:]
            rng.shuffle(data)
            for r in data[:rows]:
                w.writerow(r[:2])
        else:
            sys.exit(f"trainset.py: unknown kind {kind!r} (speed or agree)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
