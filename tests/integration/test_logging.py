"""Logging drivers: json-file rotation (max-size, max-file), labels/env attributes with --details,
and the none driver."""

import os


def test_json_file_rotation_keeps_max_file_files(daemon):
    r = daemon.cli("run", "--name", "rotating", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox",
                   "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done")
    try:
        assert r.returncode == 0
        cid = daemon.client.call("GET", "/containers/rotating/json")["Id"]
        log = os.path.join(daemon.data_root, "containers", cid, f"{cid}-json.log")
        assert os.path.exists(log + ".1") and os.path.exists(log + ".2") and not os.path.exists(log + ".3")
        for path in (log, log + ".1", log + ".2"):
            assert os.path.getsize(path) <= 1024
        lines = daemon.cli("logs", "rotating").stdout.decode().split()
        assert lines[-1] == "line-199" and lines[0] != "line-0"  # the oldest lines rotated away
        numbers = [int(line.split("-")[1]) for line in lines]
        assert numbers == list(range(numbers[0], 200))  # in order, none missing in what is kept
    finally:
        daemon.cli("rm", "-f", "rotating")


def test_details_show_label_and_env_attributes(daemon):
    daemon.cli("run", "--name", "detailed", "--label", "team=blue", "-e", "STAGE=test", "--log-opt", "labels=team",
               "--log-opt", "env=STAGE", "busybox", "echo", "hi")
    try:
        assert daemon.cli("logs", "--details", "detailed").stdout == b"STAGE=test,team=blue hi\n"
        assert daemon.cli("logs", "detailed").stdout == b"hi\n"
    finally:
        daemon.cli("rm", "-f", "detailed")


def test_none_driver_writes_nothing_and_logs_refuses(daemon):
    r = daemon.cli("run", "--name", "silent", "--log-driver", "none", "busybox", "echo", "attached output")
    try:
        assert r.stdout == b"attached output\n"  # attach still works
        cid = daemon.client.call("GET", "/containers/silent/json")["Id"]
        assert not os.path.exists(os.path.join(daemon.data_root, "containers", cid, f"{cid}-json.log"))
        r = daemon.cli("logs", "silent")
        assert r.returncode == 1 and b"configured logging driver does not support reading" in r.stderr
    finally:
        daemon.cli("rm", "-f", "silent")


def test_bad_log_options_are_refused(daemon):
    for args, message in ((["--log-driver", "syslogx"], b'plugin "syslogx" not found'),
                          (["--log-opt", "colour=red"], b"unknown log opt 'colour' for json-file log driver"),
                          (["--log-opt", "max-size=big"], b"invalid size: 'big'"),
                          (["--log-opt", "max-file=0"], b"max-file cannot be less than 1"),
                          (["--log-opt", "compress=true", "--log-opt", "max-file=3"],
                           b"compress cannot be true when max-file is less than 2 or max-size is not set")):
        r = daemon.cli("create", *args, "busybox", "true")
        assert r.returncode == 125 and message in r.stderr, (args, r.stderr)
