"""Component ids shared across pages, defined once.

Page-local ids live in their page module as constants prefixed with the page's
name (``metrics-confusion``...).
"""

ACTIVE_RUN = "active-run"  # dcc.Store (local storage): the run id the user last chose
THEME = "theme"  # dcc.Store: "light" or "dark", written by the navbar switch
THEME_SWITCH = "theme-switch"
NAV_LINK = "nav-link"
APP_ERROR = "app-error"  # dbc.Toast that reports a callback that failed


def nav_link(path: str) -> dict:
    """Return the id of the navbar link to ``path`` (pattern-matching, so one callback sets them all)."""
    return {"type": NAV_LINK, "page": path}
