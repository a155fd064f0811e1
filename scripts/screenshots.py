"""Screenshots of the demo desk for the README, into docs/screenshots/.

    make screenshots                    # or: .venv/bin/python scripts/screenshots.py

Builds a fresh demo desk in a temporary instance folder (``desk init`` and ``desk demo``,
as ``make run`` does, with a generated example logo as DESK_PROVIDER_LOGO), serves it on
a free port with ``flask run``, and photographs with Debian's Chromium (Playwright):

- the public report of the latest published half-year, 1280 px wide (its top, and its
  requests-over-time section) and on a 390 px wide phone;
- the customer portal (a notice, as a customer user of Contoso reads it);
- the staff case page of a demand in review (as counsel).

Each PNG is one screen, not the whole page, reduced to 256 colours with Pillow so the
repository stays small. Nothing outside the temporary folder and docs/screenshots/ is
touched; the server is stopped at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PROVIDER = "Example Provider"
COUNSEL = ("counsel@desk.example", "demo-counsel-pass")
CUSTOMER = ("portal@contoso.example", "demo-customer-pass")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def example_logo(path: Path) -> None:
    """A made-up monogram, so the shots show where a provider's logo goes."""
    from PIL import Image, ImageDraw, ImageFont

    def font(size):
        try:
            return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
        except OSError:
            return ImageFont.load_default(size)

    image = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 79, 79), 16, fill=(176, 141, 87, 255))
    draw.text((40, 41), "EP", font=font(38), fill="white", anchor="mm")
    image.save(path)


def desk(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def wait_for(url: str, server: subprocess.Popen) -> None:
    for _ in range(150):
        if server.poll() is not None:
            raise SystemExit(f"the desk stopped: {server.stderr.read() if server.stderr else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the desk did not answer at {url}")


def small_png(path: Path) -> int:
    """The screenshot in 256 colours (text and flat colours survive; a third of the bytes)."""
    from PIL import Image

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    reduced.save(path, format="PNG", optimize=True)
    return path.stat().st_size


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def shoot(base: str, chromium: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots: list[Path] = []

    def save(page, name: str, section: str | None = None) -> None:
        """One screen of ``page``, or ``section`` of it with a margin around."""
        path = out / f"{name}.png"
        clip = None
        if section:
            page.locator(section).scroll_into_view_if_needed()
            box = page.locator(section).bounding_box()
            clip = {"x": max(box["x"] - 16, 0), "y": max(box["y"] - 16, 0), "width": box["width"] + 32,
                    "height": box["height"] + 24}
        page.screenshot(path=str(path), clip=clip)
        shots.append(path)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                                           "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            page.goto(f"{base}/transparency/")
            latest = page.locator("table#reports tbody tr th a").first.get_attribute("href")
            page.goto(f"{base}{latest}")
            save(page, "report-desktop")
            save(page, "report-over-time", "section[aria-labelledby=rp-time]")
            page.set_viewport_size(PHONE)
            page.goto(f"{base}{latest}")
            save(page, "report-phone")
            context.close()

            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            sign_in(page, base, *CUSTOMER)
            page.goto(f"{base}/portal/")
            page.locator("main a[href^='/portal/notices/']").first.click()
            page.wait_for_load_state()
            save(page, "portal")
            context.close()

            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            sign_in(page, base, *COUNSEL)
            page.goto(f"{base}/desk/demands?status=in_review")
            page.locator("table a.ref").first.click()
            page.wait_for_load_state()
            save(page, "case")
            context.close()
        finally:
            browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go (default docs/screenshots)")
    parser.add_argument("--demands", type=int, default=2000, help="demo demands (default 2000, as make run)")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed: apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="desk-screenshots-") as tmp:
        logo = Path(tmp) / "logo.png"
        example_logo(logo)
        env = {key: value for key, value in os.environ.items() if not key.startswith("DESK_")}
        env.update(DESK_INSTANCE_PATH=str(Path(tmp) / "instance"), DESK_STAFF_2FA="optional",
                   DESK_PROVIDER_NAME=PROVIDER, DESK_PROVIDER_LOGO=str(logo),
                   DESK_BASE_URL=f"http://127.0.0.1:{port}")
        print("Building the demo desk …", flush=True)
        desk(env, "desk", "init")
        desk(env, "desk", "demo", "--demands", str(args.demands))
        server = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/transparency/", server)
            shots = shoot(base, chromium, args.out)
        finally:
            server.terminate()
            server.wait(timeout=10)
    for path in shots:
        size = small_png(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {size // 1024} KB")


if __name__ == "__main__":
    main()
