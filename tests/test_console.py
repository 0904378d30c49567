"""The web console (`runnel console`, started by `scripts/cluster.sh up`)
in a real browser: Debian's chromium, driven through WebDriver by
selenium with the system's chromedriver.

What an operator does with it: pages render without console errors; a
topic created in the page exists for kcat; records produced by kcat show
in the record browser; a group's lag is the lag `consumer-groups.sh`
prints; a broker killed with `cluster.sh kill` shows as down and its
partitions' new leaders appear within 10 s without a page reload, and the
timeline lists the elections; bad input gets a message on the page and
changes nothing. Screenshots go to target/console-screenshots/.
"""

import os
import re
import subprocess
import time

import pytest

from brokerproc import describe_rows
from procutil import REPO, wait_for
from test_replication_cluster_script import env, free_block, run

pytestmark = pytest.mark.timeout(300)

SHOTS = os.path.join(REPO, "target", "console-screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("console") / "cluster")
    base = free_block()
    r = run("up", "--dir", d, "--base-port", str(base), "--peer-base-port", str(base + 10),
            "--broker-base-port", str(base + 20))
    try:
        assert r.returncode == 0, "up failed:\n%s\n%s" % (r.stdout, r.stderr)
        url = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("console: "))
        bootstrap = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("brokers: "))
        yield d, url.rstrip("/"), bootstrap
    finally:
        run("down", "--dir", d, "--wipe")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1400,1000",
              # Two windows watch the cluster at once: neither may be put to sleep.
              "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
              "--disable-background-timer-throttling"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    os.makedirs(SHOTS, exist_ok=True)
    yield drv
    drv.quit()


def shot(drv, name):
    drv.save_screenshot(os.path.join(SHOTS, name + ".png"))


def errors(drv):
    """SEVERE browser log entries since the last call."""
    return [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]


# Live parts are replaced while the test reads them: read in one script
# run, never through element handles that may go stale.

def text(drv, css):
    return drv.execute_script(
        "var e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';", css)


def rows(drv, table_id):
    return drv.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))"
        ".map(tr => Array.from(tr.children).map(td => td.innerText.trim()));", table_id)


def submit(drv, form_id, **fields):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    form = drv.find_element(By.ID, form_id)
    for name, value in fields.items():
        el = form.find_element(By.NAME, name)
        if el.tag_name == "select":
            Select(el).select_by_visible_text(str(value))
        else:
            el.clear()
            el.send_keys(str(value))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def kcat(*args, stdin=None):
    return subprocess.run(["kcat", *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_pages_render_without_console_errors(cluster, browser):
    _, url, _ = cluster
    for path, name in (("/", "overview"), ("/topics", "topics"), ("/groups", "groups"),
                       ("/coord?path=/runnel/brokers/ids", "coord"), ("/timeline", "timeline")):
        browser.get(url + path)
        wait_for(lambda: browser.execute_script("return document.readyState") == "complete",
                 timeout=10, desc="%s loaded" % path)
        shot(browser, name)
        assert errors(browser) == [], path
    browser.get(url + "/")
    wait_for(lambda: text(browser, "#brokers-up b") == "3 / 3", timeout=10, desc="3 brokers up")
    assert [r[1] for r in rows(browser, "coord")].count("leader") == 1
    browser.get(url + "/coord?path=/runnel/brokers/ids")
    assert sorted(r[0] for r in rows(browser, "children")) == ["1", "2", "3"]


def test_topic_created_in_the_page_exists_for_kcat(cluster, browser):
    _, url, bootstrap = cluster
    browser.get(url + "/topics")
    submit(browser, "create-topic", name="ui-made", partitions=4, replication_factor=3,
           configs="retention.ms=3600000")
    try:
        wait_for(lambda: "Created topic ui-made" in text(browser, "#notice"), timeout=30,
                 desc="the created notice")
    except TimeoutError as e:
        # Say what the page said instead (an error notice names the cause).
        raise AssertionError("%s; the page shows %r at %s" % (
            e, text(browser, "#notice"), browser.current_url)) from e
    shot(browser, "topic-created")
    r = kcat("-b", bootstrap, "-L", "-t", "ui-made")
    assert r.returncode == 0 and "4 partitions" in r.stdout, r.stdout + r.stderr
    # The config set in the form is the topic's (once the broker asked has
    # caught up with the new topic).
    def configured():
        browser.get(url + "/topics/ui-made")
        return ["retention.ms", "3600000", "DynamicTopic"] in rows(browser, "configs")
    wait_for(configured, timeout=10, interval=0.5, desc="retention.ms among the topic's configs")


def test_records_from_kcat_show_in_the_browser(cluster, browser):
    _, url, bootstrap = cluster
    subprocess.run(["bash", os.path.join(REPO, "scripts", "topics.sh"), "--bootstrap-server", bootstrap,
                    "--create", "--topic", "kcat-made", "--partitions", "1", "--replication-factor", "3"],
                   check=True, capture_output=True, timeout=60, env=env())
    lines = 'k1:plain text\nk2:{"order":7,"items":["a","b"]}\n'
    r = kcat("-b", bootstrap, "-P", "-t", "kcat-made", "-p", "0", "-K:", "-H", "source=kcat", stdin=lines)
    assert r.returncode == 0, r.stderr
    browser.get(url + "/topics/kcat-made/messages?partition=0")
    got = rows(browser, "records")
    shot(browser, "records")
    assert [g[0] for g in got] == ["0", "1"], got
    assert got[0][2] == "k1" and got[0][3] == "plain text" and got[0][4] == "source=kcat"
    assert got[1][2] == "k2"
    assert '"order": 7' in got[1][3], got[1][3]   # JSON pretty-printed
    browser.get(url + "/topics/kcat-made/messages?partition=0&offset=1&format=hex")
    got = rows(browser, "records")
    assert len(got) == 1 and got[0][3].startswith("7b 22"), got
    # A record produced from the page is read back by kcat.
    browser.get(url + "/topics/kcat-made")
    submit(browser, "produce", key="k3", value="from the console", headers="via=ui")
    wait_for(lambda: "at offset 2" in text(browser, "#notice"), timeout=30, desc="produce notice")
    r = kcat("-b", bootstrap, "-C", "-t", "kcat-made", "-p", "0", "-o", "2", "-c", "1", "-e",
             "-f", "%k=%s %h\n")
    assert r.stdout.strip() == "k3=from the console via=ui", r.stdout + r.stderr


def test_overview_shows_traffic_per_second(cluster, browser):
    """Messages in per second (from end offsets) and bytes in and out per
    second (from the brokers' metrics, which cluster.sh hands the console)
    rise above zero on the live overview while kcat produces and consumes."""
    _, url, bootstrap = cluster
    import threading
    subprocess.run(["bash", os.path.join(REPO, "scripts", "topics.sh"), "--bootstrap-server", bootstrap,
                    "--create", "--topic", "traffic", "--partitions", "3", "--replication-factor", "3"],
                   check=True, capture_output=True, timeout=60, env=env())
    browser.get(url + "/")
    stop = threading.Event()

    def load():
        while not stop.is_set():
            kcat("-b", bootstrap, "-P", "-t", "traffic", stdin="x" * 200 + "\n" * 1 + ("y" * 200 + "\n") * 200)
            kcat("-b", bootstrap, "-C", "-t", "traffic", "-o", "beginning", "-e", "-q")
    t = threading.Thread(target=load)
    t.start()
    try:
        def figure(css):
            v = text(browser, css + " b")
            return float(v) if v not in ("", "-") else 0.0
        wait_for(lambda: figure("#rate") > 0 and figure("#bytes-in") > 0 and figure("#bytes-out") > 0,
                 timeout=30, interval=0.3,
                 desc="traffic figures above 0 (%s, %s, %s)" % (
                     text(browser, "#rate b"), text(browser, "#bytes-in b"), text(browser, "#bytes-out b")))
        shot(browser, "traffic")
    finally:
        stop.set()
        t.join(60)


def test_group_lag_matches_consumer_groups_sh(cluster, browser):
    _, url, bootstrap = cluster
    from confluent_kafka import Consumer, Producer, TopicPartition
    subprocess.run(["bash", os.path.join(REPO, "scripts", "topics.sh"), "--bootstrap-server", bootstrap,
                    "--create", "--topic", "lagged", "--partitions", "2", "--replication-factor", "3"],
                   check=True, capture_output=True, timeout=60, env=env())
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(100):
        p.produce("lagged", value=b"%d" % i, partition=i % 2)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ui-group", "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition("lagged", 0, 5), TopicPartition("lagged", 1, 20)], asynchronous=False)
    c.close()
    want = {int(k): v[5] for k, v in describe_rows(bootstrap, "ui-group").items()}
    assert want == {0: "45", 1: "30"}
    browser.get(url + "/groups/ui-group")

    def lag():
        return {int(r[1]): r[4] for r in rows(browser, "offsets") if r[0] == "lagged"} == want
    wait_for(lag, timeout=10, interval=0.5, desc="lag in the page equal to consumer-groups.sh %s" % want)
    assert text(browser, "#group-state") == "Empty"
    shot(browser, "group")
    # Reset to the earliest offsets from the page: the script sees it.
    submit(browser, "reset-offsets", topic="lagged", to="earliest")
    wait_for(lambda: "Reset ui-group on lagged" in text(browser, "#notice"), timeout=30, desc="reset")
    got = {int(k): v[3] for k, v in describe_rows(bootstrap, "ui-group").items()}
    assert got == {0: "0", 1: "0"}, got


def test_killed_broker_shows_down_and_new_leaders_without_reload(cluster, browser):
    d, url, bootstrap = cluster
    subprocess.run(["bash", os.path.join(REPO, "scripts", "topics.sh"), "--bootstrap-server", bootstrap,
                    "--create", "--topic", "failover", "--partitions", "6", "--replication-factor", "3"],
                   check=True, capture_output=True, timeout=60, env=env())
    def loaded():
        browser.get(url + "/topics/failover")
        now = rows(browser, "partitions")
        return len(now) == 6 and all(r[1] in ("1", "2", "3") for r in now)
    wait_for(loaded, timeout=20, interval=0.5, desc="6 partitions with leaders")
    led_by_2 = [r[0] for r in rows(browser, "partitions") if r[1] == "2"]
    assert led_by_2, rows(browser, "partitions")
    topic_tab = browser.current_window_handle
    browser.switch_to.new_window("window")  # its own window: hidden tabs are throttled
    browser.get(url + "/")
    overview_tab = browser.current_window_handle
    for tab in (topic_tab, overview_tab):
        browser.switch_to.window(tab)
        browser.execute_script("window.__notReloaded = true;")
    r = run("kill", "broker-2", "--dir", d)
    assert r.returncode == 0, r.stderr
    killed = time.monotonic()
    try:
        browser.switch_to.window(overview_tab)
        def shown_down():
            return [r[2] for r in rows(browser, "brokers") if r[0] == "2"] == ["down"]
        try:
            wait_for(shown_down, timeout=10, interval=0.2, desc="broker 2 shown down")
        except TimeoutError:
            import urllib.request
            server = urllib.request.urlopen(url + "/fragment/overview", timeout=5).read().decode()
            js = browser.execute_script(
                "return [window.consoleRefreshes, document.getElementById('live').className, location.href]")
            raise AssertionError("page: %s %s\nserver: %s" % (js, rows(browser, "brokers"), server[:300]))
        browser.switch_to.window(topic_tab)

        def moved():
            now = rows(browser, "partitions")
            return all(r[1] not in ("2", "-1") and "down" not in r[1] for r in now if r[0] in led_by_2)
        wait_for(moved, timeout=max(1, 10 - (time.monotonic() - killed)), interval=0.2,
                 desc="new leaders for %s" % led_by_2)
        shot(browser, "failover-topic")
        for tab in (topic_tab, overview_tab):
            browser.switch_to.window(tab)
            assert browser.execute_script("return window.__notReloaded === true;"), "the page reloaded"
        browser.switch_to.window(overview_tab)
        shot(browser, "failover-overview")
        browser.get(url + "/timeline")
        events = rows(browser, "timeline")
        shot(browser, "failover-timeline")
        assert any(e[1] == "broker-down" and "broker 2 died" in e[2] for e in events), events
        for p in led_by_2:
            assert any(e[1] == "election" and re.search(r"failover-%s: broker 2 → broker [13] .*unavailable for \d+ ms" % p, e[2])
                       for e in events), (p, events)
        assert errors(browser) == []
    finally:
        r = run("start", "broker-2", "--dir", d)
        assert r.returncode == 0, r.stderr
        browser.switch_to.window(overview_tab)
        browser.close()
        browser.switch_to.window(topic_tab)
    browser.get(url + "/timeline")
    wait_for(lambda: any("broker 2 came back" in e[2] for e in rows(browser, "timeline")),
             timeout=20, interval=0.5, desc="broker 2 back in the timeline (live, no reload)")


def test_bad_input_gets_a_message_and_changes_nothing(cluster, browser):
    _, url, bootstrap = cluster
    browser.get(url + "/topics")
    before = [r[0] for r in rows(browser, "topics")]
    submit(browser, "create-topic", name="bad name!", partitions=1, replication_factor=1)
    wait_for(lambda: "illegal" in text(browser, "#notice"), timeout=10, desc="illegal name message")
    submit(browser, "create-topic", name="fine", partitions="many", replication_factor=1)
    wait_for(lambda: "whole number" in text(browser, "#notice"), timeout=10, desc="bad number message")
    submit(browser, "create-topic", name="toomany", partitions=1, replication_factor=9)
    wait_for(lambda: "replication factor" in text(browser, "#notice").lower(), timeout=30,
             desc="replication factor above the brokers")
    assert [r[0] for r in rows(browser, "topics")] == before
    r = kcat("-b", bootstrap, "-L")
    assert "toomany" not in r.stdout and "fine" not in r.stdout.split()
    browser.get(url + "/topics/no-such-topic")
    assert "does not exist" in text(browser, "#notice")
    browser.get(url + "/topics/kcat-made/messages?partition=0&offset=999")
    assert "out of range" in text(browser, "#notice")
    browser.get(url + "/topics/kcat-made/messages?partition=7")
    assert "has no partition 7" in text(browser, "#notice")
    browser.get(url + "/coord?path=/no/such")
    assert "No znode" in text(browser, "#notice")
    browser.get(url + "/topics/kcat-made")
    submit(browser, "delete-topic", confirm="wrong")
    wait_for(lambda: "nothing was deleted" in text(browser, "#notice"), timeout=10, desc="confirm message")
    assert "kcat-made" in kcat("-b", bootstrap, "-L").stdout
    shot(browser, "bad-input")
    assert errors(browser) == []
