"""A real server process and a real browser for the web tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("ROLEPLAY_ARTIFACTS", ROOT / "artifacts" / "screenshots"))
CHROMIUM = "/usr/bin/chromium"
ROLEPLAY = Path(sys.executable).parent / "roleplay"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``roleplay serve`` in its own process, with its own data folder."""

    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROLEPLAY_", "OPENAI_"))}
        return {**env, "ROLEPLAY_HOME": str(self.home), **self.extra_env}

    def start(self) -> Server:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(ROLEPLAY), "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start: {(self.home / 'server.log').read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing; like pulling the plug."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [str(ROLEPLAY), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def invite(self, mode: str = "practice", **options: Any) -> str:
        args = ["invite", "--persona", "damaged-laptop", "--mode", mode, "--base-url", self.url]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        return self.cli(*args)


def browser_or_skip() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(
                "Debian's chromium is missing; scripts/ensure-test-services "
                "should have installed it"
            )
        pytest.skip("chromium not installed: run scripts/ensure-test-services")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def bot_count(page: Any) -> int:
    return int(page.locator('#chat [data-testid="bot"]').count())


def say(page: Any, text: str, *, expect_reply: bool = True) -> None:
    """Type a message, send it, and wait for the customer's reply to finish."""
    before = bot_count(page)
    page.fill("#message textarea", text)
    page.click("#send")
    if expect_reply:
        page.wait_for_function(
            f"document.querySelectorAll('#chat [data-testid=\"bot\"]').length > {before}",
            timeout=20000,
        )
    settled(page)


def settled(page: Any) -> None:
    """Wait until no Gradio event is running: its outputs carry ``pending`` while queued and
    ``generating`` while streaming, and lose both when the event's last update has landed."""
    page.wait_for_function(
        "document.querySelectorAll('.generating, .pending').length === 0", timeout=20000
    )


def open_invite(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#briefing h2", timeout=30000)


def sign_in(page: Any, server: Server, name: str, password: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#signin")
