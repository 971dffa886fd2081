"""
The chat page in a real browser: headless Chromium driven by Selenium, against the real
daemon, with two browser sessions and a raw line client in one room.

Debian's C{chromium} and C{chromium-driver} run it, and nothing is downloaded at run time
(C{SE_OFFLINE}); outside CI, without them, these tests are skipped and say how to install
them.  Every wait is bounded (L{WebDriverWait}); nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon import ROOT, TIMEOUT, Daemon, LineSocket, joinAs, startDaemon

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None
)

pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and not os.environ.get("CI"),
    reason="needs Chromium and its driver: sudo apt-get install chromium chromium-driver",
)

if CHROMIUM is not None and CHROMEDRIVER is not None or os.environ.get("CI"):
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

XSS = "<img src=x onerror=alert(1)>"


class Page:
    """
    One browser session on the chat page.
    """

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        self.url = url
        driver.get(url)
        self.waitFor(lambda: "Connected as" in self.status())

    def find(self, selector: str):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def waitFor(self, condition, message: str = "") -> object:
        # The page redraws its lists: an element found may be gone a moment later.
        return WebDriverWait(
            self.driver, TIMEOUT, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda _: condition(), message)

    def texts(self, selector: str) -> list[str]:
        """
        The text of every element C{selector} matches, read at once, in the page.
        """
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)", selector
        )

    def status(self) -> str:
        return self.find("#status").text

    def type(self, text: str) -> None:
        box = self.find("#input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def lines(self) -> list[str]:
        return self.texts("#log li")

    def waitForLine(self, text: str) -> str:
        def found():
            return next((line for line in self.lines() if text in line), None)

        return self.waitFor(found, f"no line with {text!r} in {self.lines()}")  # type: ignore[return-value]

    def members(self) -> list[str]:
        return self.texts("#members li")

    def consoleErrors(self) -> list[dict]:
        return [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


def newDriver() -> webdriver.Chrome:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1100,720",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--force-prefers-reduced-motion",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


class Chat:
    """
    The daemon, restartable on the same ports, and the two browser sessions.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.daemon = self.start("tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1")
        ports = self.daemon.ports
        self.linePort, self.webPort = ports[0], ports[1]
        self.url = f"http://127.0.0.1:{self.webPort}/"
        self.drivers = [newDriver(), newDriver()]

    def start(self, line: str, web: str) -> Daemon:
        return startDaemon(self.directory, "--port", line, "--web", web, ports=2)

    def restart(self) -> None:
        assert self.daemon.terminate() == 0
        self.logs = self.daemon.log()
        self.daemon = self.start(
            f"tcp:{self.linePort}:interface=127.0.0.1", f"tcp:{self.webPort}:interface=127.0.0.1"
        )

    def close(self) -> None:
        for driver in self.drivers:
            driver.quit()
        self.daemon.stop()


@pytest.fixture(scope="module")
def chat(tmp_path_factory) -> Iterator[Chat]:
    chat = Chat(tmp_path_factory.mktemp("web"))
    try:
        yield chat
    finally:
        chat.close()
    assert "Traceback" not in chat.daemon.log()


@pytest.fixture(scope="module")
def pages(chat: Chat) -> tuple[Page, Page, LineSocket]:
    alice = Page(chat.drivers[0], chat.url)
    alice.type("/nick alice")
    alice.waitFor(lambda: alice.find("#prompt").text.startswith("alice"))
    bob = Page(chat.drivers[1], chat.url)
    bob.type("/nick bob")
    bob.waitFor(lambda: bob.find("#prompt").text.startswith("bob"))
    carol = joinAs(chat.linePort, "carol")
    return alice, bob, carol


def test_talk(pages) -> None:
    """
    Two browsers and a line client talk in one room; the member lists follow.
    """
    alice, bob, carol = pages
    bob.waitFor(lambda: bob.members() == ["alice", "bob", "carol"], "bob's member list")
    alice.type("hello from the browser")
    assert carol.readUntil("hello from the browser")[-1] == "<alice> hello from the browser"
    line = bob.waitForLine("hello from the browser")
    assert "alice: hello from the browser" in line
    carol.send("hi browsers, see https://example.org/page?a=1.")
    line = alice.waitForLine("hi browsers")
    [link] = alice.all("#log a")
    assert link.get_attribute("href") == "https://example.org/page?a=1"
    assert link.get_attribute("rel") == "noopener noreferrer"
    alice.type("/me waves")
    assert carol.readUntil("waves")[-1] == "* alice waves"
    assert "* alice waves" in bob.waitForLine("waves")
    assert alice.find("#title").text == "#lobby"


def test_untrustedTextStaysText(pages) -> None:
    """
    Markup in a message is shown as the characters it is, and never runs.
    """
    alice, bob, carol = pages
    carol.send(XSS)
    assert XSS in alice.waitForLine("onerror")
    assert XSS in bob.waitForLine("onerror")
    assert not alice.all("#log img") and not bob.all("#log img")
    alice.type(XSS)
    assert carol.readUntil("<alice> <img")[-1] == f"<alice> {XSS}"
    assert not bob.driver.execute_script("return document.querySelectorAll('#log img').length")


def test_privateMessages(pages) -> None:
    """
    A private message has a view of its own, with an unread count until it is shown.
    """
    alice, bob, carol = pages
    alice.type("/msg bob just between us")
    alice.waitFor(lambda: alice.find("#title").text == "Private: bob")
    alice.waitForLine("just between us")
    bob.waitFor(lambda: bob.texts("#privates button") == ["alice\n1"], "unread count")
    assert not any("just between us" in line for line in bob.lines())
    bob.find("#privates button").click()
    assert "alice: just between us" in bob.waitForLine("just between us")
    bob.type("ok")
    assert "bob: ok" in alice.waitForLine("bob: ok")
    carol.send("/msg alice from the line")
    alice.waitFor(lambda: any("carol" in text for text in alice.texts("#privates button")))
    alice.find("#rooms button").click()
    alice.waitFor(lambda: alice.find("#title").text == "#lobby")


def test_nickChange(pages) -> None:
    alice, bob, carol = pages
    bob.find("#rooms button").click()
    bob.type("/nick robert")
    assert "bob is now known as robert" in carol.readUntil("robert")[-1]
    alice.waitForLine("bob is now known as robert")
    alice.waitFor(lambda: alice.members() == ["alice", "carol", "robert"], "alice's member list")
    assert bob.driver.execute_script("return localStorage.getItem('chat.nick')") == "robert"
    alice.type("/topic plans for the week")
    bob.waitFor(lambda: bob.find("#topic").text == "plans for the week")
    # The README's picture, taken when asked for (CHAT_SCREENSHOT=1), so that a test run
    # leaves the checkout as it was.
    if os.environ.get("CHAT_SCREENSHOT"):
        alice.driver.save_screenshot(str(ROOT / "docs" / "web.png"))


def test_inputHistory(pages) -> None:
    alice, bob, carol = pages
    box = alice.find("#input")
    box.send_keys(Keys.ARROW_UP)
    assert box.get_attribute("value") == "/topic plans for the week"
    box.send_keys(Keys.ARROW_UP)
    assert box.get_attribute("value") == "/msg bob just between us"
    box.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN)
    assert box.get_attribute("value") == ""


def test_reconnectAfterRestart(chat, pages) -> None:
    """
    When the server restarts, each page says so, reconnects with backoff and takes back its
    nick and rooms.
    """
    alice, bob, carol = pages
    alice.type("/join #dev")
    alice.waitFor(lambda: alice.find("#title").text == "#dev")
    carol.close()
    chat.restart()
    for page, nick in ((alice, "alice"), (bob, "robert")):
        page.waitForLine("Connection lost; reconnecting")
        page.waitFor(lambda page=page: "Reconnected as" in page.status(), "no reconnection")
        page.waitFor(lambda page=page, nick=nick: page.find("#prompt").text.startswith(nick))
    dave = joinAs(chat.linePort, "dave")
    dave.send("/join #dev")
    alice.waitFor(lambda: alice.members() == ["alice", "dave"], "alice's rooms restored")
    dave.send("back again")
    alice.waitForLine("back again")
    dave.close()


def test_nickRememberedOnReload(pages) -> None:
    alice, bob, carol = pages
    bob.driver.refresh()
    bob.waitFor(lambda: bob.find("#prompt").text.startswith("robert"), "nick from localStorage")


def test_phoneSizedScreen(pages) -> None:
    """
    On a narrow screen the lists fold behind a button, and the input line stays in reach.
    """
    alice, bob, carol = pages
    bob.driver.set_window_size(390, 800)
    try:
        menu = bob.find("#menu")
        bob.waitFor(lambda: menu.is_displayed() and not bob.find("#side").is_displayed())
        assert bob.find("#input").is_displayed()
        menu.click()
        bob.waitFor(lambda: bob.find("#side").is_displayed() and bob.find("#members").is_displayed())
        assert menu.get_attribute("aria-expanded") == "true"
        bob.find("#rooms button").click()
        bob.waitFor(lambda: not bob.find("#side").is_displayed())
    finally:
        bob.driver.set_window_size(1100, 720)


def test_awayAndLoginForm(chat, pages) -> None:
    """
    A line user's C{/away} marks it in the member list; the login form takes a registered
    nick, and keeps no password in the form.
    """
    alice, bob, carol = pages
    erin = joinAs(chat.linePort, "erin")
    erin.send("/register secret123")
    erin.readUntil("erin is registered")
    erin.send("/away lunch")
    bob.find("#rooms button").click()
    bob.waitFor(lambda: any(text.startswith("erin") and "away" in text for text in bob.members()), "erin away")
    erin.send("/quit")
    erin.close()
    bob.find("#login-nick").send_keys("erin")
    bob.find("#login-password").send_keys("secret123", Keys.ENTER)
    bob.waitFor(lambda: bob.find("#prompt").text.startswith("erin"), "logged in as erin")
    assert bob.find("#account").text == "Logged in as erin"
    assert not bob.find("#login").is_displayed()
    assert bob.find("#login-password").get_attribute("value") == ""


def test_noConsoleErrors(pages) -> None:
    alice, bob, carol = pages
    for page in (alice, bob):
        errors = [
            entry for entry in page.consoleErrors()
            # The restart's refused reconnections are the network's, not the page's.
            if "ERR_CONNECTION_REFUSED" not in entry["message"] and "WebSocket connection" not in entry["message"]
        ]
        assert errors == []
