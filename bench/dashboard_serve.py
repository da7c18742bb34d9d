"""Serve one version of the dashboard for bench/dashboard.py (run as a script, not imported):

    python bench/dashboard_serve.py ROOT REGISTRY_URL STORE_URL PORT

ROOT is the checkout whose `dashboard` is served (this repository, or a worktree of an
earlier revision), put first on sys.path so that its packages win over the installed ones.
Store answers are not reused between requests where the version can be told so
(`create_app(fresh_s=0)`): every request the benchmark times reads the store.
"""

from __future__ import annotations

import inspect
import sys


def main() -> None:
    root, registry_url, store_url, port = sys.argv[1:5]
    sys.path.insert(0, root)
    import waitress

    from backend import db
    from backend.access import Scope
    from backend.accounts import Accounts
    from backend.audit import Audit
    from backend.store import open_store
    from dashboard.api.context import ApiServices
    from dashboard.app import create_app

    engine = db.open_engine(registry_url)
    services = ApiServices(
        engine, Accounts(engine), Scope(engine), Audit(engine), open_store(store_url)
    )
    options = {"fresh_s": 0.0} if "fresh_s" in inspect.signature(create_app).parameters else {}
    app = create_app(services, **options)
    waitress.serve(app.server, host="127.0.0.1", port=int(port), threads=8, _quiet=True)


if __name__ == "__main__":
    main()
