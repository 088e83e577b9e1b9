"""``python -m thoonk_xmpp``: the same as the ``thoonk-xmpp`` command."""

from .cli import main

raise SystemExit(main())
