"""A webhook URL may carry a secret (a token in its query, or a Slack- or Teams-style key in its
path): wherever the product shows the URL to a person (log lines, warnings, ``status``, ``alerts
--jsonl``, the configuration's errors) the secret reads ``***`` (a query's values, and the path
after its first segment), while the posts still go to the URL as given and the outbox keeps it whole.
Credentials before the host are refused (they would not be sent).

Unit tests of :func:`redact_url`, the configuration's checks, then the sink, a replay and a live
daemon against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

from conftest import CALLS, call_monitor, call_monitor_here, start_daemon, stop_daemon, stored_alert, wait_for

from monitor.config.loader import load_config
from monitor.config.schema import ConfigError
from monitor.config.urls import HIDDEN, redact_url, url_problem
from monitor.delivery.sinks.webhook import WebhookSink, _describe
from monitor.delivery.store import Store

SECRET = "s3cr3t-not-for-logs"
"""A token no line the product shows may carry."""


# ------------------------------------------------------------------ the redaction itself

def test_the_userinfo_before_the_host_is_hidden_whole_a_token_given_as_the_user_name_too():
    assert redact_url(f"https://bob:{SECRET}@console.example/webhook") == "https://***@console.example/webhook"
    assert redact_url(f"https://{SECRET}@console.example/webhook") == "https://***@console.example/webhook"


def test_a_query_value_is_hidden_and_its_name_kept():
    assert redact_url(f"http://console:8640/webhook?token={SECRET}") == "http://console:8640/webhook?token=***"


def test_every_query_parameter_s_value_is_hidden_in_its_place():
    url = f"https://user:pw@hooks.example:8443/a/b?token={SECRET}&key=k1&sig=ab%2Fcd&agent=alice"
    assert redact_url(url) == "https://***@hooks.example:8443/a/***?token=***&key=***&sig=***&agent=***"


def test_the_path_after_its_first_segment_is_hidden_the_receiver_still_told_by_scheme_host_port_and_that_segment():
    """A Slack- or Teams-style URL holds its key in its path, not its query."""
    assert redact_url(f"https://hooks.example/services/T000/B000/{SECRET}") == "https://hooks.example/services/***"
    assert redact_url(f"https://hooks.example:8443/services/T000/B000/{SECRET}/?x=1") == \
        "https://hooks.example:8443/services/***?x=***"
    hidden_part = f"T000/B000/{SECRET}"
    assert redact_url(f"https://hooks.example/services/{hidden_part}", counted=True) == \
        f"https://hooks.example/services/***({len(hidden_part)} characters)"


def test_a_url_mistyped_without_its_host_has_its_path_hidden_too():
    """One slash short (`https:/hooks...`), the URL has no host and is refused, and the error that
    quotes it keeps the key in its path hidden all the same."""
    assert redact_url(f"https:/hooks.example/services/T000/{SECRET}") == "https:/hooks.example/***"
    assert redact_url(f"https:///hooks.example/services/T000/{SECRET}") == "https:///hooks.example/***"
    assert redact_url(f"localhost:8640/services/{SECRET}?k={SECRET}") == "localhost:8640/***?k=***"


def test_a_url_shown_is_shown_so_again():
    """``status`` hides again what a daemon gave it hidden already."""
    for url in (f"https://bob:x@hooks.example/services/T000/{SECRET}?token={SECRET}#top", "http://[::1/x"):
        assert redact_url(redact_url(url)) == redact_url(url)


def test_a_query_part_without_an_equals_sign_is_all_value_and_hidden_whole():
    assert redact_url(f"https://hooks.example/in?{SECRET}&mode=x") == "https://hooks.example/in?***&mode=***"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8640/webhook", "https://console.example/webhook/",
                                 "https://console.example", "https://console.example/",
                                 "http://[::1]:8640/webhook",
                                 "http://console:8640/webhook#top"])
def test_a_url_without_a_secret_is_shown_as_it_is(url):
    assert redact_url(url) == url


def test_an_ipv6_host_and_its_port_stay_as_they_are():
    assert redact_url(f"http://bob:{SECRET}@[::1]:8640/webhook?token={SECRET}") == \
        "http://***@[::1]:8640/webhook?token=***"
    assert redact_url(f"http://[fe80::1%25eth0]:8640/webhook?key={SECRET}") == \
        "http://[fe80::1%25eth0]:8640/webhook?key=***"


def test_a_fragment_stays_after_the_hidden_query_and_is_not_taken_for_its_value():
    assert redact_url(f"https://console.example/webhook?token={SECRET}#section") == \
        "https://console.example/webhook?token=***#section"


def test_a_url_that_does_not_parse_is_hidden_whole():
    assert redact_url(f"http://[::1/webhook?token={SECRET}") == HIDDEN


# ------------------------------------------------------------------ the configuration

def test_credentials_before_the_host_are_refused_for_the_token_file(tmp_path):
    """urllib does not send them: such a URL never posted, and its error quoted the password."""
    assert "webhook_token_file" in url_problem(f"https://bob:{SECRET}@console.example/webhook")
    assert url_problem(f"http://console:8640/webhook?token={SECRET}") is None


def test_a_space_or_a_control_character_in_the_url_is_refused():
    for bad in (f"http://console/webhook?token=a {SECRET}", f"http://console/webhook?token={SECRET}\t"):
        assert "spaces or control characters" in url_problem(bad)


@pytest.mark.parametrize("url", [f"http://console:99999/webhook?token={SECRET}",
                                 f"https://bob:{SECRET}@console.example/webhook",
                                 f"http://console/webhook?token=a {SECRET}"])
def test_the_configurations_error_on_a_url_shows_it_with_its_secrets_hidden(tmp_path, url):
    path = tmp_path / "config.toml"
    path.write_text(f"[delivery]\nwebhook_url = {json.dumps(url)}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={"HOME": str(tmp_path)})
    assert "delivery.webhook_url: " in str(err.value) and SECRET not in str(err.value)
    assert repr(redact_url(url)) in str(err.value)


def test_config_hides_a_key_in_the_path_and_refuses_it_saved_back_hidden(tmp_path, capsys):
    from monitor import cli
    path = tmp_path / "c.toml"
    path.write_text(f'[delivery]\nwebhook_url = "https://hooks.example/services/T000/{SECRET}"\n')
    assert cli.main(["config", "--config", str(path)]) == 0
    printed = capsys.readouterr().out
    assert SECRET not in printed
    assert f'webhook_url = "https://hooks.example/services/***({len(SECRET) + 5} characters)"' in printed
    (tmp_path / "hidden.toml").write_text(printed)
    with pytest.raises(ConfigError, match="delivery.webhook_url: holds a secret as call-monitor config hides it"):
        load_config(tmp_path / "hidden.toml", env={"HOME": str(tmp_path)})


def test_a_console_address_refused_is_quoted_with_its_secrets_hidden():
    from monitor.commands.forget_agent import console_address
    with pytest.raises(ValueError) as refused:
        console_address(f"ftp://console.example/services/T000/{SECRET}?token={SECRET}", "127.0.0.1:8640")
    assert str(refused.value).startswith("--console 'ftp://console.example/services/***?token=***': expected")


def test_a_post_that_fails_on_the_url_itself_says_so_without_quoting_it():
    from http.client import InvalidURL
    said = _describe(InvalidURL(f"nonnumeric port: '{SECRET}@127.0.0.1'"))
    assert SECRET not in said and "not a valid" in said


# ------------------------------------------------------------------ through the product

def test_the_sink_posts_to_the_url_with_its_token_and_logs_it_hidden(tmp_path, monitor_logs, hook):
    """Down, then back, then moved by a reload to another URL with its own token: every line says
    the URL with ``***`` for the token; the receiver is posted to at the URL as given, and the
    outbox keeps it."""
    url, moved = f"{hook.url}?token={SECRET}", f"{hook.url}?token={SECRET}-2"
    hook.up = False
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, url, backoff_s=0.1, max_backoff_s=0.2, poll_s=0.05).start()
        try:
            sink(stored_alert(store, actions=()))
            assert wait_for(lambda: sink.failures >= 2, 30)
            hook.up = True
            assert wait_for(lambda: store.deliveries("delivered"), 30), store.deliveries()
            sink.retarget(moved, None)
            sink(stored_alert(store, actions=()))
            assert wait_for(lambda: len(store.deliveries("delivered")) == 2, 30), store.deliveries()
        finally:
            sink.close()
        assert [d.target for d in store.deliveries()] == [url, moved]
    shown = f"{hook.url}?token={HIDDEN}"
    assert any(m.startswith(f"webhook {shown}: alert 1 not delivered") for _, m in monitor_logs), monitor_logs
    assert any(m.startswith(f"webhook {shown}: delivering again") for _, m in monitor_logs), monitor_logs
    assert f"webhook: posting to {shown} from now on (was {shown})" in [m for _, m in monitor_logs]
    assert not [m for _, m in monitor_logs if SECRET in m]
    assert hook.paths[-1] == f"/hook?token={SECRET}-2" and set(hook.paths[:-1]) == {f"/hook?token={SECRET}"}


def test_a_key_in_the_path_is_posted_to_and_logged_hidden_and_the_outbox_s_errors_hide_it(tmp_path, monitor_logs,
                                                                                           hook):
    """A receiver down, then the URL moved by a reload: the lines say the URL with the path after
    its first segment hidden, and the row closed for the old URL says where the alert went hidden
    alike (``alerts --jsonl`` prints it)."""
    url, moved = f"{hook.url}/T000/B000/{SECRET}", f"{hook.url}/T000/B000/{SECRET}-2"
    hook.up = False
    with Store.open(tmp_path / "e.db") as store:
        sink = WebhookSink(store, url, backoff_s=0.1, max_backoff_s=0.2, poll_s=0.05).start()
        try:
            first = stored_alert(store, actions=())
            store.enqueue_delivery(first.alert_id, moved)  # an earlier daemon's row for the new URL
            sink(first)
            assert wait_for(lambda: sink.failures >= 1, 30)
            hook.up = True
            sink.retarget(moved, None)
            assert wait_for(lambda: store.deliveries("delivered"), 30), store.deliveries()
        finally:
            sink.close()
        rows = store.deliveries()
    assert any(m.startswith(f"webhook {hook.url}/***: alert 1 not delivered") for _, m in monitor_logs), monitor_logs
    assert not [m for _, m in monitor_logs if SECRET in m]
    assert {(d.target, d.status) for d in rows} == {(url, "failed"), (moved, "delivered")}
    assert [d.last_error for d in rows if d.status == "failed"] == [f"delivered to {hook.url}/*** instead"]
    assert hook.paths[-1] == f"/hook/T000/B000/{SECRET}-2"


def test_a_replay_s_warnings_and_the_alerts_listing_show_the_url_hidden_while_every_alert_arrives(tmp_path, hook):
    """A replay to a receiver that is down says so, and that its alerts stay in the outbox, with the
    token hidden; the next replay on that database, with the receiver back, delivers them all to the
    URL with its token."""
    url, shown = f"{hook.url}?token={SECRET}", f"{hook.url}?token={HIDDEN}"
    db = tmp_path / "e.db"
    replay = ("replay", CALLS / "deteriorating_8k.wav", "--no-transcribe", "--jsonl", "--db", db, "--webhook", url)
    hook.up = False
    down = call_monitor_here(*replay, "--webhook-wait", "1")
    assert down.returncode == 0, down.stderr
    assert f"call-monitor: warning: webhook {shown}: alert 1 not delivered" in down.stderr
    assert f"call-monitor: warning: {shown}: " in down.stderr and "not delivered yet" in down.stderr
    hook.up = True
    up = call_monitor_here(*replay, "-v")
    assert up.returncode == 0, up.stderr
    assert f"webhook {shown}: alert 1 delivered after" in up.stderr
    with Store.open(db) as store:
        rows = store.deliveries()
    assert rows and {(d.target, d.status) for d in rows} == {(url, "delivered")}
    assert sorted(p["alert_id"] for _, p in hook.received) == sorted(d.alert_id for d in rows)
    assert set(hook.paths) == {f"/hook?token={SECRET}"}
    listed = call_monitor("alerts", "--db", db, "--jsonl", timeout=60)
    targets = {d["target"] for line in listed.stdout.splitlines() for d in json.loads(line)["deliveries"]}
    assert targets == {shown}
    for said in (down, up, listed):
        assert SECRET not in said.stdout + said.stderr


def test_a_replay_reads_its_webhook_url_from_a_file_kept_off_its_command_line(tmp_path, hook):
    """``replay --webhook-url-file FILE`` posts every alert to the URL in FILE, as ``--webhook URL``
    would, without the URL (nor its key) in the process's arguments; its token file is used."""
    url_file, token_file = tmp_path / "hook.url", tmp_path / "token"
    url_file.write_text(f"{hook.url}?token={SECRET}\n")
    token_file.write_text("console-token\n")
    db = tmp_path / "e.db"
    proc = call_monitor("replay", CALLS / "deteriorating_8k.wav", "--no-transcribe", "--jsonl", "--db", db,
                        "--webhook-url-file", url_file, "--webhook-token-file", token_file, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    alerts = [json.loads(line) for line in proc.stdout.splitlines() if json.loads(line)["type"] == "alert"]
    assert alerts and len(hook.received) == len(alerts)
    assert set(hook.paths) == {f"/hook?token={SECRET}"}
    assert set(hook.authorizations) == {"Bearer console-token"}


def test_a_reload_reads_no_pipe_again_a_url_pipe_keeps_the_start_s_url_a_configuration_pipe_is_refused(tmp_path):
    """``run --webhook-url-file <(...)`` or ``--config <(...)``: a pipe is read once, at the start.
    A reload read it again and waited, the monitor held, for a writer that never came. Now a URL
    pipe keeps the URL the start read, with the rest reloaded from the files; a configuration pipe
    cannot be reloaded, said naming it (the daemon keeps its running configuration)."""
    import os
    from monitor.cli import build_parser
    from monitor.commands.common import ConfigError
    from monitor.commands.run import overrides_from, reloaded_config
    from monitor.config import load_config

    url_pipe, config_pipe, config = tmp_path / "hook.url", tmp_path / "c.toml", tmp_path / "file.toml"
    for pipe in (url_pipe, config_pipe):
        os.mkfifo(pipe)
    config.write_text("[delivery]\ntimeout_s = 7.0\n")
    started = load_config(overrides={"delivery.webhook_url": f"http://127.0.0.1:9/hook?token={SECRET}"},
                          user_config=False)
    args = build_parser().parse_args(["run", "--caller", "softphone.monitor", "--config", str(config),
                                      "--webhook-url-file", str(url_pipe)])
    reloaded = reloaded_config(args, overrides_from(args), started)
    assert (reloaded.delivery.webhook_url, reloaded.delivery.timeout_s) == (started.delivery.webhook_url, 7.0)
    args = build_parser().parse_args(["run", "--caller", "softphone.monitor", "--config", str(config_pipe)])
    with pytest.raises(ConfigError) as refused:
        reloaded_config(args, overrides_from(args), started)
    assert str(refused.value) == f"{config_pipe}: a pipe, read once at the start; a reload reads a configuration file only"


def test_a_replay_posting_says_its_token_or_url_key_in_a_file_others_may_read_as_the_daemon_does(tmp_path):
    """``replay --webhook-url-file FILE --webhook-token-file FILE`` with files every user may read:
    each is said in one warning line with the fix, as ``run`` and ``install-service`` say them, the
    key itself never, and the recording replayed all the same (a quiet one: nothing to post)."""
    import numpy as np
    import soundfile as sf
    url_file, token_file, quiet = tmp_path / "hook.url", tmp_path / "token", tmp_path / "quiet.wav"
    url_file.write_text(f"http://127.0.0.1:9/hook?token={SECRET}\n")
    token_file.write_text("console-token\n")
    url_file.chmod(0o644)
    token_file.chmod(0o644)
    sf.write(quiet, np.zeros(8000, dtype=np.float32), 8000)
    proc = call_monitor_here("replay", quiet, "--no-transcribe", "--db", tmp_path / "e.db",
                             "--webhook-url-file", url_file, "--webhook-token-file", token_file)
    assert proc.returncode == 0 and SECRET not in proc.stdout + proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[:2] == [
        f"call-monitor: warning: {token_file}: the token file may be read by every user (mode 0644); "
        f"make it private: chmod 600 {token_file}",
        f"call-monitor: warning: {url_file}: the webhook URL file, whose URL holds a key, may be read by every user "
        f"(mode 0644); make it private: chmod 600 {url_file}"]


def test_a_replay_takes_one_webhook_either_on_its_command_line_or_from_a_file(tmp_path):
    proc = call_monitor_here("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--db", tmp_path / "e.db",
                             "--webhook", "http://127.0.0.1:9/hook", "--webhook-url-file", tmp_path / "hook.url")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr
    assert not (tmp_path / "e.db").exists()


def test_a_daemon_s_log_and_status_show_the_url_hidden_while_it_posts_to_the_url_as_given(pulse, env, tmp_path,
                                                                                            hook):
    """A daemon whose supervisor is down, then back: its outage and recovery lines, its heartbeat's,
    ``status`` and ``status --json`` show the URL with ``***`` for the token; the alert and the
    heartbeats reach the receiver at the URL with its token."""
    url, shown = f"{hook.url}?token={SECRET}", f"{hook.url}?token={HIDDEN}"
    hook.up = False
    d = start_daemon(env, tmp_path, f'[delivery]\nwebhook_url = "{url}"\nheartbeat_s = 1\n')
    try:
        with Store.open(tmp_path / "e.db") as store:  # an alert of this daemon, queued as its webhook queues it
            alert = stored_alert(store, actions=())
            store.enqueue_delivery(alert.alert_id, url)
        assert d.wait_err(f"webhook {shown}: alert {alert.alert_id} not delivered", 30), d.err
        assert d.wait_err(f"heartbeat {shown}: HTTP 503", 30), d.err
        assert d.status(env)["webhook"]["url"] == shown
        text = call_monitor("status", env=env, timeout=30)
        assert f"  webhook {shown}: delivered 0" in text.stdout, text.stdout
        hook.up = True
        assert wait_for(lambda: hook.received and hook.heartbeats, 30), d.err
        assert d.wait_err(f"webhook {shown}: delivering again", 30), d.err
        stop_daemon(d)
    finally:
        d.kill()
    assert [p["alert_id"] for _, p in hook.received] == [alert.alert_id]
    assert set(hook.paths) == {f"/hook?token={SECRET}"}
    assert SECRET not in "\n".join(d.err) + json.dumps([line for _, line in d.lines]) + text.stdout + text.stderr


def test_a_daemon_says_its_url_file_others_may_read_at_each_reload_that_reads_it_as_at_its_start(pulse, env,
                                                                                                 tmp_path, hook):
    """``run --webhook-url-file FILE`` reads FILE again at each reload (SIGHUP): a FILE others may
    read while its URL holds a key is said in the same warning line as at the start, each time it is
    read so, and not once it is private again; the key itself never."""
    import signal

    from conftest import Daemon

    url_file = tmp_path / "hook.url"
    url_file.write_text(f"{hook.url}?key={SECRET}\n")
    url_file.chmod(0o600)
    warning = (f"call-monitor: warning: {url_file}: the webhook URL file, whose URL holds a key, may be read by every "
               f"user (mode 0644); make it private: chmod 600 {url_file}")
    d = Daemon(["--caller", "softphone.monitor", "--jsonl", "--db", str(tmp_path / "e.db"), "--no-notify",
                "--no-transcribe", "--webhook-url-file", str(url_file)], env, tmp_path)
    try:
        d.wait_running(env, timeout=20)
        url_file.chmod(0o644)
        for reloads in (1, 2):
            d.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: sum("configuration reloaded" in e for e in d.err) == reloads, 30), d.err
        url_file.chmod(0o600)
        d.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: sum("configuration reloaded" in e for e in d.err) == 3, 30), d.err
        assert d.status(env)["webhook"]["url"] == f"{hook.url}?key={HIDDEN}"
        stop_daemon(d)
    finally:
        d.kill()
    assert [e for e in d.err if "may be read" in e] == [warning, warning], d.err
    assert SECRET not in "\n".join(d.err)
