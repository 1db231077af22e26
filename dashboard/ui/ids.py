"""Component ids shared across pages, defined once.

The convention: an id is a string constant defined once. Page-local ids live in their
page's module (its logic module ``dashboard/pages/logic/<page>.py`` when it has one) and
their values start with the page's name (``metrics-confusion``, ``activations-epoch``);
ids several pages share live here. Pattern-matching ids are built by a function next to
their type constant.
"""

ACTIVE_RUN = "active-run"  # dcc.Store (local storage): the run id the user last chose
THEME = "theme"  # dcc.Store: "light" or "dark", written by the navbar switch
THEME_SWITCH = "theme-switch"
NAV_LINK = "nav-link"
APP_ERROR = "app-error"  # dbc.Toast that reports a callback that failed


def nav_link(path: str) -> dict:
    """Return the id of the navbar link to ``path`` (pattern-matching, so one callback sets them all)."""
    return {"type": NAV_LINK, "page": path}

# The page contract's shell for a page whose URL names no run (dashboard.ui.page.run_page):
PAGE_REQUEST = "page-request"  # dcc.Store {"type", "page"}: the URL's parameters
PAGE_BODY = "page-body"  # html.Div {"type", "page"}: filled with the page for the chosen run
