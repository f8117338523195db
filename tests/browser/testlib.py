"""What the browser tests share: checks that print "ok"/"FAIL" lines and
count the failures (testlib.failed), and calls to the gateway's JSON API."""
import json
import urllib.request

failed = 0


def check(name, got, want):
    global failed
    if got == want:
        print("ok   %s (%s)" % (name, str(got)[:200]))
    else:
        print("FAIL %s: got %r, want %r" % (name, got, want))
        failed += 1


def api(url, token, method, path, body=None):
    req = urllib.request.Request(url + "/api/v1" + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)
