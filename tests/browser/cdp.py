"""A small driver for headless Chromium over the DevTools protocol.

Chromium is started with --remote-debugging-pipe: commands go in on its
file descriptor 3 and answers come out on 4, each a JSON text ended by a NUL
byte. No websocket, no third-party module.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time


class CdpError(Exception):
    pass


class Browser:
    def __init__(self, width=1366, height=768, binary=None):
        self.binary = binary or shutil.which("chromium") or shutil.which("chromium-browser")
        if not self.binary:
            raise CdpError("chromium not found (Debian package 'chromium')")
        self.profile = tempfile.mkdtemp(prefix="hl-chromium.")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        args = [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
                "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (width, height), "--lang=zh-CN", "about:blank"]
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.seq = 0
        self.events = []
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # -------------------------------------------------------- the pipe

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise CdpError("no answer from chromium")
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise CdpError("chromium exited")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=30):
        self.seq += 1
        msg = {"id": self.seq, "method": method, "params": params or {}}
        if session is None and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.seq:
                if "error" in m:
                    raise CdpError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -------------------------------------------------------- the page

    def goto(self, url):
        self.call("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete'")

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in r:
            raise CdpError("%s: %s" % (expr[:80], r["exceptionDetails"].get("exception", {}).get("description")))
        return r["result"].get("value")

    def wait(self, expr, timeout=10, what=None):
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CdpError("timed out waiting for %s" % (what or expr))
            time.sleep(0.05)

    def click(self, selector):
        self.eval("document.querySelector(%s).click()" % json.dumps(selector))

    def type(self, selector, text):
        """Focus a field and type into it as a keyboard would (input events)."""
        self.eval("(e => { e.focus(); e.value = ''; })(document.querySelector(%s))" % json.dumps(selector))
        self.call("Input.insertText", {"text": text})

    def key(self, key, code=None, vk=0, ctrl=False, alt=False, shift=False):
        mods = (1 if alt else 0) | (2 if ctrl else 0) | (8 if shift else 0)
        base = {"key": key, "code": code or key, "windowsVirtualKeyCode": vk, "modifiers": mods}
        if key == "Enter" and not mods:
            # Only a key with its text submits a form.
            self.call("Input.dispatchKeyEvent", dict(base, type="keyDown", text="\r"))
        else:
            self.call("Input.dispatchKeyEvent", dict(base, type="rawKeyDown"))
        self.call("Input.dispatchKeyEvent", dict(base, type="keyUp"))

    def text(self, selector):
        return self.eval("(e => e ? e.textContent : null)(document.querySelector(%s))" % json.dumps(selector))

    def visible(self, selector):
        return self.eval("(e => !!e && !e.closest('[hidden]') && e.getClientRects().length > 0)"
                         "(document.querySelector(%s))" % json.dumps(selector))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def problems(self):
        """Script errors and console errors (a CSP violation is one) so far."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("exception", {}).get("description", "?"))
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error" and p["entry"].get("source") != "network":
                out.append("console: " + p["entry"]["text"])
        return out
