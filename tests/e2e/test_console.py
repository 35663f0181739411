"""The web console in headless Chromium, against a real `legato serve`.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/install-browser`` installs
them; ``.ci/run`` calls it) and the ``selenium`` package. Without them the tests are
skipped on a workstation and fail in CI (``CI=true``), where they must run.

Set ``LEGATO_DOCS_SCREENSHOTS=1`` to refresh the screenshots in ``docs/images/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEGATO = ROOT / ".venv" / "bin" / "legato"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DOCS_IMAGES = ROOT / "docs" / "images"

FUNCTIONS = """
import os
import time

CONTROL = os.environ["LEGATO_CONSOLE_E2E_DIR"]


def slow(event, context):
    time.sleep(float(event.get("delay", 0)))
    return {"slept": event.get("delay", 0)}


def work(item, context):
    if item == "bad" and not os.path.exists(os.path.join(CONTROL, "fixed")):
        raise ValueError("bad item")
    return str(item).upper()


FUNCTIONS = {"slow": slow, "work": work}
"""

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
DEMO = {
    "Comment": "A Choice, a Parallel and a Map",
    "StartAt": "Classify",
    "States": {
        "Classify": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.count", "NumericGreaterThan": 0, "Next": "Fan out"}],
            "Default": "Nothing to do",
        },
        "Nothing to do": {"Type": "Succeed"},
        "Fan out": {
            "Type": "Parallel",
            "ResultPath": "$.parallel",
            "Next": "Each item",
            "Branches": [
                {
                    "StartAt": "Slow step",
                    "States": {"Slow step": {"Type": "Task", "Resource": FN + "slow", "End": True}},
                },
                {"StartAt": "Tag", "States": {"Tag": {"Type": "Pass", "Result": "tagged", "End": True}}},
            ],
        },
        "Each item": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ResultPath": "$.results",
            "Next": "Done",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Work",
                "States": {"Work": {"Type": "Task", "Resource": FN + "work", "End": True}},
            },
        },
        "Done": {"Type": "Succeed"},
    },
}
EVIL = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
ESCAPING = {
    "StartAt": "<b>bold</b>",
    "States": {
        "<b>bold</b>": {"Type": "Pass", "Result": {"echo": EVIL}, "ResultPath": "$.echo", "End": True}
    },
}
FILL = {  # the console's CSS colours (console.css), as getComputedStyle reports them
    "succeeded": "rgb(212, 237, 218)",
    "failed": "rgb(248, 215, 218)",
    "running": "rgb(207, 226, 255)",
    "not-reached": "rgb(241, 241, 241)",
}

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
except ImportError:  # in CI a missing Selenium is an error, not a skip
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("selenium is not installed (pip install -e '.[dev]')", allow_module_level=True)


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    message = (
        f"{', '.join(missing)} missing: run .ci/install-browser (apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A `legato serve` process and a boto3 client for it."""

    def __init__(self, url: str, control: Path) -> None:
        import boto3

        self.url = url
        self.control = control
        self.sfn = boto3.client(
            "stepfunctions",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="console",
            aws_secret_access_key="console",
        )

    def machine(self, name: str, definition: dict[str, Any]) -> str:
        arn: str = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/legato"
        )["stateMachineArn"]
        return arn

    def start(self, arn: str, value: dict[str, Any]) -> str:
        out: str = self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(value))["executionArn"]
        return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("console")
    (base / "functions.py").write_text(FUNCTIONS)
    port = _free_port()
    env = {**os.environ, "LEGATO_CONSOLE_E2E_DIR": str(base)}
    command = [str(LEGATO), "serve", "--port", str(port), "--data-dir", str(base / "data")]
    command += ["--functions", str(base / "functions.py"), "--clock", "system"]
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"legato serve did not start: {(base / 'server.log').read_text()[-2000:]}"
                    )
                time.sleep(0.05)
        yield Server(f"http://127.0.0.1:{port}", base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    _require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (StaleElementReferenceException, WebDriverException):
            last = None
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def _open(browser: WebDriver, url: str) -> None:
    browser.get(url)
    _wait("the page to load", lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "yes", (
        browser.page_source[:2000]
    )


def _status(browser: WebDriver) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, "#execution-status .badge").text)


def _node_fill(browser: WebDriver, state: str) -> str:
    script = (
        "const g = [...document.querySelectorAll('#graph [data-state]')]"
        ".find(n => n.getAttribute('data-state') === arguments[0]);"
        "const shape = g && g.querySelector(':scope > polygon, :scope > ellipse, :scope > path, :scope > rect');"
        "return shape ? getComputedStyle(shape).fill : null;"
    )
    return str(browser.execute_script(script, state))


def _node_statuses(browser: WebDriver) -> dict[str, str]:
    script = (
        "const out = {}; for (const g of document.querySelectorAll('#graph [data-state]'))"
        " out[g.getAttribute('data-state')] = g.getAttribute('data-status'); return out;"
    )
    found: dict[str, str] = browser.execute_script(script)
    return found


def _table(element: WebElement) -> list[list[str]]:
    return [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in element.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def _screenshot(browser: WebDriver, path: Path, docs_name: str | None = None) -> None:
    """Saves a screenshot and checks it is a real picture: decodes, right size, not blank."""
    from PIL import Image, ImageStat

    browser.save_screenshot(str(path))
    with Image.open(path) as opened:
        opened.load()
        image = opened.copy()
        assert opened.format == "PNG"
    assert image.width >= 800 and image.height >= 600, image.size
    gray = image.convert("L")
    assert ImageStat.Stat(gray).var[0] > 200, "the screenshot is (nearly) blank"
    assert len(gray.resize((160, 120)).getcolors(256) or ()) > 20, "the screenshot has almost no detail"
    if docs_name and os.environ.get("LEGATO_DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        small = image.convert("RGB").quantize(colors=64)
        small.save(DOCS_IMAGES / docs_name, optimize=True)


# -- the tests


def test_start_watch_and_finish(server: Server, browser: WebDriver, tmp_path: Path) -> None:
    arn = server.machine("console-demo", DEMO)
    _open(browser, server.url + "/")
    assert browser.current_url.endswith("/console/")
    browser.find_element(By.LINK_TEXT, "console-demo").click()
    _wait("the state machine page", lambda: browser.find_elements(By.ID, "start-form"))
    _wait("the graph", lambda: len(browser.find_elements(By.CSS_SELECTOR, "#graph [data-state]")) == 8)
    assert "Classify" in browser.find_element(By.CSS_SELECTOR, "pre.json").text  # the definition

    editor = browser.find_element(By.ID, "execution-input")
    button = browser.find_element(By.ID, "start-execution")
    editor.clear()
    editor.send_keys('{"count": 1, "items": [')
    _wait(
        "the invalid-JSON message",
        lambda: "Invalid JSON" in browser.find_element(By.ID, "input-message").text,
    )
    assert not button.is_enabled()
    editor.clear()
    editor.send_keys(json.dumps({"count": 1, "items": ["a", "b", "c"], "delay": 1.5}))
    _wait("the editor to accept the input", button.is_enabled)
    browser.find_element(By.ID, "execution-name").send_keys("watch-me")
    _screenshot(browser, tmp_path / "state-machine.png", "console-state-machine.png")
    button.click()

    _wait("the execution page", lambda: "/console/execution?" in browser.current_url)
    _wait(
        "the execution page to load",
        lambda: browser.find_elements(By.CSS_SELECTOR, "#execution-status .badge"),
    )
    assert browser.find_element(By.TAG_NAME, "h1").text == "watch-me"
    _wait("Slow step to run", lambda: _node_statuses(browser).get("Slow step") == "running")
    assert _status(browser) == "RUNNING"
    assert _node_fill(browser, "Slow step") == FILL["running"]
    assert _node_statuses(browser)["Classify"] == "succeeded"
    assert browser.find_element(By.ID, "stop-execution").is_enabled()
    _screenshot(browser, tmp_path / "running.png", "console-execution-running.png")

    _wait("the execution to succeed", lambda: _status(browser) == "SUCCEEDED", timeout=15)
    statuses = _node_statuses(browser)
    assert statuses == {
        "Classify": "succeeded",
        "Nothing to do": "not-reached",
        "Fan out": "succeeded",
        "Slow step": "succeeded",
        "Tag": "succeeded",
        "Each item": "succeeded",
        "Work": "succeeded",
        "Done": "succeeded",
    }
    assert _node_fill(browser, "Slow step") == FILL["succeeded"]
    assert _node_fill(browser, "Nothing to do") == FILL["not-reached"]
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-polling") == "no"
    assert not browser.find_element(By.ID, "stop-execution").is_enabled()

    rows = _table(browser.find_element(By.ID, "state-table"))
    by_state = {(r[1], r[4].replace("\n", "").replace(" ", "")): r for r in rows}
    assert [r[1] for r in rows].count("Work") == 3
    slow = next(r for r in rows if r[1] == "Slow step")
    assert slow[3] == "succeeded" and '"slept": 1.5' in slow[5]
    assert ("Work", '"b"') in by_state and by_state[("Work", '"b"')][5] == '"B"'
    events = [r[1] for r in _table(browser.find_element(By.ID, "event-table"))]
    assert events[0] == "ExecutionStarted" and events[-1] == "ExecutionSucceeded"
    progress = _table(browser.find_element(By.ID, "map-progress-table"))
    assert progress[0][0] == "Each item" and progress[0][1] == "3" and progress[0][3] == "3"
    assert '"B"' in browser.find_element(By.ID, "execution-output-view").text
    _screenshot(browser, tmp_path / "succeeded.png", "console-execution.png")

    # The executions list, filtered by status and by name.
    failed = server.start(arn, {"count": 1, "items": ["bad"], "delay": 0})
    server.sfn.get_execution_history(executionArn=failed)
    _open(browser, server.url + "/console/executions?arn=" + arn)
    names = lambda: [r[0] for r in _table(browser.find_element(By.ID, "execution-list"))]  # noqa: E731
    _wait("two executions", lambda: len(names()) == 2)
    browser.find_element(By.ID, "filter-name").send_keys("watch")
    browser.find_element(By.CSS_SELECTOR, "#filters button").click()
    _wait("the name filter", lambda: names() == ["watch-me"])
    _screenshot(browser, tmp_path / "executions.png", "console-executions.png")


def test_stop_and_redrive(server: Server, browser: WebDriver) -> None:
    arn = server.machine("console-faults", DEMO)
    failing = server.start(arn, {"count": 1, "items": ["a", "bad"], "delay": 0})
    _open(browser, server.url + "/console/execution?arn=" + failing)
    _wait("the execution to fail", lambda: _status(browser) == "FAILED")
    assert _node_statuses(browser)["Work"] == "failed"
    assert _node_fill(browser, "Work") == FILL["failed"]
    assert "ValueError" in browser.find_element(By.ID, "execution-error").text
    rows = _table(browser.find_element(By.ID, "state-table"))
    assert any(r[1] == "Work" and r[3] == "failed" and "ValueError" in r[7] for r in rows)
    stop, redrive = (
        browser.find_element(By.ID, "stop-execution"),
        browser.find_element(By.ID, "redrive-execution"),
    )
    assert not stop.is_enabled() and redrive.is_enabled()

    (server.control / "fixed").write_text("")
    try:
        redrive.click()
        _wait("the redriven execution to succeed", lambda: _status(browser) == "SUCCEEDED")
    finally:
        (server.control / "fixed").unlink()
    assert _node_statuses(browser)["Work"] == "succeeded"
    assert "Redrive started." in browser.find_element(By.ID, "action-message").text

    slow = server.start(arn, {"count": 1, "items": [], "delay": 3})
    _open(browser, server.url + "/console/execution?arn=" + slow)
    _wait("the execution to run", lambda: _node_statuses(browser).get("Slow step") == "running")
    browser.find_element(By.ID, "stop-execution").click()
    _wait("the execution to stop", lambda: _status(browser) == "ABORTED")
    assert server.sfn.describe_execution(executionArn=slow)["status"] == "ABORTED"
    assert browser.find_element(By.ID, "redrive-execution").is_enabled()


def test_everything_displayed_is_escaped(server: Server, browser: WebDriver) -> None:
    arn = server.machine("console-escaping", ESCAPING)
    done = server.start(arn, {"html": EVIL})
    _open(browser, server.url + "/console/execution?arn=" + done)
    _wait("the execution to end", lambda: _status(browser) == "SUCCEEDED")
    assert EVIL.replace('"', '\\"') in browser.find_element(By.ID, "execution-input-view").text
    assert "<b>bold</b>" in browser.find_element(By.ID, "state-table").text
    assert browser.find_elements(By.CSS_SELECTOR, "#main img, #main script, #main b") == []
    assert browser.title != "pwned" and "pwned" not in browser.execute_script("return document.title")
    assert _node_statuses(browser) == {"<b>bold</b>": "succeeded"}
    # The Content-Security-Policy forbids inline scripts even if one slipped through.
    assert browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.body.appendChild(s); return window.__ran === undefined;"
    )
    _open(browser, server.url + "/console/state-machine?arn=" + arn)
    assert browser.find_elements(By.CSS_SELECTOR, "#main img, #main script, #main b") == []
    assert "<b>bold</b>" in browser.find_element(By.CSS_SELECTOR, "pre.json").text


def test_state_machines_list(server: Server, browser: WebDriver, tmp_path: Path) -> None:
    server.machine("console-list", DEMO)
    _open(browser, server.url + "/console/")
    names = [r[0] for r in _table(browser.find_element(By.ID, "state-machines"))]
    assert "console-list" in names
    _screenshot(browser, tmp_path / "list.png", "console-state-machines.png")
