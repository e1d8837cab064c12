"""gunicorn's settings file, read from the directory gunicorn starts in (docs/deploy.md).

The command line still says how many workers and where to listen; this file only adds what
every app host needs whatever its size."""


def post_worker_init(worker: object) -> None:
    """A worker has loaded the app and not yet taken a request: build the pathways now, so
    a restarted host answers its first patients at full speed (wsgi.warm)."""
    import wsgi

    wsgi.warm()
