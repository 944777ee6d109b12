"""The dashboard in a real headless Chromium, driven by Playwright for Python with the system
browser. Arguments: the server's URL, the Chromium binary, the screenshot directory and the
repository (the CLI writes there while the page is open). Prints what it measured."""

import json
import os
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def main(url, chromium, shots, repo):
    dialogs = []
    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # The board renders every open issue in its columns.
        start = time.perf_counter()
        page.goto(url + "/", wait_until="load")
        seen["board_load_ms"] = round((time.perf_counter() - start) * 1000, 1)
        cards = page.locator(".card").count()
        ready = page.locator(".column.ready .card").count()
        blocked = page.locator(".column.blocked .card").count()
        assert cards >= 200, f"{cards} cards"
        assert blocked >= 15, f"{blocked} blocked cards"
        # The hostile title is text, and no dialog opened.
        assert page.get_by_text("<img src=x onerror=alert(1)>").count() == 1
        page.screenshot(path=os.path.join(shots, "board.png"))
        seen["cards"] = cards
        seen["ready"] = ready

        # Filtering with a query.
        page.fill("#q", "label:area1")
        page.click("form.query button")
        page.wait_for_load_state("load")
        filtered = page.locator(".card").all_inner_texts()
        assert filtered and len(filtered) < cards, len(filtered)
        assert all("area1" in c for c in filtered), filtered[:3]

        # Claiming from the issue page, seen by the CLI.
        page.goto(url + "/?q=" + "Task 7", wait_until="load")
        page.locator(".column.ready .card a").first.click()
        page.wait_for_load_state("load")
        issue_url = page.url
        issue_id = issue_url.rsplit("/", 1)[1]
        page.click("button.claim")
        page.wait_for_selector("button.unclaim", timeout=10000)
        shown = json.loads(git(repo, "issue", "show", issue_id, "--json"))
        assert shown["claim"], shown

        # A comment from the CLI appears without a reload, and how long it took.
        marker = "from the terminal %d" % time.time_ns()
        page.evaluate("window.__loaded = true")
        t0 = time.perf_counter()
        git(repo, "issue", "comment", issue_id, "--body", marker)
        page.wait_for_selector(f"text={marker}", timeout=5000)
        seen["live_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        assert page.evaluate("window.__loaded") is True, "the page reloaded"
        page.screenshot(path=os.path.join(shots, "issue.png"), full_page=True)

        # Many CLI writes: each shows on the open page; the slowest and the 99th percentile.
        lags = []
        for i in range(int(os.environ.get("GRIT_WEB_WRITES", "20"))):
            marker = "write %d %d" % (i, time.time_ns())
            t0 = time.perf_counter()
            git(repo, "issue", "comment", issue_id, "--body", marker)
            page.wait_for_selector(f"text={marker}", timeout=5000)
            lags.append((time.perf_counter() - t0) * 1000)
        lags.sort()
        seen["writes"] = len(lags)
        seen["write_p50_ms"] = round(lags[len(lags) // 2], 1)
        seen["write_p99_ms"] = round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 1)

        # The graph draws an SVG whose nodes are the query's issues.
        start = time.perf_counter()
        page.goto(url + "/graph?q=is:open", wait_until="load")
        seen["graph_load_ms"] = round((time.perf_counter() - start) * 1000, 1)
        nodes = page.locator("svg.grit-graph a.node").count()
        want = len(json.loads(git(repo, "issue", "list", "-S", "is:open", "--limit", "0", "--json")))
        assert nodes == want, (nodes, want)
        seen["graph_nodes"] = nodes
        page.screenshot(path=os.path.join(shots, "graph.png"))
        page.locator("svg.grit-graph a.node").first.click()
        page.wait_for_load_state("load")
        assert "/issue/" in page.url, page.url

        page.goto(url + "/agents", wait_until="load")
        page.screenshot(path=os.path.join(shots, "agents.png"))
        page.goto(url + "/sandboxes", wait_until="load")
        page.screenshot(path=os.path.join(shots, "sandboxes.png"))
        browser.close()
    assert not dialogs, dialogs
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:5])
