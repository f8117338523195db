#!/usr/bin/env python3
"""The agents' console in headless Chromium, against a running gateway.

An agent logs in, takes a call (the preview shows category, unit, deadline
and a similar open ticket as the text is typed), submits it with the
keyboard and finds it in the queue; closes another at first contact; sees
errors for bad input. The office then reviews the reply a unit gave, records
the callback and closes the ticket, all from the console. Screenshots go to
--artifacts. Prints "ticket=", "direct=" lines for the shell to check.

Usage: console_test.py --url URL --agent TOKEN --office TOKEN --unit TOKEN --first TICKET --artifacts DIR
(--first: an open ticket like the call the test takes; --unit: a token of its unit)
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CdpError  # noqa: E402
import testlib  # noqa: E402
from testlib import api, check  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for a in ("url", "agent", "office", "unit", "first", "artifacts"):
        ap.add_argument("--" + a, required=True)
    o = ap.parse_args()
    os.makedirs(o.artifacts, exist_ok=True)
    shot = lambda name: b.screenshot(os.path.join(o.artifacts, name))  # noqa: E731

    # An open ticket the new call resembles.
    text = "小区楼下的供水管道破裂，大量自来水外流，已经持续两个小时，请尽快派人维修。"
    first = api(o.url, o.agent, "GET", "/tickets/" + o.first)

    b = Browser(1366, 768)
    try:
        print("# log in")
        b.goto(o.url + "/console/")
        check("the login form first", b.visible("#token"), True)
        b.type("#token", "hlt_" + "0" * 40)
        b.key("Enter", vk=13)
        b.wait("!document.getElementById('alert').hidden", what="an error for a bad token")
        check("a bad token: an error in Chinese", "令牌无效" in b.text("#alert"), True)
        b.type("#token", o.agent)
        b.key("Enter", vk=13)
        b.wait("!document.getElementById('intake').hidden", what="the intake form")
        check("the agent's name and role", "话务员" in b.text("#who"), True)

        print("# take a call: the preview updates as the agent types")
        b.type("#f-name", "张三")
        b.type("#f-phone", "13912345678")
        b.type("#f-title", "供水管道破裂")
        b.type("#f-body", text.replace("两个小时", "三个小时"))
        b.wait("document.getElementById('p-unit').textContent.length > 0", what="the preview")
        b.wait("document.querySelectorAll('#similar a').length > 0", what="similar tickets")
        check("preview: the category", b.text("#p-category").split("（")[0], first["category_name"])
        check("preview: the unit", b.text("#p-unit"), first["unit_name"])
        check("preview: a reply deadline", len(b.text("#p-reply")), 16)
        check("preview: the similar open ticket", b.text("#similar a"), first["ticket"])
        check("fits 1366x768: no horizontal scrolling", b.eval("document.documentElement.scrollWidth <= 1366"), True)
        check("fits 1366x768: the submit button on screen",
              b.eval("document.getElementById('submit').getBoundingClientRect().bottom <= 768"), True)
        shot("console-intake.png")
        b.key("Enter", vk=13, ctrl=True)  # Ctrl+Enter submits
        ticket = b.wait("(e => e && e.textContent)(document.getElementById('result-ticket'))", what="the new ticket")
        print("ticket=%s" % ticket)
        check("the form is cleared for the next call", b.eval("document.getElementById('f-body').value"), "")

        print("# the queue shows it")
        b.key("2", code="Digit2", vk=50, alt=True)
        b.wait("!!document.querySelector('#queue-table tr[data-ticket=\"%s\"]')" % ticket, what="the ticket in the queue")
        check("in the queue", b.eval("document.querySelector('#queue-table tr[data-ticket=\"%s\"] td').textContent" % ticket),
              ticket)
        shot("console-queue.png")

        print("# close one at first contact (直接办结)")
        b.key("1", code="Digit1", vk=49, alt=True)
        b.type("#f-body", "请问办理居住证需要准备哪些材料？")
        b.eval("document.getElementById('f-type').value = 'consultation'")
        b.key("d", code="KeyD", vk=68, alt=True)
        b.wait("!document.getElementById('direct').hidden", what="the answer box")
        b.type("#direct-answer", "已告知：身份证、居住登记凭证、近期照片，可在街道服务中心办理。")
        b.click("#direct-submit")
        b.wait("(e => !e.hidden && e.textContent.includes('已直接办结'))(document.getElementById('result'))",
               what="the direct closure")
        direct = b.text("#result-ticket")
        print("direct=%s" % direct)

        print("# a knowledge-base answer adopted at first contact")
        b.type("#f-body", "家里从早上开始停水了，自来水什么时候恢复供水？")
        b.wait("document.querySelectorAll('#kb-suggest button').length > 0", what="knowledge-base suggestions")
        check("the best suggestion", b.text("#kb-suggest strong"), "停水了什么时候恢复供水")
        b.click("#kb-suggest button")
        check("adopting fills the answer", "恢复供水" in b.eval("document.getElementById('direct-answer').value"), True)
        check("... and names the entry cited", b.visible("#direct-kb"), True)
        b.click("#direct-submit")
        b.wait("(e => !e.hidden && e.textContent.includes('已直接办结') && "
               "document.getElementById('result-ticket').textContent !== %s)(document.getElementById('result'))"
               % json.dumps(direct), what="the direct closure from the knowledge base")
        print("kbdirect=%s" % b.text("#result-ticket"))

        print("# the knowledge base page")
        b.key("4", code="Digit4", vk=52, alt=True)
        b.wait("!document.getElementById('kb').hidden", what="the knowledge base page")
        check("agents see no reports", b.visible("#k-eff"), False)
        b.type("#k-q", "停水")
        b.key("Enter", vk=13)
        b.wait("document.querySelectorAll('#k-results li[data-kb]').length > 0", what="search results")
        b.click("#k-results li[data-kb]")
        b.wait("!document.getElementById('k-entry').hidden", what="the entry")
        check("the entry's question", b.text("#ke-title"), "停水了什么时候恢复供水")
        check("its history", b.eval("document.querySelectorAll('#ke-history tbody tr').length") >= 1, True)
        check("agents may not edit", b.eval("document.querySelectorAll('#ke-actions button').length"), 0)
        shot("console-kb.png")

        print("# bad input: errors are shown")
        b.key("1", code="Digit1", vk=49, alt=True)
        b.wait("!document.getElementById('intake').hidden", what="the intake form")
        check("the form is empty", b.eval("document.getElementById('f-body').value"), "")
        b.click("#submit")
        b.wait("!document.getElementById('alert').hidden && document.getElementById('alert').textContent.includes('诉求内容')",
               what="an error for an empty body")
        check("an empty call: the error", b.text("#alert"), "请填写诉求内容")
        b.key("3", code="Digit3", vk=51, alt=True)
        b.type("#l-ticket", "abc'; DROP TABLE tickets;--")
        b.key("Enter", vk=13)
        b.wait("document.getElementById('alert').textContent.includes('未找到')", what="a not-found error")
        check("a bad ticket number: the server's answer shown", b.text("#alert").startswith("查询工单失败：未找到"), True)
        b.type("#f-body", "")  # nothing
        b.type("#l-ticket", "2026010199999999")
        b.key("Enter", vk=13)
        b.wait("document.getElementById('alert').textContent.includes('2026010199999999') || "
               "document.getElementById('alert').textContent.includes('does not exist')", what="an unknown ticket")
        shot("console-error.png")

        print("# the unit signs and replies (API); the office reviews, calls back and closes (console)")
        api(o.url, o.unit, "POST", "/tickets/%s/actions" % ticket, {"action": "sign"})
        api(o.url, o.unit, "POST", "/tickets/%s/actions" % ticket,
            {"action": "reply", "reason_code": "resolved", "text": "已派人更换破裂管段，恢复供水。"})
        b.click("#logout")
        b.wait("!document.getElementById('login').hidden", what="the login form")
        b.type("#token", o.office)
        b.key("Enter", vk=13)
        b.wait("!document.getElementById('queue').hidden", what="the office's queue")
        b.eval("document.getElementById('q-state').value = 'REPLIED'; document.getElementById('q-state')"
               ".dispatchEvent(new Event('change'))")
        b.wait("!!document.querySelector('#queue-table tr[data-ticket=\"%s\"]')" % ticket, what="the replied ticket")
        b.eval("document.querySelector('#queue-table tr[data-ticket=\"%s\"]').focus()" % ticket)
        b.key("Enter", vk=13)
        b.wait("document.getElementById('d-state') && document.getElementById('d-state').textContent === '已答复'",
               what="the ticket's page")
        check("the history lists the reply", "答复" in b.text("#d-history"), True)
        check("the phone is masked", "139****5678" in b.text("#d-fields") and "13912345678" not in b.text("#d-fields"), True)

        def act(action, fields, state):
            label = b.text("#d-actions button[data-action='%s']" % action)
            b.click("#d-actions button[data-action='%s']" % action)
            b.wait("!document.getElementById('action-form').hidden", what="the %s form" % action)
            for k, v in fields.items():
                b.eval("document.getElementById('a-%s').value = %s" % (k, json.dumps(v)))
            b.key("Enter", vk=13, ctrl=True)
            b.wait("document.getElementById('alert').textContent.startsWith('%s成功')" % label, what="%s done" % action)
            check(action, b.text("#d-state"), state)

        check("the office's choices", b.eval("[...document.querySelectorAll('#d-actions button')].map(x => x.dataset.action)"),
              ["review_accept", "review_reject", "withdraw"])
        act("review_accept", {}, "待回访")
        act("callback", {"outcome": "rated", "resolution": "resolved", "satisfaction": "satisfied"}, "待回访")
        act("close", {}, "已办结")
        b.click("#d-actions button[data-action='reopen']")
        b.wait("!document.getElementById('action-form').hidden", what="the reopen form")
        b.key("Enter", vk=13, ctrl=True)
        check("a missing reason: asked for", b.wait("document.getElementById('alert').textContent"), "请填写理由")
        b.key("Escape", code="Escape", vk=27)
        check("Esc closes the form", b.eval("document.getElementById('action-form').hidden"), True)

        print("# an unmasked read needs a reason")
        b.type("#d-reveal-reason", "回访核实来电人身份")
        b.click("#d-reveal-go")
        b.wait("document.getElementById('d-fields').textContent.includes('13912345678')", what="the unmasked phone")
        shot("console.png")

        print("# the office's knowledge-base reports")
        b.key("4", code="Digit4", vk=52, alt=True)
        b.wait("!document.getElementById('k-eff').hidden", what="the report buttons")
        b.click("#k-eff")
        b.wait("!document.getElementById('k-report').hidden && document.querySelectorAll('#kr-table tbody tr').length > 0",
               what="the effectiveness table")
        check("the adopted entry is counted", b.eval(
            "[...document.querySelectorAll('#kr-table tbody tr')].some(r => r.cells[0].textContent === '停水了什么时候恢复供水'"
            " && r.cells[1].textContent === '1' && r.cells[2].textContent === '1')"), True)
        shot("console-kb-report.png")
        b.click("#k-gaps")
        b.wait("document.getElementById('kr-title').textContent === '知识盲区'", what="the gaps table")
        b.click("#k-new-open")
        b.wait("!document.getElementById('k-new').hidden", what="the draft form")
        b.type("#kn-title", "居住证办理需要哪些材料")
        b.type("#kn-answer", "身份证、居住登记凭证和近期照片，到街道服务中心办理。")
        b.click("#kn-save")
        b.wait("!document.getElementById('k-entry').hidden && document.getElementById('ke-title').textContent === '居住证办理需要哪些材料'",
               what="the saved draft")
        check("a draft", b.text("#ke-fields dd"), "草稿（第 1 版）")
        b.click("#ke-publish")
        b.wait("document.querySelector('#ke-fields dd').textContent.startsWith('已发布')", what="published")
        check("published as version 2", b.text("#ke-fields dd"), "已发布（第 2 版）")

        print("# the figures (统计): what /api/v1/stats says")
        b.key("5", code="Digit5", vk=53, alt=True)
        b.wait("!document.getElementById('stats').hidden && document.querySelectorAll('#s-table tbody tr').length > 0",
               what="the figures table")
        st = api(o.url, o.office, "GET", "/stats")
        check("the accepted card", b.text("#s-cards .card[data-k='accepted'] .v"), str(st["totals"]["accepted"]))
        check("the completion rate card", b.text("#s-cards .card[data-k='completion_rate'] .v"),
              "%.2f%%" % (st["totals"]["completion_rate"] * 100))
        first = b.eval("document.querySelector('#s-table tbody tr').dataset.unit")
        row = [u for u in st["by_unit"] if u["unit"] == first][0]
        check("a unit's row: accepted", b.eval("document.querySelector('#s-table tbody tr').cells[2].textContent"),
              str(row["accepted"]))
        ranked = [u for u in st["by_unit"] if u["unit"]]
        best = max(u["completion_rate"] if u["completion_rate"] is not None else -1 for u in ranked)
        check("ranked by completion rate: the first is the best",
              row["completion_rate"] if row["completion_rate"] is not None else -1, best)
        check("fits 1366x768", b.eval("document.documentElement.scrollWidth <= 1366"), True)
        shot("console-stats.png")

        problems = b.problems()
        check("no script or CSP errors", problems, [])
    except CdpError as e:
        print("FAIL %s" % e)
        try:
            shot("console-failure.png")
            print("alert: %r (%s)" % (b.text("#alert"), "shown" if b.visible("#alert") else "hidden"))
            print("preview: %r" % b.text("#preview"))
            print("problems: %r" % b.problems())
            print("fields: %r" % b.eval("[...document.querySelectorAll('input,textarea')].map(e => e.id + '=' + e.value)"))
        except Exception:
            pass
        failed_now = 1
    else:
        failed_now = 0
    finally:
        b.close()
    return 1 if testlib.failed or failed_now else 0


if __name__ == "__main__":
    sys.exit(main())
