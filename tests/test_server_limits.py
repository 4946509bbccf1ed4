"""The chat server at its edge, live (issue 11, items 1, 6, 10): a login read from a file and
throttled when wrong, request bodies capped before Gradio reads them, memory flat under a
hostile history, uploads capped and not piling up, answers computed concurrently. After each
fault the server still answers from the old data."""

from __future__ import annotations

import json
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults import QUESTION
from tests.live import live_server

LOGIN = ("editor", "t0p-secret-pass")
#: QA_MAX_FILE_MB for this server: small files fill the upload budget quickly.
FILE_MB = 0.05


def _same(one: dict, other: dict) -> bool:
    """The same answer, timings aside."""
    return {k: v for k, v in one.items() if k != "timings"} == \
        {k: v for k, v in other.items() if k != "timings"}


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS")).split()[1]) / 1024


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, seed_index: Path):
    """`qa serve --auth-file` over a copy of the seed index."""
    base = tmp_path_factory.mktemp("guarded")
    index_dir = base / "index"
    shutil.copytree(seed_index, index_dir)
    logins = base / "logins"
    logins.write_text(f"# who may ask\n{LOGIN[0]}:{LOGIN[1]}\n")
    logins.chmod(0o600)
    with live_server(["--index-dir", index_dir, "--auth-file", logins], base,
                     {"QA_MAX_FILE_MB": str(FILE_MB)}) as live:
        yield {**live, "base": base, "index_dir": index_dir}


@pytest.fixture(scope="module")
def gclient(guarded: dict):
    from gradio_client import Client

    return Client(guarded["url"], auth=LOGIN, verbose=False)


@pytest.fixture(scope="module")
def baseline(gclient) -> dict:
    """The answer to the seed question before any fault."""
    return gclient.predict(question=QUESTION, api_name="/ask")


@pytest.fixture
def http(guarded: dict):
    with httpx.Client(base_url=guarded["url"], timeout=30) as session:
        assert session.post("login", data={"username": LOGIN[0],
                                           "password": LOGIN[1]}).status_code == 200
        yield session


def test_the_password_comes_from_a_file_not_the_command_line(guarded: dict, baseline) -> None:
    cmdline = Path(f"/proc/{guarded['proc'].pid}/cmdline").read_bytes()
    assert LOGIN[1].encode() not in cmdline and b"--auth-file" in cmdline
    assert httpx.get(f"{guarded['url']}config").status_code == 401
    assert baseline["question"] == QUESTION and (baseline["citations"] or baseline["related"])


def test_hostile_history_is_refused_and_memory_stays_flat(guarded: dict, gclient,
                                                          baseline) -> None:
    from gradio_client.exceptions import AppError

    pid = guarded["proc"].pid
    before = _rss_mb(pid)
    hostile = [{"role": "user", "content": "Who was killed?"},
               {"role": "assistant", "content": "Yaroslav Moskalik " * 230_000}]  # 4 MB
    started = time.perf_counter()
    for _ in range(4):
        with pytest.raises(httpx.HTTPStatusError, match="413"):
            gclient.predict(question="How old was he?", history=hostile, api_name="/ask")
    assert time.perf_counter() - started < 10
    under_cap = [hostile[0], {"role": "assistant", "content": "Moskalik " * 90_000}]  # 810 kB
    for _ in range(4):
        with pytest.raises(AppError, match=r"history: message 2 .* at most 20,000"):
            gclient.predict(question="How old was he?", history=under_cap, api_name="/ask")
    assert "Traceback" not in guarded["log"].read_text()  # refused input is not a fault
    with pytest.raises(httpx.HTTPStatusError, match="413"):
        gclient.predict(question="Who? " * 250_000, api_name="/ask")
    grown = _rss_mb(pid) - before
    assert grown <= 50, f"server RSS grew by {grown:.0f} MB"
    follow = gclient.predict(question="How old was he?", history=[
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Yaroslav Moskalik was killed by a car bomb."}],
        api_name="/ask")
    assert follow["standalone_question"] == "How old was Yaroslav Moskalik?"
    assert _same(gclient.predict(question=QUESTION, api_name="/ask"), baseline)


def test_bad_parameters_through_the_api_name_them(gclient, baseline) -> None:
    from gradio_client.exceptions import AppError

    for kwargs, message in [({"k": 0}, "k must be a whole number from 1 to 50"),
                            ({"k": 2.5}, "k must be a whole number"),
                            ({"mode": "bogus"}, "mode must be one of extractive, llm")]:
        with pytest.raises(AppError, match=message):
            gclient.predict(question=QUESTION, api_name="/ask", **kwargs)
    assert _same(gclient.predict(question=QUESTION, k=6, api_name="/ask"), baseline)


def test_uploads_are_capped_and_do_not_pile_up(guarded: dict, http: httpx.Client, gclient,
                                               baseline) -> None:
    limit = int(FILE_MB * 1024 * 1024)
    too_big = http.post("gradio_api/upload", files={"files": ("big.txt", b"x" * (limit + 1))})
    assert too_big.status_code == 413
    answers = []
    for i in range(40):  # the budget: 20 files' worth of the file limit
        reply = http.post("gradio_api/upload",
                          files={"files": (f"a{i}.txt", b"word " * (limit // 6))})
        answers.append(reply.status_code)
    assert answers[0] == 200 and answers[-1] == 507 and set(answers) == {200, 507}, answers
    cached = [p for p in (guarded["base"] / "gradio").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in cached) <= 20 * limit
    assert not (guarded["index_dir"] / "uploads").exists()  # none reached the index
    chunked = http.post("gradio_api/upload", content=iter([b"--x\r\n"]),
                        headers={"content-type": "multipart/form-data; boundary=x"})
    assert chunked.status_code == 411
    assert _same(gclient.predict(question=QUESTION, api_name="/ask"), baseline)


def test_sixteen_clients_are_answered_concurrently(guarded: dict, gclient) -> None:
    from gradio_client import Client

    cases = {q: gclient.predict(question=q, api_name="/ask") for q in [
        "Who is Dmitry Peskov?", "Who is Steve Witkoff?", "Who is Keith Kellogg?", QUESTION]}
    clients = [Client(guarded["url"], auth=LOGIN, verbose=False) for _ in range(16)]

    def ask(i: int) -> list[tuple[str, dict]]:
        questions = list(cases)[i % 4:] + list(cases)[:i % 4]
        return [(q, clients[i].predict(question=q, api_name="/ask")) for q in questions]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = [pair for pairs in pool.map(ask, range(16)) for pair in pairs]
    assert len(results) == 64
    for question, out in results:  # each the answer it gets alone: none mixed up
        assert _same(out, cases[question]), (question, out)


def test_answer_events_share_one_concurrency_limit(seed_qa) -> None:
    from qa.ui.app import create_app

    demo = create_app(seed_qa)
    limits = {fn.concurrency_id: fn.concurrency_limit for fn in demo.fns.values()
              if fn.name in ("ask", "respond")}
    assert limits == {"answer": seed_qa.settings.answer_concurrency} and limits["answer"] > 1


def test_a_login_form_names_its_user_url_encoded_or_multipart() -> None:
    from qa.ui.guard import _login_name

    for form in ({"data": {"username": "editor", "password": "x"}},
                 {"files": {"username": (None, "editor"), "password": (None, "x")}}):
        body = httpx.Request("POST", "http://127.0.0.1/login", **form).read()
        assert _login_name(body) == "editor", body
    assert _login_name(b"password=x") == ""


def test_a_large_body_to_another_upload_path_is_refused_and_a_login_serves_any_name(
        guarded: dict) -> None:
    """Only Gradio's upload route takes a large body. With a login, a server on this machine
    answers to any name (a reverse proxy's; a page made to lead here cannot log in)."""
    port = guarded["url"].rstrip("/").rsplit(":", 1)[1]
    for name in ("news.example.com", "localhost", "[::1]"):
        reply = httpx.get(f"{guarded['url']}config", headers={"host": f"{name}:{port}"})
        assert reply.status_code == 401, (name, reply.text)
    big = httpx.post(f"{guarded['url']}gradio_api/stream/upload", content=b"x" * (2 << 20))
    assert big.status_code == 413 and "Request too large" in big.text


def test_a_file_named_by_its_web_address_is_not_fetched(guarded: dict) -> None:
    """Gradio downloads a file whose path is a web address whole, before any limit: refused
    before it sees the request (before a login, too), however the JSON spells the address."""
    from qa.ui.guard import _names_a_remote_file

    for address in ("https://example.com/huge.txt", "\\u0068ttp://example.com/huge.txt"):
        event = ('{"data": [[{"path": "' + address + '", "meta": {"_type": '
                 '"gradio.FileData"}}]], "fn_index": 9, "session_hash": "abc"}')
        reply = httpx.post(f"{guarded['url']}gradio_api/queue/join", content=event,
                           headers={"content-type": "application/json"})
        assert reply.status_code == 400 and "Files are uploaded, not fetched" in reply.text
    cached = {"path": "/tmp/gradio/0123/a.txt", "url": "http://127.0.0.1:7860/gradio_api/"
              "file=/tmp/gradio/0123/a.txt", "meta": {"_type": "gradio.FileData"}}
    assert not _names_a_remote_file(json.dumps({"data": [[cached]]}).encode())
    assert not _names_a_remote_file(b"[" * 100_000)


def test_failed_logins_are_throttled(guarded: dict) -> None:  # last: it locks the address
    url = f"{guarded['url']}login"

    def login(password: str) -> httpx.Response:
        return httpx.post(url, data={"username": LOGIN[0], "password": password})

    assert [login(f"guess{i}").status_code for i in range(5)] == [400] * 5
    refused = login("guess5")
    assert refused.status_code == 429 and "Too many failed logins" in refused.text
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 2
    assert login(LOGIN[1]).status_code == 429  # the right password waits too
    time.sleep(wait + 0.2)
    assert login(LOGIN[1]).status_code == 200
    assert login("guess6").status_code == 400  # a success resets the count
    # from a new address each time (as a local proxy's X-Forwarded-For gives): the user name
    # is throttled too
    spoofed = [httpx.post(url, data={"username": LOGIN[0], "password": f"other{i}"},
                          headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code
               for i in range(5)]
    assert spoofed == [400, 400, 400, 400, 429], spoofed


def test_a_login_expires(tmp_path: Path, seed_index: Path) -> None:
    """QA_LOGIN_HOURS=0.001 (3.6 s): the session cookie works, then the server forgets it."""
    logins = tmp_path / "logins"
    logins.write_text(f"{LOGIN[0]}:{LOGIN[1]}\n")
    logins.chmod(0o600)
    with live_server(["--index-dir", seed_index, "--auth-file", logins], tmp_path,
                     {"QA_LOGIN_HOURS": "0.001"}, ready=False) as live, \
            httpx.Client(base_url=live["url"], timeout=30) as session:
        assert session.get("config").status_code == 401
        assert session.post("login", data={"username": LOGIN[0],
                                           "password": LOGIN[1]}).status_code == 200
        config = session.get("config")
        assert config.status_code == 200 and "components" in config.json()
        time.sleep(4.0)
        assert session.get("config").status_code == 401
        assert session.post("login", data={"username": LOGIN[0],
                                           "password": LOGIN[1]}).status_code == 200
        assert session.get("config").status_code == 200


def test_logins_are_forgotten_oldest_first() -> None:
    from qa.ui.guard import ExpiringLogins

    now = [0.0]
    sessions = ExpiringLogins(lifetime=10, max_sessions=2, clock=lambda: now[0])
    sessions["a"] = "editor"
    now[0] = 5
    sessions["b"] = "editor"
    sessions["c"] = "reader"  # over max_sessions: "a" goes
    assert "a" not in sessions and sessions.get("b") == "editor"
    now[0] = 12  # "b" (5) and "c" (5) are 7 s old; nothing expires yet
    assert sorted(sessions.keys()) == ["b", "c"]
    now[0] = 15.5
    assert sessions.get("b") is None and "c" not in sessions and not list(sessions.keys())
    now[0] = 20.0
    sessions["d"] = "editor"
    del sessions["d"]
    assert "d" not in sessions


def test_cached_uploads_expire_and_free_the_upload_budget(tmp_path: Path,
                                                           seed_index: Path) -> None:
    """Gradio's cache of uploads is emptied by age (10 minutes when served; 2 s here), and
    a server whose upload budget was full takes uploads again afterwards."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    expire_fast = "import qa.ui.app\nqa.ui.app.UPLOAD_CACHE = (1, 2)"
    with live_server(["--index-dir", index_dir], tmp_path, {"QA_MAX_FILE_MB": str(FILE_MB)},
                     preamble=expire_fast) as live, httpx.Client(base_url=live["url"]) as http:
        # (without a login, this server for this machine only answers only to its names: a
        # page whose name was made to lead here, DNS rebinding, gets nothing)
        port = live["url"].rstrip("/").rsplit(":", 1)[1]
        for name, status in [("rebind.example.com", 421), ("localhost", 200),
                             ("127.0.0.1", 200), ("[::1]", 200)]:
            reply = http.get("config", headers={"host": f"{name}:{port}"})
            assert reply.status_code == status, (name, reply.text)
        assert "answers only to the names of this machine" in http.get(
            "config", headers={"host": "rebind.example.com"}).text
        size = int(FILE_MB * 1024 * 1024) // 2
        replies = [http.post("gradio_api/upload",
                             files={"files": (f"a{i}.txt", b"w" * size)}).status_code
                   for i in range(41)]
        assert replies[0] == 200 and replies[-1] == 507, replies  # the budget is full

        def cached() -> bool:
            return any(p.is_file() for p in (tmp_path / "gradio").rglob("*.txt"))

        assert cached()
        deadline = time.monotonic() + 20
        while cached() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not cached()  # expired and deleted
        again = http.post("gradio_api/upload", files={"files": ("b.txt", b"w" * size)})
        assert again.status_code == 200
        assert not (index_dir / "uploads").exists()  # never indexed
        # uploads still arriving count too: 40 slow ones at once fill the budget by themselves
        slow = [_start_upload(live["url"], size) for _ in range(40)]
        try:
            time.sleep(1.0)
            during = http.post("gradio_api/upload", files={"files": ("c.txt", b"w" * size)})
            assert during.status_code == 507
        finally:
            for connection in slow:
                connection.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and http.post(
                "gradio_api/upload", files={"files": ("d.txt", b"w")}).status_code != 200:
            time.sleep(0.5)  # the abandoned uploads are forgotten when their clients go
        assert time.monotonic() < deadline


def _start_upload(url: str, size: int) -> socket.socket:
    """An upload of `size` bytes that states its length, sends its first bytes and waits."""
    address = httpx.URL(url)
    connection = socket.create_connection((address.host, address.port))
    head = (f"POST /gradio_api/upload HTTP/1.1\r\nHost: {address.host}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {size + 200}\r\n\r\n--x\r\nContent-Disposition: form-data; "
            'name="files"; filename="slow.txt"\r\n\r\n')
    connection.sendall(head.encode() + b"w" * 100)
    return connection
