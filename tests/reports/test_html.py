"""The HTML reports in a real headless browser (Debian's chromium, no network):
no console message, no request from the page, the key figures and the Chinese
labels in the rendered text, and a screenshot kept as a test artifact.

A missing chromium skips these tests on a developer's machine and fails them in
CI (``.ci/run`` installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from claims.reports import report_day
from tests.conftest import in_ci
from tests.payouts.test_pipeline import run
from tests.reports.helpers import land_day

DAY = date(2025, 9, 12)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (apt-get install chromium)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@dataclass
class PageVisit:
    text: str  # the rendered DOM
    console: list[str]  # every console message of the page
    requests: list[str]  # every URL the page asked for (not the browser's own housekeeping)


def visit(page: Path, workdir: Path, screenshot: Path | None = None) -> PageVisit:
    """Open a page in headless chromium with every network path closed (a dead
    proxy on the loopback, no name resolution); read its DOM, its console and
    its requests (the browser's net log)."""
    workdir.mkdir(parents=True, exist_ok=True)
    net_log = workdir / "net.json"
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={workdir / 'profile'}", "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]
    url = page.resolve().as_uri()
    done = subprocess.run([*base, f"--log-net-log={net_log}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    log = json.loads(net_log.read_text("utf-8") or "{}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    starts = [event.get("params", {}) for event in log["events"]
              if names.get(event["type"]) == "URL_REQUEST_START_JOB"]
    requests = sorted({params["url"] for params in starts  # the page's own, not the browser's housekeeping
                       if "url" in params and params.get("initiator") != "not an origin"})
    if screenshot is not None:
        shot = subprocess.run([*base, "--window-size=1280,2600", "--hide-scrollbars", f"--screenshot={screenshot}",
                               url], capture_output=True, text=True, timeout=120)
        assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    return PageVisit(done.stdout, console, requests)


def visible_text(html: str) -> str:
    body = re.sub(r"<(style|svg)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_the_checks_see_a_request_and_a_console_message(tmp_path: Path) -> None:
    """The browser checks can fail: a page that asks for an image and logs an error."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><p>坏 bad</p><img src="http://example.invalid/x.png">'
                    '<script>console.error("planted")</script></body></html>', encoding="utf-8")
    seen = visit(page, tmp_path / "browser")
    assert seen.requests == ["http://example.invalid/x.png"]
    assert any("planted" in line for line in seen.console)


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_the_reports_render_in_a_browser_with_their_figures_and_no_request(ledger_env: Path) -> None:
    land_day(ledger_env, DAY, "didi", "110000", list(range(1, 7)), claims=list(range(1, 7)))
    run(DAY)
    report_day(DAY)
    folder = ledger_env / "outbox" / "reports" / f"date={DAY.isoformat()}"
    artifacts = ledger_env / "screenshots"
    artifacts.mkdir()
    expectations = {
        # page: figures and labels that must be in the rendered text
        "province=110000.html": ["北京市 Beijing", "参保人数", "Insured workers", "支缴率", "Payout ratio",
                                 "快赔占比", "¥2,700.00", "¥0.06", "事故率"],
        "index.html": ["全国概览", "National overview", "平衡 ties", "¥2,700.00", "北京市 Beijing"],
        "finance.html": ["支付对账平衡 Payouts tie out", "¥2,700.00", "支付异常", "无异常", "保费对账"],
    }
    for name, wanted in expectations.items():
        seen = visit(folder / name, ledger_env / "browser" / name, artifacts / f"{name}.png")
        assert seen.console == [], (name, seen.console)
        assert seen.requests == [], (name, seen.requests)
        text = visible_text(seen.text)
        missing = [item for item in wanted if item not in text]
        assert not missing, (name, missing)
        assert "<svg" in seen.text or name == "finance.html"  # the charts are inline SVG
    print(f"screenshots: {artifacts}")
