"""gunicorn's settings, read from the working directory when it starts (the Dockerfile's
and docker-compose.yml's /app, or the project's root).

The access log names each request by its path alone, without its query string or the page
it came from: a list's filters are in query strings (a patron's card or name in a
library's patron search), and patron data never goes into a log (docs/privacy.md).
"""

accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'

# Threaded workers: a streamed download (the whole service's export runs for minutes at a
# million requests, docs/go-live.md) must not be killed by the worker timeout, and a slow
# client reading it must not hold a whole worker. A gthread worker tells the master it is
# alive while its threads serve; the command line's -k/--threads still win.
worker_class = "gthread"
threads = 4
# Measured against two threads without keep-alive and against sync workers, at 20 users and
# under open-loop arrivals: no shape served the pages better (docs/performance.md, "Workers").
