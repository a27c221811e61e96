"""rowrnn serve in a classroom (issue 27, item 6): `--host 0.0.0.0 --allow-host NAME` lets other machines open the
page by the names the teacher allowed; every other name is still refused (DNS rebinding), and a refusal tells a
remote browser the real way in -- never 127.0.0.1, which on its machine is itself.

In-process tests fake the student's machine with TestClient's client address and the address the connection
arrived at with the base URL (the ASGI scope's "server"); the start-up output is read from a real process.
"""
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from conftest import write_dataset
from rowrnn import guard, serve
from rowrnn.cli import main
from rowrnn.errors import RowrnnError

TRAIN = ["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures"]
LAB = "lab-pc.school.example"
ALLOWED = [f"{LAB},bücher.example", "192.168.1.20"]          # repeatable and comma-separated, as the CLI gives them
STUDENT = ("192.168.1.57", 50123)                             # a laptop on the classroom's network
TEACHER = ("127.0.0.1", 50124)                                # a browser on the serving machine
ROOM_URLS = "http://lab-pc.school.example:8765/ or http://xn--bcher-kva.example:8765/ or http://192.168.1.20:8765/"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classroom")
    data = write_dataset(tmp / "data")
    assert main([*TRAIN, "--data-dir", str(data), "--out", str(tmp / "run"), "--hidden-size", "4"]) == 0
    return tmp / "run", data


def _client(run, *, host="0.0.0.0", allow=ALLOWED, who=STUDENT, arrived="192.168.1.20"):
    """A TestClient for serve on `host` with --allow-host `allow`, as `who`, whose connection arrived at
    `arrived`:8765 (the server's address as the ASGI scope gives it)."""
    path, data = run
    app = serve.create_app([path], data_dir=data, host=host, allow_hosts=allow)
    return TestClient(app, base_url=f"http://{arrived}:8765", client=who)


def _refusal(response):
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert "\n" not in error and len(error) <= guard.MAX_ERROR_CHARS, error
    return error


# ----------------------------------------------------------------------------- names the teacher allowed

@pytest.mark.parametrize("host", [f"{LAB}:8765", f"{LAB}", "LAB-PC.School.EXAMPLE:8765", f"{LAB}.:8765",
                                  f"{LAB}:9000",              # another port: an ssh tunnel or a port forward
                                  "xn--bcher-kva.example:8765", "XN--BCHER-KVA.example.:8765",
                                  "192.168.1.20:8765", "127.0.0.1:8765", "localhost:8765", "[::1]:8765"])
@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/runs", "/api/test-image/0"])
def test_allowed_names_open_the_page_from_another_machine(run, host, path):
    with _client(run) as client:
        response = client.get(path, headers={"Host": host})
    assert response.status_code == 200, response.text
    if path == "/api/runs":
        assert [r["name"] for r in response.json()["runs"]] == ["run"]


def test_the_page_posts_from_an_allowed_name(run):
    origin = f"http://{LAB}:8765"
    with _client(run) as client:
        response = client.post("/api/predict", json={"test_index": 3},
                               headers={"Host": f"{LAB}:8765", "Origin": origin, "Sec-Fetch-Site": "same-origin"})
        label = client.get("/api/test-image/3", headers={"Host": f"{LAB}:8765"}).json()["label"]
        # the same origin in another spelling (case, the trailing dot) is the same origin
        again = client.post("/api/predict", json={"test_index": 3},
                            headers={"Host": f"{LAB}.:8765", "Origin": f"http://LAB-PC.school.example.:8765"})
    assert response.status_code == 200 and response.json()["label"] == label
    assert again.status_code == 200 and again.json()["label"] == label


@pytest.mark.parametrize("origin", [
    "http://evil.example",                     # another site's page posting to the classroom machine
    "http://evil.example:8765",
    f"http://{LAB}:9000",                      # the allowed name, another port: another origin
    f"https://{LAB}:8765",
    "http://192.168.1.20:8765",                # another allowed name: the page never posts across its own names
    "null",
])
def test_an_allowed_host_with_a_foreign_origin_is_refused_before_the_decoder(run, origin, monkeypatch):
    monkeypatch.setattr(serve, "prepare_picture", lambda *a, **k: pytest.fail("a cross-origin body reached the decoder"))
    with _client(run) as client:
        response = client.post("/api/predict", content=b"\x89PNG", headers={
            "Host": f"{LAB}:8765", "Origin": origin, "Content-Type": "image/png"})
    assert _refusal(response).startswith("cross-origin request refused")


# ----------------------------------------------------------------------------- everything else, refused

@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", f"{LAB}.evil.example:8765",
                                  f"www.{LAB}:8765", "lab-pc:8765", "school.example:8765", f"{LAB}..:8765",
                                  f"{LAB}:8765@evil", f"{LAB}:8765:8765", "*.school.example", "bücher.example".encode(
                                      "utf-8").decode("latin-1"), "xn--bcher-kva.example.evil.example"])
@pytest.mark.parametrize("path", ["/", "/api/runs", "/static/app.js"])
def test_other_names_are_refused_and_the_student_is_told_the_allowed_ones(run, host, path):
    with _client(run) as client:
        error = _refusal(client.get(path, headers={"Host": host.encode("latin-1")}))   # raw UTF-8 bytes too
    assert error == f"Host {host!r} is not this server's name (a DNS-rebinding page?): open the page at {ROOM_URLS}"
    assert "127.0.0.1" not in error and "localhost" not in error


def test_a_rebinding_name_resolving_to_127_0_0_1_is_refused_and_the_teacher_told_the_local_address(run):
    # a page on evil.example rebinds its name to 127.0.0.1 in the teacher's own browser: the request comes from
    # this machine under the attacker's name
    with _client(run, who=TEACHER, arrived="127.0.0.1") as client:
        error = _refusal(client.get("/api/runs", headers={"Host": "rebind.evil.example:8765"}))
    assert error == ("Host 'rebind.evil.example:8765' is not this server's name (a DNS-rebinding page?): "
                     "open the page at http://127.0.0.1:8765/ or http://localhost:8765/")


def test_without_allowed_names_the_student_gets_the_address_reached_and_what_to_ask(run):
    with _client(run, allow=()) as client:
        error = _refusal(client.get("/", headers={"Host": f"{LAB}:8765"}))
        by_address = client.get("/", headers={"Host": "192.168.1.20:8765"})      # an address cannot be rebound
    assert error == (f"Host '{LAB}:8765' is not this server's name (a DNS-rebinding page?): open the page at "
                     f"http://192.168.1.20:8765/, or ask whoever started rowrnn serve to add --allow-host {LAB}")
    assert by_address.status_code == 200


@pytest.mark.parametrize("arrived, shown", [("::ffff:192.168.1.20", "http://192.168.1.20:8765/"),
                                            ("2001:db8::20", "http://[2001:db8::20]:8765/")])
def test_the_address_reached_is_shown_as_a_browser_writes_it(run, arrived, shown):
    path, data = run
    app = serve.create_app([path], data_dir=data, host="::", allow_hosts=())
    origins = app.origins
    error = origins.host_refusal("lab-pc:8765", 8765, client="2001:db8::57", arrived_at=arrived)
    assert error.endswith(f"open the page at {shown}, or ask whoever started rowrnn serve to add --allow-host lab-pc")
    # an IPv6 link-local address (a zone in it) and loopback addresses are never shown to another machine
    for unusable in ("fe80::1%eth0", "fe80::1", "::1", "127.0.0.1"):
        assert origins.host_refusal("x.example", 8765, client="2001:db8::57", arrived_at=unusable).endswith(
            "ask whoever started rowrnn serve to add --allow-host x.example"), unusable


@pytest.mark.parametrize("who", [STUDENT, ("testclient", 50000), ("2001:db8::57", 1)])
def test_a_loopback_server_never_tells_a_remote_browser_127_0_0_1(run, who):
    with _client(run, host="127.0.0.1", allow=(), who=who, arrived="127.0.0.1") as client:
        error = _refusal(client.get("/", headers={"Host": f"{LAB}:8765"}))
    assert error == (f"Host '{LAB}:8765' is not this server's name (a DNS-rebinding page?): ask whoever started "
                     f"rowrnn serve to start it with --host 0.0.0.0 --allow-host {LAB}")


def test_a_loopback_server_accepts_an_allowed_name_too(run):
    # a hosts-file alias of this machine: the teacher named it, so it is the server's name
    with _client(run, host="127.0.0.1", allow=["lab-pc.local"], who=TEACHER, arrived="127.0.0.1") as client:
        assert client.get("/api/runs", headers={"Host": "lab-pc.local:8765"}).status_code == 200
        assert _refusal(client.get("/api/runs", headers={"Host": "192.168.1.20:8765"})).endswith(
            "open the page at http://127.0.0.1:8765/ or http://localhost:8765/")


def test_a_long_host_is_cut_so_the_way_in_still_fits(run):
    host = "a" * 60 + "." + "b" * 60 + ".example"
    with _client(run) as client:
        error = _refusal(client.get("/", headers={"Host": host}))
    assert error.endswith(f"open the page at {ROOM_URLS}") and host[:77] + "..." in error


def test_a_host_given_as_one_address_or_name_is_allowed_and_shown():
    by_address, by_name = guard.Origins("192.168.1.20"), guard.Origins(LAB)
    assert by_address.advertised == ("192.168.1.20",) and by_name.advertised == (LAB,)
    assert by_name.host_refusal(f"{LAB.upper()}.:8765") is None
    assert guard.Origins("0.0.0.0").advertised == () and guard.Origins("127.0.0.1", ("x.example",)).advertised == (
        "x.example",)
    assert by_address.host_refusal("evil.example", 8765, client="192.168.1.57", arrived_at="192.168.1.20") == (
        "Host 'evil.example' is not this server's name (a DNS-rebinding page?): open the page at "
        "http://192.168.1.20:8765/, or ask whoever started rowrnn serve to add --allow-host evil.example")


def test_the_urls_for_other_machines_skip_what_they_cannot_open():
    origins = guard.Origins("::", guard.allowed_hosts(["lab-pc", "2001:db8::5"]))
    addresses = ["192.168.1.20", "127.0.0.1", "::1", "fe80::1", "2001:db8::5", "192.168.1.20", "0.0.0.0",
                 "10.0.0.7", "not-an-address"]
    assert origins.urls(8000, addresses) == ["http://lab-pc:8000/", "http://[2001:db8::5]:8000/",
                                             "http://192.168.1.20:8000/", "http://10.0.0.7:8000/"]
    # on loopback IP literals other than loopback are refused, so no address of the machine is offered
    assert guard.Origins("127.0.0.1", ("lab-pc",)).urls(8000, addresses) == ["http://lab-pc:8000/"]


# ----------------------------------------------------------------------------- the names, as the teacher writes them

@pytest.mark.parametrize("values, expected", [
    ([LAB], (LAB,)),
    (["LAB-PC.School.Example."], (LAB,)),
    ([f"{LAB},192.168.1.20", "lab-pc"], (LAB, "192.168.1.20", "lab-pc")),
    ([f" {LAB} , {LAB}.", LAB.upper()], (LAB,)),                     # spaces and repeats
    (["[2001:DB8::5]", "2001:db8:0:0::5"], ("2001:db8::5",)),
    (["::ffff:192.168.1.20"], ("192.168.1.20",)),
    (["bücher.example"], ("xn--bcher-kva.example",)),               # the form the browser sends in Host
    (["XN--BCHER-KVA.example"], ("xn--bcher-kva.example",)),
    (["aula_3.school.example"], ("aula_3.school.example",)),
    ([], ()),
])
def test_allowed_hosts_are_normalized_as_a_host_header_carries_them(values, expected):
    assert guard.allowed_hosts(values) == expected


BAD_NAMES = [
    ("", "an empty name (a comma too many?)"),
    (f"{LAB},", "an empty name (a comma too many?)"),
    (f"{LAB},,lab-pc", "an empty name (a comma too many?)"),
    (f"http://{LAB}:8765/", "give the name alone, without http://, a path or a user"),
    (f"{LAB}/", "give the name alone, without http://, a path or a user"),
    (f"teacher@{LAB}", "give the name alone, without http://, a path or a user"),
    (f"{LAB}:8765", "a port is not part of a name: give the name or address alone (the port is --port's)"),
    ("192.168.1.20:8765", "a port is not part of a name"),
    ("[2001:db8::5]:8765", "a port is not part of a name"),
    ("[lab-pc]", "brackets hold an IPv6 address only"),
    ("*.school.example", "wildcards are not accepted"),
    ("*", "wildcards are not accepted"),
    ("lab-*.school.example", "wildcards are not accepted"),
    ("fe80::1%eth0", "an address with a zone (%...) opens in no browser"),
    ("0.0.0.0", "0.0.0.0 is not an address a browser can open"),
    ("::", ":: is not an address a browser can open"),
    ("127.0.0.1", "127.0.0.1 is a loopback address, always allowed"),
    ("[::1]", "::1 is a loopback address, always allowed"),
    ("localhost", "localhost is always allowed"),
    ("LOCALHOST.", "localhost is always allowed"),
    ("aula.localhost", "localhost is always allowed"),
    ("straße.example", "write this name as the browser's address bar shows it (its xn-- form)"),
    ("192.168.1", "neither a name nor an address"),
    ("010.0.0.1", "neither a name nor an address"),           # a browser reads it as 8.0.0.1
    ("lab.0x1f", "neither a name nor an address"),
    ("lab pc", "not a host name (letters, digits, hyphens and dots)"),
    (f"{LAB}..", "not a host name"),
    ("a" * 64 + ".example", "not a host name"),
    (".".join(["a" * 60] * 5), "not a host name"),            # over 253 characters
]


@pytest.mark.parametrize("value, message", BAD_NAMES)
def test_a_malformed_name_is_one_line_naming_the_argument(value, message):
    with pytest.raises(RowrnnError) as caught:
        guard.allowed_hosts([value])
    assert str(caught.value).startswith(f"--allow-host {value!r}: ") and message in str(caught.value)
    with pytest.raises(RowrnnError, match=r"^allow_hosts "):                       # the API names its argument
        guard.allowed_hosts([value], "allow_hosts")


@pytest.mark.parametrize("value, message", [BAD_NAMES[i] for i in (1, 6, 10, 17, 21)])
def test_the_cli_refuses_a_malformed_allow_host_in_one_line(run, capsys, value, message):
    path, data = run
    assert main(["serve", str(path), "--host", "0.0.0.0", "--port", "0", "--allow-host", LAB,
                 "--allow-host", value, "--data-dir", str(data)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and f"--allow-host {value!r}: " in lines[0] and message in lines[0], lines


def test_create_app_names_its_argument(run):
    path, data = run
    with pytest.raises(RowrnnError, match=r"^allow_hosts '\*\.school\.example': wildcards are not accepted"):
        serve.create_app([path], data_dir=data, host="0.0.0.0", allow_hosts=["*.school.example"])


def test_machine_addresses():
    assert serve.machine_addresses("192.168.1.20") == ["192.168.1.20"]
    assert serve.machine_addresses("127.0.0.1") == [] and serve.machine_addresses(LAB) == []
    found = serve.machine_addresses("0.0.0.0")
    assert len(found) == len(set(found))
    for address in found:
        ip = guard._ip(address)
        assert ip is not None and ip.version == 4 and not ip.is_loopback, address


# ----------------------------------------------------------------------------- the start-up output

def _start(args):
    return subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _http_get(port: int, host: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET /api/runs HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_startup_lists_the_urls_students_can_use_and_the_names_work(run):
    path, data = run
    proc = _start([str(path), "--host", "0.0.0.0", "--port", "0", "--allow-host", f"{LAB},192.0.2.77",
                   "--allow-host", "aula3", "--data-dir", str(data)])
    try:
        first = proc.stdout.readline()
        port = int(re.fullmatch(r"rowrnn serve: http://0\.0\.0\.0:(\d+)/ \(1 run; Ctrl-C to stop\)\n", first).group(1))
        second = proc.stdout.readline()
        allowed = _http_get(port, f"{LAB}:{port}")
        refused = _http_get(port, f"evil.example:{port}")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    addresses = "".join(f" or http://{a}:{port}/" for a in serve.machine_addresses("0.0.0.0") if a != "192.0.2.77")
    assert second == (f"rowrnn serve: other machines open http://{LAB}:{port}/ or http://192.0.2.77:{port}/ or "
                      f"http://aula3:{port}/{addresses}\n")
    assert allowed.startswith(b"HTTP/1.1 200 ") and b'"runs"' in allowed
    assert refused.startswith(b"HTTP/1.1 403 ") and f"http://127.0.0.1:{port}/".encode() in refused  # from here
    assert "rowrnn: warning: --host 0.0.0.0 makes the page reachable from other machines" in err


def test_startup_without_names_says_how_to_allow_one_and_loopback_warns(run):
    path, data = run
    proc = _start([str(path), "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data)])
    try:
        lines = [proc.stdout.readline() for _ in range(2 if serve.machine_addresses("0.0.0.0") else 1)]
        lines.append(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert lines[-1] == ("rowrnn serve: to let them use a name this machine has on the network, start with "
                         "--allow-host NAME (several: comma-separated)\n")
    proc = _start([str(path), "--port", "0", "--allow-host", LAB, "--data-dir", str(data)])
    try:
        first = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert first.startswith("rowrnn serve: http://127.0.0.1:") and out == ""       # no URLs for other machines
    assert err.splitlines()[0] == ("rowrnn: warning: --allow-host names what other machines open, but --host "
                                   "127.0.0.1 answers only this one: add --host 0.0.0.0")
