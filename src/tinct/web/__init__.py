"""``tinct serve``: a local web app to colorize in the browser (see ``docs/web.md``).

:mod:`tinct.web.app` holds the state and the work (uploads, jobs, results) without HTTP;
:mod:`tinct.web.server` serves it with Python's standard-library HTTP server and the page in
``static/``. Nothing here is imported by ``import tinct``.
"""
