#!/usr/bin/env python3
"""Scores PHI screens against the screen corpus; prints Markdown. Used by the
screen suite of scripts/bench (BENCH_SUITE=screen); standard library only.

  screen_score.py --corpus tests/data/screen/corpus.jsonl NAME=RESULTS [NAME=RESULTS ...]
                  [--list NAME]

RESULTS: what `custodian screen` writes (and scripts/lib/screen_presidio.py),
one JSON object a line: {"id", "verdict": "allow"|"hold"|"block", "findings":
[{"kind", "rule", "start", "end", "confidence"}]}, start/end UTF-8 byte offsets.
Every corpus id must have exactly one result and no result may name an id the
corpus lacks: anything else is an error naming the id (exit 2).

Printed, for every tool:
  - post level, for split dev, opened, holdout and all: posts, TP, FP, FN, TN, recall,
    precision, F2 (F-beta, beta = 2: recall weighs four times precision).
    A post is flagged when its verdict is hold or block; the truth is the
    corpus's `flag` (true: a reviewer must see it).
  - the same per corpus `kind` (post, reply, comment), all splits.
  - span coverage: of the corpus's labelled spans, other than HEALTH and
    PATIENT_CONFIRM (which say why a post matters, not an identifier to find),
    the fraction that at least one finding overlaps (any finding, whatever the
    post's verdict), per label.
Then for the tool named by --list (default: custodian, when scored) its false
negatives and false positives: ids, split, kind and category only, never text.
"""

import argparse
import json
import sys

SPLITS = ("dev", "opened", "holdout")
KINDS = ("post", "reply", "comment")
VERDICTS = {"allow": False, "hold": True, "block": True}
SPAN_LABELS_SKIPPED = {"HEALTH", "PATIENT_CONFIRM"}


def fail(message):
    print("screen_score.py: " + message, file=sys.stderr)
    sys.exit(2)


def read_jsonl(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    fail("%s %s line %d: not JSON: %s" % (what, path, number, err))
                if not isinstance(obj, dict):
                    fail("%s %s line %d: not a JSON object" % (what, path, number))
                yield number, obj
    except OSError as err:
        fail("cannot read %s %s: %s" % (what, path, err))


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def load_corpus(path):
    corpus = {}
    for number, obj in read_jsonl(path, "corpus"):
        where = "corpus %s line %d" % (path, number)
        pid = obj.get("id")
        if not isinstance(pid, str) or not pid:
            fail("%s: no string id" % where)
        if pid in corpus:
            fail("%s: id %s appears twice" % (where, pid))
        where += " (id %s)" % pid
        if obj.get("kind") not in KINDS:
            fail("%s: kind must be one of %s, not %r" % (where, ", ".join(KINDS), obj.get("kind")))
        if obj.get("split") not in SPLITS:
            fail("%s: split must be one of %s, not %r" % (where, ", ".join(SPLITS), obj.get("split")))
        if not isinstance(obj.get("flag"), bool):
            fail("%s: flag must be true or false" % where)
        if not isinstance(obj.get("category"), str):
            fail("%s: no string category" % where)
        if not isinstance(obj.get("text"), str):
            fail("%s: no string text" % where)
        raw = obj["text"].encode("utf-8")
        spans = obj.get("spans", [])
        if not isinstance(spans, list):
            fail("%s: spans must be a list" % where)
        for span in spans:
            start, end, label = (span.get("start"), span.get("end"), span.get("label")) if isinstance(span, dict) else (None, None, None)
            if not (is_int(start) and is_int(end) and isinstance(label, str) and 0 <= start < end <= len(raw)):
                fail("%s: bad span %r (byte offsets within the text's %d bytes, start < end, a label)" % (where, span, len(raw)))
            try:
                raw[start:end].decode("utf-8")
            except UnicodeDecodeError:
                fail("%s: span %r does not fall on UTF-8 character boundaries" % (where, span))
        corpus[pid] = {"kind": obj["kind"], "split": obj["split"], "flag": obj["flag"],
                       "category": obj["category"], "length": len(raw), "spans": spans}
    if not corpus:
        fail("corpus %s is empty" % path)
    return corpus


def load_results(name, path, corpus):
    results = {}
    for number, obj in read_jsonl(path, name + " results"):
        where = "%s results %s line %d" % (name, path, number)
        pid = obj.get("id")
        if not isinstance(pid, str):
            fail("%s: no string id" % where)
        if pid not in corpus:
            fail("%s: id %s is not in the corpus" % (where, pid))
        if pid in results:
            fail("%s: id %s has a second result" % (where, pid))
        verdict = obj.get("verdict")
        if verdict not in VERDICTS:
            fail("%s (id %s): verdict must be allow, hold or block, not %r" % (where, pid, verdict))
        findings = obj.get("findings")
        if not isinstance(findings, list):
            fail("%s (id %s): findings must be a list" % (where, pid))
        spans = []
        for finding in findings:
            start, end = (finding.get("start"), finding.get("end")) if isinstance(finding, dict) else (None, None)
            if not (is_int(start) and is_int(end) and 0 <= start <= end <= corpus[pid]["length"]):
                fail("%s (id %s): finding %r is not a byte range within the text's %d bytes"
                     % (where, pid, finding, corpus[pid]["length"]))
            spans.append((start, end))
        results[pid] = {"flagged": VERDICTS[verdict], "verdict": verdict, "findings": spans}
    missing = [pid for pid in corpus if pid not in results]
    if missing:
        shown = ", ".join(missing[:10]) + (" and %d more" % (len(missing) - 10) if len(missing) > 10 else "")
        fail("%s results %s: no result for id %s" % (name, path, shown))
    return results


def ratio(num, den):
    return num / den if den else None


def fmt(value):
    return "-" if value is None else "%.3f" % value


def confusion(corpus, results, ids):
    tp = fp = fn = tn = 0
    for pid in ids:
        truth, flagged = corpus[pid]["flag"], results[pid]["flagged"]
        if truth and flagged:
            tp += 1
        elif flagged:
            fp += 1
        elif truth:
            fn += 1
        else:
            tn += 1
    recall, precision = ratio(tp, tp + fn), ratio(tp, tp + fp)
    f2 = None
    if recall is not None and precision is not None and (4 * precision + recall) > 0:
        f2 = 5 * precision * recall / (4 * precision + recall)
    elif recall == 0 or precision == 0:
        f2 = 0.0
    return [len(ids), tp, fp, fn, tn, fmt(recall), fmt(precision), fmt(f2)]


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--list", dest="list_tool", help="the tool whose misses and false alarms are listed")
    parser.add_argument("tools", nargs="+", metavar="NAME=RESULTS")
    args = parser.parse_args()

    corpus = load_corpus(args.corpus)
    tools = []
    for spec in args.tools:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            fail("a tool is NAME=RESULTS, not %r" % spec)
        if name in dict(tools):
            fail("tool %s named twice" % name)
        tools.append((name, load_results(name, path, corpus)))
    names = [name for name, _ in tools]
    list_tool = args.list_tool or ("custodian" if "custodian" in names else None)
    if list_tool is not None and list_tool not in names:
        fail("--list %s: no such tool (%s)" % (list_tool, ", ".join(names)))

    by_split = {s: [pid for pid in corpus if corpus[pid]["split"] == s] for s in SPLITS}
    by_split["all"] = list(corpus)
    by_kind = {k: [pid for pid in corpus if corpus[pid]["kind"] == k] for k in KINDS}
    header = ["posts", "TP", "FP", "FN", "TN", "recall", "precision", "F2"]
    align = ["---:"] * len(header)

    print("### Post level (flagged: verdict hold or block; truth: `flag`)\n")
    print(row(["tool", "split"] + header))
    print(row(["---", "---"] + align))
    for name, results in tools:
        for split in SPLITS + ("all",):
            print(row([name, split] + confusion(corpus, results, by_split[split])))

    print("\n### Post level by kind (all splits)\n")
    print(row(["tool", "kind"] + header))
    print(row(["---", "---"] + align))
    for name, results in tools:
        for kind in KINDS:
            if by_kind[kind]:
                print(row([name, kind] + confusion(corpus, results, by_kind[kind])))

    labelled = [(pid, s["start"], s["end"], s["label"]) for pid in corpus for s in corpus[pid]["spans"]
                if s["label"] not in SPAN_LABELS_SKIPPED]
    print("\n### Span coverage: labelled spans (not %s) that a finding overlaps\n"
          % " or ".join(sorted(SPAN_LABELS_SKIPPED)))
    if not labelled:
        print("(the corpus has no such spans)")
    else:
        labels = sorted({label for _, _, _, label in labelled})
        print(row(["label", "spans"] + names))
        print(row(["---", "---:"] + ["---:"] * len(names)))
        for label in labels + [None]:
            spans = [s for s in labelled if label is None or s[3] == label]
            cells = []
            for _, results in tools:
                hit = sum(1 for pid, start, end, _ in spans
                          if any(fs < end and start < fe for fs, fe in results[pid]["findings"]))
                cells.append("%d (%s)" % (hit, fmt(ratio(hit, len(spans)))))
            print(row(["**all**" if label is None else label, len(spans)] + cells))

    if list_tool is not None:
        results = dict(tools)[list_tool]
        for title, wanted in (("false negatives (flag true, verdict allow)", (True, False)),
                              ("false positives (flag false, verdict hold or block)", (False, True))):
            ids = [pid for pid in corpus if (corpus[pid]["flag"], results[pid]["flagged"]) == wanted]
            print("\n### %s: %s, %d\n" % (list_tool, title, len(ids)))
            if ids:
                print(row(["id", "split", "kind", "category", "verdict"]))
                print(row(["---"] * 5))
                for pid in ids:
                    c = corpus[pid]
                    print(row([pid, c["split"], c["kind"], c["category"], results[pid]["verdict"]]))


if __name__ == "__main__":
    main()
