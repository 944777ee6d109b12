"""The dashboard's page times in headless Chromium (Playwright, the system browser), for
benches/web.rs. Arguments: the server's URL, the Chromium binary, the repository, an issue id to
comment on. Prints one JSON object."""

import json
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def median(xs):
    xs = sorted(xs)
    return round(xs[len(xs) // 2], 1)


def main(url, chromium, repo, issue):
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for name, path in [("board", "/"), ("graph_200", "/graph?limit=200")]:
            page.goto(url + path, wait_until="load")
            times = []
            for _ in range(7):
                t0 = time.perf_counter()
                page.goto(url + path, wait_until="load")
                times.append((time.perf_counter() - t0) * 1000)
            out[name + "_ms"] = median(times)
        out["graph_nodes"] = page.locator("svg.grit-graph a.node").count()
        page.goto(url + "/issue/" + issue, wait_until="load")
        lags = []
        for i in range(50):
            marker = "write %d %d" % (i, time.time_ns())
            t0 = time.perf_counter()
            subprocess.run(["git", "issue", "comment", issue, "--body", marker], cwd=repo, check=True,
                           capture_output=True)
            page.wait_for_selector(f"text={marker}", timeout=10000)
            lags.append((time.perf_counter() - t0) * 1000)
        lags.sort()
        out["write_p50_ms"] = round(lags[len(lags) // 2], 1)
        out["write_p99_ms"] = round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 1)
        browser.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:5])
