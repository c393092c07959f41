"""Which machine a daemon posts from, as the supervisor's console tells two desks apart.

A daemon's heartbeat names its machine by a hash (``status.machine``: of the machine id and the
account, never the id itself). The console's page takes a daemon that stopped or fell silent as
replaced only by one of its agent name posting from the same machine: two desks behind one NAT (one
client address) are two machines when their hashes differ; a daemon of an earlier release, which
sends no hash, is told by its address, an IPv4-mapped IPv6 one the same as its IPv4 address.
"""

from __future__ import annotations

import time

from conftest import CALLS
from console_proc import ConsoleProcess

from monitor.delivery.machine import MACHINE_CHARS, machine_hash
from monitor.supervisor.heartbeat import machine_of, plain_address, status_problem
from monitor.supervisor.store import ConsoleStore, Heartbeat

DESK7, DESK8 = "7" * MACHINE_CHARS, "8" * MACHINE_CHARS
"""Two desks' machine hashes."""


def _machines(store: ConsoleStore) -> dict[str, str | None]:
    return {g["daemon_id"]: g["machine"] for g in store.agents()}


def test_a_machine_hash_is_of_the_machine_id_or_the_host_name_and_the_account_never_the_id_itself(tmp_path):
    """The hash is made from the first machine id file that holds one (``/etc/machine-id``, then
    D-Bus's), else from the host name; each account on one machine (a terminal server's agents) has
    its own; it is :data:`MACHINE_CHARS` hexadecimal digits and holds nothing of the id."""
    empty, made, dbus = tmp_path / "empty", tmp_path / "machine-id", tmp_path / "dbus-machine-id"
    empty.write_text("\n")
    made.write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    dbus.write_text("0123456789abcdef0123456789abcdef\n")
    seen = machine_hash((tmp_path / "none", empty, made, dbus), uid=1000)
    assert len(seen) == MACHINE_CHARS and int(seen, 16) >= 0 and "3d1219c7" not in seen
    assert seen == machine_hash((made,), uid=1000) != machine_hash((dbus,), uid=1000)
    assert machine_hash((made,), uid=1001) != seen
    by_host = machine_hash((tmp_path / "none", empty), uid=1000, host=lambda: "desk-7")
    assert by_host == machine_hash((), uid=1000, host=lambda: "desk-7") != machine_hash((), uid=1000, host=lambda: "desk-8")
    assert machine_hash((), uid=1000, host=lambda: "localhost") is None  # many machines' name: none told by it
    assert machine_hash((), uid=1000, host=lambda: "LocalHost ") is None


def test_a_host_name_s_hash_is_the_one_earlier_releases_made_of_it_as_given():
    """A desk with no machine id told by its host name keeps its hash across an upgrade (``host
    NAME`` as the system gives it, and the user id, keyed): a hash of the name in lower case made a
    desk named ``Desk-7`` a new machine to the console, its earlier daemon shown as fallen silent
    rather than replaced."""
    import hashlib
    import hmac

    from monitor.delivery.machine import _KEY
    earlier = hmac.new(_KEY, "host Desk-7\x001000".encode(), hashlib.sha256).hexdigest()[:MACHINE_CHARS]
    assert machine_hash((), uid=1000, host=lambda: "Desk-7") == earlier


def test_a_daemons_heartbeat_names_its_machine_by_the_hash_the_console_takes(tmp_path):
    """The status a daemon's heartbeat sends carries this machine's hash, of the length the console
    takes; one longer, or no string, is refused naming the field, as any status field's is."""
    from monitor.capture.sources import FileSource
    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.delivery.store import Store

    cfg = load_config(overrides={"storage.db": str(tmp_path / "e.db")}, user_config=False)
    with Store.open(tmp_path / "e.db") as store:
        status = Daemon(cfg, FileSource(CALLS / "normal_16k.wav"), store, {}).heartbeat_status()
    assert status["machine"] == machine_hash() and status_problem(status) is None
    assert status_problem({"machine": DESK7 + "0"}) == (
        f"status.machine: the string has {MACHINE_CHARS + 1} characters; expected at most {MACHINE_CHARS}")
    assert status_problem({"machine": 7}) == "status.machine: expected a string"


def test_two_desks_behind_one_address_are_two_machines_and_a_desk_made_anew_is_the_same_one(tmp_path):
    """Desk 7's and desk 8's Anna post from one NAT address: their hashes differ, so they are two
    machines (desk 7's daemon stopping is a desk no longer monitored, not replaced). Desk 8's
    database made anew (a new daemon id) posts its hash again: the same machine as its old daemon."""
    store = ConsoleStore.open(tmp_path / "console.db")
    store.heartbeat(Heartbeat("d-desk7", "Anna", 30.0, {"machine": DESK7, "stopped": True}), "10.0.4.17")
    store.heartbeat(Heartbeat("d-desk8", "Anna", 30.0, {"machine": DESK8}), "10.0.4.17")
    store.heartbeat(Heartbeat("d-desk8-new", "Anna", 30.0, {"machine": DESK8}), "10.0.4.17")
    assert _machines(store) == {"d-desk7": f"machine {DESK7}", "d-desk8": f"machine {DESK8}",
                                "d-desk8-new": f"machine {DESK8}"}
    store.close()


def test_a_daemon_of_an_earlier_release_is_told_by_its_address_an_ipv4_mapped_one_as_its_ipv4(tmp_path):
    """A beat without a hash (a daemon of an earlier release) is told by its client address:
    ``::ffff:10.0.4.17`` (a dual-stack listener's) is the machine at 10.0.4.17, and so shown; an
    IPv6 address is compared in its short form. Such a daemon is never the same machine as one that
    sends a hash, whatever their addresses: a NAT's desks are not taken for one."""
    assert plain_address("::ffff:10.0.4.17") == "10.0.4.17" == plain_address("10.0.4.17")
    assert plain_address("2001:db8:0:0::1") == "2001:db8::1" and plain_address(None) is None
    store = ConsoleStore.open(tmp_path / "console.db")
    store.heartbeat(Heartbeat("d-old", "Anna", 30.0, {"stopped": True}), "::ffff:10.0.4.17")
    store.heartbeat(Heartbeat("d-new", "Anna", 30.0, {"machine": None}), "10.0.4.17")
    store.heartbeat(Heartbeat("d-hashed", "Anna", 30.0, {"machine": DESK8}), "10.0.4.17")
    assert _machines(store) == {"d-hashed": f"machine {DESK8}", "d-new": "address 10.0.4.17",
                                "d-old": "address 10.0.4.17"}
    assert {g["daemon_id"]: g["remote"] for g in store.agents()}["d-old"] == "10.0.4.17"
    assert machine_of({}, None) is None
    store.close()


def test_the_consoles_state_gives_each_daemon_its_machine_two_desks_behind_one_address_apart(tmp_path):
    """Through the console's HTTP API: two daemons of one name posting from one address with their
    own hashes are two machines in ``/api/state`` (the page lists both, one stopped), and a daemon
    of an earlier release beside them is its address."""
    console = ConsoleProcess(tmp_path)
    beat = {"type": "heartbeat", "agent": "Anna", "at": time.time(), "every_s": 30}
    try:
        assert console.post_from("127.0.0.2", {**beat, "daemon_id": "d-desk7",
                                               "status": {"machine": DESK7, "stopped": True}})[0] == 200
        assert console.post_from("127.0.0.2", {**beat, "daemon_id": "d-desk8", "status": {"machine": DESK8}})[0] == 200
        assert console.post_from("127.0.0.2", {**beat, "daemon_id": "d-earlier", "status": {}})[0] == 200
        assert {g["daemon_id"]: (g["remote"], g["machine"]) for g in console.state()["agents"]} == {
            "d-desk7": ("127.0.0.2", f"machine {DESK7}"), "d-desk8": ("127.0.0.2", f"machine {DESK8}"),
            "d-earlier": ("127.0.0.2", "address 127.0.0.2")}
    finally:
        console.kill()
