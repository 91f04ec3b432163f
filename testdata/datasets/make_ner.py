"""A synthetic named-entity set for sequence labeling: templated sentences with person names,
places and organisations drawn from word lists, labelled with character spans.

Run: python3 make_ner.py  (no dependencies; deterministic: a fixed seed).
Writes ner_train.csv and ner_test.csv next to this script, columns text,spans, where spans is a
JSON array of {"start", "end", "label"} in Unicode code points of the text, end exclusive.
Labels: PER, LOC, ORG. Entities and templates are shared by both splits; the test rows are other
random combinations. About one row in six joins two to four sentences (long texts, for windows);
one in ten has no entity. Some names have non-ASCII letters, so offsets are code points, not bytes.
"""
import csv, json, os, random

SEED = 20261205
FIRST = ["Anna", "Peter", "Maria", "John", "Sofia", "Lukas", "Emma", "David", "Olga", "Ahmed", "Chloé", "José",
         "Ingrid", "Kenji", "Fatima", "Marco", "Zoë", "Henrik", "Priya", "Tomás"]
LAST = ["Schmidt", "Miller", "Rossi", "Nakamura", "Novak", "García", "Dubois", "Kowalski", "Jensen", "Okafor",
        "Müller", "Silva", "Andersson", "Patel", "Ivanova", "Brennan"]
LOC = ["Berlin", "Paris", "Zürich", "Lisbon", "Tokyo", "Nairobi", "Chicago", "Oslo", "Kraków", "Lima",
       "New York", "Buenos Aires", "São Paulo", "Cape Town", "Hong Kong", "Rio de Janeiro"]
ORG = ["Acme Corporation", "Globex", "the United Nations", "Initech", "Umbrella Labs", "Nordbank",
       "the Red Cross", "Stark Industries", "Wayne Enterprises", "Hooli", "Vandelay Industries",
       "the World Bank", "Cyberdyne Systems", "Oceanic Airlines"]
TEMPLATES = [
    "{PER} moved to {LOC} last year.",
    "{PER} works for {ORG} in {LOC}.",
    "Yesterday {ORG} announced a new office in {LOC}.",
    "The meeting between {PER} and {PER} took place in {LOC}.",
    "{ORG} hired {PER} as its new director.",
    "I visited {LOC} with {PER} in May.",
    "According to {PER}, {ORG} will open a branch in {LOC}.",
    "Flights from {LOC} to {LOC} were cancelled on Monday.",
    "{PER} said that {ORG} would not comment.",
    "After the storm, {ORG} sent help to {LOC}.",
    "Every summer {PER} spends two weeks in {LOC}.",
    "The report by {ORG} was written by {PER}.",
    "{PER} met {PER} at the station.",
    "Shares of {ORG} rose sharply today.",
    "Nobody expected the weather to change so quickly.",
    "The committee will meet again next Tuesday.",
    "Prices went up again in the spring.",
]


def person(rnd):
    if rnd.random() < 0.3:
        return rnd.choice(FIRST)
    return rnd.choice(FIRST) + " " + rnd.choice(LAST)


def sentence(rnd):
    tmpl = rnd.choice(TEMPLATES)
    text, spans, i = "", [], 0
    while i < len(tmpl):
        if tmpl[i] == "{":
            j = tmpl.index("}", i)
            label = tmpl[i + 1:j]
            ent = {"PER": person, "LOC": lambda r: r.choice(LOC), "ORG": lambda r: r.choice(ORG)}[label](rnd)
            if label == "ORG" and ent.startswith("the ") and len(text) == 0:
                ent = "The " + ent[4:]
            skip = 4 if label == "ORG" and ent.lower().startswith("the ") else 0  # "the" is not part of the name
            start = len(text) + skip
            text += ent
            spans.append({"start": start, "end": len(text), "label": label})
            i = j + 1
        else:
            text += tmpl[i]
            i += 1
    return text, spans


def row(rnd):
    n = rnd.choice([2, 3, 4]) if rnd.random() < 1 / 6 else 1
    text, spans = "", []
    for k in range(n):
        s, sp = sentence(rnd)
        if k:
            text += " "
        for x in sp:
            spans.append({"start": x["start"] + len(text), "end": x["end"] + len(text), "label": x["label"]})
        text += s
    return text, spans


def main():
    rnd = random.Random(SEED)
    here = os.path.dirname(os.path.abspath(__file__))
    for split, n in (("train", 800), ("test", 200)):
        with open(os.path.join(here, f"ner_{split}.csv"), "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "spans"])
            for _ in range(n):
                text, spans = row(rnd)
                for x in spans:  # offsets are code points: Python str indices
                    assert text[x["start"]:x["end"]].strip() == text[x["start"]:x["end"]]
                w.writerow([text, json.dumps(spans, ensure_ascii=False, separators=(",", ":"))])
        print(split, n)


main()
