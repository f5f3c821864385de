#!/usr/bin/env python3
"""Issue 26: a published version's HTML model card (report.html) in a real browser.

Trains a small multiclass model with the real arginator-train, opens the version's report.html in
Debian's headless chromium, and fails on any console message, on any image the browser could not
load, and on a missing section or a figure that differs from model.json; keeps a screenshot.

Images are checked in the browser (complete and naturalWidth > 0) by a script added to a copy of
the page (the page itself has none); the same check on a copy with roc.png deleted must fail, so
the check is shown to catch a missing image.

Usage: html_card_browser_test.py SOURCE_DIR ARGINATOR_TRAIN ARTIFACT_DIR
Exit 77 (ctest: skipped) when chromium is not installed (scripts/install-deps.sh installs it).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHROMIUM = shutil.which("chromium")
SECTIONS = ["Intended use and limits", "Performance on held-out proteins", "Calibration",
            "Decision policy", "Reference index (evidence)", "Training", "Lineage"]
CHARTS = ["confusion_matrix.png", "roc.png", "reliability.png", "loss_curve.png",
          "accuracy_curve.png"]

IMAGE_CHECK = """<script>
window.addEventListener('load', () => {
  const broken = [...document.images]
      .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'));
  for (const b of broken) console.error('image did not load: ' + b);
  document.body.setAttribute('data-images', String(document.images.length));
  document.body.setAttribute('data-broken', broken.join(' '));
});
</script>
"""


def chromium(page, *args):
    """Runs headless chromium on `page`; returns (stdout, console messages)."""
    profile = tempfile.mkdtemp(prefix="arginator-chromium-")
    try:
        run = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
             "--v=0", f"--user-data-dir={profile}", *args, "file://" + page],
            capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return run.stdout, console


def check_images(report_dir, work, name):
    """Copies the report, adds IMAGE_CHECK, returns (images, broken srcs, console messages)."""
    copy = os.path.join(work, name)
    shutil.copytree(report_dir, copy)
    page = os.path.join(copy, "report.html")
    with open(page, encoding="utf-8") as f:
        text = f.read()
    with open(page, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", IMAGE_CHECK + "</body>"))
    return copy, page


def body_attributes(dom):
    m = re.search(r"<body([^>]*)>", dom)
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', m.group(1) if m else ""))
    return int(attrs.get("data-images", "-1")), attrs.get("data-broken", "?").split()


def main():
    source, train, artifacts = sys.argv[1:4]
    if CHROMIUM is None:
        print("SKIPPED: chromium is not installed (scripts/install-deps.sh installs it)")
        return 77
    failures = []

    def expect(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="arginator-html-card-") as work:
        run = subprocess.run([train, "gen-data", "--out", f"{work}/data", "--scale", "0.02"],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        run = subprocess.run(
            [train, "fit", "--config", f"{source}/configs/train/multiclass.yaml",
             "experiment.epochs=2", "publish.min_macro_f1=0", f"data.dir={work}/data",
             f"output.repository={work}/models", f"output.report_dir={work}/reports"],
            capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        report_dir = f"{work}/reports/betalactamase-class/v1"
        page = f"{report_dir}/report.html"
        expect(os.path.isfile(page), "fit writes report.html beside the charts")
        with open(f"{work}/models/betalactamase-class/1/model.json", encoding="utf-8") as f:
            card = json.load(f)

        # The page as a reviewer opens it: rendered, screenshot kept, no console message.
        os.makedirs(artifacts, exist_ok=True)
        shot = os.path.join(artifacts, "model-card.png")
        if os.path.exists(shot):
            os.remove(shot)
        _, console = chromium(page, f"--screenshot={shot}", "--window-size=1200,7000")
        expect(console == [], f"no console message on the page (got {console})")
        with open(shot, "rb") as f:
            png = f.read()
        expect(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000,
               f"a screenshot of the rendered card ({len(png)} bytes) is kept at {shot}")

        dom, _ = chromium(page, "--dump-dom")
        headings = re.findall(r"<h2>(.*?)</h2>", dom)
        expect(headings == SECTIONS, f"every section, in order (got {headings})")
        temperature = card["decision"]["calibration"]["temperature"]
        for what, text in [
                ("the calibration temperature", f"{temperature:.4f}"),
                ("the test accuracy", f"{card['metrics']['test']['accuracy']:.4f}"),
                ("the test accuracy's interval",
                 "[{:.4f}, {:.4f}]".format(*card["metrics"]["test_intervals"]["accuracy"])),
                ("the reference count", f">{card['evidence']['count']}<"),
                ("the training data's sha256", card["dataset"]["data_sha256"]),
                ("the source commit", card["provenance"]["source_commit"]),
                ("the synthetic-data banner", "Trained on synthetic data.")]:
            expect(text in dom, f"the rendered page shows {what} ({text})")

        # Every chart loads in the browser.
        _, instrumented = check_images(report_dir, work, "checked")
        dom, console = chromium(instrumented, "--dump-dom")
        images, broken = body_attributes(dom)
        expect(images == len(CHARTS) and broken == [] and console == [],
               f"all {len(CHARTS)} charts load (images {images}, broken {broken}, {console})")

        # The same check catches a missing chart.
        copy, instrumented = check_images(report_dir, work, "missing-roc")
        os.remove(os.path.join(copy, "roc.png"))
        dom, console = chromium(instrumented, "--dump-dom")
        images, broken = body_attributes(dom)
        expect(broken == ["roc.png"] and any("roc.png" in line for line in console),
               f"a deleted roc.png is reported broken (broken {broken}, console {console})")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
