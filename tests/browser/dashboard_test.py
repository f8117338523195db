#!/usr/bin/env python3
"""The supervisors' dashboard in headless Chromium, against a running gateway.

A supervisor logs in; every number the page shows is compared with the API's
own answer for the same period: the cards with /api/v1/stats totals and the
red and yellow counts of /api/v1/deadlines, each day's bars with by_day, the
ranked units (order and rates) with by_unit, the lights' tickets, the hot
spots. Then a unit filter; a request taken in while the page is open shows up
by itself (the page refreshes every 2 s here, every minute by default); an
agent's token is refused. Screenshot: --artifacts/dashboard.png. Prints
"done" at the end.

Usage: dashboard_test.py --url URL --supervisor TOKEN --agent TOKEN --unit CODE --artifacts DIR
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402
import testlib  # noqa: E402
from testlib import api, check  # noqa: E402


def rate(v):
    return "—" if v is None else "%.2f%%" % (v * 100)


def board(b):
    """What the page shows, read from its DOM."""
    return b.eval("""(() => ({
      cards: Object.fromEntries([...document.querySelectorAll('#b-cards .card')].map(c => [c.dataset.k, c.dataset.v])),
      text: Object.fromEntries([...document.querySelectorAll('#b-cards .card')].map(c => [c.dataset.k, c.querySelector('.v').textContent])),
      days: [...document.querySelectorAll('#b-trend g.day')].map(g => [g.dataset.day, +g.dataset.accepted, +g.dataset.finished]),
      line: !!document.querySelector('#b-trend polyline.rate'),
      units: [...document.querySelectorAll('#b-units tbody tr')].map(r => [r.dataset.unit, r.querySelector('[data-k=completion_rate]').textContent]),
      lights: [...document.querySelectorAll('#b-lights tbody tr')].map(r => [r.dataset.ticket, r.dataset.light]),
      red: document.querySelector('#b-red').textContent, yellow: document.querySelector('#b-yellow').textContent,
      spikes: [...document.querySelectorAll('#b-spikes li[data-count]')].map(l => +l.dataset.count),
      clusters: [...document.querySelectorAll('#b-clusters li[data-size]')].map(l => +l.dataset.size),
      hotAt: document.querySelector('#b-hot-at').textContent,
      from: S.from, loaded: document.querySelector('#board').dataset.loaded }))()""")


def compare(o, b, unit=""):
    page = board(b)
    q = {"from": page["from"]}
    if unit:
        q["unit"] = unit
    s = api(o.url, o.supervisor, "GET", "/stats?" + urllib.parse.urlencode(q))
    lq = urllib.parse.urlencode(dict({"limit": 50}, **({"unit": unit} if unit else {})))
    d = api(o.url, o.supervisor, "GET", "/deadlines?" + lq)
    h = api(o.url, o.supervisor, "GET", "/hotspots?" + lq)
    t = s["totals"]
    for k in ("accepted", "finished", "completion_rate", "on_time_rate", "response_rate", "satisfaction_rate",
              "direct_resolution_rate"):
        shown = None if page["cards"][k] == "" else float(page["cards"][k])
        check("card %s = stats totals" % k, (shown, page["text"][k]),
              (t[k], rate(t[k]) if k.endswith("rate") else str(t[k])))
    check("red and yellow cards = deadlines", (page["cards"]["red"], page["cards"]["yellow"], page["red"], page["yellow"]),
          (str(d["red"]), str(d["yellow"]), "红灯 %d" % d["red"], "黄灯 %d" % d["yellow"]))
    check("a bar per day = by_day", page["days"], [[x["day"], x["accepted"], x["finished"]] for x in s["by_day"]])
    check("the completion rate drawn", page["line"], any(x["completion_rate"] is not None for x in s["by_day"]))
    units = sorted((u for u in s["by_unit"] if u["unit"]),
                   key=lambda u: (-(u["completion_rate"] if u["completion_rate"] is not None else -1), -u["dispatched"], u["unit"]))
    check("units ranked by completion rate", page["units"], [[u["unit"], rate(u["completion_rate"])] for u in units])
    check("the lights' tickets, in order", page["lights"], [[x["ticket"], x["light"]] for x in d["tickets"]])
    check("hot spots", (page["spikes"], page["clusters"]),
          ([x["count"] for x in h["spikes"]], [x["size"] for x in h["clusters"]]))
    check("when they were made shown", bool(re.fullmatch(r"\d\d:\d\d:\d\d 计算", page["hotAt"])), True)
    return page


def main():
    ap = argparse.ArgumentParser()
    for a in ("url", "supervisor", "agent", "unit", "artifacts"):
        ap.add_argument("--" + a, required=True)
    o = ap.parse_args()
    os.makedirs(o.artifacts, exist_ok=True)
    b = Browser(1366, 768)
    try:
        print("# an agent's token is refused")
        b.goto(o.url + "/console/dashboard.html?refresh=2")
        b.type("#token", o.agent)
        b.key("Enter", vk=13)
        b.wait("!document.querySelector('#alert').hidden", what="the refusal")
        check("the refusal shown", b.text("#alert"), "话务员令牌不能查看监测数据")
        check("the board stays hidden", b.visible("#board"), False)

        print("# a supervisor")
        b.type("#token", o.supervisor)
        b.key("Enter", vk=13)
        b.wait("document.querySelector('#board').dataset.loaded", timeout=30, what="the board")
        page = compare(o, b)
        check("30 days by default", len(page["days"]), 30)
        check("something to see", page["cards"]["accepted"] not in ("", "0") and page["red"] != "红灯 0"
              and len(page["spikes"]) > 0 and len(page["clusters"]) > 0, True)
        b.screenshot(os.path.join(o.artifacts, "dashboard.png"))

        print("# the last 7 days, one unit")
        b.eval("document.querySelector('#b-days').value = '7'; document.querySelector('#b-unit').value = %s;"
               "document.querySelector('#b-unit').dispatchEvent(new Event('change'))" % json.dumps(o.unit))
        b.wait("document.querySelectorAll('#b-trend g.day').length === 7 && "
               "document.querySelectorAll('#b-units tbody tr').length === 1", timeout=30, what="the filtered board")
        time.sleep(0.3)
        compare(o, b, o.unit)

        print("# it refreshes by itself")
        b.eval("document.querySelector('#b-days').value = '30'; document.querySelector('#b-unit').value = '';"
               "document.querySelector('#b-unit').dispatchEvent(new Event('change'))")
        b.wait("document.querySelectorAll('#b-trend g.day').length === 30", timeout=30, what="30 days again")
        before = int(b.eval("document.querySelector('#b-cards .card[data-k=accepted]').dataset.v"))
        api(o.url, o.agent, "POST", "/tickets",
            {"title": "井盖缺失", "body": "学府路口的井盖不见了，很危险，请尽快处理"})
        b.wait("+document.querySelector('#b-cards .card[data-k=accepted]').dataset.v === %d" % (before + 1),
               timeout=30, what="the new request counted")
        check("the new request counted without a reload", True, True)
        check("no script errors or CSP violations", b.problems(), [])
    finally:
        b.close()
    print("done")
    sys.exit(1 if testlib.failed else 0)


if __name__ == "__main__":
    main()
