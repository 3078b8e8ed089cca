"""gunicorn's access log (gunicorn.conf.py, read from the app's directory as deployed)
names each request by its path, never its query string or referrer: a library's patron
search puts a patron's name in the address, and patron data never goes into a log."""

import datetime as dt
import runpy
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

ROOT = Path(__file__).resolve().parents[2]


def test_a_patrons_name_in_the_address_stays_out_of_the_access_log():
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    for name in ("accesslog", "access_log_format"):
        config.set(name, settings[name])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/requests/?patron=Pat+Reader",
        "PATH_INFO": "/requests/",
        "QUERY_STRING": "patron=Pat+Reader",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_REFERER": "https://ill.example.org/requests/?patron=Pat+Reader",
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    logger = Logger(config)
    line = config.access_log_format % logger.atoms(
        response, SimpleNamespace(headers=[]), environ, dt.timedelta(milliseconds=12)
    )
    assert settings["accesslog"] == "-"
    assert '"GET /requests/ HTTP/1.1" 200 512' in line
    assert "Reader" not in line and "patron" not in line


def test_workers_are_threaded_so_a_long_download_is_not_cut():
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    for name in ("worker_class", "threads"):
        config.set(name, settings[name])
    assert config.worker_class_str == "gthread" and config.threads > 1
